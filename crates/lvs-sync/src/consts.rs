//! Constants from `include/net/ip_vs.h`, `include/uapi/linux/ip_vs.h` and
//! `net/netfilter/ipvs/ip_vs_sync.c`, under their kernel names.

use std::net::Ipv4Addr;

/// Default multicast group `IP_VS_SYNC_GROUP` (224.0.0.81).
pub const IP_VS_SYNC_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// Default UDP port `IP_VS_SYNC_PORT`.
pub const IP_VS_SYNC_PORT: u16 = 8848;
/// `SYNC_PROTO_VER`: the version byte of a v1 message header.
pub const SYNC_PROTO_VER: i8 = 1;

/// Connection flags (`cp->flags`).
pub mod flags {
    /// Forwarding method mask.
    pub const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;
    /// NAT.
    pub const IP_VS_CONN_F_MASQ: u32 = 0x0000;
    /// Local node.
    pub const IP_VS_CONN_F_LOCALNODE: u32 = 0x0001;
    /// IP-IP tunnel.
    pub const IP_VS_CONN_F_TUNNEL: u32 = 0x0002;
    /// Direct routing.
    pub const IP_VS_CONN_F_DROUTE: u32 = 0x0003;
    /// Cache bypass.
    pub const IP_VS_CONN_F_BYPASS: u32 = 0x0004;
    /// Created by sync (on the backup).
    pub const IP_VS_CONN_F_SYNC: u32 = 0x0020;
    /// Hashed in the connection table (never sent).
    pub const IP_VS_CONN_F_HASHED: u32 = 0x0040;
    /// No reply packet seen yet.
    pub const IP_VS_CONN_F_NOOUTPUT: u32 = 0x0080;
    /// Counted as inactive.
    pub const IP_VS_CONN_F_INACTIVE: u32 = 0x0100;
    /// Outgoing sequence adjustment.
    pub const IP_VS_CONN_F_OUT_SEQ: u32 = 0x0200;
    /// Incoming sequence adjustment.
    pub const IP_VS_CONN_F_IN_SEQ: u32 = 0x0400;
    /// Both sequence adjustment flags.
    pub const IP_VS_CONN_F_SEQ_MASK: u32 = 0x0600;
    /// Client port not known yet (FTP).
    pub const IP_VS_CONN_F_NO_CPORT: u32 = 0x0800;
    /// Persistence template.
    pub const IP_VS_CONN_F_TEMPLATE: u32 = 0x1000;
    /// One-packet scheduling.
    pub const IP_VS_CONN_F_ONE_PACKET: u32 = 0x2000;
    /// Uses netfilter conntrack.
    pub const IP_VS_CONN_F_NFCT: u32 = 1 << 16;
    /// Flags a backup keeps from a sync message.
    pub const IP_VS_CONN_F_BACKUP_MASK: u32 = IP_VS_CONN_F_FWD_MASK
        | IP_VS_CONN_F_NOOUTPUT
        | IP_VS_CONN_F_INACTIVE
        | IP_VS_CONN_F_SEQ_MASK
        | IP_VS_CONN_F_NO_CPORT
        | IP_VS_CONN_F_TEMPLATE;
    /// Flags a backup updates on an existing entry.
    pub const IP_VS_CONN_F_BACKUP_UPD_MASK: u32 = IP_VS_CONN_F_INACTIVE | IP_VS_CONN_F_SEQ_MASK;
}

/// v1 entry options (`IPVS_OPT_*`).
pub mod opt {
    /// Sequence adjustment data (in_seq, out_seq).
    pub const IPVS_OPT_SEQ_DATA: u8 = 1;
    /// Persistence engine data (e.g. SIP Call-ID).
    pub const IPVS_OPT_PE_DATA: u8 = 2;
    /// Persistence engine name (e.g. `sip`).
    pub const IPVS_OPT_PE_NAME: u8 = 3;
    /// Bit marking an option as optional: unknown optional options are skipped,
    /// unknown mandatory ones make the backup drop the entry.
    pub const IPVS_OPT_F_PARAM: u8 = 0x40;
    /// `IP_VS_PEDATA_MAXLEN`.
    pub const IP_VS_PEDATA_MAXLEN: usize = 255;
    /// `IP_VS_PENAME_MAXLEN`.
    pub const IP_VS_PENAME_MAXLEN: usize = 16;
}

/// IP protocol numbers IPVS knows (`ip_vs_proto_get`).
pub mod proto {
    /// `IPPROTO_IP`: fwmark templates.
    pub const IPPROTO_IP: u8 = 0;
    /// TCP.
    pub const IPPROTO_TCP: u8 = 6;
    /// UDP.
    pub const IPPROTO_UDP: u8 = 17;
    /// ESP.
    pub const IPPROTO_ESP: u8 = 50;
    /// AH.
    pub const IPPROTO_AH: u8 = 51;
    /// SCTP.
    pub const IPPROTO_SCTP: u8 = 132;

    /// Number of states of an IPVS protocol (`pp->num_states`), or `None` if
    /// IPVS has no such protocol (the backup then drops non-template entries).
    pub fn num_states(protocol: u8) -> Option<u16> {
        match protocol {
            IPPROTO_TCP => Some(super::tcp::IP_VS_TCP_S_LAST),
            IPPROTO_UDP => Some(1),
            IPPROTO_SCTP => Some(super::sctp::IP_VS_SCTP_S_LAST),
            IPPROTO_AH | IPPROTO_ESP => Some(1),
            _ => None,
        }
    }
}

/// TCP states (`IP_VS_TCP_S_*`).
pub mod tcp {
    /// NONE.
    pub const IP_VS_TCP_S_NONE: u16 = 0;
    /// ESTABLISHED.
    pub const IP_VS_TCP_S_ESTABLISHED: u16 = 1;
    /// SYN_SENT.
    pub const IP_VS_TCP_S_SYN_SENT: u16 = 2;
    /// SYN_RECV.
    pub const IP_VS_TCP_S_SYN_RECV: u16 = 3;
    /// FIN_WAIT.
    pub const IP_VS_TCP_S_FIN_WAIT: u16 = 4;
    /// TIME_WAIT.
    pub const IP_VS_TCP_S_TIME_WAIT: u16 = 5;
    /// CLOSE.
    pub const IP_VS_TCP_S_CLOSE: u16 = 6;
    /// CLOSE_WAIT.
    pub const IP_VS_TCP_S_CLOSE_WAIT: u16 = 7;
    /// LAST_ACK.
    pub const IP_VS_TCP_S_LAST_ACK: u16 = 8;
    /// LISTEN.
    pub const IP_VS_TCP_S_LISTEN: u16 = 9;
    /// SYNACK.
    pub const IP_VS_TCP_S_SYNACK: u16 = 10;
    /// Number of states.
    pub const IP_VS_TCP_S_LAST: u16 = 11;
    /// Default `tcp_timeouts[]` in seconds, indexed by state.
    pub const DEFAULT_TIMEOUTS: [u32; 11] = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];
}

/// SCTP states (`IP_VS_SCTP_S_*`).
pub mod sctp {
    /// NONE.
    pub const IP_VS_SCTP_S_NONE: u16 = 0;
    /// ESTABLISHED.
    pub const IP_VS_SCTP_S_ESTABLISHED: u16 = 8;
    /// SHUTDOWN_SENT.
    pub const IP_VS_SCTP_S_SHUTDOWN_SENT: u16 = 9;
    /// SHUTDOWN_RECEIVED.
    pub const IP_VS_SCTP_S_SHUTDOWN_RECEIVED: u16 = 10;
    /// SHUTDOWN_ACK_SENT.
    pub const IP_VS_SCTP_S_SHUTDOWN_ACK_SENT: u16 = 11;
    /// REJECTED.
    pub const IP_VS_SCTP_S_REJECTED: u16 = 12;
    /// CLOSED.
    pub const IP_VS_SCTP_S_CLOSED: u16 = 13;
    /// Number of states.
    pub const IP_VS_SCTP_S_LAST: u16 = 14;
    /// Default `sctp_timeouts[]` in seconds, indexed by state (NONE, INIT1,
    /// INIT, COOKIE_SENT, COOKIE_REPLIED, COOKIE_WAIT, COOKIE, COOKIE_ECHOED,
    /// ESTABLISHED, SHUTDOWN_SENT, SHUTDOWN_RECEIVED, SHUTDOWN_ACK_SENT,
    /// REJECTED, CLOSED).
    pub const DEFAULT_TIMEOUTS: [u32; 14] = [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61];
}

/// Template states (`IP_VS_CTPL_S_*`).
pub mod ctpl {
    /// No controlled connection got established yet.
    pub const IP_VS_CTPL_S_NONE: u16 = 0;
    /// A controlled connection reached ESTABLISHED (or a UDP reply was seen).
    pub const IP_VS_CTPL_S_ASSURED: u16 = 1;
    /// Number of template states.
    pub const IP_VS_CTPL_S_LAST: u16 = 2;
}
