//! A small sync endpoint for the real-kernel interop runs (tests/vm/).
//!
//! `sync_probe send IFACE GROUP PORT`: send lvs-sync master datagrams (a
//! persistent connection + template from 198.51.100.10, an IPv6 connection,
//! and a v0 UDP connection) to the group, as a kernel backup expects them.
//!
//! `sync_probe recv IFACE GROUP PORT DIR MAX IDLE_S`: receive up to MAX
//! datagrams (stop after IDLE_S seconds without one) and write each to
//! `DIR/NNN.bin`; print what the lvs-sync backup makes of it.
//!
//! `sync_probe blast IFACE GROUP PORT N`: sync N ESTABLISHED connections
//! (master threshold rules, 1472-byte messages) and send the datagrams.
//! `sync_probe sink IFACE GROUP PORT N`: receive until N installs (or 3 s
//! idle) and print installs per second between the first and last datagram.

use std::time::Duration;

use lvs_sync::consts::flags::*;
use lvs_sync::{
    BackupAction, ChainLink, ConnSyncState, MessageBuf, SyncBackup, SyncConn, SyncMaster,
    SyncParams, Version,
};

fn conn(c: &str, cport: u16, v: &str, d: &str, flags: u32, state: u16, timeout: u32) -> SyncConn {
    SyncConn {
        protocol: 6,
        caddr: c.parse().unwrap(),
        cport,
        vaddr: v.parse().unwrap(),
        vport: 80,
        daddr: d.parse().unwrap(),
        dport: 80,
        flags,
        state,
        fwmark: 0,
        timeout,
        seq: None,
        pe_data: None,
        pe_name: None,
    }
}

/// The datagrams `send` emits.
pub fn datagrams() -> Vec<Vec<u8>> {
    let now = Duration::ZERO;
    let mut m = SyncMaster::new(SyncParams::default());
    let dr = IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT;
    let c = conn("198.51.100.10", 40123, "10.0.0.49", "10.0.0.57", dr, 1, 900);
    let t = conn(
        "198.51.100.0",
        0,
        "10.0.0.49",
        "10.0.0.57",
        dr | IP_VS_CONN_F_TEMPLATE | IP_VS_CONN_F_INACTIVE,
        1,
        360,
    );
    let c6 = conn(
        "2001:db8::10",
        40124,
        "2001:db8::49",
        "2001:db8::57",
        dr,
        1,
        900,
    );
    let (mut cs, mut ts, mut c6s) = (
        ConnSyncState::new(now),
        ConnSyncState::new(now),
        ConnSyncState::new(now),
    );
    cs.old_state = 1;
    c6s.old_state = 1;
    let mut chain = [
        ChainLink {
            conn: &c,
            st: &mut cs,
        },
        ChainLink {
            conn: &t,
            st: &mut ts,
        },
    ];
    m.sync_conn(now, &mut chain, 3);
    let mut chain6 = [ChainLink {
        conn: &c6,
        st: &mut c6s,
    }];
    m.sync_conn(now, &mut chain6, 3);
    m.flush();
    let mut out = vec![];
    while let Some(d) = m.poll_transmit(now) {
        out.push(d);
    }
    let mut v0 = MessageBuf::new(Version::V0, 0);
    let mut u = conn(
        "198.51.100.11",
        5353,
        "10.0.0.49",
        "10.0.0.56",
        IP_VS_CONN_F_INACTIVE | IP_VS_CONN_F_DROUTE,
        0,
        0,
    );
    u.protocol = 17;
    u.vport = 53;
    u.dport = 53;
    v0.push(&u).unwrap();
    out.push(v0.finish());
    out
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 5 {
        eprintln!("usage: sync_probe send|recv IFACE GROUP PORT [DIR MAX IDLE_S]");
        std::process::exit(2);
    }
    let cfg = lvs_sys::sync::SyncSocketCfg {
        ifname: a[2].clone(),
        group: a[3].parse().expect("group"),
        port: a[4].parse().expect("port"),
        ttl: 1,
        sock_size: 0,
    };
    match a[1].as_str() {
        "send" => {
            let s = lvs_sys::sync::open_master(&cfg).expect("open master socket");
            for d in datagrams() {
                s.send(&d).expect("send");
                println!("sent {} bytes", d.len());
            }
        }
        "recv" => {
            let dir = std::path::PathBuf::from(&a[5]);
            let max: usize = a[6].parse().unwrap();
            let idle: u64 = a[7].parse().unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            let s = lvs_sys::sync::open_backup(&cfg).expect("open backup socket");
            s.set_read_timeout(Some(Duration::from_secs(idle))).unwrap();
            let mut backup = SyncBackup::default();
            let mut buf = vec![0u8; 65536];
            for i in 0..max {
                let Ok((n, from)) = s.recv_from(&mut buf) else {
                    break;
                };
                std::fs::write(dir.join(format!("{i:03}.bin")), &buf[..n]).unwrap();
                let mut out = vec![];
                backup.process(&buf[..n], &mut out);
                println!("datagram {i} from {from}: {n} bytes");
                for act in out {
                    match act {
                        BackupAction::Install(c) => println!("  install {:?}", c.conn),
                        other => println!("  {other:?}"),
                    }
                }
            }
        }
        "blast" => {
            let n: u32 = a[5].parse().unwrap();
            let s = lvs_sys::sync::open_master(&lvs_sys::sync::SyncSocketCfg {
                sock_size: 8 << 20,
                ..cfg
            })
            .expect("open master socket");
            let t0 = std::time::Instant::now();
            let mut m = SyncMaster::new(SyncParams {
                sync_qlen_max: usize::MAX,
                ..SyncParams::default()
            });
            let dr = IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT;
            let mut sent = 0usize;
            let mut bytes = 0usize;
            for i in 0..n {
                let c = SyncConn {
                    caddr: std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a80_0000 + i)),
                    ..conn(
                        "0.0.0.0",
                        1024 + (i % 60000) as u16,
                        "10.0.0.49",
                        "10.0.0.57",
                        dr,
                        1,
                        900,
                    )
                };
                let mut st = ConnSyncState::new(Duration::ZERO);
                st.old_state = 1;
                let mut chain = [ChainLink {
                    conn: &c,
                    st: &mut st,
                }];
                m.sync_conn(Duration::ZERO, &mut chain, 3);
                while let Some(d) = m.poll_transmit(Duration::ZERO) {
                    while s.send(&d).is_err() {}
                    sent += 1;
                    bytes += d.len();
                }
            }
            m.flush();
            while let Some(d) = m.poll_transmit(Duration::ZERO) {
                while s.send(&d).is_err() {}
                sent += 1;
                bytes += d.len();
            }
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "blast: {n} entries in {sent} datagrams ({bytes} bytes) in {dt:.3} s = {:.0} entries/s",
                f64::from(n) / dt
            );
        }
        "sink" => {
            let n: u64 = a[5].parse().unwrap();
            let s = lvs_sys::sync::open_backup(&lvs_sys::sync::SyncSocketCfg {
                sock_size: 64 << 20,
                ..cfg
            })
            .expect("open backup socket");
            if let Some(ready) = a.get(6) {
                std::fs::write(ready, b"").unwrap();
            }
            let mut backup = SyncBackup::default();
            let mut table = lvs_sync::BackupTable::new();
            let mut buf = vec![0u8; 65536];
            let mut out = Vec::with_capacity(64);
            let mut installs = 0u64;
            let mut datagrams = 0u64;
            let mut first = None;
            let mut last = std::time::Instant::now();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            while installs < n {
                let Ok(len) = s.recv(&mut buf) else { break };
                let now = std::time::Instant::now();
                first.get_or_insert(now);
                last = now;
                datagrams += 1;
                out.clear();
                backup.process(&buf[..len], &mut out);
                for act in &out {
                    if let BackupAction::Install(i) = act {
                        table.apply(Duration::ZERO, i);
                        installs += 1;
                    }
                }
                s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            }
            let dt = first.map(|f| (last - f).as_secs_f64()).unwrap_or(0.0);
            println!(
                "sink: {installs} installs ({} in table) from {datagrams} datagrams in {dt:.3} s = {:.0} entries/s",
                table.len(),
                installs as f64 / dt.max(1e-9)
            );
        }
        m => {
            eprintln!("unknown mode {m}");
            std::process::exit(2);
        }
    }
}
