//! The hash index over connection slots: open addressing in cache-line
//! buckets.
//!
//! Each 64-byte line holds 7 slots and an overflow count. A slot packs the
//! upper 32 bits of the entry's hash (the tag) with its slab index, so a
//! lookup reads one index line (two only after an overflow) and touches an
//! entry only when its 32-bit tag matches: one memory access for the index
//! and one for the entry, where a control-byte table followed by a separate
//! slot array costs two for the index alone. An entry lives in the first
//! line from its home line with a free slot; every full line it passes
//! counts it in `overflow`, so a lookup stops at the first line whose
//! overflow count is zero. Deletion decrements the same counts: no
//! tombstones, no rehash after churn.

/// One cache line of the index.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Line {
    slots: [u64; SLOTS],
    /// Entries whose home line is at or before this one and that live
    /// after it.
    overflow: u64,
}

const SLOTS: usize = 7;
const EMPTY: u64 = u64::MAX;
/// Slab index meaning "no entry" (the slab never reaches it).
const NIL: u32 = u32::MAX;

const EMPTY_LINE: Line = Line {
    slots: [EMPTY; SLOTS],
    overflow: 0,
};

#[inline]
fn slot_idx(s: u64) -> u32 {
    s as u32
}

#[inline]
fn pack(tag: u32, idx: u32) -> u64 {
    ((tag as u64) << 32) | idx as u64
}

/// The index: hashes → slab indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    lines: Vec<Line>,
    len: usize,
}

impl Index {
    /// Entries the index holds before it grows: 3/4 of its slots.
    fn capacity_of(lines: usize) -> usize {
        lines * SLOTS * 3 / 4
    }

    fn lines_for(n: usize) -> usize {
        let mut lines = 8usize;
        while Self::capacity_of(lines) < n {
            lines *= 2;
        }
        lines
    }

    #[inline]
    fn mask(&self) -> usize {
        self.lines.len() - 1
    }

    /// Make room for `n` entries in total without growing.
    pub fn reserve(&mut self, n: usize, hash_of: impl Fn(u32) -> u64) {
        if self.lines.is_empty() || Self::capacity_of(self.lines.len()) < n {
            self.resize(Self::lines_for(n), hash_of);
        }
    }

    fn resize(&mut self, lines: usize, hash_of: impl Fn(u32) -> u64) {
        let old = std::mem::replace(&mut self.lines, vec![EMPTY_LINE; lines]);
        self.len = 0;
        for line in &old {
            for &s in &line.slots {
                if slot_idx(s) != NIL {
                    let idx = slot_idx(s);
                    self.place(hash_of(idx), idx);
                }
            }
        }
    }

    /// Read the line a lookup for `h` starts at, so that it is in cache
    /// when the lookup comes (a plain load used as a prefetch).
    #[inline]
    pub fn touch(&self, h: u64) -> u64 {
        if self.lines.is_empty() {
            return 0;
        }
        self.lines[h as usize & self.mask()].overflow
    }

    /// The first entry with hash `h` for which `eq` holds.
    #[inline]
    pub fn find(&self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.lines.is_empty() {
            return None;
        }
        let tag = (h >> 32) as u32;
        let mask = self.mask();
        let mut li = h as usize & mask;
        loop {
            let line = &self.lines[li];
            for &s in &line.slots {
                if (s >> 32) as u32 == tag && slot_idx(s) != NIL && eq(slot_idx(s)) {
                    return Some(slot_idx(s));
                }
            }
            if line.overflow == 0 {
                return None;
            }
            li = (li + 1) & mask;
        }
    }

    /// The candidate entry for hash `h` whose tag matches (for prefetching;
    /// no key comparison).
    #[inline]
    pub fn first_candidate(&self, h: u64) -> Option<u32> {
        self.find(h, |_| true)
    }

    /// Insert `idx` with hash `h` (the caller ensures it is not present).
    pub fn insert(&mut self, h: u64, idx: u32, hash_of: impl Fn(u32) -> u64) {
        if self.lines.is_empty() || self.len + 1 > Self::capacity_of(self.lines.len()) {
            let lines = Self::lines_for(self.len + 1).max(self.lines.len() * 2);
            self.resize(lines, hash_of);
        }
        self.place(h, idx);
    }

    fn place(&mut self, h: u64, idx: u32) {
        let tag = (h >> 32) as u32;
        let mask = self.mask();
        let mut li = h as usize & mask;
        loop {
            let line = &mut self.lines[li];
            if let Some(s) = line.slots.iter_mut().find(|s| slot_idx(**s) == NIL) {
                *s = pack(tag, idx);
                self.len += 1;
                return;
            }
            line.overflow += 1;
            li = (li + 1) & mask;
        }
    }

    /// Remove the first entry with hash `h` for which `eq` holds; returns it.
    pub fn remove(&mut self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.lines.is_empty() {
            return None;
        }
        let tag = (h >> 32) as u32;
        let mask = self.mask();
        let home = h as usize & mask;
        let mut li = home;
        let found =
            loop {
                let line = &mut self.lines[li];
                if let Some(s) = line.slots.iter_mut().find(|s| {
                    (**s >> 32) as u32 == tag && slot_idx(**s) != NIL && eq(slot_idx(**s))
                }) {
                    let idx = slot_idx(*s);
                    *s = EMPTY;
                    break idx;
                }
                if line.overflow == 0 {
                    return None;
                }
                li = (li + 1) & mask;
            };
        // Un-count the lines passed on the way.
        let mut p = home;
        while p != li {
            self.lines[p].overflow -= 1;
            p = (p + 1) & mask;
        }
        self.len -= 1;
        Some(found)
    }

    /// Bytes allocated.
    pub fn allocated_bytes(&self) -> usize {
        self.lines.capacity() * std::mem::size_of::<Line>()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn h(i: u32) -> u64 {
        // Few distinct home lines, some equal tags: forces overflow chains.
        let home = (i % 5) as u64;
        let tag = (i % 3) as u64;
        (tag << 32) | home
    }

    #[test]
    fn line_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Line>(), 64);
        assert_eq!(std::mem::align_of::<Line>(), 64);
    }

    #[test]
    fn overflow_chains_insert_find_remove_and_grow() {
        let mut ix = Index::default();
        let mut live: HashMap<u32, ()> = HashMap::new();
        for i in 0..400u32 {
            ix.insert(h(i), i, h);
            live.insert(i, ());
        }
        assert_eq!(ix.len(), 400);
        for i in 0..400u32 {
            assert_eq!(ix.find(h(i), |x| x == i), Some(i));
        }
        // Remove every other entry; the rest stay reachable past the holes.
        for i in (0..400u32).step_by(2) {
            assert_eq!(ix.remove(h(i), |x| x == i), Some(i));
            live.remove(&i);
        }
        for i in 0..400u32 {
            let want = live.contains_key(&i).then_some(i);
            assert_eq!(ix.find(h(i), |x| x == i), want, "{i}");
        }
        assert_eq!(ix.remove(h(0), |x| x == 0), None);
        // Everything removed: every overflow count is back to zero.
        for i in (1..400u32).step_by(2) {
            assert_eq!(ix.remove(h(i), |x| x == i), Some(i));
        }
        assert_eq!(ix.len(), 0);
        assert!(ix.lines.iter().all(|l| l.overflow == 0));
    }

    #[test]
    fn reserve_sizes_for_three_quarters_load() {
        let mut ix = Index::default();
        ix.reserve(1_000_000, |_| 0);
        assert_eq!(ix.lines.len(), 1 << 18);
        assert!(ix.allocated_bytes() as f64 / 1e6 < 17.0);
    }
}
