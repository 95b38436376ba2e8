//! lvs-ipvs-nl — the IPVS generic-netlink codec (no sockets).
//!
//! * [`attr`]: every `IPVS_CMD_ATTR_*`, `IPVS_SVC_ATTR_*`, `IPVS_DEST_ATTR_*`,
//!   `IPVS_DAEMON_ATTR_*`, `IPVS_STATS_ATTR_*` and `IPVS_INFO_ATTR_*` as typed
//!   netlink attributes (parse + emit, byte-exact).
//! * [`message`]: the `IPVS_CMD_*` payload on top of netlink-packet-generic,
//!   family resolution through the generic-netlink controller, frame helpers.
//! * [`append`]: the reconcile requests written straight into a send buffer
//!   (the cold apply's fast path; byte-identical to the codec's frames).
//! * [`convert`]: admin types (`lvs_ipvs::admin`) ↔ attributes, request
//!   builders in libipvs' attribute order, reply decoding.
//!
//! Encoding facts (ip_vs.h): ports and `TUN_PORT` are big-endian `u16`;
//! an IPv4 netmask is a raw big-endian mask, an IPv6 one a prefix length;
//! `FLAGS` is `{flags, mask}`; `MCAST_PORT` is host order; dumps include
//! `IP_VS_SVC_F_HASHED`; `*_STATS64` carries ten u64, `*_STATS` u32 except
//! the byte counters.

pub mod append;
pub mod attr;
pub mod convert;
pub mod message;

pub use attr::{DaemonAttr, DestAttr, IpvsAttr, StatsAttr, SvcAttr};
pub use convert::*;
pub use message::{
    decode_family_reply, decode_frame, encode_family_request, encode_frame, encode_request,
    split_frames, CtrlReply, IpvsCmd, IpvsMessage, IpvsNetlinkMessage, IPVS_GENL_NAME,
    IPVS_GENL_VERSION,
};

/// Codec errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NlError {
    #[error("malformed netlink message: {0}")]
    Decode(String),
    #[error("missing attribute {0}")]
    Missing(&'static str),
    #[error("invalid attribute value: {0}")]
    Invalid(String),
}
