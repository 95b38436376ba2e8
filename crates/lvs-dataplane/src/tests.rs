//! Packet-path tests on byte buffers: frames in, frames out.

use std::net::IpAddr;
use std::time::Duration;

use crate::csum;
use crate::decide::{FwdMethod, PacketMeta, Verdict};
use crate::parse::{self, proto, tcp_flags, ETH_P_IP, ETH_P_IPV6};
use crate::plane::{Dataplane, RxMeta, TxFrame};
use crate::route::{Iface, Route, Routing};

const DIR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const CLI_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x64];
const RS1_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x38];
const GW_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xfe];
const T: Duration = Duration::from_secs(10);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn routing() -> Routing {
    Routing::new(
        vec![
            Iface {
                ifindex: 2,
                name: "eth0".into(),
                mac: DIR_MAC,
                mtu: 1500,
                addrs: vec![(ip("10.0.0.1"), 24), (ip("fd00::1"), 64)],
            },
            Iface {
                ifindex: 3,
                name: "eth1".into(),
                mac: [2, 0, 0, 0, 1, 1],
                mtu: 1500,
                addrs: vec![(ip("192.168.1.1"), 24)],
            },
        ],
        vec![Route {
            dst: ip("0.0.0.0"),
            prefix_len: 0,
            gateway: Some(ip("10.0.0.254")),
            ifindex: 2,
            metric: 0,
        }],
    )
}

/// A TCP segment in an Ethernet frame with valid checksums.
fn tcp_frame(src: &str, sport: u16, dst: &str, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (s, d) = (ip(src), ip(dst));
    let mut f = Vec::new();
    f.extend_from_slice(&DIR_MAC);
    f.extend_from_slice(&CLI_MAC);
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&1000u32.to_be_bytes());
    tcp.extend_from_slice(&0u32.to_be_bytes());
    tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let (sb, db) = match (s, d) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (s.octets().to_vec(), d.octets().to_vec()),
        (IpAddr::V6(s), IpAddr::V6(d)) => (s.octets().to_vec(), d.octets().to_vec()),
        _ => panic!(),
    };
    let c = !csum::fold(csum::add(
        csum::pseudo(&sb, &db, proto::TCP, tcp.len() as u32),
        &tcp,
    ));
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    if s.is_ipv4() {
        f.extend_from_slice(&ETH_P_IP.to_be_bytes());
        let l3 = f.len();
        let tot = (20 + tcp.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&tot.to_be_bytes());
        f.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, proto::TCP, 0, 0]);
        f.extend_from_slice(&sb);
        f.extend_from_slice(&db);
        crate::rewrite::ipv4_header_checksum(&mut f, l3);
    } else {
        f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        f.extend_from_slice(&[proto::TCP, 64]);
        f.extend_from_slice(&sb);
        f.extend_from_slice(&db);
    }
    f.extend_from_slice(&tcp);
    f
}

/// Verifies the IPv4 header checksum (if IPv4) and the TCP/UDP checksum.
fn checksums_ok(f: &[u8]) -> bool {
    let et = parse::ethertype(f).unwrap();
    let p = parse::ip(f, et, 14).unwrap();
    if et == ETH_P_IP && csum::checksum(&f[14..p.l4]) != 0 {
        return false;
    }
    let (s, d) = if p.is_v6() {
        (22..38, 38..54)
    } else {
        (26..30, 30..34)
    };
    let acc = csum::pseudo(&f[s], &f[d], p.proto, (p.end - p.l4) as u32);
    !csum::fold(csum::add(acc, &f[p.l4..p.end])) == 0
}

fn host(ifindex: i32) -> RxMeta {
    RxMeta {
        ifindex,
        pkttype: 0,
        csum_not_ready: false,
    }
}

fn arp_reply(from_ip: &str, from_mac: [u8; 6]) -> Vec<u8> {
    let IpAddr::V4(a) = ip(from_ip) else { panic!() };
    let mut f = crate::neigh::arp_request(from_mac, a, "10.0.0.1".parse().unwrap());
    f[0..6].copy_from_slice(&DIR_MAC);
    f[21] = 2; // op = reply
    f[32..38].copy_from_slice(&DIR_MAC);
    f
}

fn dr_decider(
    method: FwdMethod,
    daddr: &'static str,
    dport: u16,
) -> impl FnMut(Duration, &PacketMeta) -> Verdict {
    move |_, m: &PacketMeta| {
        if m.dport == 80 && (m.daddr == ip("10.0.0.49") || m.daddr == ip("fd00::49")) {
            Verdict::Forward {
                method,
                daddr: ip(daddr),
                dport,
            }
        } else if m.sport == 8080 && m.saddr == ip("192.168.1.2") {
            Verdict::Reply {
                vaddr: ip("10.0.0.49"),
                vport: 80,
            }
        } else {
            Verdict::Pass
        }
    }
}

#[test]
fn dr_resolves_then_forwards_unchanged() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Route, "10.0.0.56", 80), routing());
    let syn = tcp_frame("10.0.0.100", 40000, "10.0.0.49", 80, tcp_flags::SYN, b"");
    let mut out: Vec<TxFrame> = Vec::new();
    dp.handle(T, &host(2), &syn, &mut out);
    // Unknown MAC: one ARP probe, the SYN waits.
    assert_eq!(out.len(), 1);
    let a = parse::arp(&out[0].frame).unwrap();
    assert_eq!(
        (a.op, a.tpa.to_string(), a.spa.to_string()),
        (1, "10.0.0.56".into(), "10.0.0.1".into())
    );
    out.clear();
    dp.handle(T, &host(2), &arp_reply("10.0.0.56", RS1_MAC), &mut out);
    assert_eq!(out.len(), 1);
    let f = &out[0].frame;
    assert_eq!(out[0].ifindex, 2);
    assert_eq!(&f[0..6], &RS1_MAC);
    assert_eq!(&f[6..12], &DIR_MAC);
    assert_eq!(&f[12..], &syn[12..], "DR leaves the IP packet untouched");
    // Next packet goes straight out.
    out.clear();
    let ack = tcp_frame(
        "10.0.0.100",
        40000,
        "10.0.0.49",
        80,
        tcp_flags::ACK,
        b"GET / HTTP/1.0\r\n\r\n",
    );
    dp.handle(T, &host(2), &ack, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].frame[0..6], &RS1_MAC);
    assert_eq!(dp.counters().forwarded, 2);
}

#[test]
fn not_for_us_and_pass_are_ignored() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Route, "10.0.0.56", 80), routing());
    let mut out = Vec::new();
    let other = tcp_frame("10.0.0.100", 40000, "10.0.0.1", 22, tcp_flags::SYN, b"");
    dp.handle(T, &host(2), &other, &mut out);
    let syn = tcp_frame("10.0.0.100", 40000, "10.0.0.49", 80, tcp_flags::SYN, b"");
    let promisc = RxMeta {
        pkttype: 3,
        ..host(2)
    };
    dp.handle(T, &promisc, &syn, &mut out);
    // ARP replies not addressed to one of our addresses are not learned.
    let mut r = arp_reply("10.0.0.77", [9; 6]);
    r[41] = 2; // target protocol address 10.0.0.2
    dp.handle(T, &host(2), &r, &mut out);
    assert!(out.is_empty());
    assert!(dp.neighbours().is_empty());
    // Replies to us are (with fan-out another worker may have asked).
    dp.handle(T, &host(2), &arp_reply("10.0.0.77", [9; 6]), &mut out);
    assert_eq!(dp.neighbours(), vec![(2, ip("10.0.0.77"), [9; 6])]);
    assert_eq!(dp.counters().passed, 1);
}

#[test]
fn seeded_neighbour_releases_queued_frames() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Route, "10.0.0.56", 80), routing());
    let syn = tcp_frame("10.0.0.100", 40000, "10.0.0.49", 80, tcp_flags::SYN, b"");
    let mut out = Vec::new();
    dp.handle(T, &host(2), &syn, &mut out);
    assert_eq!(out.len(), 1); // the probe
    out.clear();
    dp.seed_neighbour(T, 2, ip("10.0.0.56"), RS1_MAC);
    dp.take_pending(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].frame[0..6], &RS1_MAC);
    assert_eq!(&out[0].frame[12..], &syn[12..]);
}

#[test]
fn nat_rewrites_destination_and_reply_source() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Masq, "192.168.1.2", 8080), routing());
    dp.seed_neighbour(T, 3, ip("192.168.1.2"), RS1_MAC);
    dp.seed_neighbour(T, 2, ip("10.0.0.254"), GW_MAC);
    let mut out = Vec::new();
    let req = tcp_frame(
        "203.0.113.5",
        40000,
        "10.0.0.49",
        80,
        tcp_flags::ACK | tcp_flags::PSH,
        b"GET / HTTP/1.0\r\n\r\n",
    );
    dp.handle(T, &host(2), &req, &mut out);
    assert_eq!(out.len(), 1);
    let f = &out[0].frame;
    assert_eq!(out[0].ifindex, 3);
    assert_eq!(&f[0..6], &RS1_MAC);
    let p = parse::ip(f, ETH_P_IP, 14).unwrap();
    assert_eq!(
        (p.dst, p.dport, p.src, p.sport),
        (ip("192.168.1.2"), 8080, ip("203.0.113.5"), 40000)
    );
    assert!(checksums_ok(f));
    // The reply: from RIP:8080 to the (off-link) client, via the gateway.
    let rep = tcp_frame(
        "192.168.1.2",
        8080,
        "203.0.113.5",
        40000,
        tcp_flags::ACK,
        b"HTTP/1.0 200 OK\r\n\r\n",
    );
    out.clear();
    dp.handle(T, &host(3), &rep, &mut out);
    assert_eq!(out.len(), 1);
    let f = &out[0].frame;
    assert_eq!((out[0].ifindex, &f[0..6]), (2, &GW_MAC[..]));
    let p = parse::ip(f, ETH_P_IP, 14).unwrap();
    assert_eq!((p.src, p.sport), (ip("10.0.0.49"), 80));
    assert!(checksums_ok(f));
    assert_eq!(dp.counters().replies, 1);
}

#[test]
fn nat_ipv6_and_partial_checksum_completion() {
    let mut dp = Dataplane::new(
        |_: Duration, m: &PacketMeta| {
            if m.daddr == ip("fd00::49") {
                Verdict::Forward {
                    method: FwdMethod::Masq,
                    daddr: ip("fd00::56"),
                    dport: 8080,
                }
            } else {
                Verdict::Pass
            }
        },
        routing(),
    );
    dp.seed_neighbour(T, 2, ip("fd00::56"), RS1_MAC);
    let mut req = tcp_frame("fd00::100", 40000, "fd00::49", 80, tcp_flags::SYN, b"x");
    // Simulate CHECKSUM_PARTIAL: garbage in the checksum field.
    req[14 + 40 + 16] = 0xab;
    req[14 + 40 + 17] = 0xcd;
    let mut out = Vec::new();
    let rx = RxMeta {
        csum_not_ready: true,
        ..host(2)
    };
    dp.handle(T, &rx, &req, &mut out);
    assert_eq!(out.len(), 1);
    let f = &out[0].frame;
    let p = parse::ip(f, ETH_P_IPV6, 14).unwrap();
    assert_eq!((p.dst, p.dport), (ip("fd00::56"), 8080));
    assert!(checksums_ok(f));
}

#[test]
fn tunnel_encapsulates_ipip() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Tunnel, "192.168.1.2", 80), routing());
    dp.seed_neighbour(T, 3, ip("192.168.1.2"), RS1_MAC);
    let req = tcp_frame("10.0.0.100", 40000, "10.0.0.49", 80, tcp_flags::SYN, b"");
    let mut out = Vec::new();
    dp.handle(T, &host(2), &req, &mut out);
    assert_eq!(out.len(), 1);
    let f = &out[0].frame;
    let outer = parse::ip(f, ETH_P_IP, 14).unwrap();
    assert_eq!(outer.proto, proto::IPIP);
    assert_eq!(
        (outer.src, outer.dst),
        (ip("192.168.1.1"), ip("192.168.1.2"))
    );
    assert_eq!(csum::checksum(&f[14..34]), 0);
    assert_eq!(f[14 + 8], 64, "outer TTL = inner TTL");
    assert!(outer.dont_fragment);
    assert_eq!(&f[34..], &req[14..], "inner packet unchanged");
}

#[test]
fn gso_superframe_is_segmented() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Route, "10.0.0.56", 80), routing());
    dp.seed_neighbour(T, 2, ip("10.0.0.56"), RS1_MAC);
    let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
    let big = tcp_frame(
        "10.0.0.100",
        40000,
        "10.0.0.49",
        80,
        tcp_flags::ACK | tcp_flags::PSH | tcp_flags::FIN,
        &payload,
    );
    let mut out = Vec::new();
    dp.handle(T, &host(2), &big, &mut out);
    assert_eq!(out.len(), 3); // 1460 + 1460 + 1080
    let mut got = Vec::new();
    for (i, t) in out.iter().enumerate() {
        let p = parse::ip(&t.frame, ETH_P_IP, 14).unwrap();
        assert!(p.end - 14 <= 1500);
        assert!(checksums_ok(&t.frame), "segment {i}");
        let seq = u32::from_be_bytes(t.frame[p.l4 + 4..p.l4 + 8].try_into().unwrap());
        assert_eq!(seq, 1000 + got.len() as u32);
        let last = i == 2;
        assert_eq!(p.tcp_flags & tcp_flags::FIN != 0, last);
        assert_eq!(p.tcp_flags & tcp_flags::PSH != 0, last);
        got.extend_from_slice(&t.frame[p.l4 + 20..p.end]);
    }
    assert_eq!(got, payload);
    assert_eq!(dp.counters().segmented, 1);
}

#[test]
fn ipv6_dr_uses_neighbour_discovery() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Route, "fd00::56", 80), routing());
    let syn = tcp_frame("fd00::100", 40000, "fd00::49", 80, tcp_flags::SYN, b"");
    let mut out = Vec::new();
    dp.handle(T, &host(2), &syn, &mut out);
    assert_eq!(out.len(), 1);
    let p = parse::ip(&out[0].frame, ETH_P_IPV6, 14).unwrap();
    let nd = parse::nd(&out[0].frame, &p).unwrap();
    assert_eq!(
        (nd.icmp_type, nd.target),
        (135, "fd00::56".parse().unwrap())
    );
    // Neighbour advertisement from the real server.
    let mut na = out[0].frame.clone();
    let IpAddr::V6(rs) = ip("fd00::56") else {
        panic!()
    };
    na[22..38].copy_from_slice(&rs.octets());
    na[54] = 136;
    na[54 + 24] = 2;
    na[54 + 26..54 + 32].copy_from_slice(&RS1_MAC);
    out.clear();
    dp.handle(T, &host(2), &na, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].frame[0..6], &RS1_MAC);
    assert_eq!(&out[0].frame[12..], &syn[12..]);
}

#[test]
fn no_route_and_family_mismatch_drop() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Masq, "fd00::56", 80), routing());
    let syn = tcp_frame("10.0.0.100", 40000, "10.0.0.49", 80, tcp_flags::SYN, b"");
    let mut out = Vec::new();
    dp.handle(T, &host(2), &syn, &mut out);
    assert!(out.is_empty());
    assert_eq!(dp.counters().dropped_no_route, 1);
    let mut dp = Dataplane::new(
        dr_decider(FwdMethod::Route, "172.16.0.1", 80),
        Routing::new(vec![], vec![]),
    );
    dp.handle(T, &host(2), &syn, &mut out);
    assert!(out.is_empty());
    assert_eq!(dp.counters().dropped_no_route, 1);
}

#[test]
fn truncated_and_garbage_frames_do_not_panic() {
    let mut dp = Dataplane::new(dr_decider(FwdMethod::Masq, "192.168.1.2", 8080), routing());
    let syn = tcp_frame("10.0.0.100", 40000, "10.0.0.49", 80, tcp_flags::SYN, b"abc");
    let mut out = Vec::new();
    for n in 0..syn.len() {
        dp.handle(T, &host(2), &syn[..n], &mut out);
    }
    let mut x: u32 = 12345;
    for _ in 0..2000 {
        let mut f = syn.clone();
        for _ in 0..4 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let i = (x as usize >> 8) % f.len();
            f[i] = (x >> 24) as u8;
        }
        dp.handle(T, &host(2), &f, &mut out);
    }
}
