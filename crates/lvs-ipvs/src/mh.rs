//! The Maglev hashing scheduler (`ip_vs_mh.c`) and the 64-bit kernel's
//! `hsiphash` (SipHash-1-3 with 64-bit words, `lib/siphash.c`).

use std::net::IpAddr;

use crate::sched::{addr_fold, DestState, DEST_F_OVERLOAD};

/// Fixed keys of `ip_vs_mh.c` (`generate_hash_secret`).
const HASH1: u64 = 2_654_435_761;
const HASH2: u64 = 2_654_446_892;

#[inline]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// `hsiphash(&v, 4, key)` on a 64-bit kernel with `key = {k, k}`.
pub fn hsiphash_u32(v: u32, k: u64) -> u32 {
    let mut s = [
        0x736f_6d65_7073_6575u64 ^ k,
        0x646f_7261_6e64_6f6du64 ^ k,
        0x6c79_6765_6e65_7261u64 ^ k,
        0x7465_6462_7974_6573u64 ^ k,
    ];
    let b: u64 = (4u64 << 56) | v as u64;
    s[3] ^= b;
    sipround(&mut s);
    s[0] ^= b;
    s[2] ^= 0xff;
    sipround(&mut s);
    sipround(&mut s);
    sipround(&mut s);
    (s[0] ^ s[1] ^ s[2] ^ s[3]) as u32
}

/// `ip_vs_mh_hashkey`.
pub fn hashkey(addr: &IpAddr, port: u16, key: u64, offset: u32) -> u32 {
    let v = offset
        .wrapping_add(port as u32)
        .wrapping_add(addr_fold(addr));
    hsiphash_u32(v, key)
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

fn fls(x: u32) -> i32 {
    32 - x.leading_zeros() as i32
}

/// `ip_vs_mh_reassign`: permutation + population of the lookup table.
pub fn populate(lookup: &mut [Option<u32>], tab_bits: u32, list: &[u32], ds: &[DestState]) {
    let m = lookup.len();
    let mut g = 0;
    let mut maxw = 0;
    for &d in list {
        let w = ds[d as usize].last_weight;
        if w > 0 {
            g = if g > 0 { gcd(w, g) } else { w };
        }
        maxw = maxw.max(w);
    }
    if g < 1 {
        lookup.iter_mut().for_each(|e| *e = None);
        return;
    }
    let shift = fls((maxw / g) as u32) - tab_bits as i32;
    let rshift = shift.max(0) as u32;
    struct Setup {
        perm: usize,
        skip: usize,
        turns: i32,
    }
    let mut setup: Vec<Setup> = list
        .iter()
        .map(|&d| {
            let dd = &ds[d as usize];
            let offset = hashkey(&dd.addr, dd.port, HASH1, 0) as usize % m;
            let skip = hashkey(&dd.addr, dd.port, HASH2, 0) as usize % (m - 1) + 1;
            let lw = dd.last_weight;
            let t = (lw / g) >> rshift;
            Setup {
                perm: offset,
                skip,
                turns: if t != 0 { t } else { (lw != 0) as i32 },
            }
        })
        .collect();
    let mut filled = vec![false; m];
    let mut n = 0;
    let mut dt_count = 0;
    loop {
        let mut i = 0;
        while i < list.len() {
            let s = &mut setup[i];
            if s.turns < 1 {
                i += 1;
                continue;
            }
            let mut c = s.perm;
            while filled[c] {
                s.perm += s.skip;
                if s.perm >= m {
                    s.perm -= m;
                }
                c = s.perm;
            }
            filled[c] = true;
            lookup[c] = Some(list[i]);
            n += 1;
            if n == m {
                return;
            }
            dt_count += 1;
            if dt_count >= s.turns {
                dt_count = 0;
                i += 1;
            }
        }
    }
}

/// `ip_vs_mh_get` / `ip_vs_mh_get_fallback`.
pub fn schedule(
    lookup: &[Option<u32>],
    ds: &[DestState],
    saddr: &IpAddr,
    port: u16,
    fallback: bool,
) -> Option<u32> {
    let m = lookup.len() as u32;
    let unavailable = |x: u32| {
        let d = &ds[x as usize];
        d.weight <= 0 || d.flags & DEST_F_OVERLOAD != 0
    };
    let ihash = hashkey(saddr, port, HASH1, 0) % m;
    let first = lookup[ihash as usize]?;
    if !unavailable(first) {
        return Some(first);
    }
    if !fallback {
        return None;
    }
    for off in 0..m {
        let roff = (off + ihash) % m;
        let h = hashkey(saddr, port, HASH1, roff) % m;
        let x = lookup[h as usize]?;
        if !unavailable(x) {
            return Some(x);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::DEST_F_AVAILABLE;

    /// Reference SipHash-1-3 over an 8-byte little-endian block, written
    /// independently (byte-oriented) to cross-check the word version.
    fn siphash13_bytes(msg: &[u8], k0: u64, k1: u64) -> u64 {
        let mut v = [
            k0 ^ 0x736f6d6570736575,
            k1 ^ 0x646f72616e646f6d,
            k0 ^ 0x6c7967656e657261,
            k1 ^ 0x7465646279746573,
        ];
        let mut last = [0u8; 8];
        last[..msg.len()].copy_from_slice(msg);
        last[7] = msg.len() as u8;
        let b = u64::from_le_bytes(last);
        v[3] ^= b;
        sipround(&mut v);
        v[0] ^= b;
        v[2] ^= 0xff;
        for _ in 0..3 {
            sipround(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }

    #[test]
    fn hsiphash_is_siphash13_of_four_bytes() {
        for v in [0u32, 1, 0x0a00_0038, 0xffff_ffff] {
            let want = siphash13_bytes(&v.to_le_bytes(), HASH1, HASH1) as u32;
            assert_eq!(hsiphash_u32(v, HASH1), want);
        }
    }

    fn dest(a: &str, w: i32) -> DestState {
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

    #[test]
    fn table_is_full_and_balanced_by_weight() {
        let ds = vec![
            dest("10.0.0.1", 1),
            dest("10.0.0.2", 1),
            dest("10.0.0.3", 2),
        ];
        let list = vec![2, 1, 0];
        let mut lookup = vec![None; 251];
        populate(&mut lookup, 4, &list, &ds);
        assert!(lookup.iter().all(|e| e.is_some()));
        let count = |d: u32| lookup.iter().filter(|&&e| e == Some(d)).count();
        // Turns 2,1,1 out of 251: dest 2 gets about half.
        assert_eq!(count(0) + count(1) + count(2), 251);
        assert!(count(2) > 120 && count(2) < 130, "{}", count(2));
        // The first slot each dest takes is its offset.
        let off = hashkey(&ds[2].addr, 80, HASH1, 0) as usize % 251;
        assert_eq!(lookup[off], Some(2));
    }

    #[test]
    fn quiesced_keeps_slots_and_fallback_moves() {
        let mut ds = vec![dest("10.0.0.1", 1), dest("10.0.0.2", 1)];
        let list = vec![1, 0];
        let mut lookup = vec![None; 251];
        populate(&mut lookup, 4, &list, &ds);
        let before = lookup.clone();
        ds[0].weight = 0; // last_weight stays 1
        populate(&mut lookup, 4, &list, &ds);
        assert_eq!(before, lookup);
        // A client mapped to dest 0 gets NULL without fallback, dest 1 with it.
        let client = (0..1000u32)
            .map(|i| IpAddr::from(std::net::Ipv4Addr::from(0x0a01_0000 + i)))
            .find(|a| lookup[(hashkey(a, 0, HASH1, 0) % 251) as usize] == Some(0))
            .unwrap();
        assert_eq!(schedule(&lookup, &ds, &client, 0, false), None);
        assert_eq!(schedule(&lookup, &ds, &client, 0, true), Some(1));
    }
}
