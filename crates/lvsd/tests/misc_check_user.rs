//! MISC_CHECK runs as keepalived runs it (issue 6): without a `user`, as `script_user`; under
//! `enable_script_security` an insecure misc script (in a world-writable directory) is
//! disabled with an error naming file:line, and its checker removed: the real server keeps no
//! checker and stays up. Needs root (to switch users); skipped otherwise. The daemon runs with
//! `-C --dataplane none`; MISC_CHECK opens no socket, so no namespace is needed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::CheckersDaemon;

fn is_root() -> bool {
    // The effective uid, from /proc/self/status ("Uid: real effective ...").
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0")
}

/// `(alive, weight)` of the real server on `port`.
fn rs(st: &Value, port: u16) -> Option<(bool, u64)> {
    st["virtual_servers"][0]["real_servers"]
        .as_array()?
        .iter()
        .find(|r| r["port"] == port)
        .map(|r| {
            (
                r["alive"].as_bool().unwrap_or(false),
                r["weight"].as_u64().unwrap_or(0),
            )
        })
}

#[test]
fn misc_check_runs_as_script_user_and_an_insecure_one_is_removed() {
    if !is_root() {
        eprintln!("skipped: needs root to run scripts as another user");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lvsd-misc-user-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (safe, open, out) = (dir.join("safe"), dir.join("open"), dir.join("out"));
    for (d, mode) in [(&dir, 0o755), (&safe, 0o755), (&open, 0o777), (&out, 0o777)] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let write_script = |path: &Path, body: &str| {
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let good = safe.join("check.sh");
    let bad = open.join("check.sh");
    // Records who ran it; passes.
    write_script(
        &good,
        &format!(
            "id -u > {}/uid.tmp && mv {0}/uid.tmp {0}/uid\nexit 0",
            out.display()
        ),
    );
    // Would take its real server down (exit 1) and leave a trace, if it ever ran.
    write_script(&bad, &format!("touch {}/bad\nexit 1", out.display()));
    let d = CheckersDaemon::start(
        dir.clone(),
        &format!(
            "global_defs {{\n  script_user nobody\n  enable_script_security\n}}\n\
             virtual_server 127.0.0.10 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
               real_server 127.0.0.1 8001 {{\n    weight 2\n    MISC_CHECK {{\n      misc_path {good}\n      misc_timeout 2\n      warmup 0\n    }}\n  }}\n\
               real_server 127.0.0.1 8002 {{\n    weight 3\n    MISC_CHECK {{\n      misc_path {bad}\n      misc_timeout 2\n      warmup 0\n    }}\n  }}\n\
             }}\n",
            good = good.display(),
            bad = bad.display(),
        ),
        &[],
    );
    let t0 = Instant::now();
    let uid = loop {
        if let Ok(s) = std::fs::read_to_string(out.join("uid")) {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the misc script never ran\nlog:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(uid.trim(), "65534", "runs as script_user nobody");
    // The good one's checker passes; the insecure one's real server has no checker left: up.
    d.wait_for("both real servers up", |s| {
        rs(s, 8001) == Some((true, 2)) && rs(s, 8002) == Some((true, 3))
    });
    // A few more loops: the insecure script never runs, its real server stays up.
    std::thread::sleep(Duration::from_millis(2500));
    let st = d.status().expect("status");
    assert_eq!(rs(&st, 8002), Some((true, 3)), "{st}");
    let checkers = st["virtual_servers"][0]["real_servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["port"] == 8002)
        .map(|r| r["checkers"].as_array().map_or(0, Vec::len));
    assert_eq!(
        checkers,
        Some(0),
        "the insecure MISC_CHECK is removed: {st}"
    );
    let log = d.log();
    // The line of the insecure misc_path in the configuration.
    let conf = std::fs::read_to_string(d.conf()).unwrap();
    let line = 1 + conf
        .lines()
        .position(|l| l.contains(&format!("misc_path {}", bad.display())))
        .unwrap();
    let at = format!("{}:{line}:", d.conf().display());
    assert!(
        !out.join("bad").exists(),
        "an insecure misc script ran under enable_script_security\nlog:\n{log}"
    );
    assert!(
        log.contains("world-writable") && log.contains(&at),
        "the refusal names {at}:\n{log}"
    );
    drop(d);
}
