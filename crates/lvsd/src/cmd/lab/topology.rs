//! The lab's network: one bridge, a client, two directors and three real servers, each in a
//! network namespace of its own. Addresses come from TEST-NET-1 (192.0.2.0/24, RFC 5737) and
//! exist only inside these namespaces.
//!
//! Everything created here is recorded in [`Topology`] and removed by [`Topology::teardown`]
//! (also called from `Drop`), processes by PID first, then namespaces.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

/// The subnet prefix length used on every lab interface.
pub(crate) const PREFIX: u8 = 24;
/// The virtual IP the directors share.
pub(crate) const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 49);
/// First client address; clients use `CLIENT_BASE + i`.
pub(crate) const CLIENT_BASE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// Number of client source addresses (each one is a "client" for persistence).
pub(crate) const CLIENTS: u8 = 6;

/// Lab directors (router_id, address, VRRP priority).
pub(crate) const DIRECTORS: [(&str, Ipv4Addr, u8); 2] = [
    ("dir1", Ipv4Addr::new(192, 0, 2, 1), 101),
    ("dir2", Ipv4Addr::new(192, 0, 2, 2), 100),
];
/// Lab real servers.
pub(crate) const REAL_SERVERS: [(&str, Ipv4Addr); 3] = [
    ("rs1", Ipv4Addr::new(192, 0, 2, 56)),
    ("rs2", Ipv4Addr::new(192, 0, 2, 57)),
    ("rs3", Ipv4Addr::new(192, 0, 2, 58)),
];

/// A started background process that the lab owns.
#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) label: String,
    pub(crate) child: Child,
}

/// The lab's namespaces, processes and files.
#[derive(Debug)]
pub(crate) struct Topology {
    /// Prefix of every namespace name (unique per run).
    pub(crate) prefix: String,
    /// Working directory for configs, logs, sockets.
    pub(crate) dir: PathBuf,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    torn_down: bool,
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl Topology {
    /// An empty topology whose names start with `prefix`, working in `dir`.
    pub(crate) fn new(prefix: String, dir: PathBuf) -> Self {
        Self {
            prefix,
            dir,
            namespaces: Vec::new(),
            procs: Vec::new(),
            torn_down: false,
        }
    }

    /// The namespace name of host `name`.
    pub(crate) fn ns(&self, name: &str) -> String {
        format!("{}-{}", self.prefix, name)
    }

    /// `ip netns exec NS args...` as a Command.
    pub(crate) fn exec_in(&self, host: &str, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.arg("netns").arg("exec").arg(self.ns(host)).arg(program);
        c
    }

    fn ip(&self, host: &str, args: &[&str]) -> Result<()> {
        run(Command::new("ip").arg("-n").arg(self.ns(host)).args(args))
    }

    fn sysctl(&self, host: &str, key: &str, value: &str) -> Result<()> {
        run(Command::new("ip")
            .args(["netns", "exec", &self.ns(host), "sysctl", "-qw"])
            .arg(format!("{key}={value}")))
    }

    fn add_ns(&mut self, host: &str) -> Result<()> {
        let ns = self.ns(host);
        run(Command::new("ip").args(["netns", "add", &ns]))?;
        self.namespaces.push(ns);
        self.ip(host, &["link", "set", "lo", "up"])
    }

    /// Attach `host` to the bridge with `addr` (plus `extra` secondary addresses) on `eth0`.
    fn attach(&mut self, host: &str, addrs: &[Ipv4Addr]) -> Result<()> {
        self.add_ns(host)?;
        let port = format!("p-{host}");
        run(Command::new("ip").args([
            "-n",
            &self.ns("sw"),
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &self.ns(host),
        ]))?;
        self.ip("sw", &["link", "set", &port, "master", "br0", "up"])?;
        for a in addrs {
            self.ip(
                host,
                &["addr", "add", &format!("{a}/{PREFIX}"), "dev", "eth0"],
            )?;
        }
        self.ip(host, &["link", "set", "eth0", "up"])
    }

    /// Build the whole network. On error, what was created so far is still torn down by `Drop`.
    pub(crate) fn build(&mut self) -> Result<()> {
        self.add_ns("sw")?;
        self.ip("sw", &["link", "add", "br0", "type", "bridge"])?;
        self.ip("sw", &["link", "set", "br0", "up"])?;
        let clients: Vec<Ipv4Addr> = (0..CLIENTS)
            .map(|i| Ipv4Addr::from(u32::from(CLIENT_BASE) + u32::from(i)))
            .collect();
        self.attach("client", &clients)?;
        for (name, addr, _) in DIRECTORS {
            self.attach(name, &[addr])?;
        }
        for (name, addr) in REAL_SERVERS {
            self.attach(name, &[addr])?;
            // LVS-DR: the real server holds the VIP on lo and never answers ARP for it.
            self.ip(name, &["addr", "add", &format!("{VIP}/32"), "dev", "lo"])?;
            self.sysctl(name, "net.ipv4.conf.all.arp_ignore", "1")?;
            self.sysctl(name, "net.ipv4.conf.all.arp_announce", "2")?;
            self.sysctl(name, "net.ipv4.conf.eth0.arp_ignore", "1")?;
            self.sysctl(name, "net.ipv4.conf.eth0.arp_announce", "2")?;
        }
        Ok(())
    }

    /// Start `program args` inside `host`'s namespace, output to `log`.
    pub(crate) fn spawn(
        &mut self,
        label: &str,
        host: &str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<u32> {
        let logf = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = self
            .exec_in(host, program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(logf.try_clone()?)
            .stderr(logf)
            .spawn()
            .with_context(|| format!("cannot start {label}"))?;
        let pid = child.id();
        self.procs.push(Proc {
            label: label.to_string(),
            child,
        });
        Ok(pid)
    }

    /// Kill the process started as `label` with `signal` and reap it.
    pub(crate) fn kill(&mut self, label: &str, signal: &str) -> Result<()> {
        let Some(i) = self.procs.iter().position(|p| p.label == label) else {
            bail!("no process {label}");
        };
        let mut p = self.procs.remove(i);
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(p.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if p.child.try_wait()?.is_some() {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                let _ = p.child.kill();
                let _ = p.child.wait();
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Stop every process (SIGTERM, then SIGKILL) and delete every namespace.
    pub(crate) fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        for p in &self.procs {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(p.child.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        for p in &mut self.procs {
            while matches!(p.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.procs.clear();
        // Kill anything else still running inside our namespaces (children of children).
        for ns in &self.namespaces {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
        }
        for ns in self.namespaces.drain(..).rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// The namespaces currently owned (for the "nothing left behind" check).
    pub(crate) fn namespaces(&self) -> &[String] {
        &self.namespaces
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.teardown();
    }
}
