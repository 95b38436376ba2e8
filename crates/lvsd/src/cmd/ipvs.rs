//! `lvsd ipvs ...` (under construction: owned by the kernel-backend issue).

use std::process::ExitCode;

/// `lvsd ipvs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List virtual services (like `ipvsadm -L`).
    List {},
}

pub(crate) fn run(_c: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`lvsd ipvs` is not built yet")
}
