//! `lvs_notify_fifo` / `notify_fifo` written by the checkers (keepalived.md §3.13): a real
//! server going down and coming back, and its virtual server losing and regaining quorum, are
//! lines `RS [ip]:tcp:port [vip]:tcp:port DOWN|UP` / `VS [vip]:tcp:port DOWN|UP`, in order, on
//! both FIFOs; `lvs_notify_fifo_script` is started with the FIFO path as its last argument.
//!
//! Needs no privileges: the real servers are TCP listeners on 127.0.0.1 this test opens (or
//! not), the daemon runs with `-C --dataplane none`.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{free_port, CheckersDaemon};

/// Serves (accepts and closes) until the listener is dropped by the returned guard.
fn serve(port: u16) -> std::sync::mpsc::Sender<()> {
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    l.set_nonblocking(true).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || loop {
        if !matches!(rx.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)) {
            return;
        }
        match l.accept() {
            Ok((c, _)) => drop(c),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    });
    tx
}

/// Reads a FIFO in the background (lvsd keeps it open for writing, so the open does not block;
/// the read ends when lvsd exits).
fn reader(path: &Path) -> Arc<Mutex<String>> {
    let mut f = std::fs::File::open(path).unwrap();
    let text = Arc::new(Mutex::new(String::new()));
    let t = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                return;
            }
            t.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

fn wait_lines(what: &str, mut read: impl FnMut() -> String, want: &[String], log: &Path) {
    let t0 = Instant::now();
    loop {
        let text = read();
        let lines: Vec<&str> = text.lines().collect();
        // `want` in this order (other lines may come between).
        let mut it = lines.iter();
        if want.iter().all(|w| it.any(|l| l == w)) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(25),
            "{what}: waiting for {want:#?}\ngot:\n{text}\nlog:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn checker_events_reach_both_fifos_and_the_fifo_script() {
    let dir = std::env::temp_dir().join(format!("lvsd-lvs-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Others may need to enter the directory (the FIFO script may run as another user).
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (up, down) = (free_port(), free_port());
    let stop_up = serve(up);
    let all_fifo = dir.join("all.fifo");
    let lvs_fifo = dir.join("lvs.fifo");
    let script_out = dir.join("script.out");
    let script = dir.join("reader.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec cat \"$1\" >> {}\n", script_out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&script_out, "").unwrap();
    std::fs::set_permissions(&script_out, std::fs::Permissions::from_mode(0o666)).unwrap();
    let d = CheckersDaemon::start(
        dir.clone(),
        &format!(
            "global_defs {{\n  notify_fifo {all}\n  lvs_notify_fifo {lvs}\n  lvs_notify_fifo_script {script}\n}}\n\
             virtual_server 127.0.0.10 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
               real_server 127.0.0.1 {up} {{\n    weight 3\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 0\n    }}\n  }}\n\
               real_server 127.0.0.1 {down} {{\n    weight 2\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 0\n    }}\n  }}\n\
             }}\n",
            all = all_fifo.display(),
            lvs = lvs_fifo.display(),
            script = script.display(),
        ),
        &[],
    );
    let log_path = dir.join("lvsd.log");
    // lvsd creates the FIFOs; the test reads notify_fifo itself.
    let t0 = Instant::now();
    while !all_fifo.exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "no {all_fifo:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = reader(&all_fifo);
    let all_text = || all.lock().unwrap().clone();

    let rs =
        |port: u16, state: &str| format!("RS [127.0.0.1]:tcp:{port} [127.0.0.10]:tcp:80 {state}");
    let vs = |state: &str| format!("VS [127.0.0.10]:tcp:80 {state}");
    // The closed port fails its first check; the quorum (1) still holds with the other.
    let first = [rs(down, "DOWN")];
    wait_lines("closed port", all_text, &first, &log_path);
    // The live one stops listening: it goes down, and with it the quorum.
    drop(stop_up);
    let second = [rs(down, "DOWN"), rs(up, "DOWN"), vs("DOWN")];
    wait_lines("listener gone", all_text, &second, &log_path);
    // It comes back: the real server, then the quorum.
    let _stop_up = serve(up);
    let third = [
        rs(down, "DOWN"),
        rs(up, "DOWN"),
        vs("DOWN"),
        rs(up, "UP"),
        vs("UP"),
    ];
    wait_lines("listener back", all_text, &third, &log_path);
    let text = all_text();
    assert!(
        !text.contains(&rs(down, "UP")),
        "the closed port never came up:\n{text}"
    );
    // lvs_notify_fifo got the same lines, read by lvs_notify_fifo_script (FIFO path as $1).
    wait_lines(
        "lvs_notify_fifo_script",
        || std::fs::read_to_string(&script_out).unwrap_or_default(),
        &third,
        &log_path,
    );
    drop(d);
}

/// The checkers' notify scripts run as keepalived runs them: as `script_user`, and under
/// `enable_script_security` an unsafe one (in a world-writable directory) never runs. Needs
/// root (to switch users); skipped otherwise.
#[test]
fn notify_scripts_run_as_script_user_and_unsafe_ones_are_disabled() {
    // The effective uid, from /proc/self/status ("Uid: real effective ...").
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("1");
    if euid != "0" {
        eprintln!("skipped: needs root to run scripts as another user");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lvsd-check-scripts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (safe, unsafe_dir, out) = (dir.join("safe"), dir.join("open"), dir.join("out"));
    for (d, mode) in [
        (&dir, 0o755),
        (&safe, 0o755),
        (&unsafe_dir, 0o777),
        (&out, 0o777),
    ] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let write_script = |path: &Path, tag: &str| {
        std::fs::write(
            path,
            format!("#!/bin/sh\nid -u > {}/{tag}\n", out.display()),
        )
        .unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let good = safe.join("down.sh");
    let bad = unsafe_dir.join("down.sh");
    write_script(&good, "good");
    write_script(&bad, "bad");
    let (p1, p2) = (free_port(), free_port());
    let stop1 = serve(p1);
    let stop2 = serve(p2);
    let d = CheckersDaemon::start(
        dir.clone(),
        &format!(
            "global_defs {{\n  script_user nobody\n  enable_script_security\n}}\n\
             virtual_server 127.0.0.10 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
               real_server 127.0.0.1 {p1} {{\n    notify_down {good}\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 0\n    }}\n  }}\n\
               real_server 127.0.0.1 {p2} {{\n    notify_down {bad}\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 0\n    }}\n  }}\n\
             }}\n",
            good = good.display(),
            bad = bad.display(),
        ),
        &[],
    );
    let log_path = dir.join("lvsd.log");
    // Let both be checked up once, then take both down.
    std::thread::sleep(Duration::from_millis(1500));
    drop(stop1);
    drop(stop2);
    let t0 = Instant::now();
    let nobody = loop {
        if let Ok(s) = std::fs::read_to_string(out.join("good")) {
            if !s.is_empty() {
                break s;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "notify_down never ran\nlog:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(nobody.trim(), "65534", "runs as script_user nobody");
    // Both real servers went down in the same loop; give the refused one a moment more.
    std::thread::sleep(Duration::from_millis(1500));
    let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        !out.join("bad").exists(),
        "an unsafe notify_down ran under enable_script_security\nlog:\n{log_text}"
    );
    assert!(
        log_text.contains("world-writable") && log_text.contains("keepalived.conf:"),
        "the refusal names the file and line:\n{log_text}"
    );
    drop(d);
}
