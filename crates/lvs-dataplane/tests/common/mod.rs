//! Network-namespace lab for the data-plane tests: a bridge, a client, a
//! director running `lvs-fwd`, real servers with `python3 -m http.server`.
//! Everything created is removed on drop (processes by PID, namespaces by
//! name).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a shell command, panicking with its output on failure.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "command failed: {cmd}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`sh`] but returns (success, stdout).
pub fn try_sh(cmd: &str) -> (bool, String) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// True when the tests can build namespaces (root, `ip`, `python3`, `nft`).
pub fn can_run() -> bool {
    // SAFETY-free check: uid via /proc.
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let tools = ["ip", "python3", "nft", "curl"]
        .iter()
        .all(|t| try_sh(&format!("command -v {t}")).0);
    if !root || !tools {
        eprintln!("skipping: needs root and ip, python3, nft, curl");
    }
    root && tools
}

/// The running `lvs-fwd`.
pub struct Fwd {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Fwd {
    fn cmd(&mut self, c: &str) -> Vec<String> {
        writeln!(self.stdin, "{c}").expect("write to lvs-fwd");
        self.stdin.flush().unwrap();
        let mut lines = Vec::new();
        loop {
            let mut l = String::new();
            let n = self.stdout.read_line(&mut l).expect("read lvs-fwd");
            assert!(n > 0, "lvs-fwd exited");
            let l = l.trim_end().to_string();
            if c != "conns" {
                return vec![l];
            }
            if l == "." {
                return lines;
            }
            lines.push(l);
        }
    }

    /// `ipvsadm -lnc` body lines.
    pub fn conns(&mut self) -> Vec<String> {
        self.cmd("conns")
    }

    /// Counters (Debug format).
    pub fn counters(&mut self) -> String {
        self.cmd("counters").remove(0)
    }
}

/// A lab; namespaces are `<tag>-<name>`.
pub struct Lab {
    pub tag: String,
    names: Vec<String>,
    children: Vec<Child>,
    pub fwd: Option<Fwd>,
    pub dir: std::path::PathBuf,
}

impl Lab {
    pub fn new(tag: &str) -> Self {
        let tag = format!("{tag}{}", std::process::id());
        let dir = std::env::temp_dir().join(&tag);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Lab {
            tag,
            names: Vec::new(),
            children: Vec::new(),
            fwd: None,
            dir,
        };
        lab.netns("sw");
        sh(&format!(
            "ip -n {} link add br0 type bridge mcast_snooping 0 && ip -n {} link set br0 up",
            lab.ns("sw"),
            lab.ns("sw")
        ));
        lab
    }

    pub fn ns(&self, name: &str) -> String {
        format!("{}-{}", self.tag, name)
    }

    pub fn netns(&mut self, name: &str) {
        let n = self.ns(name);
        sh(&format!("ip netns add {n} && ip -n {n} link set lo up"));
        self.names.push(n);
    }

    /// Adds namespace `name` with interface `ifname` on bridge `br` (created
    /// in the switch namespace if missing) and the given addresses.
    pub fn host(&mut self, name: &str, ifname: &str, br: &str, addrs: &[&str]) {
        if !self.names.contains(&self.ns(name)) {
            self.netns(name);
        }
        let (n, sw) = (self.ns(name), self.ns("sw"));
        let _ = try_sh(&format!(
            "ip -n {sw} link add {br} type bridge mcast_snooping 0 2>/dev/null; ip -n {sw} link set {br} up"
        ));
        let peer = format!("{name}-{ifname}");
        sh(&format!(
            "ip link add {ifname} netns {n} type veth peer name {peer} netns {sw} && \
             ip -n {sw} link set {peer} master {br} up && ip -n {n} link set {ifname} up"
        ));
        for a in addrs {
            sh(&format!("ip -n {n} addr add {a} dev {ifname}"));
        }
    }

    pub fn exec(&self, name: &str, cmd: &str) -> String {
        sh(&format!("ip netns exec {} {cmd}", self.ns(name)))
    }

    pub fn try_exec(&self, name: &str, cmd: &str) -> (bool, String) {
        try_sh(&format!("ip netns exec {} {cmd}", self.ns(name)))
    }

    /// Spawns a background process in a namespace (killed on drop).
    pub fn spawn(&mut self, name: &str, cmd: &str) {
        let c = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(name),
                "sh",
                "-c",
                &format!("exec {cmd}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        self.children.push(c);
    }

    /// A real server: VIP on lo for DR (with arp_ignore/arp_announce), and an
    /// HTTP server whose `/id` says `name`.
    pub fn http_server(&mut self, name: &str, port: u16) {
        self.http_server_on(name, port, "0.0.0.0");
    }

    /// Like [`Lab::http_server`], bound to `bind` (`::` for dual stack).
    pub fn http_server_on(&mut self, name: &str, port: u16, bind: &str) {
        let root = self.dir.join(name);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("id"), name).unwrap();
        self.spawn(
            name,
            &format!(
                "python3 -m http.server {port} --bind {bind} --directory {}",
                root.display()
            ),
        );
    }

    pub fn dr_real_server_sysctls(&self, name: &str, vip: &str) {
        self.exec(name, &format!("ip addr add {vip}/32 dev lo"));
        self.exec(
            name,
            "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2",
        );
    }

    /// Waits until `url` answers from namespace `from` directly.
    pub fn wait_http(&self, from: &str, url: &str) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if self
                .try_exec(
                    from,
                    &format!("curl -g -s -o /dev/null --max-time 1 '{url}'"),
                )
                .0
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{url} not reachable from {from}");
    }

    /// Starts `lvs-fwd` in namespace `name` with `args`; waits for `ready`.
    pub fn start_fwd(&mut self, name: &str, args: &str) {
        let bin = env!("CARGO_BIN_EXE_lvs-fwd");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns(name), bin])
            .args(args.split_whitespace())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn lvs-fwd");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut l = String::new();
        stdout.read_line(&mut l).unwrap();
        assert_eq!(l.trim(), "ready", "lvs-fwd did not start");
        self.fwd = Some(Fwd {
            child,
            stdin,
            stdout,
        });
    }

    pub fn fwd(&mut self) -> &mut Fwd {
        self.fwd.as_mut().expect("lvs-fwd running")
    }

    /// Stops lvs-fwd cleanly (it removes its nftables table).
    pub fn stop_fwd(&mut self) {
        if let Some(mut f) = self.fwd.take() {
            let _ = writeln!(f.stdin, "quit");
            drop(f.stdin);
            let t = Instant::now();
            loop {
                match f.child.try_wait() {
                    Ok(Some(st)) => {
                        assert!(st.success(), "lvs-fwd exited with {st}");
                        break;
                    }
                    _ if t.elapsed() > Duration::from_secs(5) => {
                        let _ = f.child.kill();
                        let _ = f.child.wait();
                        panic!("lvs-fwd did not stop");
                    }
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
    }

    /// One HTTP GET of `url` from `from`; the body.
    pub fn get(&self, from: &str, url: &str) -> String {
        self.exec(from, &format!("curl -g -s --max-time 5 '{url}'"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut f) = self.fwd.take() {
            let _ = f.child.kill();
            let _ = f.child.wait();
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in self.names.iter().rev() {
            let _ = try_sh(&format!("ip netns del {n}"));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
