//! Admin API: the IPVS control-plane objects as user space sees them
//! (`include/uapi/linux/ip_vs.h` user structs and generic-netlink attributes),
//! and the [`IpvsBackend`] trait implemented by the kernel backend
//! (`lvs-sys`, over generic netlink) and by the in-process model.
//!
//! Units and encodings follow the user-facing API, not the wire:
//! ports are host-order `u16`, timeouts are seconds, an IPv4 netmask is a
//! host-order `u32` mask (`0xffff_ff00` = /24) and an IPv6 netmask is a prefix
//! length (1..=128). The netlink codec converts to network order.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// `IP_VS_VERSION_CODE` (1.2.1).
pub const IP_VS_VERSION_CODE: u32 = 0x01_02_01;
/// `IPVS_SVC_PERSISTENT_TIMEOUT`: the default persistence timeout (seconds).
pub const IPVS_SVC_PERSISTENT_TIMEOUT: u32 = 6 * 60;
/// Longest scheduler name accepted (`IP_VS_SCHEDNAME_MAXLEN` - 1).
pub const IP_VS_SCHEDNAME_MAXLEN: usize = 16;
/// Longest persistence-engine name (`IP_VS_PENAME_MAXLEN`).
pub const IP_VS_PENAME_MAXLEN: usize = 16;
/// Longest sync-daemon interface name (`IP_VS_IFNAME_MAXLEN`).
pub const IP_VS_IFNAME_MAXLEN: usize = 16;

/// Address family (`AF_INET` = 2, `AF_INET6` = 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub const AF_INET: u16 = 2;
    pub const AF_INET6: u16 = 10;

    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    pub fn to_raw(self) -> u16 {
        match self {
            Family::Inet => Self::AF_INET,
            Family::Inet6 => Self::AF_INET6,
        }
    }

    pub fn from_raw(af: u16) -> Option<Family> {
        match af {
            Self::AF_INET => Some(Family::Inet),
            Self::AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }

    /// The unspecified address of this family.
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }

    /// The "no mask" netmask for this family (/32 or 128).
    pub fn full_netmask(self) -> u32 {
        match self {
            Family::Inet => 0xffff_ffff,
            Family::Inet6 => 128,
        }
    }
}

/// Transport protocol of a VIP:port service (`IPPROTO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn from_number(n: u16) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Name as ipvsadm prints it (`TCP`, `UDP`, `SCTP`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service: protocol + VIP + port, or a firewall mark (+ family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum ServiceKey {
    Addr {
        proto: Protocol,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        mark: u32,
        af: Family,
    },
}

impl ServiceKey {
    pub fn af(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { af, .. } => *af,
        }
    }

    pub fn fwmark(&self) -> Option<u32> {
        match self {
            ServiceKey::Fwmark { mark, .. } => Some(*mark),
            ServiceKey::Addr { .. } => None,
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                proto,
                addr: IpAddr::V6(a),
                port,
            } => write!(f, "{} [{a}]:{port}", proto.name()),
            ServiceKey::Addr { proto, addr, port } => write!(f, "{} {addr}:{port}", proto.name()),
            ServiceKey::Fwmark {
                mark,
                af: Family::Inet,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                mark,
                af: Family::Inet6,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

/// Service flags (`IP_VS_SVC_F_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SvcFlags(pub u32);

impl SvcFlags {
    /// `IP_VS_SVC_F_PERSISTENT`.
    pub const PERSISTENT: u32 = 0x0001;
    /// `IP_VS_SVC_F_HASHED` (kernel internal; present in dumps).
    pub const HASHED: u32 = 0x0002;
    /// `IP_VS_SVC_F_ONEPACKET`.
    pub const ONEPACKET: u32 = 0x0004;
    /// `IP_VS_SVC_F_SCHED1` (`flag-1`, `sh-fallback`, `mh-fallback`).
    pub const SCHED1: u32 = 0x0008;
    /// `IP_VS_SVC_F_SCHED2` (`flag-2`, `sh-port`, `mh-port`).
    pub const SCHED2: u32 = 0x0010;
    /// `IP_VS_SVC_F_SCHED3` (`flag-3`).
    pub const SCHED3: u32 = 0x0020;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    pub fn with(self, bit: u32, on: bool) -> Self {
        if on {
            SvcFlags(self.0 | bit)
        } else {
            SvcFlags(self.0 & !bit)
        }
    }

    /// The flags user space sets (HASHED removed), for comparisons.
    pub fn user(self) -> Self {
        SvcFlags(self.0 & !Self::HASHED)
    }
}

/// A virtual service (`ip_vs_service_user` plus netlink-only fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler name, e.g. `wlc`; `none` means no scheduler.
    pub scheduler: String,
    pub flags: SvcFlags,
    /// Persistence timeout, seconds (meaningful with `SvcFlags::PERSISTENT`).
    pub timeout: u32,
    /// IPv4: host-order mask (`0xffffffff` = /32); IPv6: prefix length.
    pub netmask: u32,
    /// Persistence engine (`sip`).
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with ipvsadm's defaults: `wlc`, not persistent, full netmask.
    pub fn new(key: ServiceKey) -> Self {
        Service {
            key,
            scheduler: "wlc".into(),
            flags: SvcFlags::default(),
            timeout: 0,
            netmask: key.af().full_netmask(),
            pe_name: None,
        }
    }

    pub fn is_persistent(&self) -> bool {
        self.flags.has(SvcFlags::PERSISTENT)
    }

    /// Whether two specs describe the same configuration (ignoring HASHED and
    /// the timeout/netmask of a non-persistent service, which the kernel keeps
    /// but does not use).
    pub fn same_config(&self, other: &Service) -> bool {
        self.key == other.key
            && self.scheduler == other.scheduler
            && self.flags.user() == other.flags.user()
            && self.pe_name == other.pe_name
            && (!self.is_persistent()
                || (self.timeout == other.timeout && self.netmask == other.netmask))
    }
}

/// Forwarding method (`IP_VS_CONN_F_FWD_MASK` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FwdMethod {
    /// NAT (`IP_VS_CONN_F_MASQ` 0).
    Masq,
    /// `IP_VS_CONN_F_LOCALNODE` 1.
    Local,
    /// IP tunnelling (`IP_VS_CONN_F_TUNNEL` 2).
    Tunnel,
    /// Direct routing (`IP_VS_CONN_F_DROUTE` 3).
    Route,
    /// `IP_VS_CONN_F_BYPASS` 4.
    Bypass,
}

impl FwdMethod {
    pub fn to_raw(self) -> u32 {
        match self {
            FwdMethod::Masq => 0,
            FwdMethod::Local => 1,
            FwdMethod::Tunnel => 2,
            FwdMethod::Route => 3,
            FwdMethod::Bypass => 4,
        }
    }

    /// From `conn_flags & IP_VS_CONN_F_FWD_MASK`.
    pub fn from_raw(v: u32) -> Option<FwdMethod> {
        match v & 0x7 {
            0 => Some(FwdMethod::Masq),
            1 => Some(FwdMethod::Local),
            2 => Some(FwdMethod::Tunnel),
            3 => Some(FwdMethod::Route),
            4 => Some(FwdMethod::Bypass),
            _ => None,
        }
    }

    /// The `-Ln` "Forward" column.
    pub fn name(self) -> &'static str {
        match self {
            FwdMethod::Masq | FwdMethod::Bypass => "Masq",
            FwdMethod::Local => "Local",
            FwdMethod::Tunnel => "Tunnel",
            FwdMethod::Route => "Route",
        }
    }
}

/// Tunnel encapsulation (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunType {
    #[default]
    Ipip,
    Gue,
    Gre,
}

impl TunType {
    pub fn to_raw(self) -> u8 {
        match self {
            TunType::Ipip => 0,
            TunType::Gue => 1,
            TunType::Gre => 2,
        }
    }

    pub fn from_raw(v: u8) -> Option<TunType> {
        match v {
            0 => Some(TunType::Ipip),
            1 => Some(TunType::Gue),
            2 => Some(TunType::Gre),
            _ => None,
        }
    }
}

/// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunCsum {
    #[default]
    NoCsum,
    Csum,
    RemCsum,
}

impl TunCsum {
    pub fn to_raw(self) -> u16 {
        match self {
            TunCsum::NoCsum => 0,
            TunCsum::Csum => 1,
            TunCsum::RemCsum => 2,
        }
    }

    pub fn from_raw(v: u16) -> Option<TunCsum> {
        match v {
            0 => Some(TunCsum::NoCsum),
            1 => Some(TunCsum::Csum),
            2 => Some(TunCsum::RemCsum),
            _ => None,
        }
    }
}

/// A real server (`ip_vs_dest_user` plus netlink-only fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dest {
    pub addr: IpAddr,
    pub port: u16,
    pub fwd: FwdMethod,
    pub weight: u32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: TunType,
    /// GUE destination port (host order).
    pub tun_port: u16,
    pub tun_flags: TunCsum,
}

impl Dest {
    /// ipvsadm's defaults: DR, weight 1, no thresholds, ipip.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Dest {
            addr,
            port,
            fwd: FwdMethod::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunType::Ipip,
            tun_port: 0,
            tun_flags: TunCsum::NoCsum,
        }
    }

    pub fn key(&self) -> DestKey {
        DestKey {
            addr: self.addr,
            port: self.port,
        }
    }
}

/// What identifies a real server within a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
        }
    }
}

/// Counters and rates (`IPVS_STATS_ATTR_*`, 64-bit). Counters count since the last ZERO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A service as listed (dump), with its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub stats: Stats,
}

/// A real server as listed (dump), with its connection counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestEntry {
    pub dest: Dest,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

/// Protocol timeouts in seconds (`ip_vs_timeout_user`). In a set request, 0 keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Sync daemon role (`IP_VS_STATE_MASTER` 1, `IP_VS_STATE_BACKUP` 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    Master,
    Backup,
}

impl DaemonState {
    pub fn to_raw(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
        }
    }

    pub fn from_raw(v: u32) -> Option<DaemonState> {
        match v {
            1 => Some(DaemonState::Master),
            2 => Some(DaemonState::Backup),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DaemonState::Master => "master",
            DaemonState::Backup => "backup",
        }
    }
}

/// A connection-sync daemon (`IPVS_DAEMON_ATTR_*`). Zero/None = kernel default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Daemon {
    pub state: DaemonState,
    pub mcast_ifn: String,
    pub syncid: u32,
    /// Max sync message length (0 = default from the interface MTU).
    pub sync_maxlen: u16,
    /// Multicast group (IPv4 or IPv6); None = 224.0.0.81.
    pub mcast_group: Option<IpAddr>,
    /// Base UDP port (host order; 0 = 8848).
    pub mcast_port: u16,
    /// Multicast TTL (0 = 1).
    pub mcast_ttl: u8,
}

/// `IPVS_CMD_GET_INFO` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// e.g. 0x010201.
    pub version: u32,
    pub conn_tab_size: u32,
}

impl Info {
    /// "1.2.1".
    pub fn version_string(&self) -> String {
        format!(
            "{}.{}.{}",
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff
        )
    }
}

/// One connection entry as in `/proc/net/ip_vs_conn` (templates included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnEntry {
    /// IP protocol number (0 for fwmark templates, shown as `IP`).
    pub proto: u16,
    pub caddr: IpAddr,
    pub cport: u16,
    /// For fwmark templates: the mark as an address.
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// State name as the kernel prints it (`ESTABLISHED`, `NONE`, `UDP`, ...).
    pub state: String,
    /// Seconds until the entry's timer fires.
    pub expires: u32,
    pub pe_name: Option<String>,
    pub pe_data: Option<String>,
}

/// A kernel-style failure of an admin operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// EEXIST: the service or destination already exists.
    #[error("already exists")]
    Exists,
    /// ESRCH: no such service.
    #[error("no such service")]
    NoService,
    /// ENOENT on a destination: no such destination.
    #[error("no such destination")]
    NoDest,
    /// ENOENT on a scheduler / persistence engine name (module missing).
    #[error("scheduler or persistence engine not found: {0}")]
    NoModule(String),
    /// EINVAL.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// ERANGE (negative weight, l_threshold > u_threshold, ...).
    #[error("value out of range: {0}")]
    Range(String),
    /// EEXIST/EBUSY on sync daemons: already running.
    #[error("sync daemon busy: {0}")]
    Busy(String),
    /// EPERM / EACCES.
    #[error("permission denied (CAP_NET_ADMIN required)")]
    Permission,
    /// The IPVS family / module is not available.
    #[error("IPVS not available: {0}")]
    Unavailable(String),
    /// No reply within the backend's bound.
    #[error("timed out waiting for the kernel")]
    Timeout,
    /// Any other errno.
    #[error("{op}: {msg} (errno {errno})")]
    Os { op: String, errno: i32, msg: String },
    /// Malformed reply or transport failure.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// A place that holds IPVS state: the kernel, or the in-process model.
///
/// Method semantics follow the kernel: `add_*` on an existing object fails
/// with [`AdminError::Exists`], `edit_*`/`del_*` on a missing one with
/// [`AdminError::NoService`] / [`AdminError::NoDest`].
pub trait IpvsBackend {
    /// `IPVS_CMD_GET_INFO`.
    fn info(&mut self) -> Result<Info, AdminError>;
    /// All services (`IPVS_CMD_GET_SERVICE` dump), in backend order.
    fn services(&mut self) -> Result<Vec<ServiceEntry>, AdminError>;
    /// One service, or `None`.
    fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>, AdminError>;
    /// The destinations of a service (`IPVS_CMD_GET_DEST` dump), in backend order.
    fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, AdminError>;
    /// `IPVS_CMD_NEW_SERVICE`.
    fn add_service(&mut self, svc: &Service) -> Result<(), AdminError>;
    /// `IPVS_CMD_SET_SERVICE` (scheduler, flags, timeout, netmask, pe in place).
    fn edit_service(&mut self, svc: &Service) -> Result<(), AdminError>;
    /// `IPVS_CMD_DEL_SERVICE`.
    fn del_service(&mut self, key: &ServiceKey) -> Result<(), AdminError>;
    /// `IPVS_CMD_NEW_DEST`.
    fn add_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), AdminError>;
    /// `IPVS_CMD_SET_DEST`.
    fn edit_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), AdminError>;
    /// `IPVS_CMD_DEL_DEST`.
    fn del_dest(&mut self, key: &ServiceKey, dest: &DestKey) -> Result<(), AdminError>;
    /// `IPVS_CMD_FLUSH`: delete every service.
    fn flush(&mut self) -> Result<(), AdminError>;
    /// `IPVS_CMD_ZERO`: zero counters of one service or (None) all.
    fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), AdminError>;
    /// `IPVS_CMD_GET_CONFIG`.
    fn timeouts(&mut self) -> Result<Timeouts, AdminError>;
    /// `IPVS_CMD_SET_CONFIG` (0 keeps a value).
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), AdminError>;
    /// `IPVS_CMD_GET_DAEMON`: running sync daemons (master first).
    fn daemons(&mut self) -> Result<Vec<Daemon>, AdminError>;
    /// `IPVS_CMD_NEW_DAEMON`.
    fn start_daemon(&mut self, d: &Daemon) -> Result<(), AdminError>;
    /// `IPVS_CMD_DEL_DAEMON`.
    fn stop_daemon(&mut self, state: DaemonState) -> Result<(), AdminError>;
    /// Connection entries (`/proc/net/ip_vs_conn` order).
    fn connections(&mut self) -> Result<Vec<ConnEntry>, AdminError>;
    /// Runs reconcile operations in order, one raw result each (benign races not mapped).
    /// Backends that can pipeline requests (the kernel's: many per `sendmsg`) override this.
    fn execute_ops(&mut self, ops: &[crate::reconcile::Op]) -> Vec<Result<(), AdminError>> {
        ops.iter()
            .map(|op| crate::reconcile::apply_raw(self, op))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_same_config_ignores_hashed_and_unused_persistence() {
        let key = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port: 80,
        };
        let a = Service::new(key);
        let mut b = a.clone();
        b.flags = SvcFlags(SvcFlags::HASHED);
        b.timeout = 300;
        assert!(a.same_config(&b));
        b.flags = SvcFlags(SvcFlags::PERSISTENT | SvcFlags::HASHED);
        assert!(!a.same_config(&b));
        let mut c = b.clone();
        c.netmask = 0xffff_ff00;
        assert!(!b.same_config(&c));
    }

    #[test]
    fn raw_roundtrips() {
        for f in [
            FwdMethod::Masq,
            FwdMethod::Local,
            FwdMethod::Tunnel,
            FwdMethod::Route,
            FwdMethod::Bypass,
        ] {
            assert_eq!(FwdMethod::from_raw(f.to_raw()), Some(f));
        }
        assert_eq!(FwdMethod::from_raw(0x103), Some(FwdMethod::Route));
        assert_eq!(FwdMethod::from_raw(5), None);
        for p in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
            assert_eq!(Protocol::from_number(p.number()), Some(p));
        }
        assert_eq!(Family::from_raw(10), Some(Family::Inet6));
        assert_eq!(
            Info {
                version: IP_VS_VERSION_CODE,
                conn_tab_size: 4096
            }
            .version_string(),
            "1.2.1"
        );
    }

    #[test]
    fn key_display() {
        let k = ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 53,
        };
        assert_eq!(k.to_string(), "UDP [2001:db8::1]:53");
        let f = ServiceKey::Fwmark {
            mark: 7,
            af: Family::Inet6,
        };
        assert_eq!(f.to_string(), "FWM 7 IPv6");
        assert_eq!(f.af(), Family::Inet6);
    }
}
