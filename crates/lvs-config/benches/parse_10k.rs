//! Parse + lower a generated config with 10,000 virtual servers × 4 real
//! servers (each with a TCP_CHECK), as `lvsd check` does.
//!
//! Run: `cargo bench -p lvs-config --bench parse_10k` — prints the size of
//! the input, min/median wall time over 10 runs and the process's peak RSS
//! (VmHWM). Goal: under 200 ms and under 100 MB.
//!
//! Then, apart (after the peak RSS is read), the time of lint f
//! (`lvsd check -f A -f B`) on two such configurations, and the daemon's
//! path: `load` of the same text from a file, in a fresh process of this
//! binary (min wall time of 3 loads, and that process's peak RSS).

use std::time::{Duration, Instant};

fn generate(vs: usize, rs: usize) -> String {
    let mut s = String::with_capacity(vs * (200 + rs * 150));
    s.push_str(
        "global_defs {\n    router_id bench\n    lvs_timeouts tcp 900 tcpfin 120 udp 300\n}\n",
    );
    s.push_str("vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {\n        10.255.0.1/16\n    }\n}\n");
    for i in 0..vs {
        let (a, b) = (i / 250, i % 250 + 1);
        s.push_str(&format!(
            "virtual_server 10.1.{a}.{b} 80 {{\n    delay_loop 6\n    lb_algo wrr\n    lb_kind DR\n    persistence_timeout 900\n    protocol TCP\n"
        ));
        for r in 0..rs {
            s.push_str(&format!(
                "    real_server 10.{}.{a}.{b} 80 {{\n        weight {}\n        TCP_CHECK {{\n            connect_timeout 3\n            retry 3\n            delay_before_retry 3\n        }}\n    }}\n",
                r + 2,
                r + 1
            ));
        }
        s.push_str("}\n");
    }
    s
}

/// User+system CPU time of this process (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after ')'.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    if let Some(path) = std::env::var_os(LOAD_ENV) {
        load_child(std::path::Path::new(&path));
        return;
    }
    // `cargo bench` passes "--bench"; `cargo test --benches` passes nothing
    // else useful: one quick run then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let text = generate(10_000, 4);
    let rss_before = peak_rss_kib().unwrap_or(0);
    let runs = if quick { 1 } else { 10 };
    let mut times: Vec<Duration> = Vec::new();
    let cpu0 = cpu_time();
    for _ in 0..runs {
        let t = Instant::now();
        let loaded = lvs_config::parse_str("bench.conf", &text);
        let dt = t.elapsed();
        assert_eq!(loaded.config.virtual_servers.len(), 10_000);
        assert_eq!(
            loaded
                .config
                .virtual_servers
                .iter()
                .map(|v| v.real_servers.len())
                .sum::<usize>(),
            40_000
        );
        drop(loaded);
        times.push(dt);
    }
    let cpu = (cpu_time() - cpu0) / runs as u32;
    times.sort();
    let rss = peak_rss_kib().unwrap_or(0);
    // Lint f on a pair of such configurations (both loaded: not part of the
    // parse figures above).
    let a = lvs_config::parse_str("a.conf", &text);
    let b = lvs_config::parse_str("b.conf", &text);
    let t = Instant::now();
    let pair = lvs_config::lint::cross_check(&[&a, &b]);
    let dt_pair = t.elapsed();
    println!(
        "parse_10k: input {:.1} MB, {} lines; parse+lower min {:.1} ms, median {:.1} ms over {runs} runs (CPU time {:.0} ms per run); peak RSS {:.1} MB (before parsing {:.1} MB)",
        text.len() as f64 / 1e6,
        text.lines().count(),
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3,
        rss as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!(
        "parse_10k: cross-check (lint f) of two such configurations: {:.1} ms, {} findings",
        dt_pair.as_secs_f64() * 1e3,
        pair.len()
    );
    drop((a, b, pair));
    let path = std::env::temp_dir().join(format!("parse_10k-{}.conf", std::process::id()));
    if std::fs::write(&path, &text).is_ok() {
        let out = std::env::current_exe().and_then(|exe| {
            std::process::Command::new(exe)
                .env(LOAD_ENV, &path)
                .output()
        });
        let _ = std::fs::remove_file(&path);
        match out {
            Ok(o) => print!("{}", String::from_utf8_lossy(&o.stdout)),
            Err(e) => println!("parse_10k: load() from a file: cannot run: {e}"),
        }
    }
}

/// Set (to a config file) in the child that measures `load`.
const LOAD_ENV: &str = "PARSE_10K_LOAD";

/// The child: `load` the file 3 times; min wall time, CPU time per load
/// and peak RSS.
fn load_child(path: &std::path::Path) {
    let cpu0 = cpu_time();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let loaded = lvs_config::load(&lvs_config::FsSource, path);
        best = best.min(t.elapsed());
        assert_eq!(
            loaded.map(|l| l.config.virtual_servers.len()).ok(),
            Some(10_000)
        );
    }
    let cpu = (cpu_time() - cpu0) / 3;
    println!(
        "parse_10k: load() from a file (another process): min {:.1} ms over 3 (CPU time {:.0} ms per load); peak RSS {:.1} MB",
        best.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3,
        peak_rss_kib().unwrap_or(0) as f64 / 1024.0
    );
}
