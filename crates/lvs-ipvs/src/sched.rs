//! The IPVS schedulers, bit-exact with `net/netfilter/ipvs/ip_vs_*.c`:
//! rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, dh, mh (Maglev), lblc, lblcr.
//!
//! A scheduler sees the service's real servers in kernel list order
//! (newest first) as indices into the engine's real-server arena.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::admin::SvcFlags;
use crate::mh;

/// `IP_VS_DEST_F_AVAILABLE`.
pub const DEST_F_AVAILABLE: u32 = 0x1;
/// `IP_VS_DEST_F_OVERLOAD`.
pub const DEST_F_OVERLOAD: u32 = 0x2;

/// What a scheduler needs to know about a real server.
#[derive(Debug, Clone, Serialize)]
pub struct DestState {
    pub addr: IpAddr,
    pub port: u16,
    pub weight: i32,
    /// Last non-zero weight (mh keeps slots for quiesced servers).
    pub last_weight: i32,
    pub flags: u32,
    pub activeconns: u32,
    pub inactconns: u32,
    pub persistconns: u32,
}

impl DestState {
    fn overloaded(&self) -> bool {
        self.flags & DEST_F_OVERLOAD != 0
    }
    fn available(&self) -> bool {
        self.flags & DEST_F_AVAILABLE != 0
    }
    /// `ip_vs_dest_conn_overhead`: `(active << 8) + inactive`.
    pub fn overhead(&self) -> i64 {
        ((self.activeconns as i64) << 8) + self.inactconns as i64
    }
}

/// The packet fields schedulers hash on.
#[derive(Debug, Clone, Copy)]
pub struct SchedInput {
    pub saddr: IpAddr,
    pub sport: u16,
    pub daddr: IpAddr,
    /// TCP, UDP or SCTP: the sh/mh `-port` flags use the source port only for these.
    pub has_ports: bool,
}

/// Compile-time table sizes of the kernel (`CONFIG_IP_VS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SchedParams {
    /// `CONFIG_IP_VS_SH_TAB_BITS` (default 8).
    pub sh_tab_bits: u32,
    /// `CONFIG_IP_VS_MH_TAB_INDEX` (default 12 ⇒ 4093 entries).
    pub mh_tab_index: u32,
    /// `lblc_expiration` / `lblcr_expiration` sysctls, milliseconds (default 24 h).
    pub lblc_expiration_ms: u64,
    pub lblcr_expiration_ms: u64,
}

impl Default for SchedParams {
    fn default() -> Self {
        SchedParams {
            sh_tab_bits: 8,
            mh_tab_index: 12,
            lblc_expiration_ms: 24 * 3600 * 1000,
            lblcr_expiration_ms: 24 * 3600 * 1000,
        }
    }
}

/// Known scheduler names.
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "sh", "dh", "mh", "lblc", "lblcr", "none",
];

/// `hash_32(v, bits)` (`include/linux/hash.h`, GOLDEN_RATIO_32).
pub fn hash_32(v: u32, bits: u32) -> u32 {
    v.wrapping_mul(0x61C8_8647) >> (32 - bits)
}

/// `ntohl(addr->ip)` or the xor-fold of the four IPv6 words, in host order.
pub fn addr_fold(addr: &IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from_be_bytes(a.octets()),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            w(0) ^ w(4) ^ w(8) ^ w(12)
        }
    }
}

fn gcd(a: i32, b: i32) -> i32 {
    let (mut a, mut b) = (a, b);
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// A cache entry of lblc.
#[derive(Debug, Clone)]
pub struct LblcEntry {
    dest: u32,
    lastuse: u64,
}

/// A cache entry of lblcr: a destination set, newest member first.
#[derive(Debug, Clone)]
pub struct LblcrEntry {
    set: Vec<u32>,
    lastmod: u64,
    lastuse: u64,
}

/// Scheduler state (`svc->sched_data`).
#[derive(Debug, Clone)]
pub enum Scheduler {
    /// `None` = list head.
    Rr {
        pos: Option<u32>,
    },
    Wrr {
        cl: Option<u32>,
        cw: i32,
        mw: i32,
        di: i32,
    },
    Lc,
    Wlc,
    Sed,
    Nq,
    Fo,
    Ovf,
    Sh {
        buckets: Vec<Option<u32>>,
        bits: u32,
    },
    Dh {
        buckets: Vec<Option<u32>>,
    },
    Mh {
        lookup: Vec<Option<u32>>,
        tab_bits: u32,
    },
    Lblc {
        cache: HashMap<IpAddr, LblcEntry>,
        expiration: u64,
    },
    Lblcr {
        cache: HashMap<IpAddr, LblcrEntry>,
        expiration: u64,
    },
    /// `none`: never schedules.
    NoSched,
}

/// MH table sizes by `CONFIG_IP_VS_MH_TAB_INDEX - 8`.
const MH_PRIMES: [usize; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];

impl Scheduler {
    /// `init_service`.
    pub fn new(name: &str, p: &SchedParams) -> Option<Scheduler> {
        Some(match name {
            "rr" => Scheduler::Rr { pos: None },
            "wrr" => Scheduler::Wrr {
                cl: None,
                cw: 0,
                mw: 0,
                di: 1,
            },
            "lc" => Scheduler::Lc,
            "wlc" => Scheduler::Wlc,
            "sed" => Scheduler::Sed,
            "nq" => Scheduler::Nq,
            "fo" => Scheduler::Fo,
            "ovf" => Scheduler::Ovf,
            "sh" => Scheduler::Sh {
                buckets: vec![None; 1 << p.sh_tab_bits],
                bits: p.sh_tab_bits,
            },
            "dh" => Scheduler::Dh {
                buckets: vec![None; 256],
            },
            "mh" => {
                let idx = p.mh_tab_index.clamp(8, 17);
                Scheduler::Mh {
                    lookup: vec![None; MH_PRIMES[(idx - 8) as usize]],
                    tab_bits: idx / 2,
                }
            }
            "lblc" => Scheduler::Lblc {
                cache: HashMap::new(),
                expiration: p.lblc_expiration_ms,
            },
            "lblcr" => Scheduler::Lblcr {
                cache: HashMap::new(),
                expiration: p.lblcr_expiration_ms,
            },
            "none" => Scheduler::NoSched,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scheduler::Rr { .. } => "rr",
            Scheduler::Wrr { .. } => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Sh { .. } => "sh",
            Scheduler::Dh { .. } => "dh",
            Scheduler::Mh { .. } => "mh",
            Scheduler::Lblc { .. } => "lblc",
            Scheduler::Lblcr { .. } => "lblcr",
            Scheduler::NoSched => "none",
        }
    }

    /// `add_dest` hook; `list` already has the new dest at its head.
    pub fn add_dest(&mut self, list: &[u32], ds: &[DestState]) {
        self.dests_changed(list, ds, false);
    }

    /// `upd_dest` hook.
    pub fn upd_dest(&mut self, list: &[u32], ds: &[DestState]) {
        self.dests_changed(list, ds, true);
    }

    /// `del_dest` hook. `old_list` is the list before unlinking `removed`.
    pub fn del_dest(&mut self, old_list: &[u32], list: &[u32], removed: u32, ds: &[DestState]) {
        if let Scheduler::Rr { pos } = self {
            // sched_data moves to the previous entry (or the head).
            if *pos == Some(removed) {
                let i = old_list.iter().position(|&d| d == removed).unwrap_or(0);
                *pos = if i == 0 { None } else { Some(old_list[i - 1]) };
            }
            return;
        }
        self.dests_changed(list, ds, false);
    }

    fn dests_changed(&mut self, list: &[u32], ds: &[DestState], update: bool) {
        match self {
            Scheduler::Wrr { cl, cw, mw, di } => {
                *cl = None;
                let mut g = 0;
                let mut max = 0;
                for &d in list {
                    let w = ds[d as usize].weight;
                    if w > 0 {
                        g = if g > 0 { gcd(w, g) } else { w };
                    }
                    max = max.max(w);
                }
                *di = if g > 0 { g } else { 1 };
                *mw = max - (*di - 1);
                if *cw > *mw || *cw == 0 {
                    *cw = *mw;
                } else if *di > 1 {
                    *cw = (*cw / *di) * *di + 1;
                }
            }
            Scheduler::Sh { buckets, .. } => {
                let mut p = 0usize;
                let mut count = 0;
                for b in buckets.iter_mut() {
                    if list.is_empty() {
                        *b = None;
                        continue;
                    }
                    if p >= list.len() {
                        p = 0;
                    }
                    let d = list[p];
                    *b = Some(d);
                    count += 1;
                    if count >= ds[d as usize].weight {
                        p += 1;
                        count = 0;
                    }
                }
            }
            Scheduler::Dh { buckets } => {
                if update {
                    return; // dh has no upd_dest hook
                }
                let mut p = 0usize;
                for b in buckets.iter_mut() {
                    if list.is_empty() {
                        *b = None;
                        continue;
                    }
                    if p >= list.len() {
                        p = 0;
                    }
                    *b = Some(list[p]);
                    p += 1;
                }
            }
            Scheduler::Mh { lookup, tab_bits } => mh::populate(lookup, *tab_bits, list, ds),
            _ => {}
        }
    }

    /// `schedule`: pick a real server for a new connection (None = no server).
    pub fn schedule(
        &mut self,
        now: u64,
        svc_flags: SvcFlags,
        list: &[u32],
        ds: &[DestState],
        pkt: &SchedInput,
    ) -> Option<u32> {
        let d = |i: u32| &ds[i as usize];
        match self {
            Scheduler::Rr { pos } => {
                // Elements after `pos` to the tail, then (if pos is an element)
                // from the head up to and including `pos`.
                let start = match *pos {
                    None => 0,
                    Some(p) => list
                        .iter()
                        .position(|&x| x == p)
                        .map(|i| i + 1)
                        .unwrap_or(0),
                };
                let mut order = list[start..].iter();
                let wrap = if pos.is_some() && start > 0 {
                    &list[..start]
                } else {
                    &[][..]
                };
                let hit = order
                    .by_ref()
                    .chain(wrap.iter())
                    .copied()
                    .find(|&x| !d(x).overloaded() && d(x).weight > 0);
                if let Some(h) = hit {
                    *pos = Some(h);
                }
                hit
            }
            Scheduler::Wrr { cl, cw, mw, di } => wrr_schedule(cl, cw, *mw, *di, list, ds),
            Scheduler::Lc => {
                let mut least: Option<(u32, i64)> = None;
                for &x in list {
                    let dx = d(x);
                    if dx.overloaded() || dx.weight == 0 {
                        continue;
                    }
                    let doh = dx.overhead();
                    if least.is_none_or(|(_, loh)| doh < loh) {
                        least = Some((x, doh));
                    }
                }
                least.map(|l| l.0)
            }
            Scheduler::Wlc => weighted_least(list, ds, DestState::overhead),
            Scheduler::Sed => weighted_least(list, ds, |x| x.activeconns as i64 + 1),
            Scheduler::Nq => {
                let mut least: Option<(u32, i64)> = None;
                for &x in list {
                    let dx = d(x);
                    if dx.overloaded() || dx.weight == 0 {
                        continue;
                    }
                    let doh = dx.activeconns as i64 + 1;
                    if dx.activeconns == 0 {
                        return Some(x);
                    }
                    match least {
                        None => least = Some((x, doh)),
                        Some((l, loh)) => {
                            if loh * dx.weight as i64 > doh * d(l).weight as i64 {
                                least = Some((x, doh));
                            }
                        }
                    }
                }
                least.map(|l| l.0)
            }
            Scheduler::Fo => {
                let mut hw = 0;
                let mut best = None;
                for &x in list {
                    let dx = d(x);
                    if !dx.overloaded() && dx.weight > hw {
                        hw = dx.weight;
                        best = Some(x);
                    }
                }
                best
            }
            Scheduler::Ovf => {
                let mut h: Option<u32> = None;
                for &x in list {
                    let dx = d(x);
                    let w = dx.weight;
                    if dx.overloaded() || dx.activeconns as i64 > w as i64 || w == 0 {
                        continue;
                    }
                    if h.is_none_or(|h| w > d(h).weight) {
                        h = Some(x);
                    }
                }
                h
            }
            Scheduler::Sh { buckets, bits } => {
                let port = if svc_flags.has(SvcFlags::SCHED2) && pkt.has_ports {
                    pkt.sport
                } else {
                    0
                };
                let size = buckets.len() as u32;
                let key = |off: u32| -> usize {
                    (off.wrapping_add(hash_32(
                        (port as u32).wrapping_add(addr_fold(&pkt.saddr)),
                        *bits,
                    )) & (size - 1)) as usize
                };
                let unavailable = |x: u32| d(x).weight <= 0 || d(x).overloaded();
                let ihash = key(0);
                let first = buckets[ihash]?;
                if !unavailable(first) {
                    return Some(first);
                }
                if !svc_flags.has(SvcFlags::SCHED1) {
                    return None;
                }
                for off in 0..size {
                    let roff = (off + ihash as u32) % size;
                    let x = buckets[key(roff)]?;
                    if !unavailable(x) {
                        return Some(x);
                    }
                }
                None
            }
            Scheduler::Dh { buckets } => {
                let x = buckets[hash_32(addr_fold(&pkt.daddr), 8) as usize]?;
                let dx = d(x);
                if !dx.available() || dx.weight <= 0 || dx.overloaded() {
                    return None;
                }
                Some(x)
            }
            Scheduler::Mh { lookup, .. } => {
                let port = if svc_flags.has(SvcFlags::SCHED2) && pkt.has_ports {
                    pkt.sport
                } else {
                    0
                };
                mh::schedule(
                    lookup,
                    ds,
                    &pkt.saddr,
                    port,
                    svc_flags.has(SvcFlags::SCHED1),
                )
            }
            Scheduler::Lblc { cache, .. } => {
                if let Some(en) = cache.get_mut(&pkt.daddr) {
                    en.lastuse = now;
                    let x = en.dest;
                    let dx = d(x);
                    if dx.available() && dx.weight > 0 && !lblc_is_overloaded(dx, list, ds) {
                        return Some(x);
                    }
                }
                let x = lblc_pick(list, ds)?;
                let en = cache.entry(pkt.daddr).or_insert(LblcEntry {
                    dest: x,
                    lastuse: now,
                });
                en.dest = x;
                Some(x)
            }
            Scheduler::Lblcr { cache, expiration } => {
                if let Some(en) = cache.get_mut(&pkt.daddr) {
                    en.lastuse = now;
                    let min = set_min(&en.set, ds);
                    if en.set.len() > 1 && now > en.lastmod + *expiration {
                        if let Some(m) = set_max(&en.set, ds) {
                            en.set.retain(|&y| y != m);
                            en.lastmod = now;
                        }
                    }
                    if let Some(x) = min {
                        if !lblc_is_overloaded(d(x), list, ds) {
                            return Some(x);
                        }
                    }
                    let x = lblc_pick(list, ds)?;
                    if !en.set.contains(&x) {
                        en.set.insert(0, x);
                        en.lastmod = now;
                    }
                    return Some(x);
                }
                let x = lblc_pick(list, ds)?;
                cache.insert(
                    pkt.daddr,
                    LblcrEntry {
                        set: vec![x],
                        lastmod: now,
                        lastuse: now,
                    },
                );
                Some(x)
            }
            Scheduler::NoSched => None,
        }
    }

    /// The periodic lblc/lblcr garbage collection (`ip_vs_lblc_check_expire`,
    /// full sweep): drop cache entries idle longer than the expiration.
    pub fn gc(&mut self, now: u64) {
        match self {
            Scheduler::Lblc { cache, expiration } => {
                let e = *expiration;
                cache.retain(|_, en| now.saturating_sub(en.lastuse) <= e);
            }
            Scheduler::Lblcr { cache, expiration } => {
                let e = *expiration;
                cache.retain(|_, en| now.saturating_sub(en.lastuse) <= e);
            }
            _ => {}
        }
    }

    /// Drop references to a real server that is being freed.
    pub fn forget(&mut self, dest: u32) {
        match self {
            Scheduler::Lblc { cache, .. } => cache.retain(|_, en| en.dest != dest),
            Scheduler::Lblcr { cache, .. } => {
                for en in cache.values_mut() {
                    en.set.retain(|&x| x != dest);
                }
            }
            _ => {}
        }
    }
}

fn wrr_schedule(
    cl: &mut Option<u32>,
    cw: &mut i32,
    mw: i32,
    di: i32,
    list: &[u32],
    ds: &[DestState],
) -> Option<u32> {
    if mw == 0 {
        return None;
    }
    // Position index: None = head; Some(i) = list[i].
    let last: Option<usize> = cl.and_then(|c| list.iter().position(|&x| x == c));
    let mut cur = last;
    let mut stop: Option<usize> = None;
    let mut last_pass = false;
    let mut restarted = false;
    loop {
        let from = cur.map(|i| i + 1).unwrap_or(0);
        for (i, &x) in list.iter().enumerate().skip(from) {
            let dx = &ds[x as usize];
            if dx.flags & DEST_F_OVERLOAD == 0 && dx.weight >= *cw {
                *cl = Some(x);
                return Some(x);
            }
            if Some(i) == stop {
                return None;
            }
        }
        cur = None;
        *cw -= di;
        if *cw <= 0 {
            *cw = mw;
            if last_pass || last.is_none() {
                return None;
            }
            restarted = true;
        }
        last_pass = *cw <= di;
        if last_pass && restarted && last.is_some() {
            stop = last;
        }
    }
}

/// wlc/sed: first eligible (not OVERLOAD, weight > 0), then strictly better by
/// `loh * w_d > doh * w_least` (OVERLOAD skipped).
fn weighted_least(list: &[u32], ds: &[DestState], oh: impl Fn(&DestState) -> i64) -> Option<u32> {
    let mut it = list.iter().copied();
    let mut least = it.by_ref().find(|&x| {
        let dx = &ds[x as usize];
        !dx.overloaded() && dx.weight > 0
    })?;
    let mut loh = oh(&ds[least as usize]);
    for x in it {
        let dx = &ds[x as usize];
        if dx.overloaded() {
            continue;
        }
        let doh = oh(dx);
        if loh * dx.weight as i64 > doh * ds[least as usize].weight as i64 {
            least = x;
            loh = doh;
        }
    }
    Some(least)
}

/// `__ip_vs_lblc_schedule` / `__ip_vs_lblcr_schedule` (wlc over all dests).
fn lblc_pick(list: &[u32], ds: &[DestState]) -> Option<u32> {
    weighted_least(list, ds, DestState::overhead)
}

/// lblc/lblcr `is_overloaded`: active > weight and some dest has active*2 < weight.
fn lblc_is_overloaded(dx: &DestState, list: &[u32], ds: &[DestState]) -> bool {
    if dx.activeconns as i64 > dx.weight as i64 {
        return list.iter().any(|&y| {
            let dy = &ds[y as usize];
            (dy.activeconns as i64) * 2 < dy.weight as i64
        });
    }
    false
}

/// `ip_vs_dest_set_min`.
fn set_min(set: &[u32], ds: &[DestState]) -> Option<u32> {
    let mut it = set.iter().copied();
    let mut least = it.by_ref().find(|&x| {
        let dx = &ds[x as usize];
        !dx.overloaded() && dx.weight > 0 && dx.available()
    })?;
    let mut loh = ds[least as usize].overhead();
    for x in it {
        let dx = &ds[x as usize];
        if dx.overloaded() {
            continue;
        }
        let doh = dx.overhead();
        if loh * dx.weight as i64 > doh * ds[least as usize].weight as i64 && dx.available() {
            least = x;
            loh = doh;
        }
    }
    Some(least)
}

/// `ip_vs_dest_set_max`.
fn set_max(set: &[u32], ds: &[DestState]) -> Option<u32> {
    let mut it = set.iter().copied();
    let mut most = it.by_ref().find(|&x| ds[x as usize].weight > 0)?;
    let mut moh = ds[most as usize].overhead();
    for x in it {
        let dx = &ds[x as usize];
        let doh = dx.overhead();
        if moh * (dx.weight as i64) < doh * ds[most as usize].weight as i64 && dx.weight > 0 {
            most = x;
            moh = doh;
        }
    }
    Some(most)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn dest(a: &str, w: i32) -> DestState {
        DestState {
            addr: a.parse().unwrap(),
            port: 80,
            weight: w,
            last_weight: w,
            flags: DEST_F_AVAILABLE,
            activeconns: 0,
            inactconns: 0,
            persistconns: 0,
        }
    }

    fn pkt(src: &str) -> SchedInput {
        SchedInput {
            saddr: src.parse().unwrap(),
            sport: 1234,
            daddr: "10.0.0.49".parse().unwrap(),
            has_ports: true,
        }
    }

    /// Build a scheduler, adding dests one by one like the kernel (each to the head).
    fn build(name: &str, ds: &[DestState]) -> (Scheduler, Vec<u32>) {
        let mut s = Scheduler::new(name, &SchedParams::default()).unwrap();
        let mut list = Vec::new();
        for i in 0..ds.len() as u32 {
            list.insert(0, i);
            s.add_dest(&list, ds);
        }
        (s, list)
    }

    fn run(s: &mut Scheduler, list: &[u32], ds: &[DestState], n: usize) -> Vec<u32> {
        (0..n)
            .map(|_| {
                s.schedule(0, SvcFlags(0), list, ds, &pkt("1.2.3.4"))
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn rr_starts_with_newest() {
        let ds = vec![dest("10.0.0.56", 100), dest("10.0.0.57", 100)];
        let (mut s, list) = build("rr", &ds);
        assert_eq!(list, vec![1, 0]);
        assert_eq!(run(&mut s, &list, &ds, 4), vec![1, 0, 1, 0]);
    }

    #[test]
    fn rr_skips_quiesced_and_overloaded() {
        let mut ds = vec![
            dest("10.0.0.1", 1),
            dest("10.0.0.2", 0),
            dest("10.0.0.3", 1),
        ];
        ds[0].flags |= DEST_F_OVERLOAD;
        let (mut s, list) = build("rr", &ds);
        // list = [2, 1, 0]: only 2 is eligible.
        assert_eq!(run(&mut s, &list, &ds, 3), vec![2, 2, 2]);
        ds[2].weight = 0;
        assert_eq!(
            s.schedule(0, SvcFlags(0), &list, &ds, &pkt("1.1.1.1")),
            None
        );
    }

    #[test]
    fn rr_del_dest_moves_to_previous() {
        let ds = vec![
            dest("10.0.0.1", 1),
            dest("10.0.0.2", 1),
            dest("10.0.0.3", 1),
        ];
        let (mut s, list) = build("rr", &ds);
        // list [2,1,0]; pick 2 then 1.
        assert_eq!(run(&mut s, &list, &ds, 2), vec![2, 1]);
        let new: Vec<u32> = vec![2, 0];
        s.del_dest(&list, &new, 1, &ds);
        // position is now 2 -> next is 0.
        assert_eq!(run(&mut s, &new, &ds, 3), vec![0, 2, 0]);
    }

    #[test]
    fn wrr_sequence_3_2_1() {
        // Added C(1), B(2), A(3) so that the list is A, B, C (newest first).
        let ds = vec![
            dest("10.0.0.3", 1),
            dest("10.0.0.2", 2),
            dest("10.0.0.1", 3),
        ];
        let (mut s, list) = build("wrr", &ds);
        assert_eq!(list, vec![2, 1, 0]);
        // Adding dests one by one leaves cw = 1: a first pass A B C, then the
        // steady cycle A A B A B C.
        assert_eq!(
            run(&mut s, &list, &ds, 12),
            vec![2, 1, 0, 2, 2, 1, 2, 1, 0, 2, 2, 1]
        );
    }

    #[test]
    fn wrr_gcd_weights_4_2() {
        let ds = vec![dest("10.0.0.2", 2), dest("10.0.0.1", 4)];
        let (mut s, list) = build("wrr", &ds);
        // di = 2, mw = 3, cw starts at 1: A B, then A A B repeating.
        assert_eq!(run(&mut s, &list, &ds, 8), vec![1, 0, 1, 1, 0, 1, 1, 0]);
    }

    #[test]
    fn wrr_equal_weights_hundred() {
        let ds = vec![dest("10.0.0.56", 100), dest("10.0.0.57", 100)];
        let (mut s, list) = build("wrr", &ds);
        assert_eq!(run(&mut s, &list, &ds, 4), vec![1, 0, 1, 0]);
    }

    #[test]
    fn lc_wlc_sed_nq_tie_breaks_and_loads() {
        let mut ds = vec![
            dest("10.0.0.1", 1),
            dest("10.0.0.2", 3),
            dest("10.0.0.3", 1),
        ];
        let list = vec![2, 1, 0];
        ds[2].activeconns = 1; // overhead 256
        ds[1].activeconns = 2; // 512, weight 3 -> 170.6
        ds[0].inactconns = 300; // 300
        let mut lc = Scheduler::Lc;
        assert_eq!(
            lc.schedule(0, SvcFlags(0), &list, &ds, &pkt("1.1.1.1")),
            Some(2)
        );
        let mut wlc = Scheduler::Wlc;
        assert_eq!(
            wlc.schedule(0, SvcFlags(0), &list, &ds, &pkt("1.1.1.1")),
            Some(1)
        );
        // sed: (active+1)/w: d2: 2/1, d1: 3/3=1, d0: 1/1=1 -> tie between 1 and 0 keeps 1.
        let mut sed = Scheduler::Sed;
        assert_eq!(
            sed.schedule(0, SvcFlags(0), &list, &ds, &pkt("1.1.1.1")),
            Some(1)
        );
        // nq: d0 has no active conns -> chosen directly.
        let mut nq = Scheduler::Nq;
        assert_eq!(
            nq.schedule(0, SvcFlags(0), &list, &ds, &pkt("1.1.1.1")),
            Some(0)
        );
        // All idle: lc/wlc keep the first in list order.
        let idle = vec![dest("10.0.0.1", 1), dest("10.0.0.2", 1)];
        assert_eq!(
            Scheduler::Wlc.schedule(0, SvcFlags(0), &[1, 0], &idle, &pkt("1.1.1.1")),
            Some(1)
        );
        assert_eq!(
            Scheduler::Lc.schedule(0, SvcFlags(0), &[1, 0], &idle, &pkt("1.1.1.1")),
            Some(1)
        );
    }

    #[test]
    fn fo_and_ovf() {
        let mut ds = vec![
            dest("10.0.0.1", 5),
            dest("10.0.0.2", 5),
            dest("10.0.0.3", 2),
        ];
        let list = vec![2, 1, 0];
        assert_eq!(
            Scheduler::Fo.schedule(0, SvcFlags(0), &list, &ds, &pkt("1.1.1.1")),
            Some(1)
        );
        ds[1].activeconns = 6; // over its weight
        assert_eq!(
            Scheduler::Ovf.schedule(0, SvcFlags(0), &list, &ds, &pkt("1.1.1.1")),
            Some(0)
        );
        ds[0].activeconns = 6;
        assert_eq!(
            Scheduler::Ovf.schedule(0, SvcFlags(0), &list, &ds, &pkt("1.1.1.1")),
            Some(2)
        );
    }

    #[test]
    fn hash_32_matches_kernel_constant() {
        // hash_32(1, 8) = (0x61C88647 >> 24) = 0x61.
        assert_eq!(hash_32(1, 8), 0x61);
        assert_eq!(hash_32(0, 8), 0);
        assert_eq!(
            hash_32(0x0a000064, 8),
            (0x0a000064u32.wrapping_mul(0x61C88647)) >> 24
        );
    }

    #[test]
    fn sh_bucket_layout_and_lookup() {
        // A(w2) added last so that the list is A, B.
        let ds = vec![dest("10.0.0.2", 1), dest("10.0.0.1", 2)];
        let (s, list) = build("sh", &ds);
        assert_eq!(list, vec![1, 0]);
        let Scheduler::Sh { buckets, .. } = &s else {
            panic!()
        };
        assert_eq!(
            &buckets[..6],
            &[Some(1), Some(1), Some(0), Some(1), Some(1), Some(0)]
        );
        let mut s = s;
        let src: IpAddr = "192.168.7.9".parse().unwrap();
        let h = hash_32(addr_fold(&src), 8) as usize;
        let expect = if h % 3 == 2 { 0 } else { 1 };
        let got = s.schedule(0, SvcFlags(0), &list, &ds, &pkt("192.168.7.9"));
        assert_eq!(got, Some(expect));
    }

    #[test]
    fn sh_fallback_and_port() {
        let mut ds = vec![dest("10.0.0.2", 1), dest("10.0.0.1", 1)];
        let (mut s, list) = build("sh", &ds);
        let p = pkt("192.168.7.9");
        let first = s.schedule(0, SvcFlags(0), &list, &ds, &p).unwrap();
        ds[first as usize].weight = 0;
        assert_eq!(s.schedule(0, SvcFlags(0), &list, &ds, &p), None);
        let other = 1 - first;
        assert_eq!(
            s.schedule(0, SvcFlags(SvcFlags::SCHED1), &list, &ds, &p),
            Some(other)
        );
        // sh-port: the hash includes the source port.
        ds[first as usize].weight = 1;
        let h = hash_32(1234u32.wrapping_add(addr_fold(&p.saddr)), 8) as usize;
        let expect = list[h % 2];
        assert_eq!(
            s.schedule(0, SvcFlags(SvcFlags::SCHED2), &list, &ds, &p),
            Some(expect)
        );
    }

    #[test]
    fn dh_one_bucket_per_dest() {
        let ds = vec![dest("10.0.0.2", 1), dest("10.0.0.1", 5)];
        let (mut s, list) = build("dh", &ds);
        let p = pkt("1.1.1.1");
        let h = hash_32(addr_fold(&p.daddr), 8) as usize;
        assert_eq!(
            s.schedule(0, SvcFlags(0), &list, &ds, &p),
            Some(list[h % 2])
        );
    }

    #[test]
    fn lblc_sticks_to_cached_dest() {
        let mut ds = vec![dest("10.0.0.2", 1), dest("10.0.0.1", 1)];
        let (mut s, list) = build("lblc", &ds);
        let p = pkt("1.1.1.1");
        let a = s.schedule(0, SvcFlags(0), &list, &ds, &p).unwrap();
        assert_eq!(a, 1);
        ds[1].activeconns = 1; // active (1) > weight (1)? no: equal -> not overloaded
        assert_eq!(s.schedule(1, SvcFlags(0), &list, &ds, &p), Some(1));
        ds[1].activeconns = 2; // 2 > 1 and dest 0 has 0*2 < 1 -> overloaded -> wlc
        assert_eq!(s.schedule(2, SvcFlags(0), &list, &ds, &p), Some(0));
        assert_eq!(s.schedule(3, SvcFlags(0), &list, &ds, &p), Some(0));
    }

    #[test]
    fn lblcr_grows_set_when_overloaded() {
        let mut ds = vec![dest("10.0.0.2", 1), dest("10.0.0.1", 1)];
        let (mut s, list) = build("lblcr", &ds);
        let p = pkt("1.1.1.1");
        assert_eq!(s.schedule(0, SvcFlags(0), &list, &ds, &p), Some(1));
        ds[1].activeconns = 2;
        assert_eq!(s.schedule(1, SvcFlags(0), &list, &ds, &p), Some(0));
        let Scheduler::Lblcr { cache, .. } = &s else {
            panic!()
        };
        assert_eq!(cache[&p.daddr].set, vec![0, 1]);
    }
}
