//! The engine's own configuration types. `lvsd` maps `lvs-config`'s keepalived.conf model into
//! these, so the engine never depends on the file format.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::{ProbeSpec, Timing};

/// IPVS service protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// TCP
    Tcp,
    /// UDP
    Udp,
    /// SCTP
    Sctp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        })
    }
}

/// Identity of a virtual server (keepalived's reload identity, §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VsKey {
    /// `virtual_server IP PORT` with its protocol.
    Addr {
        /// `protocol`
        protocol: Protocol,
        /// VIP
        addr: IpAddr,
        /// port (0 for a port-0 service)
        port: u16,
    },
    /// `virtual_server fwmark N`.
    Fwmark {
        /// the mark
        mark: u32,
        /// IPv6 family
        ipv6: bool,
    },
    /// `virtual_server group NAME`.
    Group {
        /// group name
        name: String,
        /// `protocol`
        protocol: Protocol,
    },
}

impl VsKey {
    /// The VIP, for an address-keyed virtual server.
    pub fn addr(&self) -> Option<IpAddr> {
        match self {
            Self::Addr { addr, .. } => Some(*addr),
            _ => None,
        }
    }
}

impl fmt::Display for VsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr {
                protocol,
                addr,
                port,
            } => write!(f, "{protocol} {}", SocketAddr::new(*addr, *port)),
            Self::Fwmark { mark, ipv6 } => {
                write!(f, "FWM {mark}{}", if *ipv6 { " IPv6" } else { "" })
            }
            Self::Group { name, protocol } => write!(f, "{protocol} group {name}"),
        }
    }
}

/// The engine's whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineConfig {
    /// Virtual servers, in file order.
    pub virtual_servers: Vec<VirtualServerCfg>,
    /// Each rescheduling after a full `delay_loop` is shortened by a random 0..jitter_permille‰
    /// of the loop, so that probes started together drift apart. 0 disables it.
    pub jitter_permille: u16,
    /// A probe with no result this long after its own timeout is reported as stalled.
    pub stall_grace: Duration,
    /// Timers fire up to this late, so that one wake-up of the driver serves all the timers
    /// of a slot (probe starts are batched). 0: every timer exactly when due.
    pub timer_slack: Duration,
}

/// One `virtual_server` block, as the checker logic sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServerCfg {
    /// Identity.
    pub key: VsKey,
    /// `quorum` (1).
    pub quorum: u64,
    /// `hysteresis` (0).
    pub hysteresis: u64,
    /// `quorum_up` script (argv).
    pub quorum_up: Option<Vec<String>>,
    /// `quorum_down` script (argv).
    pub quorum_down: Option<Vec<String>>,
    /// `sorry_server IP PORT`.
    pub sorry_server: Option<SocketAddr>,
    /// `sorry_server_inhibit`: the sorry server stays at weight 0 while quorum is up.
    pub sorry_server_inhibit: bool,
    /// `ha_suspend`: probes run only while the VIP is present locally.
    pub ha_suspend: bool,
    /// `omega`: run notify_down / quorum_down at shutdown.
    pub omega: bool,
    /// Real servers, in file order.
    pub real_servers: Vec<RealServerCfg>,
}

impl VirtualServerCfg {
    /// A virtual server with keepalived's defaults and no real servers.
    pub fn new(key: VsKey) -> Self {
        Self {
            key,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            sorry_server: None,
            sorry_server_inhibit: false,
            ha_suspend: false,
            omega: false,
            real_servers: Vec::new(),
        }
    }
}

/// One `real_server` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerCfg {
    /// Address and port.
    pub dest: SocketAddr,
    /// `weight` (VS `weight`, default 1).
    pub weight: u32,
    /// `inhibit_on_failure`: weight 0 instead of removal.
    pub inhibit_on_failure: bool,
    /// `notify_up` script (argv).
    pub notify_up: Option<Vec<String>>,
    /// `notify_down` script (argv).
    pub notify_down: Option<Vec<String>>,
    /// Checkers; the real server is up when all pass (none: always up).
    pub checkers: Vec<CheckerCfg>,
}

impl RealServerCfg {
    /// A real server with weight 1 and no checkers.
    pub fn new(dest: SocketAddr) -> Self {
        Self {
            dest,
            weight: 1,
            inhibit_on_failure: false,
            notify_up: None,
            notify_down: None,
            checkers: Vec::new(),
        }
    }
}

/// One checker of a real server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckerCfg {
    /// What to probe.
    pub spec: ProbeSpec,
    /// When.
    pub timing: Timing,
}
