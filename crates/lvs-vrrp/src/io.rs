//! Inputs to and actions from the engine. Both are plain serde enums so a
//! live instance's inputs can be recorded to JSONL and replayed, and the
//! golden conformance tests compare actions as JSON.

use std::net::IpAddr;

use lvs_wire::Family;
use serde::{Deserialize, Serialize};

use crate::config::Vip;

/// A received VRRP packet as the driver got it from the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RxPacket {
    /// IPv4 raw socket: the whole datagram, IP header included.
    Ipv4 {
        /// Receiving interface.
        interface: String,
        /// Datagram bytes.
        #[serde(with = "hex_bytes")]
        data: Vec<u8>,
    },
    /// IPv6 raw socket: the VRRP message; addresses and hop limit from
    /// ancillary data.
    Ipv6 {
        /// Receiving interface.
        interface: String,
        /// IPv6 source.
        src: IpAddr,
        /// IPv6 destination (from IPV6_PKTINFO).
        dst: IpAddr,
        /// Hop limit (from IPV6_HOPLIMIT).
        hop_limit: u8,
        /// VRRP message bytes.
        #[serde(with = "hex_bytes")]
        data: Vec<u8>,
    },
}

/// Every input the engine accepts (timeouts are implicit: call
/// `handle_timeout` when `poll_timeout` is due).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// Leave INIT (daemon start).
    Start,
    /// A packet from a VRRP socket.
    Packet(RxPacket),
    /// Link state of an interface changed (rtnetlink).
    Link {
        /// Interface name.
        interface: String,
        /// Operational state up.
        up: bool,
    },
    /// A `vrrp_script` run finished (exit 0 = `ok`; a timeout is a failure).
    Script {
        /// Script name.
        name: String,
        /// Success.
        ok: bool,
    },
    /// A `track_file` was (re)read.
    File {
        /// Track file name.
        name: String,
        /// The integer it contains (unreadable / garbage = 0, as keepalived).
        value: i64,
    },
    /// Orderly shutdown (SIGTERM).
    Shutdown,
}

/// VRRP instance state (keepalived numbering: INIT 0, BACKUP 1, MASTER 2,
/// FAULT 3, STOP 98).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Not started.
    Init,
    /// Backup.
    Backup,
    /// Master.
    Master,
    /// Fault.
    Fault,
    /// Stopped (shutdown).
    Stop,
}

impl State {
    /// The word keepalived passes to `notify` scripts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Init => "INIT",
            Self::Backup => "BACKUP",
            Self::Master => "MASTER",
            Self::Fault => "FAULT",
            Self::Stop => "STOP",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a notification is about an instance or a sync group (the first
/// argument keepalived appends for `notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotifyKind {
    /// `INSTANCE`
    Instance,
    /// `GROUP`
    Group,
}

/// Something the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send an advertisement.
    SendAdvert {
        /// Instance name.
        instance: String,
        /// Interface to send on.
        interface: String,
        /// Family (selects the socket).
        family: Family,
        /// Source address (IPv6: set with IPV6_PKTINFO; IPv4: in `data`).
        src: IpAddr,
        /// Destination (group or unicast peer).
        dst: IpAddr,
        /// Priority carried (0 = leaving).
        priority: u8,
        /// IPv4: whole datagram for an `IP_HDRINCL` socket. IPv6: VRRP
        /// message (hop limit 255 and TCLASS 0xc0 are socket options).
        #[serde(with = "hex_bytes")]
        data: Vec<u8>,
    },
    /// Configure virtual addresses.
    AddVips {
        /// Instance name.
        instance: String,
        /// Default interface.
        interface: String,
        /// Addresses (VIPs then eVIPs).
        vips: Vec<Vip>,
        /// Only these addresses changed on a reload of a MASTER (the
        /// instance's routes and rules stay as they are).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reload: bool,
    },
    /// Remove virtual addresses (absent ones are not an error).
    DelVips {
        /// Instance name.
        instance: String,
        /// Default interface.
        interface: String,
        /// Addresses.
        vips: Vec<Vip>,
        /// Only these addresses were removed on a reload of a MASTER.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reload: bool,
    },
    /// A burst of gratuitous ARPs (IPv4) / unsolicited NAs (IPv6): `count`
    /// rounds over `addrs`.
    Gratuitous {
        /// Instance name.
        instance: String,
        /// Default interface.
        interface: String,
        /// Addresses to announce (with their device).
        vips: Vec<Vip>,
        /// Rounds.
        count: u32,
    },
    /// A state transition to report (`notify_*`, `notify`, notify FIFO).
    Notify {
        /// INSTANCE or GROUP.
        kind: NotifyKind,
        /// Name.
        name: String,
        /// New state.
        state: State,
        /// Effective priority (0 for groups, as keepalived).
        priority: u8,
    },
    /// As MASTER, an advert with lower priority was received
    /// (`notify_master_rx_lower_pri`).
    MasterRxLowerPri {
        /// Instance name.
        instance: String,
        /// The sender.
        from: IpAddr,
        /// Its priority.
        priority: u8,
    },
}

/// `Vec<u8>` as a lowercase hex string in JSON.
pub mod hex_bytes {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    /// Encode.
    pub fn encode(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Decode (whitespace ignored).
    pub fn decode(s: &str) -> Option<Vec<u8>> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if !s.len().is_multiple_of(2) {
            return None;
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
            .collect()
    }

    /// serde serialize.
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(b))
    }

    /// serde deserialize.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).ok_or_else(|| D::Error::custom("invalid hex string"))
    }
}
