//! TCP_CHECK in both modes of `lvsd run --tcp-check` (half-open SYN probes, the default, and
//! full connects) and the automatic fallback to connects without CAP_NET_RAW, end to end in two
//! network namespaces this test creates: the director `d` runs `lvsd run -C --dataplane none`,
//! the server namespace `s` (10.89.0.2, on a veth pair) runs a listener on :8000 that counts the
//! connections it accepts and can be switched off; :8001 is closed; 10.89.9.9 is routed to `s`,
//! which drops it (a blackhole). In every mode: the listener is up, the closed port and the
//! blackhole are down, the listener goes down when it stops listening and comes back. Half-open:
//! the listener never accepts a connection and the server keeps no SYN-RECV/ESTABLISHED entry;
//! connect (asked for, or the fallback): the listener accepts the probes.
//!
//! Gated at run time: needs root, iproute2, python3 and setpriv (skips with a reason otherwise).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::sh;

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

const SERVER_PY: &str = r#"
import os, socket, sys, time
ctl = sys.argv[1]; n = 0; s = None
open(os.path.join(ctl, "ready"), "w").close()
while True:
    if os.path.exists(os.path.join(ctl, "down")):
        if s: s.close(); s = None
        time.sleep(0.05); continue
    if s is None:
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("10.89.0.2", 8000)); s.listen(64); s.settimeout(0.05)
    try:
        c, _ = s.accept(); c.close(); n += 1
        with open(os.path.join(ctl, "accepted.tmp"), "w") as f: f.write(str(n))
        os.rename(os.path.join(ctl, "accepted.tmp"), os.path.join(ctl, "accepted"))
    except socket.timeout:
        pass
"#;

const CONFIG: &str = "virtual_server 192.0.2.50 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.89.0.2 8000 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      retry 1
      delay_before_retry 1
    }
  }
  real_server 10.89.0.2 8001 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      retry 1
      delay_before_retry 1
    }
  }
  real_server 10.89.9.9 8000 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      retry 1
      delay_before_retry 1
    }
  }
}
";

/// Both namespaces, the children and the scratch directory, torn down on drop (children by
/// PID, then the namespaces).
struct World {
    d: String,
    s: String,
    dir: PathBuf,
    server: Option<Child>,
    lvsd: Option<Child>,
}

impl Drop for World {
    fn drop(&mut self) {
        for c in [&mut self.lvsd, &mut self.server].into_iter().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.d, &self.s] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl World {
    fn new() -> Self {
        let pid = std::process::id();
        let (d, s) = (format!("lvsd-tcm-d-{pid}"), format!("lvsd-tcm-s-{pid}"));
        let dir = std::env::temp_dir().join(format!("lvsd-tcm-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        sh(&["ip", "netns", "add", &d]);
        sh(&["ip", "netns", "add", &s]);
        let w = Self {
            d,
            s,
            dir,
            server: None,
            lvsd: None,
        };
        let (d, s) = (w.d.as_str(), w.s.as_str());
        sh(&["ip", "-n", d, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", s, "link", "set", "lo", "up"]);
        sh(&[
            "ip", "-n", d, "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", s,
        ]);
        sh(&["ip", "-n", d, "addr", "add", "10.89.0.1/24", "dev", "v0"]);
        sh(&["ip", "-n", s, "addr", "add", "10.89.0.2/24", "dev", "v1"]);
        sh(&["ip", "-n", d, "link", "set", "v0", "up"]);
        sh(&["ip", "-n", s, "link", "set", "v1", "up"]);
        sh(&[
            "ip",
            "-n",
            d,
            "route",
            "add",
            "10.89.9.0/24",
            "via",
            "10.89.0.2",
        ]);
        w
    }

    fn sock(&self) -> String {
        self.dir.join("lvsd.sock").display().to_string()
    }

    fn status(&self) -> Option<Value> {
        let out = Command::new(LVSD)
            .args(["status", "--json", "--control-socket", &self.sock()])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())?
    }

    fn accepted(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("accepted"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// lvsd's log, without colour escapes.
    fn log(&self) -> String {
        let raw = std::fs::read_to_string(self.dir.join("lvsd.log")).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut it = raw.chars();
        while let Some(c) = it.next() {
            if c == '\x1b' {
                for c in it.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Starts lvsd in `d`, with `prefix` before it (e.g. setpriv) and `args` after `run`.
    fn start_lvsd(&mut self, prefix: &[&str], args: &[&str]) {
        let conf = self.dir.join("keepalived.conf");
        std::fs::write(&conf, CONFIG).unwrap();
        let _ = std::fs::remove_file(self.dir.join("lvsd.sock"));
        let log = std::fs::File::create(self.dir.join("lvsd.log")).unwrap();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.d])
            .args(prefix)
            .args([LVSD, "run", "-C", "-n", "-l", "-f"])
            .arg(&conf)
            .args(["--control-socket", &self.sock(), "--dataplane", "none"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.lvsd = Some(c.spawn().expect("lvsd"));
    }

    fn stop_lvsd(&mut self) {
        if let Some(mut c) = self.lvsd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// (alive) of the real server at `ip`:`port`.
fn alive(st: &Value, ip: &str, port: u64) -> Option<bool> {
    st["virtual_servers"]
        .as_array()?
        .iter()
        .flat_map(|v| v["real_servers"].as_array().into_iter().flatten())
        .find(|r| r["address"] == ip && r["port"].as_u64() == Some(port))
        .and_then(|r| r["alive"].as_bool())
}

/// Waits up to `limit` for `want` = (listener, closed port, blackhole) alive states.
fn wait_for(w: &World, want: (bool, bool, bool), limit: Duration) -> Result<f64, String> {
    let t0 = Instant::now();
    let mut last = None;
    while t0.elapsed() < limit {
        if let Some(st) = w.status() {
            let got = (
                alive(&st, "10.89.0.2", 8000),
                alive(&st, "10.89.0.2", 8001),
                alive(&st, "10.89.9.9", 8000),
            );
            if got == (Some(want.0), Some(want.1), Some(want.2)) {
                return Ok(t0.elapsed().as_secs_f64());
            }
            last = Some(got);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "wanted {want:?}, last {last:?} after {limit:?}\nlog:\n{}",
        w.log()
    ))
}

#[test]
fn tcp_check_half_open_connect_and_fallback_in_netns() {
    if let Some(why) = common::gate(&["ip", "python3", "setpriv", "ss"]) {
        eprintln!("skipping tcp_check_half_open_connect_and_fallback_in_netns: {why}");
        return;
    }
    let mut w = World::new();
    let py = w.dir.join("server.py");
    std::fs::write(&py, SERVER_PY).unwrap();
    let server = Command::new("ip")
        .args(["netns", "exec", &w.s, "python3"])
        .arg(&py)
        .arg(&w.dir)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    w.server = Some(server);
    let t0 = Instant::now();
    while !w.dir.join("ready").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Down within retry × (connect_timeout + delay_before_retry) + delay_loop (+ slack).
    let bound = Duration::from_secs_f64(1.0 * (1.0 + 1.0) + 1.0 + 3.0);
    let no_raw: &[&str] = &[
        "setpriv",
        "--bounding-set",
        "-net_raw",
        "--inh-caps",
        "-net_raw",
    ];
    for (name, prefix, args, mode_log, accepts) in [
        (
            "half-open",
            &[][..],
            &[][..],
            "half-open (SYN probes from source ports",
            false,
        ),
        (
            "connect",
            &[][..],
            &["--tcp-check", "connect"][..],
            "tcp_check=\"connect\"",
            true,
        ),
        (
            "fallback",
            no_raw,
            &["--tcp-check", "half-open"][..],
            "connect (half-open unavailable",
            true,
        ),
    ] {
        let _ = std::fs::remove_file(w.dir.join("down"));
        let before = w.accepted();
        w.start_lvsd(prefix, args);
        // Up, refused, blackholed (the latter two start alive and fail).
        wait_for(&w, (true, false, false), Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let log = w.log();
        assert!(log.contains(mode_log), "{name}: {mode_log:?} not in\n{log}");
        let accepted = w.accepted() - before;
        if accepts {
            assert!(accepted > 0, "{name}: the listener accepted no probe");
        } else {
            assert_eq!(accepted, 0, "{name}: half-open probes were accepted");
            // Nothing half-open or established left on the server side.
            let ss = Command::new("ip")
                .args(["netns", "exec", &w.s, "ss", "-Htan", "sport", "= :8000"])
                .output()
                .unwrap();
            let ss = String::from_utf8_lossy(&ss.stdout).into_owned();
            assert!(
                ss.lines().all(|l| l.starts_with("LISTEN")),
                "{name}: server keeps connections:\n{ss}"
            );
        }
        // The listener stops: down within the bound; it comes back.
        std::fs::write(w.dir.join("down"), "").unwrap();
        let t = wait_for(&w, (false, false, false), bound)
            .unwrap_or_else(|e| panic!("{name}: not down: {e}"));
        std::fs::remove_file(w.dir.join("down")).unwrap();
        let u = wait_for(&w, (true, false, false), Duration::from_secs(6))
            .unwrap_or_else(|e| panic!("{name}: not back: {e}"));
        eprintln!("{name}: down after {t:.1} s, back after {u:.1} s");
        w.stop_lvsd();
    }
}
