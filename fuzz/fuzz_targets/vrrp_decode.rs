//! Fuzz the VRRP receive path: IPv4 datagram → VRRP view → Repr, for both
//! families and both checksum modes; re-emitting a parsed Repr must parse
//! back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs_wire::{ChecksumMode, Family, Ipv4Packet, Ipv4Repr, VrrpPacket, VrrpRepr};

fuzz_target!(|data: &[u8]| {
    // As a raw-socket IPv4 datagram.
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
    // As the payload an IPv6 raw socket returns.
    for family in [Family::Inet, Family::Inet6] {
        if let Ok(v) = VrrpPacket::new_checked(data, family) {
            let _ = v.verify_checksum(ChecksumMode::Plain);
            roundtrip(&v, family);
        }
    }
});

fn roundtrip(v: &VrrpPacket<&[u8]>, family: Family) {
    if let Ok(r) = VrrpRepr::parse(v) {
        let bytes = r.to_bytes(family, ChecksumMode::Plain);
        let again = VrrpRepr::parse(&VrrpPacket::new_checked(&bytes[..], family).unwrap()).unwrap();
        assert_eq!(again, r);
    }
}
