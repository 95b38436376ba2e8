//! Encode/decode throughput of sync entries at 100,000 connections.
//!
//! `cargo bench -p lvs-sync --bench sync_codec`
//!
//! - `master_encode_100k_v1` / `_v0`: 100,000 ESTABLISHED TCP connections
//!   each hitting its sync threshold (`SyncMaster::sync_conn` with the
//!   threshold rules) and packed into 1472-byte messages.
//! - `backup_decode_100k_v1` / `_v0`: the resulting datagrams through
//!   `SyncBackup::process` (install actions).
//! - `packet_view_100k_v1`: the zero-copy `Packet` view alone.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lvs_sync::consts::flags::*;
use lvs_sync::{
    ChainLink, ConnSyncState, Packet, SyncBackup, SyncConn, SyncMaster, SyncParams, Version,
};

const N: u32 = 100_000;

fn conns() -> Vec<SyncConn> {
    (0..N)
        .map(|i| SyncConn {
            protocol: 6,
            caddr: IpAddr::V4(Ipv4Addr::from(0x0a80_0000 + i)),
            cport: 1024 + (i % 60000) as u16,
            vaddr: "10.0.0.100".parse().unwrap(),
            vport: 80,
            daddr: IpAddr::V4(Ipv4Addr::from(0xc0a8_0100 + (i % 16))),
            dport: 80,
            flags: IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_HASHED,
            state: 1,
            fwmark: 0,
            timeout: 900,
            seq: None,
            pe_data: None,
            pe_name: None,
        })
        .collect()
}

fn encode(version: Version, conns: &[SyncConn], states: &mut [ConnSyncState]) -> Vec<Vec<u8>> {
    let mut m = SyncMaster::new(SyncParams {
        version,
        sync_qlen_max: usize::MAX,
        ..SyncParams::default()
    });
    let now = Duration::from_secs(1);
    for (c, st) in conns.iter().zip(states.iter_mut()) {
        st.old_state = 1;
        st.sync_endtime = 0;
        let mut chain = [ChainLink { conn: c, st }];
        m.sync_conn(now, &mut chain, 3);
    }
    m.flush();
    let mut out = Vec::new();
    while let Some(d) = m.poll_transmit(now) {
        out.push(d);
    }
    out
}

fn bench(c: &mut Criterion) {
    let conns = conns();
    let mut states = vec![ConnSyncState::default(); conns.len()];
    let mut g = c.benchmark_group("sync_100k");
    g.throughput(Throughput::Elements(u64::from(N)));
    g.sample_size(20);
    for (name, v) in [("v1", Version::V1), ("v0", Version::V0)] {
        g.bench_function(format!("master_encode_100k_{name}"), |b| {
            b.iter(|| black_box(encode(v, &conns, &mut states)))
        });
        let dgrams = encode(v, &conns, &mut states);
        let total: usize = dgrams
            .iter()
            .map(|d| Packet::new(d).unwrap().nr_conns() as usize)
            .sum();
        assert_eq!(total, N as usize);
        g.bench_function(format!("backup_decode_100k_{name}"), |b| {
            let mut backup = SyncBackup::default();
            let mut out = Vec::with_capacity(64);
            b.iter(|| {
                let mut n = 0usize;
                for d in &dgrams {
                    out.clear();
                    backup.process(d, &mut out);
                    n += out.len();
                }
                black_box(n)
            })
        });
        if v == Version::V1 {
            g.bench_function("packet_view_100k_v1", |b| {
                b.iter(|| {
                    let mut sum = 0u64;
                    for d in &dgrams {
                        for e in Packet::new(d).unwrap().entries() {
                            let e = e.unwrap();
                            sum += u64::from(e.cport()) + u64::from(e.state());
                        }
                    }
                    black_box(sum)
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
