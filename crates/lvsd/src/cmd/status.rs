//! `lvsd status` / `lvsd reload`: clients of the daemon's control socket.
//!
//! Protocol: one JSON object per line each way (see docs/status.md).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};

use crate::daemon::DEFAULT_CONTROL_SOCKET;

/// Arguments of `lvsd status`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print the raw JSON document (schema in docs/status.md).
    #[arg(long)]
    json: bool,
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    control_socket: PathBuf,
}

/// Arguments of `lvsd reload`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReloadArgs {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    control_socket: PathBuf,
}

/// Sends one request and returns the reply.
pub(crate) fn request(socket: &Path, req: &Value) -> anyhow::Result<Value> {
    let mut s = UnixStream::connect(socket)
        .with_context(|| format!("cannot reach lvsd at {} (is it running?)", socket.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    serde_json::from_str(&reply).context("bad reply from lvsd")
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reply = request(&args.control_socket, &json!({"cmd": "status"}))?;
    if reply["ok"] != json!(true) {
        anyhow::bail!("{}", reply["error"].as_str().unwrap_or("status failed"));
    }
    let st = &reply["status"];
    if args.json {
        println!("{}", serde_json::to_string_pretty(st)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render(st));
    Ok(ExitCode::SUCCESS)
}

fn render(st: &Value) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "lvsd pid {} up {:.0}s, config {}, data plane {}, {} probes",
        st["pid"],
        st["uptime_s"].as_f64().unwrap_or(0.0),
        st["config"].as_str().unwrap_or("?"),
        st["dataplane"]["mode"].as_str().unwrap_or("?"),
        st["checker"]["probes"]
    );
    for i in st["vrrp_instances"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "VRRP {} {} prio {}",
            i["name"].as_str().unwrap_or("?"),
            i["state"].as_str().unwrap_or("?"),
            i["priority"]
        );
    }
    for vs in st["virtual_servers"].as_array().into_iter().flatten() {
        let name = match (
            vs["address"].as_str(),
            vs["fwmark"].as_u64(),
            vs["group"].as_str(),
        ) {
            (Some(a), _, _) if a.contains(':') => format!(
                "{} [{a}]:{}",
                vs["protocol"].as_str().unwrap_or(""),
                vs["port"]
            ),
            (Some(a), _, _) => format!(
                "{} {a}:{}",
                vs["protocol"].as_str().unwrap_or(""),
                vs["port"]
            ),
            (None, Some(m), _) => format!("FWM {m}"),
            (None, None, Some(g)) => format!("group {g}"),
            _ => "?".into(),
        };
        let q = if vs["quorum_up"] == json!(true) {
            "quorum up"
        } else {
            "QUORUM DOWN"
        };
        let _ = writeln!(o, "{name}  ({q}, alive weight {})", vs["alive_weight"]);
        for rs in vs["real_servers"].as_array().into_iter().flatten() {
            let a = rs["address"].as_str().unwrap_or("?");
            let addr = if a.contains(':') {
                format!("[{a}]:{}", rs["port"])
            } else {
                format!("{a}:{}", rs["port"])
            };
            let state = if rs["alive"] == json!(true) {
                "UP"
            } else {
                "DOWN"
            };
            let w = if rs["in_service"] == json!(true) {
                format!("weight {}", rs["weight"])
            } else {
                "not in service".into()
            };
            let why = rs["checkers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["up"] != json!(true))
                .map(|c| {
                    format!(
                        "{}: {}",
                        c["type"].as_str().unwrap_or("?"),
                        c["last_result"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let _ = writeln!(
                o,
                "  -> {addr:<24} {state:<5} {w}{}",
                if why.is_empty() {
                    String::new()
                } else {
                    format!("  ({why})")
                }
            );
        }
        if let Some(s) = vs["sorry_server"].as_object() {
            let _ = writeln!(
                o,
                "  sorry {}:{} weight {} in service {}",
                s["address"].as_str().unwrap_or("?"),
                s["port"],
                s["weight"],
                s["in_service"]
            );
        }
    }
    o
}

pub(crate) fn reload(args: ReloadArgs) -> anyhow::Result<ExitCode> {
    let reply = request(&args.control_socket, &json!({"cmd": "reload"}))?;
    if reply["ok"] == json!(true) {
        println!("{}", reply["message"].as_str().unwrap_or("reloaded"));
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "lvsd: {}",
            reply["error"].as_str().unwrap_or("reload failed")
        );
        Ok(ExitCode::from(1))
    }
}
