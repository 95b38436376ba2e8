//! Benchmark helper (bench/ipvs-apply): start something, then poll the kernel's IPVS until one
//! real server shows a given weight, and print how long that took.
//!
//! ```text
//! ipvs_wait --service tcp/10.1.0.1/80 --dest 10.2.0.1:80 --weight 2 [--timeout 600]
//!           [--interval-us 2000] [--after-exit] ( --kill PID --signal HUP | -- CMD ARGS... )
//! ```
//!
//! The clock starts right before the signal is sent / the command is spawned. Polling is one
//! `IPVS_CMD_GET_DEST` dump of that single service (cheap whatever the table size), so a
//! helper polling every 2 ms barely disturbs what it measures. Prints
//! `visible_ms=… exit_ms=… status=… pid=…` (`exit_ms` when the spawned command exited first or
//! within the timeout; `--after-exit` keeps waiting for the command to exit after the weight
//! appeared).

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use lvs_ipvs::admin::IpvsBackend;
use lvs_ipvs::reconcile::parse_okey;
use lvs_sys::ipvs::KernelIpvs;

fn usage() -> ! {
    eprintln!(
        "usage: ipvs_wait --service tcp/ADDR/PORT --dest ADDR:PORT --weight W [--timeout S] \
         [--interval-us N] [--after-exit] (--kill PID --signal HUP|TERM|USR1 | -- CMD ARGS...)"
    );
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut svc, mut dest, mut weight) = (None, None, None);
    let (mut pid, mut sig) = (None, libc::SIGHUP);
    let mut timeout = Duration::from_secs(600);
    let mut interval = Duration::from_micros(2000);
    let mut after_exit = false;
    let mut cmd: Vec<String> = Vec::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--service" => svc = Some(parse_okey(&val()).unwrap_or_else(|| usage())),
            "--dest" => dest = Some(val().parse::<SocketAddr>().unwrap_or_else(|_| usage())),
            "--weight" => weight = Some(val().parse::<u32>().unwrap_or_else(|_| usage())),
            "--timeout" => timeout = Duration::from_secs_f64(val().parse().unwrap_or(600.0)),
            "--interval-us" => interval = Duration::from_micros(val().parse().unwrap_or(2000)),
            "--kill" => pid = Some(val().parse::<i32>().unwrap_or_else(|_| usage())),
            "--signal" => {
                sig = match val().as_str() {
                    "HUP" => libc::SIGHUP,
                    "TERM" => libc::SIGTERM,
                    "USR1" => libc::SIGUSR1,
                    _ => usage(),
                }
            }
            "--after-exit" => after_exit = true,
            "--" => {
                cmd = args.by_ref().collect();
                break;
            }
            _ => usage(),
        }
    }
    let (Some(svc), Some(dest), Some(weight)) = (svc, dest, weight) else {
        usage()
    };
    if pid.is_none() && cmd.is_empty() {
        usage();
    }
    let mut k = KernelIpvs::open().unwrap_or_else(|e| {
        eprintln!("ipvs_wait: {e}");
        std::process::exit(1)
    });
    let t0 = Instant::now();
    // The wall clock at t0, to line the tool's own log timestamps up with this clock.
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    eprintln!("ipvs_wait: t0_unix={:.6}", unix.as_secs_f64());
    let mut child: Option<Child> = None;
    if let Some(p) = pid {
        // SAFETY: plain kill(2) on a pid given by the caller.
        if unsafe { libc::kill(p, sig) } != 0 {
            eprintln!("ipvs_wait: kill {p}: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
    } else {
        child = Some(
            // The command's output goes to our stderr: our stdout carries only the result
            // line (a daemon holding it open would keep `$(ipvs_wait …)` waiting forever).
            Command::new(&cmd[0])
                .args(&cmd[1..])
                .stdout(std::io::stderr())
                .spawn()
                .unwrap_or_else(|e| {
                    eprintln!("ipvs_wait: {}: {e}", cmd[0]);
                    std::process::exit(1)
                }),
        );
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (mut visible, mut exited, mut status) = (None, None, String::from("-"));
    loop {
        if visible.is_none() {
            let seen = k
                .dests(&svc)
                .map(|ds| {
                    ds.iter().any(|d| {
                        d.dest.addr == dest.ip()
                            && d.dest.port == dest.port()
                            && d.dest.weight == weight
                    })
                })
                .unwrap_or(false);
            if seen {
                visible = Some(t0.elapsed());
            }
        }
        if let (Some(c), None) = (child.as_mut(), exited) {
            if let Ok(Some(st)) = c.try_wait() {
                exited = Some(t0.elapsed());
                status = st.code().map_or_else(|| "signal".into(), |c| c.to_string());
            }
        }
        let done = visible.is_some() && (!after_exit || child.is_none() || exited.is_some());
        if done || t0.elapsed() > timeout {
            break;
        }
        std::thread::sleep(interval);
    }
    let fmt = |d: Option<Duration>| d.map_or_else(|| "timeout".into(), |d| format!("{:.1}", ms(d)));
    let exit = if child.is_some() {
        fmt(exited)
    } else {
        "-".into()
    };
    let pid = child.as_ref().map_or(0, Child::id);
    println!(
        "visible_ms={} exit_ms={} status={} pid={pid}",
        fmt(visible),
        exit,
        status
    );
    if visible.is_none() {
        std::process::exit(1);
    }
}
