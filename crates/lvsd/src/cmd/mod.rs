//! One module per subcommand. Each exposes `Args` (clap) and `run(Args) -> anyhow::Result<ExitCode>`.

pub(crate) mod check;
pub(crate) mod explain;
pub(crate) mod genhash;
pub(crate) mod ipvs;
pub(crate) mod lab;
pub(crate) mod run;
pub(crate) mod simulate;
pub(crate) mod status;
