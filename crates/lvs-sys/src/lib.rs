//! lvs-sys — the only crate that touches the kernel: sockets, netlink, sysctl,
//! raw packets. It is also the only crate allowed `unsafe`.
//!
//! Each concern has its own module; the engines (lvs-vrrp, lvs-check, lvs-ipvs)
//! never see a socket.
#![allow(unsafe_code)]

pub mod addr;
pub mod ipvs;
pub mod packet;
pub mod probe;
pub mod route;
pub mod script;
pub mod sync;
pub mod vmac;
pub mod vrrp;
