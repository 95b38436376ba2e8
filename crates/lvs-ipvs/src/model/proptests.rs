//! Property tests: random operation sequences keep the table's invariants.

use super::*;
use crate::admin::{DestKey, Protocol};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Tcp {
        client: u8,
        port: u8,
        flags: u8,
        reply: bool,
    },
    Udp {
        client: u8,
        port: u8,
        reply: bool,
    },
    Wait(u32),
    Weight {
        rs: u8,
        w: u8,
    },
    Remove {
        rs: u8,
    },
    Readd {
        rs: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..6, 0u8..4, prop_oneof![Just(tcp_flags::SYN), Just(tcp_flags::ACK), Just(tcp_flags::FIN | tcp_flags::ACK), Just(tcp_flags::RST), Just(0u8)], any::<bool>())
            .prop_map(|(client, port, flags, reply)| Op::Tcp { client, port, flags, reply }),
        3 => (0u8..6, 0u8..4, any::<bool>()).prop_map(|(client, port, reply)| Op::Udp { client, port, reply }),
        4 => (0u32..200_000).prop_map(Op::Wait),
        1 => (0u8..3, 0u8..3).prop_map(|(rs, w)| Op::Weight { rs, w }),
        1 => (0u8..3).prop_map(|rs| Op::Remove { rs }),
        1 => (0u8..3).prop_map(|rs| Op::Readd { rs }),
    ]
}

fn ip(s: String) -> IpAddr {
    s.parse().unwrap()
}

fn build(
    sched: &str,
    persist: bool,
    fwd: FwdMethod,
    settings: Settings,
) -> (Ipvs, Vec<ServiceKey>) {
    let mut v = Ipvs::new(settings);
    v.set_timeouts(30, 10, 20);
    let mut keys = Vec::new();
    for proto in [Protocol::Tcp, Protocol::Udp] {
        let key = ServiceKey::Addr {
            proto,
            addr: ip("10.0.0.49".into()),
            port: 80,
        };
        let mut s = Service::new(key);
        s.scheduler = sched.into();
        if persist {
            s.flags = SvcFlags(SvcFlags::PERSISTENT);
            s.timeout = 5;
        }
        v.add_service(&s).unwrap();
        for r in 0..3 {
            let mut d = admin::Dest::new(ip(format!("192.168.1.{}", 10 + r)), 80);
            d.fwd = fwd;
            d.u_threshold = if r == 0 { 3 } else { 0 };
            v.add_dest(&key, &d).unwrap();
        }
        keys.push(key);
    }
    (v, keys)
}

fn run(v: &mut Ipvs, keys: &[ServiceKey], ops: &[Op], fwd: FwdMethod) -> Result<(), TestCaseError> {
    let mut now: Millis = 1;
    for o in ops {
        match o {
            Op::Tcp {
                client,
                port,
                reply,
                ..
            }
            | Op::Udp {
                client,
                port,
                reply,
            } => {
                let (proto, flags) = match o {
                    Op::Tcp { flags, .. } => (IPPROTO_TCP, *flags),
                    _ => (IPPROTO_UDP, 0),
                };
                let c = ip(format!("10.1.0.{client}"));
                let cport = 1000 + *port as u16;
                let mut p = PacketMeta::tcp(c, cport, ip("10.0.0.49".into()), 80, flags);
                p.proto = proto;
                if *reply && fwd == FwdMethod::Masq {
                    // Reply from whichever real server holds the entry, if any.
                    if let Some(cv) = v.connections(now).into_iter().find(|x| {
                        !x.template && x.caddr == c && x.cport == cport && x.proto_num == proto
                    }) {
                        p = PacketMeta {
                            src: cv.daddr,
                            sport: cv.dport,
                            dst: c,
                            dport: cport,
                            direction: Direction::Output,
                            ..p
                        };
                    }
                }
                v.handle_packet(now, &p);
            }
            Op::Wait(ms) => {
                now += *ms as u64;
                v.expire(now);
            }
            Op::Weight { rs, w } => {
                for k in keys {
                    let mut d = admin::Dest::new(ip(format!("192.168.1.{}", 10 + rs)), 80);
                    d.fwd = fwd;
                    d.weight = *w as u32;
                    let _ = v.edit_dest(k, &d);
                }
            }
            Op::Remove { rs } => {
                for k in keys {
                    let _ = v.del_dest(
                        k,
                        &DestKey {
                            addr: ip(format!("192.168.1.{}", 10 + rs)),
                            port: 80,
                        },
                    );
                }
            }
            Op::Readd { rs } => {
                for k in keys {
                    let mut d = admin::Dest::new(ip(format!("192.168.1.{}", 10 + rs)), 80);
                    d.fwd = fwd;
                    let _ = v.add_dest(k, &d);
                }
            }
        }
        v.check_invariants(now).map_err(TestCaseError::fail)?;
    }
    // Everything drains: no template survives its controlled entries for long.
    now += 10_000_000;
    v.expire(now);
    prop_assert_eq!(v.conn_count(), 0);
    v.check_invariants(now).map_err(TestCaseError::fail)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold(
        ops in proptest::collection::vec(op(), 1..120),
        sched in prop_oneof![Just("rr"), Just("wrr"), Just("wlc"), Just("lc"), Just("sed"), Just("nq"), Just("sh"), Just("mh"), Just("lblcr")],
        persist in any::<bool>(),
        nat in any::<bool>(),
        nodest in any::<bool>(),
        quiescent in any::<bool>(),
        reuse in 0u32..4,
    ) {
        let fwd = if nat { FwdMethod::Masq } else { FwdMethod::Route };
        let settings = Settings {
            expire_nodest_conn: nodest,
            expire_quiescent_template: quiescent,
            conn_reuse_mode: reuse,
            ..Settings::default()
        };
        let (mut v, keys) = build(sched, persist, fwd, settings);
        run(&mut v, &keys, &ops, fwd)?;
    }
}
