//! `lvsd run -P` in network namespaces this test creates, for the VRRP features of issue 5 and the
//! VRRP part of reload (issue 7):
//!
//! * `notify_fifo`: keepalived's lines (`INSTANCE "VI_1" MASTER 150`) read from the FIFO lvsd
//!   creates, while the instance goes BACKUP → MASTER → (reload) → STOP;
//! * `script_user nobody` + `enable_script_security`: the `notify` script runs as uid 65534; a
//!   world-writable script is disabled with a file:line diagnostic;
//! * `virtual_routes` / `virtual_rules`: present in `ip route` / `ip rule` while MASTER, gone after
//!   stop;
//! * SIGHUP: priority, VIPs and routes edited in place without a state change of VI_1, a new
//!   instance added then removed (DELETED, `notify_deleted`);
//! * `use_vmac`: a private-mode macvlan `vrrp.63` with MAC 00:00:5e:00:01:3f holds the VIP, the
//!   adverts leave with that MAC, and it is deleted at stop.
//!
//! Gated at run time: needs root, iproute2 and python3 (skips with a reason otherwise).

use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

struct World {
    ns: String,
    dir: PathBuf,
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

fn out(args: &[&str]) -> String {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn usable() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let ip = Command::new("ip").arg("-V").output().is_ok();
    let py = Command::new("python3").arg("-V").output().is_ok();
    if !(root && ip && py) {
        eprintln!("skipping: needs root, iproute2 and python3");
    }
    root && ip && py
}

/// A namespace with a veth pair v0 (10.77.N.1/24) — v1, and a private temp dir.
fn world(tag: &str, net: u8) -> World {
    let ns = format!("lvsd-hD-{tag}-{}", std::process::id());
    let dir = std::env::temp_dir().join(&ns);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    sh(&["ip", "netns", "add", &ns]);
    let w = World {
        ns: ns.clone(),
        dir,
        children: Vec::new(),
    };
    let a = format!("10.77.{net}.1/24");
    for args in [
        &["link", "set", "lo", "up"][..],
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
        &["addr", "add", &a, "dev", "v0"],
        &["link", "set", "v0", "up"],
        &["link", "set", "v1", "up"],
    ] {
        let mut v = vec!["ip", "-n", &ns];
        v.extend_from_slice(args);
        sh(&v);
    }
    w
}

fn start_lvsd(w: &mut World, conf: &Path) -> u32 {
    let log = std::fs::File::create(w.dir.join("lvsd.log")).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &w.ns, LVSD, "run", "-P", "-n", "-l"])
        .arg("-f")
        .arg(conf)
        .arg("-p")
        .arg(w.dir.join("lvsd.pid"))
        .arg("--control-socket")
        .arg(w.dir.join("ctl.sock"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id();
    w.children.push(child);
    pid
}

fn wait_for(what: &str, w: &World, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}\nlvsd log:\n{}",
            std::fs::read_to_string(w.dir.join("lvsd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(w: &World) -> serde_json::Value {
    let o = Command::new(LVSD)
        .args(["status", "--json", "--control-socket"])
        .arg(w.dir.join("ctl.sock"))
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

struct FifoReader {
    f: Option<std::fs::File>,
    path: PathBuf,
    text: String,
}

impl FifoReader {
    fn poll(&mut self) -> &str {
        if self.f.is_none() {
            self.f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc_o_nonblock())
                .open(&self.path)
                .ok();
        }
        if let Some(f) = &mut self.f {
            let mut buf = [0u8; 4096];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                self.text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        &self.text
    }
}

fn libc_o_nonblock() -> i32 {
    0o4000 // O_NONBLOCK on Linux
}

const CONF1: &str = r#"global_defs {
  script_user nobody
  enable_script_security
  notify_fifo DIR/notify.fifo
}
static_routes {
  10.90.0.0/24 dev v0
}
vrrp_instance VI_1 {
  state BACKUP
  interface v0
  virtual_router_id 61
  priority 150
  advert_int 1
  virtual_ipaddress {
    10.77.0.100/32
  }
  virtual_routes {
    10.78.0.0/24 via 10.77.0.2 dev v0 table 100
  }
  virtual_rules {
    from 10.77.0.100/32 table 100 priority 1000
  }
  notify DIR/notify.sh
  notify_master DIR/open/bad.sh
}
"#;

#[test]
fn fifo_script_user_routes_rules_and_reload() {
    if !usable() {
        return;
    }
    let mut w = world("feat", 0);
    let dir = w.dir.clone();
    let d = dir.display().to_string();
    // The notify script (root-owned, 0755, in a 0755 directory) appends "uid args" to a log in a
    // world-writable directory that is not on its own path.
    let logdir = dir.join("out");
    std::fs::create_dir_all(&logdir).unwrap();
    std::fs::set_permissions(&logdir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let notify = dir.join("notify.sh");
    std::fs::write(
        &notify,
        format!(
            "#!/bin/sh\necho \"$(id -u) $*\" >> {}/notify.log\n",
            logdir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o755)).unwrap();
    // An unsafe script: its directory is world-writable (no sticky bit).
    let open = dir.join("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(
        open.join("bad.sh"),
        format!("#!/bin/sh\ntouch {}/bad-ran\n", logdir.display()),
    )
    .unwrap();
    std::fs::set_permissions(open.join("bad.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();

    let conf = dir.join("keepalived.conf");
    std::fs::write(&conf, CONF1.replace("DIR", &d)).unwrap();
    let pid = start_lvsd(&mut w, &conf).to_string();
    let mut fifo = FifoReader {
        f: None,
        path: dir.join("notify.fifo"),
        text: String::new(),
    };
    wait_for("BACKUP then MASTER on the FIFO", &w, || {
        fifo.poll()
            .contains("INSTANCE \"VI_1\" BACKUP 150\nINSTANCE \"VI_1\" MASTER 150\n")
    });
    let ns = w.ns.clone();
    let route = || out(&["ip", "-n", &ns, "route", "show", "table", "100"]);
    let rule = || out(&["ip", "-n", &ns, "rule", "show"]);
    let addrs = || out(&["ip", "-n", &ns, "addr", "show", "dev", "v0"]);
    wait_for("virtual route", &w, || {
        route().contains("10.78.0.0/24 via 10.77.0.2")
    });
    assert!(route().contains("proto keepalived"), "{}", route());
    assert!(
        rule().contains("1000:\tfrom 10.77.0.100 lookup 100"),
        "{}",
        rule()
    );
    assert!(addrs().contains("10.77.0.100/32"));
    let main_routes = || out(&["ip", "-n", &ns, "route", "show"]);
    assert!(
        main_routes().contains("10.90.0.0/24 dev v0 proto keepalived"),
        "{}",
        main_routes()
    );
    // The notify script ran as nobody with keepalived's arguments.
    let nlog = logdir.join("notify.log");
    wait_for("notify script", &w, || {
        std::fs::read_to_string(&nlog)
            .unwrap_or_default()
            .contains("65534 INSTANCE VI_1 MASTER 150")
    });
    // The unsafe one was refused at start with file:line, and never ran.
    let log = std::fs::read_to_string(dir.join("lvsd.log")).unwrap();
    let at = format!("{}:25: notify_master: unsafe script", conf.display());
    assert!(log.contains(&at), "no '{at}' in:\n{log}");
    assert!(log.contains("disabling (enable_script_security)"), "{log}");
    assert!(!logdir.join("bad-ran").exists());

    // Reload: VI_1 priority 200, one more VIP, the route replaced; VI_2 added.
    let conf2 = CONF1
        .replace("DIR", &d)
        .replace("priority 150", "priority 200")
        .replace(
            "    10.77.0.100/32\n",
            "    10.77.0.100/32\n    10.77.0.101/32\n",
        )
        .replace("10.78.0.0/24", "10.79.0.0/24")
        + "vrrp_instance VI_2 {\n  interface v0\n  virtual_router_id 62\n  priority 100\n  notify_deleted " + &d + "/notify.sh\n  virtual_ipaddress {\n    10.77.0.102/32\n  }\n}\n";
    std::fs::write(&conf, &conf2).unwrap();
    let before = fifo.poll().len();
    sh(&["kill", "-HUP", &pid]);
    wait_for("the new VIP and VI_2 MASTER", &w, || {
        addrs().contains("10.77.0.101/32") && addrs().contains("10.77.0.102/32")
    });
    wait_for("the new route", &w, || route().contains("10.79.0.0/24"));
    assert!(!route().contains("10.78.0.0/24"), "{}", route());
    assert!(addrs().contains("10.77.0.100/32"));
    let st = status(&w);
    let vi1 = &st["vrrp_instances"][0];
    assert_eq!(
        (vi1["state"].as_str(), vi1["priority"].as_u64()),
        (Some("MASTER"), Some(200)),
        "{st}"
    );
    let after = fifo.poll()[before..].to_string();
    assert!(
        !after.contains("VI_1"),
        "VI_1 changed state on reload:\n{after}"
    );
    assert!(
        after.contains("INSTANCE \"VI_2\" BACKUP 100\nINSTANCE \"VI_2\" MASTER 100\n"),
        "{after}"
    );
    // Reload without VI_2: it leaves (DELETED, as it has notify_deleted) and drops its VIP.
    std::fs::write(&conf, conf2.split("vrrp_instance VI_2").next().unwrap()).unwrap();
    let before = fifo.poll().len();
    sh(&["kill", "-HUP", &pid]);
    wait_for("VI_2 removed", &w, || !addrs().contains("10.77.0.102/32"));
    wait_for("VI_2 DELETED line", &w, || {
        fifo.poll()[before..].contains("INSTANCE \"VI_2\" DELETED 100\n")
    });
    // notify_deleted ran (as nobody, with no extra arguments).
    wait_for("notify_deleted", &w, || {
        std::fs::read_to_string(&nlog)
            .unwrap_or_default()
            .lines()
            .any(|l| l.trim_end() == "65534")
    });
    assert!(addrs().contains("10.77.0.101/32"));

    // Stop: STOP line, VIPs, route and rule gone.
    sh(&["kill", "-TERM", &pid]);
    wait_for("STOP line", &w, || {
        fifo.poll().contains("INSTANCE \"VI_1\" STOP 200\n")
    });
    wait_for("cleanup", &w, || {
        !addrs().contains("10.77.0.10")
            && !route().contains("10.79")
            && !rule().contains("lookup 100")
            && !main_routes().contains("10.90.0.0/24")
    });
}

#[test]
fn use_vmac_holds_the_vip_and_sends_with_the_virtual_mac() {
    if !usable() {
        return;
    }
    let mut w = world("vmac", 1);
    let conf = w.dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_V {\n  interface v0\n  virtual_router_id 63\n  priority 150\n  advert_int 1\n  use_vmac\n  virtual_ipaddress {\n    10.77.1.100/32\n  }\n}\n",
    )
    .unwrap();
    let pid = start_lvsd(&mut w, &conf).to_string();
    let ns = w.ns.clone();
    let link = || out(&["ip", "-n", &ns, "-d", "link", "show", "vrrp.63"]);
    let vaddrs = || out(&["ip", "-n", &ns, "addr", "show", "dev", "vrrp.63"]);
    wait_for("the VMAC", &w, || link().contains("macvlan mode private"));
    assert!(
        link().contains("link/ether 00:00:5e:00:01:3f"),
        "{}",
        link()
    );
    wait_for("the VIP on the VMAC", &w, || {
        vaddrs().contains("10.77.1.100/32")
    });
    // Adverts seen on the other end of the veth come from the virtual MAC.
    let seen = Command::new("ip")
        .args(["netns", "exec", &ns, "python3", "-c"])
        .arg(
            "import socket\n\
             s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))\n\
             s.bind(('v1',0)); s.settimeout(5)\n\
             while True:\n\
             \x20 f=s.recv(2048)\n\
             \x20 if f[23]==112:\n\
             \x20   print(':'.join('%02x'%b for b in f[6:12])); break\n",
        )
        .output()
        .unwrap();
    let mac = String::from_utf8_lossy(&seen.stdout).trim().to_string();
    assert_eq!(
        mac,
        "00:00:5e:00:01:3f",
        "{}",
        String::from_utf8_lossy(&seen.stderr)
    );
    sh(&["kill", "-TERM", &pid]);
    wait_for("the VMAC deleted", &w, || {
        !out(&["ip", "-n", &ns, "link", "show"]).contains("vrrp.63")
    });
}
