//! The narrow interface between packet handling and IPVS semantics: "what
//! happens to this packet?". The engine (`lvs-ipvs`) answers it exactly as the
//! kernel would; the data plane only parses, rewrites and transmits.

use std::net::IpAddr;
use std::time::Duration;

pub use lvs_ipvs::admin::FwdMethod;

/// What the data plane knows about a packet when it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    /// IP protocol (6 TCP, 17 UDP, 132 SCTP).
    pub proto: u8,
    /// Source address.
    pub saddr: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub daddr: IpAddr,
    /// Destination port.
    pub dport: u16,
    /// TCP flags (0 for UDP/SCTP).
    pub tcp_flags: u8,
    /// IP packet length in bytes.
    pub len: u32,
}

/// The decision for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not a virtual-service packet: leave it to the director's own stack.
    Pass,
    /// Drop it (e.g. no real server available: the kernel answers with ICMP
    /// port unreachable and drops).
    Drop,
    /// Client → real server, by `method`, to `daddr:dport`.
    Forward {
        /// Forwarding method.
        method: FwdMethod,
        /// Real server address.
        daddr: IpAddr,
        /// Real server port.
        dport: u16,
    },
    /// Real server → client reply of a NAT connection: rewrite the source to
    /// `vaddr:vport`.
    Reply {
        /// Virtual address.
        vaddr: IpAddr,
        /// Virtual port.
        vport: u16,
    },
}

/// Decides packets. `now` is monotonic time since the data plane started.
pub trait Decider {
    /// Decides one received packet (both directions).
    fn decide(&mut self, now: Duration, pkt: &PacketMeta) -> Verdict;
    /// Runs timers (connection expiry) up to `now`.
    fn tick(&mut self, _now: Duration) {}
}

impl<F: FnMut(Duration, &PacketMeta) -> Verdict> Decider for F {
    fn decide(&mut self, now: Duration, pkt: &PacketMeta) -> Verdict {
        self(now, pkt)
    }
}
