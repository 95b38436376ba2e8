//! Stand-alone VRRP daemon for netns interop tests until `lvsd run -P` is
//! wired: it compiles the very driver `lvsd` uses
//! (`crates/lvsd/src/daemon/vrrp.rs`) against this crate.
//!
//! `vrrpd -f keepalived.conf [-p PIDFILE]` — foreground, logs to stderr,
//! SIGTERM/SIGINT for an orderly shutdown (priority-0 adverts, VIPs removed).

#[path = "../../lvsd/src/daemon/vrrp.rs"]
mod vrrp;

use std::path::PathBuf;

use anyhow::{bail, Context as _};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let mut conf = None;
    let mut pidfile = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-f" => conf = args.next().map(PathBuf::from),
            "-p" => pidfile = args.next().map(PathBuf::from),
            _ => bail!("usage: vrrpd -f CONF [-p PIDFILE]"),
        }
    }
    let conf = conf.context("usage: vrrpd -f CONF [-p PIDFILE]")?;
    let loaded = lvs_config::load(&lvs_config::FsSource, &conf)?;
    for d in &loaded.diagnostics {
        eprintln!("{d:?}");
    }
    if loaded.has_errors() {
        bail!("configuration has errors");
    }
    if let Some(p) = &pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        vrrp::run_vrrp(&loaded, vrrp::VrrpHandle::default(), tx, shutdown).await
    })?;
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}
