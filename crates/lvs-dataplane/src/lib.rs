//! lvs-dataplane — the built-in data plane for hosts without `ip_vs`
//! (issue 8): it receives frames from a packet socket, asks the IPVS engine
//! what the kernel would do with each, rewrites them (DR: Ethernet
//! destination; NAT: addresses/ports with incremental checksums, and the
//! reverse translation of replies; TUN: IPIP / IPv6-in-IPv6) and transmits
//! them, resolving real-server MACs itself (ARP/NDP).
//!
//! Layers:
//! - [`parse`], [`csum`], [`rewrite`], [`neigh`], [`route`], [`plane`]:
//!   sans-IO — byte buffers in, byte buffers out, time passed as `now`.
//! - [`decide`]: the narrow "what happens to this packet" trait the engine
//!   (`lvs-ipvs`) implements.
//! - [`io`]: the packet I/O trait (AF_PACKET today, AF_XDP later) and the
//!   worker loop that glues I/O, the plane and a clock together.
//! - [`afpacket`]: [`io::PacketIo`] over `lvs_sys::packet` sockets.
//! - [`engine`]: `lvs_ipvs::Ipvs` as the decider; [`driver`]: threads,
//!   rings and ingress rules for `lvsd run --dataplane builtin`.

pub mod afpacket;
pub mod csum;
pub mod decide;
pub mod driver;
pub mod engine;
pub mod io;
pub mod neigh;
pub mod parse;
pub mod plane;
pub mod rewrite;
pub mod route;

#[cfg(test)]
mod tests;

pub use decide::{Decider, FwdMethod, PacketMeta, Verdict};
pub use plane::{Counters, Dataplane, RxMeta, TxFrame};
pub use route::{Iface, Route, Routing};

/// Errors of the data plane.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
}

impl DataplaneError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
