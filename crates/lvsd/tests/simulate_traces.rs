//! Replays every real-kernel recording under `tests/traces/<scenario>/`
//! through `lvsd simulate` and compares with the kernel's `ipvsadm -lnc`
//! snapshots: same entries (protocol, state, client, virtual, destination),
//! expire within ±1 s.
//!
//! A trace directory holds `director.pcap`, `snapshots.txt` (blocks
//! `--- at=SECONDS` followed by `ipvsadm -lnc` body lines), `keepalived.conf`,
//! and optionally `simulate.args` (extra arguments, one per line, e.g.
//! `--reload 12.5=keepalived-removed.conf`; relative file names are taken
//! from the trace directory).
//!
//! Kernel timers fire on the timer wheel, which may run a timer later than its
//! deadline (by up to 1/8 of its timeout); an entry the kernel still shows
//! with `00:00` that the model has already removed is therefore accepted.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    proto: String,
    expire: i64,
    state: String,
    src: String,
    virt: String,
    dest: String,
}

fn parse_entry(line: &str) -> Option<Entry> {
    let w: Vec<&str> = line.split_whitespace().collect();
    if w.len() != 6 {
        return None;
    }
    let (m, s) = w[1].split_once(':')?;
    Some(Entry {
        proto: w[0].into(),
        expire: m.parse::<i64>().ok()? * 60 + s.parse::<i64>().ok()?,
        state: w[2].into(),
        src: w[3].into(),
        virt: w[4].into(),
        dest: w[5].into(),
    })
}

/// `--- at=X` blocks.
fn parse_blocks(text: &str) -> Vec<(String, Vec<Entry>)> {
    let mut out: Vec<(String, Vec<Entry>)> = Vec::new();
    for line in text.lines() {
        if let Some(at) = line.strip_prefix("--- at=") {
            out.push((at.trim().to_string(), Vec::new()));
        } else if let Some(e) = parse_entry(line) {
            if let Some(b) = out.last_mut() {
                b.1.push(e);
            }
        }
    }
    out
}

fn compare(kernel: &[Entry], model: &[Entry]) -> Vec<String> {
    let mut errs = Vec::new();
    let mut used = vec![false; model.len()];
    for k in kernel {
        let hit = model.iter().enumerate().position(|(i, m)| {
            !used[i]
                && m.proto == k.proto
                && m.state == k.state
                && m.src == k.src
                && m.virt == k.virt
                && m.dest == k.dest
                && (m.expire - k.expire).abs() <= 1
        });
        match hit {
            Some(i) => used[i] = true,
            None if k.expire == 0 => {} // kernel timer not run yet; the model removed it on time
            None => errs.push(format!("  kernel entry missing in model: {k:?}")),
        }
    }
    for (i, m) in model.iter().enumerate() {
        if !used[i] {
            errs.push(format!("  model entry not in kernel snapshot: {m:?}"));
        }
    }
    errs
}

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/traces")
}

fn run_trace(dir: &Path) -> Result<usize, String> {
    let snaps = std::fs::read_to_string(dir.join("snapshots.txt")).map_err(|e| e.to_string())?;
    let kernel: Vec<(String, Vec<Entry>)> = parse_blocks(&snaps)
        .into_iter()
        .filter(|(at, _)| !at.starts_with('-'))
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lvsd"));
    cmd.current_dir(dir)
        .arg("simulate")
        .arg("-f")
        .arg("keepalived.conf")
        .arg("--pcap")
        .arg("director.pcap");
    // events.txt: `at=T reload FILE` lines recorded by the harness.
    if let Ok(ev) = std::fs::read_to_string(dir.join("events.txt")) {
        for l in ev.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if let [at, "reload", file] = w[..] {
                if let Some(t) = at.strip_prefix("at=") {
                    cmd.arg("--reload").arg(format!("{t}={file}"));
                }
            }
        }
    }
    if let Ok(extra) = std::fs::read_to_string(dir.join("simulate.args")) {
        for l in extra
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            cmd.args(l.split_whitespace());
        }
    }
    for (at, _) in &kernel {
        cmd.arg("--at").arg(at);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "lvsd simulate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let model = parse_blocks(&String::from_utf8_lossy(&out.stdout));
    if model.len() != kernel.len() {
        return Err(format!(
            "{} snapshots from lvsd, {} in the trace",
            model.len(),
            kernel.len()
        ));
    }
    let seen = capture_clients(&dir.join("director.pcap"));
    let mut report = String::new();
    let mut compared = 0;
    for ((at, k), (mat, m)) in kernel.iter().zip(&model) {
        assert_eq!(at, mat, "lvsd prints --at values exactly as given");
        // A kernel connection whose client endpoint never appears in the
        // capture means the capture missed its packets: nothing to replay.
        if let Some(e) = k
            .iter()
            .find(|e| !e.src.ends_with(":0") && !seen.contains(&e.src))
        {
            eprintln!(
                "{}: at={at}: capture incomplete (no frame from {}), snapshot skipped",
                dir.display(),
                e.src
            );
            continue;
        }
        compared += 1;
        let errs = compare(k, m);
        if !errs.is_empty() {
            report.push_str(&format!(" at={at}:\n{}\n", errs.join("\n")));
        }
    }
    if report.is_empty() {
        Ok(compared)
    } else {
        Err(report)
    }
}

/// Client endpoints (`addr:port`) of the IPv4 TCP/UDP frames of a classic pcap.
fn capture_clients(path: &Path) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    let Ok(data) = std::fs::read(path) else {
        return out;
    };
    if data.len() < 24 {
        return out;
    }
    let le = data[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || data[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32at = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl = u32at(&data[off + 8..]) as usize;
        let f = &data[off + 16..(off + 16 + incl).min(data.len())];
        off += 16 + incl;
        if f.len() < 38 || f[12..14] != [0x08, 0x00] {
            continue;
        }
        let ihl = ((f[14] & 0x0f) as usize) * 4;
        let (proto, src) = (f[23], &f[26..30]);
        let l4 = 14 + ihl;
        if (proto == 6 || proto == 17) && f.len() >= l4 + 2 {
            let sport = u16::from_be_bytes([f[l4], f[l4 + 1]]);
            out.insert(format!(
                "{}.{}.{}.{}:{sport}",
                src[0], src[1], src[2], src[3]
            ));
        }
    }
    out
}

fn trace_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(traces_dir())
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| {
        d.join("director.pcap").exists()
            && d.join("snapshots.txt").exists()
            && d.join("keepalived.conf").exists()
    });
    dirs.sort();
    dirs
}

#[test]
fn seed_persistence_trace_reproduced() {
    let dir = traces_dir().join("seed-persistence");
    let n = run_trace(&dir).unwrap_or_else(|e| panic!("seed-persistence:\n{e}"));
    assert_eq!(n, 8, "every seed snapshot compared");
}

#[test]
fn every_recorded_trace_reproduced() {
    let dirs = trace_dirs();
    assert!(
        !dirs.is_empty(),
        "no traces under {}",
        traces_dir().display()
    );
    let mut failures = String::new();
    for d in &dirs {
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        match run_trace(d) {
            Ok(0) => failures.push_str(&format!("{name}: no snapshot could be compared\n")),
            Ok(n) => eprintln!("{name}: {n} snapshots match"),
            Err(e) => failures.push_str(&format!("{name}:\n{e}\n")),
        }
    }
    assert!(failures.is_empty(), "trace mismatches:\n{failures}");
}

#[test]
fn comparison_rejects_wrong_destination_and_expiry() {
    let k = vec![parse_entry(
        "TCP 00:59  ASSURED     10.0.0.100:0       10.0.0.49:80       10.0.0.57:80",
    )
    .unwrap()];
    let same = k.clone();
    assert!(compare(&k, &same).is_empty());
    let mut wrong = k.clone();
    wrong[0].dest = "10.0.0.56:80".into();
    assert_eq!(compare(&k, &wrong).len(), 2);
    let mut late = k.clone();
    late[0].expire = 57;
    assert!(!compare(&k, &late).is_empty());
}
