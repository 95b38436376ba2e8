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

use std::net::IpAddr;

use serde::Serialize;

use crate::model::{Ipvs, Millis};
use crate::sched::DEST_F_OVERLOAD;
use crate::table::{addr_bytes, bytes_addr, flags as cf, Conn, Key, NIL};

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
}
