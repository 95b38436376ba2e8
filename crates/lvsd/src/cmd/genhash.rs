//! `lvsd genhash` (under construction: owned by its issue).

use std::process::ExitCode;

/// Arguments of `lvsd genhash`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`lvsd genhash` is not built yet")
}
