//! `lvsd lab` (under construction: owned by its issue).

use std::process::ExitCode;

/// Arguments of `lvsd lab`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`lvsd lab` is not built yet")
}
