//! LVS-DR through the built-in data plane, in network namespaces: client →
//! VIP → two real servers. Checks forwarding, round-robin, persistence, that
//! the director's own stack never answers (no RST, captured with tcpdump),
//! and the write-up's persistence scenario against the real-kernel
//! recording in `shared/traces/seed-persistence/snapshots.txt`.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{can_run, sh, Lab};

const VIP: &str = "10.0.0.49";

fn dr_lab(tag: &str) -> Lab {
    let mut lab = Lab::new(tag);
    lab.host("c", "eth0", "br0", &["10.0.0.100/24"]);
    lab.host("d", "eth0", "br0", &["10.0.0.1/24", "10.0.0.49/32"]);
    for (n, a) in [("r1", "10.0.0.56/24"), ("r2", "10.0.0.57/24")] {
        lab.host(n, "eth0", "br0", &[a]);
        lab.dr_real_server_sysctls(n, VIP);
        lab.http_server(n, 80);
    }
    lab.wait_http("c", "http://10.0.0.56/id");
    lab.wait_http("c", "http://10.0.0.57/id");
    lab
}

/// tcpdump in the director: every TCP packet the director sends *from* the
/// VIP (only its own stack would: in DR, replies go real server → client).
struct Capture {
    child: std::process::Child,
    file: std::path::PathBuf,
}

fn capture(lab: &Lab) -> Option<Capture> {
    if !common::try_sh("command -v tcpdump").0 {
        eprintln!("tcpdump missing: the no-RST check is skipped");
        return None;
    }
    let file = lab.dir.join("dir.pcap");
    let child = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns("d"),
            "tcpdump",
            "--immediate-mode",
            "-U",
            "-n",
            "-i",
            "eth0",
            "-w",
        ])
        .arg(&file)
        .args(["tcp and src host", VIP])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    // tcpdump needs a moment to attach.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) && !file.exists() {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    Some(Capture { child, file })
}

fn captured(mut c: Capture) -> usize {
    std::thread::sleep(Duration::from_millis(500));
    // SIGTERM (tcpdump flushes and exits), then count packets in the file.
    sh(&format!("kill -TERM {}", c.child.id()));
    let _ = c.child.wait();
    let out = sh(&format!("tcpdump -n -r {} 2>/dev/null", c.file.display()));
    out.lines().filter(|l| l.contains(" IP")).count()
}

#[test]
fn dr_rr_and_no_rst_from_director() {
    if !can_run() {
        return;
    }
    let mut lab = dr_lab("dpdr");
    let cap = capture(&lab);
    lab.start_fwd(
        "d",
        "--iface eth0 --service tcp:10.0.0.49:80:rr --dest 10.0.0.56:80:dr --dest 10.0.0.57:80:dr",
    );
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut order = Vec::new();
    for _ in 0..6 {
        let id = lab.get("c", &format!("http://{VIP}/id"));
        order.push(id.clone());
        *seen.entry(id).or_default() += 1;
    }
    // rr over two servers, the newest-added (.57 = r2) first, as the kernel does.
    assert_eq!(order, ["r2", "r1", "r2", "r1", "r2", "r1"], "{order:?}");
    // The client's last FIN may still be on its way through the ring.
    let closed =
        |l: &String| l.contains("FIN_WAIT") || l.contains("TIME_WAIT") || l.contains("CLOSE");
    let t = Instant::now();
    let mut conns = lab.fwd().conns();
    while !(conns.len() == 6 && conns.iter().all(closed)) && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
        conns = lab.fwd().conns();
    }
    assert_eq!(conns.len(), 6, "{conns:?}");
    assert!(conns.iter().all(closed), "{conns:?}");
    let counters = lab.fwd().counters();
    if let Some(c) = cap {
        let n = captured(c);
        assert_eq!(
            n, 0,
            "the director's own stack sent {n} TCP packets from the VIP"
        );
    }
    lab.stop_fwd();
    // The ingress table is gone after a clean stop.
    let tables = lab.exec("d", "nft list tables");
    assert!(!tables.contains("netdev"), "{tables}");
    eprintln!("counters: {counters}");
}

/// Control for the check above: without the ingress rules the director's
/// stack does see the VIP traffic and answers it with RSTs, so the capture
/// would catch a regression.
#[test]
fn without_ingress_rules_the_stack_answers() {
    if !can_run() || !common::try_sh("command -v tcpdump").0 {
        return;
    }
    let mut lab = dr_lab("dpnr");
    lab.start_fwd(
        "d",
        "--iface eth0 --no-ingress-rules --service tcp:10.0.0.49:80:rr --dest 10.0.0.56:80:dr",
    );
    let cap = capture(&lab).unwrap();
    let r = lab.try_exec("c", &format!("curl -s --max-time 3 http://{VIP}/id"));
    assert!(!r.0, "the director's stack refuses the connection");
    assert!(captured(cap) > 0, "expected RSTs from the director's stack");
    lab.stop_fwd();
}

#[test]
fn dr_persistence_holds() {
    if !can_run() {
        return;
    }
    let mut lab = dr_lab("dpps");
    lab.start_fwd(
        "d",
        "--iface eth0 --service tcp:10.0.0.49:80:rr:30 --dest 10.0.0.56:80:dr --dest 10.0.0.57:80:dr",
    );
    let ids: Vec<String> = (0..5)
        .map(|_| lab.get("c", &format!("http://{VIP}/id")))
        .collect();
    assert!(
        ids.iter().all(|i| i == &ids[0]) && !ids[0].is_empty(),
        "{ids:?}"
    );
    let conns = lab.fwd().conns();
    assert!(
        conns
            .iter()
            .any(|l| l.contains("10.0.0.100:0 ") && l.contains("ASSURED")),
        "{conns:?}"
    );
    lab.stop_fwd();
}

/// One `ipvsadm -lnc` line reduced to what the recording can be compared on:
/// (state, expire seconds, client port or "*", virtual, destination).
fn norm(l: &str) -> (String, u32, String, String, String) {
    let f: Vec<&str> = l.split_whitespace().collect();
    let (m, s) = f[1].split_once(':').unwrap();
    let secs = m.parse::<u32>().unwrap() * 60 + s.parse::<u32>().unwrap();
    let cport = f[3].rsplit_once(':').unwrap().1;
    let cport = if cport == "0" { "0" } else { "*" };
    (
        f[2].to_string(),
        secs,
        cport.to_string(),
        f[4].to_string(),
        f[5].to_string(),
    )
}

fn matches(expected: &[String], got: &[String]) -> Result<(), String> {
    let mut e: Vec<_> = expected.iter().map(|l| norm(l)).collect();
    let mut g: Vec<_> = got.iter().map(|l| norm(l)).collect();
    e.sort();
    g.sort();
    if e.len() != g.len() {
        return Err(format!("{} entries expected, {} got", e.len(), g.len()));
    }
    for (a, b) in e.iter().zip(&g) {
        if (a.0.as_str(), &a.2, &a.3, &a.4) != (b.0.as_str(), &b.2, &b.3, &b.4)
            || a.1.abs_diff(b.1) > 1
        {
            return Err(format!("expected {a:?}, got {b:?}"));
        }
    }
    Ok(())
}

#[test]
fn writeup_persistence_scenario_matches_kernel_recording() {
    if !can_run() {
        return;
    }
    // Copy of shared/traces/seed-persistence/snapshots.txt (Debian 6.1 kernel).
    let text = include_str!("fixtures/seed-persistence-snapshots.txt");
    let mut expected: Vec<(f64, Vec<String>)> = Vec::new();
    for l in text.lines() {
        if let Some(at) = l.strip_prefix("--- at=") {
            expected.push((at.trim().parse().unwrap(), Vec::new()));
        } else if !l.trim().is_empty() {
            expected.last_mut().unwrap().1.push(l.to_string());
        }
    }
    assert_eq!(expected.len(), 8);
    let mut lab = dr_lab("dpwu");
    let url = format!("http://{VIP}/id");
    // The recording's script: 3 requests (the third one's FIN 0.133 s after the first SYN), a
    // snapshot, 6 more about one second apart, a 4th request, a snapshot. The snapshots are
    // taken at the recording's offsets, anchored at the end of our third request. Our three
    // requests come from one curl process (three URLs, `Connection: close`: three
    // connections); if a loaded host still spreads them much wider than the recording did, the
    // FIN_WAIT entries cannot line up and the run is repeated on a fresh forwarder.
    const THIRD_FIN: f64 = 0.133;
    let mut attempt = 0;
    let (t0, mut ids) = loop {
        attempt += 1;
        // ipvsadm -A -t VIP:80 -s rr -p 2; -a .56; -a .57; --set 5 3 3
        lab.start_fwd(
            "d",
            "--iface eth0 --timeouts 5,3,3 --service tcp:10.0.0.49:80:rr:2 \
             --dest 10.0.0.56:80:dr:100 --dest 10.0.0.57:80:dr:100",
        );
        let start = Instant::now();
        let out = lab.exec(
            "c",
            &format!(
                "curl -g -s --max-time 5 -w '\\n' -H 'Connection: close' '{url}' '{url}' '{url}'"
            ),
        );
        let spread = start.elapsed();
        let ids: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        if spread <= Duration::from_millis(600) || attempt == 4 {
            let t0 = Instant::now() - Duration::from_secs_f64(THIRD_FIN);
            break (t0, ids);
        }
        eprintln!("attempt {attempt}: the three requests took {spread:?}; replaying again");
        lab.stop_fwd();
    };
    let mut got: Vec<(f64, Vec<String>)> = Vec::new();
    for (i, (at, _)) in expected.iter().enumerate() {
        if i == 7 {
            ids.push(lab.get("c", &url));
        }
        if let Some(rest) = Duration::from_secs_f64(*at).checked_sub(t0.elapsed()) {
            std::thread::sleep(rest);
        }
        let snap = lab.fwd().conns();
        got.push((t0.elapsed().as_secs_f64(), snap));
    }
    assert_eq!(
        ids,
        ["r2", "r2", "r2", "r2"],
        "all four requests on the newest real server (.57)"
    );
    for (i, ((eat, e), (gat, g))) in expected.iter().zip(&got).enumerate() {
        if let Err(msg) = matches(e, g) {
            panic!(
                "snapshot {i} (kernel at {eat:.3} s, ours at {gat:.3} s): {msg}\nexpected:\n{}\ngot:\n{}",
                e.join("\n"),
                g.join("\n")
            );
        }
    }
    lab.stop_fwd();
}

/// Two workers with PACKET_FANOUT_HASH share one engine: the kernel's
/// round-robin order and persistence still hold across them.
#[test]
fn dr_two_workers_keep_exact_decisions() {
    if !can_run() {
        return;
    }
    let mut lab = dr_lab("dpfo");
    lab.start_fwd(
        "d",
        "--iface eth0 --workers 2 --service tcp:10.0.0.49:80:rr \
         --dest 10.0.0.56:80:dr --dest 10.0.0.57:80:dr",
    );
    let order: Vec<String> = (0..6)
        .map(|_| lab.get("c", &format!("http://{VIP}/id")))
        .collect();
    assert_eq!(order, ["r2", "r1", "r2", "r1", "r2", "r1"], "{order:?}");
    lab.stop_fwd();
}
