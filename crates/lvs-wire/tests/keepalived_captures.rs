//! Round-trip every frame keepalived 2.2.7 sent in the captures under
//! `tests/fixtures/` (taken with tcpdump in a network namespace; the configs
//! are next to them): parse → expected values → emit → identical bytes.

use std::net::IpAddr;

use lvs_wire::ethernet::MacAddr;
use lvs_wire::{
    ArpPacket, ArpRepr, ChecksumMode, EtherType, EthernetFrame, Family, Ipv4Packet, Ipv4Repr,
    Ipv6Packet, NeighborAdvertPacket, NeighborAdvertRepr, VrrpPacket, VrrpRepr, VrrpVersion,
};

/// Minimal pcap (libpcap classic format, little-endian, Ethernet) reader.
fn frames(name: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    assert_eq!(
        u32::from_le_bytes(b[20..24].try_into().unwrap()),
        1,
        "linktype Ethernet"
    );
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        out.push(b[off + 16..off + 16 + caplen].to_vec());
        off += 16 + caplen;
    }
    out
}

const KEEPALIVED_MAC: MacAddr = MacAddr([2, 0, 0, 0, 5, 1]);

#[derive(Default, Debug)]
struct Seen {
    adverts: Vec<VrrpRepr>,
    garps: usize,
    nas: usize,
}

fn check_capture(name: &str, version: VrrpVersion) -> Seen {
    let mut seen = Seen::default();
    for f in frames(name) {
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        if eth.src_addr() != KEEPALIVED_MAC {
            continue; // the observer's own router solicitations / ARP replies
        }
        match eth.ethertype() {
            EtherType::Ipv4 => {
                let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
                let ipr = Ipv4Repr::parse(&ip).unwrap();
                if ipr.protocol != lvs_wire::IPPROTO_VRRP {
                    continue;
                }
                assert_eq!(
                    (ipr.tos, ipr.ttl),
                    (0xc0, 255),
                    "keepalived sends TOS 0xc0, TTL 255"
                );
                let v = VrrpPacket::new_checked(ip.payload(), Family::Inet).unwrap();
                let mode = match version {
                    VrrpVersion::V2 => ChecksumMode::Plain,
                    VrrpVersion::V3 => ChecksumMode::Pseudo {
                        src: IpAddr::V4(ipr.src_addr),
                        dst: IpAddr::V4(ipr.dst_addr),
                    },
                };
                assert!(v.verify_checksum(mode), "{name}: checksum");
                let r = VrrpRepr::parse(&v).unwrap();
                assert_eq!(r.version, version);
                let again =
                    r.to_ipv4_datagram(ipr.src_addr, ipr.dst_addr, ipr.ttl, ipr.ident, mode);
                assert_eq!(
                    again,
                    &eth.payload()[..again.len()],
                    "{name}: re-emitted datagram differs"
                );
                seen.adverts.push(r);
            }
            EtherType::Ipv6 => {
                let ip = Ipv6Packet::new_checked(eth.payload()).unwrap();
                let (src, dst) = (ip.src_addr(), ip.dst_addr());
                match ip.next_header() {
                    112 => {
                        assert_eq!((ip.traffic_class(), ip.hop_limit()), (0xc0, 255));
                        let v = VrrpPacket::new_checked(ip.payload(), Family::Inet6).unwrap();
                        let mode = ChecksumMode::Pseudo {
                            src: IpAddr::V6(src),
                            dst: IpAddr::V6(dst),
                        };
                        assert!(v.verify_checksum(mode));
                        let r = VrrpRepr::parse(&v).unwrap();
                        assert_eq!(r.to_bytes(Family::Inet6, mode), ip.payload());
                        seen.adverts.push(r);
                    }
                    58 if ip.payload().first() == Some(&lvs_wire::ndisc::TYPE_NEIGHBOR_ADVERT) => {
                        let na = NeighborAdvertPacket::new_checked(ip.payload()).unwrap();
                        let r = NeighborAdvertRepr::parse(&na, src, dst).unwrap();
                        assert_eq!(r, NeighborAdvertRepr::unsolicited(KEEPALIVED_MAC, src));
                        assert_eq!(r.to_all_nodes_frame(KEEPALIVED_MAC), f);
                        seen.nas += 1;
                    }
                    _ => {}
                }
            }
            EtherType::Arp => {
                let a = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
                if a.source_protocol_addr == a.target_protocol_addr {
                    assert_eq!(
                        a,
                        ArpRepr::gratuitous(KEEPALIVED_MAC, a.source_protocol_addr)
                    );
                    assert_eq!(a.to_broadcast_frame().to_vec(), f);
                    seen.garps += 1;
                }
            }
            EtherType::Unknown(_) => {}
        }
    }
    seen
}

#[test]
fn v2_pass_multicast() {
    let s = check_capture("keepalived-v2pass.pcap", VrrpVersion::V2);
    // 3 adverts at prio 100, then the prio-0 advert on SIGTERM.
    let prios: Vec<u8> = s.adverts.iter().map(|a| a.priority).collect();
    assert_eq!(prios, vec![100, 100, 100, 0]);
    // garp_master_repeat 2 × 2 VIPs, twice (garp_master_delay 1).
    assert_eq!(s.garps, 8);
}

#[test]
fn v3_ipv4_multicast() {
    let s = check_capture("keepalived-v3.pcap", VrrpVersion::V3);
    assert!(s.adverts.iter().all(|a| a.adver_int == 50));
    assert_eq!(s.adverts.last().unwrap().priority, 0);
    assert_eq!(s.garps, 1);
}

#[test]
fn v3_ipv4_unicast() {
    let s = check_capture("keepalived-v3u.pcap", VrrpVersion::V3);
    assert_eq!(s.adverts.len(), 4);
    assert_eq!(s.adverts[0].addresses.len(), 2);
    assert_eq!(s.garps, 2);
}

#[test]
fn v3_ipv6_multicast() {
    let s = check_capture("keepalived-v36.pcap", VrrpVersion::V3);
    assert_eq!(
        s.adverts.iter().map(|a| a.priority).collect::<Vec<_>>(),
        vec![100, 100, 100, 0]
    );
    assert_eq!(s.nas, 1);
}
