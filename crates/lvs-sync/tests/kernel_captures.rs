//! Real-kernel interop evidence (`tests/fixtures/kernel-6.1/`, recorded in
//! the VM harness by `tests/vm/record.sh`):
//! - the kernel master's v1 and v0 datagrams decode strictly and re-encode
//!   byte-for-byte, and the backup logic installs what the master had;
//! - the kernel backup's table holds every entry lvs-sync's master sent.

use std::net::IpAddr;

use lvs_sync::consts::flags::*;
use lvs_sync::{SyncBackup, SyncMessage, Version};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/kernel-6.1/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn kernel_master_datagrams_round_trip_byte_exact() {
    for (name, version, n) in [
        ("master-v1-0.bin", Version::V1, 9),
        ("master-v1-1.bin", Version::V1, 9),
        ("master-v0-2.bin", Version::V0, 4),
    ] {
        let bytes = fixture(name);
        let m = SyncMessage::decode(&bytes).unwrap();
        assert_eq!(m.version, version, "{name}");
        assert_eq!(m.syncid, 7, "{name}");
        assert_eq!(m.conns.len(), n, "{name}");
        assert_eq!(m.encode().unwrap(), bytes, "{name} re-encodes byte-exact");
        for c in &m.conns {
            assert_eq!(c.vaddr, ip("10.0.0.49"));
            assert_eq!(c.flags & IP_VS_CONN_F_HASHED, 0, "the master clears HASHED");
            assert_eq!(c.flags & IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_DROUTE);
        }
    }
}

#[test]
fn kernel_master_entries_become_the_expected_installs() {
    let mut b = SyncBackup::default();
    let v1 = b.installs(&fixture("master-v1-0.bin"));
    // The connection: ESTABLISHED at its 3rd packet, FIN_WAIT forced at the FIN.
    let conns: Vec<_> = v1.iter().filter(|i| !i.conn.is_template()).collect();
    assert_eq!(conns.len(), 2);
    assert_eq!(
        (conns[0].conn.state, conns[0].conn.timeout),
        (1, 900),
        "ESTABLISHED"
    );
    assert_eq!(
        (conns[1].conn.state, conns[1].conn.timeout),
        (4, 120),
        "FIN_WAIT"
    );
    assert_eq!(
        conns[1].conn.flags,
        IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_INACTIVE | IP_VS_CONN_F_SYNC
    );
    // The template (client network 10.0.0.100/32, cport 0), -p 360, NONE then ASSURED.
    let tpls: Vec<_> = v1.iter().filter(|i| i.conn.is_template()).collect();
    assert_eq!(tpls.len(), 7);
    assert_eq!(tpls[0].conn.state, 0);
    assert!(tpls[1..].iter().all(|t| t.conn.state == 1));
    assert!(tpls
        .iter()
        .all(|t| t.conn.timeout == 360 && t.conn.cport == 0 && t.conn.daddr == ip("10.0.0.57")));
    // v0 carries no timeout: the backup uses its tables (templates 180 s).
    let v0 = b.installs(&fixture("master-v0-2.bin"));
    let t: Vec<u32> = v0.iter().map(|i| i.conn.timeout).collect();
    assert_eq!(t, vec![900, 180, 120, 180]);
    assert!(v0.iter().all(|i| i.version == Version::V0));
}

/// `/proc/net/ip_vs_conn` rows: (proto, from, fport, to, tport, dest, dport, state).
fn proc_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn kernel_backup_installed_what_lvs_sync_sent() {
    let text = String::from_utf8(fixture("backup-ip_vs_conn.txt")).unwrap();
    let rows = proc_rows(&text);
    let has = |want: &[&str]| {
        rows.iter()
            .any(|r| r.len() >= want.len() && r.iter().zip(want).all(|(a, b)| a == b))
    };
    // Sent by `sync_probe send` (v1 IPv4 conn + template, v1 IPv6 conn, v0 UDP conn).
    assert!(has(&[
        "TCP",
        "C633640A",
        "9CBB",
        "0A000031",
        "0050",
        "0A000039",
        "0050",
        "ESTABLISHED"
    ]));
    assert!(has(&[
        "TCP", "C6336400", "0000", "0A000031", "0050", "0A000039", "0050", "ASSURED"
    ]));
    assert!(has(&[
        "UDP", "C633640B", "14E9", "0A000031", "0035", "0A000038", "0035", "UDP"
    ]));
    assert!(has(&[
        "TCP",
        "2001:0db8:0000:0000:0000:0000:0000:0010",
        "9CBC",
        "2001:0db8:0000:0000:0000:0000:0000:0049",
        "0050",
        "2001:0db8:0000:0000:0000:0000:0000:0057",
        "0050",
        "ESTABLISHED"
    ]));
    // The kernel backup gave our template its synced timeout (360 s, read ~4 s later).
    let tpl = rows
        .iter()
        .find(|r| r[1] == "C6336400")
        .expect("template row");
    let expires: u32 = tpl[8].parse().unwrap();
    assert!((350..=360).contains(&expires), "{expires}");
}
