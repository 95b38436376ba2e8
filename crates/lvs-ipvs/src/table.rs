//! The connection table: a slab of compact entries, a hash index over the
//! kernel's lookup key (cache-line buckets, see [`index`]), and a lazy timer
//! heap.
//!
//! Timers: an entry's deadline (`expires`) is rewritten on every packet
//! without touching the heap. The heap holds at least one record at or
//! before each live entry's deadline; a record that fires early is pushed
//! again at the entry's real deadline. Only a deadline that moves *earlier*
//! pushes a new record (and bumps `tgen`, which makes the older record stale).
//! So the per-packet cost is O(1) and nothing ever scans the table.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod index;

use index::Index;

/// Connection flags (`IP_VS_CONN_F_*`).
pub mod flags {
    pub const FWD_MASK: u32 = 0x0007;
    pub const MASQ: u32 = 0x0000;
    pub const HASHED: u32 = 0x0040;
    pub const NOOUTPUT: u32 = 0x0080;
    pub const INACTIVE: u32 = 0x0100;
    pub const TEMPLATE: u32 = 0x1000;
    pub const ONE_PACKET: u32 = 0x2000;
    /// Model-only: slot is free.
    pub(crate) const FREE: u32 = 0x8000_0000;
}

/// `IP_VS_CTPL_S_ASSURED`.
pub const CTPL_S_ASSURED: u8 = 1;

/// "No entry" for index links.
pub(crate) const NIL: u32 = u32::MAX;

/// A connection entry or persistence template (`struct ip_vs_conn`, the
/// fields the model needs). 104 bytes.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub caddr: [u8; 16],
    pub vaddr: [u8; 16],
    pub daddr: [u8; 16],
    /// Deadline of the entry's timer (ms).
    pub expires: u64,
    pub flags: u32,
    /// Current timeout (ms) — what the next `ip_vs_conn_put` arms.
    pub timeout: u32,
    pub fwmark: u32,
    pub dest: u32,
    /// Controlling template (or NIL); for free slots, the next free slot.
    pub control: u32,
    pub n_control: u32,
    pub in_pkts: u32,
    /// Slot generation (changes on reuse).
    pub gen: u32,
    /// Timer generation: changes whenever the deadline moves earlier and
    /// when the slot is reused, so a heap record names (slot, tgen).
    pub tgen: u32,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    /// 4 or 6.
    pub af: u8,
    pub daf: u8,
    pub proto: u8,
    pub state: u8,
    /// State at the entry's last sync (`old_state`; the sync master's forced
    /// sync on a state change, see [`crate::sync`]).
    pub old_state: u8,
}

/// The lookup key of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    pub caddr: [u8; 16],
    pub vaddr: [u8; 16],
    pub cport: u16,
    pub vport: u16,
    pub af: u8,
    pub proto: u8,
    pub template: bool,
}

impl Conn {
    pub(crate) fn key(&self) -> Key {
        Key {
            caddr: self.caddr,
            vaddr: self.vaddr,
            cport: self.cport,
            vport: self.vport,
            af: self.af,
            proto: self.proto,
            template: self.flags & flags::TEMPLATE != 0,
        }
    }

    #[inline]
    fn matches(&self, k: &Key) -> bool {
        self.cport == k.cport
            && self.vport == k.vport
            && self.caddr == k.caddr
            && self.vaddr == k.vaddr
            && self.proto == k.proto
            && self.af == k.af
            && (self.flags & flags::TEMPLATE != 0) == k.template
    }

    pub(crate) fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }
}

/// Address bytes as stored (`union nf_inet_addr`: IPv4 in the first 4 bytes).
pub(crate) fn addr_bytes(a: &IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&v4.octets());
            b
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

pub(crate) fn bytes_addr(af: u8, b: &[u8; 16]) -> IpAddr {
    if af == 6 {
        IpAddr::V6(Ipv6Addr::from(*b))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

#[inline]
fn mix(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline]
fn hash_key(seed: u64, k: &Key) -> u64 {
    let w = |b: &[u8; 16], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let tail = (k.cport as u64)
        | ((k.vport as u64) << 16)
        | ((k.af as u64) << 32)
        | ((k.proto as u64) << 40)
        | ((k.template as u64) << 48);
    let h = mix(
        w(&k.caddr, 0) ^ seed,
        w(&k.caddr, 8) ^ 0x9E37_79B9_7F4A_7C15,
    );
    let h2 = mix(w(&k.vaddr, 0) ^ h, w(&k.vaddr, 8) ^ 0xC2B2_AE3D_27D4_EB4F);
    mix(h2 ^ tail, 0x1656_67B1_9E37_79F9 ^ seed)
}

/// A heap record: (deadline, slot, timer generation). 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TimerRec {
    at: u64,
    idx: u32,
    tgen: u32,
}

/// The table.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub conns: Vec<Conn>,
    free: u32,
    index: Index,
    heap: BinaryHeap<Reverse<TimerRec>>,
    seed: u64,
    pub count: usize,
}

impl Table {
    pub fn new(seed: u64) -> Self {
        Table {
            conns: Vec::new(),
            free: NIL,
            index: Index::default(),
            heap: BinaryHeap::new(),
            seed,
            count: 0,
        }
    }

    /// Pre-size for `n` entries.
    pub fn reserve(&mut self, n: usize) {
        self.conns.reserve(n);
        let Table {
            conns, index, seed, ..
        } = self;
        index.reserve(n, |i| hash_key(*seed, &conns[i as usize].key()));
        self.heap.reserve(n);
    }

    /// Allocate a slot for `c` (not yet hashed, timer not armed).
    pub fn alloc(&mut self, mut c: Conn) -> u32 {
        self.count += 1;
        if self.free != NIL {
            let idx = self.free;
            let slot = &mut self.conns[idx as usize];
            self.free = slot.control;
            c.gen = slot.gen.wrapping_add(1);
            // Records of the previous occupant become stale.
            c.tgen = slot.tgen.wrapping_add(1);
            *slot = c;
            idx
        } else {
            c.gen = 0;
            c.tgen = 0;
            self.conns.push(c);
            (self.conns.len() - 1) as u32
        }
    }

    /// Free a slot (must be unhashed).
    pub fn release(&mut self, idx: u32) {
        let slot = &mut self.conns[idx as usize];
        debug_assert_eq!(slot.flags & flags::HASHED, 0);
        slot.flags = flags::FREE;
        slot.control = self.free;
        slot.n_control = 0;
        self.free = idx;
        self.count -= 1;
    }

    pub fn is_live(&self, idx: u32) -> bool {
        self.conns
            .get(idx as usize)
            .is_some_and(|c| c.flags & flags::FREE == 0)
    }

    pub fn hash(&mut self, idx: u32) {
        let Table {
            conns, index, seed, ..
        } = self;
        let k = conns[idx as usize].key();
        let h = hash_key(*seed, &k);
        // Newest first, like hlist_add_head: remove an older entry with the same
        // key from the index (it stays in the slab until its timer fires).
        if let Some(old) = index.remove(h, |i| conns[i as usize].matches(&k)) {
            conns[old as usize].flags &= !flags::HASHED;
        }
        index.insert(h, idx, |i| hash_key(*seed, &conns[i as usize].key()));
        conns[idx as usize].flags |= flags::HASHED;
    }

    pub fn unhash(&mut self, idx: u32) -> bool {
        let c = &self.conns[idx as usize];
        if c.flags & flags::HASHED == 0 {
            return false;
        }
        let h = hash_key(self.seed, &c.key());
        self.index.remove(h, |i| i == idx);
        self.conns[idx as usize].flags &= !flags::HASHED;
        true
    }

    #[inline]
    pub fn lookup(&self, k: &Key) -> Option<u32> {
        let h = hash_key(self.seed, k);
        self.index.find(h, |i| self.conns[i as usize].matches(k))
    }

    /// Load the index line a lookup of `k` reads (a prefetch made of a plain
    /// load; the value means nothing).
    #[inline]
    pub fn touch_index(&self, k: &Key) -> u64 {
        self.index.touch(hash_key(self.seed, k))
    }

    /// Load the entry a lookup of `k` would compare first (after
    /// [`Self::touch_index`]: the index line is in cache by then).
    #[inline]
    pub fn touch_entry(&self, k: &Key) -> u64 {
        let h = hash_key(self.seed, k);
        match self.index.first_candidate(h) {
            Some(i) => self.conns.get(i as usize).map_or(0, |c| c.expires),
            None => 0,
        }
    }

    /// `ip_vs_conn_put` / `mod_timer`: deadline = now + timeout.
    #[inline]
    pub fn arm(&mut self, idx: u32, deadline: u64, fresh: bool) {
        let c = &mut self.conns[idx as usize];
        let old = c.expires;
        c.expires = deadline;
        if fresh || old == 0 || deadline < old {
            c.tgen = c.tgen.wrapping_add(1);
            let rec = TimerRec {
                at: deadline,
                idx,
                tgen: c.tgen,
            };
            self.heap.push(Reverse(rec));
        }
    }

    /// Earliest heap record (may be early; never late).
    pub fn next_deadline(&self) -> Option<u64> {
        self.heap.peek().map(|r| r.0.at)
    }

    /// Pop the next entry whose deadline is `<= now`, re-filing records that
    /// fired early. Returns (slot, deadline).
    pub fn pop_due(&mut self, now: u64) -> Option<(u32, u64)> {
        while let Some(&Reverse(rec)) = self.heap.peek() {
            if rec.at > now {
                return None;
            }
            self.heap.pop();
            let Some(c) = self.conns.get(rec.idx as usize) else {
                continue;
            };
            if c.flags & flags::FREE != 0 || c.tgen != rec.tgen {
                continue;
            }
            if c.expires <= now {
                return Some((rec.idx, c.expires));
            }
            let at = c.expires;
            self.heap.push(Reverse(TimerRec { at, ..rec }));
        }
        None
    }

    /// Bytes allocated by the table (slab, index, heap), for the memory figure.
    pub fn allocated_bytes(&self) -> usize {
        self.conns.capacity() * std::mem::size_of::<Conn>()
            + self.index.allocated_bytes()
            + self.heap.capacity() * std::mem::size_of::<Reverse<TimerRec>>()
    }

    pub fn iter_live(&self) -> impl Iterator<Item = (u32, &Conn)> {
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.flags & flags::FREE == 0)
            .map(|(i, c)| (i as u32, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(cport: u16) -> Conn {
        Conn {
            caddr: addr_bytes(&"10.0.0.100".parse().unwrap()),
            vaddr: addr_bytes(&"10.0.0.49".parse().unwrap()),
            daddr: [0; 16],
            expires: 0,
            flags: 0,
            timeout: 3000,
            fwmark: 0,
            dest: 0,
            control: NIL,
            n_control: 0,
            in_pkts: 0,
            gen: 0,
            tgen: 0,
            cport,
            vport: 80,
            dport: 80,
            af: 4,
            daf: 4,
            proto: 6,
            state: 0,
            old_state: 0,
        }
    }

    #[test]
    fn conn_is_compact() {
        assert!(
            std::mem::size_of::<Conn>() <= 104,
            "{}",
            std::mem::size_of::<Conn>()
        );
    }

    #[test]
    fn lookup_hash_unhash_and_reuse() {
        let mut t = Table::new(7);
        let a = t.alloc(conn(1000));
        t.hash(a);
        let k = t.conns[a as usize].key();
        assert_eq!(t.lookup(&k), Some(a));
        let mut tk = k;
        tk.template = true;
        assert_eq!(t.lookup(&tk), None);
        assert!(t.unhash(a));
        assert_eq!(t.lookup(&k), None);
        t.release(a);
        let b = t.alloc(conn(1001));
        assert_eq!(a, b);
        assert_eq!(t.conns[b as usize].gen, 1);
    }

    #[test]
    fn lazy_timers_fire_at_the_real_deadline() {
        let mut t = Table::new(1);
        let a = t.alloc(conn(1));
        t.arm(a, 100, true);
        t.arm(a, 500, false); // extended: no new record
        assert_eq!(t.next_deadline(), Some(100));
        assert_eq!(t.pop_due(400), None); // re-filed at 500
        assert_eq!(t.pop_due(500), Some((a, 500)));
        t.arm(a, 900, false);
        t.arm(a, 600, false); // moved earlier: new record, older one stale
        assert_eq!(t.pop_due(10_000), Some((a, 600)));
    }

    #[test]
    fn records_of_a_reused_slot_are_stale() {
        let mut t = Table::new(1);
        let a = t.alloc(conn(1));
        t.hash(a);
        t.arm(a, 100, true);
        assert!(t.unhash(a));
        t.release(a);
        let b = t.alloc(conn(2));
        assert_eq!(a, b);
        t.hash(b);
        t.arm(b, 1000, true);
        // The first occupant's record at 100 must not expire the new entry.
        assert_eq!(t.pop_due(500), None);
        assert_eq!(t.pop_due(1000), Some((b, 1000)));
    }

    #[test]
    fn index_survives_growth_and_churn() {
        let mut t = Table::new(3);
        let mut live = Vec::new();
        for p in 0..5000u16 {
            let i = t.alloc(conn(p));
            t.hash(i);
            live.push(i);
        }
        for (n, &i) in live.iter().enumerate() {
            if n % 3 == 0 {
                assert!(t.unhash(i));
                t.release(i);
            }
        }
        for (n, &i) in live.iter().enumerate() {
            let k = conn(n as u16).key();
            let want = (n % 3 != 0).then_some(i);
            assert_eq!(t.lookup(&k), want, "{n}");
        }
    }
}
