//! The decoders never panic on garbage: seeded random buffers and mutations
//! (bit flips, truncation, extension) of keepalived's captured adverts run
//! through the same paths as `fuzz/fuzz_targets/vrrp_decode.rs`.

use lvs_wire::{ChecksumMode, Family, Ipv4Packet, Ipv4Repr, VrrpPacket, VrrpRepr};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn exercise(data: &[u8]) {
    if let Ok(ip) = Ipv4Packet::new_checked(data) {
        let _ = Ipv4Repr::parse(&ip);
        if let Ok(v) = VrrpPacket::new_checked(ip.payload(), Family::Inet) {
            let _ = v.verify_checksum(ChecksumMode::Pseudo {
                src: ip.src_addr().into(),
                dst: ip.dst_addr().into(),
            });
            roundtrip(&v, Family::Inet);
        }
    }
    for family in [Family::Inet, Family::Inet6] {
        if let Ok(v) = VrrpPacket::new_checked(data, family) {
            let _ = v.verify_checksum(ChecksumMode::Plain);
            for i in 0..300 {
                let _ = v.address(i);
            }
            let _ = v.auth_data();
            roundtrip(&v, family);
        }
    }
}

fn roundtrip(v: &VrrpPacket<&[u8]>, family: Family) {
    if let Ok(r) = VrrpRepr::parse(v) {
        let bytes = r.to_bytes(family, ChecksumMode::Plain);
        let again = VrrpRepr::parse(&VrrpPacket::new_checked(&bytes[..], family).unwrap()).unwrap();
        assert_eq!(again, r);
    }
}

// keepalived 2.2.7 VRRPv2 PASS advert, whole IPv4 datagram.
const V2: &str =
    "45c0002c00010000ff70d0560a370001e0000012213364020101f7130a3700640a3700657365637265743132";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn random_buffers() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..50_000 {
        let len = rng.below(96);
        let buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        exercise(&buf);
    }
}

#[test]
fn mutated_keepalived_adverts() {
    let base = hex(V2);
    let mut rng = Rng(42);
    let mut parsed = 0;
    for _ in 0..50_000 {
        let mut b = base.clone();
        for _ in 0..=rng.below(4) {
            match rng.below(4) {
                0 if !b.is_empty() => {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
                1 => b.truncate(rng.below(b.len() + 1)),
                2 => b.extend((0..rng.below(40)).map(|_| rng.next() as u8)),
                _ => {
                    let i = rng.below(b.len());
                    if i < b.len() {
                        b[i] = rng.next() as u8;
                    }
                }
            }
        }
        exercise(&b);
        if Ipv4Packet::new_checked(&b[..]).is_ok() {
            parsed += 1;
        }
    }
    // The mutations must reach past the IP header check often enough to matter.
    assert!(parsed > 5_000, "{parsed}");
}
