use super::*;
use crate::admin::{DestKey, Protocol};
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp_svc(vip: &str, port: u16, sched: &str, persist: Option<u32>) -> Service {
    let mut s = Service::new(ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: ip(vip),
        port,
    });
    s.scheduler = sched.into();
    if let Some(p) = persist {
        s.flags = SvcFlags(SvcFlags::PERSISTENT);
        s.timeout = p;
    }
    s
}

fn dest(a: &str, port: u16, w: u32, fwd: FwdMethod) -> admin::Dest {
    let mut d = admin::Dest::new(ip(a), port);
    d.weight = w;
    d.fwd = fwd;
    d
}

/// The seed trace's director: rr, persistence 2 s, .56 then .57, DR, --set 5 3 3.
fn seed() -> (Ipvs, ServiceKey) {
    let mut v = Ipvs::default();
    let s = tcp_svc("10.0.0.49", 80, "rr", Some(2));
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("10.0.0.56", 80, 100, FwdMethod::Route))
        .unwrap();
    v.add_dest(&s.key, &dest("10.0.0.57", 80, 100, FwdMethod::Route))
        .unwrap();
    v.set_timeouts(5, 3, 3);
    (v, s.key)
}

/// One HTTP exchange as the director sees it in DR: SYN, ACK, FIN, ACK.
fn request(v: &mut Ipvs, t: Millis, cport: u16) -> Verdict {
    use tcp_flags::*;
    let p = |f| PacketMeta::tcp(ip("10.0.0.100"), cport, ip("10.0.0.49"), 80, f);
    let first = v.handle_packet(t, &p(SYN));
    v.handle_packet(t + 1, &p(ACK));
    v.handle_packet(t + 2, &p(ACK | PSH));
    v.handle_packet(t + 3, &p(ACK | FIN));
    v.handle_packet(t + 4, &p(ACK));
    first
}

fn lines(v: &mut Ipvs, t: Millis) -> Vec<String> {
    v.expire(t);
    v.lnc_lines(t)
}

#[test]
fn seed_persistence_story() {
    let (mut v, _) = seed();
    for (i, t) in [0u64, 80, 130].iter().enumerate() {
        let Verdict::Forward(f) = request(&mut v, *t, 42134 + i as u16) else {
            panic!()
        };
        assert_eq!(
            f.daddr,
            ip("10.0.0.57"),
            "newest real server first, then persistence"
        );
    }
    let l = lines(&mut v, 149);
    assert_eq!(l.len(), 4);
    assert!(
        l[0].starts_with(
            "TCP 00:01  ASSURED     10.0.0.100:0       10.0.0.49:80       10.0.0.57:80"
        ),
        "{l:?}"
    );
    assert!(
        l[1].starts_with("TCP 00:02  FIN_WAIT    10.0.0.100:42134"),
        "{l:?}"
    );
    // Template ran out at 2.130 while controlling FIN_WAIT entries: re-armed for 60 s.
    let l = lines(&mut v, 2391);
    assert_eq!(l.len(), 4);
    assert!(l[3].starts_with("TCP 00:59  ASSURED"), "{l:?}");
    let l = lines(&mut v, 3564);
    assert_eq!(
        l,
        vec!["TCP 00:58  ASSURED     10.0.0.100:0       10.0.0.49:80       10.0.0.57:80"]
    );
    // A new connection at 7.07 s re-arms with 60 s, not 2 s.
    let Verdict::Forward(f) = request(&mut v, 7068, 58618) else {
        panic!()
    };
    assert_eq!(f.daddr, ip("10.0.0.57"));
    let l = lines(&mut v, 7079);
    assert!(
        l[0].starts_with("TCP 00:02  FIN_WAIT    10.0.0.100:58618"),
        "{l:?}"
    );
    assert!(l[1].starts_with("TCP 00:59  ASSURED"), "{l:?}");
    let e = v.explain(ip("10.0.0.100"), 7079);
    assert_eq!(e.bindings.len(), 1);
    assert!(e.bindings[0].rearmed_60s);
    assert_eq!(e.bindings[0].controlled.len(), 1);
    // The template lives until 67.068 s (no controlled entry outlives it).
    assert_eq!(e.bindings[0].free_at_ms, 7068 + 60_000);
    let text = e.to_string();
    assert!(text.contains("expire_later"), "{text}");
    // And it is really gone then; the next client goes to the next rr pick.
    assert!(lines(&mut v, 67_067).len() == 1);
    assert!(lines(&mut v, 67_068).is_empty());
}

#[test]
fn without_persistence_rr_alternates_newest_first() {
    let mut v = Ipvs::default();
    let s = tcp_svc("10.0.0.49", 80, "rr", None);
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("10.0.0.56", 80, 1, FwdMethod::Route))
        .unwrap();
    v.add_dest(&s.key, &dest("10.0.0.57", 80, 1, FwdMethod::Route))
        .unwrap();
    let picks: Vec<IpAddr> = (0..4)
        .map(|i| match request(&mut v, i * 100, 1000 + i as u16) {
            Verdict::Forward(f) => f.daddr,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        picks,
        vec![
            ip("10.0.0.57"),
            ip("10.0.0.56"),
            ip("10.0.0.57"),
            ip("10.0.0.56")
        ]
    );
}

#[test]
fn dr_counters_follow_input_only_table() {
    let (mut v, key) = seed();
    use tcp_flags::*;
    let p = |f| PacketMeta::tcp(ip("10.0.0.100"), 5000, ip("10.0.0.49"), 80, f);
    v.handle_packet(0, &p(SYN));
    let dv = |v: &Ipvs| {
        v.service_views()[0]
            .dests
            .iter()
            .find(|d| d.addr == ip("10.0.0.57"))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            dv(&v).active_conns,
            dv(&v).inact_conns,
            dv(&v).persist_conns
        ),
        (1, 0, 1)
    );
    assert_eq!(
        v.connections(0).iter().find(|c| !c.template).unwrap().state,
        "SYN_RECV"
    );
    v.handle_packet(1, &p(ACK));
    assert_eq!(dv(&v).active_conns, 1);
    v.handle_packet(2, &p(FIN | ACK));
    assert_eq!((dv(&v).active_conns, dv(&v).inact_conns), (0, 1));
    v.expire(10_000);
    assert_eq!(
        (
            dv(&v).active_conns,
            dv(&v).inact_conns,
            dv(&v).persist_conns
        ),
        (0, 0, 1)
    );
    v.expire(100_000);
    assert_eq!(dv(&v).persist_conns, 0);
    assert_eq!(v.conn_count(), 0);
    let _ = key;
}

#[test]
fn nat_sees_both_directions_and_reaches_time_wait() {
    let mut v = Ipvs::default();
    let s = tcp_svc("10.0.0.49", 80, "wlc", None);
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("192.168.1.11", 8080, 1, FwdMethod::Masq))
        .unwrap();
    use tcp_flags::*;
    let c = |f| PacketMeta::tcp(ip("10.0.0.100"), 5000, ip("10.0.0.49"), 80, f);
    let r = |f| PacketMeta {
        direction: Direction::Output,
        ..PacketMeta::tcp(ip("192.168.1.11"), 8080, ip("10.0.0.100"), 5000, f)
    };
    let Verdict::Forward(f) = v.handle_packet(0, &c(SYN)) else {
        panic!()
    };
    assert_eq!(
        (f.daddr, f.dport, f.state),
        (ip("192.168.1.11"), 8080, "SYN_RECV")
    );
    let Verdict::Reply(f) = v.handle_packet(1, &r(SYN | ACK)) else {
        panic!()
    };
    assert_eq!(f.state, "SYN_RECV");
    v.handle_packet(2, &c(ACK));
    v.handle_packet(3, &c(FIN | ACK));
    assert_eq!(v.connections(3)[0].state, "CLOSE_WAIT");
    v.handle_packet(4, &r(FIN | ACK));
    assert_eq!(v.connections(4)[0].state, "TIME_WAIT");
    assert_eq!(v.connections(4)[0].expire_secs, 120);
}

#[test]
fn udp_persistence_assured_only_by_replies() {
    let mut v = Ipvs::default();
    let mut s = Service::new(ServiceKey::Addr {
        proto: Protocol::Udp,
        addr: ip("10.0.0.49"),
        port: 53,
    });
    s.scheduler = "rr".into();
    s.flags = SvcFlags(SvcFlags::PERSISTENT);
    s.timeout = 10;
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("10.0.0.56", 53, 1, FwdMethod::Route))
        .unwrap();
    let q = PacketMeta::udp(ip("10.0.0.100"), 3333, ip("10.0.0.49"), 53);
    v.handle_packet(0, &q);
    v.handle_packet(1000, &q);
    let l = v.lnc_lines(1000);
    assert_eq!(l.len(), 2);
    assert!(
        l[0].starts_with("UDP 00:09  NONE        10.0.0.100:0"),
        "{l:?}"
    );
    assert!(
        l[1].starts_with("UDP 05:00  UDP         10.0.0.100:3333"),
        "{l:?}"
    );
    let sv = &v.service_views()[0].dests[0];
    assert_eq!((sv.active_conns, sv.inact_conns), (0, 1));
}

#[test]
fn quiescent_dest_keeps_persistent_clients_unless_sysctl() {
    for eqt in [false, true] {
        let (mut v, key) = seed();
        v.settings.expire_quiescent_template = eqt;
        request(&mut v, 0, 1000);
        v.edit_dest(&key, &dest("10.0.0.57", 80, 0, FwdMethod::Route))
            .unwrap();
        let Verdict::Forward(f) = request(&mut v, 500, 1001) else {
            panic!()
        };
        let want = if eqt { "10.0.0.56" } else { "10.0.0.57" };
        assert_eq!(f.daddr, ip(want), "expire_quiescent_template={eqt}");
        if eqt {
            // The old template is invalidated: ports 0xffff, kept until its timer.
            assert!(
                v.lnc_lines(500).iter().any(|l| l.contains(":65535")),
                "{:?}",
                v.lnc_lines(500)
            );
        }
    }
}

#[test]
fn removed_dest_reschedules_new_clients_and_drops_old_conns() {
    let (mut v, key) = seed();
    use tcp_flags::*;
    let p = |port, f| PacketMeta::tcp(ip("10.0.0.100"), port, ip("10.0.0.49"), 80, f);
    v.handle_packet(0, &p(1000, SYN));
    v.handle_packet(1, &p(1000, ACK));
    v.del_dest(
        &key,
        &DestKey {
            addr: ip("10.0.0.57"),
            port: 80,
        },
    )
    .unwrap();
    // Existing connection: dropped silently (expire_nodest_conn = 0).
    assert_eq!(
        v.handle_packet(2, &p(1000, ACK)),
        Verdict::Drop(DropReason::DestUnavailable)
    );
    // New connection: template invalid -> scheduled to the remaining server.
    let Verdict::Forward(f) = v.handle_packet(3, &p(1001, SYN)) else {
        panic!()
    };
    assert_eq!(f.daddr, ip("10.0.0.56"));
    // Re-adding the server revives it with its counters (one active conn).
    v.add_dest(&key, &dest("10.0.0.57", 80, 100, FwdMethod::Route))
        .unwrap();
    let d57 = v.service_views()[0].dests[0].clone();
    assert_eq!((d57.addr, d57.active_conns), (ip("10.0.0.57"), 1));
}

#[test]
fn expire_nodest_conn_flushes_on_delete() {
    let (mut v, key) = seed();
    v.settings.expire_nodest_conn = true;
    request(&mut v, 0, 1000);
    assert_eq!(v.conn_count(), 2);
    v.del_dest(
        &key,
        &DestKey {
            addr: ip("10.0.0.57"),
            port: 80,
        },
    )
    .unwrap();
    assert_eq!(v.conn_count(), 0);
}

#[test]
fn conn_reuse_mode_reschedules_time_wait_only_when_uncontrolled() {
    let mut v = Ipvs::default();
    let s = tcp_svc("10.0.0.49", 80, "rr", None);
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("10.0.0.56", 80, 1, FwdMethod::Route))
        .unwrap();
    v.add_dest(&s.key, &dest("10.0.0.57", 80, 1, FwdMethod::Route))
        .unwrap();
    use tcp_flags::*;
    let p = |f| PacketMeta::tcp(ip("10.0.0.100"), 7000, ip("10.0.0.49"), 80, f);
    v.handle_packet(0, &p(SYN));
    // RST on SYN_RECV stays SYN_RECV in the input-only table; after ACK it closes.
    v.handle_packet(1, &p(RST));
    assert_eq!(v.connections(1)[0].state, "SYN_RECV");
    v.handle_packet(1, &p(ACK));
    v.handle_packet(1, &p(RST));
    assert_eq!(v.connections(1)[0].state, "CLOSE");
    let Verdict::Forward(f) = v.handle_packet(2, &p(SYN)) else {
        panic!()
    };
    assert!(f.new_conn);
    assert_eq!(f.daddr, ip("10.0.0.56"));
    // FIN_WAIT (DR) is reused only with conn_reuse_mode bit 2.
    v.handle_packet(3, &p(ACK));
    v.handle_packet(4, &p(FIN | ACK));
    let Verdict::Forward(f) = v.handle_packet(5, &p(SYN)) else {
        panic!()
    };
    assert!(!f.new_conn);
    assert_eq!(f.state, "SYN_RECV");
    v.settings.conn_reuse_mode = 3;
    v.handle_packet(6, &p(ACK));
    v.handle_packet(7, &p(FIN | ACK));
    let Verdict::Forward(f) = v.handle_packet(8, &p(SYN)) else {
        panic!()
    };
    assert!(f.new_conn);
}

#[test]
fn thresholds_set_and_clear_overload() {
    let mut v = Ipvs::default();
    let s = tcp_svc("10.0.0.49", 80, "wlc", None);
    v.add_service(&s).unwrap();
    let mut d = dest("10.0.0.56", 80, 1, FwdMethod::Route);
    d.u_threshold = 2;
    v.add_dest(&s.key, &d).unwrap();
    use tcp_flags::*;
    let p = |port| PacketMeta::tcp(ip("10.0.0.100"), port, ip("10.0.0.49"), 80, SYN);
    assert!(matches!(v.handle_packet(0, &p(1)), Verdict::Forward(_)));
    assert!(matches!(v.handle_packet(0, &p(2)), Verdict::Forward(_)));
    assert!(v.service_views()[0].dests[0].overloaded);
    assert_eq!(v.handle_packet(0, &p(3)), Verdict::Unreachable);
    // SYN_RECV lasts 60 s; after both expire the flag clears (1*4 < 2*3 already at one).
    v.expire(60_000);
    assert!(!v.service_views()[0].dests[0].overloaded);
}

#[test]
fn fwmark_and_netmask_templates() {
    let mut v = Ipvs::default();
    let mut s = Service::new(ServiceKey::Fwmark {
        mark: 1,
        af: Family::Inet,
    });
    s.scheduler = "rr".into();
    s.flags = SvcFlags(SvcFlags::PERSISTENT);
    s.timeout = 360;
    s.netmask = 0xffff_ff00;
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("192.168.1.11", 0, 1, FwdMethod::Route))
        .unwrap();
    v.add_dest(&s.key, &dest("192.168.1.12", 0, 1, FwdMethod::Route))
        .unwrap();
    let mut p = PacketMeta::tcp(
        ip("203.0.113.5"),
        5555,
        ip("10.0.0.100"),
        443,
        tcp_flags::SYN,
    );
    p.fwmark = 1;
    let Verdict::Forward(a) = v.handle_packet(0, &p) else {
        panic!()
    };
    assert_eq!(a.dport, 443);
    p.src = ip("203.0.113.77");
    p.dport = 80;
    let Verdict::Forward(b) = v.handle_packet(10, &p) else {
        panic!()
    };
    assert_eq!(a.daddr, b.daddr, "same /24 -> same template");
    let l = v.lnc_lines(10);
    assert!(
        l.iter().any(|x| x.starts_with(
            "IP  06:00  NONE        203.0.113.0:0      0.0.0.1:0          192.168.1.12:0"
        )),
        "{l:?}"
    );
}

#[test]
fn port_zero_service_needs_persistence() {
    let mut v = Ipvs::default();
    let s = tcp_svc("10.0.0.49", 0, "rr", None);
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("10.0.0.56", 0, 1, FwdMethod::Route))
        .unwrap();
    let p = PacketMeta::tcp(
        ip("10.0.0.100"),
        5555,
        ip("10.0.0.49"),
        8080,
        tcp_flags::SYN,
    );
    assert_eq!(v.handle_packet(0, &p), Verdict::Unreachable);
    let mut s2 = s.clone();
    s2.flags = SvcFlags(SvcFlags::PERSISTENT);
    s2.timeout = 30;
    v.edit_service(&s2).unwrap();
    let Verdict::Forward(f) = v.handle_packet(1, &p) else {
        panic!()
    };
    assert_eq!(f.dport, 8080);
    assert!(v
        .lnc_lines(1)
        .iter()
        .any(|l| l.contains("NONE        10.0.0.100:0       10.0.0.49:0        10.0.0.56:0")));
}

#[test]
fn one_packet_scheduling_leaves_only_the_template() {
    let mut v = Ipvs::default();
    let mut s = Service::new(ServiceKey::Addr {
        proto: Protocol::Udp,
        addr: ip("10.0.0.49"),
        port: 53,
    });
    s.scheduler = "rr".into();
    s.flags = SvcFlags(SvcFlags::ONEPACKET);
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("10.0.0.56", 53, 1, FwdMethod::Masq))
        .unwrap();
    v.add_dest(&s.key, &dest("10.0.0.57", 53, 1, FwdMethod::Masq))
        .unwrap();
    let q = PacketMeta::udp(ip("10.0.0.100"), 3333, ip("10.0.0.49"), 53);
    let a = match v.handle_packet(0, &q) {
        Verdict::Forward(f) => f.daddr,
        o => panic!("{o:?}"),
    };
    let b = match v.handle_packet(1, &q) {
        Verdict::Forward(f) => f.daddr,
        o => panic!("{o:?}"),
    };
    assert_ne!(a, b, "every datagram scheduled afresh");
    assert_eq!(v.conn_count(), 0);
    assert_eq!(v.service_views()[0].stats.conns, 2);
}

#[test]
fn sctp_association_counts_active_only_when_established() {
    let mut v = Ipvs::default();
    let s = Service::new(ServiceKey::Addr {
        proto: Protocol::Sctp,
        addr: ip("10.0.0.49"),
        port: 3868,
    });
    v.add_service(&s).unwrap();
    v.add_dest(&s.key, &dest("10.0.0.56", 3868, 1, FwdMethod::Route))
        .unwrap();
    let mut p = PacketMeta::tcp(ip("10.0.0.100"), 3868, ip("10.0.0.49"), 3868, 0);
    p.proto = IPPROTO_SCTP;
    p.sctp_chunk = sctp::CID_INIT;
    v.handle_packet(0, &p);
    assert_eq!(v.connections(0)[0].state, "INIT1");
    p.sctp_chunk = sctp::CID_COOKIE_ECHO;
    v.handle_packet(1, &p);
    assert_eq!(v.connections(1)[0].state, "ESTABLISHED");
    assert_eq!(v.service_views()[0].dests[0].active_conns, 1);
    p.sctp_chunk = sctp::CID_SHUTDOWN;
    v.handle_packet(2, &p);
    assert_eq!(v.connections(2)[0].state, "S-RECEIVED");
    assert_eq!(v.service_views()[0].dests[0].active_conns, 0);
}

#[test]
fn reused_template_after_long_connection_keeps_60s() {
    // An ESTABLISHED entry outlives the template's 2 s: the template is re-armed
    // every 60 s while the entry lives, and later connections re-arm it for 60 s.
    let (mut v, _) = seed();
    v.set_timeouts(900, 0, 0);
    use tcp_flags::*;
    let p = |port, f| PacketMeta::tcp(ip("10.0.0.100"), port, ip("10.0.0.49"), 80, f);
    v.handle_packet(0, &p(1, SYN));
    v.handle_packet(5, &p(1, ACK));
    // Template fires at 2.000 -> 62.000 -> 122.000 ...
    let t = |v: &mut Ipvs, at| {
        v.expire(at);
        v.connections(at).into_iter().find(|c| c.template).unwrap()
    };
    assert_eq!(t(&mut v, 2_000).expires_ms, 60_000);
    assert_eq!(t(&mut v, 100_000).expires_ms, 22_000);
    v.handle_packet(130_000, &p(1, FIN | ACK));
    v.handle_packet(130_001, &p(2, SYN));
    assert_eq!(t(&mut v, 130_001).expires_ms, 60_000);
}

#[test]
fn handle_batch_equals_packet_by_packet() {
    use tcp_flags::*;
    // Persistence, NAT replies, new and existing flows, resets: the batch
    // path must give the same verdicts and leave the same table.
    let build = || {
        let mut v = Ipvs::default();
        let s = tcp_svc("10.0.0.49", 80, "wlc", Some(30));
        v.add_service(&s).unwrap();
        for (i, a) in ["10.0.0.56", "10.0.0.57", "10.0.0.58"].iter().enumerate() {
            let fwd = if i == 0 {
                FwdMethod::Masq
            } else {
                FwdMethod::Route
            };
            v.add_dest(&s.key, &dest(a, 8080, 1 + i as u32, fwd))
                .unwrap();
        }
        v
    };
    let mut pkts = Vec::new();
    for round in 0..6u16 {
        for c in 0..40u16 {
            let src = ip(&format!("10.1.{}.{}", c % 7, 1 + c));
            let flags = match (round + c) % 6 {
                0 => SYN,
                1 | 2 => ACK,
                3 => ACK | FIN,
                4 => RST,
                _ => ACK | PSH,
            };
            pkts.push(PacketMeta::tcp(src, 2000 + c, ip("10.0.0.49"), 80, flags));
            if c % 5 == 0 {
                let mut r = PacketMeta::tcp(ip("10.0.0.56"), 8080, src, 2000 + c, ACK);
                r.direction = Direction::Output;
                pkts.push(r);
            }
        }
    }
    let mut a = build();
    let mut b = build();
    let mut seq = Vec::new();
    let mut batch = Vec::new();
    for (t, chunk) in pkts.chunks(37).enumerate() {
        let now = 1000 * t as Millis;
        for p in chunk {
            seq.push(a.handle_packet(now, p));
        }
        b.handle_batch(now, chunk, &mut batch);
    }
    assert_eq!(seq, batch);
    assert!(seq.iter().any(|v| matches!(v, Verdict::Reply(_))));
    assert_eq!(a.lnc_lines(10_000), b.lnc_lines(10_000));
    b.check_invariants(10_000).unwrap();
}
