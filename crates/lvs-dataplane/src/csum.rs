//! Internet checksum (RFC 1071) and incremental update (RFC 1624).

/// Adds `data` (big-endian 16-bit words, odd byte padded) to a 32-bit
/// one's-complement accumulator.
pub fn add(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        if acc > 0xffff_0000 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
    }
    if let [b] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*b) << 8);
    }
    acc
}

/// Folds an accumulator to 16 bits (not complemented).
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum of `data`: complement of the folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(add(0, data))
}

/// RFC 1624 eqn. 3: new checksum after a 16-bit word changed `old → new`.
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    let acc = u32::from(!csum) + u32::from(!old) + u32::from(new);
    !fold(acc)
}

/// Incremental update for a changed byte string (even length, word aligned).
pub fn update(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    debug_assert_eq!(old.len() % 2, 0);
    let mut acc = u32::from(!csum);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        acc += u32::from(!u16::from_be_bytes([o[0], o[1]]));
        acc += u32::from(u16::from_be_bytes([n[0], n[1]]));
    }
    !fold(acc)
}

/// Pseudo-header sum for TCP/UDP over IPv4 or IPv6 (addresses as raw bytes).
pub fn pseudo(src: &[u8], dst: &[u8], proto: u8, len: u32) -> u32 {
    let mut acc = add(0, src);
    acc = add(acc, dst);
    acc = acc.wrapping_add(u32::from(proto));
    acc.wrapping_add(len >> 16).wrapping_add(len & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add(0, &d)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn incremental_matches_full() {
        let mut d: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
        d[10] = 0;
        d[11] = 0;
        let c = checksum(&d);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&d), 0);
        let old = d[20..24].to_vec();
        let new = [0xde, 0xad, 0xbe, 0xef];
        d[20..24].copy_from_slice(&new);
        let c2 = update(c, &old, &new);
        d[10..12].copy_from_slice(&c2.to_be_bytes());
        assert_eq!(checksum(&d), 0);
        let c3 = update16(c2, 0xdead, 0x0000);
        d[20..22].copy_from_slice(&[0, 0]);
        d[10..12].copy_from_slice(&c3.to_be_bytes());
        assert_eq!(checksum(&d), 0);
    }

    #[test]
    fn odd_length() {
        assert_eq!(fold(add(0, &[1, 2, 3])), 0x0102 + 0x0300);
    }
}
