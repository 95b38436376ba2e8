//! `lvsd run` as a process: status JSON schema, Prometheus `/metrics`, reload through the
//! control socket and SIGHUP (a broken config is refused with file:line and nothing changes;
//! a good one applies only the diff, checker state carried over), graceful SIGTERM.
//!
//! Needs no privileges: real servers are TCP listeners this test opens on 127.0.0.1, the
//! daemon runs with `-C --dataplane none`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{free_port, CheckersDaemon};

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

fn config(up: u16, down: u16, weight: u32) -> String {
    format!(
        "global_defs {{ router_id test }}\n\
         virtual_server 127.0.0.10 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
           real_server 127.0.0.1 {up} {{\n    weight {weight}\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 0\n      warmup 0\n    }}\n  }}\n\
           real_server 127.0.0.1 {down} {{\n    weight 2\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 0\n      warmup 0\n    }}\n  }}\n\
         }}\n\
         virtual_server 127.0.0.11 80 {{\n  delay_loop 1\n  lb_algo rr\n  protocol TCP\n\
           real_server 127.0.0.1 {up} {{\n    weight 7\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 0\n      warmup 0\n    }}\n  }}\n\
         }}\n"
    )
}

fn rs(st: &Value, vs: usize, port: u16) -> &Value {
    st["virtual_servers"][vs]["real_servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["port"] == port)
        .unwrap()
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn status_metrics_reload_and_stop() {
    let dir = std::env::temp_dir().join(format!("lvsd-h6-daemon-{}", std::process::id()));
    // A live real server; the other port has no listener (connection refused).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in listener.incoming() {
            drop(c);
        }
    });
    let down = free_port();
    let metrics_port = free_port();
    let pidfile = dir.join("lvsd.pid").display().to_string();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let d = CheckersDaemon::start(
        dir.clone(),
        &config(up, down, 3),
        &["--seed", "7", "-p", &pidfile, "--metrics", &metrics],
    );
    let conf = d.conf();

    // Status: the schema's guaranteed fields, and the checkers' verdicts.
    let st = d.wait_for("first verdicts", |s| {
        s["virtual_servers"][0]["real_servers"]
            .as_array()
            .is_some_and(|r| r.iter().all(|r| r["checkers"][0]["has_run"] == true))
    });
    assert_eq!(st["schema"], 1);
    assert_eq!(st["vrrp_instances"], Value::Array(vec![]));
    let vs = &st["virtual_servers"][0];
    assert_eq!(
        (
            vs["address"].as_str(),
            vs["port"].as_u64(),
            vs["protocol"].as_str()
        ),
        (Some("127.0.0.10"), Some(80), Some("TCP"))
    );
    let (a, b) = (rs(&st, 0, up), rs(&st, 0, down));
    assert_eq!(
        (
            a["address"].as_str(),
            a["alive"].as_bool(),
            a["weight"].as_u64()
        ),
        (Some("127.0.0.1"), Some(true), Some(3))
    );
    assert_eq!(
        (
            b["alive"].as_bool(),
            b["weight"].as_u64(),
            b["in_service"].as_bool()
        ),
        (Some(false), Some(0), Some(false))
    );
    // One probe for 127.0.0.1:up even though it sits in two virtual servers.
    assert_eq!(st["checker"]["probes"], 2);
    assert_eq!(a["checkers"][0]["shared_by"], 2);
    // Human output names both.
    let human = Command::new(LVSD)
        .args(["status", "--control-socket", &d.sock()])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains(&format!("127.0.0.1:{down}")) && human.contains("DOWN"),
        "{human}"
    );

    // Metrics.
    let m = http_get(SocketAddr::from(([127, 0, 0, 1], metrics_port)), "/metrics");
    assert!(
        m.lines().next().is_some_and(|l| l.ends_with(" 200 OK")),
        "{m}"
    );
    let w_line =
        format!("lvsd_real_server_weight{{vs=\"TCP 127.0.0.10:80\",rs=\"127.0.0.1:{up}\"}} 3");
    assert!(m.contains(&w_line), "missing {w_line} in\n{m}");
    assert!(
        m.contains(&format!(
            "lvsd_real_server_in_service{{vs=\"TCP 127.0.0.10:80\",rs=\"127.0.0.1:{down}\"}} 0"
        )),
        "{m}"
    );
    assert!(
        m.contains("lvsd_checker_runs_total{type=\"TCP_CHECK\",result=\"down\"}"),
        "{m}"
    );
    assert!(m.contains("lvsd_checker_latency_seconds_bucket{"), "{m}");
    assert!(
        http_get(SocketAddr::from(([127, 0, 0, 1], metrics_port)), "/nope")
            .lines()
            .next()
            .is_some_and(|l| l.contains(" 404 "))
    );

    // A broken config is refused with file:line; nothing changes.
    let good = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, good.replace("weight 3", "weight lots")).unwrap();
    let out = Command::new(LVSD)
        .args(["reload", "--control-socket", &d.sock()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = good.lines().position(|l| l.contains("weight 3")).unwrap() + 1;
    assert!(
        err.contains(&format!("{}:{line}:", conf.display())),
        "reload error should name file:line: {err}"
    );
    let st = d.status().unwrap();
    assert_eq!(st["reloads"]["failed"], 1);
    assert_eq!(rs(&st, 0, up)["weight"], 3);

    // A good config through SIGHUP: the weight changes, the failed server is not re-added
    // (its checker state carries over), the reload counter moves.
    std::fs::write(&conf, config(up, down, 9)).unwrap();
    let pid = std::fs::read_to_string(dir.join("lvsd.pid"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let st = d.wait_for("reload", |s| s["reloads"]["ok"] == 1);
    assert_eq!(rs(&st, 0, up)["weight"], 9);
    assert_eq!(rs(&st, 0, down)["in_service"], false);
    assert!(
        rs(&st, 0, down)["checkers"][0]["runs"].as_u64().unwrap() >= 1,
        "checker state carried over"
    );
    let m = http_get(SocketAddr::from(([127, 0, 0, 1], metrics_port)), "/metrics");
    assert!(
        m.contains("lvsd_reloads_total{outcome=\"ok\"} 1")
            && m.contains("lvsd_reloads_total{outcome=\"refused\"} 1"),
        "{m}"
    );

    // Graceful stop.
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut d = d;
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{}", d.log());
    assert!(!dir.join("lvsd.pid").exists() && !dir.join("ctl.sock").exists());
}
