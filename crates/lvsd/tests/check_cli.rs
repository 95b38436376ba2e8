//! `lvsd check` / `lvsd -t` end to end: exit codes 0/1/2, `--strict`,
//! `--offline`, `--json`, several files (lint f), file-mode lint c and file
//! names that are not format strings.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/config/fixtures")
}

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/config")
}

fn lvsd(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run lvsd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("lvsd-check-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn seed_pair_exits_0_with_lints_a_and_b() {
    let seed = fixtures().join("seed");
    let o = lvsd(&seed, &["check", "-f", "master.conf", "-f", "backup.conf"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // Lint a, once per file.
    assert_eq!(
        out.matches("persistence_timeout has no value: keepalived silently uses 360 seconds")
            .count(),
        2,
        "{out}"
    );
    // Lint b with this config's numbers: lvs_timeouts is commented out.
    assert!(
        out.contains("ESTABLISHED entries live up to 900 s (kernel default"),
        "{out}"
    );
    assert!(out.contains("FIN_WAIT entries up to 120 s"), "{out}");
    assert!(
        out.contains("for up to 960 s after its last packet, not 360 s"),
        "{out}"
    );
    assert!(out.contains("master.conf:20:1: warning"), "{out}");
    // Each message once: no line repeats.
    let mut lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(": warning") || l.contains(": note"))
        .collect();
    let n = lines.len();
    lines.sort();
    lines.dedup();
    assert_eq!(n, lines.len(), "a diagnostic was printed twice:\n{out}");
}

#[test]
fn samples_and_seed_offline_exit_0() {
    let samples = fixtures().join("keepalived-samples");
    let mut n = 0;
    for e in std::fs::read_dir(&samples).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if !name.starts_with("keepalived.conf.") {
            continue;
        }
        let o = lvsd(&samples, &["check", "--offline", "-f", &name]);
        assert_eq!(o.status.code(), Some(0), "{name}:\n{}", stdout(&o));
        n += 1;
    }
    assert_eq!(n, 25);
    for f in ["master.conf", "backup.conf"] {
        let o = lvsd(&fixtures().join("seed"), &["check", "--offline", "-f", f]);
        assert_eq!(o.status.code(), Some(0), "{f}:\n{}", stdout(&o));
    }
}

#[test]
fn exit_codes() {
    let broken = config_dir().join("broken");
    // 2: unreadable.
    let o = lvsd(
        &broken,
        &["check", "--offline", "-f", "/nonexistent/keepalived.conf"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("cannot read /nonexistent/keepalived.conf"));
    // 1: errors.
    let o = lvsd(&broken, &["check", "--offline", "-f", "no-protocol.conf"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("no-protocol.conf:1:1: error: 'virtual_server': no protocol set"));
    // 0 with warnings; 1 with --strict.
    let o = lvsd(&broken, &["check", "--offline", "-f", "no-lb-kind.conf"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = lvsd(
        &broken,
        &["check", "--offline", "--strict", "-f", "no-lb-kind.conf"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("warnings are errors with --strict"));
    // keepalived drop-in: -t / --config-test.
    let seed = fixtures().join("seed");
    assert_eq!(
        lvsd(&seed, &["-t", "-f", "master.conf"]).status.code(),
        Some(0)
    );
    assert_eq!(
        lvsd(&seed, &["--config-test", "-f", "master.conf"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        lvsd(&broken, &["-t", "-f", "state-lowercase.conf"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        lvsd(&broken, &["-t", "-f", "/nonexistent.conf"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn json_document() {
    let seed = fixtures().join("seed");
    let o = lvsd(
        &seed,
        &[
            "check",
            "--offline",
            "--json",
            "-f",
            "master.conf",
            "-f",
            "backup.conf",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let vi = v["vrrp_instances"].as_array().expect("vrrp_instances");
    assert_eq!(vi.len(), 2);
    assert_eq!(vi[0]["virtual_router_id"], 51);
    assert_eq!(vi[1]["priority"], 100);
    let vs = v["virtual_servers"].as_array().expect("virtual_servers");
    assert_eq!(vs.len(), 2);
    for s in vs {
        assert_eq!(s["persistence_timeout"], 360);
        assert_eq!(s["real_servers"].as_array().expect("real_servers").len(), 2);
    }
    let d = v["diagnostics"].as_array().expect("diagnostics");
    assert!(d
        .iter()
        .any(|d| d["code"] == "persistence-shorter-than-timeouts"));
    // Snapshot (UPDATE_EXPECT=1 rewrites).
    let snap = config_dir().join("snapshots/cli/seed-pair.json");
    let text = String::from_utf8(o.stdout).unwrap();
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|x| x == "1") {
        std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
        std::fs::write(&snap, &text).unwrap();
    } else {
        let want = std::fs::read_to_string(&snap).expect("snapshot (UPDATE_EXPECT=1 creates it)");
        assert_eq!(
            want, text,
            "--json output changed; UPDATE_EXPECT=1 to accept"
        );
    }
}

#[test]
fn pair_cross_check_finds_vip_mismatch() {
    let s = Scratch::new("pair");
    let master = std::fs::read_to_string(fixtures().join("seed/master.conf")).unwrap();
    let backup = std::fs::read_to_string(fixtures().join("seed/backup.conf"))
        .unwrap()
        .replace("192.168.56.49/24", "192.168.56.49")
        .replace("advert_int 10", "advert_int 1")
        .replace("priority 100", "priority 101")
        .replace(
            "real_server 192.168.56.57 80",
            "real_server 192.168.56.58 80",
        );
    std::fs::write(s.0.join("m.conf"), master).unwrap();
    std::fs::write(s.0.join("b.conf"), backup).unwrap();
    let o = lvsd(
        &s.0,
        &["check", "--offline", "-f", "m.conf", "-f", "b.conf"],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("must match exactly, prefix included"), "{out}");
    assert!(
        out.contains("only here: [192.168.56.49]; only there: [192.168.56.49/24]"),
        "{out}"
    );
    assert!(out.contains("advertise every 1 s and 10 s"), "{out}");
    assert!(out.contains("with the same priority 101"), "{out}");
    assert!(
        out.contains("differs from m.conf:20 in: real_server set or weights"),
        "{out}"
    );
}

#[test]
fn config_file_modes_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("mode");
    let p = s.0.join("keepalived.conf");
    std::fs::copy(fixtures().join("seed/master.conf"), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = lvsd(&s.0, &["check", "--offline", "-f", "keepalived.conf"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("is executable (mode 0755; keepalived's daemon skips it"),
        "{out}"
    );
    assert!(out.contains("chmod 644 keepalived.conf"), "{out}");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = stdout(&lvsd(
        &s.0,
        &["check", "--offline", "-f", "keepalived.conf"],
    ));
    assert!(
        out.contains("is group- or world-writable (mode 0666)"),
        "{out}"
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = stdout(&lvsd(
        &s.0,
        &["check", "--offline", "-f", "keepalived.conf"],
    ));
    assert!(
        !out.contains("config-file-mode") && !out.contains("executable"),
        "{out}"
    );
}

#[test]
fn file_names_are_not_format_strings() {
    let s = Scratch::new("fmt");
    let name = "k%n%s%d{}{0}.conf";
    std::fs::write(
        s.0.join(name),
        "vrrp_instance %n%s {\n state Master\n virtual_router_id 5\n}\n",
    )
    .unwrap();
    let o = lvsd(&s.0, &["check", "--offline", "-f", name]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("k%n%s%d{}{0}.conf:2:8: error: 'state': unknown state 'Master'"),
        "{out}"
    );
    assert!(
        out.contains("vrrp_instance %n%s has no virtual_ipaddress"),
        "{out}"
    );
}

#[test]
fn host_checks_warn_and_offline_skips_them() {
    let s = Scratch::new("host");
    std::fs::write(
        s.0.join("k.conf"),
        "vrrp_script chk {\n  script \"/nonexistent/check.sh\"\n}\nvrrp_instance VI_1 {\n  interface lvsd-no-such-if0\n  virtual_router_id 9\n  virtual_ipaddress {\n    10.9.9.9/24\n  }\n  track_script {\n    chk\n  }\n}\n",
    )
    .unwrap();
    let out = stdout(&lvsd(&s.0, &["check", "-f", "k.conf"]));
    assert!(
        out.contains("interface 'lvsd-no-such-if0' does not exist on this host"),
        "{out}"
    );
    assert!(
        out.contains("script /nonexistent/check.sh cannot be used"),
        "{out}"
    );
    let o = lvsd(&s.0, &["check", "--offline", "-f", "k.conf"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!stdout(&o).contains("does not exist on this host"));
    // An existing interface gives no warning.
    std::fs::write(
        s.0.join("lo.conf"),
        "vrrp_instance VI_1 {\n  interface lo\n  virtual_router_id 9\n  virtual_ipaddress {\n    10.9.9.9/24\n  }\n}\n",
    )
    .unwrap();
    let out = stdout(&lvsd(&s.0, &["check", "-f", "lo.conf"]));
    assert!(!out.contains("does not exist"), "{out}");
}

#[test]
fn unsafe_script_is_an_error_with_enable_script_security() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("scriptsec");
    std::fs::set_permissions(&s.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = s.0.join("notify.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    // World-writable: anyone could change what runs as root.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o757)).unwrap();
    let conf = |sec: &str| {
        format!(
            "global_defs {{\n{sec}}}\nvrrp_instance VI_1 {{\n  interface lo\n  virtual_router_id 9\n  virtual_ipaddress {{\n    10.9.9.9/24\n  }}\n  notify_master \"{}\"\n}}\n",
            script.display()
        )
    };
    std::fs::write(s.0.join("warn.conf"), conf("")).unwrap();
    std::fs::write(s.0.join("err.conf"), conf("  enable_script_security\n")).unwrap();
    let o = lvsd(&s.0, &["check", "-f", "warn.conf"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("world-writable"), "{}", stdout(&o));
    let o = lvsd(&s.0, &["check", "-f", "err.conf"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("err.conf:10:3: error"), "{out}");
    assert!(out.contains("disabled at start and reload"), "{out}");
}

#[test]
fn route_entries_lvsd_cannot_install_are_reported_with_file_line() {
    let s = Scratch::new("routes");
    std::fs::write(
        s.0.join("r.conf"),
        "static_routes {\n  192.168.2.0/24 via 192.168.1.100 dev eth0\n  192.168.100.0/24 table 6909 nexthop via 192.168.101.1 dev wlan0 weight 1\n}\nvrrp_instance VI_1 {\n  interface lo\n  virtual_router_id 9\n  virtual_ipaddress {\n    10.9.9.9/24\n  }\n  virtual_rules {\n    from 10.9.9.9/32 table 7 priority 100\n    from 10.9.9.9/32\n  }\n}\n",
    )
    .unwrap();
    let o = lvsd(&s.0, &["check", "--offline", "-f", "r.conf"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("r.conf:3:3: warning: 'static_routes': unsupported route option 'nexthop'"),
        "{out}"
    );
    assert!(
        out.contains("r.conf:13:5: warning: 'virtual_rules': a rule needs 'table'"),
        "{out}"
    );
    assert_eq!(out.matches("lvsd ignores this entry").count(), 2, "{out}");
}
