//! lvs-ipvs — an exact, sans-IO model of Linux IPVS (services, real servers,
//! schedulers, connection table, persistence templates), plus the admin API
//! types shared with the netlink codec and the kernel backend.

pub mod admin;
pub mod ipvsadm;
pub mod reconcile;
