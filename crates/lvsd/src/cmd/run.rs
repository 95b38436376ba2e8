//! `lvsd run`: the director daemon (keepalived drop-in flags).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::daemon::{self, DataplaneMode, DEFAULT_CONTROL_SOCKET};

/// Arguments of `lvsd run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration file (keepalived.conf syntax).
    #[arg(
        short = 'f',
        long = "use-file",
        value_name = "FILE",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    pub(crate) config: PathBuf,
    /// Stay in the foreground (otherwise lvsd detaches into the background).
    #[arg(short = 'n', long = "dont-fork")]
    pub(crate) dont_fork: bool,
    /// Log to the console (stderr) even when detached.
    #[arg(short = 'l', long = "log-console")]
    pub(crate) log_console: bool,
    /// Detailed (debug-level) logs.
    #[arg(short = 'D', long = "log-detail")]
    pub(crate) log_detail: bool,
    /// Run only VRRP (keepalived's -P).
    #[arg(short = 'P', long = "vrrp", conflicts_with = "checkers_only")]
    pub(crate) vrrp_only: bool,
    /// Run only the health checkers (keepalived's -C).
    #[arg(short = 'C', long = "check")]
    pub(crate) checkers_only: bool,
    /// Write the daemon's PID to FILE (removed on exit).
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub(crate) pidfile: Option<PathBuf>,
    /// Test the configuration and exit (same as `lvsd check`).
    #[arg(short = 't', long = "config-test")]
    pub(crate) config_test: bool,
    /// Control socket for `lvsd status` / `lvsd reload` / `lvsd explain` (mode 0600).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub(crate) control_socket: PathBuf,
    /// Data plane that receives services and weights.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) dataplane: DataplaneMode,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<SocketAddr>,
    /// Leave IPVS services and real servers in place on stop (keepalived's -I).
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub(crate) keep_ipvs_on_stop: bool,
    /// Probes running at the same time, at most.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub(crate) max_concurrent_probes: usize,
    /// How TCP_CHECK probes: `half-open` sends a SYN from a raw socket and counts a SYN-ACK as
    /// up (no connection on either side; needs CAP_NET_RAW, else falls back to `connect`;
    /// bind_if and fwmark targets, and IPv6 ones with bindto or bind_port, always connect);
    /// `connect` completes a TCP
    /// connect and closes it with a RST.
    #[arg(long, value_enum, value_name = "MODE", default_value = "half-open")]
    pub(crate) tcp_check: TcpCheckArg,
    /// Seed of the checkers' random start offsets and jitter (default: from the clock).
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
}

/// `--tcp-check` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TcpCheckArg {
    Connect,
    HalfOpen,
}

fn init_logging(detail: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if detail { "debug" } else { "info" };
    let filter = EnvFilter::try_from_env("LVSD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Under systemd (journald adds its own timestamps) drop ours.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if journald {
        b.without_time().try_init()
    } else {
        b.try_init()
    };
}

/// Re-executes ourselves in the background with `--dont-fork` (no `fork()` in a threaded
/// process), waits briefly for an early failure, and returns.
fn detach(args: &Args) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find our own executable")?;
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    argv.push("--dont-fork".into());
    let mut cmd = std::process::Command::new(exe);
    cmd.args(argv).stdin(std::process::Stdio::null());
    if !args.log_console {
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    }
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let mut child = cmd.spawn().context("cannot start the daemon")?;
    std::thread::sleep(Duration::from_millis(300));
    if let Some(status) = child.try_wait()? {
        anyhow::bail!("lvsd exited during start-up ({status}); run with -n -l to see why");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.config_test {
        return crate::cmd::check::run(crate::cmd::check::Args::config_test(vec![args.config]));
    }
    if !args.dont_fork {
        return detach(&args);
    }
    init_logging(args.log_detail);
    let opts = daemon::Options {
        config: args.config,
        checkers_only: args.checkers_only,
        vrrp_only: args.vrrp_only,
        dataplane: args.dataplane,
        control_socket: args.control_socket,
        metrics: args.metrics,
        pidfile: args.pidfile,
        keep_ipvs_on_stop: args.keep_ipvs_on_stop,
        max_concurrent_probes: args.max_concurrent_probes,
        tcp_check: match args.tcp_check {
            TcpCheckArg::Connect => lvs_sys::probe::TcpCheckMode::Connect,
            TcpCheckArg::HalfOpen => lvs_sys::probe::TcpCheckMode::HalfOpen,
        },
        seed: args.seed,
    };
    // One thread: the main loop, the probes and the control socket share it. With worker
    // threads every probe result crossed threads (a wake-up and a context switch per probe:
    // `finish_task_switch` was the top of a perf profile of `run -C`); the VRRP driver and the
    // built-in data plane have threads of their own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    match rt.block_on(daemon::run(opts)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            // Logged once (the log goes to stderr); keepalived's exit code for a configuration
            // it cannot run.
            tracing::error!("{e:#}");
            Ok(ExitCode::from(2))
        }
    }
}
