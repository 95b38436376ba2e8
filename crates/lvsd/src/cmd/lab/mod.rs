//! `lvsd lab`: a complete LVS-DR director pair in network namespaces, and a scripted story that
//! shows VRRP election, load balancing, persistence (and why it is sticky), a failing health
//! check, failover that keeps persistent clients on their real server, and the master's return.
//!
//! The lab re-invokes this binary for its helpers: `lvsd run` on each director, a tiny HTTP
//! server on each real server (`lab --serve`) and one-shot clients (`lab --get`), each inside
//! its namespace through `ip netns exec`. Everything it creates is recorded in a
//! [`topology::Topology`] and removed at the end, on failure and on Ctrl-C.

mod conf;
mod http;
mod render;
mod story;
mod topology;

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};

/// Arguments of `lvsd lab`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Tell the story as plain text instead of the live view (implied when stdout is not a
    /// terminal).
    #[arg(long)]
    pub(crate) no_tui: bool,

    /// Data plane for the directors' `lvsd run` (auto: kernel IPVS if available, else built-in).
    #[arg(long, default_value = "auto")]
    pub(crate) dataplane: String,

    /// Keep the working directory (configs, logs) after the lab ends.
    #[arg(long)]
    pub(crate) keep_logs: bool,

    /// (internal) Serve HTTP as real server NAME.
    #[arg(long, hide = true, value_name = "NAME", requires = "listen")]
    pub(crate) serve: Option<String>,

    /// (internal) Address for `--serve`.
    #[arg(long, hide = true)]
    pub(crate) listen: Option<SocketAddr>,

    /// (internal) Make one HTTP request to ADDR and print the body.
    #[arg(long, hide = true, value_name = "ADDR", requires = "bind")]
    pub(crate) get: Option<SocketAddr>,

    /// (internal) Source address for `--get`.
    #[arg(long, hide = true)]
    pub(crate) bind: Option<IpAddr>,
}

/// Is this process running as root (uid 0)? Read from /proc so no `unsafe` is needed here.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    if let (Some(name), Some(listen)) = (&args.serve, args.listen) {
        http::serve(name, listen)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let (Some(to), Some(bind)) = (args.get, args.bind) {
        let body = http::get(bind, to, Duration::from_secs(2))?;
        println!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    if !is_root() {
        bail!(
            "`lvsd lab` must run as root: it creates network namespaces, a bridge and veth \
             pairs (try: sudo lvsd lab)"
        );
    }
    let tui = !args.no_tui && std::io::stdout().is_terminal();
    let ok = story::run(&args, tui)?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
