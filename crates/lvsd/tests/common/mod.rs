//! Shared by the integration tests of `lvsd` (each test file includes it with `mod common;`).

use std::process::Command;

/// Whether network-namespace tests can run here: root and iproute2. Prints why not.
#[allow(dead_code)]
pub fn netns_capable() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if !root || !ip {
        eprintln!("skipping: needs root and iproute2");
    }
    root && ip
}

/// A network namespace `<prefix>-<pid>` with `lo` up and a veth pair `v0` (10.66.0.1/24, up) /
/// `v1` (up), a scratch directory of the same name, and room for the `lvsd` child a test starts
/// in it. Dropping it kills the child (by PID), deletes the namespace and the directory.
#[allow(dead_code)] // not every test file that includes this module uses it
pub struct VethWorld {
    pub ns: String,
    pub dir: std::path::PathBuf,
    pub child: Option<std::process::Child>,
}

#[allow(dead_code)]
impl VethWorld {
    pub fn new(prefix: &str) -> Self {
        let ns = format!("{prefix}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&ns);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap()
            .success());
        let w = VethWorld {
            ns,
            dir,
            child: None,
        };
        ip(&w.ns, &["link", "set", "lo", "up"]);
        ip(
            &w.ns,
            &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
        );
        ip(&w.ns, &["addr", "add", "10.66.0.1/24", "dev", "v0"]);
        ip(&w.ns, &["link", "set", "v0", "up"]);
        ip(&w.ns, &["link", "set", "v1", "up"]);
        w
    }
}

impl Drop for VethWorld {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `ip -n NS ARGS...`, which must succeed.
#[allow(dead_code)]
pub fn ip(ns: &str, args: &[&str]) {
    let st = Command::new("ip").arg("-n").arg(ns).args(args).status();
    assert!(st.unwrap().success(), "ip {args:?}");
}

/// A TCP port free on 127.0.0.1 *below* the ephemeral range (`ip_local_port_range`): ports the
/// kernel hands out for `bind(0)`/`connect`, and the top of that range that a running lvsd holds
/// as half-open probe source ports (another test's daemon, say), would race with the test that
/// binds this port a moment later.
#[allow(dead_code)]
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768)
        .max(12000);
    // Spread over [10000, low): start from the PID and the clock so test processes running at
    // the same time start far apart, then walk.
    let span = low - 10000;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = std::process::id().wrapping_mul(7919) ^ nanos;
    for _ in 0..span {
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 10000 + (seed.wrapping_add(i.wrapping_mul(97))) % span;
        let port = port as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free TCP port below the ephemeral range");
}

/// `lvsd run -C -n -l --dataplane none` (checkers alone, nothing programmed) on
/// `DIR/keepalived.conf`, logging to `DIR/lvsd.log`, control socket `DIR/ctl.sock`. Needs no
/// privileges. Dropping it kills the child (by PID) and removes `DIR`.
#[allow(dead_code)]
pub struct CheckersDaemon {
    pub child: std::process::Child,
    pub dir: std::path::PathBuf,
}

#[allow(dead_code)]
impl CheckersDaemon {
    /// Writes `conf` into `DIR` (created if needed; what the test put there stays) and starts
    /// lvsd with `extra` arguments added.
    pub fn start(dir: std::path::PathBuf, conf: &str, extra: &[&str]) -> Self {
        use std::process::Stdio;
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keepalived.conf"), conf).unwrap();
        let log = std::fs::File::create(dir.join("lvsd.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["run", "-C", "-n", "-l", "--dataplane", "none"])
            .arg("-f")
            .arg(dir.join("keepalived.conf"))
            .arg("--control-socket")
            .arg(dir.join("ctl.sock"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        CheckersDaemon { child, dir }
    }

    pub fn conf(&self) -> std::path::PathBuf {
        self.dir.join("keepalived.conf")
    }

    pub fn sock(&self) -> String {
        self.dir.join("ctl.sock").display().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("lvsd.log")).unwrap_or_default()
    }

    /// `lvsd status --json`, when the daemon answers.
    pub fn status(&self) -> Option<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["status", "--json", "--control-socket", &self.sock()])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    /// Polls the status until `f` holds (20 s at most, then fails with the status and log).
    pub fn wait_for<F: Fn(&serde_json::Value) -> bool>(
        &self,
        what: &str,
        f: F,
    ) -> serde_json::Value {
        let t0 = std::time::Instant::now();
        loop {
            if let Some(s) = self.status() {
                if f(&s) {
                    return s;
                }
            }
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(20),
                "timed out waiting for {what}\nstatus: {:?}\nlog:\n{}",
                self.status(),
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for CheckersDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Why a test that needs root and `tools` cannot run here, if it cannot.
#[allow(dead_code)]
pub fn gate(tools: &[&str]) -> Option<String> {
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    {
        return Some("not root".into());
    }
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {p}"))
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    (!missing.is_empty()).then(|| format!("missing {}", missing.join(", ")))
}

/// Runs a command; fails the test if it fails.
#[allow(dead_code)]
pub fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect("spawn");
    assert!(st.success(), "{args:?} failed");
}
