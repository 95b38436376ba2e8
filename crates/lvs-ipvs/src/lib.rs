//! lvs-ipvs — an exact, sans-IO model of Linux IPVS (services, real servers,
//! schedulers, connection table, persistence templates), plus the admin API
//! types shared with the netlink codec and the kernel backend.
//!
//! The model: [`Ipvs`] takes packets ([`PacketMeta`]) and time (`now`, in
//! milliseconds on any monotonic clock) and returns [`Verdict`]s; timers run
//! in [`Ipvs::expire`], and [`Ipvs::poll_timeout`] says when the next may be due.

pub mod admin;
mod backend;
pub mod explain;
pub mod ipvsadm;
pub mod mh;
pub mod model;
pub mod proto;
pub mod reconcile;
pub mod sched;
pub mod sync;
mod table;
pub mod view;

pub use explain::{Binding, Explanation};
pub use model::{
    tcp_flags, ConnId, Direction, DropReason, Forwarded, Ipvs, Millis, PacketMeta, Settings,
    Verdict,
};
pub use view::{ConnView, DestView, ServiceView, Snapshot};
