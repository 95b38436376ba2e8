//! lvs-wire — sans-IO wire codecs for the VRRP side of lvsd.
//!
//! Layer: plain bytes in, plain values out. No sockets, no clock, no allocation on
//! the parse path except where a `Repr` owns a list (VRRP address list).
//!
//! Every protocol follows the same two-level shape (after smoltcp):
//!
//! * `XxxPacket<T: AsRef<[u8]>>` — a zero-copy view over a buffer with a private
//!   `mod field` of byte ranges. **Invariant:** once `new_checked()` (or
//!   `check_len()`) succeeded, no accessor panics. `new_unchecked()` is for
//!   emission into a buffer that the caller sized with `Repr::buffer_len()`.
//! * `XxxRepr` — the validated value: `Repr::parse(&Packet) -> Result<Repr>`,
//!   `repr.buffer_len()`, `repr.emit(&mut Packet)`.
//!
//! Protocols: VRRPv2 (RFC 3768, auth none / simple password; IP AH is recognised
//! and refused), VRRPv3 (RFC 5798, IPv4 and IPv6, with the pseudo-header
//! checksum and keepalived's `v3_checksum_as_v2` / old unicast checksum
//! variants), IPv4 and IPv6 headers, Ethernet II, ARP and the ICMPv6 neighbour
//! advertisement used as an unsolicited NA.
//!
//! Checksums live on the packet views (`verify_checksum`, `fill_checksum`);
//! semantic validation lives in `Repr::parse` and returns a matchable [`Error`].
#![warn(missing_docs)]

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod ndisc;
pub mod vrrp;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Packet, Ipv6Repr};
pub use ndisc::{NeighborAdvertPacket, NeighborAdvertRepr};
pub use vrrp::{Auth, ChecksumMode, Family, VrrpPacket, VrrpRepr, VrrpVersion};

/// IP protocol number of VRRP (RFC 5798 §5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;
/// IP protocol number of the IP Authentication Header (RFC 4302).
pub const IPPROTO_AH: u8 = 51;
/// IP protocol number of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

/// Why a buffer could not be decoded. Each variant maps onto one of the
/// keepalived / RFC 5798 §6.4 receive statistics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the fixed header or than the length its
    /// header claims.
    #[error("packet truncated: {got} bytes, need {need}")]
    Truncated {
        /// Bytes available.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The VRRP length does not match `8 + count × addrlen (+ 8 auth for v2)`.
    #[error(
        "VRRP length {got} does not match the {count} addresses announced (expected {expected})"
    )]
    BadLength {
        /// Bytes received.
        got: usize,
        /// Bytes expected from the header.
        expected: usize,
        /// The address count field.
        count: u8,
    },
    /// The IP header is malformed (wrong version nibble, IHL < 5, total
    /// length smaller than the header).
    #[error("malformed IP header: {0}")]
    BadIpHeader(&'static str),
    /// The IPv4 protocol is IP AH (51): keepalived's `auth_type AH` is not
    /// supported by lvsd, such adverts are refused.
    #[error("VRRP over IP Authentication Header (auth_type AH) is not supported")]
    AuthHeader,
    /// The IP protocol is neither VRRP nor AH.
    #[error("not a VRRP packet (IP protocol {0})")]
    NotVrrp(u8),
    /// The VRRP version nibble is neither 2 nor 3.
    #[error("unknown VRRP version {0}")]
    BadVersion(u8),
    /// The VRRP type nibble is not 1 (ADVERTISEMENT).
    #[error("invalid VRRP packet type {0}")]
    BadType(u8),
    /// VRRPv2 authentication type outside {0, 1, 2}.
    #[error("invalid VRRPv2 authentication type {0}")]
    BadAuthType(u8),
    /// VRRPv2 carried over IPv6: not defined.
    #[error("VRRPv2 is not defined for IPv6")]
    V2OverIpv6,
    /// A checksum did not verify.
    #[error("bad checksum")]
    BadChecksum,
    /// A field holds a value this codec does not understand.
    #[error("unsupported {0}")]
    Unsupported(&'static str),
}

/// Result alias of this crate.
pub type Result<T> = core::result::Result<T, Error>;

pub(crate) mod field {
    pub(crate) type Field = core::ops::Range<usize>;
}
