//! Connection-table cost with 1,000,000 live connections:
//! per-packet lookup + state update, new-connection cost, memory per entry.
//!
//! cargo bench -p lvs-ipvs --bench conn_table
//!
//! The established-connection benchmarks send an ACK of an existing
//! ESTABLISHED entry: hash lookup, TCP transition (ES → ES), counters, timer
//! refresh. `random` picks the flow at random among the live ones (every
//! packet misses the CPU caches: the table is ~137 MB), `in_order` walks the
//! flows in creation order (the entries are then adjacent in the slab; only
//! the index line misses), `hot` repeats 1,000 flows (the working set of a
//! busy moment: everything in cache; this is the CPU cost of the path) and
//! `random_batch32` is `random` through `Ipvs::handle_batch`, 32 packets at a
//! time, as a data plane reading batches of packets would call it.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use lvs_ipvs::admin::{Dest, FwdMethod, Protocol, Service, ServiceKey};
use lvs_ipvs::Verdict;
use lvs_ipvs::{tcp_flags, Ipvs, PacketMeta, Settings};

/// Live connections (`LVS_BENCH_LIVE` overrides; default 1,000,000).
fn live() -> u32 {
    std::env::var("LVS_BENCH_LIVE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 49);

fn client(i: u32) -> (IpAddr, u16) {
    // 50 000 client addresses × 20 ports each.
    let host = i / 20;
    (
        IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + host)),
        10_000 + (i % 20) as u16,
    )
}

fn setup(live_n: u32) -> Ipvs {
    let mut v = Ipvs::new(Settings::default());
    let key = ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: IpAddr::V4(VIP),
        port: 80,
    };
    let mut s = Service::new(key);
    s.scheduler = "wlc".into();
    v.add_service(&s).unwrap();
    for i in 0..8u8 {
        let mut d = Dest::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10 + i)), 80);
        d.fwd = FwdMethod::Route;
        v.add_dest(&key, &d).unwrap();
    }
    // ESTABLISHED lasts "forever" so nothing expires during the run.
    v.set_timeouts(10_000_000, 0, 0);
    v.reserve_conns(live_n as usize + 1024);
    for i in 0..live_n {
        let (c, p) = client(i);
        v.handle_packet(
            0,
            &PacketMeta::tcp(c, p, IpAddr::V4(VIP), 80, tcp_flags::SYN),
        );
        v.handle_packet(
            0,
            &PacketMeta::tcp(c, p, IpAddr::V4(VIP), 80, tcp_flags::ACK),
        );
    }
    assert_eq!(v.conn_count(), live_n as usize);
    // Let the SYN_RECV-time timer records (60 s) fire once: they are re-filed
    // at the entries' real deadlines (the lazy timer's once-per-timeout cost),
    // so the measurement sees the steady state.
    v.expire(START);
    v
}

const START: u64 = 61_000;

fn timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let w0 = Instant::now();
    for _ in 0..iters {
        f();
    }
    w0.elapsed()
}

fn bench(c: &mut Criterion) {
    let live_n = live();
    let mut v = setup(live_n);
    let bytes = v.conn_table_bytes();
    eprintln!(
        "memory: {} live entries, connection table {} bytes = {:.1} bytes/entry",
        v.conn_count(),
        bytes,
        bytes as f64 / v.conn_count() as f64
    );

    let mut g = c.benchmark_group(format!("conn_table_{live_n}"));
    g.measurement_time(Duration::from_secs(8));
    // Existing connection: lookup + TCP transition (ES -> ES) + counters + timer.
    let mut x: u32 = 12345;
    let mut now = START;
    let ack = |i: u32| {
        let (c, p) = client(i);
        PacketMeta::tcp(c, p, IpAddr::V4(VIP), 80, tcp_flags::ACK)
    };
    g.bench_function("established_hot_1000_flows", |b| {
        let mut i: u32 = 0;
        b.iter_custom(|iters| {
            timed(iters, || {
                i = (i + 7919) % 1000;
                now += 1;
                black_box(v.handle_packet(now, &ack(i * (live_n / 1000).max(1))));
            })
        })
    });
    g.bench_function("established_random_batch32", |b| {
        const B: u64 = 32;
        let mut pkts = Vec::with_capacity(B as usize);
        let mut out: Vec<Verdict> = Vec::with_capacity(B as usize);
        b.iter_custom(|iters| {
            let batches = iters.div_ceil(B);
            let el = timed(batches, || {
                pkts.clear();
                for _ in 0..B {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    pkts.push(ack(x % live_n));
                }
                now += 1;
                out.clear();
                v.handle_batch(now, &pkts, &mut out);
                black_box(&out);
            });
            // Per packet.
            el.mul_f64(iters as f64 / (batches * B) as f64)
        })
    });
    g.bench_function("established_random", |b| {
        b.iter_custom(|iters| {
            timed(iters, || {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let (c, p) = client(x % live_n);
                now += 1;
                black_box(v.handle_packet(
                    now,
                    &PacketMeta::tcp(c, p, IpAddr::V4(VIP), 80, tcp_flags::ACK),
                ));
            })
        })
    });
    // Same, flows visited in order (bursts / cache-friendly access).
    let mut i: u32 = 0;
    g.bench_function("established_in_order", |b| {
        b.iter_custom(|iters| {
            timed(iters, || {
                i = (i + 1) % live_n;
                let (c, p) = client(i);
                now += 1;
                black_box(v.handle_packet(
                    now,
                    &PacketMeta::tcp(c, p, IpAddr::V4(VIP), 80, tcp_flags::ACK),
                ));
            })
        })
    });
    // New connection (SYN: service lookup, wlc over 8 servers, entry creation,
    // hashing, timer) on top of 1M live entries. The new entries are removed
    // (untimed) after each batch by letting their SYN_RECV 60 s run out.
    let mut port_base: u32 = 0;
    g.bench_function("new_connection", |b| {
        b.iter_custom(|iters| {
            let mut k = 0u32;
            let el = timed(iters, || {
                let n = port_base.wrapping_add(k);
                k += 1;
                let c = IpAddr::V4(Ipv4Addr::from(0x0c00_0000 + n / 60_000));
                let p = 1024 + (n % 60_000) as u16;
                black_box(v.handle_packet(
                    now,
                    &PacketMeta::tcp(c, p, IpAddr::V4(VIP), 80, tcp_flags::SYN),
                ));
            });
            port_base = port_base.wrapping_add(iters as u32);
            now += 61_000;
            v.expire(now);
            el
        })
    });
    g.finish();
    assert_eq!(v.conn_count(), live_n as usize);
}

criterion_group!(benches, bench);
criterion_main!(benches);
