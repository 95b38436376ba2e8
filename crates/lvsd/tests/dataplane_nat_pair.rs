//! Two lvsd directors with the built-in data plane in front of two LVS-NAT real servers, all in
//! network namespaces this test creates (issue 8: "HTTP requests succeed through the VIP held by
//! lvsd's VRRP; rr spreads them"; "with two lvsd directors: kill the master → the backup
//! forwards"). The DR pair is exercised by `lvsd lab --no-tui` in CI.
//!
//! Topology (one L2 segment per side, bridges in a `lan` namespace):
//!
//! ```text
//! client 10.72.0.100 ─ br0 ─┬─ dirA eth0 10.72.0.2 ── dirA eth1 10.72.1.2 ─┬─ br1 ─ rs1 10.72.1.11
//!                           └─ dirB eth0 10.72.0.3 ── dirB eth1 10.72.1.3 ─┘       rs2 10.72.1.12
//! ```
//!
//! A `vrrp_sync_group` moves the front VIP 10.72.0.49 and the real servers' gateway
//! 10.72.1.254 together, as operators run LVS-NAT pairs.
//!
//! Gated at run time: needs root and iproute2 (skips with a reason otherwise).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");
const VIP: &str = "10.72.0.49";
const GW: &str = "10.72.1.254";

struct World {
    tag: String,
    dir: PathBuf,
    children: Vec<(String, Child)>,
}

impl World {
    fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.tag)
    }

    fn ip(&self, host: &str, args: &str) {
        let ns = self.ns(host);
        let mut full = vec!["-n", ns.as_str()];
        full.extend(args.split_whitespace());
        sh("ip", &full);
    }

    fn sysctl(&self, host: &str, kv: &str) {
        let ns = self.ns(host);
        sh("ip", &["netns", "exec", &ns, "sysctl", "-qw", kv]);
    }

    fn spawn(&mut self, name: &str, host: &str, args: &[&str]) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(host), LVSD])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.push((name.to_string(), child));
    }

    fn kill(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut c) = self.children.remove(i);
            // `ip netns exec` execs lvsd: the child's pid is lvsd's.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn has_addr(&self, host: &str, dev: &str, addr: &str) -> bool {
        let out = Command::new("ip")
            .args(["-n", &self.ns(host), "-4", "addr", "show", "dev", dev])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains(&format!("inet {addr}/"))
    }

    /// One HTTP GET from the client to the VIP; the body names the real server.
    fn get(&self) -> Option<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns("client"), LVSD, "lab"])
            .args(["--get", &format!("{VIP}:80"), "--bind", "10.72.0.100"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    fn logs(&self) -> String {
        ["dirA", "dirB"]
            .iter()
            .map(|n| format!("--- {n}.log\n{}", self.log(n)))
            .collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for host in ["client", "dirA", "dirB", "rs1", "rs2", "lan"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(host)])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sh(prog: &str, args: &[&str]) {
    let st = Command::new(prog).args(args).status().unwrap();
    assert!(st.success(), "{prog} {args:?}");
}

fn wait_for(what: &str, timeout: Duration, w: &World, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}\n{}",
            w.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t0.elapsed()
}

fn director_conf(priority: u8) -> String {
    format!(
        "global_defs {{\n  router_id dir{priority}\n}}\n\
         vrrp_sync_group G {{\n  group {{\n    VI_EXT\n    VI_INT\n  }}\n}}\n\
         vrrp_instance VI_EXT {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 61\n  \
         priority {priority}\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n\
         vrrp_instance VI_INT {{\n  state BACKUP\n  interface eth1\n  virtual_router_id 62\n  \
         priority {priority}\n  advert_int 1\n  virtual_ipaddress {{\n    {GW}/24\n  }}\n}}\n\
         virtual_server {VIP} 80 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         \x20 real_server 10.72.1.11 80 {{\n    weight 1\n  }}\n\
         \x20 real_server 10.72.1.12 80 {{\n    weight 1\n  }}\n}}\n"
    )
}

fn start_director(w: &mut World, name: &str, priority: u8) {
    let conf = w.dir.join(format!("{name}.conf"));
    std::fs::write(&conf, director_conf(priority)).unwrap();
    let conf = conf.display().to_string();
    let pid = w.dir.join(format!("{name}.pid")).display().to_string();
    let sock = w.dir.join(format!("{name}.sock")).display().to_string();
    let args = [
        "run",
        "-n",
        "-l",
        "-f",
        &conf,
        "-p",
        &pid,
        "--control-socket",
        &sock,
        "--dataplane",
        "builtin",
    ];
    w.spawn(name, name, &args);
}

fn build(tag: &str, dir: &Path) -> World {
    let w = World {
        tag: tag.to_string(),
        dir: dir.to_path_buf(),
        children: Vec::new(),
    };
    for host in ["lan", "client", "dirA", "dirB", "rs1", "rs2"] {
        sh("ip", &["netns", "add", &w.ns(host)]);
        w.ip(host, "link set lo up");
    }
    w.ip("lan", "link add br0 type bridge");
    w.ip("lan", "link add br1 type bridge");
    w.ip("lan", "link set br0 up");
    w.ip("lan", "link set br1 up");
    // (host, its interface, bridge, address)
    let links = [
        ("client", "eth0", "br0", "10.72.0.100/24"),
        ("dirA", "eth0", "br0", "10.72.0.2/24"),
        ("dirB", "eth0", "br0", "10.72.0.3/24"),
        ("dirA", "eth1", "br1", "10.72.1.2/24"),
        ("dirB", "eth1", "br1", "10.72.1.3/24"),
        ("rs1", "eth0", "br1", "10.72.1.11/24"),
        ("rs2", "eth0", "br1", "10.72.1.12/24"),
    ];
    for (i, (host, dev, br, addr)) in links.iter().enumerate() {
        let peer = format!("p{i}");
        let lan = w.ns("lan");
        let hostns = w.ns(host);
        sh(
            "ip",
            &[
                "-n", &lan, "link", "add", &peer, "type", "veth", "peer", "name", dev, "netns",
                &hostns,
            ],
        );
        w.ip("lan", &format!("link set {peer} master {br} up"));
        w.ip(host, &format!("addr add {addr} dev {dev}"));
        w.ip(host, &format!("link set {dev} up"));
    }
    for rs in ["rs1", "rs2"] {
        w.ip(rs, &format!("route add default via {GW}"));
    }
    for d in ["dirA", "dirB"] {
        // The built-in plane forwards by itself; the director's stack must not route the
        // traffic a second time.
        w.sysctl(d, "net.ipv4.ip_forward=0");
    }
    w
}

#[test]
fn nat_pair_vrrp_rr_and_failover() {
    if !common::netns_capable() {
        return;
    }
    let tag = format!("lvsd-natp-{}", std::process::id());
    let dir = std::env::temp_dir().join(&tag);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = build(&tag, &dir);

    for (rs, addr) in [("rs1", "10.72.1.11"), ("rs2", "10.72.1.12")] {
        let listen = format!("{addr}:80");
        w.spawn(rs, rs, &["lab", "--serve", rs, "--listen", &listen]);
    }
    start_director(&mut w, "dirA", 150);
    start_director(&mut w, "dirB", 100);

    // dirA (higher priority) takes both VIPs of the sync group; dirB holds none.
    wait_for("dirA to own both VIPs", Duration::from_secs(20), &w, || {
        w.has_addr("dirA", "eth0", VIP) && w.has_addr("dirA", "eth1", GW)
    });
    assert!(!w.has_addr("dirB", "eth0", VIP), "{}", w.logs());

    // rr over the two NAT real servers through dirA's built-in plane.
    let mut bodies = Vec::new();
    wait_for(
        "a first answer through the VIP",
        Duration::from_secs(15),
        &w,
        || w.get().map(|b| bodies.push(b)).is_some(),
    );
    for _ in 0..5 {
        bodies.push(
            w.get()
                .unwrap_or_else(|| panic!("GET failed\n{}", w.logs())),
        );
    }
    for pair in bodies.windows(2) {
        assert_ne!(pair[0], pair[1], "rr must alternate: {bodies:?}");
    }
    for b in &bodies {
        assert!(b == "rs1" || b == "rs2", "unexpected body {b:?}");
    }

    // kill -9 the master: the backup takes both VIPs and forwards.
    w.kill("dirA");
    let took = wait_for("dirB to own both VIPs", Duration::from_secs(15), &w, || {
        w.has_addr("dirB", "eth0", VIP) && w.has_addr("dirB", "eth1", GW)
    });
    // The killed process left its addresses (and its nftables guard) behind, as after any
    // kill -9; the backup's gratuitous ARPs move the client and the real servers to dirB.
    let mut after = Vec::new();
    wait_for(
        "an answer through dirB",
        Duration::from_secs(15),
        &w,
        || w.get().map(|b| after.push(b)).is_some(),
    );
    for _ in 0..3 {
        after.push(
            w.get()
                .unwrap_or_else(|| panic!("GET via dirB failed\n{}", w.logs())),
        );
    }
    let mut seen: Vec<&String> = after.iter().collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 2, "dirB must spread over both: {after:?}");
    eprintln!("backup owned the VIPs {took:?} after kill -9; answers after failover: {after:?}");
}
