//! Privileged (root + iproute2): two network namespaces joined by a veth
//! pair. A sync master in one sends sync datagrams to the multicast group
//! through `lvs_sys::sync::open_master`; a backup in the other receives them
//! through `lvs_sys::sync::open_backup` and turns them into install actions.
//! Run for an IPv4 group (224.0.0.81) and an IPv6 group (ff02::51).
//!
//! The two endpoints are this test binary re-executed under
//! `ip netns exec` (the `endpoint` test, a no-op without its environment).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvs_sync::consts::flags::*;
use lvs_sync::{
    BackupAction, BackupCfg, ChainLink, ConnInstall, ConnSyncState, MessageBuf, SyncBackup,
    SyncConn, SyncMaster, SyncParams, Version,
};

const ROLE: &str = "LVS_SYNC_NETNS_ROLE";
const GROUP: &str = "LVS_SYNC_NETNS_GROUP";
const IFACE: &str = "LVS_SYNC_NETNS_IFACE";
const DIR: &str = "LVS_SYNC_NETNS_DIR";
const SYNCID: u8 = 5;
const PORT: u16 = 8848;

fn conn(
    caddr: &str,
    cport: u16,
    vaddr: &str,
    daddr: &str,
    flags: u32,
    state: u16,
    t: u32,
) -> SyncConn {
    SyncConn {
        protocol: 6,
        caddr: caddr.parse().unwrap(),
        cport,
        vaddr: vaddr.parse().unwrap(),
        vport: 80,
        daddr: daddr.parse().unwrap(),
        dport: 80,
        flags,
        state,
        fwmark: 0,
        timeout: t,
        seq: None,
        pe_data: None,
        pe_name: None,
    }
}

/// The datagrams the master sends (deterministic): a persistent
/// connection and its template after 3 packets, an IPv6 connection, a v0
/// message, and one message with a foreign syncid the backup must ignore.
fn datagrams() -> Vec<Vec<u8>> {
    let now = Duration::ZERO;
    let mut m = SyncMaster::new(SyncParams {
        syncid: SYNCID,
        ..SyncParams::default()
    });
    let dr = IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_HASHED;
    let c = conn(
        "203.0.113.5",
        51234,
        "10.0.0.100",
        "192.168.1.11",
        dr,
        1,
        900,
    );
    let t = conn(
        "203.0.113.0",
        0,
        "10.0.0.100",
        "192.168.1.11",
        dr | IP_VS_CONN_F_TEMPLATE | IP_VS_CONN_F_INACTIVE,
        1,
        360,
    );
    let c6 = conn(
        "2001:db8::5",
        40000,
        "2001:db8:1::100",
        "fd00::11",
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
    for pkts in 1..=3 {
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
        m.sync_conn(now, &mut chain, pkts);
        let mut chain6 = [ChainLink {
            conn: &c6,
            st: &mut c6s,
        }];
        m.sync_conn(now, &mut chain6, pkts);
    }
    let mut out = vec![];
    m.flush();
    while let Some(d) = m.poll_transmit(now) {
        out.push(d);
    }
    let mut v0 = MessageBuf::new(Version::V0, SYNCID);
    let mut u = conn(
        "198.51.100.7",
        5353,
        "10.0.0.100",
        "192.168.1.12",
        IP_VS_CONN_F_INACTIVE,
        0,
        0,
    );
    u.protocol = 17;
    v0.push(&u).unwrap();
    out.push(v0.finish());
    let mut other = MessageBuf::new(Version::V1, SYNCID + 4);
    other
        .push(&conn(
            "203.0.113.9",
            1,
            "10.0.0.100",
            "192.168.1.11",
            0,
            1,
            60,
        ))
        .unwrap();
    out.push(other.finish());
    out
}

fn backup_cfg() -> BackupCfg {
    BackupCfg {
        syncid: SYNCID,
        ..BackupCfg::default()
    }
}

fn sock_cfg(group: &str, iface: &str) -> lvs_sys::sync::SyncSocketCfg {
    lvs_sys::sync::SyncSocketCfg {
        ifname: iface.to_string(),
        group: group.parse().unwrap(),
        port: PORT,
        ttl: 1,
        sock_size: 0,
    }
}

/// One endpoint, when re-executed by the test below.
#[test]
fn endpoint() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let group = std::env::var(GROUP).unwrap();
    let iface = std::env::var(IFACE).unwrap();
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let cfg = sock_cfg(&group, &iface);
    match role.as_str() {
        "master" => {
            let s = lvs_sys::sync::open_master(&cfg).unwrap();
            for d in datagrams() {
                assert_eq!(s.send(&d).unwrap(), d.len());
            }
        }
        "backup" => {
            let s = lvs_sys::sync::open_backup(&cfg).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            std::fs::write(dir.join("ready"), b"").unwrap();
            let want = datagrams().len();
            let mut backup = SyncBackup::new(backup_cfg());
            let mut lines = String::new();
            let mut buf = vec![0u8; 65536];
            for _ in 0..want {
                let (n, from) = s.recv_from(&mut buf).unwrap();
                lines += &format!("FROM {from}\n");
                let mut actions = vec![];
                backup.process(&buf[..n], &mut actions);
                for a in actions {
                    lines += &format!("{}\n", serde_json::to_string(&a).unwrap());
                }
            }
            std::fs::write(dir.join("out.tmp"), lines).unwrap();
            std::fs::rename(dir.join("out.tmp"), dir.join("out")).unwrap();
        }
        r => panic!("unknown role {r}"),
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {args:?} failed");
}

struct Lab {
    ns: Vec<String>,
    children: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(ns: &str, role: &str, group: &str, iface: &str, dir: &Path) -> Child {
    let exe = std::env::current_exe().unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(exe)
        .args(["--exact", "endpoint", "--test-threads=1", "--nocapture"])
        .env(ROLE, role)
        .env(GROUP, group)
        .env(IFACE, iface)
        .env(DIR, dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(p: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if p.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn run_lab(group: &str) {
    let tag = format!(
        "{}{}",
        std::process::id(),
        if group.contains(':') { "6" } else { "4" }
    );
    let (na, nb) = (format!("h8sa{tag}"), format!("h8sb{tag}"));
    let dir = std::env::temp_dir().join(format!("lvs-sync-netns-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut lab = Lab {
        ns: vec![],
        children: vec![],
        dir: dir.clone(),
    };
    for n in [&na, &nb] {
        ip(&["netns", "add", n]);
        lab.ns.push(n.clone());
        // No DAD, so the IPv6 link-local source is usable at once.
        let _ = Command::new("ip")
            .args([
                "netns",
                "exec",
                n,
                "sysctl",
                "-qw",
                "net.ipv6.conf.default.accept_dad=0",
            ])
            .status();
        ip(&["-n", n, "link", "set", "lo", "up"]);
    }
    ip(&[
        "link", "add", "sa0", "netns", &na, "type", "veth", "peer", "name", "sb0", "netns", &nb,
    ]);
    ip(&["-n", &na, "addr", "add", "10.208.0.1/24", "dev", "sa0"]);
    ip(&["-n", &nb, "addr", "add", "10.208.0.2/24", "dev", "sb0"]);
    ip(&["-n", &na, "link", "set", "sa0", "up"]);
    ip(&["-n", &nb, "link", "set", "sb0", "up"]);

    // IPv6: wait for the link-local addresses (the multicast source).
    for (n, dev) in [(&na, "sa0"), (&nb, "sb0")] {
        let start = Instant::now();
        loop {
            let o = Command::new("ip")
                .args(["-n", n, "-6", "addr", "show", "dev", dev, "scope", "link"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            if text.contains("fe80") && !text.contains("tentative") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no link-local on {dev}: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    lab.children.push(spawn(&nb, "backup", group, "sb0", &dir));
    assert!(
        wait_for(&dir.join("ready"), Duration::from_secs(20)),
        "backup not ready"
    );
    let mut master = spawn(&na, "master", group, "sa0", &dir);
    assert!(master.wait().unwrap().success(), "master endpoint failed");
    assert!(
        wait_for(&dir.join("out"), Duration::from_secs(20)),
        "backup got no datagrams"
    );
    let out = std::fs::read_to_string(dir.join("out")).unwrap();

    // Every datagram came from the master's side of the veth.
    let froms: Vec<&str> = out.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), datagrams().len());
    for f in &froms {
        let addr: std::net::SocketAddr = f[5..].parse().unwrap();
        match addr.ip() {
            IpAddr::V4(a) => assert_eq!(a.to_string(), "10.208.0.1"),
            IpAddr::V6(a) => assert!(a.segments()[0] == 0xfe80, "{a}"),
        }
    }
    // The backup's actions over the network equal the backup logic applied
    // to the master's datagrams in-process.
    let got: Vec<&str> = out.lines().filter(|l| !l.starts_with("FROM ")).collect();
    let mut backup = SyncBackup::new(backup_cfg());
    let mut want_actions = vec![];
    for d in datagrams() {
        backup.process(&d, &mut want_actions);
    }
    let want: Vec<String> = want_actions
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect();
    assert_eq!(got, want);

    // And those are what the master's table held.
    let installs: Vec<&ConnInstall> = want_actions
        .iter()
        .filter_map(|a| match a {
            BackupAction::Install(i) => Some(i),
            _ => None,
        })
        .collect();
    // The template is re-sent with each of the 3 packets of its controlled
    // connection (templates skip the packet-count rule), so 3 + 3 entries.
    assert_eq!(installs.len(), 6, "{installs:#?}");
    assert_eq!(installs.iter().filter(|i| i.conn.is_template()).count(), 3);
    let tpl = installs.iter().find(|i| i.conn.is_template()).unwrap();
    assert_eq!(tpl.conn.caddr.to_string(), "203.0.113.0");
    assert_eq!(tpl.conn.timeout, 360);
    assert_eq!(
        tpl.conn.flags,
        IP_VS_CONN_F_TEMPLATE
            | IP_VS_CONN_F_DROUTE
            | IP_VS_CONN_F_NOOUTPUT
            | IP_VS_CONN_F_INACTIVE
            | IP_VS_CONN_F_SYNC
    );
    assert!(installs
        .iter()
        .any(|i| i.conn.cport == 51234 && i.conn.state == 1 && i.conn.timeout == 900));
    assert!(installs.iter().any(|i| i.conn.caddr.is_ipv6()));
    assert!(installs
        .iter()
        .any(|i| i.conn.protocol == 17 && i.conn.timeout == 300 && i.version == Version::V0));
    assert!(want_actions
        .iter()
        .any(|a| matches!(a, BackupAction::IgnoredSyncid(9))));
}

#[test]
fn master_to_backup_over_multicast_in_netns() {
    if !is_root() || Command::new("ip").arg("-V").output().is_err() {
        eprintln!("skipped: needs root and iproute2");
        return;
    }
    run_lab("224.0.0.81");
    run_lab("ff02::51");
}
