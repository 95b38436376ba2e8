//! Shared by the privileged integration tests of `lvsd` (each test file includes it with
//! `mod common;`).

use std::process::Command;

/// Whether network-namespace tests can run here: root and iproute2. Prints why not.
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
