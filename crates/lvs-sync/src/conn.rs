//! The validated value of one sync entry: everything a table needs to insert a
//! connection or a persistence template.

use std::net::IpAddr;

use serde::Serialize;

use crate::consts::flags::{IP_VS_CONN_F_SEQ_MASK, IP_VS_CONN_F_TEMPLATE};

/// `struct ip_vs_seq`: TCP sequence adjustment (FTP NAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize)]
pub struct IpVsSeq {
    /// Add delta from this sequence number.
    pub init_seq: u32,
    /// Delta in sequence numbers.
    pub delta: u32,
    /// Delta before the last resized packet.
    pub previous_delta: u32,
}

/// `struct ip_vs_sync_conn_options`: in and out sequence adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize)]
pub struct SeqOpts {
    /// Incoming direction.
    pub in_seq: IpVsSeq,
    /// Outgoing direction.
    pub out_seq: IpVsSeq,
}

/// One connection or template entry of a sync message.
///
/// Ports are host-order numbers here (the wire carries them in network order).
/// All three addresses have the same family. For fwmark templates `protocol`
/// is 0 (`IPPROTO_IP`) and `vaddr` holds the mark as an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SyncConn {
    /// IP protocol number (6 TCP, 17 UDP, 132 SCTP, 0 for fwmark templates).
    pub protocol: u8,
    /// Client address (templates: the client network, `caddr & netmask`).
    pub caddr: IpAddr,
    /// Client port (templates: 0).
    pub cport: u16,
    /// Virtual address.
    pub vaddr: IpAddr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address.
    pub daddr: IpAddr,
    /// Real server port.
    pub dport: u16,
    /// `cp->flags` (`IP_VS_CONN_F_*`); v0 carries only the low 16 bits.
    pub flags: u32,
    /// Protocol state (`IP_VS_TCP_S_*`, …) or template state (`IP_VS_CTPL_S_*`).
    pub state: u16,
    /// Firewall mark (v1 only; 0 in v0).
    pub fwmark: u32,
    /// Timeout in seconds (v1 only; 0 in v0, meaning "the backup's default").
    pub timeout: u32,
    /// Sequence adjustment (sent when `flags & IP_VS_CONN_F_SEQ_MASK`).
    pub seq: Option<SeqOpts>,
    /// Persistence-engine data (v1 `IPVS_OPT_PE_DATA`, ≤ 255 bytes).
    pub pe_data: Option<Vec<u8>>,
    /// Persistence-engine name (v1 `IPVS_OPT_PE_NAME`, ≤ 16 bytes, e.g. `sip`).
    pub pe_name: Option<Vec<u8>>,
}

impl SyncConn {
    /// Is this a persistence template (`IP_VS_CONN_F_TEMPLATE`)?
    pub fn is_template(&self) -> bool {
        self.flags & IP_VS_CONN_F_TEMPLATE != 0
    }

    /// Does it carry sequence adjustment flags?
    pub fn has_seq_flags(&self) -> bool {
        self.flags & IP_VS_CONN_F_SEQ_MASK != 0
    }

    /// Is this an IPv6 entry?
    pub fn is_ipv6(&self) -> bool {
        self.caddr.is_ipv6()
    }

    /// The PE name as text (lossy for non-UTF-8 bytes).
    pub fn pe_name_str(&self) -> Option<String> {
        self.pe_name
            .as_deref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
    }

    /// The identity a table looks the entry up by: connections by
    /// (protocol, caddr, cport, vaddr, vport), templates the same plus the
    /// template bit and the PE data (`ip_vs_conn_in_get` / `ip_vs_ct_in_get`).
    pub fn key(&self) -> ConnKey {
        ConnKey {
            template: self.is_template(),
            protocol: self.protocol,
            caddr: self.caddr,
            cport: self.cport,
            vaddr: self.vaddr,
            vport: self.vport,
            pe_data: if self.is_template() {
                self.pe_data.clone()
            } else {
                None
            },
        }
    }
}

/// Lookup identity of an entry (see [`SyncConn::key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ConnKey {
    /// Template entry?
    pub template: bool,
    /// IP protocol.
    pub protocol: u8,
    /// Client address / network.
    pub caddr: IpAddr,
    /// Client port.
    pub cport: u16,
    /// Virtual address (or fwmark).
    pub vaddr: IpAddr,
    /// Virtual port.
    pub vport: u16,
    /// PE data of templates (SIP Call-ID).
    pub pe_data: Option<Vec<u8>>,
}
