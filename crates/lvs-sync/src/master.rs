//! The master side: which connections to sync and when
//! (`ip_vs_sync_conn`, `ip_vs_sync_conn_needed`), and packing the entries
//! into `maxlen`-sized messages (`ip_vs_sync_buff_create*`, `sb_queue_tail`,
//! `get_curr_sync_buff`).
//!
//! The connection table stays with the engine: each connection carries a
//! [`ConnSyncState`] (the kernel's `sync_endtime`, `old_state` and `in_pkts`),
//! and the engine calls [`SyncMaster::sync_conn`] after every forwarded
//! packet with the connection and its controllers (`cp->control` chain), and
//! from the 60 s `expire_later` path of a template that still controls
//! connections (with `pkts = sync_threshold`). Datagrams come out of
//! [`SyncMaster::poll_transmit`].
//!
//! Time is milliseconds (HZ = 1000 semantics): `sync_endtime` keeps the
//! retry count in its 2 low bits exactly as the kernel does with jiffies.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use crate::conn::SyncConn;
use crate::consts::flags::{
    IP_VS_CONN_F_HASHED, IP_VS_CONN_F_ONE_PACKET, IP_VS_CONN_F_SEQ_MASK, IP_VS_CONN_F_TEMPLATE,
};
use crate::wire::{entry_len_v0, entry_len_v1, MessageBuf, Version, V0_HDR_LEN, V1_HDR_LEN};
use crate::Error;

/// `IPVS_SYNC_FLUSH_TIME`: a partly filled message is sent once it is this old.
pub const IPVS_SYNC_FLUSH_TIME: Duration = Duration::from_secs(2);

/// Master tunables: the `net.ipv4.vs.sync_*` sysctls and the daemon's
/// `syncid` / `maxlen`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncParams {
    /// `sync_version` (default 1).
    pub version: Version,
    /// SyncID stamped on every message (default 0).
    pub syncid: u8,
    /// Maximum message length (UDP payload); default 1472 (1500 − IPv4 − UDP).
    pub maxlen: u16,
    /// `sync_threshold[0]` (default 3).
    pub sync_threshold: u32,
    /// `sync_threshold[1]`, the period (default 50; 0 = sync once).
    pub sync_period: u32,
    /// `sync_refresh_period` (default 0 = off).
    pub sync_refresh_period: Duration,
    /// `sync_retries` (0..=3, default 0).
    pub sync_retries: u32,
    /// `sync_persist_mode` (default off): sync only templates of persistent services.
    pub sync_persist_mode: bool,
    /// `sync_qlen_max`: messages queued before new ones are dropped.
    pub sync_qlen_max: usize,
}

impl Default for SyncParams {
    fn default() -> Self {
        SyncParams {
            version: Version::V1,
            syncid: 0,
            maxlen: 1472,
            sync_threshold: 3,
            sync_period: 50,
            sync_refresh_period: Duration::ZERO,
            sync_retries: 0,
            sync_persist_mode: false,
            sync_qlen_max: 4096,
        }
    }
}

/// Per-connection sync bookkeeping the kernel keeps in `struct ip_vs_conn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ConnSyncState {
    /// `sync_endtime` in ms; the 2 low bits count retries.
    pub sync_endtime: u64,
    /// State at the last sync (`old_state`).
    pub old_state: u16,
    /// Inbound packet counter (`in_pkts`); the master increments it for
    /// templates, the engine for the connection that saw the packet.
    pub in_pkts: u32,
}

impl ConnSyncState {
    /// The state of a connection created at `now` (`ip_vs_conn_new`:
    /// `sync_endtime = jiffies & ~3`).
    pub fn new(now: Duration) -> Self {
        ConnSyncState {
            sync_endtime: ms(now) & !3,
            old_state: 0,
            in_pkts: 0,
        }
    }
}

/// One element of a connection's control chain: the connection itself first,
/// then `cp->control`, its controller, …
#[derive(Debug)]
pub struct ChainLink<'a> {
    /// The entry as it would be sent (`timeout` = current timeout in seconds).
    pub conn: &'a SyncConn,
    /// Its sync bookkeeping.
    pub st: &'a mut ConnSyncState,
}

/// Counters of a [`SyncMaster`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MasterStats {
    /// Entries put into messages.
    pub entries: u64,
    /// Messages completed (queued).
    pub messages: u64,
    /// Messages dropped because the queue was full (`sync_qlen_max`).
    pub dropped: u64,
}

#[derive(Debug)]
struct CurBuf {
    msg: MessageBuf,
    end: usize,
    firstuse: Duration,
}

/// The master's message builder and send queue.
#[derive(Debug)]
pub struct SyncMaster {
    params: SyncParams,
    cur: Option<CurBuf>,
    queue: VecDeque<Vec<u8>>,
    stats: MasterStats,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// `ip_vs_sync_conn_needed`: should this entry be sent now? Updates `st`
/// (`old_state`, `sync_endtime`) when it returns true. The rules are the
/// engine's ([`lvs_ipvs::sync::sync_conn_needed`], which the built-in data
/// plane runs per packet).
pub fn sync_conn_needed(
    p: &SyncParams,
    now: Duration,
    c: &SyncConn,
    st: &mut ConnSyncState,
    pkts: u32,
    in_persistence: bool,
) -> bool {
    let check = lvs_ipvs::sync::SyncCheck {
        protocol: c.protocol,
        state: c.state,
        template: c.flags & IP_VS_CONN_F_TEMPLATE != 0,
        timeout_ms: u64::from(c.timeout) * 1000,
        in_persistence,
        pkts,
    };
    let mut mark = lvs_ipvs::sync::SyncMark {
        sync_endtime: st.sync_endtime,
        old_state: st.old_state,
    };
    if !lvs_ipvs::sync::sync_conn_needed(&p.rules(), ms(now), &check, &mut mark) {
        return false;
    }
    st.sync_endtime = mark.sync_endtime;
    st.old_state = mark.old_state;
    true
}

impl SyncParams {
    /// The engine's per-packet rules with these tunables.
    pub fn rules(&self) -> lvs_ipvs::sync::SyncRules {
        lvs_ipvs::sync::SyncRules {
            threshold: self.sync_threshold,
            period: self.sync_period,
            refresh_period_ms: ms(self.sync_refresh_period),
            retries: self.sync_retries,
            persist_mode: self.sync_persist_mode,
            v0: self.version == Version::V0,
            // Entries: about as many as sync_qlen_max full v1 messages hold.
            queue_max: self.sync_qlen_max.saturating_mul(40),
        }
    }
}

impl SyncMaster {
    /// A master with these tunables.
    pub fn new(params: SyncParams) -> Self {
        SyncMaster {
            params,
            cur: None,
            queue: VecDeque::new(),
            stats: MasterStats::default(),
        }
    }

    /// The tunables.
    pub fn params(&self) -> &SyncParams {
        &self.params
    }

    /// Change the tunables (sysctl writes). A version change takes effect
    /// with the next entry, which starts a new message as in the kernel.
    pub fn set_params(&mut self, params: SyncParams) {
        self.params = params;
    }

    /// Counters.
    pub fn stats(&self) -> MasterStats {
        self.stats
    }

    /// `ip_vs_sync_conn(cp, pkts)`: `chain[0]` is the connection that saw a
    /// packet (`pkts` = its incremented `in_pkts`, or `sync_threshold` for
    /// one-packet connections), `chain[1..]` its controllers. Returns the
    /// number of entries added.
    pub fn sync_conn(&mut self, now: Duration, chain: &mut [ChainLink<'_>], pkts: u32) -> usize {
        if chain.is_empty() {
            return 0;
        }
        if self.params.version == Version::V0 {
            return self.sync_conn_v0(now, chain, pkts);
        }
        let mut added = 0;
        let mut pkts = pkts;
        let mut i = 0;
        // Do not sync ONE PACKET connections (their controllers still are).
        let mut skip = chain[0].conn.flags & IP_VS_CONN_F_ONE_PACKET != 0;
        loop {
            if !skip {
                let in_persistence = chain[i + 1..].iter().any(|l| l.conn.is_template());
                let link = &mut chain[i];
                if sync_conn_needed(&self.params, now, link.conn, link.st, pkts, in_persistence)
                    && self.push(now, link.conn)
                {
                    added += 1;
                }
            }
            skip = false;
            // control:
            i += 1;
            if i >= chain.len() {
                break;
            }
            pkts = self.controller_pkts(&mut chain[i]);
        }
        added
    }

    fn controller_pkts(&self, link: &mut ChainLink<'_>) -> u32 {
        if link.conn.is_template() {
            link.st.in_pkts = link.st.in_pkts.wrapping_add(1);
            link.st.in_pkts
        } else {
            self.params.sync_threshold
        }
    }

    /// `ip_vs_sync_conn_v0`: IPv4 only; a one-packet or not-yet-due entry
    /// ends the walk (its controllers are not synced either).
    fn sync_conn_v0(&mut self, now: Duration, chain: &mut [ChainLink<'_>], pkts: u32) -> usize {
        let mut added = 0;
        let mut pkts = pkts;
        let mut i = 0;
        loop {
            let in_persistence = chain[i + 1..].iter().any(|l| l.conn.is_template());
            let link = &mut chain[i];
            if link.conn.is_ipv6() || link.conn.flags & IP_VS_CONN_F_ONE_PACKET != 0 {
                return added;
            }
            if !sync_conn_needed(&self.params, now, link.conn, link.st, pkts, in_persistence) {
                return added;
            }
            if self.push(now, link.conn) {
                added += 1;
            }
            i += 1;
            if i >= chain.len() {
                return added;
            }
            pkts = self.controller_pkts(&mut chain[i]);
        }
    }

    /// The entry as the kernel puts it on the wire: HASHED cleared, sequence
    /// data exactly when IN_SEQ/OUT_SEQ is set; v0: 16 flag bits, no PE.
    fn wire_conn<'c>(&self, c: &'c SyncConn) -> std::borrow::Cow<'c, SyncConn> {
        let v0 = self.params.version == Version::V0;
        let mut flags = c.flags & !IP_VS_CONN_F_HASHED;
        if v0 {
            flags &= 0xffff;
        }
        let seq_ok = (flags & IP_VS_CONN_F_SEQ_MASK != 0) == c.seq.is_some();
        let pe_bad =
            (c.pe_name.is_some() && (v0 || c.pe_data.is_none())) || (v0 && c.pe_data.is_some());
        if flags == c.flags && seq_ok && !pe_bad {
            return std::borrow::Cow::Borrowed(c);
        }
        let mut w = c.clone();
        w.flags = flags;
        w.seq = if flags & IP_VS_CONN_F_SEQ_MASK != 0 {
            Some(c.seq.unwrap_or_default())
        } else {
            None
        };
        if v0 || c.pe_data.is_none() {
            // PE_NAME is only sent after PE_DATA.
            w.pe_name = None;
        }
        if v0 {
            w.pe_data = None;
        }
        std::borrow::Cow::Owned(w)
    }

    /// Add one entry to the current message, queueing the current one first
    /// when the entry does not fit or the message has the other version.
    /// Returns false if the entry cannot be encoded (mixed families, PE data
    /// too long): the kernel cannot produce such entries.
    fn push(&mut self, now: Duration, c: &SyncConn) -> bool {
        let w = self.wire_conn(c);
        let version = self.params.version;
        let (len, hdr) = match version {
            Version::V0 => (entry_len_v0(&w), V0_HDR_LEN),
            Version::V1 => (entry_len_v1(&w), V1_HDR_LEN),
        };
        if let Some(cur) = &self.cur {
            let pad = match version {
                Version::V0 => 0,
                Version::V1 => (4 - (cur.msg.len() & 3)) & 3,
            };
            // The kernel does not bound nr_conns (a u8); we start a new
            // message at 255 entries so that a large maxlen stays decodable.
            if cur.msg.len() + len + pad > cur.end
                || cur.msg.version() != version
                || cur.msg.nr_conns() == u8::MAX
            {
                self.queue_current();
            }
        }
        let cur = self.cur.get_or_insert_with(|| {
            let end = (len + hdr).max(self.params.maxlen as usize);
            CurBuf {
                msg: MessageBuf::with_capacity(version, self.params.syncid, end),
                end,
                firstuse: now,
            }
        });
        match cur.msg.push(&w) {
            Ok(()) => {
                self.stats.entries += 1;
                true
            }
            Err(_) => {
                if cur.msg.is_empty() {
                    self.cur = None;
                }
                false
            }
        }
    }

    fn queue_current(&mut self) {
        if let Some(cur) = self.cur.take() {
            if cur.msg.is_empty() {
                return;
            }
            self.stats.messages += 1;
            if self.queue.len() < self.params.sync_qlen_max {
                self.queue.push_back(cur.msg.finish());
            } else {
                self.stats.dropped += 1;
            }
        }
    }

    /// Next datagram to send: a queued full message, or the current one once
    /// it is [`IPVS_SYNC_FLUSH_TIME`] old (`next_sync_buff`).
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Vec<u8>> {
        if let Some(m) = self.queue.pop_front() {
            return Some(m);
        }
        let due = self
            .cur
            .as_ref()
            .is_some_and(|c| now.saturating_sub(c.firstuse) >= IPVS_SYNC_FLUSH_TIME);
        if due {
            self.queue_current();
            return self.queue.pop_front();
        }
        None
    }

    /// When the driver should call [`Self::poll_transmit`] again: now if
    /// messages are queued, else when the current message becomes due.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if !self.queue.is_empty() {
            return Some(Duration::ZERO);
        }
        self.cur.as_ref().map(|c| c.firstuse + IPVS_SYNC_FLUSH_TIME)
    }

    /// Queue the current message now, whatever its age (for shutdown paths
    /// that want to send what they have, and for benchmarks).
    pub fn flush(&mut self) {
        self.queue_current();
    }

    /// Stop the master: the kernel drops queued and partial messages.
    /// Returns how many messages were discarded.
    pub fn stop(&mut self) -> usize {
        let n = self.queue.len() + usize::from(self.cur.is_some());
        self.queue.clear();
        self.cur = None;
        n
    }

    /// Encode a whole set of entries into messages with these params (no
    /// threshold rules): e.g. a full-table resync.
    pub fn pack_all<'c>(
        params: &SyncParams,
        conns: impl IntoIterator<Item = &'c SyncConn>,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let mut m = SyncMaster::new(SyncParams {
            sync_qlen_max: usize::MAX,
            ..params.clone()
        });
        for c in conns {
            match params.version {
                Version::V0 => crate::wire::validate_v0(&m.wire_conn(c))?,
                Version::V1 => crate::wire::validate_v1(&m.wire_conn(c))?,
            }
            m.push(Duration::ZERO, c);
        }
        m.flush();
        Ok(m.queue.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::flags::*;
    use crate::consts::tcp::*;
    use crate::wire::{SyncMessage, V1_CONN_V4_SIZE};
    use std::net::{IpAddr, Ipv4Addr};

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn tcp_conn(i: u32, state: u16) -> SyncConn {
        SyncConn {
            protocol: 6,
            caddr: IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + i)),
            cport: 40000,
            vaddr: "10.0.0.100".parse().unwrap(),
            vport: 80,
            daddr: "192.168.1.11".parse().unwrap(),
            dport: 80,
            flags: IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_HASHED,
            state,
            fwmark: 0,
            timeout: 900,
            seq: None,
            pe_data: None,
            pe_name: None,
        }
    }

    fn template() -> SyncConn {
        SyncConn {
            cport: 0,
            flags: IP_VS_CONN_F_TEMPLATE
                | IP_VS_CONN_F_DROUTE
                | IP_VS_CONN_F_INACTIVE
                | IP_VS_CONN_F_HASHED,
            state: 0,
            timeout: 360,
            ..tcp_conn(0, 0)
        }
    }

    /// Feed packets 1..=n of an ESTABLISHED connection; return the packet
    /// numbers that produced a sync.
    fn synced_packets(p: SyncParams, n: u32) -> Vec<u32> {
        let mut m = SyncMaster::new(p);
        let c = tcp_conn(1, IP_VS_TCP_S_ESTABLISHED);
        let mut st = ConnSyncState::new(s(0));
        st.old_state = IP_VS_TCP_S_ESTABLISHED;
        let mut out = vec![];
        for pkts in 1..=n {
            let now = Duration::from_millis(u64::from(pkts) * 10);
            let mut chain = [ChainLink {
                conn: &c,
                st: &mut st,
            }];
            if m.sync_conn(now, &mut chain, pkts) > 0 {
                out.push(pkts);
            }
        }
        out
    }

    #[test]
    fn defaults_sync_at_threshold_then_every_period() {
        assert_eq!(
            synced_packets(SyncParams::default(), 160),
            vec![3, 53, 103, 153]
        );
    }

    #[test]
    fn period_zero_syncs_once_at_threshold() {
        let p = SyncParams {
            sync_period: 0,
            ..SyncParams::default()
        };
        assert_eq!(synced_packets(p, 200), vec![3]);
    }

    #[test]
    fn state_change_forces_sync_and_unsynced_states_never_sync() {
        let mut m = SyncMaster::new(SyncParams::default());
        let mut st = ConnSyncState::new(s(0));
        // SYN_RECV: not a synced state.
        let c = tcp_conn(1, IP_VS_TCP_S_SYN_RECV);
        let mut chain = [ChainLink {
            conn: &c,
            st: &mut st,
        }];
        assert_eq!(m.sync_conn(s(0), &mut chain, 3), 0);
        // ESTABLISHED at packet 2: state changed but into ESTABLISHED, so the
        // packet count still rules.
        let c = tcp_conn(1, IP_VS_TCP_S_ESTABLISHED);
        let mut chain = [ChainLink {
            conn: &c,
            st: &mut st,
        }];
        assert_eq!(m.sync_conn(s(1), &mut chain, 2), 0);
        // FIN_WAIT at packet 7: forced.
        let c = tcp_conn(1, IP_VS_TCP_S_FIN_WAIT);
        let mut chain = [ChainLink {
            conn: &c,
            st: &mut st,
        }];
        assert_eq!(m.sync_conn(s(2), &mut chain, 7), 1);
        assert_eq!(st.old_state, IP_VS_TCP_S_FIN_WAIT);
        // Still FIN_WAIT at packet 8: nothing.
        let mut chain = [ChainLink {
            conn: &c,
            st: &mut st,
        }];
        assert_eq!(m.sync_conn(s(3), &mut chain, 8), 0);
    }

    #[test]
    fn controller_template_is_synced_with_its_own_counter() {
        let mut m = SyncMaster::new(SyncParams::default());
        let c = tcp_conn(1, IP_VS_TCP_S_ESTABLISHED);
        let t = template();
        let mut cst = ConnSyncState::new(s(0));
        cst.old_state = IP_VS_TCP_S_ESTABLISHED;
        let mut tst = ConnSyncState::new(s(0));
        let mut added = vec![];
        for pkts in 1..=3 {
            let mut chain = [
                ChainLink {
                    conn: &c,
                    st: &mut cst,
                },
                ChainLink {
                    conn: &t,
                    st: &mut tst,
                },
            ];
            added.push(m.sync_conn(s(0), &mut chain, pkts));
        }
        // Templates skip the packet-count rule: synced on every call (with
        // sync_refresh_period 0); the conn joins at its 3rd packet.
        assert_eq!(added, vec![1, 1, 2]);
        assert_eq!(tst.in_pkts, 3);
        m.flush();
        let msg = SyncMessage::decode(&m.poll_transmit(s(0)).unwrap()).unwrap();
        assert_eq!(msg.conns.len(), 4);
        assert!(msg.conns.iter().all(|c| c.flags & IP_VS_CONN_F_HASHED == 0));
        assert!(msg.conns[3].is_template() && !msg.conns[2].is_template());
    }

    #[test]
    fn persist_mode_syncs_only_templates() {
        let p = SyncParams {
            sync_persist_mode: true,
            ..SyncParams::default()
        };
        let mut m = SyncMaster::new(p);
        let c = tcp_conn(1, IP_VS_TCP_S_ESTABLISHED);
        let t = template();
        let mut cst = ConnSyncState::new(s(0));
        let mut tst = ConnSyncState::new(s(0));
        let mut chain = [
            ChainLink {
                conn: &c,
                st: &mut cst,
            },
            ChainLink {
                conn: &t,
                st: &mut tst,
            },
        ];
        assert_eq!(m.sync_conn(s(0), &mut chain, 3), 1);
        m.flush();
        let msg = SyncMessage::decode(&m.poll_transmit(s(0)).unwrap()).unwrap();
        assert_eq!(msg.conns.len(), 1);
        assert!(msg.conns[0].is_template());
    }

    #[test]
    fn one_packet_conn_is_not_synced_but_its_template_is_in_v1_only() {
        let mut c = tcp_conn(1, 0);
        c.protocol = 17;
        c.flags |= IP_VS_CONN_F_ONE_PACKET;
        let t = template();
        for (version, want) in [(Version::V1, 1), (Version::V0, 0)] {
            let mut m = SyncMaster::new(SyncParams {
                version,
                ..SyncParams::default()
            });
            let mut cst = ConnSyncState::new(s(0));
            let mut tst = ConnSyncState::new(s(0));
            let mut chain = [
                ChainLink {
                    conn: &c,
                    st: &mut cst,
                },
                ChainLink {
                    conn: &t,
                    st: &mut tst,
                },
            ];
            assert_eq!(m.sync_conn(s(0), &mut chain, 3), want, "{version:?}");
        }
    }

    #[test]
    fn refresh_period_resyncs_when_the_end_time_moved_enough() {
        let p = SyncParams {
            sync_period: 0,
            sync_refresh_period: s(30),
            ..SyncParams::default()
        };
        let mut m = SyncMaster::new(p);
        let c = tcp_conn(1, IP_VS_TCP_S_ESTABLISHED);
        let mut st = ConnSyncState::new(s(0));
        st.old_state = IP_VS_TCP_S_ESTABLISHED;
        let mut at = |m: &mut SyncMaster, t: u64, pkts: u32| {
            let mut chain = [ChainLink {
                conn: &c,
                st: &mut st,
            }];
            m.sync_conn(s(t), &mut chain, pkts)
        };
        assert_eq!(at(&mut m, 0, 1), 1); // end time moves 0 -> 900 s
        assert_eq!(at(&mut m, 10, 2), 0); // moved 10 s < 30 s, no retries
        assert_eq!(at(&mut m, 29, 3), 0);
        assert_eq!(at(&mut m, 31, 4), 1); // moved 31 s
        assert_eq!(at(&mut m, 40, 5), 0);
    }

    #[test]
    fn refresh_retries_use_the_low_bits() {
        let p = SyncParams {
            sync_period: 0,
            sync_refresh_period: s(30),
            sync_retries: 2,
            ..SyncParams::default()
        };
        let mut m = SyncMaster::new(p);
        let c = tcp_conn(1, IP_VS_TCP_S_ESTABLISHED);
        let mut st = ConnSyncState::new(s(0));
        st.old_state = IP_VS_TCP_S_ESTABLISHED;
        let mut chain = [ChainLink {
            conn: &c,
            st: &mut st,
        }];
        assert_eq!(m.sync_conn(s(0), &mut chain, 1), 1);
        // Within refresh/8 = 3.75 s of the last sync: no retry yet.
        assert_eq!(m.sync_conn(s(1), &mut chain, 2), 0);
        // After it: retry 1, then retry 2, then no more.
        assert_eq!(m.sync_conn(s(4), &mut chain, 3), 1);
        assert_eq!(chain[0].st.sync_endtime & 3, 1);
        // Each retry also waits refresh/8 after the previous one.
        assert_eq!(m.sync_conn(s(5), &mut chain, 4), 0);
        assert_eq!(m.sync_conn(s(8), &mut chain, 5), 1);
        assert_eq!(chain[0].st.sync_endtime & 3, 2);
        assert_eq!(m.sync_conn(s(20), &mut chain, 6), 0);
    }

    fn pack(version: Version, n: u32, maxlen: u16) -> Vec<Vec<u8>> {
        let mut m = SyncMaster::new(SyncParams {
            version,
            maxlen,
            sync_period: 0,
            sync_threshold: 1,
            ..SyncParams::default()
        });
        for i in 0..n {
            let c = tcp_conn(i, IP_VS_TCP_S_ESTABLISHED);
            let mut st = ConnSyncState::new(s(0));
            st.old_state = IP_VS_TCP_S_ESTABLISHED;
            let mut chain = [ChainLink {
                conn: &c,
                st: &mut st,
            }];
            assert_eq!(m.sync_conn(s(0), &mut chain, 1), 1);
        }
        let mut out = vec![];
        while let Some(d) = m.poll_transmit(s(0)) {
            out.push(d);
        }
        // The partial message goes out once it is 2 s old.
        assert_eq!(m.poll_timeout(), Some(IPVS_SYNC_FLUSH_TIME));
        assert!(m.poll_transmit(Duration::from_millis(1999)).is_none());
        if let Some(d) = m.poll_transmit(s(2)) {
            out.push(d);
        }
        out
    }

    #[test]
    fn maxlen_packing_matches_the_kernel_counts() {
        // 1472-byte messages: 40 IPv4 v1 entries, 61 v0 entries.
        let v1 = pack(Version::V1, 100, 1472);
        let counts: Vec<usize> = v1
            .iter()
            .map(|d| SyncMessage::decode(d).unwrap().conns.len())
            .collect();
        assert_eq!(counts, vec![40, 40, 20]);
        assert_eq!(v1[0].len(), 8 + 40 * V1_CONN_V4_SIZE);
        let v0 = pack(Version::V0, 100, 1472);
        let counts: Vec<usize> = v0
            .iter()
            .map(|d| SyncMessage::decode(d).unwrap().conns.len())
            .collect();
        assert_eq!(counts, vec![61, 39]);
        // A maxlen smaller than one entry still sends one entry per message.
        let tiny = pack(Version::V1, 3, 1);
        assert_eq!(tiny.len(), 3);
        // A huge maxlen never exceeds 255 entries per message.
        let big = pack(Version::V1, 600, 65507);
        let counts: Vec<usize> = big
            .iter()
            .map(|d| SyncMessage::decode(d).unwrap().conns.len())
            .collect();
        assert_eq!(counts, vec![255, 255, 90]);
    }

    #[test]
    fn version_switch_starts_a_new_message_and_queue_limit_drops() {
        let mut m = SyncMaster::new(SyncParams {
            sync_period: 0,
            sync_threshold: 1,
            sync_qlen_max: 1,
            ..SyncParams::default()
        });
        let c = tcp_conn(1, IP_VS_TCP_S_ESTABLISHED);
        let go = |m: &mut SyncMaster| {
            let mut st = ConnSyncState::new(s(0));
            st.old_state = IP_VS_TCP_S_ESTABLISHED;
            let mut chain = [ChainLink {
                conn: &c,
                st: &mut st,
            }];
            m.sync_conn(s(0), &mut chain, 1)
        };
        go(&mut m);
        let mut p = m.params().clone();
        p.version = Version::V0;
        m.set_params(p.clone());
        go(&mut m); // queues the v1 message
        p.version = Version::V1;
        m.set_params(p);
        go(&mut m); // the v0 message is dropped: queue full
        assert_eq!(m.stats().dropped, 1);
        let d = m.poll_transmit(s(0)).unwrap();
        assert_eq!(SyncMessage::decode(&d).unwrap().version, Version::V1);
        assert!(m.poll_transmit(s(0)).is_none());
        assert_eq!(m.stop(), 1);
        assert_eq!(m.poll_timeout(), None);
    }
}
