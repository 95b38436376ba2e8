//! `lvs-fwd` — runs the built-in data plane standalone, programmed from the
//! command line (a test and benchmark tool; the daemon uses the same driver
//! through `lvsd run --dataplane builtin`).
//!
//! ```text
//! lvs-fwd --iface eth0 [--iface eth1] [--workers N] [--no-ingress-rules]
//!         [--timeouts TCP,TCPFIN,UDP]
//!         --service tcp:10.0.0.49:80:rr[:PERSIST_SECS]
//!         --dest 10.0.0.56:80:dr[:WEIGHT] --dest 10.0.0.57:80:dr ...
//! ```
//! Real servers are added in the order given (the kernel lists the newest
//! first). After start it prints `ready`, then answers lines on stdin:
//! `conns` (ipvsadm -lnc body lines, then `.`), `counters`, `quit`.

use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::process::ExitCode;

use lvs_dataplane::driver::{Builtin, BuiltinConfig};
use lvs_dataplane::engine::SharedEngine;
use lvs_ipvs::admin::{Dest, FwdMethod, IpvsBackend, Protocol, Service, ServiceKey, SvcFlags};
use lvs_ipvs::Ipvs;

struct Svc {
    svc: Service,
    dests: Vec<Dest>,
}

fn parse_addr_port(s: &str) -> Result<(IpAddr, u16, Vec<&str>), String> {
    // ADDR:PORT[:rest...]; IPv6 as [ADDR]:PORT
    let (addr, rest) = if let Some(r) = s.strip_prefix('[') {
        let (a, r) = r.split_once(']').ok_or(format!("bad address in {s:?}"))?;
        (a, r.trim_start_matches(':'))
    } else {
        s.split_once(':').ok_or(format!("missing port in {s:?}"))?
    };
    let mut parts: Vec<&str> = rest.split(':').collect();
    let port = parts
        .first()
        .and_then(|p| p.parse().ok())
        .ok_or(format!("bad port in {s:?}"))?;
    parts.remove(0);
    let a = addr.parse().map_err(|_| format!("bad address {addr:?}"))?;
    Ok((a, port, parts))
}

type Parsed = (BuiltinConfig, Vec<Svc>, Option<(u32, u32, u32)>);

fn parse() -> Result<Parsed, String> {
    let mut cfg = BuiltinConfig::new(Vec::new());
    let mut svcs: Vec<Svc> = Vec::new();
    let mut timeouts = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--iface" => cfg.interfaces.push(val()?),
            "--workers" => cfg.workers = val()?.parse().map_err(|_| "bad --workers")?,
            "--no-ingress-rules" => cfg.ingress_rules = false,
            "--timeouts" => {
                let v: Vec<u32> = val()?
                    .split(',')
                    .map(|x| x.parse().map_err(|_| "bad --timeouts".to_string()))
                    .collect::<Result<_, _>>()?;
                if v.len() != 3 {
                    return Err("--timeouts TCP,TCPFIN,UDP".into());
                }
                timeouts = Some((v[0], v[1], v[2]));
            }
            "--service" => {
                let v = val()?;
                let (proto, rest) = v
                    .split_once(':')
                    .ok_or("--service PROTO:ADDR:PORT:SCHED[:PERSIST]")?;
                let proto = match proto {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    _ => return Err(format!("bad protocol {proto:?}")),
                };
                let (addr, port, more) = parse_addr_port(rest)?;
                let mut svc = Service::new(ServiceKey::Addr { proto, addr, port });
                if let Some(s) = more.first() {
                    svc.scheduler = (*s).to_string();
                }
                if let Some(p) = more.get(1) {
                    svc.timeout = p.parse().map_err(|_| "bad persistence")?;
                    svc.flags = SvcFlags(svc.flags.0 | SvcFlags::PERSISTENT);
                }
                svcs.push(Svc {
                    svc,
                    dests: Vec::new(),
                });
            }
            "--dest" => {
                let v = val()?;
                let (addr, port, more) = parse_addr_port(&v)?;
                let mut d = Dest::new(addr, port);
                d.fwd = match more.first().copied().unwrap_or("dr") {
                    "dr" => FwdMethod::Route,
                    "nat" => FwdMethod::Masq,
                    "tun" => FwdMethod::Tunnel,
                    m => return Err(format!("bad method {m:?}")),
                };
                if let Some(w) = more.get(1) {
                    d.weight = w.parse().map_err(|_| "bad weight")?;
                }
                svcs.last_mut()
                    .ok_or("--dest before --service")?
                    .dests
                    .push(d);
            }
            "-h" | "--help" => return Err("see the module documentation".into()),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    Ok((cfg, svcs, timeouts))
}

fn main() -> ExitCode {
    let (cfg, svcs, timeouts) = match parse() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("lvs-fwd: {e}");
            return ExitCode::from(2);
        }
    };
    let engine = SharedEngine::new(Ipvs::default());
    {
        let mut e = engine.lock();
        if let Some((t, f, u)) = timeouts {
            e.set_timeouts(t, f, u);
        }
        for s in &svcs {
            if let Err(err) = IpvsBackend::add_service(&mut *e, &s.svc) {
                eprintln!("lvs-fwd: service {}: {err}", s.svc.key);
                return ExitCode::from(1);
            }
            for d in &s.dests {
                if let Err(err) = IpvsBackend::add_dest(&mut *e, &s.svc.key, d) {
                    eprintln!("lvs-fwd: dest {}: {err}", d.key());
                    return ExitCode::from(1);
                }
            }
        }
    }
    let dp = match Builtin::start(cfg, engine) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lvs-fwd: {e}");
            return ExitCode::from(1);
        }
    };
    let stdout = std::io::stdout();
    let _ = writeln!(stdout.lock(), "ready");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut o = stdout.lock();
        match line.trim() {
            "conns" => {
                for l in dp.lnc_lines() {
                    let _ = writeln!(o, "{l}");
                }
                let _ = writeln!(o, ".");
            }
            "counters" => {
                let _ = writeln!(o, "{:?}", dp.counters());
            }
            "quit" => break,
            "" => {}
            other => {
                let _ = writeln!(o, "unknown command {other:?}");
            }
        }
        let _ = o.flush();
        if !dp.healthy() {
            break;
        }
    }
    match dp.stop() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvs-fwd: {e}");
            ExitCode::from(1)
        }
    }
}
