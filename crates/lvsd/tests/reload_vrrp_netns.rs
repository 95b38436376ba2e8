//! A reload whose VRRP part the VRRP driver refuses is not recorded as applied: `lvsd reload`
//! says the VRRP part was refused (exit 1), and once the cause is gone the same configuration,
//! reloaded again, is applied (before, the daemon believed it applied and skipped it).
//!
//! `lvsd run` in a network namespace this test creates; the refused configuration adds an
//! instance on an interface that does not exist yet (the driver cannot look it up), which the
//! test then creates. Gated at run time: needs root and iproute2 (skips with a reason otherwise).

mod common;

use common::ip;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

fn instance(name: &str, ifname: &str, vrid: u8, vip: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n  state BACKUP\n  interface {ifname}\n  virtual_router_id {vrid}\n  \
         priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    {vip}/32\n  }}\n}}\n"
    )
}

#[test]
fn refused_vrrp_reload_is_reported_and_retried() {
    if !common::netns_capable() {
        return;
    }
    let mut w = common::VethWorld::new("lvsd-hd-reload");
    let (ns, dir) = (w.ns.clone(), w.dir.clone());
    let conf = dir.join("keepalived.conf");
    let one = instance("VI_1", "v0", 51, "10.66.0.100");
    std::fs::write(&conf, &one).unwrap();
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
    let names = || -> Option<Vec<String>> {
        let out = Command::new(LVSD)
            .args(["status", "--json", "--control-socket", &sock])
            .output()
            .ok()?;
        let st: Value = serde_json::from_slice(&out.stdout).ok()?;
        Some(
            st["vrrp_instances"]
                .as_array()?
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect(),
        )
    };
    let t0 = Instant::now();
    while names().as_deref() != Some(&["VI_1".to_owned()][..]) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "lvsd not up\n{}",
            lvsd_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let reload = || -> Output {
        Command::new(LVSD)
            .args(["reload", "--control-socket", &sock])
            .output()
            .unwrap()
    };
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    // A second instance on d9, which does not exist: the driver refuses, the reply says so.
    let two = format!("{one}{}", instance("VI_2", "d9", 52, "10.67.0.100"));
    std::fs::write(&conf, &two).unwrap();
    let o = reload();
    assert!(
        !o.status.success() && text(&o).contains("VRRP configuration was refused"),
        "{}\n{}",
        text(&o),
        lvsd_log()
    );
    assert!(text(&o).contains("d9"), "{}", text(&o));
    assert_eq!(names().unwrap(), vec!["VI_1"]);
    // The cause gone, the same configuration reloads and is applied.
    ip(
        &ns,
        &["link", "add", "d9", "type", "veth", "peer", "name", "d9p"],
    );
    ip(&ns, &["addr", "add", "10.67.0.1/24", "dev", "d9"]);
    ip(&ns, &["link", "set", "d9", "up"]);
    ip(&ns, &["link", "set", "d9p", "up"]);
    let o = reload();
    assert!(o.status.success(), "{}\n{}", text(&o), lvsd_log());
    let mut got = names().unwrap();
    got.sort();
    assert_eq!(got, vec!["VI_1", "VI_2"], "{}", lvsd_log());
    // Nothing changed since: reloading again is a plain success.
    let o = reload();
    assert!(o.status.success(), "{}", text(&o));
}
