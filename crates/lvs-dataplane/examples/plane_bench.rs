//! CPU cost of the data plane's packet path without I/O: parse → engine
//! decision (lvs-ipvs, one shared table behind a mutex) → DR rewrite, on
//! prebuilt frames. `cargo run --release -p lvs-dataplane --example plane_bench [N]`
//! prints ns/packet for new connections (SYN, each a new entry; persistence
//! off) and for packets of established connections (ACK).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use lvs_dataplane::engine::SharedEngine;
use lvs_dataplane::parse::tcp_flags;
use lvs_dataplane::rewrite;
use lvs_dataplane::{Dataplane, Iface, Routing, RxMeta, TxFrame};
use lvs_ipvs::admin::{Dest, Protocol, Service, ServiceKey};
use lvs_ipvs::Ipvs;

fn frame(client: Ipv4Addr, sport: u16, flags: u8) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x64, 8, 0];
    f.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&client.octets());
    f.extend_from_slice(&[10, 0, 0, 49]);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&80u16.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    rewrite::ipv4_header_checksum(&mut f, 14);
    f
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(200_000, |s| s.parse().expect("N"));
    let mut ipvs = Ipvs::default();
    let key = ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: "10.0.0.49".parse().unwrap(),
        port: 80,
    };
    let mut svc = Service::new(key);
    svc.scheduler = "rr".into();
    ipvs.add_service(&svc).unwrap();
    for a in ["10.0.0.56", "10.0.0.57"] {
        ipvs.add_dest(&key, &Dest::new(a.parse().unwrap(), 80))
            .unwrap();
    }
    ipvs.reserve_conns(n + 16);
    let engine = SharedEngine::new(ipvs);
    let routing = Routing::new(
        vec![Iface {
            ifindex: 2,
            name: "eth0".into(),
            mac: [2, 0, 0, 0, 0, 1],
            mtu: 1500,
            addrs: vec![("10.0.0.1".parse().unwrap(), 24)],
        }],
        vec![],
    );
    let mut dp = Dataplane::new(engine.decider(), routing);
    let t = Duration::from_secs(1);
    for (i, a) in ["10.0.0.56", "10.0.0.57"].iter().enumerate() {
        dp.seed_neighbour(t, 2, a.parse::<IpAddr>().unwrap(), [2, 0, 0, 0, 1, i as u8]);
    }
    let flows: Vec<(Ipv4Addr, u16)> = (0..n)
        .map(|i| {
            (
                Ipv4Addr::from(0x0a01_0000 + (i / 50_000) as u32),
                1024 + (i % 50_000) as u16,
            )
        })
        .collect();
    let syns: Vec<Vec<u8>> = flows
        .iter()
        .map(|(c, p)| frame(*c, *p, tcp_flags::SYN))
        .collect();
    let acks: Vec<Vec<u8>> = flows
        .iter()
        .map(|(c, p)| frame(*c, *p, tcp_flags::ACK))
        .collect();
    let rx = RxMeta {
        ifindex: 2,
        pkttype: 0,
        csum_not_ready: false,
    };
    let mut out: Vec<TxFrame> = Vec::with_capacity(64);
    for (name, set) in [
        ("new connection (SYN)", &syns),
        ("established (ACK)", &acks),
    ] {
        let start = Instant::now();
        for (i, f) in set.iter().enumerate() {
            dp.handle(t + Duration::from_micros(i as u64), &rx, f, &mut out);
            if out.len() >= 64 {
                dp.recycle(out.drain(..));
            }
        }
        dp.recycle(out.drain(..));
        let ns = start.elapsed().as_nanos() as f64 / set.len() as f64;
        println!(
            "{name}: {ns:.0} ns/packet ({:.2} Mpps on one core)",
            1e3 / ns
        );
    }
    let c = dp.counters();
    assert_eq!(c.forwarded as usize, 2 * n, "{c:?}");
    println!("connections in the table: {}", engine.lock().conn_count());
}
