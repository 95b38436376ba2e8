//! Connection synchronisation hooks of the engine (`ip_vs_sync.c` seen from
//! the connection table): list the entries a sync master replicates, and
//! install an entry received by a sync backup (`ip_vs_proc_conn`).
//!
//! The wire format and the master's send rules live in `lvs-sync`; this
//! module only speaks [`SyncEntry`], a plain value with the fields of a sync
//! message entry, so the engine does not depend on the codec.
//!
//! Installing follows the kernel backup:
//! - the entry is looked up as the kernel does (connections by
//!   protocol/client/virtual address and ports, templates the same with the
//!   template bit), so a synced template is found by later scheduling of
//!   that client network and persistence holds;
//! - a new entry is bound to the backup's service and real server with the
//!   same addresses (`ip_vs_find_dest`, also trying `dport ^ vport`); it
//!   keeps the message's INACTIVE bit, inherits the forwarding method of the
//!   real server, and counts in `activeconns` / `inactconns` /
//!   `persistconns` like any other entry; entries whose real server the
//!   backup does not have are not installed (the kernel would keep them
//!   unbound; the model has no unbound entries);
//! - an existing connection pointing to another real server is expired and
//!   replaced, unless the message says INACTIVE (a stale expiry);
//! - an existing entry keeps its real server and takes the message's
//!   INACTIVE bit (moving the counters), state and timeout;
//! - the timer is re-armed to now + the synced timeout each time.
//!
//! The master side is the kernel's per-packet check (`ip_vs_sync_conn`,
//! `ip_vs_sync_conn_needed`): once [`Ipvs::set_sync_master`] turns it on, the
//! packet path decides for every forwarded packet whether the connection (and
//! its controlling template) is due — at its `sync_threshold`-th packet, every
//! `sync_period` packets after that, on a change into a closing state, per
//! `sync_refresh_period` / `sync_retries`, and for a template each time one of
//! its connections is walked and on its 60 s `expire_later` — and appends a
//! snapshot of the entry to a queue. The sync daemon drains the queue
//! ([`Ipvs::sync_drain`]) in bounded chunks and encodes and sends outside the
//! engine: no part of the master ever walks the table.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::Serialize;

use crate::model::{Ipvs, Millis};
use crate::proto::{sctp, tcp, IPPROTO_SCTP, IPPROTO_TCP};
use crate::sched::DEST_F_OVERLOAD;
use crate::table::{addr_bytes, bytes_addr, flags as cf, Conn, Key, NIL};

/// The sync master's tunables (`net.ipv4.vs.sync_*`), kernel defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRules {
    /// `sync_threshold[0]`: the packet that first syncs a connection (default 3).
    pub threshold: u32,
    /// `sync_threshold[1]`: then every this many packets (default 50; 0 = once).
    pub period: u32,
    /// `sync_refresh_period` in milliseconds (default 0 = off).
    pub refresh_period_ms: u64,
    /// `sync_retries` (0..=3, default 0).
    pub retries: u32,
    /// `sync_persist_mode`: only the templates of connections under persistence.
    pub persist_mode: bool,
    /// `sync_version` 0: IPv4 only, and an entry not due ends the walk up its
    /// control chain (`ip_vs_sync_conn_v0`).
    pub v0: bool,
    /// Entries queued at most; further ones are dropped and counted (the
    /// kernel bounds its queue by `sync_qlen_max` messages).
    pub queue_max: usize,
}

impl Default for SyncRules {
    fn default() -> Self {
        SyncRules {
            threshold: 3,
            period: 50,
            refresh_period_ms: 0,
            retries: 0,
            persist_mode: false,
            v0: false,
            queue_max: 1 << 18,
        }
    }
}

/// What the sync rules look at in an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncCheck {
    /// IP protocol.
    pub protocol: u8,
    /// Protocol state.
    pub state: u16,
    /// A persistence template?
    pub template: bool,
    /// Current timeout (ms).
    pub timeout_ms: u64,
    /// Under a template (`in_persistence`).
    pub in_persistence: bool,
    /// The packet count the check runs with.
    pub pkts: u32,
}

/// The per-entry sync bookkeeping of `struct ip_vs_conn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncMark {
    /// `sync_endtime` in ms; the 2 low bits count retries.
    pub sync_endtime: u64,
    /// `old_state`.
    pub old_state: u16,
}

/// `ip_vs_sync_conn_needed`: is the entry due for a sync at `now` (ms)?
/// Updates `m` (`old_state`, `sync_endtime`) when it is.
pub fn sync_conn_needed(r: &SyncRules, now: Millis, c: &SyncCheck, m: &mut SyncMark) -> bool {
    let orig = m.sync_endtime;
    let mut n = (now + c.timeout_ms) & !3;
    'set: {
        if c.template {
            // force = 0
        } else if r.persist_mode && c.in_persistence {
            return false;
        } else if c.protocol == IPPROTO_TCP || c.protocol == IPPROTO_SCTP {
            let (set, est): (&[u8], u8) = if c.protocol == IPPROTO_TCP {
                (
                    &[
                        tcp::ESTABLISHED,
                        tcp::FIN_WAIT,
                        tcp::CLOSE,
                        tcp::CLOSE_WAIT,
                        tcp::TIME_WAIT,
                    ],
                    tcp::ESTABLISHED,
                )
            } else {
                (
                    &[
                        sctp::ESTABLISHED,
                        sctp::SHUTDOWN_SENT,
                        sctp::SHUTDOWN_RECEIVED,
                        sctp::SHUTDOWN_ACK_SENT,
                        sctp::CLOSED,
                    ],
                    sctp::ESTABLISHED,
                )
            };
            if !set.iter().any(|&s| u16::from(s) == c.state) {
                return false;
            }
            // A change into a state other than ESTABLISHED syncs at once.
            if c.state != m.old_state && c.state != u16::from(est) {
                break 'set;
            }
        }
        let refresh = r.refresh_period_ms;
        if refresh > 0 {
            let diff = n as i64 - orig as i64;
            let min_diff = (c.timeout_ms >> 1).max(10_000);
            if diff.unsigned_abs() < refresh.min(min_diff) {
                let retries = orig & 3;
                if retries >= u64::from(r.retries) {
                    return false;
                }
                // time_before(now, orig - timeout + (refresh >> 3))
                if (now as i64) < orig as i64 - c.timeout_ms as i64 + (refresh >> 3) as i64 {
                    return false;
                }
                n |= retries + 1;
            }
        }
        if r.period > 0 {
            if !c.template && c.pkts % r.period != r.threshold {
                return false;
            }
        } else if refresh == 0 && c.pkts != r.threshold {
            return false;
        }
    }
    m.old_state = c.state;
    // `cmpxchg(&sync_endtime, orig, n) == orig || force`: one owner, always swapped.
    m.sync_endtime = n;
    true
}

/// Counters of the engine's sync queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SyncQueueStats {
    /// Entries queued since the master started.
    pub queued: u64,
    /// Entries dropped because the queue was full.
    pub dropped: u64,
    /// Entries waiting to be drained.
    pub pending: usize,
}

/// The master's queue inside the engine.
#[derive(Debug, Clone)]
pub(crate) struct SyncQueue {
    pub(crate) rules: SyncRules,
    entries: VecDeque<SyncEntry>,
    /// `sync_endtime` by slot as (slot generation, value); kept only with a
    /// refresh period, the one rule that reads it.
    endtimes: Vec<(u32, u64)>,
    queued: u64,
    dropped: u64,
}

impl SyncQueue {
    fn new(rules: SyncRules) -> Self {
        SyncQueue {
            rules,
            entries: VecDeque::new(),
            endtimes: Vec::new(),
            queued: 0,
            dropped: 0,
        }
    }

    /// The entry's `sync_endtime`; one not recorded yet gets its creation
    /// value (`jiffies & ~3`), taken as now.
    fn endtime(&self, idx: u32, gen: u32, now: Millis) -> u64 {
        match self.endtimes.get(idx as usize) {
            Some(&(g, t)) if g == gen && self.rules.refresh_period_ms > 0 => t,
            _ => now & !3,
        }
    }

    fn set_endtime(&mut self, idx: u32, gen: u32, t: u64) {
        if self.rules.refresh_period_ms == 0 {
            return;
        }
        let i = idx as usize;
        if self.endtimes.len() <= i {
            self.endtimes.resize(i + 1, (u32::MAX, 0));
        }
        self.endtimes[i] = (gen, t);
    }

    fn push(&mut self, e: SyncEntry) {
        if self.entries.len() >= self.rules.queue_max {
            self.dropped += 1;
        } else {
            self.queued += 1;
            self.entries.push_back(e);
        }
    }
}

/// `IP_VS_CONN_F_SYNC`: the entry was created by the sync backup.
pub const IP_VS_CONN_F_SYNC: u32 = 0x0020;

/// One connection or template as replicated between directors.
///
/// Field meanings as in a sync message: for fwmark templates `protocol` is 0
/// and `vaddr` holds the mark; templates have `cport` 0 and `caddr` is the
/// client network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SyncEntry {
    /// IP protocol (6, 17, 132; 0 for fwmark templates).
    pub protocol: u8,
    /// Client address (templates: client network).
    pub caddr: IpAddr,
    /// Client port.
    pub cport: u16,
    /// Virtual address (fwmark templates: the mark).
    pub vaddr: IpAddr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address.
    pub daddr: IpAddr,
    /// Real server port.
    pub dport: u16,
    /// `IP_VS_CONN_F_*` flags (forwarding method, INACTIVE, TEMPLATE, …).
    pub flags: u32,
    /// Protocol state, or template state (`IP_VS_CTPL_S_ASSURED`).
    pub state: u16,
    /// Firewall mark.
    pub fwmark: u32,
    /// Timeout in seconds (the entry's full timeout, not what is left).
    pub timeout: u32,
}

impl SyncEntry {
    /// Is this a persistence template?
    pub fn is_template(&self) -> bool {
        self.flags & cf::TEMPLATE != 0
    }
}

/// What [`Ipvs::sync_install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InstallOutcome {
    /// A new entry, bound to the matching real server.
    Created,
    /// The existing connection pointed elsewhere: expired and recreated.
    Replaced,
    /// The existing entry was refreshed (flags, state, timeout, timer).
    Updated,
    /// The message was a stale INACTIVE update of a replaced connection.
    IgnoredStale,
    /// No service / real server on this director matches the entry.
    NoDest,
    /// Mixed address families or an unusable state.
    Invalid,
}

fn af_of(a: &IpAddr) -> u8 {
    if a.is_ipv4() {
        4
    } else {
        6
    }
}

impl Ipvs {
    /// Start (`Some`) or stop (`None`) the sync master's per-packet check
    /// (`sync_state |= IP_VS_STATE_MASTER`). Starting again with other rules
    /// keeps the queue; stopping drops it, as the kernel drops its buffers.
    pub fn set_sync_master(&mut self, rules: Option<SyncRules>) {
        match (rules, self.sync_q.as_mut()) {
            (None, _) => self.sync_q = None,
            (Some(r), Some(q)) => {
                if q.rules != r {
                    if q.rules.refresh_period_ms != r.refresh_period_ms {
                        q.endtimes.clear();
                    }
                    q.rules = r;
                }
            }
            (Some(r), None) => self.sync_q = Some(Box::new(SyncQueue::new(r))),
        }
    }

    /// The sync master's rules while it runs.
    pub fn sync_master(&self) -> Option<&SyncRules> {
        self.sync_q.as_ref().map(|q| &q.rules)
    }

    /// Move up to `max` queued entries, oldest first, to `out`; returns how
    /// many. The work is proportional to `max`, never to the table.
    pub fn sync_drain(&mut self, max: usize, out: &mut Vec<SyncEntry>) -> usize {
        let Some(q) = self.sync_q.as_mut() else {
            return 0;
        };
        let n = max.min(q.entries.len());
        out.extend(q.entries.drain(..n));
        n
    }

    /// The sync queue's counters while the master runs.
    pub fn sync_queue_stats(&self) -> Option<SyncQueueStats> {
        self.sync_q.as_ref().map(|q| SyncQueueStats {
            queued: q.queued,
            dropped: q.dropped,
            pending: q.entries.len(),
        })
    }

    /// `ip_vs_sync_conn(cp, pkts)`: queue the entry at `idx` if due, then walk
    /// its controllers (a template's count is its incremented `in_pkts`,
    /// another controller's the threshold).
    pub(crate) fn sync_conn(&mut self, now: Millis, mut idx: u32, mut pkts: u32) {
        let Some(q) = self.sync_q.as_deref_mut() else {
            return;
        };
        let conns = &mut self.table.conns;
        let v0 = q.rules.v0;
        // Do not sync ONE PACKET entries (v1; their controllers still are).
        let mut skip = !v0 && conns[idx as usize].flags & cf::ONE_PACKET != 0;
        loop {
            let c = &conns[idx as usize];
            if v0 && (c.af == 6 || c.flags & cf::ONE_PACKET != 0) {
                return;
            }
            if !skip {
                let mut in_persistence = false;
                let mut ct = c.control;
                while ct != NIL {
                    if conns[ct as usize].is_template() {
                        in_persistence = true;
                        break;
                    }
                    ct = conns[ct as usize].control;
                }
                let check = SyncCheck {
                    protocol: c.proto,
                    state: u16::from(c.state),
                    template: c.is_template(),
                    timeout_ms: u64::from(c.timeout),
                    in_persistence,
                    pkts,
                };
                let mut mark = SyncMark {
                    sync_endtime: q.endtime(idx, c.gen, now),
                    old_state: u16::from(c.old_state),
                };
                if sync_conn_needed(&q.rules, now, &check, &mut mark) {
                    q.set_endtime(idx, c.gen, mark.sync_endtime);
                    let c = &mut conns[idx as usize];
                    c.old_state = mark.old_state as u8;
                    q.push(entry_of(c));
                } else if v0 {
                    return;
                }
            }
            skip = false;
            let ct = conns[idx as usize].control;
            if ct == NIL {
                return;
            }
            idx = ct;
            let t = &mut conns[idx as usize];
            pkts = if t.is_template() {
                t.in_pkts = t.in_pkts.wrapping_add(1);
                t.in_pkts
            } else {
                q.rules.threshold
            };
        }
    }

    /// Every live entry a sync master may replicate at `now`: connections and
    /// templates, with state, flags (HASHED never set), full timeout in
    /// seconds and real server. One-packet entries are left out (the kernel
    /// never syncs them). Sorted templates first, then by key, for stable
    /// output.
    pub fn sync_entries(&self, now: Millis) -> Vec<SyncEntry> {
        let mut v: Vec<SyncEntry> = self
            .table
            .iter_live()
            .filter(|(_, c)| c.flags & cf::ONE_PACKET == 0 && c.expires > now)
            .map(|(_, c)| entry_of(c))
            .collect();
        v.sort_by(|a, b| {
            (
                !a.is_template(),
                a.protocol,
                a.caddr,
                a.cport,
                a.vaddr,
                a.vport,
            )
                .cmp(&(
                    !b.is_template(),
                    b.protocol,
                    b.caddr,
                    b.cport,
                    b.vaddr,
                    b.vport,
                ))
        });
        v
    }

    /// `ip_vs_find_dest`: the real server of the service the entry belongs to.
    fn sync_find_dest(&self, e: &SyncEntry) -> Option<u32> {
        let af = af_of(&e.caddr);
        let vaddr = addr_bytes(&e.vaddr);
        let mark = if e.fwmark != 0 {
            Some(e.fwmark)
        } else if e.protocol == 0 && e.vaddr.is_ipv4() {
            Some(u32::from_be_bytes([vaddr[0], vaddr[1], vaddr[2], vaddr[3]]))
        } else {
            None
        };
        let svc = mark
            .and_then(|m| self.by_mark.get(&(af, m)).copied())
            .or_else(|| self.by_addr.get(&(af, e.protocol, vaddr, e.vport)).copied())
            .or_else(|| self.by_addr.get(&(af, e.protocol, vaddr, 0)).copied())?;
        let s = self.services.get(svc as usize)?.as_ref()?;
        let find = |port: u16| {
            s.dests.iter().copied().find(|&d| {
                self.rs[d as usize].cfg.addr == e.daddr && self.rs[d as usize].cfg.port == port
            })
        };
        find(e.dport).or_else(|| find(e.dport ^ e.vport))
    }

    /// Install (create or refresh) an entry received by the sync backup, at
    /// `now`, with `in_pkts` (the backup's `sync_threshold`). See the module
    /// docs for the rules.
    pub fn sync_install(&mut self, now: Millis, e: &SyncEntry, in_pkts: u32) -> InstallOutcome {
        if now > self.last_now {
            self.last_now = now;
        }
        let af = af_of(&e.caddr);
        if af_of(&e.vaddr) != af && e.protocol != 0 {
            return InstallOutcome::Invalid;
        }
        let template = e.is_template();
        if !template && e.state > u16::from(u8::MAX) {
            return InstallOutcome::Invalid;
        }
        let key = Key {
            caddr: addr_bytes(&e.caddr),
            vaddr: addr_bytes(&e.vaddr),
            cport: e.cport,
            vport: e.vport,
            af,
            proto: e.protocol,
            template,
        };
        let timeout_ms = e.timeout.saturating_mul(1000);
        let mut outcome = InstallOutcome::Created;
        if let Some(idx) = self.table.lookup(&key) {
            let c = &self.table.conns[idx as usize];
            let same_dest = c.daddr == addr_bytes(&e.daddr) && c.dport == e.dport;
            if template || same_dest {
                self.sync_update(idx, now, e, timeout_ms, in_pkts);
                return InstallOutcome::Updated;
            }
            if e.flags & cf::INACTIVE != 0 {
                return InstallOutcome::IgnoredStale;
            }
            // ip_vs_conn_expire_now: the timer handler runs at once.
            self.table.arm(idx, now, true);
            self.expire(now);
            if self.table.lookup(&key).is_some() {
                // Still controls connections (expire_later): keep it.
                return InstallOutcome::IgnoredStale;
            }
            outcome = InstallOutcome::Replaced;
        }
        let Some(d) = self.sync_find_dest(e) else {
            return InstallOutcome::NoDest;
        };
        // ip_vs_bind_dest with IP_VS_CONN_F_SYNC: the dest's forwarding
        // method; connections keep their own activity flag.
        let mut conn_flags = self.rs[d as usize].conn_flags;
        if e.protocol != crate::proto::IPPROTO_UDP {
            conn_flags &= !cf::ONE_PACKET;
        }
        if !template {
            conn_flags &= !cf::INACTIVE;
        }
        let flags = ((e.flags | IP_VS_CONN_F_SYNC) & !(cf::FWD_MASK | cf::NOOUTPUT | cf::HASHED))
            | conn_flags;
        let daddr_ip = self.ds[d as usize].addr;
        let c = Conn {
            caddr: key.caddr,
            vaddr: key.vaddr,
            daddr: addr_bytes(&daddr_ip),
            expires: 0,
            flags,
            timeout: timeout_ms,
            fwmark: e.fwmark,
            dest: d,
            control: NIL,
            n_control: 0,
            in_pkts,
            gen: 0,
            tgen: 0,
            cport: e.cport,
            vport: e.vport,
            dport: e.dport,
            af,
            daf: af_of(&daddr_ip),
            proto: e.protocol,
            state: e.state as u8,
            old_state: e.state as u8,
        };
        let idx = self.table.alloc(c);
        let x = &mut self.ds[d as usize];
        if template {
            x.persistconns += 1;
        } else if flags & cf::INACTIVE != 0 {
            x.inactconns += 1;
        } else {
            x.activeconns += 1;
        }
        let u = self.rs[d as usize].cfg.u_threshold;
        let x = &self.ds[d as usize];
        if u != 0 && x.activeconns + x.inactconns >= u {
            self.ds[d as usize].flags |= DEST_F_OVERLOAD;
        }
        self.table.hash(idx);
        self.table.arm(idx, now + u64::from(timeout_ms), true);
        outcome
    }

    /// Refresh an existing entry from a sync message.
    fn sync_update(&mut self, idx: u32, now: Millis, e: &SyncEntry, timeout_ms: u32, in_pkts: u32) {
        let c = &mut self.table.conns[idx as usize];
        let was_inactive = c.flags & cf::INACTIVE != 0;
        let now_inactive = e.flags & cf::INACTIVE != 0;
        c.flags = (c.flags & !cf::INACTIVE) | (e.flags & cf::INACTIVE);
        c.state = e.state as u8;
        c.old_state = c.state;
        c.timeout = timeout_ms;
        c.in_pkts = in_pkts;
        let d = c.dest;
        let template = c.is_template();
        if d != NIL && !template && was_inactive != now_inactive {
            let x = &mut self.ds[d as usize];
            if now_inactive {
                x.activeconns -= 1;
                x.inactconns += 1;
            } else {
                x.inactconns -= 1;
                x.activeconns += 1;
            }
        }
        self.table.arm(idx, now + u64::from(timeout_ms), false);
    }
}

fn entry_of(c: &Conn) -> SyncEntry {
    SyncEntry {
        protocol: c.proto,
        caddr: bytes_addr(c.af, &c.caddr),
        cport: c.cport,
        vaddr: bytes_addr(c.af, &c.vaddr),
        vport: c.vport,
        daddr: bytes_addr(c.daf, &c.daddr),
        dport: c.dport,
        flags: c.flags & !(cf::HASHED | cf::FREE),
        state: u16::from(c.state),
        fwmark: c.fwmark,
        timeout: c.timeout / 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::{Dest, FwdMethod, Protocol, Service, ServiceKey, SvcFlags};
    use crate::model::{tcp_flags, PacketMeta, Verdict};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A DR director: VIP 10.0.0.49:80, rr, persistence 300 s, two real servers.
    fn director() -> (Ipvs, ServiceKey) {
        let mut v = Ipvs::default();
        let mut s = Service::new(ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: ip("10.0.0.49"),
            port: 80,
        });
        s.scheduler = "rr".into();
        s.flags = SvcFlags(SvcFlags::PERSISTENT);
        s.timeout = 300;
        v.add_service(&s).unwrap();
        for a in ["10.0.0.56", "10.0.0.57"] {
            let mut d = Dest::new(ip(a), 80);
            d.fwd = FwdMethod::Route;
            v.add_dest(&s.key, &d).unwrap();
        }
        (v, s.key)
    }

    fn syn(client: &str, cport: u16) -> PacketMeta {
        PacketMeta::tcp(ip(client), cport, ip("10.0.0.49"), 80, tcp_flags::SYN)
    }

    fn fwd_dest(v: Verdict) -> IpAddr {
        match v {
            Verdict::Forward(f) => f.daddr,
            other => panic!("not forwarded: {other:?}"),
        }
    }

    fn counters(v: &Ipvs, a: &str) -> (u32, u32, u32) {
        let d = v.ds.iter().find(|d| d.addr == ip(a)).unwrap();
        (d.activeconns, d.inactconns, d.persistconns)
    }

    /// The master's table, replicated entry by entry into a fresh backup.
    fn replicate(master: &Ipvs, now: Millis, backup: &mut Ipvs) -> Vec<InstallOutcome> {
        master
            .sync_entries(now)
            .iter()
            .map(|e| backup.sync_install(now, e, 3))
            .collect()
    }

    #[test]
    fn lists_connection_and_template_with_state_flags_timeout_and_dest() {
        let (mut m, _) = director();
        let d = fwd_dest(m.handle_packet(1_000, &syn("10.0.0.100", 40000)));
        let mut ack = syn("10.0.0.100", 40000);
        ack.tcp_flags = tcp_flags::ACK;
        m.handle_packet(1_001, &ack);
        let es = m.sync_entries(1_001);
        assert_eq!(es.len(), 2, "{es:?}");
        let t = &es[0];
        assert!(t.is_template());
        assert_eq!((t.caddr, t.cport, t.vport), (ip("10.0.0.100"), 0, 80));
        assert_eq!((t.daddr, t.dport, t.timeout), (d, 80, 300));
        let c = &es[1];
        assert!(!c.is_template());
        assert_eq!((c.cport, c.daddr, c.state), (40000, d, 1)); // ESTABLISHED
        assert_eq!(c.flags & cf::FWD_MASK, FwdMethod::Route.to_raw());
        assert_eq!(c.flags & cf::INACTIVE, 0);
        assert_eq!(c.flags & cf::HASHED, 0);
        assert_eq!(c.timeout, m.timeouts.tcp[1] / 1000);
    }

    #[test]
    fn synced_template_keeps_a_later_client_on_the_masters_real_server() {
        let (mut m, _) = director();
        // Move the master's rr pointer so the client lands on the server the
        // backup's own rr would not pick first.
        let first = fwd_dest(m.handle_packet(0, &syn("10.0.0.200", 1000)));
        let d = fwd_dest(m.handle_packet(10, &syn("10.0.0.100", 40000)));
        assert_ne!(first, d);
        let (mut b, _) = director();
        let out = replicate(&m, 20, &mut b);
        assert!(out.iter().all(|o| *o == InstallOutcome::Created), "{out:?}");
        b.check_invariants(20).unwrap();
        // Backup counters: one template and one (SYN_RECV: active) conn per dest.
        assert_eq!(counters(&b, "10.0.0.56"), counters(&m, "10.0.0.56"));
        assert_eq!(counters(&b, "10.0.0.57"), counters(&m, "10.0.0.57"));
        // Failover: a new connection of the same client on the backup.
        for port in [40001, 40002, 40003] {
            let got = fwd_dest(b.handle_packet(5_000, &syn("10.0.0.100", port)));
            assert_eq!(got, d, "cport {port}");
        }
        // Without the synced template the backup's rr would have sent it to
        // the other server first.
        let (mut fresh, _) = director();
        assert_ne!(
            fwd_dest(fresh.handle_packet(5_000, &syn("10.0.0.100", 40001))),
            d
        );
        b.check_invariants(5_000).unwrap();
    }

    #[test]
    fn synced_connection_keeps_flowing_to_its_dest() {
        let (mut m, _) = director();
        fwd_dest(m.handle_packet(0, &syn("10.0.0.200", 1000)));
        let d = fwd_dest(m.handle_packet(10, &syn("10.0.0.100", 40000)));
        let (mut b, _) = director();
        replicate(&m, 20, &mut b);
        let mut ack = syn("10.0.0.100", 40000);
        ack.tcp_flags = tcp_flags::ACK;
        match b.handle_packet(30, &ack) {
            Verdict::Forward(f) => {
                assert_eq!(f.daddr, d);
                assert!(!f.new_conn);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entries_expire_per_their_synced_timeout_and_refresh_rearms() {
        let (mut m, _) = director();
        m.handle_packet(0, &syn("10.0.0.100", 40000));
        let mut es = m.sync_entries(0);
        for e in &mut es {
            e.timeout = 10;
        }
        let (mut b, _) = director();
        for e in &es {
            assert_eq!(b.sync_install(0, e, 3), InstallOutcome::Created);
        }
        assert_eq!(b.conn_count(), 2);
        // Refresh at 8 s: both live until 18 s.
        for e in &es {
            assert_eq!(b.sync_install(8_000, e, 3), InstallOutcome::Updated);
        }
        assert_eq!(b.conn_count(), 2);
        b.expire(12_000);
        assert_eq!(b.conn_count(), 2);
        b.expire(18_000);
        assert_eq!(b.conn_count(), 0);
        assert_eq!(counters(&b, "10.0.0.56"), (0, 0, 0));
        assert_eq!(counters(&b, "10.0.0.57"), (0, 0, 0));
        b.check_invariants(18_000).unwrap();
    }

    #[test]
    fn inactive_flip_moves_counters_and_other_dest_replaces() {
        let (mut m, _) = director();
        m.handle_packet(0, &syn("10.0.0.100", 40000));
        let c = m
            .sync_entries(0)
            .into_iter()
            .find(|e| !e.is_template())
            .unwrap();
        let (mut b, _) = director();
        assert_eq!(b.sync_install(0, &c, 3), InstallOutcome::Created);
        let da = c.daddr.to_string();
        assert_eq!(counters(&b, &da), (1, 0, 0));
        let mut inact = c.clone();
        inact.flags |= cf::INACTIVE;
        inact.state = 5; // TIME_WAIT
        assert_eq!(b.sync_install(1, &inact, 3), InstallOutcome::Updated);
        assert_eq!(counters(&b, &da), (0, 1, 0));
        // The same client connection now on the other server.
        let other = if da == "10.0.0.56" {
            "10.0.0.57"
        } else {
            "10.0.0.56"
        };
        let mut moved = c.clone();
        moved.daddr = ip(other);
        // A stale INACTIVE message for another dest is ignored...
        let mut stale = moved.clone();
        stale.flags |= cf::INACTIVE;
        assert_eq!(b.sync_install(2, &stale, 3), InstallOutcome::IgnoredStale);
        // ...an active one replaces the entry.
        assert_eq!(b.sync_install(3, &moved, 3), InstallOutcome::Replaced);
        assert_eq!(counters(&b, &da), (0, 0, 0));
        assert_eq!(counters(&b, other), (1, 0, 0));
        b.check_invariants(3).unwrap();
    }

    #[test]
    fn entry_without_matching_dest_is_not_installed() {
        let (mut b, _) = director();
        let e = SyncEntry {
            protocol: 6,
            caddr: ip("10.0.0.100"),
            cport: 0,
            vaddr: ip("10.0.0.49"),
            vport: 80,
            daddr: ip("10.0.0.99"),
            dport: 80,
            flags: cf::TEMPLATE | 2,
            state: 0,
            fwmark: 0,
            timeout: 300,
        };
        assert_eq!(b.sync_install(0, &e, 3), InstallOutcome::NoDest);
        assert_eq!(b.conn_count(), 0);
    }

    fn service(v: &mut Ipvs, proto: Protocol, persistent: bool) {
        let mut s = Service::new(ServiceKey::Addr {
            proto,
            addr: ip("10.0.0.49"),
            port: 80,
        });
        s.scheduler = "rr".into();
        if persistent {
            s.flags = SvcFlags(SvcFlags::PERSISTENT);
            s.timeout = 2;
        }
        v.add_service(&s).unwrap();
        for a in ["10.0.0.56", "10.0.0.57"] {
            let mut d = Dest::new(ip(a), 80);
            d.fwd = FwdMethod::Route;
            v.add_dest(&s.key, &d).unwrap();
        }
    }

    fn tcp(cport: u16, flags: u8) -> PacketMeta {
        PacketMeta::tcp(ip("10.0.0.100"), cport, ip("10.0.0.49"), 80, flags)
    }

    fn drain_all(v: &mut Ipvs) -> Vec<SyncEntry> {
        let mut out = Vec::new();
        v.sync_drain(usize::MAX, &mut out);
        out
    }

    /// Which of packets 1..=n (SYN, then ACKs) queued the connection.
    fn synced_at(rules: SyncRules, n: u32) -> Vec<u32> {
        let mut v = Ipvs::default();
        service(&mut v, Protocol::Tcp, false);
        v.set_sync_master(Some(rules));
        let mut at = vec![];
        for k in 1..=n {
            let f = if k == 1 {
                tcp_flags::SYN
            } else {
                tcp_flags::ACK
            };
            fwd_dest(v.handle_packet(u64::from(k), &tcp(40000, f)));
            let q = drain_all(&mut v);
            if !q.is_empty() {
                assert_eq!(q.len(), 1, "{q:?}");
                assert_eq!((q[0].cport, q[0].state), (40000, 1));
                at.push(k);
            }
        }
        at
    }

    /// The kernel's defaults (threshold 3, period 50): the 3rd, 53rd, 103rd packet; a period of
    /// 0 syncs once; nothing is queued while the master is off.
    #[test]
    fn master_queues_a_connection_at_its_threshold_and_period() {
        assert_eq!(synced_at(SyncRules::default(), 110), vec![3, 53, 103]);
        let once = SyncRules {
            period: 0,
            ..SyncRules::default()
        };
        assert_eq!(synced_at(once, 60), vec![3]);
        let mut v = Ipvs::default();
        service(&mut v, Protocol::Tcp, false);
        for k in 1..=5 {
            v.handle_packet(
                k,
                &tcp(
                    40000,
                    if k == 1 {
                        tcp_flags::SYN
                    } else {
                        tcp_flags::ACK
                    },
                ),
            );
        }
        v.set_sync_master(Some(SyncRules::default()));
        assert!(drain_all(&mut v).is_empty(), "no table scan on start");
    }

    /// A change into a closing state is queued at once, whatever the packet count.
    #[test]
    fn state_change_into_a_closing_state_is_queued_at_once() {
        let mut v = Ipvs::default();
        service(&mut v, Protocol::Tcp, false);
        v.set_sync_master(Some(SyncRules::default()));
        v.handle_packet(1, &tcp(40000, tcp_flags::SYN));
        v.handle_packet(2, &tcp(40000, tcp_flags::ACK));
        assert!(drain_all(&mut v).is_empty());
        v.handle_packet(3, &tcp(40000, tcp_flags::FIN | tcp_flags::ACK));
        let q = drain_all(&mut v);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].state, u16::from(tcp::FIN_WAIT));
        assert_ne!(q[0].flags & cf::INACTIVE, 0);
        // The same state again: back to the packet-count rules.
        v.handle_packet(4, &tcp(40000, tcp_flags::FIN | tcp_flags::ACK));
        assert!(drain_all(&mut v).is_empty());
    }

    /// Under persistence the template goes along each time its connection is walked, the
    /// connection at its threshold; `sync_persist_mode` keeps only the template.
    #[test]
    fn template_follows_its_connections_and_persist_mode_keeps_only_it() {
        for persist_mode in [false, true] {
            let mut v = Ipvs::default();
            service(&mut v, Protocol::Tcp, true);
            v.set_sync_master(Some(SyncRules {
                persist_mode,
                ..SyncRules::default()
            }));
            let mut got = vec![];
            for (k, f) in [tcp_flags::SYN, tcp_flags::ACK, tcp_flags::ACK]
                .into_iter()
                .enumerate()
            {
                v.handle_packet(k as u64, &tcp(40000, f));
                got.push(
                    drain_all(&mut v)
                        .iter()
                        .map(|e| e.is_template())
                        .collect::<Vec<_>>(),
                );
            }
            let third = if persist_mode {
                vec![true]
            } else {
                vec![false, true]
            };
            assert_eq!(got, vec![vec![true], vec![true], third], "{persist_mode}");
        }
    }

    /// A template that outlives its timeout while it controls connections (`expire_later`)
    /// is queued with its 60 s timeout.
    #[test]
    fn expire_later_queues_the_template() {
        let mut v = Ipvs::default();
        service(&mut v, Protocol::Tcp, true);
        v.handle_packet(0, &tcp(40000, tcp_flags::SYN));
        v.handle_packet(1, &tcp(40000, tcp_flags::ACK));
        v.set_sync_master(Some(SyncRules::default()));
        v.expire(2_500); // the 2 s template expires, its connection is alive
        let q = drain_all(&mut v);
        assert_eq!(q.len(), 1, "{q:?}");
        assert!(q[0].is_template());
        assert_eq!(q[0].timeout, 60);
    }

    /// Entries installed by the sync backup are not sent back while no packet goes through
    /// them here (no echo between two directors that run both roles); a packet through one
    /// follows the packet-count rules from the installed count (the threshold).
    #[test]
    fn installed_entries_are_queued_only_by_packets_here() {
        let (mut m, _) = director();
        m.set_sync_master(Some(SyncRules::default()));
        m.handle_packet(0, &syn("10.0.0.100", 40000));
        let mut ack = syn("10.0.0.100", 40000);
        ack.tcp_flags = tcp_flags::ACK;
        m.handle_packet(1, &ack);
        m.handle_packet(2, &ack);
        let sent = drain_all(&mut m);
        assert_eq!(sent.iter().filter(|e| !e.is_template()).count(), 1);
        let (mut b, _) = director();
        b.set_sync_master(Some(SyncRules::default()));
        for e in &sent {
            b.sync_install(10, e, 3);
        }
        b.expire(20);
        assert!(drain_all(&mut b).is_empty(), "installs queue nothing");
        // The connection's packets here: its count goes 4, 5, …, 53 → synced at 53.
        let mut at = vec![];
        for k in 4..=53u32 {
            b.handle_packet(100 + u64::from(k), &ack);
            if drain_all(&mut b).iter().any(|e| !e.is_template()) {
                at.push(k);
            }
        }
        assert_eq!(at, vec![53]);
    }

    /// One-datagram UDP flows with `sync_threshold 1`: each flow queued once, drained in
    /// bounded chunks, oldest first; a full queue drops and counts; stopping drops the queue.
    #[test]
    fn queue_drains_in_bounded_chunks_and_is_bounded() {
        let mut v = Ipvs::default();
        let mut s = Service::new(ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: ip("10.0.0.49"),
            port: 53,
        });
        s.scheduler = "rr".into();
        v.add_service(&s).unwrap();
        let mut d = Dest::new(ip("10.0.0.56"), 53);
        d.fwd = FwdMethod::Route;
        v.add_dest(&s.key, &d).unwrap();
        v.set_sync_master(Some(SyncRules {
            threshold: 1,
            queue_max: 2_500,
            ..SyncRules::default()
        }));
        let udp = |i: u32| {
            PacketMeta::udp(
                IpAddr::from(std::net::Ipv4Addr::from(0x0a01_0000 + (i >> 10))),
                (i & 1023) as u16 + 1024,
                ip("10.0.0.49"),
                53,
            )
        };
        for i in 0..3_000 {
            v.handle_packet(1, &udp(i));
        }
        // Already-known flows queue nothing more at their 2nd packet.
        for i in 0..10 {
            v.handle_packet(2, &udp(i));
        }
        let st = v.sync_queue_stats().unwrap();
        assert_eq!((st.queued, st.dropped, st.pending), (2_500, 500, 2_500));
        let mut out = vec![];
        let mut chunks = vec![];
        loop {
            let n = v.sync_drain(1_000, &mut out);
            if n == 0 {
                break;
            }
            chunks.push(n);
        }
        assert_eq!(chunks, vec![1_000, 1_000, 500]);
        let first = udp(0);
        assert_eq!((out[0].caddr, out[0].cport), (first.src, first.sport));
        assert_eq!(out.len(), 2_500);
        v.handle_packet(3, &udp(5_000));
        v.set_sync_master(None);
        assert!(v.sync_queue_stats().is_none());
        v.set_sync_master(Some(SyncRules::default()));
        assert_eq!(v.sync_drain(10, &mut out), 0);
    }

    /// `sync_refresh_period`: an entry whose end time moved less than the period is not
    /// synced again unless retries are left and refresh/8 has passed.
    #[test]
    fn refresh_period_and_retries() {
        let r = SyncRules {
            refresh_period_ms: 30_000,
            retries: 1,
            period: 0,
            ..SyncRules::default()
        };
        let c = |pkts| SyncCheck {
            protocol: IPPROTO_TCP,
            state: u16::from(tcp::ESTABLISHED),
            template: false,
            timeout_ms: 900_000,
            in_persistence: false,
            pkts,
        };
        let mut m = SyncMark {
            sync_endtime: 0,
            old_state: u16::from(tcp::ESTABLISHED),
        };
        assert!(sync_conn_needed(&r, 1_000, &c(7), &mut m));
        assert_eq!(m.sync_endtime, 901_000);
        // Moved 2 s < 30 s: the one retry, only after refresh/8 = 3.75 s.
        assert!(!sync_conn_needed(&r, 3_000, &c(8), &mut m));
        assert!(sync_conn_needed(&r, 4_752, &c(9), &mut m));
        assert_eq!(m.sync_endtime & 3, 1);
        assert!(!sync_conn_needed(&r, 20_000, &c(10), &mut m));
        // Moved ≥ 30 s: synced again, retries reset.
        assert!(sync_conn_needed(&r, 40_000, &c(11), &mut m));
        assert_eq!(m.sync_endtime & 3, 0);
    }
}
