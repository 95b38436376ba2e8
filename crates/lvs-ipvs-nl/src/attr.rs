//! IPVS netlink attributes (`include/uapi/linux/ip_vs.h`), one enum per
//! attribute space. Values are kept as they travel (ports in network order are
//! decoded to host `u16`, addresses as the raw 16-byte `nf_inet_addr`), so a
//! parsed message re-emits to the same bytes.

use netlink_packet_utils::nla::{DefaultNla, Nla, NlaBuffer, NlasIterator};
use netlink_packet_utils::parsers::{parse_u16, parse_u32, parse_u64, parse_u8};
use netlink_packet_utils::{DecodeError, Emitable, Parseable};

// --- attribute numbers ---------------------------------------------------

pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
pub const IPVS_CMD_ATTR_DEST: u16 = 2;
pub const IPVS_CMD_ATTR_DAEMON: u16 = 3;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
pub const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

pub const IPVS_SVC_ATTR_AF: u16 = 1;
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
pub const IPVS_SVC_ATTR_STATS: u16 = 10;
pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
pub const IPVS_SVC_ATTR_STATS64: u16 = 12;

pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
pub const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub const IPVS_DEST_ATTR_STATS: u16 = 10;
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub const IPVS_DEST_ATTR_STATS64: u16 = 12;
pub const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
pub const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
pub const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

pub const IPVS_DAEMON_ATTR_STATE: u16 = 1;
pub const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
pub const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
pub const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
pub const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
pub const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

pub const IPVS_STATS_ATTR_CONNS: u16 = 1;
pub const IPVS_STATS_ATTR_INPKTS: u16 = 2;
pub const IPVS_STATS_ATTR_OUTPKTS: u16 = 3;
pub const IPVS_STATS_ATTR_INBYTES: u16 = 4;
pub const IPVS_STATS_ATTR_OUTBYTES: u16 = 5;
pub const IPVS_STATS_ATTR_CPS: u16 = 6;
pub const IPVS_STATS_ATTR_INPPS: u16 = 7;
pub const IPVS_STATS_ATTR_OUTPPS: u16 = 8;
pub const IPVS_STATS_ATTR_INBPS: u16 = 9;
pub const IPVS_STATS_ATTR_OUTBPS: u16 = 10;
pub const IPVS_STATS_ATTR_PAD: u16 = 11;

pub const IPVS_INFO_ATTR_VERSION: u16 = 1;
pub const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

// --- helpers -------------------------------------------------------------

fn nested_len<T: Nla>(v: &[T]) -> usize {
    v.as_ref().buffer_len()
}

fn emit_nested<T: Nla>(v: &[T], buf: &mut [u8]) {
    v.as_ref().emit(buf)
}

fn emit_str(s: &str, buf: &mut [u8]) {
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
}

/// Kernel strings are NUL-terminated; accept a missing NUL too.
fn parse_cstr(payload: &[u8]) -> Result<String, DecodeError> {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    String::from_utf8(payload[..end].to_vec())
        .map_err(|_| DecodeError::from("attribute string is not UTF-8"))
}

fn parse_be16(payload: &[u8]) -> Result<u16, DecodeError> {
    if payload.len() != 2 {
        return Err(DecodeError::from("bad length for a be16 attribute"));
    }
    Ok(u16::from_be_bytes([payload[0], payload[1]]))
}

fn parse_addr(payload: &[u8]) -> Result<[u8; 16], DecodeError> {
    if payload.len() > 16 {
        return Err(DecodeError::from("address attribute longer than 16 bytes"));
    }
    let mut a = [0u8; 16];
    a[..payload.len()].copy_from_slice(payload);
    Ok(a)
}

/// Parse every attribute of a nested/top-level block.
pub fn parse_nlas<T, F>(payload: &[u8], mut f: F) -> Result<Vec<T>, DecodeError>
where
    F: FnMut(&NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
{
    let mut out = Vec::new();
    for nla in NlasIterator::new(payload) {
        let nla = nla?;
        out.push(f(&nla)?);
    }
    Ok(out)
}

macro_rules! unknown {
    ($buf:expr) => {
        DefaultNla::parse($buf)?
    };
}

// --- statistics ----------------------------------------------------------

/// One attribute of `IPVS_*_ATTR_STATS` / `STATS64`. The value keeps its width:
/// in the 32-bit block the counters are u32 except the byte counters (u64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAttr {
    U32(u16, u32),
    U64(u16, u64),
    /// `IPVS_STATS_ATTR_PAD` or anything unknown.
    Other(DefaultNla),
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self {
            StatsAttr::U32(..) => 4,
            StatsAttr::U64(..) => 8,
            StatsAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            StatsAttr::U32(k, _) | StatsAttr::U64(k, _) => *k,
            StatsAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            StatsAttr::U32(_, v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            StatsAttr::U64(_, v) => buf[..8].copy_from_slice(&v.to_ne_bytes()),
            StatsAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl StatsAttr {
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let k = buf.kind();
        let v = buf.value();
        Ok(match (k, v.len()) {
            (1..=10, 4) => StatsAttr::U32(k, parse_u32(v)?),
            (1..=10, 8) => StatsAttr::U64(k, parse_u64(v)?),
            _ => StatsAttr::Other(unknown!(buf)),
        })
    }
}

// --- service -------------------------------------------------------------

/// `IPVS_SVC_ATTR_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SvcAttr {
    Af(u16),
    Protocol(u16),
    /// Raw `nf_inet_addr` (IPv4 in the first 4 bytes); emitted with its length.
    Addr(Vec<u8>),
    /// Host order (network order on the wire).
    Port(u16),
    Fwmark(u32),
    SchedName(String),
    /// `struct ip_vs_flags { flags, mask }`.
    Flags {
        flags: u32,
        mask: u32,
    },
    Timeout(u32),
    /// The raw u32 as the kernel stores it (IPv4: network-order mask bytes).
    Netmask([u8; 4]),
    Stats(Vec<StatsAttr>),
    PeName(String),
    Stats64(Vec<StatsAttr>),
    Other(DefaultNla),
}

impl Nla for SvcAttr {
    fn value_len(&self) -> usize {
        use SvcAttr::*;
        match self {
            Af(_) | Protocol(_) | Port(_) => 2,
            Addr(a) => a.len(),
            Fwmark(_) | Timeout(_) | Netmask(_) => 4,
            SchedName(s) | PeName(s) => s.len() + 1,
            Flags { .. } => 8,
            Stats(v) | Stats64(v) => nested_len(v),
            Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use SvcAttr::*;
        match self {
            Af(_) => IPVS_SVC_ATTR_AF,
            Protocol(_) => IPVS_SVC_ATTR_PROTOCOL,
            Addr(_) => IPVS_SVC_ATTR_ADDR,
            Port(_) => IPVS_SVC_ATTR_PORT,
            Fwmark(_) => IPVS_SVC_ATTR_FWMARK,
            SchedName(_) => IPVS_SVC_ATTR_SCHED_NAME,
            Flags { .. } => IPVS_SVC_ATTR_FLAGS,
            Timeout(_) => IPVS_SVC_ATTR_TIMEOUT,
            Netmask(_) => IPVS_SVC_ATTR_NETMASK,
            Stats(_) => IPVS_SVC_ATTR_STATS,
            PeName(_) => IPVS_SVC_ATTR_PE_NAME,
            Stats64(_) => IPVS_SVC_ATTR_STATS64,
            Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        use SvcAttr::*;
        match self {
            Af(v) | Protocol(v) => buf[..2].copy_from_slice(&v.to_ne_bytes()),
            Port(v) => buf[..2].copy_from_slice(&v.to_be_bytes()),
            Addr(a) => buf[..a.len()].copy_from_slice(a),
            Fwmark(v) | Timeout(v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            Netmask(m) => buf[..4].copy_from_slice(m),
            SchedName(s) | PeName(s) => emit_str(s, buf),
            Flags { flags, mask } => {
                buf[..4].copy_from_slice(&flags.to_ne_bytes());
                buf[4..8].copy_from_slice(&mask.to_ne_bytes());
            }
            Stats(v) | Stats64(v) => emit_nested(v, buf),
            Other(n) => n.emit_value(buf),
        }
    }
}

impl SvcAttr {
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_SVC_ATTR_AF => SvcAttr::Af(parse_u16(v)?),
            IPVS_SVC_ATTR_PROTOCOL => SvcAttr::Protocol(parse_u16(v)?),
            IPVS_SVC_ATTR_ADDR => {
                parse_addr(v)?;
                SvcAttr::Addr(v.to_vec())
            }
            IPVS_SVC_ATTR_PORT => SvcAttr::Port(parse_be16(v)?),
            IPVS_SVC_ATTR_FWMARK => SvcAttr::Fwmark(parse_u32(v)?),
            IPVS_SVC_ATTR_SCHED_NAME => SvcAttr::SchedName(parse_cstr(v)?),
            IPVS_SVC_ATTR_FLAGS => {
                if v.len() != 8 {
                    return Err(DecodeError::from("IPVS_SVC_ATTR_FLAGS is not 8 bytes"));
                }
                SvcAttr::Flags {
                    flags: parse_u32(&v[..4])?,
                    mask: parse_u32(&v[4..])?,
                }
            }
            IPVS_SVC_ATTR_TIMEOUT => SvcAttr::Timeout(parse_u32(v)?),
            IPVS_SVC_ATTR_NETMASK => {
                if v.len() != 4 {
                    return Err(DecodeError::from("IPVS_SVC_ATTR_NETMASK is not 4 bytes"));
                }
                SvcAttr::Netmask([v[0], v[1], v[2], v[3]])
            }
            IPVS_SVC_ATTR_STATS => SvcAttr::Stats(parse_nlas(v, StatsAttr::parse)?),
            IPVS_SVC_ATTR_PE_NAME => SvcAttr::PeName(parse_cstr(v)?),
            IPVS_SVC_ATTR_STATS64 => SvcAttr::Stats64(parse_nlas(v, StatsAttr::parse)?),
            _ => SvcAttr::Other(unknown!(buf)),
        })
    }
}

// --- destination ---------------------------------------------------------

/// `IPVS_DEST_ATTR_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAttr {
    Addr(Vec<u8>),
    Port(u16),
    FwdMethod(u32),
    Weight(u32),
    UThresh(u32),
    LThresh(u32),
    ActiveConns(u32),
    InactConns(u32),
    PersistConns(u32),
    Stats(Vec<StatsAttr>),
    AddrFamily(u16),
    Stats64(Vec<StatsAttr>),
    TunType(u8),
    /// Host order (network order on the wire).
    TunPort(u16),
    TunFlags(u16),
    Other(DefaultNla),
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        use DestAttr::*;
        match self {
            Addr(a) => a.len(),
            Port(_) | AddrFamily(_) | TunPort(_) | TunFlags(_) => 2,
            TunType(_) => 1,
            FwdMethod(_) | Weight(_) | UThresh(_) | LThresh(_) | ActiveConns(_) | InactConns(_)
            | PersistConns(_) => 4,
            Stats(v) | Stats64(v) => nested_len(v),
            Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use DestAttr::*;
        match self {
            Addr(_) => IPVS_DEST_ATTR_ADDR,
            Port(_) => IPVS_DEST_ATTR_PORT,
            FwdMethod(_) => IPVS_DEST_ATTR_FWD_METHOD,
            Weight(_) => IPVS_DEST_ATTR_WEIGHT,
            UThresh(_) => IPVS_DEST_ATTR_U_THRESH,
            LThresh(_) => IPVS_DEST_ATTR_L_THRESH,
            ActiveConns(_) => IPVS_DEST_ATTR_ACTIVE_CONNS,
            InactConns(_) => IPVS_DEST_ATTR_INACT_CONNS,
            PersistConns(_) => IPVS_DEST_ATTR_PERSIST_CONNS,
            Stats(_) => IPVS_DEST_ATTR_STATS,
            AddrFamily(_) => IPVS_DEST_ATTR_ADDR_FAMILY,
            Stats64(_) => IPVS_DEST_ATTR_STATS64,
            TunType(_) => IPVS_DEST_ATTR_TUN_TYPE,
            TunPort(_) => IPVS_DEST_ATTR_TUN_PORT,
            TunFlags(_) => IPVS_DEST_ATTR_TUN_FLAGS,
            Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        use DestAttr::*;
        match self {
            Addr(a) => buf[..a.len()].copy_from_slice(a),
            Port(v) | TunPort(v) => buf[..2].copy_from_slice(&v.to_be_bytes()),
            AddrFamily(v) | TunFlags(v) => buf[..2].copy_from_slice(&v.to_ne_bytes()),
            TunType(v) => buf[0] = *v,
            FwdMethod(v) | Weight(v) | UThresh(v) | LThresh(v) | ActiveConns(v) | InactConns(v)
            | PersistConns(v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            Stats(v) | Stats64(v) => emit_nested(v, buf),
            Other(n) => n.emit_value(buf),
        }
    }
}

impl DestAttr {
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_DEST_ATTR_ADDR => {
                parse_addr(v)?;
                DestAttr::Addr(v.to_vec())
            }
            IPVS_DEST_ATTR_PORT => DestAttr::Port(parse_be16(v)?),
            IPVS_DEST_ATTR_FWD_METHOD => DestAttr::FwdMethod(parse_u32(v)?),
            IPVS_DEST_ATTR_WEIGHT => DestAttr::Weight(parse_u32(v)?),
            IPVS_DEST_ATTR_U_THRESH => DestAttr::UThresh(parse_u32(v)?),
            IPVS_DEST_ATTR_L_THRESH => DestAttr::LThresh(parse_u32(v)?),
            IPVS_DEST_ATTR_ACTIVE_CONNS => DestAttr::ActiveConns(parse_u32(v)?),
            IPVS_DEST_ATTR_INACT_CONNS => DestAttr::InactConns(parse_u32(v)?),
            IPVS_DEST_ATTR_PERSIST_CONNS => DestAttr::PersistConns(parse_u32(v)?),
            IPVS_DEST_ATTR_STATS => DestAttr::Stats(parse_nlas(v, StatsAttr::parse)?),
            IPVS_DEST_ATTR_ADDR_FAMILY => DestAttr::AddrFamily(parse_u16(v)?),
            IPVS_DEST_ATTR_STATS64 => DestAttr::Stats64(parse_nlas(v, StatsAttr::parse)?),
            IPVS_DEST_ATTR_TUN_TYPE => DestAttr::TunType(parse_u8(v)?),
            IPVS_DEST_ATTR_TUN_PORT => DestAttr::TunPort(parse_be16(v)?),
            IPVS_DEST_ATTR_TUN_FLAGS => DestAttr::TunFlags(parse_u16(v)?),
            _ => DestAttr::Other(unknown!(buf)),
        })
    }
}

// --- sync daemon ---------------------------------------------------------

/// `IPVS_DAEMON_ATTR_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonAttr {
    State(u32),
    McastIfn(String),
    SyncId(u32),
    SyncMaxlen(u16),
    /// in_addr bytes (network order).
    McastGroup([u8; 4]),
    McastGroup6([u8; 16]),
    /// Host order.
    McastPort(u16),
    McastTtl(u8),
    Other(DefaultNla),
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        use DaemonAttr::*;
        match self {
            State(_) | SyncId(_) | McastGroup(_) => 4,
            McastIfn(s) => s.len() + 1,
            SyncMaxlen(_) | McastPort(_) => 2,
            McastGroup6(_) => 16,
            McastTtl(_) => 1,
            Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use DaemonAttr::*;
        match self {
            State(_) => IPVS_DAEMON_ATTR_STATE,
            McastIfn(_) => IPVS_DAEMON_ATTR_MCAST_IFN,
            SyncId(_) => IPVS_DAEMON_ATTR_SYNC_ID,
            SyncMaxlen(_) => IPVS_DAEMON_ATTR_SYNC_MAXLEN,
            McastGroup(_) => IPVS_DAEMON_ATTR_MCAST_GROUP,
            McastGroup6(_) => IPVS_DAEMON_ATTR_MCAST_GROUP6,
            McastPort(_) => IPVS_DAEMON_ATTR_MCAST_PORT,
            McastTtl(_) => IPVS_DAEMON_ATTR_MCAST_TTL,
            Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        use DaemonAttr::*;
        match self {
            State(v) | SyncId(v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            McastIfn(s) => emit_str(s, buf),
            SyncMaxlen(v) | McastPort(v) => buf[..2].copy_from_slice(&v.to_ne_bytes()),
            McastGroup(a) => buf[..4].copy_from_slice(a),
            McastGroup6(a) => buf[..16].copy_from_slice(a),
            McastTtl(v) => buf[0] = *v,
            Other(n) => n.emit_value(buf),
        }
    }
}

impl DaemonAttr {
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_DAEMON_ATTR_STATE => DaemonAttr::State(parse_u32(v)?),
            IPVS_DAEMON_ATTR_MCAST_IFN => DaemonAttr::McastIfn(parse_cstr(v)?),
            IPVS_DAEMON_ATTR_SYNC_ID => DaemonAttr::SyncId(parse_u32(v)?),
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => DaemonAttr::SyncMaxlen(parse_u16(v)?),
            IPVS_DAEMON_ATTR_MCAST_GROUP if v.len() == 4 => {
                DaemonAttr::McastGroup([v[0], v[1], v[2], v[3]])
            }
            IPVS_DAEMON_ATTR_MCAST_GROUP6 if v.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(v);
                DaemonAttr::McastGroup6(a)
            }
            IPVS_DAEMON_ATTR_MCAST_PORT => DaemonAttr::McastPort(parse_u16(v)?),
            IPVS_DAEMON_ATTR_MCAST_TTL => DaemonAttr::McastTtl(parse_u8(v)?),
            _ => DaemonAttr::Other(unknown!(buf)),
        })
    }
}

// --- top level -------------------------------------------------------------

/// Top-level attributes of an IPVS message. `IPVS_INFO_ATTR_*` share numbers
/// with `SERVICE`/`DEST`, so they are parsed as `Info*` only for the
/// `SET_INFO`/`GET_INFO` commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpvsAttr {
    Service(Vec<SvcAttr>),
    Dest(Vec<DestAttr>),
    Daemon(Vec<DaemonAttr>),
    TimeoutTcp(u32),
    TimeoutTcpFin(u32),
    TimeoutUdp(u32),
    InfoVersion(u32),
    InfoConnTabSize(u32),
    Other(DefaultNla),
}

impl Nla for IpvsAttr {
    fn value_len(&self) -> usize {
        use IpvsAttr::*;
        match self {
            Service(v) => nested_len(v),
            Dest(v) => nested_len(v),
            Daemon(v) => nested_len(v),
            TimeoutTcp(_) | TimeoutTcpFin(_) | TimeoutUdp(_) | InfoVersion(_)
            | InfoConnTabSize(_) => 4,
            Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use IpvsAttr::*;
        match self {
            Service(_) => IPVS_CMD_ATTR_SERVICE,
            Dest(_) => IPVS_CMD_ATTR_DEST,
            Daemon(_) => IPVS_CMD_ATTR_DAEMON,
            TimeoutTcp(_) => IPVS_CMD_ATTR_TIMEOUT_TCP,
            TimeoutTcpFin(_) => IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
            TimeoutUdp(_) => IPVS_CMD_ATTR_TIMEOUT_UDP,
            InfoVersion(_) => IPVS_INFO_ATTR_VERSION,
            InfoConnTabSize(_) => IPVS_INFO_ATTR_CONN_TAB_SIZE,
            Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        use IpvsAttr::*;
        match self {
            Service(v) => emit_nested(v, buf),
            Dest(v) => emit_nested(v, buf),
            Daemon(v) => emit_nested(v, buf),
            TimeoutTcp(v) | TimeoutTcpFin(v) | TimeoutUdp(v) | InfoVersion(v)
            | InfoConnTabSize(v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            Other(n) => n.emit_value(buf),
        }
    }
}

impl IpvsAttr {
    /// Whether this attribute is a nested block.
    pub fn is_nest(&self) -> bool {
        matches!(
            self,
            IpvsAttr::Service(_) | IpvsAttr::Dest(_) | IpvsAttr::Daemon(_)
        )
    }

    /// Parse one top-level attribute; `info` selects the `IPVS_INFO_ATTR_*` space.
    pub fn parse(buf: &NlaBuffer<&[u8]>, info: bool) -> Result<Self, DecodeError> {
        let v = buf.value();
        if info {
            return Ok(match buf.kind() {
                IPVS_INFO_ATTR_VERSION => IpvsAttr::InfoVersion(parse_u32(v)?),
                IPVS_INFO_ATTR_CONN_TAB_SIZE => IpvsAttr::InfoConnTabSize(parse_u32(v)?),
                _ => IpvsAttr::Other(unknown!(buf)),
            });
        }
        Ok(match buf.kind() {
            IPVS_CMD_ATTR_SERVICE => IpvsAttr::Service(parse_nlas(v, SvcAttr::parse)?),
            IPVS_CMD_ATTR_DEST => IpvsAttr::Dest(parse_nlas(v, DestAttr::parse)?),
            IPVS_CMD_ATTR_DAEMON => IpvsAttr::Daemon(parse_nlas(v, DaemonAttr::parse)?),
            IPVS_CMD_ATTR_TIMEOUT_TCP => IpvsAttr::TimeoutTcp(parse_u32(v)?),
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN => IpvsAttr::TimeoutTcpFin(parse_u32(v)?),
            IPVS_CMD_ATTR_TIMEOUT_UDP => IpvsAttr::TimeoutUdp(parse_u32(v)?),
            _ => IpvsAttr::Other(unknown!(buf)),
        })
    }
}
