//! `lvsd status` / `lvsd reload` (under construction: owned by the daemon issue).

use std::process::ExitCode;

/// Arguments of `lvsd status`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Arguments of `lvsd reload`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReloadArgs {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`lvsd status` is not built yet")
}

pub(crate) fn reload(_args: ReloadArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`lvsd reload` is not built yet")
}
