//! `lvsd explain`: why is this client bound to that real server, and until
//! when — computed offline by replaying a capture or a scenario.

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::Result;

use super::simulate::{parse_secs, InputArgs, Replay};

/// Arguments of `lvsd explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The client address to explain.
    #[arg(value_name = "CLIENT_IP")]
    pub client: IpAddr,
    #[command(flatten)]
    pub input: InputArgs,
    /// The moment to explain (seconds after the first frame / scenario time 0).
    #[arg(long = "at", value_name = "SECONDS")]
    pub at: String,
    /// Print the structured explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let t = parse_secs(&args.at)?;
    let mut replay = Replay::new(&args.input)?;
    replay.advance_to(t)?;
    let e = replay.ipvs.explain(args.client, t);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print!("{e}");
    }
    Ok(ExitCode::SUCCESS)
}
