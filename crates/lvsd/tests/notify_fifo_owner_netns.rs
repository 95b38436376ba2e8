//! `notify_fifo PATH USER GROUP` / `vrrp_notify_fifo PATH USER:GROUP`: the FIFOs `lvsd run`
//! creates belong to that user and group (keepalived chowns the FIFO it creates), so a reader
//! running as that user can open them; a FIFO without an owner stays root's.
//!
//! `lvsd run` in a network namespace this test creates. Gated at run time: needs root and
//! iproute2 (skips with a reason otherwise).

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

#[test]
fn notify_fifos_get_their_configured_owner() {
    if !common::netns_capable() {
        return;
    }
    let mut w = common::VethWorld::new("lvsd-hd-fifo");
    let (ns, dir) = (w.ns.clone(), w.dir.clone());
    let (n, v, r) = (
        dir.join("n.fifo"),
        dir.join("v.fifo"),
        dir.join("root.fifo"),
    );
    // Numeric ids: whatever the host's passwd names them.
    let conf = dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n  notify_fifo {} 65534 65533\n  vrrp_notify_fifo {} 65532:65531\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface v0\n  virtual_router_id 51\n  \
             priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    10.66.0.100/32\n  }}\n}}\n",
            n.display(),
            v.display()
        ),
    )
    .unwrap();
    let sock = dir.join("ctl.sock").display().to_string();
    let log = std::fs::File::create(dir.join("lvsd.log")).unwrap();
    w.child = Some(
        Command::new("ip")
            .args(["netns", "exec", &ns, LVSD, "run", "-n", "-l"])
            .args(["--dataplane", "none", "--control-socket", &sock, "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let lvsd_log = || std::fs::read_to_string(dir.join("lvsd.log")).unwrap_or_default();
    let t0 = Instant::now();
    while !(n.exists() && v.exists()) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "FIFOs not created\n{}",
            lvsd_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for (p, uid, gid) in [(&n, 65534, 65533), (&v, 65532, 65531)] {
        let m = std::fs::metadata(p).unwrap();
        assert!(m.file_type().is_fifo(), "{}", p.display());
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o777),
            (uid, gid, 0o600),
            "{}\n{}",
            p.display(),
            lvsd_log()
        );
    }
    // The same FIFO without an owner: root's (reload with the owner dropped from notify_fifo).
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n  notify_fifo {}\n  vrrp_notify_fifo {} 65532:65531\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface v0\n  virtual_router_id 51\n  \
             priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    10.66.0.100/32\n  }}\n}}\n",
            r.display(),
            v.display()
        ),
    )
    .unwrap();
    let o = Command::new(LVSD)
        .args(["reload", "--control-socket", &sock])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}\n{}", lvsd_log());
    let t0 = Instant::now();
    while !r.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no FIFO after reload\n{}",
            lvsd_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = std::fs::metadata(&r).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
}
