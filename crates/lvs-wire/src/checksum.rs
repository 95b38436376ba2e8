//! RFC 1071 Internet checksum and the IPv4 / IPv6 pseudo-headers
//! (RFC 768, RFC 8200 §8.1) used by VRRPv3 (RFC 5798 §5.2.8) and ICMPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One's-complement sum of `data` folded to 16 bits, not inverted.
pub fn sum(data: &[u8]) -> u16 {
    fold(accumulate(0, data))
}

/// Add `data` to a running 32-bit accumulator (big-endian 16-bit words, an odd
/// trailing byte is padded with zero).
pub fn accumulate(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        // Keep the accumulator from overflowing on large inputs.
        if acc > 0xffff_0000 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
    }
    if let [b] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([*b, 0])));
    }
    acc
}

/// Fold a 32-bit accumulator to 16 bits with end-around carry.
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The final checksum field value: the complement of the folded sum.
pub fn finish(acc: u32) -> u16 {
    !fold(acc)
}

/// Accumulate an IPv4 pseudo-header `{src, dst, 0, proto, len}`.
pub fn pseudo_v4(acc: u32, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    let mut acc = accumulate(acc, &src.octets());
    acc = accumulate(acc, &dst.octets());
    acc = acc.wrapping_add(u32::from(proto));
    acc.wrapping_add(u32::from(len))
}

/// Accumulate an IPv6 pseudo-header `{src, dst, len (32 bit), 0, next header}`.
pub fn pseudo_v6(acc: u32, src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u32 {
    let mut acc = accumulate(acc, &src.octets());
    acc = accumulate(acc, &dst.octets());
    acc = accumulate(acc, &len.to_be_bytes());
    acc.wrapping_add(u32::from(next_header))
}

/// Accumulate a pseudo-header for either family. Mixed families accumulate
/// nothing (callers never mix them; the parse paths reject it earlier).
pub fn pseudo(acc: u32, src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_v4(acc, s, d, proto, len as u16),
        (IpAddr::V6(s), IpAddr::V6(d)) => pseudo_v6(acc, s, d, proto, len as u32),
        _ => acc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 numerical example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn verifying_a_filled_checksum_gives_zero() {
        let mut data = vec![0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0, 0, 0x40, 0x11, 0, 0];
        let c = finish(accumulate(0, &data));
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(finish(accumulate(0, &data)), 0);
    }
}
