//! Health checkers end to end, in a network namespace this test creates: real servers (HTTP
//! status / digest / virtualhost, HTTPS with a self-signed certificate, TCP, a MISC script,
//! SMTP, DNS, UDP, ping) are started by the test; `lvsd run -C --dataplane none` checks them;
//! every one is made to fail and to recover, and `lvsd status --json` must show the real server
//! leave (weight 0 with inhibit_on_failure, removed otherwise) within
//! retry × (connect_timeout + delay_before_retry) + delay_loop, and come back.
//!
//! Gated at run time: needs root and iproute2, python3 and openssl (skips with a reason
//! otherwise).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::sh;

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

/// Timing used by every checker below.
const DELAY_LOOP: f64 = 1.0;
const CONNECT_TIMEOUT: f64 = 1.0;
const RETRY: f64 = 1.0;
const DELAY_BEFORE_RETRY: f64 = 1.0;
/// Scheduling slack on a loaded 2-core CI machine (process start-up of MISC, status polling).
const SLACK: f64 = 2.5;

const SERVERS_PY: &str = r#"
import os, socket, ssl, sys, threading, time, struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ctl = sys.argv[1]; cert = sys.argv[2]; key = sys.argv[3]
def down(name): return os.path.exists(os.path.join(ctl, name + ".down"))
BODY = b"hello from the lvsd checker test\n"
def http_handler(name, vhost=None):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        def log_message(self, *a): pass
        def do_GET(self):
            code, body = 200, BODY
            if name == "http_status" and down(name): code = 500
            if name == "http_digest" and down(name): body = b"the body changed\n"
            if name == "http_vhost":
                want = "other.example" if down(name) else vhost
                if self.headers.get("Host") != want: code = 404
            if name == "https" and down(name): code = 503
            self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    return H
def serve_http(addr, name, vhost=None, tls=False):
    srv = ThreadingHTTPServer((addr, 443 if tls else 80), http_handler(name, vhost))
    if tls:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(cert, key)
        srv.socket = c.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
def toggling_listener(addr, port, name, kind, handle):
    s = None
    while True:
        if down(name):
            if s: s.close(); s = None
            time.sleep(0.05); continue
        if s is None:
            s = socket.socket(socket.AF_INET, kind); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port)); s.settimeout(0.05)
            if kind == socket.SOCK_STREAM: s.listen(64)
        try:
            handle(s)
        except socket.timeout:
            pass
def tcp_handle(s):
    c, _ = s.accept(); c.close()
def udp_handle(s):
    data, peer = s.recvfrom(2048); s.sendto(b"pong:" + data, peer)
def serve_smtp(addr):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind((addr, 25)); ls.listen(64)
    def one(c):
        try:
            if down("smtp"):
                c.sendall(b"554 no service here\r\n"); return
            c.sendall(b"220 rs.test ESMTP ready\r\n")
            f = c.makefile("rb")
            line = f.readline()
            if line.upper().startswith(b"HELO"): c.sendall(b"250 rs.test\r\n")
            f.readline(); c.sendall(b"221 bye\r\n")
        except OSError: pass
        finally: c.close()
    while True:
        c, _ = ls.accept(); threading.Thread(target=one, args=(c,), daemon=True).start()
def serve_dns(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((addr, 53))
    while True:
        q, peer = s.recvfrom(512)
        qid = q[:2]; i = 12
        while q[i] != 0: i += 1 + q[i]
        question = q[12:i + 5]
        if down("dns"):
            s.sendto(qid + struct.pack(">HHHHH", 0x8182, 1, 0, 0, 0) + question, peer); continue
        ans = struct.pack(">HHHIH", 0xc00c, 1, 1, 60, 4) + socket.inet_aton("10.9.9.9")
        s.sendto(qid + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + question + ans, peer)
T = lambda f, *a: threading.Thread(target=f, args=a, daemon=True).start()
T(serve_http, "10.77.1.1", "http_status"); T(serve_http, "10.77.1.2", "http_digest")
T(serve_http, "10.77.1.3", "http_vhost", "www.lvsd.test"); T(serve_http, "10.77.1.4", "https", None, True)
T(toggling_listener, "10.77.1.5", 8000, "tcp", socket.SOCK_STREAM, tcp_handle)
T(serve_smtp, "10.77.1.7"); T(serve_dns, "10.77.1.8")
T(toggling_listener, "10.77.1.9", 9000, "udp", socket.SOCK_DGRAM, udp_handle)
open(os.path.join(ctl, "ready"), "w").close()
while True: time.sleep(3600)
"#;

/// The namespace, its processes and files, torn down on drop (by PID, then the namespace).
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

impl World {
    fn new(tag: &str) -> Self {
        let ns = format!("lvsd-h6-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&ns);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("ip")
            .args(["netns", "del", &ns])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", &ns]);
        let w = Self {
            ns,
            dir,
            children: Vec::new(),
        };
        w.ip(&["link", "set", "lo", "up"]);
        // Real-server addresses live on a veth pair inside the namespace (no dummy module needed).
        w.ip(&["link", "add", "rs0", "type", "veth", "peer", "name", "rs1"]);
        w.ip(&["link", "set", "rs0", "up"]);
        w.ip(&["link", "set", "rs1", "up"]);
        for i in 1..=10 {
            w.ip(&["addr", "add", &format!("10.77.1.{i}/32"), "dev", "rs0"]);
        }
        w
    }
    fn ip(&self, args: &[&str]) {
        let mut v = vec!["ip", "-n", &self.ns];
        v.extend_from_slice(args);
        sh(&v);
    }
    fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(args);
        c
    }
    fn spawn(&mut self, args: &[&str], log: &str) {
        let out = std::fs::File::create(self.dir.join(log)).unwrap();
        let err = out.try_clone().unwrap();
        let child = self
            .exec(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn");
        self.children.push(child);
    }
    fn sock(&self) -> String {
        self.dir.join("lvsd.sock").display().to_string()
    }
    fn status(&self) -> Option<Value> {
        let out = Command::new(LVSD)
            .args(["status", "--json", "--control-socket", &self.sock()])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

/// (name, real server ip, inhibit_on_failure, checker block)
fn cases(dir: &Path) -> Vec<(&'static str, &'static str, bool, String)> {
    let t = format!(
        "\n      connect_timeout {CONNECT_TIMEOUT}\n      retry {RETRY}\n      delay_before_retry {DELAY_BEFORE_RETRY}\n      delay_loop {DELAY_LOOP}\n      warmup 0\n"
    );
    let digest = md5_hex(b"hello from the lvsd checker test\n");
    let script = dir.join("check.sh");
    vec![
        ("http_status", "10.77.1.1", false, format!("HTTP_GET {{\n      url {{\n        path /health\n        status_code 200\n      }}{t}    }}")),
        ("http_digest", "10.77.1.2", true, format!("HTTP_GET {{\n      url {{\n        path /\n        digest {digest}\n      }}{t}    }}")),
        (
            "http_vhost",
            "10.77.1.3",
            false,
            format!("HTTP_GET {{\n      url {{\n        path /\n        virtualhost www.lvsd.test\n      }}{t}    }}"),
        ),
        ("https", "10.77.1.4", true, format!("SSL_GET {{\n      url {{\n        path /\n      }}\n      connect_port 443{t}    }}")),
        ("tcp", "10.77.1.5", false, format!("TCP_CHECK {{\n      connect_port 8000{t}    }}")),
        (
            "misc",
            "10.77.1.6",
            true,
            format!(
                "MISC_CHECK {{\n      misc_path \"{} {}\"\n      misc_timeout 1\n      retry 1\n      delay_before_retry 1\n      delay_loop 1\n      warmup 0\n    }}",
                script.display(),
                dir.join("misc.down").display()
            ),
        ),
        ("smtp", "10.77.1.7", false, format!("SMTP_CHECK {{\n      connect_port 25\n      helo_name director.test{t}    }}")),
        ("dns", "10.77.1.8", true, format!("DNS_CHECK {{\n      connect_port 53\n      type A\n      name svc.test{t}    }}")),
        ("udp", "10.77.1.9", false, format!("UDP_CHECK {{\n      connect_port 9000\n      payload 70696e67\n      require_reply 706f6e67{t}    }}")),
        ("ping", "10.77.1.10", true, format!("PING_CHECK {{{t}    }}")),
    ]
}

fn md5_hex(b: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn config(dir: &Path) -> String {
    let mut c = String::new();
    for (i, (name, ip, inhibit, check)) in cases(dir).into_iter().enumerate() {
        let port = match name {
            "https" => 443,
            "tcp" => 8000,
            "smtp" => 25,
            "dns" => 53,
            "udp" => 9000,
            _ => 80,
        };
        let proto = if matches!(name, "dns" | "udp") {
            "UDP"
        } else {
            "TCP"
        };
        c.push_str(&format!(
            "# {name}\nvirtual_server 192.0.2.{} {port} {{\n  lb_algo rr\n  lb_kind DR\n  protocol {proto}\n  delay_loop 1\n  real_server {ip} {port} {{\n    weight {}\n{}    {check}\n  }}\n}}\n",
            i + 1,
            i + 2,
            if inhibit { "    inhibit_on_failure\n" } else { "" },
        ));
    }
    c
}

fn rs_state(st: &Value, ip: &str) -> Option<(bool, u64, bool)> {
    st["virtual_servers"]
        .as_array()?
        .iter()
        .flat_map(|v| v["real_servers"].as_array().into_iter().flatten())
        .find_map(|r| {
            (r["address"] == ip).then(|| {
                (
                    r["alive"].as_bool().unwrap_or(false),
                    r["weight"].as_u64().unwrap_or(0),
                    r["in_service"].as_bool().unwrap_or(false),
                )
            })
        })
}

fn wait_all<F: Fn(&Value, &str) -> bool>(
    w: &World,
    ips: &[(&str, &str)],
    limit: f64,
    pred: F,
) -> BTreeMap<String, f64> {
    let t0 = Instant::now();
    let mut done = BTreeMap::new();
    while t0.elapsed().as_secs_f64() < limit && done.len() < ips.len() {
        if let Some(st) = w.status() {
            for (name, ip) in ips {
                if !done.contains_key(*name) && pred(&st, ip) {
                    done.insert(name.to_string(), t0.elapsed().as_secs_f64());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done
}

#[test]
fn checkers_fail_and_recover_in_netns() {
    if let Some(why) = common::gate(&["ip", "python3", "openssl"]) {
        eprintln!("skipping checkers_fail_and_recover_in_netns: {why}");
        return;
    }
    let mut w = World::new("chk");
    let dir = w.dir.clone();
    // Self-signed certificate for SSL_GET.
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=rs.lvsd.test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    // The MISC_CHECK script: exit 1 while the flag file exists.
    let script = dir.join("check.sh");
    std::fs::write(&script, "#!/bin/sh\n[ -e \"$1\" ] && exit 1\nexit 0\n").unwrap();
    std::process::Command::new("chmod")
        .arg("755")
        .arg(&script)
        .status()
        .unwrap();
    let py = dir.join("servers.py");
    std::fs::write(&py, SERVERS_PY).unwrap();
    let (pys, ctl, certs, keys) = (
        py.display().to_string(),
        dir.display().to_string(),
        cert.display().to_string(),
        key.display().to_string(),
    );
    w.spawn(&["python3", &pys, &ctl, &certs, &keys], "servers.log");
    let t0 = Instant::now();
    while !dir.join("ready").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "servers did not start: {}",
            w.log("servers.log")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // genhash against the digest server gives the digest the config uses.
    let gh = w
        .exec(&[LVSD, "genhash", "-s", "10.77.1.2", "-p", "80", "-u", "/"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&gh.stdout).trim(),
        format!(
            "MD5SUM = {}",
            md5_hex(b"hello from the lvsd checker test\n")
        )
    );
    let conf = dir.join("keepalived.conf");
    std::fs::write(&conf, config(&dir)).unwrap();
    let (confs, sock, pid) = (
        conf.display().to_string(),
        w.sock(),
        dir.join("lvsd.pid").display().to_string(),
    );
    w.spawn(
        &[
            LVSD,
            "run",
            "-C",
            "-n",
            "-l",
            "-f",
            &confs,
            "-p",
            &pid,
            "--control-socket",
            &sock,
            "--dataplane",
            "none",
            "--seed",
            "1",
        ],
        "lvsd.log",
    );

    let all = cases(&dir);
    let ips: Vec<(&str, &str)> = all.iter().map(|c| (c.0, c.1)).collect();
    let up = wait_all(&w, &ips, 20.0, |st, ip| {
        rs_state(st, ip).is_some_and(|s| s.0 && s.2)
    });
    assert_eq!(
        up.len(),
        ips.len(),
        "not all up: {up:?}\nstatus: {:?}\nlog:\n{}",
        w.status(),
        w.log("lvsd.log")
    );
    assert!(std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse::<u32>()
        .is_ok());

    // Fail every real server at once.
    for (name, _, _, _) in &all {
        std::fs::write(dir.join(format!("{name}.down")), "").unwrap();
    }
    w.ip(&["addr", "del", "10.77.1.10/32", "dev", "rs0"]);
    let bound = RETRY * (CONNECT_TIMEOUT + DELAY_BEFORE_RETRY) + DELAY_LOOP;
    let down = wait_all(&w, &ips, bound + 10.0, |st, ip| {
        rs_state(st, ip).is_some_and(|s| !s.0)
    });
    let st = w.status().unwrap();
    for (name, ip, inhibit, _) in &all {
        let t = down.get(*name).copied();
        assert!(
            t.is_some_and(|t| t <= bound + SLACK),
            "{name}: down after {t:?}, bound {bound} s\nlog:\n{}",
            w.log("lvsd.log")
        );
        let (alive, weight, in_service) = rs_state(&st, ip).unwrap();
        assert!(!alive && weight == 0);
        assert_eq!(
            in_service, *inhibit,
            "{name}: inhibit_on_failure={inhibit} → in service at weight 0, else removed"
        );
    }
    eprintln!("detection times (bound {bound} s): {down:?}");

    // Recover.
    for (name, _, _, _) in &all {
        std::fs::remove_file(dir.join(format!("{name}.down"))).unwrap();
    }
    w.ip(&["addr", "add", "10.77.1.10/32", "dev", "rs0"]);
    let back = wait_all(&w, &ips, 15.0, |st, ip| {
        rs_state(st, ip).is_some_and(|s| s.0 && s.2 && s.1 > 0)
    });
    for (name, _, _, _) in &all {
        let t = back.get(*name).copied();
        assert!(
            t.is_some_and(|t| t <= DELAY_LOOP + CONNECT_TIMEOUT + SLACK),
            "{name}: back after {t:?}\nlog:\n{}",
            w.log("lvsd.log")
        );
    }
    eprintln!("recovery times: {back:?}");
    let st = w.status().unwrap();
    // Configured weights restored (i + 2).
    for (i, (_, ip, _, _)) in all.iter().enumerate() {
        assert_eq!(rs_state(&st, ip).unwrap().1, i as u64 + 2);
    }
    // Graceful stop removes the pid file.
    let lvsd_pid = std::fs::read_to_string(&pid).unwrap().trim().to_owned();
    sh(&["kill", "-TERM", &lvsd_pid]);
    let t0 = Instant::now();
    while Path::new(&pid).exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!Path::new(&pid).exists(), "pid file left behind");
}
