//! `lvsd run` (full mode) in a network namespace this test creates: one VRRP instance becomes
//! MASTER and adds its VIP; the virtual server on that VIP has `ha_suspend`, so its checker runs
//! only once the VIP is here; the built-in data plane receives the real server; systemd
//! notifications (READY / RELOADING / STOPPING) arrive on NOTIFY_SOCKET; `lvsd status --json`
//! shows `vrrp_instances[]`; SIGTERM removes the VIP.
//!
//! Gated at run time: needs root and iproute2 (skips with a reason otherwise).

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

struct World {
    ns: String,
    dir: std::path::PathBuf,
    children: Vec<Child>,
}

impl Drop for World {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sh(args: &[&str]) {
    assert!(
        Command::new(args[0])
            .args(&args[1..])
            .status()
            .unwrap()
            .success(),
        "{args:?}"
    );
}

fn addrs(ns: &str) -> String {
    String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-n", ns, "addr", "show", "dev", "v0"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned()
}

#[test]
fn vrrp_master_ha_suspend_builtin_and_sd_notify() {
    if !common::netns_capable() {
        return;
    }
    let ns = format!("lvsd-h6-vrrp-{}", std::process::id());
    let dir = std::env::temp_dir().join(&ns);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    sh(&["ip", "netns", "add", &ns]);
    let mut w = World {
        ns: ns.clone(),
        dir: dir.clone(),
        children: Vec::new(),
    };
    for a in [
        &["link", "set", "lo", "up"][..],
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
        &["addr", "add", "10.66.0.1/24", "dev", "v0"],
        &["link", "set", "v0", "up"],
        &["link", "set", "v1", "up"],
    ] {
        let mut v = vec!["ip", "-n", &ns];
        v.extend_from_slice(a);
        sh(&v);
    }
    // The real server: a TCP listener inside the namespace.
    let rs = Command::new("ip")
        .args(["netns", "exec", &ns, "python3", "-c"])
        .arg("import socket,time\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.66.0.1', 8080)); s.listen(8)\nwhile True: c,_=s.accept(); c.close()")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    w.children.push(rs);
    let conf = dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n  state BACKUP\n  interface v0\n  virtual_router_id 51\n  priority 150\n  advert_int 1\n  virtual_ipaddress {\n    10.66.0.100/32\n  }\n}\n\
         virtual_server 10.66.0.100 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n  ha_suspend\n\
           real_server 10.66.0.1 80 {\n    weight 3\n    TCP_CHECK {\n      connect_port 8080\n      connect_timeout 1\n      warmup 0\n    }\n  }\n}\n",
    )
    .unwrap();
    let notify = UnixDatagram::bind(dir.join("notify.sock")).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let sock = dir.join("ctl.sock").display().to_string();
    let log = std::fs::File::create(dir.join("lvsd.log")).unwrap();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            LVSD,
            "run",
            "-n",
            "-l",
            "--dataplane",
            "builtin",
            "--control-socket",
            &sock,
        ])
        .arg("-f")
        .arg(&conf)
        .env("NOTIFY_SOCKET", dir.join("notify.sock"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    w.children.push(child);
    let lvsd_log = || std::fs::read_to_string(dir.join("lvsd.log")).unwrap_or_default();
    let mut buf = [0u8; 256];
    let recv = |buf: &mut [u8]| -> String {
        let n = notify
            .recv(buf)
            .unwrap_or_else(|e| panic!("no sd_notify message: {e}\n{}", lvsd_log()));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert!(recv(&mut buf).starts_with("READY=1"));
    let status = || -> Option<Value> {
        let out = Command::new(LVSD)
            .args(["status", "--json", "--control-socket", &sock])
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    // Before MASTER (≈ 3 × advert_int + skew) the VIP is absent and the checker suspended.
    let st = status().unwrap();
    let vi = &st["vrrp_instances"][0];
    assert_eq!(
        (vi["name"].as_str(), vi["priority"].as_u64()),
        (Some("VI_1"), Some(150))
    );
    assert_ne!(vi["state"], "MASTER");
    assert_eq!(st["virtual_servers"][0]["suspended"], true);
    assert_eq!(
        st["virtual_servers"][0]["real_servers"][0]["checkers"][0]["runs"],
        0
    );
    // MASTER: VIP added, checker running, real server in the built-in data plane.
    let t0 = Instant::now();
    let st = loop {
        let st = status().unwrap();
        if st["vrrp_instances"][0]["state"] == "MASTER"
            && st["virtual_servers"][0]["real_servers"][0]["checkers"][0]["runs"].as_u64()
                >= Some(1)
        {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no MASTER / no check: {st}\n{}",
            lvsd_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(addrs(&ns).contains("10.66.0.100/32"));
    assert_eq!(st["virtual_servers"][0]["suspended"], false);
    let rs0 = &st["virtual_servers"][0]["real_servers"][0];
    assert_eq!(
        (rs0["alive"].as_bool(), rs0["weight"].as_u64()),
        (Some(true), Some(3)),
        "{st}"
    );
    assert_eq!(st["dataplane"]["mode"], "builtin");
    assert_eq!(st["dataplane"]["last_error"], Value::Null, "{st}");
    // Reload notifications.
    let pid = st["pid"].as_u64().unwrap().to_string();
    sh(&["kill", "-HUP", &pid]);
    assert_eq!(recv(&mut buf), "RELOADING=1");
    assert_eq!(recv(&mut buf), "READY=1");
    // Still MASTER after the reload (state kept).
    assert_eq!(status().unwrap()["vrrp_instances"][0]["state"], "MASTER");
    // Graceful stop: STOPPING, VIP removed.
    sh(&["kill", "-TERM", &pid]);
    assert_eq!(recv(&mut buf), "STOPPING=1");
    let t0 = Instant::now();
    while addrs(&ns).contains("10.66.0.100/32") {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "VIP left behind\n{}",
            lvsd_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let child = w.children.last_mut().unwrap();
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "{}", lvsd_log());
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no exit\n{}",
            lvsd_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
