//! `lvsd` — the load-balancer director binary.
//!
//! This file only parses the command line, sets up logging and dispatches to
//! one module per subcommand under `cmd/`. Each module owns its `Args` struct.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod daemon;
mod lower_ipvs;
mod lower_ipvs_admin;

/// lvsd: a keepalived-compatible LVS/IPVS director.
#[derive(Debug, Parser)]
#[command(name = "lvsd", version, about, long_about = None)]
struct Cli {
    /// keepalived drop-in: test the configuration and exit (same as `lvsd check`).
    #[arg(short = 't', long = "config-test", global = false)]
    config_test: bool,

    /// Configuration file (used with `-t`).
    #[arg(short = 'f', long = "use-file", value_name = "FILE")]
    file: Vec<std::path::PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check keepalived.conf files: syntax, values, and lints keepalived does not give.
    Check(cmd::check::Args),
    /// Replay a capture or scenario against a config through the IPVS model.
    Simulate(cmd::simulate::Args),
    /// Explain why a client is bound to a real server, and until when.
    Explain(cmd::explain::Args),
    /// Program and inspect the kernel's IPVS (ipvsadm-compatible views).
    #[command(subcommand)]
    Ipvs(cmd::ipvs::Command),
    /// Run the director daemon (VRRP, IPVS, health checks, sync).
    Run(cmd::run::Args),
    /// Show the running daemon's status over its control socket.
    Status(cmd::status::Args),
    /// Ask the running daemon to reload its configuration.
    Reload(cmd::status::ReloadArgs),
    /// Compute the MD5 digest of a URL, like keepalived's genhash.
    Genhash(cmd::genhash::Args),
    /// Build a complete director pair in network namespaces and tell the story.
    Lab(cmd::lab::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None if cli.config_test => cmd::check::run(cmd::check::Args::config_test(cli.file)),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
        Some(Command::Check(a)) => cmd::check::run(a),
        Some(Command::Simulate(a)) => cmd::simulate::run(a),
        Some(Command::Explain(a)) => cmd::explain::run(a),
        Some(Command::Ipvs(c)) => cmd::ipvs::run(c),
        Some(Command::Run(a)) => cmd::run::run(a),
        Some(Command::Status(a)) => cmd::status::run(a),
        Some(Command::Reload(a)) => cmd::status::reload(a),
        Some(Command::Genhash(a)) => cmd::genhash::run(a),
        Some(Command::Lab(a)) => cmd::lab::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lvsd: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
