//! Per-protocol connection state machines and timeout tables
//! (`ip_vs_proto_tcp.c`, `ip_vs_proto_udp.c`, `ip_vs_proto_sctp.c`).
//!
//! Times are milliseconds. The kernel stores jiffies; every default is a
//! whole number of seconds, so nothing is lost.

use serde::{Deserialize, Serialize};

/// IP protocol numbers as carried in connection entries.
pub const IPPROTO_IP: u8 = 0;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_SCTP: u8 = 132;

/// TCP states (`IP_VS_TCP_S_*`).
pub mod tcp {
    pub const NONE: u8 = 0;
    pub const ESTABLISHED: u8 = 1;
    pub const SYN_SENT: u8 = 2;
    pub const SYN_RECV: u8 = 3;
    pub const FIN_WAIT: u8 = 4;
    pub const TIME_WAIT: u8 = 5;
    pub const CLOSE: u8 = 6;
    pub const CLOSE_WAIT: u8 = 7;
    pub const LAST_ACK: u8 = 8;
    pub const LISTEN: u8 = 9;
    pub const SYNACK: u8 = 10;
    pub const LAST: u8 = 11;

    pub(crate) const NAMES: [&str; 12] = [
        "NONE",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "SYNACK",
        "BUG!",
    ];

    /// `tcp_timeouts[]` in seconds.
    pub(crate) const TIMEOUTS_S: [u32; 12] = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120, 2];

    /// `tcp_state_active_table`: SYN_SENT, SYN_RECV, SYNACK, ESTABLISHED.
    pub fn is_active(state: u8) -> bool {
        matches!(state, ESTABLISHED | SYN_SENT | SYN_RECV | SYNACK)
    }

    // Shorthands for the tables below (column order NO ES SS SR FW TW CL CW LA LI SA).
    const ES: u8 = ESTABLISHED;
    const SS: u8 = SYN_SENT;
    const SR: u8 = SYN_RECV;
    const FW: u8 = FIN_WAIT;
    const TW: u8 = TIME_WAIT;
    const CL: u8 = CLOSE;
    const CW: u8 = CLOSE_WAIT;
    const LA: u8 = LAST_ACK;
    const LI: u8 = LISTEN;
    const SA: u8 = SYNACK;

    /// `tcp_states`: rows = direction offset (INPUT 0, OUTPUT 4, INPUT_ONLY 8) + event
    /// (syn 0, fin 1, ack 2, rst 3); columns = current state.
    pub(crate) const STATES: [[u8; 11]; 12] = [
        // INPUT
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
        // OUTPUT
        [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
        // INPUT_ONLY
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ];

    /// `tcp_states_dos` (used while `secure_tcp` is in effect).
    pub(crate) const STATES_DOS: [[u8; 11]; 12] = [
        // INPUT
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
        [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
        // OUTPUT
        [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
        // INPUT_ONLY
        [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ];
}

/// UDP: one state, `IP_VS_UDP_S_NORMAL`, printed as `UDP`.
pub mod udp {
    pub const NORMAL: u8 = 0;
    pub(crate) const TIMEOUT_S: u32 = 300;
}

/// SCTP states (`IP_VS_SCTP_S_*`) and events.
pub mod sctp {
    pub const NONE: u8 = 0;
    pub const INIT1: u8 = 1;
    pub const INIT: u8 = 2;
    pub const COOKIE_SENT: u8 = 3;
    pub const COOKIE_REPLIED: u8 = 4;
    pub const COOKIE_WAIT: u8 = 5;
    pub const COOKIE: u8 = 6;
    pub const COOKIE_ECHOED: u8 = 7;
    pub const ESTABLISHED: u8 = 8;
    pub const SHUTDOWN_SENT: u8 = 9;
    pub const SHUTDOWN_RECEIVED: u8 = 10;
    pub const SHUTDOWN_ACK_SENT: u8 = 11;
    pub const REJECTED: u8 = 12;
    pub const CLOSED: u8 = 13;
    pub const LAST: u8 = 14;

    pub(crate) const NAMES: [&str; 15] = [
        "NONE",
        "INIT1",
        "INIT",
        "C-SENT",
        "C-REPLIED",
        "C-WAIT",
        "COOKIE",
        "C-ECHOED",
        "ESTABLISHED",
        "S-SENT",
        "S-RECEIVED",
        "S-ACK-SENT",
        "REJECTED",
        "CLOSED",
        "BUG!",
    ];

    /// `sctp_timeouts[]` in seconds (MAX_RTO = 61 s).
    pub(crate) const TIMEOUTS_S: [u32; 15] =
        [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61, 2];

    /// Chunk types (RFC 9260).
    pub const CID_DATA: u8 = 0;
    pub const CID_INIT: u8 = 1;
    pub const CID_INIT_ACK: u8 = 2;
    pub const CID_ABORT: u8 = 6;
    pub const CID_SHUTDOWN: u8 = 7;
    pub const CID_SHUTDOWN_ACK: u8 = 8;
    pub const CID_ERROR: u8 = 9;
    pub const CID_COOKIE_ECHO: u8 = 10;
    pub const CID_COOKIE_ACK: u8 = 11;
    pub const CID_SHUTDOWN_COMPLETE: u8 = 14;

    /// `sctp_events[]`: chunk type → event index
    /// (DATA 0, INIT 1, INIT_ACK 2, COOKIE_ECHO 3, COOKIE_ACK 4, SHUTDOWN 5,
    /// SHUTDOWN_ACK 6, SHUTDOWN_COMPLETE 7, ERROR 8, ABORT 9).
    pub(crate) fn event(chunk: u8) -> usize {
        match chunk {
            CID_INIT => 1,
            CID_INIT_ACK => 2,
            CID_COOKIE_ECHO => 3,
            CID_COOKIE_ACK => 4,
            CID_SHUTDOWN => 5,
            CID_SHUTDOWN_ACK => 6,
            CID_SHUTDOWN_COMPLETE => 7,
            CID_ERROR => 8,
            CID_ABORT => 9,
            _ => 0,
        }
    }

    const I1: u8 = INIT1;
    const IN: u8 = INIT;
    const CS: u8 = COOKIE_SENT;
    const CR: u8 = COOKIE_REPLIED;
    const CW: u8 = COOKIE_WAIT;
    const CO: u8 = COOKIE;
    const CE: u8 = COOKIE_ECHOED;
    const ES: u8 = ESTABLISHED;
    const SS: u8 = SHUTDOWN_SENT;
    const SR: u8 = SHUTDOWN_RECEIVED;
    const SA: u8 = SHUTDOWN_ACK_SENT;
    const RJ: u8 = REJECTED;
    const CL: u8 = CLOSED;

    /// `sctp_states[direction][event][state]`, direction INPUT 0, OUTPUT 1, INPUT_ONLY 2.
    pub(crate) const STATES: [[[u8; 14]; 10]; 3] = [
        [
            [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            [I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN],
            [CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL],
            [CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            [ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL],
            [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
            [CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL],
            [CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL],
            [CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL],
            [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
        ],
        [
            [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            [CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW],
            [CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            [CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL],
            [ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL],
            [SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL],
            [SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL],
            [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            [CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL],
        ],
        [
            [ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
            [I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN],
            [CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL],
            [ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
            [ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL],
            [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
            [CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL],
            [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL],
            [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
        ],
    ];
}

/// Per-protocol state timeout tables in milliseconds (`pd->timeout_table`),
/// defaults as the kernel's; `ipvsadm --set` / `lvs_timeouts` changes
/// TCP ESTABLISHED, TCP FIN_WAIT and UDP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutTable {
    pub tcp: [u32; 12],
    pub udp: u32,
    pub sctp: [u32; 15],
}

impl Default for TimeoutTable {
    fn default() -> Self {
        TimeoutTable {
            tcp: tcp::TIMEOUTS_S.map(|s| s * 1000),
            udp: udp::TIMEOUT_S * 1000,
            sctp: sctp::TIMEOUTS_S.map(|s| s * 1000),
        }
    }
}

impl TimeoutTable {
    /// `ip_vs_set_timeout`: seconds, 0 = unchanged.
    pub fn set(&mut self, tcp_s: u32, tcp_fin_s: u32, udp_s: u32) {
        if tcp_s != 0 {
            self.tcp[tcp::ESTABLISHED as usize] = tcp_s.saturating_mul(1000);
        }
        if tcp_fin_s != 0 {
            self.tcp[tcp::FIN_WAIT as usize] = tcp_fin_s.saturating_mul(1000);
        }
        if udp_s != 0 {
            self.udp = udp_s.saturating_mul(1000);
        }
    }

    /// The three user-visible values in seconds (tcp, tcpfin, udp).
    pub fn get(&self) -> (u32, u32, u32) {
        (
            self.tcp[tcp::ESTABLISHED as usize] / 1000,
            self.tcp[tcp::FIN_WAIT as usize] / 1000,
            self.udp / 1000,
        )
    }
}

/// The name the kernel prints for a (non-template) connection state.
pub fn state_name(proto: u8, state: u8) -> &'static str {
    match proto {
        IPPROTO_TCP => tcp::NAMES.get(state as usize).copied().unwrap_or("ERR!"),
        IPPROTO_UDP => "UDP",
        IPPROTO_SCTP => sctp::NAMES.get(state as usize).copied().unwrap_or("ERR!"),
        _ => "ERR!",
    }
}

/// The protocol name as `/proc/net/ip_vs_conn` prints it.
pub fn proto_name(proto: u8) -> String {
    match proto {
        IPPROTO_TCP => "TCP".into(),
        IPPROTO_UDP => "UDP".into(),
        IPPROTO_SCTP => "SCTP".into(),
        IPPROTO_IP => "IP".into(),
        1 => "ICMP".into(),
        n => format!("IP_{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dr_lifecycle_uses_input_only_table() {
        // SYN on NONE -> SYN_RECV, ACK -> ESTABLISHED, FIN -> FIN_WAIT, ACK stays.
        let t = &tcp::STATES;
        let s = t[8][tcp::NONE as usize];
        assert_eq!(s, tcp::SYN_RECV);
        let s = t[8 + 2][s as usize];
        assert_eq!(s, tcp::ESTABLISHED);
        let s = t[8 + 1][s as usize];
        assert_eq!(s, tcp::FIN_WAIT);
        assert_eq!(t[8 + 2][s as usize], tcp::FIN_WAIT);
        // Same FIN through the full INPUT table goes to CLOSE_WAIT (NAT).
        assert_eq!(t[1][tcp::ESTABLISHED as usize], tcp::CLOSE_WAIT);
    }

    #[test]
    fn timeouts_set_only_three_values() {
        let mut tt = TimeoutTable::default();
        tt.set(5, 3, 0);
        assert_eq!(tt.get(), (5, 3, 300));
        assert_eq!(tt.tcp[tcp::SYN_RECV as usize], 60_000);
        assert_eq!(state_name(IPPROTO_SCTP, sctp::COOKIE_ECHOED), "C-ECHOED");
        assert_eq!(proto_name(0), "IP");
    }
}
