//! `lvsd check` (under construction: owned by the config issue).

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `lvsd check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration file(s); default /etc/keepalived/keepalived.conf.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

impl Args {
    /// The arguments `lvsd -t [-f FILE]` stands for.
    pub(crate) fn config_test(files: Vec<PathBuf>) -> Self {
        Self { files }
    }
}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`lvsd check` is not built yet")
}
