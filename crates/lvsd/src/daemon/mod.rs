//! The director daemon's async plumbing (`lvsd run`).
//!
//! ```text
//!            SIGHUP / SIGTERM / SIGINT          control socket (JSON lines)
//!                       │                                │ status / reload / explain
//!                       ▼                                ▼
//!   ┌──────────────────────────── main loop (one task) ─────────────────────────┐
//!   │  lvs_config::load ──► checkers::engine_config ──► lvs_check::Engine        │
//!   │     ▲ reload: parse + validate first, keep the old config on error         │
//!   │  sleep_until(engine.poll_timeout()) ─► handle_timeout                      │
//!   │  probe results (mpsc) ───────────────► handle_result                      │
//!   │  engine actions: StartProbe ─► lvs_sys::probe::Executor (bounded, tokio)   │
//!   │                  SetWeight  ─► Dataplane (kernel IPVS / builtin / none)    │
//!   │                  Notify     ─► scripts (no shell)                          │
//!   └───────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Architecture Invariant: this module reads the clock and does I/O; every decision is made by
//! the engines (`lvs-check`, `lvs-vrrp`, `lvs-ipvs`). A data-plane failure is logged, counted and
//! retried; it never stops the loop.

pub(crate) mod checkers;
pub(crate) mod dataplane;
pub(crate) mod sync;

pub(crate) mod vrrp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use lvs_check::{Action, Engine, NotifyEvent};
use lvs_sys::probe::Executor;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

/// Where `lvsd run` / `lvsd status` meet by default.
pub(crate) const DEFAULT_CONTROL_SOCKET: &str = "/run/lvsd/lvsd.sock";

/// `--dataplane`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DataplaneMode {
    /// Kernel IPVS over generic netlink.
    Kernel,
    /// lvsd's own forwarding (for hosts without ip_vs).
    Builtin,
    /// Compute weights, program nothing.
    None,
    /// Kernel when ip_vs is available, else builtin.
    Auto,
}

/// Daemon options (from `lvsd run`'s flags).
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) config: PathBuf,
    pub(crate) checkers_only: bool,
    pub(crate) vrrp_only: bool,
    pub(crate) dataplane: DataplaneMode,
    pub(crate) control_socket: PathBuf,
    pub(crate) metrics: Option<SocketAddr>,
    pub(crate) pidfile: Option<PathBuf>,
    pub(crate) keep_ipvs_on_stop: bool,
    pub(crate) max_concurrent_probes: usize,
    /// How TCP_CHECK probes (`--tcp-check`).
    pub(crate) tcp_check: lvs_sys::probe::TcpCheckMode,
    pub(crate) seed: Option<u64>,
}

/// A request from the control socket, answered by the main loop.
enum Control {
    Status(oneshot::Sender<Value>),
    Reload(oneshot::Sender<Result<String, String>>),
    Explain(String, oneshot::Sender<Result<Value, String>>),
    /// The live connection table, `ipvsadm -lnc` body lines.
    Conns(oneshot::Sender<Result<Vec<String>, String>>),
}

/// Loads and validates a configuration; errors come back with file:line:col.
pub(crate) fn load_config(path: &Path) -> Result<lvs_config::Loaded, String> {
    let loaded = lvs_config::load(&lvs_config::FsSource, path).map_err(|e| e.to_string())?;
    match refusal(&loaded.diagnostics) {
        None => Ok(loaded),
        Some(e) => Err(e),
    }
}

/// The errors of a configuration, one `file:line:col: message` a line; None if it has none.
fn refusal(diagnostics: &[lvs_config::Diagnostic]) -> Option<String> {
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == lvs_config::Severity::Error)
        .map(|d| {
            format!(
                "{}:{}:{}: {}",
                d.file.as_deref().unwrap_or("?"),
                d.line,
                d.col,
                d.message
            )
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("\n"))
}

/// Sends a state line to systemd (`sd_notify`), if `NOTIFY_SOCKET` is set.
pub(crate) fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let res = if let Some(abs) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abs)
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), Path::new(&path))
    };
    if let Err(e) = res {
        debug!(error = %e, "sd_notify failed");
    }
}

struct PidFile(Option<PathBuf>);
impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

struct Daemon {
    opts: Options,
    loaded: lvs_config::Loaded,
    engine: Engine,
    exec: Executor,
    results_tx: mpsc::UnboundedSender<(lvs_check::RunId, lvs_check::ProbeResult)>,
    started: Instant,
    reloads_ok: u64,
    reloads_failed: u64,
    last_reload_error: Option<String>,
    metrics: Arc<metrics::Metrics>,
    dataplane: plane::Plane,
    stalls: u64,
    vrrp: Option<VrrpTask>,
    /// At start and stop every real server's weight is published or withdrawn at once: those
    /// go to the debug log and one summary line (tens of thousands of lines cost seconds).
    bulk_weights: Option<usize>,
    /// `notify_fifo` / `lvs_notify_fifo`: the checkers' `VS …` / `RS …` lines, and what they
    /// were opened from (a reload reopens them when that changes).
    lvs_fifos: vrrp::Fifos,
    lvs_fifo_cfg: vrrp::FifoCfg,
    /// The checkers' notify scripts, prepared (user, security) at load and reload.
    check_scripts: vrrp::CheckScripts,
}

/// The VRRP driver task (daemon/vrrp.rs) and how to stop it.
struct VrrpTask {
    handle: vrrp::VrrpHandle,
    stop: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The driver's answer to the last reload's VRRP part, for the control socket's reply (the
    /// signature of what the driver runs is `handle.applied_signature()`).
    pending: Option<vrrp::ReloadOutcome>,
    error: Option<String>,
}

/// What of a configuration the VRRP driver depends on.
fn vrrp_signature(c: &lvs_config::Config) -> String {
    serde_json::to_string(&(
        &c.vrrp_instances,
        &c.vrrp_sync_groups,
        &c.vrrp_scripts,
        &c.track_files,
        &c.global_defs,
    ))
    .unwrap_or_default()
}

fn start_vrrp(l: &lvs_config::Loaded, events: mpsc::Sender<vrrp::VrrpEvent>) -> VrrpTask {
    let c = &l.config;
    let handle = vrrp::VrrpHandle::default();
    handle.set_applied(vrrp_signature(c));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let cfg = l.clone();
    let h = handle.clone();
    let join = tokio::spawn(async move {
        vrrp::run_vrrp(&cfg, h, events, async {
            let _ = stop_rx.await;
        })
        .await
    });
    VrrpTask {
        handle,
        stop: Some(stop_tx),
        join,
        pending: None,
        error: None,
    }
}

/// Runs the daemon until SIGTERM/SIGINT.
pub(crate) async fn run(opts: Options) -> anyhow::Result<()> {
    let t_load = Instant::now();
    let loaded =
        load_config(&opts.config).map_err(|e| anyhow::anyhow!("configuration refused:\n{e}"))?;
    info!(
        ms = t_load.elapsed().as_secs_f64() * 1e3,
        virtual_servers = loaded.config.virtual_servers.len(),
        "configuration loaded"
    );
    for d in loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == lvs_config::Severity::Warning)
    {
        warn!(
            file = d.file.as_deref().unwrap_or("?"),
            line = d.line,
            "{}",
            d.message
        );
    }
    let _pid = match &opts.pidfile {
        Some(p) => {
            std::fs::write(p, format!("{}\n", std::process::id()))
                .with_context(|| format!("pid file {}", p.display()))?;
            PidFile(Some(p.clone()))
        }
        None => PidFile(None),
    };
    let listener = bind_control(&opts.control_socket)?;
    let _sock_guard = PidFile(Some(opts.control_socket.clone()));
    let metrics = Arc::new(metrics::Metrics::new());
    if let Some(addr) = opts.metrics {
        metrics::serve(addr, metrics.clone())
            .await
            .with_context(|| format!("metrics on {addr}"))?;
        info!(%addr, "metrics listening");
    }
    let seed = opts.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id())
    });
    let now = Instant::now();
    let engine_cfg = if opts.vrrp_only {
        Default::default()
    } else {
        checkers::engine_config(&loaded)
    };
    // keepalived -P (VRRP only) leaves IPVS alone.
    let dp_mode = if opts.vrrp_only {
        DataplaneMode::None
    } else {
        opts.dataplane
    };
    let mut dataplane = plane::Plane::open(dp_mode);
    // Kernel IPVS: the first full reconcile starts now, on a second thread, with the weights
    // the checker engine is about to publish (predicted from the configuration alone), while
    // this thread builds the engine; once its weights are published, the first flush below
    // diffs them against what this applied and fixes any difference.
    // (Built here, on the main thread's heap: a bulk build from the sorted list; with equal
    // keys the last one wins, as the engine's actions applied in order give.)
    let predicted: Option<plane::Published> = dataplane.is_kernel_ipvs().then(|| {
        lvs_check::initial_weights(&engine_cfg)
            .into_iter()
            .map(|(k, d, w)| ((k, d), w))
            .collect()
    });
    let engine = std::thread::scope(|sc| {
        let (planned_tx, planned_rx) = std::sync::mpsc::channel();
        let early = predicted.map(|p| {
            let (dp, conf) = (&mut dataplane, &loaded.config);
            sc.spawn(move || dp.early_apply(conf, p, Some(planned_tx)))
        });
        // Under emulation the two vCPUs do not run two allocating threads in parallel well:
        // the engine is built once the early apply's operations are planned (or it ended:
        // the sender is dropped), beside their execution.
        if early.is_some() {
            let _ = planned_rx.recv();
        }
        let engine = Engine::new(engine_cfg, seed, now);
        info!(
            ms = now.elapsed().as_secs_f64() * 1e3,
            probes = engine.probe_count(),
            "checker engine built"
        );
        if let Some(t) = early {
            t.join().expect("early IPVS apply thread");
        }
        engine
    });
    let (results_tx, mut results_rx) = mpsc::unbounded_channel();
    let (vrrp_tx, mut vrrp_rx) = mpsc::channel::<vrrp::VrrpEvent>(64);
    let vrrp = (!opts.checkers_only).then(|| start_vrrp(&loaded, vrrp_tx.clone()));
    let lvs_fifo_cfg = if opts.vrrp_only {
        vrrp::FifoCfg::default()
    } else {
        vrrp::lvs_fifo_cfg(&loaded, vrrp.is_some())
    };
    let mut d = Daemon {
        exec: Executor::with_tcp_check(opts.max_concurrent_probes, opts.tcp_check),
        opts,
        loaded,
        engine,
        results_tx,
        started: now,
        reloads_ok: 0,
        reloads_failed: 0,
        last_reload_error: None,
        metrics,
        dataplane,
        stalls: 0,
        vrrp,
        bulk_weights: None,
        lvs_fifos: vrrp::Fifos::open(&lvs_fifo_cfg),
        lvs_fifo_cfg,
        check_scripts: vrrp::CheckScripts::default(),
    };
    if !d.opts.vrrp_only {
        d.check_scripts = vrrp::CheckScripts::new(&d.loaded);
    }
    // lvs_sync_daemon with the built-in data plane (daemon/sync.rs).
    let (sync_tx, mut sync_rx) = mpsc::channel::<sync::EngineReq>(64);
    let _sync = sync::start(
        &d.loaded,
        d.dataplane.name(),
        d.vrrp.as_ref().map(|v| v.handle.clone()),
        sync_tx,
    );
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<Control>(16);
    tokio::spawn(accept_loop(listener, ctl_tx));
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    info!(
        config = %d.opts.config.display(),
        probes = d.engine.probe_count(),
        dataplane = d.dataplane.name(),
        control = %d.opts.control_socket.display(),
        tcp_check = d.exec.tcp_check_mode(),
        "lvsd started"
    );
    d.check_vips();
    d.bulk_weights = Some(0);
    d.drain_actions();
    info!(
        destinations = d.bulk_weights.take().unwrap_or(0),
        "initial weights published"
    );
    // The first apply, with the checkers' initial weights.
    d.dataplane.flush(&d.loaded.config);
    sd_notify("READY=1\nSTATUS=running");
    // Now that the start is done: the memory the first SIGHUP's re-read needs, written once, so
    // that reload costs what later ones do (lvs_config::Loaded::prepare_reload).
    d.loaded.prepare_reload();
    let mut watchdog = tokio::time::interval(Duration::from_secs(5));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = d.engine.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {
                d.engine.handle_timeout(Instant::now());
            }
            Some((run, res)) = results_rx.recv() => {
                d.metrics.observe_probe(d.engine.probe_kind(run.probe), &res);
                d.engine.handle_result(Instant::now(), run, res);
                // Drain whatever else finished meanwhile before acting.
                while let Ok((run, res)) = results_rx.try_recv() {
                    d.metrics.observe_probe(d.engine.probe_kind(run.probe), &res);
                    d.engine.handle_result(Instant::now(), run, res);
                }
            }
            Some(req) = ctl_rx.recv() => d.control(req),
            Some(req) = sync_rx.recv() => req.serve(&d.dataplane),
            _ = hup.recv() => { let _ = d.reload("SIGHUP"); }
            _ = term.recv() => { info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { info!("SIGINT: stopping"); break; }
            _ = watchdog.tick() => d.watchdog(),
            Some(ev) = vrrp_rx.recv() => {
                info!(kind = ?ev.kind, name = %ev.name, state = ?ev.state, priority = ev.priority, "VRRP state change");
                d.metrics.vrrp_transition(&ev.name, &format!("{:?}", ev.state).to_uppercase());
                // A VIP may have come or gone: ha_suspend.
                d.check_vips();
                d.follow_sync_event(&ev);
            }
        }
        d.drain_actions();
        d.dataplane.flush(&d.loaded.config);
    }
    sd_notify("STOPPING=1");
    d.engine.shutdown();
    d.bulk_weights = Some(0);
    d.drain_actions();
    info!(
        destinations = d.bulk_weights.take().unwrap_or(0),
        "weights withdrawn"
    );
    d.lvs_fifos.close().await;
    if let Some(mut v) = d.vrrp.take() {
        // Priority-0 adverts, VIPs removed, STOP notifies: the driver does it on shutdown.
        if let Some(tx) = v.stop.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(5), &mut v.join).await {
            Ok(Ok(Err(e))) => warn!(error = %format!("{e:#}"), "VRRP stopped with an error"),
            Err(_) => warn!("VRRP did not stop within 5 s"),
            _ => {}
        }
    }
    d.dataplane.stop(d.opts.keep_ipvs_on_stop);
    info!("lvsd stopped");
    Ok(())
}

fn bind_control(path: &Path) -> anyhow::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("control socket directory {}", dir.display()))?;
    }
    if path.exists() {
        // A live daemon answers; a stale socket from a crash does not.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!("another lvsd is listening on {}", path.display());
        }
        let _ = std::fs::remove_file(path);
    }
    let l =
        UnixListener::bind(path).with_context(|| format!("control socket {}", path.display()))?;
    // Root-only by default.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

async fn accept_loop(listener: UnixListener, tx: mpsc::Sender<Control>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_client(stream, tx).await {
                        debug!(error = %e, "control client");
                    }
                });
            }
            Err(e) => {
                warn!(error = %e, "control socket accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One JSON request per line, one JSON reply per line:
/// `{"cmd":"status"}`, `{"cmd":"reload"}`, `{"cmd":"explain","client":"IP"}`.
async fn serve_client(stream: UnixStream, tx: mpsc::Sender<Control>) -> anyhow::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = match serde_json::from_str::<Value>(&line) {
            Err(e) => json!({"ok": false, "error": format!("bad request: {e}")}),
            Ok(req) => match req.get("cmd").and_then(Value::as_str) {
                Some("status") => {
                    let (otx, orx) = oneshot::channel();
                    tx.send(Control::Status(otx)).await?;
                    json!({"ok": true, "status": orx.await?})
                }
                Some("reload") => {
                    let (otx, orx) = oneshot::channel();
                    tx.send(Control::Reload(otx)).await?;
                    match orx.await? {
                        Ok(m) => json!({"ok": true, "message": m}),
                        Err(e) => json!({"ok": false, "error": e}),
                    }
                }
                Some("explain") => {
                    let client = req
                        .get("client")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let (otx, orx) = oneshot::channel();
                    tx.send(Control::Explain(client, otx)).await?;
                    match orx.await? {
                        Ok(v) => json!({"ok": true, "explain": v}),
                        Err(e) => json!({"ok": false, "error": e}),
                    }
                }
                Some("conns") => {
                    let (otx, orx) = oneshot::channel();
                    tx.send(Control::Conns(otx)).await?;
                    match orx.await? {
                        Ok(v) => json!({"ok": true, "conns": v}),
                        Err(e) => json!({"ok": false, "error": e}),
                    }
                }
                other => json!({"ok": false, "error": format!("unknown cmd {other:?}")}),
            },
        };
        let mut out = serde_json::to_vec(&reply)?;
        out.push(b'\n');
        w.write_all(&out).await?;
    }
    Ok(())
}

/// keepalived's LVS line for `notify_fifo` / `lvs_notify_fifo` (keepalived.md §3.13):
/// `VS [192.168.201.15]:tcp:80 UP` on a quorum change, `RS [1.2.3.4]:tcp:80
/// [192.168.201.15]:tcp:80 DOWN` on a real server's; a fwmark service is `FWM 5`, a group
/// `[NAME]:0`.
fn lvs_fifo_line(
    event: NotifyEvent,
    vs: &lvs_check::VsKey,
    dest: Option<SocketAddr>,
    conf: &lvs_config::Config,
) -> String {
    use lvs_check::{Protocol, VsKey};
    let proto = |p: Protocol| match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    };
    let trio = |a: SocketAddr, p: &str| format!("[{}]:{p}:{}", a.ip(), a.port());
    // A fwmark service's protocol is its `protocol` keyword (keepalived's service_type).
    let svc_proto = match vs {
        VsKey::Addr { protocol, .. } | VsKey::Group { protocol, .. } => proto(*protocol),
        VsKey::Fwmark { .. } => conf
            .virtual_servers
            .iter()
            .find(|v| checkers::vs_key(v) == *vs)
            .map_or("none", |v| match v.protocol {
                lvs_config::Protocol::Tcp => "tcp",
                lvs_config::Protocol::Udp => "udp",
                lvs_config::Protocol::Sctp => "sctp",
            }),
    };
    let vs_s = match vs {
        VsKey::Addr { addr, port, .. } => trio(SocketAddr::new(*addr, *port), svc_proto),
        VsKey::Fwmark { mark, .. } => format!("FWM {mark}"),
        VsKey::Group { name, .. } => format!("[{name}]:0"),
    };
    let (kind, up) = match event {
        NotifyEvent::RsUp => ("RS", true),
        NotifyEvent::RsDown => ("RS", false),
        NotifyEvent::QuorumUp => ("VS", true),
        NotifyEvent::QuorumDown => ("VS", false),
    };
    let state = if up { "UP" } else { "DOWN" };
    match (kind, dest) {
        ("RS", Some(d)) => format!("RS {} {vs_s} {state}\n", trio(d, svc_proto)),
        _ => format!("VS {vs_s} {state}\n"),
    }
}

impl Daemon {
    fn drain_actions(&mut self) {
        while let Some(a) = self.engine.poll_action() {
            match a {
                Action::StartProbe {
                    run,
                    spec,
                    start_by,
                } => self
                    .exec
                    .spawn(run, spec, start_by, self.results_tx.clone()),
                Action::SetWeight {
                    vs,
                    dest,
                    weight,
                    sorry,
                } => {
                    if let Some(n) = &mut self.bulk_weights {
                        *n += 1;
                        debug!(vs = %vs, rs = %dest, weight = ?weight, sorry, "real server weight");
                    } else {
                        info!(vs = %vs, rs = %dest, weight = ?weight, sorry, "real server weight");
                    }
                    // Only served with --metrics (the labels cost a few allocations each).
                    if self.opts.metrics.is_some() {
                        self.metrics.set_weight(&vs, dest, weight);
                    }
                    self.dataplane.set_weight(&vs, dest, weight);
                }
                Action::CheckerChanged {
                    spec,
                    up,
                    detail,
                    failures,
                    ..
                } => {
                    if up {
                        info!(checker = %spec, "check succeeded: up");
                    } else {
                        warn!(checker = %spec, failures, reason = %detail, "check failed: down");
                    }
                }
                Action::Notify {
                    event,
                    vs,
                    dest,
                    script,
                } => {
                    let what = match (event, dest) {
                        (NotifyEvent::RsUp, Some(d)) => format!("RS {d} {vs} UP"),
                        (NotifyEvent::RsDown, Some(d)) => format!("RS {d} {vs} DOWN"),
                        (NotifyEvent::QuorumUp, _) => format!("VS {vs} quorum UP"),
                        (NotifyEvent::QuorumDown, _) => format!("VS {vs} quorum DOWN"),
                        _ => format!("{event:?} {vs}"),
                    };
                    info!(event = %what, "notify");
                    if !self.lvs_fifos.is_empty() {
                        let line = lvs_fifo_line(event, &vs, dest, &self.loaded.config);
                        self.lvs_fifos.write(&line);
                    }
                    if let Some(argv) = script {
                        self.check_scripts.run(&argv, &what);
                    }
                }
                Action::Stalled { spec, after, .. } => {
                    self.stalls += 1;
                    self.metrics.stall();
                    error!(checker = %spec, waited_s = after.as_secs_f64(), "checker stalled: no result, counted as a failure");
                }
            }
        }
    }

    /// `lvs_sync_daemon IF VRRP_INSTANCE`: a state change of that instance moves the kernel's
    /// sync daemon (the event carries the new state; the shared snapshot may not show it yet).
    fn follow_sync_event(&mut self, ev: &vrrp::VrrpEvent) {
        let named = self
            .loaded
            .config
            .global_defs
            .lvs_sync_daemon
            .as_ref()
            .and_then(|s| s.vrrp_instance.as_deref());
        if ev.kind == lvs_vrrp::NotifyKind::Instance && named == Some(ev.name.as_str()) {
            self.dataplane
                .set_sync_master(ev.state == lvs_vrrp::State::Master);
        }
    }

    /// `lvs_sync_daemon IF VRRP_INSTANCE`: the kernel's sync daemon follows the instance (from
    /// the snapshot; the watchdog's catch-up).
    fn follow_sync_instance(&mut self) {
        let Some(name) = self
            .loaded
            .config
            .global_defs
            .lvs_sync_daemon
            .as_ref()
            .and_then(|s| s.vrrp_instance.clone())
        else {
            return;
        };
        let master = self.vrrp.as_ref().is_some_and(|v| {
            v.handle
                .snapshot()
                .iter()
                .any(|i| i.name == name && i.state == lvs_vrrp::State::Master)
        });
        self.dataplane.set_sync_master(master);
    }

    /// `ha_suspend`: a VIP is present when we can bind to it (no netlink needed).
    fn check_vips(&mut self) {
        for ip in checkers::ha_suspend_addrs(&self.loaded.config) {
            let present = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok();
            self.engine.set_vip_present(ip, present);
        }
    }

    fn watchdog(&mut self) {
        self.follow_sync_instance();
        self.check_vips();
        if let Some(v) = &mut self.vrrp {
            if v.error.is_none() && v.join.is_finished() {
                let e = "VRRP driver stopped unexpectedly (see the log above)".to_owned();
                error!("{e}");
                v.error = Some(e);
            }
            self.metrics.set_vrrp(&v.handle.snapshot());
        }
        let overdue = self.engine.overdue(Instant::now(), Duration::from_secs(5));
        if overdue > 0 {
            warn!(
                overdue,
                "checker scheduler: probes overdue (executor saturated or stuck)"
            );
        }
        let skipped = self.engine.take_skipped();
        if skipped > 0 {
            warn!(
                skipped,
                "checker executor saturated: probe runs that could not start within their delay_loop were skipped (see --max-concurrent-probes)"
            );
        }
        self.dataplane.retry(&self.loaded.config);
    }

    fn reload(&mut self, why: &str) -> Result<String, String> {
        sd_notify("RELOADING=1");
        info!(trigger = why, config = %self.opts.config.display(), "reloading");
        let t0 = Instant::now();
        // Re-read only what changed when only virtual servers changed (lvs_config::reload
        // checks that the result equals a full load); anything else is a full load.
        let next = match lvs_config::reload(&self.loaded, &lvs_config::FsSource) {
            Err(e) => Err(e.to_string()),
            Ok(lvs_config::Reload::Unchanged) => Ok(None),
            Ok(lvs_config::Reload::Partial(p)) => match refusal(p.diagnostics()) {
                Some(e) => Err(e),
                None => {
                    let ms = t0.elapsed().as_secs_f64() * 1e3;
                    info!(ms, "configuration re-read: only virtual servers changed");
                    self.apply_some(p);
                    Ok(None)
                }
            },
            Ok(lvs_config::Reload::Full(l)) => match refusal(&l.diagnostics) {
                Some(e) => Err(e),
                None => Ok(Some(*l)),
            },
        };
        let res = match next {
            Ok(None) => Ok(self.reload_applied(t0)),
            Err(e) => {
                for line in e.lines() {
                    error!("reload refused: {line}");
                }
                self.reloads_failed += 1;
                self.last_reload_error = Some(e.clone());
                self.metrics.reload(false);
                Err(format!(
                    "configuration refused, still running the previous one:\n{e}"
                ))
            }
            Ok(Some(loaded)) => {
                let cfg = if self.opts.vrrp_only {
                    Default::default()
                } else {
                    checkers::engine_config(&loaded)
                };
                self.engine.reconfigure(Instant::now(), cfg);
                self.dataplane.reconfigure();
                self.loaded = loaded;
                self.loaded.prepare_reload();
                self.reopen_lvs_fifos();
                if !self.opts.vrrp_only {
                    self.check_scripts = vrrp::CheckScripts::new(&self.loaded);
                }
                Ok(self.reload_applied(t0))
            }
        };
        if let (Ok(_), Some(v)) = (&res, &mut self.vrrp) {
            // The VRRP part, unless the driver already runs it (daemon/vrrp.rs).
            let sig = vrrp_signature(&self.loaded.config);
            v.pending = vrrp::reload_if_changed(&v.handle, &self.loaded, sig);
        }
        sd_notify("READY=1");
        res
    }

    /// A reload that changed only some virtual servers: the checker engine and the data plane
    /// get only those (the same outcome as the full path, at the cost of the change).
    fn apply_some(&mut self, p: lvs_config::Patch) {
        let changes = self.loaded.apply(p);
        let same_count = changes.iter().all(|c| c.old.len() == c.new.len());
        let positions: Vec<usize> = changes.iter().flat_map(|c| c.new.clone()).collect();
        if !self.opts.vrrp_only {
            let now = Instant::now();
            let some = same_count
                && self.engine.reconfigure_some(
                    now,
                    positions
                        .iter()
                        .map(|&i| (i, checkers::engine_vs(&self.loaded, i)))
                        .collect(),
                );
            if !some {
                self.engine
                    .reconfigure(now, checkers::engine_config(&self.loaded));
            }
        }
        if !self.opts.vrrp_only {
            self.check_scripts
                .add(&self.loaded, positions.iter().copied());
        }
        let conf = &self.loaded.config;
        if same_count {
            self.dataplane.reconfigure_some(conf, &positions);
        } else {
            self.dataplane.reconfigure();
        }
        info!(
            virtual_servers = positions.len(),
            "reload: only these virtual servers changed"
        );
    }

    /// After a full reload: the checkers' FIFOs follow `global_defs` (the old FIFO scripts are
    /// stopped as at shutdown, in the background).
    fn reopen_lvs_fifos(&mut self) {
        if self.opts.vrrp_only {
            return;
        }
        let cfg = vrrp::lvs_fifo_cfg(&self.loaded, self.vrrp.is_some());
        if cfg == self.lvs_fifo_cfg {
            return;
        }
        let mut old = std::mem::replace(&mut self.lvs_fifos, vrrp::Fifos::open(&cfg));
        self.lvs_fifo_cfg = cfg;
        tokio::spawn(async move { old.close().await });
    }

    /// Counts and logs a reload that took effect; the reply's text.
    fn reload_applied(&mut self, t0: Instant) -> String {
        self.reloads_ok += 1;
        self.last_reload_error = None;
        self.metrics.reload(true);
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        info!(probes = self.engine.probe_count(), ms, "reload applied");
        format!("reloaded {}", self.opts.config.display())
    }

    fn control(&mut self, req: Control) {
        match req {
            Control::Status(tx) => {
                let _ = tx.send(self.status());
            }
            Control::Reload(tx) => {
                let r = self.reload("control socket");
                self.drain_actions();
                // The reply waits for the VRRP driver's verdict on its part, off the main loop.
                match (r, self.vrrp.as_mut().and_then(|v| v.pending.take())) {
                    (Ok(msg), Some(outcome)) => {
                        tokio::spawn(async move {
                            let _ = tx.send(vrrp::reload_reply(msg, outcome).await);
                        });
                    }
                    (r, _) => {
                        let _ = tx.send(r);
                    }
                }
            }
            Control::Explain(client, tx) => {
                let _ = tx.send(self.dataplane.explain(&client));
            }
            Control::Conns(tx) => {
                let _ = tx.send(self.dataplane.conns());
            }
        }
    }

    fn status(&self) -> Value {
        let now = Instant::now();
        let vss: Vec<Value> = self
            .engine
            .status(now)
            .into_iter()
            .map(|vs| {
                let mut v = checkers::vs_fields(&vs.key);
                let rss: Vec<Value> = vs
                    .real_servers
                    .iter()
                    .map(|rs| {
                        json!({
                            "address": rs.dest.ip().to_string(),
                            "port": rs.dest.port(),
                            "alive": rs.alive,
                            "weight": rs.weight.unwrap_or(0),
                            "in_service": rs.weight.is_some(),
                            "configured_weight": rs.configured_weight,
                            "inhibit_on_failure": rs.inhibit_on_failure,
                            "checkers": rs.checkers.iter().map(|c| json!({
                                "type": c.kind,
                                "target": c.target,
                                "up": c.up,
                                "has_run": c.has_run,
                                "last_result": c.last_detail,
                                "last_run_ago_s": c.last_run_ago,
                                "runs": c.stats.runs,
                                "failures": c.stats.failures,
                                "stalls": c.stats.stalls,
                                "skips": c.stats.skips,
                                "latency_ms": c.stats.last_latency.as_secs_f64() * 1000.0,
                                "shared_by": c.shared_by,
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                let o = v.as_object_mut().expect("object");
                o.insert("quorum_up".into(), json!(vs.quorum_up));
                o.insert("quorum".into(), json!(vs.quorum));
                o.insert("hysteresis".into(), json!(vs.hysteresis));
                o.insert("alive_weight".into(), json!(vs.alive_weight));
                o.insert("suspended".into(), json!(vs.suspended));
                o.insert(
                    "sorry_server".into(),
                    match vs.sorry_server {
                        Some((a, w)) => json!({"address": a.ip().to_string(), "port": a.port(), "weight": w.unwrap_or(0), "in_service": w.is_some()}),
                        None => Value::Null,
                    },
                );
                o.insert("real_servers".into(), Value::Array(rss));
                v
            })
            .collect();
        let vrrp: Vec<Value> = self
            .vrrp
            .as_ref()
            .map(|v| v.handle.snapshot())
            .unwrap_or_default()
            .into_iter()
            .map(|i| {
                json!({
                    "name": i.name,
                    "state": format!("{:?}", i.state).to_uppercase(),
                    "priority": i.effective_priority,
                    "base_priority": i.base_priority,
                    "vrid": i.vrid,
                    "interface": i.interface,
                    "sync_group": i.sync_group,
                    "master": i.master.map(|m| m.to_string()),
                    "stats": serde_json::to_value(&i.stats).unwrap_or(Value::Null),
                })
            })
            .collect();
        let mut reload = BTreeMap::new();
        reload.insert("ok", json!(self.reloads_ok));
        reload.insert("failed", json!(self.reloads_failed));
        reload.insert("last_error", json!(self.last_reload_error));
        json!({
            "schema": 1,
            "pid": std::process::id(),
            "uptime_s": now.duration_since(self.started).as_secs_f64(),
            "config": self.opts.config.display().to_string(),
            "config_files": self.loaded.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "mode": if self.opts.checkers_only { "checkers" } else if self.opts.vrrp_only { "vrrp" } else { "full" },
            "dataplane": self.dataplane.status(),
            "reloads": reload,
            "checker": {
                "probes": self.engine.probe_count(),
                "stalls": self.stalls,
                "overdue": self.engine.overdue(now, Duration::from_secs(5)),
            },
            "virtual_servers": vss,
            "vrrp_instances": vrrp,
            "vrrp_error": self.vrrp.as_ref().and_then(|v| v.error.clone()),
        })
    }
}

/// Data-plane selection and the weight sink (`--dataplane`).
///
/// The checker engine is the authority on which destinations are in a service and at which
/// weight; the rest of each service (scheduler, persistence, forwarding, thresholds, sync
/// daemons, timeouts) comes from the configuration through `lower_ipvs_admin`. The result is
/// reconciled against the backend with `lvs_ipvs::reconcile` (adopt what matches, edit in
/// place, remove only what lvsd owns). As keepalived's checker process does, services are
/// programmed on MASTER and BACKUP alike; VRRP moves only the VIPs.
pub(crate) mod plane {
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::net::{IpAddr, SocketAddr};
    use std::path::PathBuf;

    use lvs_check::VsKey;
    use lvs_config::{Config, VirtualServer, VsAddress, VsgEntry};
    use lvs_ipvs::admin::{Dest, FwdMethod, IpvsBackend, Service, ServiceKey};
    use lvs_ipvs::reconcile::{self, Desired, Ownership};
    use serde_json::{json, Value};
    use tracing::{info, warn};

    use super::checkers::vs_key;
    use super::DataplaneMode;

    /// Pause between retries of a failed data-plane update.
    const RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

    /// Kernel IPVS: between full reconciles (every service and destination read back), updates
    /// are diffed against the state last applied in full (`reconcile::diff`); a full one runs at
    /// start, after any failure and at least this often (someone else may edit the table).
    const RESYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

    /// Where lvsd remembers which kernel IPVS entries it created (shared with `lvsd ipvs apply`).
    const STATE_FILE: &str = "/run/lvsd/ipvs-state.json";

    pub(crate) type Published = BTreeMap<(VsKey, SocketAddr), u32>;

    enum Backend {
        None,
        Ipvs {
            backend: Option<Box<dyn IpvsBackend + Send>>,
            open: fn() -> Result<Box<dyn IpvsBackend + Send>, String>,
            state: Option<PathBuf>,
        },
        /// The built-in data plane (started lazily, restarted on failure).
        Builtin {
            handle: Option<crate::daemon::dataplane::DataplaneHandle>,
        },
    }

    fn start_builtin() -> Result<crate::daemon::dataplane::DataplaneHandle, String> {
        use crate::daemon::dataplane as dp;
        let ifs = dp::default_interfaces().map_err(|e| format!("{e:#}"))?;
        dp::start_builtin(dp::BuiltinOptions::new(ifs)).map_err(|e| format!("{e:#}"))
    }

    /// Reconciles `desired` into a backend; returns the new ownership, the op count and the
    /// per-op errors.
    fn reconcile_on(
        b: &mut dyn IpvsBackend,
        desired: &Desired,
        owned: &Ownership,
        planned: Option<std::sync::mpsc::Sender<()>>,
    ) -> Result<(Ownership, usize, Vec<String>), String> {
        let t0 = std::time::Instant::now();
        let actual = reconcile::read_actual(b).map_err(|e| format!("reading IPVS: {e}"))?;
        let t1 = std::time::Instant::now();
        // The owned keys (formatted and sorted: a large share of a cold start's user time) are
        // computed on a second thread while the operations run.
        let (plan, results, t2, t3) = std::thread::scope(|sc| {
            let keys = sc.spawn(|| reconcile::desired_ownership(desired));
            let mut plan = reconcile::plan_ops(desired, &actual, owned);
            let t2 = std::time::Instant::now();
            if let Some(tx) = planned {
                let _ = tx.send(());
            }
            let results = reconcile::execute(b, &plan);
            let t3 = std::time::Instant::now();
            let (services, dests) = keys.join().expect("ownership thread");
            plan.ownership.services = services;
            plan.ownership.dests = dests;
            (plan, results, t2, t3)
        });
        let own = reconcile::finish_ownership(plan.ownership, owned, &results);
        let ms = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64() * 1e3;
        if results.len() >= 1000 {
            info!(
                read_ms = ms(t0, t1),
                plan_ms = ms(t1, t2),
                execute_ms = ms(t2, t3),
                ownership_ms = ms(t3, std::time::Instant::now()),
                ops = results.len(),
                "full IPVS reconcile"
            );
        }
        let errors = results
            .iter()
            .filter_map(|r| r.result.as_ref().err().map(|e| format!("{:?}: {e}", r.op)))
            .collect();
        Ok((own, results.len(), errors))
    }

    /// Where each virtual server's service is in the applied state, for updates of a few
    /// virtual servers (a reload of some, a checker's weight): valid while every virtual server
    /// has a service of its own at its own position — no group, no two with one key or fwmark.
    struct Index {
        by_key: HashMap<VsKey, usize>,
        by_mark: HashMap<u32, usize>,
        /// Per position: its key and fwmark (to move them when it is replaced).
        keys: Vec<(VsKey, Option<u32>)>,
    }

    fn mark_of(vs: &VirtualServer) -> Option<u32> {
        match vs.address {
            VsAddress::Fwmark { fwmark } => Some(fwmark),
            _ => None,
        }
    }

    impl Index {
        fn build(conf: &Config, applied: &Desired) -> Option<Self> {
            let n = conf.virtual_servers.len();
            if applied.services.len() != n {
                return None;
            }
            let mut ix = Index {
                by_key: HashMap::with_capacity(n),
                by_mark: HashMap::new(),
                keys: Vec::with_capacity(n),
            };
            for (i, (vs, (svc, _))) in conf
                .virtual_servers
                .iter()
                .zip(&applied.services)
                .enumerate()
            {
                let same = match (&vs.address, svc.key) {
                    (
                        VsAddress::Ip { ip, port },
                        ServiceKey::Addr {
                            proto,
                            addr,
                            port: p,
                        },
                    ) => {
                        *ip == addr
                            && *port == p
                            && proto
                                .name()
                                .eq_ignore_ascii_case(&format!("{:?}", vs.protocol))
                    }
                    (VsAddress::Fwmark { fwmark }, ServiceKey::Fwmark { mark, .. }) => {
                        *fwmark == mark
                    }
                    _ => false,
                };
                if !same || !ix.insert(i, vs) {
                    return None;
                }
                ix.keys.push((vs_key(vs), mark_of(vs)));
            }
            Some(ix)
        }

        /// Adds position `i`'s keys; false on a collision.
        fn insert(&mut self, i: usize, vs: &VirtualServer) -> bool {
            if matches!(vs.address, VsAddress::Group { .. }) {
                return false;
            }
            if let Some(m) = mark_of(vs) {
                if self.by_mark.insert(m, i).is_some() {
                    return false;
                }
            }
            self.by_key.insert(vs_key(vs), i).is_none()
        }

        /// The virtual servers at `positions` were replaced; false if the index no longer holds.
        fn replace(&mut self, conf: &Config, positions: &[usize]) -> bool {
            for &i in positions {
                let Some((k, m)) = self.keys.get(i) else {
                    return false;
                };
                self.by_key.remove(k);
                if let Some(m) = m {
                    self.by_mark.remove(m);
                }
            }
            for &i in positions {
                let Some(vs) = conf.virtual_servers.get(i) else {
                    return false;
                };
                if !self.insert(i, vs) {
                    return false;
                }
                self.keys[i] = (vs_key(vs), mark_of(vs));
            }
            true
        }
    }

    /// The service of one virtual server (not a group) with the published destinations, as
    /// [`desired`] makes it.
    fn service_of(vs: &VirtualServer, published: &Published) -> Option<(Service, Vec<Dest>)> {
        let one = Config {
            virtual_servers: vec![vs.clone()],
            ..Config::default()
        };
        let (mut d, _notes) = crate::lower_ipvs_admin::desired_from_config(&one);
        if d.services.len() != 1 {
            return None;
        }
        let (svc, mut dests) = d.services.pop()?;
        overlay(&svc.key, &mut dests, &vs_key(vs), published);
        Some((svc, dests))
    }

    /// What the checkers' weights are applied to.
    pub(crate) struct Plane {
        mode: &'static str,
        backend: Backend,
        weights: Published,
        owned: Ownership,
        dirty: bool,
        failures: u64,
        last_error: Option<String>,
        ops_applied: u64,
        note: Option<String>,
        /// After a failure, retries wait until then (no retry storm on every checker event).
        next_try: Option<std::time::Instant>,
        /// Kernel IPVS: the desired state last applied without an error, and when the last
        /// full reconcile ran (see [`RESYNC_INTERVAL`]).
        applied: Option<Desired>,
        last_full: Option<std::time::Instant>,
        /// `lvs_sync_daemon IF VRRP_INSTANCE`: the instance is MASTER (see [`follow_vrrp`]).
        sync_master: bool,
        /// Kernel IPVS: positions of the virtual servers changed since the last apply (None:
        /// any), and where they are in `applied`; with both, only those are diffed.
        dirty_vs: Option<BTreeSet<usize>>,
        index: Option<Index>,
        /// Updates that diffed only the changed virtual servers.
        partial_updates: u64,
        /// Told when the next full reconcile has planned its operations (the start-up's early
        /// apply: the checker engine is built meanwhile, not in competition with the plan).
        planned: Option<std::sync::mpsc::Sender<()>>,
    }

    fn open_kernel() -> Result<Box<dyn IpvsBackend + Send>, String> {
        lvs_sys::ipvs::KernelIpvs::open()
            .map(|k| Box::new(k) as Box<dyn IpvsBackend + Send>)
            .map_err(|e| e.to_string())
    }

    fn ip_vs_available() -> bool {
        std::path::Path::new("/proc/net/ip_vs").exists()
            || lvs_sys::ipvs::KernelIpvs::open().is_ok()
    }

    impl Plane {
        pub(crate) fn open(mode: DataplaneMode) -> Self {
            let mut note = None;
            let (name, backend) = match mode {
                DataplaneMode::None => ("none", Backend::None),
                DataplaneMode::Kernel => (
                    "kernel",
                    Backend::Ipvs {
                        backend: None,
                        open: open_kernel,
                        state: Some(STATE_FILE.into()),
                    },
                ),
                DataplaneMode::Auto if ip_vs_available() => (
                    "kernel",
                    Backend::Ipvs {
                        backend: None,
                        open: open_kernel,
                        state: Some(STATE_FILE.into()),
                    },
                ),
                DataplaneMode::Auto | DataplaneMode::Builtin => {
                    if mode == DataplaneMode::Auto {
                        note = Some(
                            "ip_vs is not available: using the built-in data plane".to_owned(),
                        );
                    }
                    ("builtin", Backend::Builtin { handle: None })
                }
            };
            let owned = match &backend {
                Backend::Ipvs { state: Some(p), .. } => std::fs::read(p)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default(),
                _ => Ownership::default(),
            };
            // No flush here: the checkers have published no weight yet, and applying the
            // configuration without its real servers would withdraw, on a restart, the
            // destinations adopted from the running kernel. The daemon flushes once the
            // checker engine's initial weights are in.
            Self {
                mode: name,
                backend,
                weights: Published::new(),
                owned,
                dirty: true,
                failures: 0,
                last_error: None,
                ops_applied: 0,
                note,
                next_try: None,
                applied: None,
                last_full: None,
                sync_master: false,
                dirty_vs: None,
                index: None,
                partial_updates: 0,
                planned: None,
            }
        }

        /// A plane over any backend (tests: the in-process IPVS model).
        #[cfg(test)]
        pub(crate) fn with_backend(b: Box<dyn IpvsBackend + Send>) -> Self {
            fn never() -> Result<Box<dyn IpvsBackend + Send>, String> {
                Err("closed".into())
            }
            Self {
                mode: "model",
                backend: Backend::Ipvs {
                    backend: Some(b),
                    open: never,
                    state: None,
                },
                weights: Published::new(),
                owned: Ownership::default(),
                dirty: true,
                failures: 0,
                last_error: None,
                ops_applied: 0,
                note: None,
                next_try: None,
                applied: None,
                last_full: None,
                sync_master: false,
                dirty_vs: None,
                index: None,
                partial_updates: 0,
                planned: None,
            }
        }

        pub(crate) fn name(&self) -> &'static str {
            self.mode
        }

        /// What lvsd owns in the backend (what the ownership file holds).
        #[cfg(test)]
        pub(crate) fn owned(&self) -> &Ownership {
            &self.owned
        }

        #[cfg(test)]
        pub(crate) fn backend_mut(&mut self) -> &mut (dyn IpvsBackend + Send) {
            match &mut self.backend {
                Backend::Ipvs {
                    backend: Some(b), ..
                } => b.as_mut(),
                _ => panic!("no backend"),
            }
        }

        pub(crate) fn set_weight(&mut self, vs: &VsKey, dest: SocketAddr, weight: Option<u32>) {
            match weight {
                Some(w) => self.weights.insert((vs.clone(), dest), w),
                None => self.weights.remove(&(vs.clone(), dest)),
            };
            // A key no virtual server has does not change the desired state.
            if let (Some(ix), Some(d)) = (&self.index, &mut self.dirty_vs) {
                if let Some(&i) = ix.by_key.get(vs) {
                    d.insert(i);
                }
            }
            self.dirty = true;
        }

        /// The state of the VRRP instance named by `lvs_sync_daemon` changed: the kernel's sync
        /// daemon follows it (master while MASTER, backup otherwise).
        pub(crate) fn set_sync_master(&mut self, master: bool) {
            if self.sync_master != master {
                self.sync_master = master;
                self.dirty = true;
                self.dirty_vs = None;
            }
        }

        /// The whole configuration may have changed.
        pub(crate) fn reconfigure(&mut self) {
            self.dirty = true;
            self.dirty_vs = None;
            self.index = None;
        }

        /// Only the virtual servers at `positions` changed (the configuration is `conf` now).
        pub(crate) fn reconfigure_some(&mut self, conf: &Config, positions: &[usize]) {
            self.dirty = true;
            let ok = self
                .index
                .as_mut()
                .is_some_and(|ix| ix.replace(conf, positions));
            match (&mut self.dirty_vs, ok) {
                (Some(d), true) => d.extend(positions.iter().copied()),
                _ => {
                    self.dirty_vs = None;
                    self.index = None;
                }
            }
        }

        /// Kernel IPVS (not the built-in plane, not none).
        pub(crate) fn is_kernel_ipvs(&self) -> bool {
            matches!(self.backend, Backend::Ipvs { .. })
        }

        /// Start-up, before the checker engine has published anything: a full reconcile with
        /// `predicted` ([`lvs_check::initial_weights`] applied in order to an empty map) as the
        /// published weights, run while the engine is built. The prediction is then dropped: the engine's own weights are
        /// published into an empty set and the next flush diffs the whole desired state
        /// against what this applied (`applied`, ownership), so a wrong prediction is fixed
        /// there and the end state is the one the sequential start gives.
        pub(crate) fn early_apply(
            &mut self,
            conf: &Config,
            predicted: Published,
            planned: Option<std::sync::mpsc::Sender<()>>,
        ) {
            let t0 = std::time::Instant::now();
            self.planned = planned;
            self.weights = predicted;
            self.dirty = true;
            self.flush(conf);
            info!(
                ms = t0.elapsed().as_secs_f64() * 1e3,
                ok = !self.dirty,
                "early IPVS apply (predicted initial weights)"
            );
            self.weights.clear();
            self.dirty = true;
            self.dirty_vs = None;
            // Whatever failed is retried at the first flush, as the sequential start would.
            self.next_try = None;
            self.planned = None;
        }

        /// Retries a failed apply (called periodically).
        pub(crate) fn retry(&mut self, conf: &Config) {
            if self.dirty {
                self.flush(conf);
            }
        }

        /// Applies pending changes, if any. Errors are logged and retried later (at most every
        /// [`RETRY_INTERVAL`]).
        pub(crate) fn flush(&mut self, conf: &Config) {
            if !self.dirty || self.next_try.is_some_and(|t| std::time::Instant::now() < t) {
                return;
            }
            let t0 = std::time::Instant::now();
            let mut desired_ms = 0.0;
            let (res, some) = match self.flush_some(conf) {
                Some(r) => (r, true),
                None => {
                    let mut desired = desired(conf, &self.weights);
                    follow_vrrp(&mut desired, conf, self.sync_master);
                    desired_ms = t0.elapsed().as_secs_f64() * 1e3;
                    let r = self.apply(desired);
                    self.index = self.applied.as_ref().and_then(|a| Index::build(conf, a));
                    (r, false)
                }
            };
            match res {
                Ok(n) => {
                    self.dirty = false;
                    self.next_try = None;
                    self.dirty_vs = self.index.as_ref().map(|_| BTreeSet::new());
                    if n > 0 {
                        let ms = t0.elapsed().as_secs_f64() * 1e3;
                        let scope = if some { "changed" } else { "all" };
                        info!(
                            ops = n,
                            ms,
                            desired_ms,
                            scope,
                            dataplane = self.mode,
                            "IPVS reconciled"
                        );
                    }
                }
                Err(e) => {
                    self.dirty_vs = None;
                    self.index = None;
                    self.failures += 1;
                    self.next_try = Some(std::time::Instant::now() + RETRY_INTERVAL);
                    if self.last_error.as_deref() != Some(e.as_str()) {
                        warn!(dataplane = self.mode, error = %e, "data plane update failed; will retry");
                    }
                    self.last_error = Some(e);
                }
            }
        }

        /// Kernel IPVS, a few virtual servers changed since the last apply: diff only their
        /// services against the applied state. None when a full update is needed.
        fn flush_some(&mut self, conf: &Config) -> Option<Result<usize, String>> {
            let Backend::Ipvs {
                backend: Some(b),
                state,
                ..
            } = &mut self.backend
            else {
                return None;
            };
            let (Some(applied), Some(_), Some(dirty)) =
                (&mut self.applied, &self.index, &self.dirty_vs)
            else {
                return None;
            };
            if self
                .last_full
                .is_none_or(|t| t.elapsed() >= RESYNC_INTERVAL)
            {
                return None;
            }
            let mut prev = Desired {
                services: Vec::with_capacity(dirty.len()),
                timeouts: applied.timeouts,
                daemons: applied.daemons.clone(),
                flush: applied.flush,
            };
            let mut next = Desired {
                services: Vec::with_capacity(dirty.len()),
                ..prev.clone()
            };
            for &i in dirty {
                prev.services.push(applied.services.get(i)?.clone());
                next.services
                    .push(service_of(conf.virtual_servers.get(i)?, &self.weights)?);
            }
            let ops = reconcile::diff(&prev, &next)?;
            let results = reconcile::execute_ops(b.as_mut(), &ops);
            let changed = reconcile::update_ownership(&mut self.owned, &results);
            let errors: Vec<String> = results
                .iter()
                .filter_map(|r| r.result.as_ref().err().map(|e| format!("{:?}: {e}", r.op)))
                .collect();
            if errors.is_empty() {
                for (&i, s) in dirty.iter().zip(next.services) {
                    applied.services[i] = s;
                }
            } else {
                self.applied = None;
            }
            if let Some(p) = state.as_ref().filter(|_| changed) {
                if let Some(dir) = p.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                if let Ok(j) = serde_json::to_vec(&self.owned) {
                    let _ = std::fs::write(p, j);
                }
            }
            self.ops_applied += results.len() as u64;
            self.partial_updates += 1;
            Some(if errors.is_empty() {
                self.last_error = None;
                Ok(results.len())
            } else {
                Err(errors.join("; "))
            })
        }

        fn apply(&mut self, desired: Desired) -> Result<usize, String> {
            let (own, n, errors) = match &mut self.backend {
                Backend::None => return Ok(0),
                Backend::Ipvs {
                    backend,
                    open,
                    state,
                } => {
                    if backend.is_none() {
                        *backend = Some(open()?);
                        self.applied = None;
                    }
                    let b = backend.as_mut().expect("opened");
                    let recent = self
                        .last_full
                        .is_some_and(|t| t.elapsed() < RESYNC_INTERVAL);
                    let ops = match &self.applied {
                        Some(prev) if recent => reconcile::diff(prev, &desired),
                        _ => None,
                    };
                    let (own, n, errors, changed) = if let Some(ops) = ops {
                        // Fast path: only what changed since the last full apply.
                        let results = reconcile::execute_ops(b.as_mut(), &ops);
                        let mut own = std::mem::take(&mut self.owned);
                        let changed = reconcile::update_ownership(&mut own, &results);
                        let errors: Vec<String> = results
                            .iter()
                            .filter_map(|r| {
                                r.result.as_ref().err().map(|e| format!("{:?}: {e}", r.op))
                            })
                            .collect();
                        (own, results.len(), errors, changed)
                    } else {
                        let r = match reconcile_on(
                            b.as_mut(),
                            &desired,
                            &self.owned,
                            self.planned.take(),
                        ) {
                            Ok(r) => r,
                            Err(e) => {
                                // Reopen next time (netlink socket errors, module unloaded…).
                                *backend = None;
                                return Err(e);
                            }
                        };
                        self.last_full = Some(std::time::Instant::now());
                        let changed = r.0 != self.owned;
                        (r.0, r.1, r.2, changed)
                    };
                    self.applied = errors.is_empty().then_some(desired);
                    if let Some(p) = state.as_ref().filter(|_| changed) {
                        if let Some(dir) = p.parent() {
                            let _ = std::fs::create_dir_all(dir);
                        }
                        if let Ok(j) = serde_json::to_vec(&own) {
                            let _ = std::fs::write(p, j);
                        }
                    }
                    (own, n, errors)
                }
                Backend::Builtin { handle } => {
                    if handle.is_none() {
                        *handle = Some(start_builtin()?);
                    }
                    let h = handle.as_ref().expect("started");
                    let owned = &self.owned;
                    // The built-in plane has no kernel sync daemons: lvs_sync_daemon runs in
                    // daemon/sync.rs instead, so those operations are left out here.
                    let mut desired = desired;
                    desired.daemons.clear();
                    h.apply(|b| reconcile_on(b, &desired, owned, None))
                        .map_err(|e| format!("{e:#}"))??
                }
            };
            self.owned = own;
            self.ops_applied += n as u64;
            if errors.is_empty() {
                self.last_error = None;
                Ok(n)
            } else {
                Err(errors.join("; "))
            }
        }

        /// Stop: withdraw what lvsd created unless asked to keep it (`-I`).
        pub(crate) fn stop(&mut self, keep: bool) {
            if let Backend::Builtin { handle } = &mut self.backend {
                if let Some(h) = handle.take() {
                    if let Err(e) = h.stop() {
                        warn!(error = %format!("{e:#}"), "stopping the built-in data plane");
                    }
                }
                return;
            }
            if keep || matches!(self.backend, Backend::None) {
                return;
            }
            if let Err(e) = self.apply(Desired::default()) {
                warn!(error = %e, "removing IPVS entries at stop");
            }
        }

        /// `lvsd explain CLIENT` against the live state (the built-in data plane's engine).
        pub(crate) fn explain(&mut self, client: &str) -> Result<Value, String> {
            let ip: IpAddr = client
                .parse()
                .map_err(|_| format!("{client:?} is not an IP address"))?;
            match &self.backend {
                Backend::Builtin { handle: Some(h) } => {
                    let ex = h.with_engine(|ipvs, now| ipvs.explain(ip, now));
                    let text = ex.to_string();
                    let mut v = serde_json::to_value(ex).map_err(|e| e.to_string())?;
                    if let Some(o) = v.as_object_mut() {
                        o.insert("text".into(), Value::String(text));
                    }
                    Ok(v)
                }
                _ => Err(format!("explain {client}: the live connection table is not available with --dataplane {}", self.mode)),
            }
        }

        /// Runs `f` on the built-in data plane's engine, if it runs (daemon/sync.rs).
        pub(crate) fn with_builtin_engine<R>(
            &self,
            f: impl FnOnce(&mut lvs_ipvs::Ipvs, u64) -> R,
        ) -> Option<R> {
            match &self.backend {
                Backend::Builtin { handle: Some(h) } => Some(h.with_engine(f)),
                _ => None,
            }
        }

        /// `ipvsadm -lnc` body lines of the live table (built-in data plane only).
        pub(crate) fn conns(&self) -> Result<Vec<String>, String> {
            match &self.backend {
                Backend::Builtin { handle: Some(h) } => Ok(h.lnc_lines()),
                _ => Err(format!(
                    "the live connection table is served only by the built-in data plane \
                     (this daemon runs --dataplane {}); use `lvsd ipvs conns` for the kernel's",
                    self.mode
                )),
            }
        }

        pub(crate) fn status(&self) -> Value {
            json!({
                "mode": self.mode,
                "destinations": self.weights.len(),
                "pending": self.dirty,
                "failures": self.failures,
                "last_error": self.last_error,
                "ops_applied": self.ops_applied,
                "partial_updates": self.partial_updates,
                "note": self.note,
                // The built-in plane's connection table size (entries and templates).
                "connections": match &self.backend {
                    Backend::Builtin { handle: Some(h) } => json!(h.conn_count()),
                    _ => Value::Null,
                },
            })
        }
    }

    fn in_range(ip: IpAddr, first: IpAddr, last: IpAddr) -> bool {
        match (ip, first, last) {
            (IpAddr::V4(a), IpAddr::V4(f), IpAddr::V4(l)) => {
                (u32::from(f)..=u32::from(l)).contains(&u32::from(a))
            }
            (IpAddr::V6(a), IpAddr::V6(f), IpAddr::V6(l)) => {
                (u128::from(f)..=u128::from(l)).contains(&u128::from(a))
            }
            _ => false,
        }
    }

    /// The configured virtual server an IPVS service comes from.
    pub(crate) fn vs_key_of(svc: &ServiceKey, conf: &Config) -> Option<VsKey> {
        for vs in &conf.virtual_servers {
            let proto_ok = |p: lvs_ipvs::admin::Protocol| {
                p.name().eq_ignore_ascii_case(&format!("{:?}", vs.protocol))
            };
            let hit = match (svc, &vs.address) {
                (ServiceKey::Addr { proto, addr, port }, VsAddress::Ip { ip, port: p }) => {
                    ip == addr && p == port && proto_ok(*proto)
                }
                (ServiceKey::Fwmark { mark, .. }, VsAddress::Fwmark { fwmark }) => mark == fwmark,
                (_, VsAddress::Group { group }) => conf
                    .virtual_server_groups
                    .iter()
                    .filter(|g| &g.name == group)
                    .flat_map(|g| &g.entries)
                    .any(|e| match (svc, e) {
                        (
                            ServiceKey::Addr { proto, addr, port },
                            VsgEntry::Range {
                                first,
                                last,
                                port: p,
                                ..
                            },
                        ) => in_range(*addr, *first, *last) && p == port && proto_ok(*proto),
                        (ServiceKey::Fwmark { mark, .. }, VsgEntry::Fwmark { fwmark, .. }) => {
                            mark == fwmark
                        }
                        _ => false,
                    }),
                _ => false,
            };
            if hit {
                return Some(vs_key(vs));
            }
        }
        None
    }

    /// `lvs_sync_daemon IF VRRP_INSTANCE` as keepalived's VRRP process runs it: the backup sync
    /// daemon at start and whenever the instance is not MASTER; on the MASTER transition the
    /// backup stops and the master starts. Without an instance both run all along (as lowered).
    pub(crate) fn follow_vrrp(d: &mut Desired, conf: &Config, master: bool) {
        let named = conf
            .global_defs
            .lvs_sync_daemon
            .as_ref()
            .is_some_and(|s| s.vrrp_instance.is_some());
        if named {
            let state = if master {
                lvs_ipvs::admin::DaemonState::Master
            } else {
                lvs_ipvs::admin::DaemonState::Backup
            };
            for daemon in &mut d.daemons {
                daemon.state = state;
            }
        }
    }

    /// The configuration's IPVS state with the destinations and weights the checkers publish.
    ///
    /// Linear in the size of the configuration (it runs on every weight change and reload, with
    /// tens of thousands of real servers): virtual servers are found through an index unless
    /// groups are configured, a service's published weights by a range of `published`.
    pub(crate) fn desired(conf: &Config, published: &Published) -> Desired {
        let (mut d, _notes) = crate::lower_ipvs_admin::desired_from_config(conf);
        let has_groups = conf
            .virtual_servers
            .iter()
            .any(|vs| matches!(vs.address, VsAddress::Group { .. }));
        // First virtual server per (protocol, address, port) / fwmark, as `vs_key_of` finds it.
        let mut by_addr: HashMap<(String, IpAddr, u16), usize> = HashMap::new();
        let mut by_mark: HashMap<u32, usize> = HashMap::new();
        for (i, vs) in conf.virtual_servers.iter().enumerate() {
            match &vs.address {
                VsAddress::Ip { ip, port } => {
                    let proto = format!("{:?}", vs.protocol).to_ascii_lowercase();
                    by_addr.entry((proto, *ip, *port)).or_insert(i);
                }
                VsAddress::Fwmark { fwmark } => {
                    by_mark.entry(*fwmark).or_insert(i);
                }
                VsAddress::Group { .. } => {}
            }
        }
        for (svc, dests) in &mut d.services {
            let k = if has_groups {
                vs_key_of(&svc.key, conf)
            } else {
                match svc.key {
                    ServiceKey::Addr { proto, addr, port } => by_addr
                        .get(&(proto.name().to_ascii_lowercase(), addr, port))
                        .map(|&i| vs_key(&conf.virtual_servers[i])),
                    ServiceKey::Fwmark { mark, .. } => by_mark
                        .get(&mark)
                        .map(|&i| vs_key(&conf.virtual_servers[i])),
                }
            };
            let Some(k) = k else {
                continue;
            };
            overlay(&svc.key, dests, &k, published);
        }
        d
    }

    /// A service's destinations as the checkers publish them for virtual server `k`: the
    /// configured ones that are published, in configuration order, with the published weight,
    /// then the published ones not configured (the sorry server).
    fn overlay(key: &ServiceKey, dests: &mut Vec<Dest>, k: &VsKey, published: &Published) {
        let lowest = SocketAddr::from(([0, 0, 0, 0], 0));
        let pubs: Vec<(SocketAddr, u32)> = published
            .range((k.clone(), lowest)..)
            .take_while(|((vk, _), _)| vk == k)
            .map(|((_, a), w)| (*a, *w))
            .collect();
        let mut by_ip: HashMap<IpAddr, Vec<usize>> = HashMap::with_capacity(pubs.len());
        for (i, (a, _)) in pubs.iter().enumerate() {
            by_ip.entry(a.ip()).or_default().push(i);
        }
        let template = dests.first().cloned();
        let mut used = vec![false; pubs.len()];
        let mut out = Vec::with_capacity(pubs.len());
        for dest in dests.iter() {
            let found = by_ip.get(&dest.addr).and_then(|ix| {
                ix.iter()
                    .copied()
                    .find(|&i| pubs[i].0.port() == dest.port || dest.port == 0)
            });
            if let Some(i) = found {
                used[i] = true;
                let mut nd = dest.clone();
                nd.weight = pubs[i].1;
                out.push(nd);
            }
        }
        // Published but not among the configured dests: the sorry server.
        for (i, (a, w)) in pubs.iter().enumerate() {
            if used[i] {
                continue;
            }
            let fwd = template.as_ref().map_or(FwdMethod::Masq, |t| t.fwd);
            let port = if key.fwmark().is_some() && fwd != FwdMethod::Masq {
                0
            } else {
                a.port()
            };
            let mut nd = template.clone().unwrap_or_else(|| Dest::new(a.ip(), port));
            nd.addr = a.ip();
            nd.port = port;
            nd.weight = *w;
            out.push(nd);
        }
        *dests = out;
    }
}

/// Prometheus metrics (`--metrics ADDR`), served by hyper at `/metrics`.
mod metrics {
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, Mutex};

    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::service::service_fn;
    use hyper::{Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;
    use lvs_check::{ProbeResult, VsKey};
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;
    use tracing::debug;

    type Labels = Vec<(String, String)>;

    pub(crate) struct Metrics {
        registry: Mutex<Registry>,
        rs_weight: Family<Labels, Gauge>,
        rs_in_service: Family<Labels, Gauge>,
        probe_latency: Family<Labels, Histogram>,
        probe_runs: Family<Labels, Counter>,
        stalls: Counter<u64, AtomicU64>,
        reloads: Family<Labels, Counter>,
        vrrp_state: Family<Labels, Gauge>,
        vrrp_priority: Family<Labels, Gauge>,
        vrrp_transitions: Family<Labels, Counter>,
        vrrp_adverts: Family<Labels, Counter>,
        vrrp_drops: Family<Labels, Counter>,
        seen: Mutex<std::collections::HashMap<Labels, u64>>,
    }

    fn latency_histogram() -> Histogram {
        Histogram::new(
            [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]
            .into_iter(),
        )
    }

    impl Metrics {
        pub(crate) fn new() -> Self {
            let mut r = Registry::with_prefix("lvsd");
            let rs_weight = Family::<Labels, Gauge>::default();
            let rs_in_service = Family::<Labels, Gauge>::default();
            let probe_latency = Family::<Labels, Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
            let probe_runs = Family::<Labels, Counter>::default();
            let stalls = Counter::default();
            let reloads = Family::<Labels, Counter>::default();
            r.register(
                "real_server_weight",
                "Current weight of a real server as published to the data plane",
                rs_weight.clone(),
            );
            r.register(
                "real_server_in_service",
                "1 if the real server is in its virtual server (any weight)",
                rs_in_service.clone(),
            );
            r.register(
                "checker_latency_seconds",
                "Duration of health-check probes",
                probe_latency.clone(),
            );
            r.register(
                "checker_runs",
                "Health-check probe runs by checker type and result (up, down, skipped: not started in time)",
                probe_runs.clone(),
            );
            r.register(
                "checker_stalls",
                "Probe runs that produced no result in time",
                stalls.clone(),
            );
            r.register(
                "reloads",
                "Configuration reloads by outcome",
                reloads.clone(),
            );
            let vrrp_state = Family::<Labels, Gauge>::default();
            let vrrp_priority = Family::<Labels, Gauge>::default();
            let vrrp_transitions = Family::<Labels, Counter>::default();
            let vrrp_adverts = Family::<Labels, Counter>::default();
            let vrrp_drops = Family::<Labels, Counter>::default();
            r.register(
                "vrrp_state",
                "VRRP instance state (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 98 STOP)",
                vrrp_state.clone(),
            );
            r.register(
                "vrrp_priority",
                "VRRP effective priority",
                vrrp_priority.clone(),
            );
            r.register(
                "vrrp_transitions",
                "VRRP state transitions by new state",
                vrrp_transitions.clone(),
            );
            r.register(
                "vrrp_adverts",
                "VRRP adverts by direction",
                vrrp_adverts.clone(),
            );
            r.register(
                "vrrp_adverts_dropped",
                "Received VRRP adverts dropped, by reason",
                vrrp_drops.clone(),
            );
            Self {
                registry: Mutex::new(r),
                rs_weight,
                rs_in_service,
                probe_latency,
                probe_runs,
                stalls,
                reloads,
                vrrp_state,
                vrrp_priority,
                vrrp_transitions,
                vrrp_adverts,
                vrrp_drops,
                seen: Mutex::new(std::collections::HashMap::new()),
            }
        }

        pub(crate) fn set_weight(&self, vs: &VsKey, rs: SocketAddr, w: Option<u32>) {
            let l = vec![
                ("vs".to_owned(), vs.to_string()),
                ("rs".to_owned(), rs.to_string()),
            ];
            self.rs_weight
                .get_or_create(&l)
                .set(i64::from(w.unwrap_or(0)));
            self.rs_in_service
                .get_or_create(&l)
                .set(i64::from(w.is_some()));
        }

        pub(crate) fn observe_probe(&self, kind: Option<&'static str>, r: &ProbeResult) {
            let kind = kind.unwrap_or("unknown").to_owned();
            if !r.skipped {
                self.probe_latency
                    .get_or_create(&vec![("type".to_owned(), kind.clone())])
                    .observe(r.latency.as_secs_f64());
            }
            let result = match (r.skipped, r.ok) {
                (true, _) => "skipped",
                (false, true) => "up",
                (false, false) => "down",
            };
            self.probe_runs
                .get_or_create(&vec![
                    ("type".to_owned(), kind),
                    ("result".to_owned(), result.to_owned()),
                ])
                .inc();
        }

        pub(crate) fn stall(&self) {
            self.stalls.inc();
        }

        pub(crate) fn reload(&self, ok: bool) {
            let outcome = if ok { "ok" } else { "refused" };
            self.reloads
                .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
                .inc();
        }

        pub(crate) fn vrrp_transition(&self, name: &str, state: &str) {
            self.vrrp_transitions
                .get_or_create(&vec![
                    ("instance".to_owned(), name.to_owned()),
                    ("state".to_owned(), state.to_owned()),
                ])
                .inc();
        }

        /// Counter families fed from the engine's absolute counters.
        fn advance(&self, fam: &Family<Labels, Counter>, l: Labels, value: u64) {
            let mut seen = self.seen.lock().expect("metrics");
            let last = seen.entry(l.clone()).or_insert(0);
            if value > *last {
                fam.get_or_create(&l).inc_by(value - *last);
                *last = value;
            }
        }

        pub(crate) fn set_vrrp(&self, instances: &[lvs_vrrp::InstanceStatus]) {
            for i in instances {
                let l = vec![("instance".to_owned(), i.name.clone())];
                let code = match format!("{:?}", i.state).as_str() {
                    "Init" => 0,
                    "Backup" => 1,
                    "Master" => 2,
                    "Fault" => 3,
                    _ => 98,
                };
                self.vrrp_state.get_or_create(&l).set(code);
                self.vrrp_priority
                    .get_or_create(&l)
                    .set(i64::from(i.effective_priority));
                let dir = |d: &str| {
                    vec![
                        ("instance".to_owned(), i.name.clone()),
                        ("direction".to_owned(), d.to_owned()),
                    ]
                };
                self.advance(&self.vrrp_adverts, dir("sent"), i.stats.advert_sent);
                self.advance(&self.vrrp_adverts, dir("received"), i.stats.advert_rcvd);
                if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(&i.stats.dropped) {
                    for (reason, v) in m {
                        if let Some(n) = v.as_u64() {
                            let l = vec![
                                ("instance".to_owned(), i.name.clone()),
                                ("reason".to_owned(), reason),
                            ];
                            self.advance(&self.vrrp_drops, l, n);
                        }
                    }
                }
            }
        }

        pub(crate) fn render(&self) -> String {
            let mut out = String::new();
            let r = self.registry.lock().expect("metrics registry");
            encode(&mut out, &r).expect("encoding into a String cannot fail");
            out
        }
    }

    /// Binds `addr` and serves `/metrics` until the process exits.
    pub(crate) async fn serve(addr: SocketAddr, m: Arc<Metrics>) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let m = m.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let m = m.clone();
                        async move {
                            let resp = if req.uri().path() == "/metrics" {
                                Response::builder()
                                    .header("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
                                    .body(Full::new(Bytes::from(m.render())))
                            } else {
                                Response::builder()
                                    .status(StatusCode::NOT_FOUND)
                                    .body(Full::new(Bytes::from_static(b"not found\n")))
                            };
                            Ok::<_, hyper::http::Error>(resp.expect("static response"))
                        }
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                    {
                        debug!(error = %e, "metrics connection");
                    }
                });
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use lvs_check::{Action, Engine};
    use lvs_ipvs::admin::ServiceKey;

    use super::checkers::engine_config;
    use super::plane::Plane;

    const CONF: &str = "
virtual_server 192.0.2.1 80 {
  delay_loop 5
  lb_algo rr
  lb_kind NAT
  protocol TCP
  sorry_server 10.0.0.99 80
  real_server 10.0.0.1 80 {
    weight 3
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 10.0.0.2 80 {
    weight 4
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
";

    /// `lvs_sync_daemon eth0 VI_1`: the kernel daemon is the backup until VI_1 is MASTER, then the
    /// master (keepalived's VRRP process); without an instance both run all along.
    #[test]
    fn lvs_fifo_lines_are_keepalived_s() {
        use lvs_check::{NotifyEvent, Protocol, VsKey};
        let l = lvs_config::parse_str(
            "t.conf",
            "virtual_server fwmark 5 {\n protocol UDP\n real_server 10.0.0.1 53 {\n }\n}\n",
        );
        let conf = &l.config;
        let v6 = VsKey::Addr {
            protocol: Protocol::Tcp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 443,
        };
        assert_eq!(
            super::lvs_fifo_line(
                NotifyEvent::RsDown,
                &v6,
                Some("[2001:db8::10]:8443".parse().unwrap()),
                conf
            ),
            "RS [2001:db8::10]:tcp:8443 [2001:db8::1]:tcp:443 DOWN\n"
        );
        assert_eq!(
            super::lvs_fifo_line(NotifyEvent::QuorumUp, &v6, None, conf),
            "VS [2001:db8::1]:tcp:443 UP\n"
        );
        let fwm = VsKey::Fwmark {
            mark: 5,
            ipv6: false,
        };
        assert_eq!(
            super::lvs_fifo_line(
                NotifyEvent::RsUp,
                &fwm,
                Some("10.0.0.1:53".parse().unwrap()),
                conf
            ),
            "RS [10.0.0.1]:udp:53 FWM 5 UP\n"
        );
        let grp = VsKey::Group {
            name: "web".into(),
            protocol: Protocol::Sctp,
        };
        assert_eq!(
            super::lvs_fifo_line(NotifyEvent::QuorumDown, &grp, None, conf),
            "VS [web]:0 DOWN\n"
        );
    }

    #[test]
    fn kernel_sync_daemon_follows_the_named_instance() {
        use lvs_ipvs::admin::DaemonState::{Backup, Master};
        let vrrp = "vrrp_instance VI_1 {\n state BACKUP\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n 10.0.0.49\n }\n}\n";
        let states = |gd: &str, master: bool| {
            let loaded =
                lvs_config::parse_str("t.conf", &format!("global_defs {{\n{gd}\n}}\n{vrrp}"));
            assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
            let mut d = super::plane::desired(&loaded.config, &Default::default());
            super::plane::follow_vrrp(&mut d, &loaded.config, master);
            d.daemons
                .iter()
                .map(|d| (d.state, d.syncid))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            states("lvs_sync_daemon eth0 VI_1", false),
            vec![(Backup, 51)]
        );
        assert_eq!(
            states("lvs_sync_daemon eth0 VI_1", true),
            vec![(Master, 51)]
        );
        assert_eq!(
            states("lvs_sync_daemon eth0", true),
            vec![(Master, 0), (Backup, 0)]
        );
    }

    /// A reload of a few virtual servers (lvs_config::reload's patch, Engine::reconfigure_some,
    /// Plane::reconfigure_some) leaves the IPVS backend exactly as the full path does, with the
    /// same operations, and diffs only the changed services; so does a checker's weight change.
    #[test]
    fn partial_reload_equals_full_reload() {
        use lvs_config::{MemSource, Reload};
        const MAIN: &str = "/etc/keepalived/keepalived.conf";
        let mut text = String::from("global_defs {\n  router_id t\n}\n");
        for i in 0..30 {
            text.push_str(&format!(
                "virtual_server 192.0.2.{} 80 {{\n  lb_algo rr\n  lb_kind {}\n  protocol TCP\n  persistence_timeout {}\n",
                i + 1,
                if i % 3 == 0 { "DR" } else { "NAT" },
                300 + i
            ));
            if i % 7 == 0 {
                text.push_str("  sorry_server 10.9.9.9 80\n");
            }
            for j in 0..3 {
                text.push_str(&format!(
                    "  real_server 10.0.{i}.{} 80 {{\n    weight {}\n  }}\n",
                    j + 1,
                    j + 1
                ));
            }
            text.push_str("}\n");
        }
        text.push_str("virtual_server fwmark 7 {\n  lb_algo wlc\n  real_server 10.7.0.1 80 {\n    weight 1\n  }\n}\n");
        let fs = |t: &str| {
            let mut s = MemSource::new();
            s.add(MAIN, t.as_bytes().to_vec());
            s
        };
        let load = |t: &str| lvs_config::load(&fs(t), std::path::Path::new(MAIN)).expect("loads");
        struct Side {
            loaded: lvs_config::Loaded,
            engine: Engine,
            plane: Plane,
        }
        impl Side {
            fn pump(&mut self) {
                while let Some(a) = self.engine.poll_action() {
                    if let Action::SetWeight {
                        vs, dest, weight, ..
                    } = a
                    {
                        self.plane.set_weight(&vs, dest, weight);
                    }
                }
                self.plane.flush(&self.loaded.config);
            }
            fn table(&mut self) -> Vec<String> {
                let a = lvs_ipvs::reconcile::read_actual(self.plane.backend_mut()).unwrap();
                let mut v: Vec<String> = a
                    .services
                    .iter()
                    .map(|(s, d)| {
                        format!(
                            "{:?} {:?}",
                            s.service,
                            d.iter().map(|d| &d.dest).collect::<Vec<_>>()
                        )
                    })
                    .collect();
                v.sort();
                v
            }
            fn ops(&self) -> (u64, u64) {
                let st = self.plane.status();
                (
                    st["ops_applied"].as_u64().unwrap(),
                    st["partial_updates"].as_u64().unwrap(),
                )
            }
        }
        let t0 = Instant::now();
        let side = |l: lvs_config::Loaded| {
            let engine = Engine::new(engine_config(&l), 1, t0);
            let plane = Plane::with_backend(Box::new(lvs_ipvs::model::Ipvs::default()));
            let mut s = Side {
                loaded: l,
                engine,
                plane,
            };
            s.pump();
            s
        };
        let mut a = side(load(&text));
        let mut b = side(load(&text));
        assert_eq!(a.table().len(), 31);
        let edits: &[(&str, &str)] = &[
            (
                "real_server 10.0.12.2 80 {\n    weight 2",
                "real_server 10.0.12.2 80 {\n    weight 9",
            ),
            (
                "virtual_server 192.0.2.5 80 {\n  lb_algo rr",
                "virtual_server 192.0.2.5 80 {\n  lb_algo wlc",
            ),
            ("real_server 10.0.3.1 80", "real_server 10.0.3.7 80"),
            (
                "virtual_server 192.0.2.9 80",
                "virtual_server 192.0.2.99 81",
            ),
            ("persistence_timeout 320", "persistence_timeout 20"),
            (
                "real_server 10.0.7.1 80 {\n    weight 1",
                "real_server 10.0.7.1 80 {\n    weight 0",
            ),
            ("real_server 10.7.0.1 80", "real_server 10.7.0.2 80"),
            // Two virtual servers far apart, in one reload.
            (
                "real_server 10.0.1.1 80 {\n    weight 1",
                "real_server 10.0.1.1 80 {\n    weight 5",
            ),
        ];
        for (n, (from, to)) in edits.iter().enumerate() {
            let mut new = text.replacen(from, to, 1);
            assert_ne!(new, text, "edit {n}");
            if n == 7 {
                new = new.replacen(
                    "real_server 10.0.28.3 80 {\n    weight 3",
                    "real_server 10.0.28.3 80 {\n    weight 4",
                    1,
                );
            }
            let Reload::Partial(p) = lvs_config::reload(&a.loaded, &fs(&new)).unwrap() else {
                panic!("edit {n}: not a partial reload");
            };
            assert!(!p.has_errors());
            // What Daemon::apply_some does.
            let changes = a.loaded.apply(p);
            let positions: Vec<usize> = changes.iter().flat_map(|c| c.new.clone()).collect();
            let conf = &a.loaded.config;
            assert!(a.engine.reconfigure_some(
                t0,
                positions
                    .iter()
                    .map(|&i| (i, super::checkers::engine_vs(&a.loaded, i)))
                    .collect()
            ));
            a.plane.reconfigure_some(conf, &positions);
            // The full path.
            b.loaded = load(&new);
            b.engine.reconfigure(t0, engine_config(&b.loaded));
            b.plane.reconfigure();
            let (oa, pa) = a.ops();
            let (ob, _) = b.ops();
            a.pump();
            b.pump();
            assert_eq!(a.loaded, b.loaded, "edit {n}");
            assert_eq!(a.table(), b.table(), "edit {n}");
            let (oa2, pa2) = a.ops();
            let (ob2, _) = b.ops();
            assert_eq!(oa2 - oa, ob2 - ob, "edit {n}: operations");
            assert!(oa2 > oa, "edit {n}: something was applied");
            assert_eq!(pa2, pa + 1, "edit {n}: a partial update");
            text = new;
        }
        // A checker's weight: one service diffed, the same table as the full path.
        let vs = super::checkers::vs_key(&a.loaded.config.virtual_servers[3]);
        let dest: std::net::SocketAddr = "10.0.3.2:80".parse().unwrap();
        let (_, pa) = a.ops();
        a.plane.set_weight(&vs, dest, Some(42));
        a.plane.flush(&a.loaded.config);
        b.plane.set_weight(&vs, dest, Some(42));
        b.plane.reconfigure();
        b.plane.flush(&b.loaded.config);
        assert_eq!(a.table(), b.table());
        assert!(a.table().iter().any(|l| l.contains("weight: 42")));
        assert_eq!(a.ops().1, pa + 1);
    }

    /// The start-up's early apply (`Plane::early_apply` with `lvs_check::initial_weights`, then
    /// the engine's own weights published and flushed) leaves the backend and the ownership
    /// exactly as the sequential start (engine, weights, one flush) does, with no operation
    /// after the early apply when the prediction is right (alpha, inhibit_on_failure, sorry
    /// servers, quorum and hysteresis, fwmark, a group, two virtual servers sharing a key); a
    /// wrong prediction is corrected by the follow-up flush.
    #[test]
    fn early_apply_equals_sequential_start() {
        let mut text = String::from("global_defs {\n  router_id t\n}\n");
        text.push_str("virtual_server_group G {\n  192.0.2.200-202 80\n}\n");
        for i in 0..24u32 {
            let addr = match i {
                20 => "fwmark 9".to_owned(),
                21 => "group G".to_owned(),
                // Shares 192.0.2.1:80 with the first.
                22 => "192.0.2.1 80".to_owned(),
                _ => format!("192.0.2.{} 80", i + 1),
            };
            text.push_str(&format!(
                "virtual_server {addr} {{\n  delay_loop 5\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n"
            ));
            if i % 4 == 1 {
                text.push_str("  alpha\n");
            }
            if i % 3 == 0 {
                text.push_str("  sorry_server 10.9.9.9 80\n");
            }
            if i % 5 == 2 {
                text.push_str("  sorry_server 10.9.9.8 80\n  sorry_server_inhibit\n");
            }
            if i % 6 == 3 {
                text.push_str(&format!("  quorum {}\n  hysteresis 1\n", 4 + i % 4));
            }
            for j in 0..3u32 {
                text.push_str(&format!(
                    "  real_server 10.0.{i}.{} 80 {{\n    weight {}\n",
                    j + 1,
                    (i + j) % 4
                ));
                if (i + j) % 2 == 0 {
                    text.push_str("    inhibit_on_failure\n");
                }
                if j != 2 || i % 2 == 0 {
                    text.push_str("    TCP_CHECK {\n      connect_timeout 1\n");
                    if (i * 3 + j) % 5 == 0 {
                        text.push_str("      alpha\n");
                    }
                    text.push_str("    }\n");
                }
                text.push_str("  }\n");
            }
            text.push_str("}\n");
        }
        let loaded = lvs_config::parse_str("t.conf", &text);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let conf = &loaded.config;
        let t0 = Instant::now();
        let publish = |plane: &mut Plane| {
            let mut e = Engine::new(engine_config(&loaded), 1, t0);
            while let Some(a) = e.poll_action() {
                if let Action::SetWeight {
                    vs, dest, weight, ..
                } = a
                {
                    plane.set_weight(&vs, dest, weight);
                }
            }
            plane.flush(conf);
        };
        let table = |plane: &mut Plane| -> Vec<String> {
            let a = lvs_ipvs::reconcile::read_actual(plane.backend_mut()).unwrap();
            let mut v: Vec<String> = a
                .services
                .iter()
                .map(|(s, d)| {
                    // The kernel lists destinations newest first: compare them as a set.
                    let mut d: Vec<String> = d.iter().map(|d| format!("{:?}", d.dest)).collect();
                    d.sort();
                    format!("{:?} {d:?}", s.service)
                })
                .collect();
            v.sort();
            v
        };
        let ops = |plane: &Plane| plane.status()["ops_applied"].as_u64().unwrap();
        let model = || Plane::with_backend(Box::new(lvs_ipvs::model::Ipvs::default()));
        // The sequential start.
        let mut seq = model();
        publish(&mut seq);
        let seq_table = table(&mut seq);
        assert_eq!(seq_table.len(), 25);
        let weights = seq_table.iter().filter(|l| l.contains("weight: 0")).count();
        assert!(weights > 3, "some destinations inhibited at weight 0");
        let list = lvs_check::initial_weights(&engine_config(&loaded));
        let as_map =
            |l: Vec<(lvs_check::VsKey, std::net::SocketAddr, u32)>| -> super::plane::Published {
                l.into_iter().map(|(k, d, w)| ((k, d), w)).collect()
            };
        let predicted = as_map(list.clone());
        // The early start, prediction right: nothing left for the follow-up.
        let mut early = model();
        assert!(early.is_kernel_ipvs());
        early.early_apply(conf, predicted.clone(), None);
        let n = ops(&early);
        assert!(n > 0);
        assert_eq!(table(&mut early), seq_table);
        publish(&mut early);
        assert_eq!(ops(&early), n, "no operation after a right prediction");
        assert_eq!(table(&mut early), seq_table);
        assert_eq!(early.owned(), seq.owned());
        assert!(!early.status()["pending"].as_bool().unwrap());
        // Wrong predictions: a weight, a missing real server, one too many, a sorry server.
        let mut wrong = list.clone();
        wrong[0].2 += 7;
        wrong.remove(3);
        let extra = (wrong[5].0.clone(), "10.0.99.1:80".parse().unwrap(), 2);
        wrong.push(extra);
        let k0 = wrong[0].0.clone();
        wrong.push((k0, "10.9.9.9:80".parse().unwrap(), 1));
        let mut fixed = model();
        fixed.early_apply(conf, as_map(wrong), None);
        assert_ne!(table(&mut fixed), seq_table);
        let n = ops(&fixed);
        publish(&mut fixed);
        assert!(ops(&fixed) > n, "the follow-up corrected something");
        assert_eq!(table(&mut fixed), seq_table);
        assert_eq!(fixed.owned(), seq.owned());
        // An empty prediction (everything alpha, say): the follow-up adds every destination.
        let mut empty = model();
        empty.early_apply(conf, Default::default(), None);
        publish(&mut empty);
        assert_eq!(table(&mut empty), seq_table);
        assert_eq!(empty.owned(), seq.owned());
    }

    /// Drives the engine's weights into the in-process IPVS model through the same plane code
    /// the kernel uses, and reads the result back from the backend.
    #[test]
    fn weights_reach_the_ipvs_backend() {
        let loaded = lvs_config::parse_str("t.conf", CONF);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let model = lvs_ipvs::model::Ipvs::default();
        let mut plane = Plane::with_backend(Box::new(model));
        let t0 = Instant::now();
        let mut e = Engine::new(engine_config(&loaded), 1, t0);
        let mut runs = Vec::new();
        let pump =
            |e: &mut Engine,
             plane: &mut Plane,
             runs: &mut Vec<(lvs_check::RunId, std::sync::Arc<lvs_check::ProbeSpec>)>| {
                while let Some(a) = e.poll_action() {
                    match a {
                        Action::SetWeight {
                            vs, dest, weight, ..
                        } => plane.set_weight(&vs, dest, weight),
                        Action::StartProbe { run, spec, .. } => runs.push((run, spec)),
                        _ => {}
                    }
                }
                plane.flush(&loaded.config);
            };
        pump(&mut e, &mut plane, &mut runs);
        let key = ServiceKey::Addr {
            proto: lvs_ipvs::admin::Protocol::Tcp,
            addr: "192.0.2.1".parse().unwrap(),
            port: 80,
        };
        let dests = |plane: &mut Plane| -> Vec<(String, u32)> {
            let mut v: Vec<(String, u32)> = plane
                .backend_mut()
                .dests(&key)
                .unwrap()
                .into_iter()
                .map(|d| (format!("{}:{}", d.dest.addr, d.dest.port), d.dest.weight))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            dests(&mut plane),
            vec![("10.0.0.1:80".into(), 3), ("10.0.0.2:80".into(), 4)]
        );
        // Both fail: .1 leaves, .2 stays at 0, quorum is lost and the sorry server comes in.
        e.handle_timeout(t0 + std::time::Duration::from_secs(7));
        pump(&mut e, &mut plane, &mut runs);
        for (run, _) in runs.drain(..) {
            e.handle_result(
                t0 + std::time::Duration::from_secs(7),
                run,
                lvs_check::ProbeResult::down("refused"),
            );
        }
        pump(&mut e, &mut plane, &mut runs);
        e.handle_timeout(t0 + std::time::Duration::from_secs(9));
        pump(&mut e, &mut plane, &mut runs);
        for (run, _) in runs.drain(..) {
            e.handle_result(
                t0 + std::time::Duration::from_secs(9),
                run,
                lvs_check::ProbeResult::down("refused"),
            );
        }
        pump(&mut e, &mut plane, &mut runs);
        assert_eq!(
            dests(&mut plane),
            vec![("10.0.0.2:80".into(), 0), ("10.0.0.99:80".into(), 1)]
        );
    }
}

/// The cold start's user-space path natively, phase by phase (no kernel: the in-process IPVS
/// model stands in for it), for profiling: `LVSD_COLD_CONF=bench.conf cargo test --release -p
/// lvsd cold_path_phases -- --ignored --nocapture` (bench/ipvs-apply/gen-config.sh makes the
/// benchmark's configuration).
#[cfg(test)]
mod cold_path {
    use std::time::Instant;

    use lvs_ipvs::admin::{
        AdminError, ConnEntry, Daemon, DaemonState, Dest, DestEntry, DestKey, Info, IpvsBackend,
        Service, ServiceEntry, ServiceKey, Timeouts,
    };
    use lvs_ipvs::reconcile::Op;

    fn status(field: &str) -> String {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or("")
            .to_string()
    }

    /// An empty kernel that only encodes what it is sent (the user-space share of a send).
    #[derive(Default)]
    struct Encodes {
        buf: Vec<u8>,
        seq: u32,
    }

    impl IpvsBackend for Encodes {
        fn info(&mut self) -> Result<Info, AdminError> {
            Ok(Info {
                version: 0x010201,
                conn_tab_size: 4096,
            })
        }
        fn services(&mut self) -> Result<Vec<ServiceEntry>, AdminError> {
            Ok(vec![])
        }
        fn service(&mut self, _: &ServiceKey) -> Result<Option<ServiceEntry>, AdminError> {
            Ok(None)
        }
        fn dests(&mut self, _: &ServiceKey) -> Result<Vec<DestEntry>, AdminError> {
            Ok(vec![])
        }
        fn add_service(&mut self, _: &Service) -> Result<(), AdminError> {
            Ok(())
        }
        fn edit_service(&mut self, _: &Service) -> Result<(), AdminError> {
            Ok(())
        }
        fn del_service(&mut self, _: &ServiceKey) -> Result<(), AdminError> {
            Ok(())
        }
        fn add_dest(&mut self, _: &ServiceKey, _: &Dest) -> Result<(), AdminError> {
            Ok(())
        }
        fn edit_dest(&mut self, _: &ServiceKey, _: &Dest) -> Result<(), AdminError> {
            Ok(())
        }
        fn del_dest(&mut self, _: &ServiceKey, _: &DestKey) -> Result<(), AdminError> {
            Ok(())
        }
        fn flush(&mut self) -> Result<(), AdminError> {
            Ok(())
        }
        fn zero(&mut self, _: Option<&ServiceKey>) -> Result<(), AdminError> {
            Ok(())
        }
        fn timeouts(&mut self) -> Result<Timeouts, AdminError> {
            Ok(Timeouts::default())
        }
        fn set_timeouts(&mut self, _: &Timeouts) -> Result<(), AdminError> {
            Ok(())
        }
        fn daemons(&mut self) -> Result<Vec<Daemon>, AdminError> {
            Ok(vec![])
        }
        fn start_daemon(&mut self, _: &Daemon) -> Result<(), AdminError> {
            Ok(())
        }
        fn stop_daemon(&mut self, _: DaemonState) -> Result<(), AdminError> {
            Ok(())
        }
        fn connections(&mut self) -> Result<Vec<ConnEntry>, AdminError> {
            Ok(vec![])
        }
        fn execute_ops(&mut self, ops: &[Op]) -> Vec<Result<(), AdminError>> {
            ops.iter()
                .map(|op| {
                    if self.buf.len() > 1 << 16 {
                        self.buf.clear();
                    }
                    self.seq += 1;
                    let h = lvs_ipvs_nl::append::FrameHeader {
                        family_id: 30,
                        flags: 1,
                        seq: self.seq,
                        pid: 0,
                    };
                    if !lvs_ipvs_nl::append::append_op(&mut self.buf, h, op) {
                        let m = lvs_ipvs_nl::req_for_op(op);
                        self.buf
                            .extend(lvs_ipvs_nl::encode_frame(30, 1, self.seq, 0, m));
                    }
                    Ok(())
                })
                .collect()
        }
    }

    #[test]
    #[ignore]
    fn cold_path_phases() {
        let Some(path) = std::env::var_os("LVSD_COLD_CONF") else {
            return;
        };
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let t = Instant::now();
        let loaded = super::load_config(std::path::Path::new(&path)).unwrap();
        let t_load = t.elapsed();
        let t = Instant::now();
        let cfg = super::checkers::engine_config(&loaded);
        let predicted: super::plane::Published = lvs_check::initial_weights(&cfg)
            .into_iter()
            .map(|(k, d, w)| ((k, d), w))
            .collect();
        let t_pred = t.elapsed();
        let t = Instant::now();
        let mut plane = super::plane::Plane::with_backend(Box::new(Encodes::default()));
        plane.early_apply(&loaded.config, predicted, None);
        let t_apply = t.elapsed();
        let t = Instant::now();
        let engine = lvs_check::Engine::new(cfg, 1, Instant::now());
        let t_engine = t.elapsed();
        println!(
            "load {t_load:?} prediction {t_pred:?} early apply {t_apply:?} engine {t_engine:?} ({} probes); {} {}",
            engine.probe_count(),
            status("VmHWM"),
            status("VmRSS")
        );
    }
}
