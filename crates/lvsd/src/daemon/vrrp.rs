//! VRRP driver: the async plumbing around the sans-IO `lvs_vrrp::Engine`.
//!
//! # API (for `lvsd run`)
//!
//! ```ignore
//! let handle = VrrpHandle::default();                 // cheap to clone; query any time
//! let (tx, rx) = tokio::sync::mpsc::channel(64);      // VrrpEvent stream (state changes)
//! run_vrrp(&loaded, handle.clone(), tx, shutdown_future).await?;  // returns after shutdown
//! handle.snapshot() -> Vec<lvs_vrrp::InstanceStatus>  // name, state, priorities, counters
//! handle.reload(new_loaded, signature)                // SIGHUP: applied in place; the
//!                                                     // receiver gets Ok or the refusal
//! ```
//!
//! * `run_vrrp(cfg, handle, events, shutdown)` maps `lvs_config::Config` onto
//!   `lvs_vrrp::EngineCfg` ([`engine_cfg`]; errors name the instance), opens
//!   one raw VRRP socket per (interface, family), starts the tracking tasks
//!   (`vrrp_script` runner, `track_file` poller, rtnetlink link monitor) and
//!   runs the engine until `shutdown` resolves; then the engine's shutdown
//!   actions (priority-0 adverts, VIP removal, STOP notifies) are executed
//!   before it returns.
//! * Every state change is sent as a [`VrrpEvent`] (never blocks the loop:
//!   `try_send`) and reflected in [`VrrpHandle::snapshot`].
//! * Notify scripts run without a shell: `notify_master/backup/fault/stop`
//!   with their configured argv, then `notify` with keepalived's extra
//!   arguments `INSTANCE|GROUP name STATE priority`; every change is also
//!   written to `notify_fifo` / `vrrp_notify_fifo` (`INSTANCE "VI_1" MASTER
//!   100`). Scripts run as `script_user` (default `keepalived_script`, else
//!   root with a warning) and are checked as keepalived does
//!   (`enable_script_security` disables unsafe ones), at start and reload.
//! * On MASTER the instance's VIPs, then `virtual_routes`, then
//!   `virtual_rules` are installed; leaving MASTER removes them in reverse.
//!   `use_vmac` interfaces are created at start and deleted at stop.
//! * [`VrrpHandle::reload`] applies a new configuration in place
//!   (`Engine::reconfigure`: states kept, VIP/route edits, removed instances
//!   leave with priority 0, new ones start in BACKUP) and answers whether it
//!   did; only an accepted configuration becomes
//!   [`VrrpHandle::applied_signature`], so a refused one is tried again by
//!   the next reload.
//!
//! ```text
//!  VrrpSocket rx (per if/family) ─┐
//!  LinkMonitor (rtnetlink) ───────┤
//!  vrrp_script runners ───────────┼─► mpsc ─► [ engine loop ] ─► lvs_sys (send advert,
//!  track_file pollers ────────────┘              ▲   │            VIP add/del, GARP/NA)
//!         sleep_until(poll_timeout) ─────────────┘   └─► notify scripts, VrrpEvent, snapshot
//!         shutdown future ─────────────────────────────► handle_shutdown + drain
//! ```
//!
//! One task, on a thread and runtime of its own (`vrrp_priority` /
//! `vrrp_rt_priority` set that thread's nice / SCHED_RR priority), drives
//! every instance and sync group (one engine): the raw
//! sockets are per interface, and demultiplexing by VRID inside one engine
//! is what makes "unknown VRID" counters meaningful.
#![allow(dead_code)] // Also compiled into the lvs-sys `vrrpd` example, which uses only part of the API.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use lvs_config::{AuthType, Broadcast, Config, Loaded, RawLine, Script, Span, VrrpState};
use lvs_sys::addr::{self, AddrSpec, LinkMonitor, NlBatch, PendingAcks, Rtnl};
use lvs_sys::route::{RouteSpec, RuleSpec};
use lvs_sys::script::{self, RunAs};
use lvs_sys::vmac;
use lvs_sys::vrrp::{FrameSender, VrrpSocket};
use lvs_vrrp::config::{AuthCfg, FileCfg, TrackFile, TrackInterface, TrackScript, UnicastPeer};
use lvs_vrrp::{
    Action, Engine, EngineCfg, InstanceCfg, InstanceStatus, NotifyKind, RxPacket, ScriptCfg, State,
    SyncGroupCfg, Vip,
};
use lvs_wire::{ArpRepr, Family, MacAddr, NeighborAdvertRepr, VrrpVersion};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// A state change, as reported to `notify` scripts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct VrrpEvent {
    /// INSTANCE or GROUP.
    pub kind: NotifyKind,
    /// Instance or group name.
    pub name: String,
    /// New state.
    pub state: State,
    /// Effective priority (0 for groups).
    pub priority: u8,
}

/// Shared, always-current view of the instances (for status / metrics).
#[derive(Debug, Clone, Default)]
pub(crate) struct VrrpHandle {
    inner: Arc<Mutex<Vec<InstanceStatus>>>,
    reload: Arc<Mutex<Option<mpsc::UnboundedSender<ReloadReq>>>>,
    /// Signature of the VRRP configuration the driver runs (set by the daemon at start, by
    /// the driver when it accepts a reload).
    applied: Arc<Mutex<String>>,
}

/// The driver's answer to a reload: Ok, or why it refused (the running configuration is kept).
pub(crate) type ReloadOutcome = tokio::sync::oneshot::Receiver<Result<(), String>>;

/// A configuration to apply in place, with its signature and where to answer.
#[derive(Debug)]
pub(crate) struct ReloadReq {
    loaded: Loaded,
    signature: String,
    reply: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// The control socket's reply to a reload whose VRRP part was sent to the driver: `msg` once
/// the driver accepted it, an error naming the refusal otherwise.
pub(crate) async fn reload_reply(msg: String, outcome: ReloadOutcome) -> Result<String, String> {
    match tokio::time::timeout(Duration::from_secs(20), outcome).await {
        Ok(Ok(Ok(()))) => Ok(msg),
        Ok(Ok(Err(e))) => Err(format!(
            "{msg} except VRRP: the VRRP configuration was refused, VRRP keeps running the \
             previous one (the next reload tries again):\n{e}"
        )),
        Ok(Err(_)) => Err(format!(
            "{msg} except VRRP: the VRRP driver stopped before applying it"
        )),
        Err(_) => Err(format!(
            "{msg}; the VRRP driver has not answered within 20 s (still applying?)"
        )),
    }
}

impl VrrpHandle {
    /// Instances with state, priorities and counters.
    pub(crate) fn snapshot(&self) -> Vec<InstanceStatus> {
        self.inner.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Apply a new (already validated) configuration in place; `signature` becomes
    /// [`Self::applied_signature`] once the driver accepted it. None if the driver is not
    /// running.
    pub(crate) fn reload(&self, loaded: Loaded, signature: String) -> Option<ReloadOutcome> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let req = ReloadReq {
            loaded,
            signature,
            reply,
        };
        let g = self.reload.lock().ok()?;
        g.as_ref()?.send(req).ok()?;
        Some(rx)
    }

    /// Signature of the VRRP configuration the driver runs.
    pub(crate) fn applied_signature(&self) -> String {
        self.applied.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Record the signature of the configuration the driver runs.
    pub(crate) fn set_applied(&self, signature: String) {
        if let Ok(mut g) = self.applied.lock() {
            *g = signature;
        }
    }

    fn set(&self, v: Vec<InstanceStatus>) {
        if let Ok(mut g) = self.inner.lock() {
            *g = v;
        }
    }
}

/// The VRRP part of a reload: the configuration now loaded (whose VRRP part has `signature`)
/// goes to the driver unless it already runs it (applied in place, states kept). The driver
/// records the signature only if it accepts the configuration, so a refused one is sent again
/// by the next reload, even one whose text did not change. Returns the driver's pending answer.
pub(crate) fn reload_if_changed(
    handle: &VrrpHandle,
    loaded: &Loaded,
    signature: String,
) -> Option<ReloadOutcome> {
    if signature == handle.applied_signature() {
        return None;
    }
    let r = handle.reload(loaded.clone(), signature);
    if r.is_none() {
        warn!("VRRP driver not running: VRRP settings not reloaded");
    }
    r
}

/// Map keepalived.conf onto the engine's configuration. Interface primary
/// addresses are looked up (keepalived's default source address).
pub(crate) fn engine_cfg(cfg: &Config) -> anyhow::Result<EngineCfg> {
    let g = &cfg.global_defs;
    let mut rtnl = Rtnl::open().context("rtnetlink")?;
    let mut out = EngineCfg::default();
    for vi in &cfg.vrrp_instances {
        let name = vi.name.clone();
        let interface = vi
            .interface
            .clone()
            .or_else(|| g.default_interface.clone())
            .ok_or_else(|| anyhow!("vrrp_instance {name}: no interface"))?;
        let authentication = match &vi.authentication {
            None => AuthCfg::None,
            Some(a) if a.auth_type == AuthType::Pass => AuthCfg::Pass(a.auth_pass.clone()),
            Some(_) => bail!(
                "vrrp_instance {name}: auth_type AH (IPsec AH, RFC 2338) is not supported by lvsd; use PASS or no authentication"
            ),
        };
        let family = vi
            .virtual_ipaddress
            .first()
            .map(|v| Family::of(v.addr))
            .or_else(|| vi.unicast_peer.first().map(|p| Family::of(p.addr)))
            .unwrap_or(Family::Inet);
        let version = if vi.version == 3 || family == Family::Inet6 {
            VrrpVersion::V3
        } else {
            VrrpVersion::V2
        };
        let src_ip = match vi.unicast_src_ip.or(vi.mcast_src_ip) {
            Some(a) => Some(a),
            None => {
                let idx =
                    addr::ifindex(&interface).with_context(|| format!("vrrp_instance {name}"))?;
                rtnl.primary_address(idx, family == Family::Inet6)?
            }
        };
        let vmac = vmac_of(vi, family).map(|(n, _)| n);
        let vip = |v: &lvs_config::VirtualIpAddress| Vip {
            addr: v.addr,
            prefix: v.prefix,
            dev: v.dev.clone().or_else(|| vmac.clone()),
            brd: v.brd.and_then(|b| broadcast(v.addr, v.prefix, b)),
            scope: v.scope.clone(),
            label: v.label.clone(),
        };
        let strict = vi.strict_mode.unwrap_or(g.vrrp_strict);
        let garp_master_repeat = vi.garp_master_repeat.unwrap_or(g.vrrp_garp_master_repeat);
        out.instances.push(InstanceCfg {
            name: name.clone(),
            interface,
            virtual_router_id: vi.virtual_router_id,
            priority: vi.priority,
            state_master: vi.state == VrrpState::Master,
            version,
            family,
            advert_int: vi.advert_int,
            authentication,
            virtual_ipaddress: vi.virtual_ipaddress.iter().map(vip).collect(),
            virtual_ipaddress_excluded: vi.virtual_ipaddress_excluded.iter().map(vip).collect(),
            src_ip,
            unicast_peer: vi
                .unicast_peer
                .iter()
                .map(|p| UnicastPeer {
                    addr: p.addr,
                    min_ttl: p.min_ttl,
                    max_ttl: p.max_ttl,
                })
                .collect(),
            unicast_ttl: vi.unicast_ttl.unwrap_or(255),
            check_unicast_src: vi.check_unicast_src || g.vrrp_check_unicast_src,
            nopreempt: vi.nopreempt,
            preempt_delay: vi.preempt_delay,
            garp_master_delay: vi.garp_master_delay.unwrap_or(g.vrrp_garp_master_delay),
            garp_master_repeat,
            garp_master_refresh: vi.garp_master_refresh.unwrap_or(g.vrrp_garp_master_refresh),
            garp_master_refresh_repeat: vi
                .garp_master_refresh_repeat
                .unwrap_or(g.vrrp_garp_master_refresh_repeat),
            garp_lower_prio_repeat: vi
                .garp_lower_prio_repeat
                .or(g.vrrp_garp_lower_prio_repeat)
                .unwrap_or(garp_master_repeat),
            down_timer_adverts: vi.down_timer_adverts.unwrap_or(g.vrrp_down_timer_adverts),
            lower_prio_no_advert: vi
                .lower_prio_no_advert
                .or(g.vrrp_lower_prio_no_advert)
                .unwrap_or(strict),
            higher_prio_send_advert: vi
                .higher_prio_send_advert
                .unwrap_or(g.vrrp_higher_prio_send_advert),
            owner_ignore_adverts: g.vrrp_owner_ignore_adverts,
            skip_check_adv_addr: vi.skip_check_adv_addr.unwrap_or(g.vrrp_skip_check_adv_addr),
            v3_checksum_as_v2: g.v3_checksum_as_v2,
            strict_mode: strict,
            dont_track_primary: vi.dont_track_primary,
            track_interface: vi
                .track_interface
                .iter()
                .map(|t| TrackInterface {
                    name: t.name.clone(),
                    weight: t.weight.unwrap_or(0),
                    reverse: t.reverse,
                })
                .collect(),
            track_script: vi
                .track_script
                .iter()
                .map(|t| TrackScript {
                    name: t.name.clone(),
                    weight: t.weight,
                    reverse: t.reverse,
                })
                .collect(),
            track_file: vi
                .track_file
                .iter()
                .map(|t| TrackFile {
                    name: t.name.clone(),
                    weight: t.weight,
                    reverse: t.reverse,
                })
                .collect(),
            ..Default::default()
        });
    }
    for sg in &cfg.vrrp_sync_groups {
        out.sync_groups.push(SyncGroupCfg {
            name: sg.name.clone(),
            group: sg.group.clone(),
            track_interface: sg
                .track_interface
                .iter()
                .map(|t| TrackInterface {
                    name: t.name.clone(),
                    weight: t.weight.unwrap_or(0),
                    reverse: t.reverse,
                })
                .collect(),
            track_script: sg
                .track_script
                .iter()
                .map(|t| TrackScript {
                    name: t.name.clone(),
                    weight: t.weight,
                    reverse: t.reverse,
                })
                .collect(),
            track_file: sg
                .track_file
                .iter()
                .map(|t| TrackFile {
                    name: t.name.clone(),
                    weight: t.weight,
                    reverse: t.reverse,
                })
                .collect(),
        });
    }
    out.scripts = cfg
        .vrrp_scripts
        .iter()
        .map(|s| ScriptCfg {
            name: s.name.clone(),
            weight: s.weight,
            reverse: s.weight_reverse,
            rise: s.rise,
            fall: s.fall,
            init_fail: s.init_fail,
        })
        .collect();
    out.files = cfg
        .track_files
        .iter()
        .map(|f| FileCfg {
            name: f.name.clone(),
            weight: f.weight,
            reverse: f.reverse,
        })
        .collect();
    Ok(out)
}

fn broadcast(addr: IpAddr, prefix: u8, b: Broadcast) -> Option<IpAddr> {
    let IpAddr::V4(a) = addr else { return None };
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    Some(IpAddr::V4(match b {
        Broadcast::Addr(x) => x,
        Broadcast::Plus => Ipv4Addr::from(u32::from(a) | !mask),
        Broadcast::Minus => Ipv4Addr::from(u32::from(a) & mask),
    }))
}

// ===== scripts: user, security, spawning =====

/// A script ready to run: argv (the program realpath-resolved when it could
/// be checked) and the user/group it runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prepared {
    pub(crate) argv: Vec<String>,
    pub(crate) run_as: RunAs,
}

/// `script_user` / `enable_script_security`, resolved once per load.
#[derive(Debug, Clone)]
pub(crate) struct ScriptPolicy {
    default_user: RunAs,
    security: bool,
    files: Vec<PathBuf>,
}

impl ScriptPolicy {
    /// keepalived: `script_user` if given, else `keepalived_script` if that
    /// user exists, else the user lvsd runs as (root, with a warning when VRRP scripts are
    /// configured).
    fn new(loaded: &Loaded) -> Self {
        Self::with_root_warning(loaded, uses_scripts(&loaded.config))
    }

    /// Like [`ScriptPolicy::new`]; `warn_root`: warn when scripts will run as root because
    /// neither `script_user` nor `keepalived_script` exists (the checkers pass whether they
    /// run scripts).
    pub(crate) fn with_root_warning(loaded: &Loaded, warn_root: bool) -> Self {
        let g = &loaded.config.global_defs;
        let me = RunAs {
            uid: script::current_uid(),
            gid: script::current_gid(),
        };
        let default_user = match &g.script_user {
            Some(u) => match script::resolve(&u.user, u.group.as_deref()) {
                Ok(r) => r,
                Err(e) => {
                    error!("script_user: {e}; scripts run as uid {}", me.uid);
                    me
                }
            },
            None => match script::lookup_user("keepalived_script") {
                Ok(Some(r)) => r,
                _ => {
                    if me.uid == 0 && warn_root {
                        warn!("default user 'keepalived_script' for script execution does not exist - please create it, or set script_user; scripts run as root");
                    }
                    me
                }
            },
        };
        Self {
            default_user,
            security: g.enable_script_security,
            files: loaded.files.clone(),
        }
    }

    fn at(&self, span: Span) -> String {
        let f = self
            .files
            .get(span.file as usize)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "?".into());
        format!("{f}:{}", span.line)
    }

    /// Resolve the user, check the script (keepalived.md §8). A script that
    /// cannot run, or an insecure one under `enable_script_security`, is
    /// disabled (`None`) with an error naming file:line; an insecure one
    /// without it runs, with a SECURITY VIOLATION warning.
    pub(crate) fn prepare(&self, s: &Script, kw: &str) -> Option<Prepared> {
        let at = self.at(s.span);
        let Some(prog) = s.args.first() else {
            error!("{at}: {kw}: empty command - disabling");
            return None;
        };
        let run_as = match &s.user {
            None => self.default_user,
            Some(u) => match script::resolve(&u.user, u.group.as_deref()) {
                Ok(r) => r,
                Err(e) => {
                    error!("{at}: {kw}: {e} - disabling");
                    return None;
                }
            },
        };
        let mut argv = s.args.clone();
        let path = find_program(prog);
        match script::check_script_secure(&path, run_as) {
            Ok(real) => argv[0] = real.display().to_string(),
            Err(e) if !path.exists() || e.contains("not executable") || e.contains("not a regular") => {
                error!("{at}: {kw}: {e} - disabling");
                return None;
            }
            Err(e) if self.security => {
                error!("{at}: {kw}: {e} - disabling (enable_script_security)");
                return None;
            }
            Err(e) => warn!("{at}: {kw}: SECURITY VIOLATION - {e}; it runs anyway because enable_script_security is not set"),
        }
        Some(Prepared { argv, run_as })
    }
}

/// The checkers' notify scripts (`notify_up` / `notify_down` / `quorum_up` / `quorum_down`),
/// prepared as keepalived prepares them (`script_user` or the script's own user,
/// `enable_script_security`), keyed by the argv the checker engine carries in its notify
/// actions. A script refused here (insecure, missing, unknown user) is logged with file:line
/// once, at load, and never runs.
#[derive(Debug, Default)]
pub(crate) struct CheckScripts {
    by_argv: HashMap<Vec<String>, Option<Prepared>>,
}

impl CheckScripts {
    pub(crate) fn new(loaded: &Loaded) -> Self {
        let mut out = CheckScripts::default();
        out.add(loaded, 0..loaded.config.virtual_servers.len());
        out
    }

    /// Prepares the scripts of the virtual servers at `positions` not prepared yet (a reload
    /// of a few virtual servers; entries no longer used are harmless).
    pub(crate) fn add(&mut self, loaded: &Loaded, positions: impl IntoIterator<Item = usize>) {
        let mut pol: Option<ScriptPolicy> = None;
        let mut add = |s: &Option<Script>, kw: &str| {
            let Some(s) = s else { return };
            if self.by_argv.contains_key(&s.args) {
                return;
            }
            let pol = pol.get_or_insert_with(|| ScriptPolicy::new(loaded));
            self.by_argv.insert(s.args.clone(), pol.prepare(s, kw));
        };
        for vs in positions
            .into_iter()
            .filter_map(|i| loaded.config.virtual_servers.get(i))
        {
            add(&vs.quorum_up, "quorum_up");
            add(&vs.quorum_down, "quorum_down");
            for rs in &vs.real_servers {
                add(&rs.notify_up, "notify_up");
                add(&rs.notify_down, "notify_down");
            }
        }
    }

    /// Runs the script configured as `argv` (no shell, no extra arguments, as keepalived),
    /// not waited for; its exit status is logged.
    pub(crate) fn run(&self, argv: &[String], why: &str) {
        let Some(Some(p)) = self.by_argv.get(argv) else {
            debug!(script = ?argv, event = %why, "notify script disabled");
            return;
        };
        let Some(mut child) = spawn_script(p, &[]) else {
            return;
        };
        let (prog, why) = (p.argv[0].clone(), why.to_owned());
        tokio::spawn(async move {
            match child.wait().await {
                Ok(s) if s.success() => debug!(script = %prog, event = %why, "notify script done"),
                Ok(s) => warn!(script = %prog, event = %why, status = %s, "notify script failed"),
                Err(e) => {
                    warn!(script = %prog, event = %why, error = %e, "notify script wait failed")
                }
            }
        });
    }
}

fn uses_scripts(c: &Config) -> bool {
    c.vrrp_scripts.iter().any(|s| s.script.is_some())
        || c.vrrp_instances.iter().any(|v| {
            v.notify.is_some()
                || v.notify_master.is_some()
                || v.notify_backup.is_some()
                || v.notify_fault.is_some()
                || v.notify_stop.is_some()
        })
}

/// An absolute program as is; a bare name searched in PATH (as exec does).
fn find_program(prog: &str) -> PathBuf {
    let p = Path::new(prog);
    if prog.contains('/') {
        return p.to_path_buf();
    }
    std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(prog))
                .find(|c| c.is_file())
        })
        .unwrap_or_default()
        .unwrap_or_else(|| p.to_path_buf())
}

/// Spawn a prepared script without a shell, with `extra` arguments appended,
/// as its user; never waits.
fn spawn_script(p: &Prepared, extra: &[String]) -> Option<tokio::process::Child> {
    let (prog, args) = p.argv.split_first()?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .args(extra)
        .stdin(std::process::Stdio::null());
    if p.run_as.uid != script::current_uid() || p.run_as.gid != script::current_gid() {
        cmd.uid(p.run_as.uid).gid(p.run_as.gid);
    }
    match cmd.spawn() {
        Ok(c) => Some(c),
        Err(e) => {
            warn!(command = %p.argv.join(" "), error = %e, "cannot run script");
            None
        }
    }
}

/// Scripts attached to instances and groups, by name.
#[derive(Debug, Default, Clone)]
struct Notifiers {
    by_name: HashMap<String, NotifyScripts>,
}

#[derive(Debug, Default, Clone)]
struct NotifyScripts {
    master: Option<Prepared>,
    backup: Option<Prepared>,
    fault: Option<Prepared>,
    stop: Option<Prepared>,
    notify: Option<Prepared>,
    master_rx_lower_pri: Option<Prepared>,
    /// `notify_deleted`.
    deleted: Option<Prepared>,
    /// The instance was removed by the reload being applied.
    removed: bool,
}

/// Runtime facts of a `vrrp_script` (`None`: disabled, every run fails).
#[derive(Debug, Clone)]
struct ScriptRun {
    name: String,
    script: Option<Prepared>,
    interval: Duration,
    timeout: Duration,
}

fn notifiers(cfg: &Config, pol: &ScriptPolicy) -> Notifiers {
    let prep = |s: &Option<Script>, kw: &str| s.as_ref().and_then(|s| pol.prepare(s, kw));
    let mut n = Notifiers::default();
    for vi in &cfg.vrrp_instances {
        n.by_name.insert(
            format!("I:{}", vi.name),
            NotifyScripts {
                master: prep(&vi.notify_master, "notify_master"),
                backup: prep(&vi.notify_backup, "notify_backup"),
                fault: prep(&vi.notify_fault, "notify_fault"),
                stop: prep(&vi.notify_stop, "notify_stop"),
                notify: prep(&vi.notify, "notify"),
                master_rx_lower_pri: prep(
                    &vi.notify_master_rx_lower_pri,
                    "notify_master_rx_lower_pri",
                ),
                deleted: prep(&vi.notify_deleted, "notify_deleted"),
                removed: false,
            },
        );
    }
    for sg in &cfg.vrrp_sync_groups {
        n.by_name.insert(
            format!("G:{}", sg.name),
            NotifyScripts {
                master: prep(&sg.notify_master, "notify_master"),
                backup: prep(&sg.notify_backup, "notify_backup"),
                fault: prep(&sg.notify_fault, "notify_fault"),
                stop: prep(&sg.notify_stop, "notify_stop"),
                notify: prep(&sg.notify, "notify"),
                master_rx_lower_pri: None,
                deleted: None,
                removed: false,
            },
        );
    }
    n
}

// ===== notify FIFOs =====

/// `notify_fifo` / `vrrp_notify_fifo` (the VRRP driver) and `notify_fifo` / `lvs_notify_fifo`
/// (the checkers): one line per state change, in order (keepalived.md §3.13), written without
/// ever blocking the engine.
#[derive(Debug, Default)]
pub(crate) struct Fifos {
    open: Vec<(PathBuf, std::fs::File)>,
    /// `*_fifo_script` processes (they get the FIFO path as last argument).
    readers: Vec<tokio::process::Child>,
    lost: u64,
}

/// The FIFOs of a configuration and their scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FifoCfg {
    /// Each FIFO with the owner it gets when lvsd creates it.
    paths: Vec<(PathBuf, Option<lvs_config::ScriptUser>)>,
    scripts: Vec<(Prepared, PathBuf)>,
}

/// One FIFO a writer uses: its path and owner from `global_defs`, and the keyword of its
/// `*_fifo_script` when this writer is the one that starts that script.
type FifoDef<'a> = (
    &'a Option<String>,
    &'a Option<lvs_config::ScriptUser>,
    Option<&'static str>,
);

/// The VRRP driver's FIFOs: `notify_fifo` and `vrrp_notify_fifo`, with their scripts.
fn fifo_cfg(cfg: &Config, pol: &ScriptPolicy) -> FifoCfg {
    let g = &cfg.global_defs;
    fifo_cfg_of(
        cfg,
        pol,
        &[
            (
                &g.notify_fifo,
                &g.notify_fifo_owner,
                Some("notify_fifo_script"),
            ),
            (
                &g.vrrp_notify_fifo,
                &g.vrrp_notify_fifo_owner,
                Some("vrrp_notify_fifo_script"),
            ),
        ],
    )
}

/// The checkers' FIFOs: `notify_fifo` and `lvs_notify_fifo`. Both writers share `notify_fifo`;
/// its script is started once, by the VRRP driver when one runs (`vrrp_running`), else here.
pub(crate) fn lvs_fifo_cfg(loaded: &Loaded, vrrp_running: bool) -> FifoCfg {
    let g = &loaded.config.global_defs;
    let defs: [FifoDef<'_>; 2] = [
        (
            &g.notify_fifo,
            &g.notify_fifo_owner,
            (!vrrp_running).then_some("notify_fifo_script"),
        ),
        (
            &g.lvs_notify_fifo,
            &g.lvs_notify_fifo_owner,
            Some("lvs_notify_fifo_script"),
        ),
    ];
    if defs.iter().all(|(p, _, _)| p.is_none()) {
        return FifoCfg::default();
    }
    fifo_cfg_of(&loaded.config, &ScriptPolicy::new(loaded), &defs)
}

fn fifo_cfg_of(cfg: &Config, pol: &ScriptPolicy, defs: &[FifoDef<'_>]) -> FifoCfg {
    let g = &cfg.global_defs;
    let mut out = FifoCfg::default();
    for &(path, owner, script_kw) in defs {
        let Some(p) = path else { continue };
        let p = PathBuf::from(p);
        if !out.paths.iter().any(|(q, _)| *q == p) {
            out.paths.push((p.clone(), owner.clone()));
        }
        let Some(script_kw) = script_kw else { continue };
        // `*_fifo_script "CMD ARGS" [user [group]]` (kept as written by lvs-config).
        if let Some(b) = g.other.iter().find(|b| b.keyword == script_kw) {
            let mut words = b.args.iter();
            let args: Vec<String> = words
                .next()
                .map(|c| c.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            let user = words.next().map(|u| {
                let (user, group) = match u.split_once(':') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (u.clone(), words.next().cloned()),
                };
                lvs_config::ScriptUser { user, group }
            });
            let s = Script {
                command: args.join(" "),
                args,
                user,
                span: b.span,
            };
            if let Some(prep) = pol.prepare(&s, script_kw) {
                out.scripts.push((prep, p));
            }
        }
    }
    out
}

impl Fifos {
    pub(crate) fn open(cfg: &FifoCfg) -> Self {
        let mut f = Fifos::default();
        for (p, owner) in &cfg.paths {
            // `notify_fifo PATH USER [GROUP]`: a FIFO created here gets that owner.
            let owner = owner.as_ref().and_then(|o| {
                script::resolve(&o.user, o.group.as_deref())
                    .inspect_err(|e| {
                        error!(fifo = %p.display(), error = %e, "notify FIFO owner: created as root")
                    })
                    .ok()
            });
            match script::open_fifo_owned(p, owner) {
                Ok(file) => f.open.push((p.clone(), file)),
                Err(e) => error!(fifo = %p.display(), error = %e, "cannot open notify FIFO"),
            }
        }
        for (s, p) in &cfg.scripts {
            if let Some(c) = spawn_script(s, &[p.display().to_string()]) {
                f.readers.push(c);
            }
        }
        f
    }

    /// No FIFO is open (nothing to format lines for).
    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    pub(crate) fn write(&mut self, line: &str) {
        use std::io::Write as _;
        for (p, file) in &mut self.open {
            if let Err(e) = file.write_all(line.as_bytes()) {
                self.lost += 1;
                debug!(fifo = %p.display(), error = %e, lost = self.lost, "notify FIFO line lost (no reader?)");
            }
        }
    }

    /// Stop the FIFO scripts (SIGTERM, as keepalived), after a moment for
    /// them to read the last lines.
    pub(crate) async fn close(&mut self) {
        if self.readers.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for c in &mut self.readers {
            if let Some(pid) = c.id() {
                let _ = script::terminate(pid);
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), c.wait()).await;
        }
        self.readers.clear();
    }
}

/// keepalived's FIFO line: `INSTANCE "VI_1" MASTER 100`.
fn fifo_line(kind: NotifyKind, name: &str, what: &str, priority: u8) -> String {
    let k = match kind {
        NotifyKind::Instance => "INSTANCE",
        NotifyKind::Group => "GROUP",
    };
    format!("{k} \"{name}\" {what} {priority}\n")
}

// ===== routes, rules, VMACs =====

/// What an instance installs besides its VIPs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Extras {
    routes: Vec<RouteSpec>,
    rules: Vec<RuleSpec>,
    /// `use_vmac`: (name, MAC, parent, transmit on the parent).
    vmac: Option<VmacCfg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct VmacCfg {
    name: String,
    mac: [u8; 6],
    parent: String,
    xmit_base: bool,
}

/// `use_vmac [NAME] [MAC]`: the name (`vrrp.<VRID>` by default) and MAC.
fn vmac_of(vi: &lvs_config::VrrpInstance, family: Family) -> Option<(String, [u8; 6])> {
    let u = vi.use_vmac.as_ref()?;
    let name = u
        .name
        .clone()
        .unwrap_or_else(|| format!("vrrp.{}", vi.virtual_router_id));
    let mac = u
        .mac
        .as_deref()
        .and_then(parse_mac)
        .unwrap_or_else(|| vmac::vrrp_mac(vi.virtual_router_id, family == Family::Inet6));
    Some((name, mac))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

fn parse_lines<T>(
    lines: &[RawLine],
    kw: &str,
    pol: &ScriptPolicy,
    parse: fn(&[String]) -> Result<T, String>,
) -> Vec<T> {
    lines
        .iter()
        .filter_map(|l| match parse(&l.words) {
            Ok(x) => Some(x),
            Err(e) => {
                error!("{}: {kw}: {e} - ignoring this entry", pol.at(l.span));
                None
            }
        })
        .collect()
}

fn extras(cfg: &Config, ecfg: &EngineCfg, pol: &ScriptPolicy) -> HashMap<String, Extras> {
    let mut out = HashMap::new();
    for vi in &cfg.vrrp_instances {
        let Some(ic) = ecfg.instances.iter().find(|i| i.name == vi.name) else {
            continue;
        };
        let vmac = vmac_of(vi, ic.family).map(|(name, mac)| VmacCfg {
            name,
            mac,
            parent: ic.interface.clone(),
            xmit_base: vi.vmac_xmit_base,
        });
        out.insert(
            vi.name.clone(),
            Extras {
                routes: parse_lines(&vi.virtual_routes, "virtual_routes", pol, RouteSpec::parse),
                rules: parse_lines(&vi.virtual_rules, "virtual_rules", pol, RuleSpec::parse),
                vmac,
            },
        );
    }
    out
}

// ===== setup: everything derived from one configuration =====

struct Setup {
    ecfg: EngineCfg,
    scripts: Vec<ScriptRun>,
    files: Vec<(String, String)>,
    notify: Notifiers,
    extras: HashMap<String, Extras>,
    fifos: FifoCfg,
    static_routes: Vec<RouteSpec>,
    static_rules: Vec<RuleSpec>,
}

fn setup(loaded: &Loaded) -> anyhow::Result<Setup> {
    let cfg = &loaded.config;
    let ecfg = engine_cfg(cfg)?;
    let pol = ScriptPolicy::new(loaded);
    let scripts = cfg
        .vrrp_scripts
        .iter()
        .filter_map(|s| {
            let tracked = ecfg
                .instances
                .iter()
                .any(|i| i.track_script.iter().any(|t| t.name == s.name))
                || ecfg
                    .sync_groups
                    .iter()
                    .any(|g| g.track_script.iter().any(|t| t.name == s.name));
            // keepalived runs only scripts something tracks.
            (tracked && s.script.is_some()).then(|| ScriptRun {
                name: s.name.clone(),
                script: s.script.as_ref().and_then(|x| pol.prepare(x, "script")),
                interval: s.interval,
                timeout: s.timeout,
            })
        })
        .collect();
    let files = cfg
        .track_files
        .iter()
        .filter_map(|f| f.file.clone().map(|p| (f.name.clone(), p)))
        .collect();
    Ok(Setup {
        notify: notifiers(cfg, &pol),
        extras: extras(cfg, &ecfg, &pol),
        fifos: fifo_cfg(cfg, &pol),
        static_routes: parse_lines(&cfg.static_routes, "static_routes", &pol, RouteSpec::parse),
        static_rules: parse_lines(&cfg.static_rules, "static_rules", &pol, RuleSpec::parse),
        ecfg,
        scripts,
        files,
    })
}

/// Inputs from the helper tasks to the engine loop.
enum Msg {
    Packet(RxPacket),
    Link(String, bool),
    Script(String, bool),
    File(String, i64),
}

/// Run every configured VRRP instance until `shutdown` resolves. A
/// configuration sent with [`VrrpHandle::reload`] is applied in place.
pub(crate) async fn run_vrrp(
    loaded: &Loaded,
    handle: VrrpHandle,
    events: mpsc::Sender<VrrpEvent>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (reload_tx, reload_rx) = mpsc::unbounded_channel();
    if let Ok(mut g) = handle.reload.lock() {
        *g = Some(reload_tx);
    }
    let s = setup(loaded)?;
    if s.ecfg.instances.is_empty() {
        // No VRRP (keepalived starts no VRRP process either): a reload that
        // adds instances needs a restart, and `reload` says so.
        drop(reload_rx);
        shutdown.await;
        return Ok(());
    }
    // The engine gets a thread (and a current-thread runtime) of its own, as
    // keepalived's VRRP process: nothing else in the daemon delays a
    // transition, and `vrrp_priority` / `vrrp_rt_priority` apply to it alone.
    let other = |kw: &str| {
        loaded
            .config
            .global_defs
            .other
            .iter()
            .find(|b| b.keyword == kw)
            .and_then(|b| b.args.first())
            .and_then(|a| a.parse::<i32>().ok())
    };
    let (nice, rt) = (other("vrrp_priority"), other("vrrp_rt_priority"));
    // Built here so that `status` shows the instances (INIT) as soon as `run` reports READY,
    // not only once the thread has started.
    let (engine, warnings) = Engine::new(s.ecfg.clone()).map_err(|e| anyhow!(e))?;
    for w in warnings {
        warn!("{w}");
    }
    handle.set(engine.status());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
    std::thread::Builder::new()
        .name("lvsd-vrrp".into())
        .spawn(move || {
            if nice.is_some() || rt.is_some() {
                match script::set_thread_priority(nice, rt) {
                    Ok(()) => info!(?nice, ?rt, "VRRP thread priority set"),
                    Err(e) => warn!(?nice, ?rt, error = %e, "cannot set the VRRP thread priority"),
                }
            }
            let r = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| {
                    rt.block_on(run_engine(s, engine, handle, events, reload_rx, async {
                        let _ = stop_rx.await;
                    }))
                });
            let _ = done_tx.send(r);
        })
        .context("VRRP thread")?;
    tokio::pin!(shutdown);
    let mut done_rx = done_rx;
    let r = tokio::select! {
        () = &mut shutdown => {
            let _ = stop_tx.send(());
            (&mut done_rx).await
        }
        r = &mut done_rx => r,
    };
    r.unwrap_or_else(|_| Err(anyhow!("the VRRP thread panicked")))
}

/// A packet socket for gratuitous ARP/NA on one interface, and that interface's MAC.
type Garp = Arc<(FrameSender, MacAddr)>;

/// A socket adverts go out on.
#[derive(Clone)]
enum AdvertSock {
    /// The interface's receiving socket.
    Rx(Arc<AsyncFd<VrrpSocket>>),
    /// A send-only socket (VMAC).
    Xmit(Arc<VrrpSocket>),
}

impl AdvertSock {
    fn get(&self) -> &VrrpSocket {
        match self {
            AdvertSock::Rx(s) => s.get_ref(),
            AdvertSock::Xmit(s) => s,
        }
    }
}

/// What a MASTER transition of one instance needs, prepared when the
/// configuration is loaded (and again on reload and on link changes of its
/// interfaces), so that from the engine's decision to the first gratuitous
/// ARP/NA nothing is looked up, encoded, allocated or logged.
struct Plan {
    name: Arc<str>,
    interface: String,
    /// The addresses the plan was built for (VIPs then eVIPs, as the engine's actions carry
    /// them); an action with other addresses takes the general path.
    vips: Vec<Vip>,
    /// RTM_NEWADDR for every address, then `virtual_routes`, then `virtual_rules`: one
    /// `sendmsg` (the kernel installs them inside the call), acks read after the GARPs.
    add: NlBatch,
    /// For the warnings: what each request of `add` is.
    what: Vec<String>,
    /// One gratuitous ARP / unsolicited NA frame per address, with its sender.
    frames: Vec<(Garp, Vec<u8>)>,
    /// Interfaces the plan depends on (ifindex, MAC).
    devs: Vec<String>,
    advert: Option<(Family, AdvertSock)>,
}

struct Io {
    sockets: HashMap<(String, Family), Arc<AsyncFd<VrrpSocket>>>,
    /// Send-only sockets on VMAC interfaces.
    xmit: HashMap<(String, Family), Arc<VrrpSocket>>,
    frames: HashMap<String, Garp>,
    rtnl: Rtnl,
    /// Prepared transitions, by instance.
    plans: HashMap<String, Plan>,
    /// Batches sent whose acks are not read yet, in sending order (capacity reserved: pushing
    /// allocates nothing).
    pending: Vec<(Arc<str>, PendingAcks)>,
    /// Actions of the current drain (the buffer is reused).
    acts: Vec<Action>,
    /// The current drain configured VIPs through a prepared plan.
    prepared: bool,
    extras: HashMap<String, Extras>,
    fifos: Fifos,
    /// When the first gratuitous ARP/NA of the current drain went out.
    first_garp: Option<std::time::Instant>,
    /// When the first advert, and the first VIP batch, of the current drain were done.
    first_advert: Option<std::time::Instant>,
    first_vips: Option<std::time::Instant>,
}

impl Io {
    fn frame_sender(&mut self, ifname: &str) -> std::io::Result<Garp> {
        if let Some(f) = self.frames.get(ifname) {
            return Ok(f.clone());
        }
        let s = FrameSender::open(ifname)?;
        let mac = MacAddr(addr::mac_address(ifname)?);
        let f = Arc::new((s, mac));
        self.frames.insert(ifname.to_string(), f.clone());
        Ok(f)
    }

    /// Prepare the transition of every instance (see [`Plan`]). An instance whose plan
    /// cannot be built (an interface missing) takes the general path, which reports why.
    fn build_plans(&mut self, ecfg: &EngineCfg) {
        self.plans.clear();
        for ic in &ecfg.instances {
            match self.build_plan(ic) {
                Ok(p) => {
                    self.plans.insert(ic.name.clone(), p);
                }
                Err(e) => {
                    debug!(instance = %ic.name, error = %e, "transition not prepared (general path)")
                }
            }
        }
        let n = self.plans.len();
        self.pending.reserve(n.saturating_sub(self.pending.len()));
    }

    fn build_plan(&mut self, ic: &InstanceCfg) -> std::io::Result<Plan> {
        let vips: Vec<Vip> = ic
            .virtual_ipaddress
            .iter()
            .chain(&ic.virtual_ipaddress_excluded)
            .cloned()
            .collect();
        let mut add = NlBatch::default();
        let mut what = Vec::new();
        let mut frames = Vec::new();
        let mut devs = vec![ic.interface.clone()];
        for v in &vips {
            add.add_address(&Self::addr_spec(v, &ic.interface)?);
            what.push(format!("VIP {}", v.addr));
            let dev = v.dev.as_deref().unwrap_or(&ic.interface);
            if !devs.iter().any(|d| d == dev) {
                devs.push(dev.to_string());
            }
            let f = self.frame_sender(dev)?;
            let frame = match v.addr {
                IpAddr::V4(ip) => ArpRepr::gratuitous(f.1, ip).to_broadcast_frame().to_vec(),
                IpAddr::V6(ip) => NeighborAdvertRepr::unsolicited(f.1, ip).to_all_nodes_frame(f.1),
            };
            frames.push((f, frame));
        }
        if let Some(e) = self.extras.get(&ic.name) {
            for r in &e.routes {
                add.add_route(r)?;
                what.push(format!("virtual_routes {r:?}"));
                if let Some(d) = &r.dev {
                    devs.push(d.clone());
                }
            }
            for r in &e.rules {
                add.add_rule(r);
                what.push(format!("virtual_rules {r:?}"));
            }
        }
        let advert = match self.xmit.get(&(ic.name.clone(), ic.family)) {
            Some(s) => Some(AdvertSock::Xmit(s.clone())),
            None => self
                .sockets
                .get(&(ic.interface.clone(), ic.family))
                .map(|s| AdvertSock::Rx(s.clone())),
        };
        Ok(Plan {
            name: Arc::from(ic.name.as_str()),
            interface: ic.interface.clone(),
            vips,
            add,
            what,
            frames,
            devs,
            advert: advert.map(|a| (ic.family, a)),
        })
    }

    /// A link changed (created, renamed, new MAC…): reopen its frame sender if its index or
    /// MAC changed, and prepare again the transitions that use it.
    fn link_changed(&mut self, ecfg: &EngineCfg, ifname: &str) {
        let concerned = self.frames.contains_key(ifname)
            || self
                .plans
                .values()
                .any(|p| p.devs.iter().any(|d| d == ifname))
            || ecfg
                .instances
                .iter()
                .any(|i| !self.plans.contains_key(&i.name));
        if !concerned {
            return;
        }
        if let Some(f) = self.frames.get(ifname) {
            let same = addr::ifindex(ifname).ok() == Some(f.0.ifindex())
                && addr::mac_address(ifname).ok() == Some(f.1 .0);
            if !same {
                self.frames.remove(ifname);
            }
        }
        for ic in &ecfg.instances {
            let uses = self
                .plans
                .get(&ic.name)
                .is_none_or(|p| p.devs.iter().any(|d| d == ifname));
            if !uses {
                continue;
            }
            match self.build_plan(ic) {
                Ok(p) => {
                    self.plans.insert(ic.name.clone(), p);
                }
                Err(e) => {
                    self.plans.remove(&ic.name);
                    debug!(instance = %ic.name, error = %e, "transition not prepared (general path)");
                }
            }
        }
        let n = self.plans.len();
        self.pending.reserve(n.saturating_sub(self.pending.len()));
    }

    /// Read the acknowledgements of the batches sent by this drain and report failures.
    fn read_acks(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        for (name, p) in pending.drain(..) {
            let what = self.plans.get(&*name).map(|p| &p.what);
            let r = self.rtnl.batch_acks(p, |i, r| {
                if let Err(e) = r {
                    let w = what.and_then(|w| w.get(i)).map_or("?", |s| s.as_str());
                    warn!(instance = %name, what = w, error = %e, "VIP change failed");
                }
            });
            if let Err(e) = r {
                warn!(instance = %name, error = %e, "VIP change: reading the kernel's answers failed");
            }
        }
        self.pending = pending;
    }

    fn addr_spec(vip: &Vip, default_if: &str) -> std::io::Result<AddrSpec> {
        let dev = vip.dev.as_deref().unwrap_or(default_if);
        let v6 = vip.addr.is_ipv6();
        Ok(AddrSpec {
            ifindex: addr::ifindex(dev)?,
            addr: vip.addr,
            prefix: vip.prefix,
            brd: match vip.brd {
                Some(IpAddr::V4(b)) => Some(b),
                _ => None,
            },
            scope: if v6 {
                0
            } else {
                vip.scope
                    .as_deref()
                    .and_then(addr::scope_from_str)
                    .unwrap_or(0)
            },
            label: if v6 { None } else { vip.label.clone() },
        })
    }

    fn routes(&mut self, instance: &str, routes: &[RouteSpec], rules: &[RuleSpec], add: bool) {
        if add {
            for r in routes {
                if let Err(e) = self.rtnl.add_route(r) {
                    warn!(%instance, route = ?r, error = %e, "virtual_routes: add failed");
                }
            }
            for r in rules {
                if let Err(e) = self.rtnl.add_rule(r) {
                    warn!(%instance, rule = ?r, error = %e, "virtual_rules: add failed");
                }
            }
        } else {
            for r in rules {
                if let Err(e) = self.rtnl.del_rule(r) {
                    warn!(%instance, rule = ?r, error = %e, "virtual_rules: delete failed");
                }
            }
            for r in routes {
                if let Err(e) = self.rtnl.del_route(r) {
                    warn!(%instance, route = ?r, error = %e, "virtual_routes: delete failed");
                }
            }
        }
    }

    /// Create the VMAC interfaces (before the engine starts: the VIPs and
    /// the adverts use them).
    fn create_vmacs(&mut self) {
        let vmacs: Vec<(String, VmacCfg)> = self
            .extras
            .iter()
            .filter_map(|(n, e)| e.vmac.clone().map(|v| (n.clone(), v)))
            .collect();
        for (instance, v) in vmacs {
            if let Err(e) = self.rtnl.add_vmac(&v.name, &v.parent, v.mac) {
                error!(%instance, vmac = %v.name, error = %e, "use_vmac: cannot create the VMAC interface");
                continue;
            }
            if let Err(e) = vmac::set_parent_arp_sysctls(&v.parent) {
                warn!(%instance, interface = %v.parent, error = %e, "use_vmac: cannot set arp_ignore/arp_filter");
            }
            if !v.xmit_base {
                let fam = if v.mac[4] == 2 {
                    Family::Inet6
                } else {
                    Family::Inet
                };
                let s = match fam {
                    Family::Inet => VrrpSocket::open_v4(&v.name, false),
                    Family::Inet6 => VrrpSocket::open_v6(&v.name, false),
                };
                match s {
                    Ok(s) => {
                        self.xmit.insert((instance.clone(), fam), Arc::new(s));
                    }
                    Err(e) => {
                        warn!(%instance, vmac = %v.name, error = %e, "use_vmac: adverts go out on the parent")
                    }
                }
            }
            if let Err(e) = self.frame_sender(&v.name) {
                warn!(%instance, vmac = %v.name, error = %e, "no packet socket for gratuitous ARP/NA");
            }
        }
    }

    fn delete_vmacs(&mut self) {
        let names: Vec<String> = self
            .extras
            .values()
            .filter_map(|e| e.vmac.as_ref().map(|v| v.name.clone()))
            .collect();
        for n in names {
            self.frames.remove(&n);
            if let Err(e) = self.rtnl.del_link(&n) {
                warn!(vmac = %n, error = %e, "use_vmac: cannot delete the VMAC interface");
            }
        }
        self.xmit.clear();
    }

    fn execute(&mut self, a: &Action) {
        match a {
            Action::SendAdvert {
                instance,
                interface,
                family,
                src,
                dst,
                data,
                ..
            } => {
                let planned = self
                    .plans
                    .get(instance.as_str())
                    .and_then(|p| p.advert.as_ref())
                    .filter(|(f, _)| f == family);
                let sock = match planned {
                    Some((_, s)) => s.get(),
                    None => match self.xmit.get(&(instance.clone(), *family)) {
                        Some(s) => s,
                        None => match self.sockets.get(&(interface.clone(), *family)) {
                            Some(s) => s.get_ref(),
                            None => return,
                        },
                    },
                };
                let r = match (src, dst) {
                    (_, IpAddr::V4(d)) => sock.send_v4(data, *d),
                    (IpAddr::V6(sr), IpAddr::V6(d)) => sock.send_v6(data, *sr, *d),
                    _ => Ok(()),
                };
                if let Err(e) = r {
                    warn!(interface = %interface, %dst, error = %e, "advert send failed");
                }
                self.first_advert
                    .get_or_insert_with(std::time::Instant::now);
            }
            Action::AddVips {
                instance,
                interface,
                vips,
                reload,
            }
            | Action::DelVips {
                instance,
                interface,
                vips,
                reload,
            } => {
                let add = matches!(a, Action::AddVips { .. });
                if add && !*reload {
                    if let Some(p) = self
                        .plans
                        .get_mut(instance.as_str())
                        .filter(|p| p.vips == *vips && p.interface == *interface)
                    {
                        // One sendmsg: the addresses (and routes, rules) exist when it
                        // returns; the kernel's answers are read after the GARPs.
                        match self.rtnl.send_batch(&mut p.add) {
                            Ok(acks) => self.pending.push((p.name.clone(), acks)),
                            Err(e) => warn!(%instance, error = %e, "VIP change failed"),
                        }
                        self.prepared = true;
                        self.first_vips.get_or_insert_with(std::time::Instant::now);
                        return;
                    }
                }
                // The general path: one request at a time, each answer read.
                self.read_acks();
                let extra = if *reload {
                    None
                } else {
                    self.extras
                        .get(instance)
                        .map(|e| (e.routes.clone(), e.rules.clone()))
                };
                if let (Some((routes, rules)), false) = (&extra, add) {
                    self.routes(instance, routes, rules, false);
                }
                for v in vips {
                    let r = Self::addr_spec(v, interface).and_then(|spec| {
                        if add {
                            self.rtnl.add_address(&spec)
                        } else {
                            self.rtnl.del_address(&spec)
                        }
                    });
                    if let Err(e) = r {
                        warn!(%instance, vip = %v.addr, add, error = %e, "VIP change failed");
                    }
                }
                if let (Some((routes, rules)), true) = (&extra, add) {
                    self.routes(instance, routes, rules, true);
                }
                if add {
                    self.first_vips.get_or_insert_with(std::time::Instant::now);
                }
            }
            Action::Gratuitous {
                instance,
                interface,
                vips,
                count,
            } => {
                if let Some(p) = self
                    .plans
                    .get(instance.as_str())
                    .filter(|p| p.vips == *vips && p.interface == *interface)
                {
                    for _ in 0..*count {
                        for (f, frame) in &p.frames {
                            match f.0.send(frame) {
                                Ok(()) => {
                                    self.first_garp.get_or_insert_with(std::time::Instant::now);
                                }
                                Err(e) => {
                                    warn!(%instance, interface = %f.0.ifindex(), error = %e, "gratuitous ARP/NA failed")
                                }
                            }
                        }
                    }
                    return;
                }
                for _ in 0..*count {
                    for v in vips {
                        let dev = v.dev.as_deref().unwrap_or(interface);
                        let r = self.frame_sender(dev).and_then(|f| {
                            let (s, mac) = &*f;
                            match v.addr {
                                IpAddr::V4(ip) => {
                                    s.send(&ArpRepr::gratuitous(*mac, ip).to_broadcast_frame())
                                }
                                IpAddr::V6(ip) => s.send(
                                    &NeighborAdvertRepr::unsolicited(*mac, ip)
                                        .to_all_nodes_frame(*mac),
                                ),
                            }
                        });
                        match r {
                            Ok(()) => {
                                self.first_garp.get_or_insert_with(std::time::Instant::now);
                            }
                            Err(e) => {
                                warn!(%instance, vip = %v.addr, error = %e, "gratuitous ARP/NA failed")
                            }
                        }
                    }
                }
            }
            Action::Notify { .. } | Action::MasterRxLowerPri { .. } => {}
        }
    }
}

/// Open the socket for `(ifname, family)` if it is not open yet and start
/// its reader task.
fn open_listener(
    io: &mut Io,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    tx: &mpsc::Sender<Msg>,
    ecfg: &EngineCfg,
    ifname: String,
    family: Family,
) -> anyhow::Result<()> {
    if io.sockets.contains_key(&(ifname.clone(), family)) {
        return Ok(());
    }
    let multicast = ecfg
        .instances
        .iter()
        .any(|i| i.interface == ifname && i.family == family && !i.is_unicast());
    let sock = match family {
        Family::Inet => VrrpSocket::open_v4(&ifname, multicast),
        Family::Inet6 => VrrpSocket::open_v6(&ifname, multicast),
    }
    .with_context(|| format!("VRRP socket on {ifname}"))?;
    let fd = Arc::new(sock.into_async()?);
    io.sockets.insert((ifname.clone(), family), fd.clone());
    // Open the GARP/NA sender now so the first MASTER transition does not pay for it.
    if let Err(e) = io.frame_sender(&ifname) {
        warn!(interface = %ifname, error = %e, "no packet socket for gratuitous ARP/NA");
    }
    let tx = tx.clone();
    tasks.push(tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return;
            };
            match guard.try_io(|s| s.get_ref().recv(&mut buf)) {
                Ok(Ok(r)) => {
                    let data = buf[..r.len].to_vec();
                    let p = match family {
                        Family::Inet => RxPacket::Ipv4 {
                            interface: ifname.clone(),
                            data,
                        },
                        Family::Inet6 => RxPacket::Ipv6 {
                            interface: ifname.clone(),
                            src: r.src,
                            dst: r.dst,
                            hop_limit: r.hop_limit,
                            data,
                        },
                    };
                    if tx.send(Msg::Packet(p)).await.is_err() {
                        return;
                    }
                }
                Ok(Err(e)) => debug!(error = %e, "VRRP recv"),
                Err(_would_block) => {}
            }
        }
    }));
    Ok(())
}

/// `vrrp_script` runners and `track_file` pollers (restarted on reload).
fn spawn_trackers(s: &Setup, tx: &mpsc::Sender<Msg>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for s in s.scripts.clone() {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(s.interval.max(Duration::from_millis(10)));
            loop {
                tick.tick().await;
                let ok = match s.script.as_ref().and_then(|p| spawn_script(p, &[])) {
                    None => false,
                    Some(mut child) => {
                        match tokio::time::timeout(
                            s.timeout.max(Duration::from_millis(10)),
                            child.wait(),
                        )
                        .await
                        {
                            Ok(Ok(st)) => st.success(),
                            Ok(Err(_)) => false,
                            Err(_) => {
                                let _ = child.kill().await;
                                false
                            }
                        }
                    }
                };
                if tx.send(Msg::Script(s.name.clone(), ok)).await.is_err() {
                    return;
                }
            }
        }));
    }
    // track_file pollers (keepalived watches with inotify; 1 s polling here).
    for (name, path) in s.files.clone() {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = None;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let v = tokio::fs::read_to_string(&path)
                    .await
                    .ok()
                    .and_then(|s| {
                        s.split_whitespace()
                            .next()
                            .and_then(|w| w.parse::<i64>().ok())
                    })
                    .unwrap_or(0);
                if last != Some(v) {
                    last = Some(v);
                    if tx.send(Msg::File(name.clone(), v)).await.is_err() {
                        return;
                    }
                }
            }
        }));
    }
    tasks
}

fn now_at(start: tokio::time::Instant) -> lvs_vrrp::Instant {
    lvs_vrrp::Instant(start.elapsed().as_micros() as u64)
}

async fn run_engine(
    mut s: Setup,
    mut engine: Engine,
    handle: VrrpHandle,
    events: mpsc::Sender<VrrpEvent>,
    mut reloads: mpsc::UnboundedReceiver<ReloadReq>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let mut io = Io {
        sockets: HashMap::new(),
        xmit: HashMap::new(),
        frames: HashMap::new(),
        rtnl: Rtnl::open()?,
        plans: HashMap::new(),
        pending: Vec::new(),
        acts: Vec::new(),
        prepared: false,
        extras: std::mem::take(&mut s.extras),
        fifos: Fifos::open(&s.fifos),
        first_garp: None,
        first_advert: None,
        first_vips: None,
    };
    io.create_vmacs();
    for r in &s.static_routes {
        if let Err(e) = io.rtnl.add_route(r) {
            warn!(route = ?r, error = %e, "static_routes: add failed");
        }
    }
    for r in &s.static_rules {
        if let Err(e) = io.rtnl.add_rule(r) {
            warn!(rule = ?r, error = %e, "static_rules: add failed");
        }
    }

    // Sockets and their reader tasks.
    let mut tasks = Vec::new();
    for (ifname, family) in engine.listeners() {
        open_listener(&mut io, &mut tasks, &tx, &s.ecfg, ifname, family)?;
    }
    io.build_plans(&s.ecfg);

    // Link state: initial state, then rtnetlink notifications.
    let mut tracked = engine.tracked_interfaces();
    let start = tokio::time::Instant::now();
    for ifname in &tracked {
        let up = addr::link_is_up(ifname).unwrap_or(false);
        engine.handle_link(now_at(start), ifname, up);
    }
    match LinkMonitor::open().and_then(LinkMonitor::into_async) {
        Ok(mon) => {
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let Ok(mut guard) = mon.readable().await else {
                        return;
                    };
                    if let Ok(Ok(evs)) = guard.try_io(|m| m.get_ref().recv()) {
                        for e in evs {
                            if tx.send(Msg::Link(e.name, e.up)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }));
        }
        Err(e) => warn!(error = %e, "no rtnetlink link monitor; link changes will not be seen"),
    }
    let mut trackers = spawn_trackers(&s, &tx);

    engine.handle_start(now_at(start));
    drain(&mut engine, &mut io, &s.notify, &events);
    handle.set(engine.status());

    tokio::pin!(shutdown);
    loop {
        let deadline = engine
            .poll_timeout()
            .map(|t| start + Duration::from_micros(t.0));
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let decided_at;
        tokio::select! {
            () = &mut shutdown => break,
            () = sleep => {
                decided_at = std::time::Instant::now();
                engine.handle_timeout(now_at(start));
            }
            Some(req) = reloads.recv() => {
                decided_at = std::time::Instant::now();
                let r = setup(&req.loaded).and_then(|new| {
                    reload(&mut engine, &mut io, &mut s, new, now_at(start), &events, &mut tasks, &tx, &mut tracked)
                });
                match r {
                    Err(e) => {
                        io.build_plans(&s.ecfg);
                        let e = format!("{e:#}");
                        error!(error = %e, "VRRP reload refused; the running VRRP configuration is kept");
                        let _ = req.reply.send(Err(e));
                    }
                    Ok(()) => {
                        for t in trackers.drain(..) {
                            t.abort();
                        }
                        trackers = spawn_trackers(&s, &tx);
                        handle.set_applied(req.signature);
                        let _ = req.reply.send(Ok(()));
                    }
                }
            }
            msg = rx.recv() => {
                if let Some(Msg::Link(name, _)) = &msg {
                    io.link_changed(&s.ecfg, name);
                }
                decided_at = std::time::Instant::now();
                let t = now_at(start);
                match msg {
                    Some(Msg::Packet(p)) => engine.handle_packet(t, &p),
                    Some(Msg::Link(name, up)) => engine.handle_link(t, &name, up),
                    Some(Msg::Script(name, ok)) => engine.handle_script(t, &name, ok),
                    Some(Msg::File(name, v)) => engine.handle_file(t, &name, v),
                    None => {}
                }
            }
        }
        drain_timed(&mut engine, &mut io, &s.notify, &events, decided_at);
        handle.set(engine.status());
    }
    info!("VRRP shutting down");
    engine.handle_shutdown(now_at(start));
    drain(&mut engine, &mut io, &s.notify, &events);
    handle.set(engine.status());
    for t in tasks.into_iter().chain(trackers) {
        t.abort();
    }
    for r in &s.static_rules {
        let _ = io.rtnl.del_rule(r);
    }
    for r in &s.static_routes {
        let _ = io.rtnl.del_route(r);
    }
    io.delete_vmacs();
    io.fifos.close().await;
    Ok(())
}

/// Apply a new configuration in place (keepalived.md §5.4): the engine
/// diff (states kept, VIP edits, removed and new instances), route and rule
/// edits of instances that stay MASTER, sockets for new interfaces, FIFOs.
#[allow(clippy::too_many_arguments)]
fn reload(
    engine: &mut Engine,
    io: &mut Io,
    s: &mut Setup,
    mut new: Setup,
    now: lvs_vrrp::Instant,
    events: &mpsc::Sender<VrrpEvent>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    tx: &mpsc::Sender<Msg>,
    tracked: &mut Vec<String>,
) -> anyhow::Result<()> {
    // Prepared again at the end, from the new configuration.
    io.plans.clear();
    // Sockets first: an instance on a new interface needs one before it starts.
    let probe = Engine::new(new.ecfg.clone()).map_err(|e| anyhow!(e))?.0;
    for (ifname, family) in probe.listeners() {
        open_listener(io, tasks, tx, &new.ecfg, ifname, family)?;
    }
    let masters_before: Vec<String> = engine
        .status()
        .into_iter()
        .filter(|i| i.state == State::Master)
        .map(|i| i.name)
        .collect();
    let warnings = engine
        .reconfigure(now, new.ecfg.clone())
        .map_err(|e| anyhow!(e))?;
    for w in warnings {
        warn!("{w}");
    }
    for (name, e) in &new.extras {
        if let Some(old) = io.extras.get(name) {
            if old.vmac != e.vmac {
                warn!(instance = %name, "use_vmac changes apply at restart");
            }
        }
    }
    // Routes and rules of instances that stay MASTER: removed ones go
    // before the VIP edits, new ones after.
    let mut added = Vec::new();
    for i in engine.status() {
        if i.state != State::Master || !masters_before.contains(&i.name) {
            continue;
        }
        let (Some(old), Some(n)) = (io.extras.get(&i.name), new.extras.get(&i.name)) else {
            continue;
        };
        let gone_routes: Vec<RouteSpec> = old
            .routes
            .iter()
            .filter(|r| !n.routes.contains(r))
            .cloned()
            .collect();
        let gone_rules: Vec<RuleSpec> = old
            .rules
            .iter()
            .filter(|r| !n.rules.contains(r))
            .cloned()
            .collect();
        let new_routes: Vec<RouteSpec> = n
            .routes
            .iter()
            .filter(|r| !old.routes.contains(r))
            .cloned()
            .collect();
        let new_rules: Vec<RuleSpec> = n
            .rules
            .iter()
            .filter(|r| !old.rules.contains(r))
            .cloned()
            .collect();
        io.routes(&i.name, &gone_routes, &gone_rules, false);
        added.push((i.name.clone(), new_routes, new_rules));
    }
    // Removed instances still need their old routes while their actions run.
    let mut merged = io.extras.clone();
    for (k, v) in &new.extras {
        merged.insert(k.clone(), v.clone());
    }
    let vmacs = std::mem::take(&mut io.extras);
    io.extras = merged;
    // A removed instance is notified with its old scripts: DELETED with
    // `notify_deleted`, FAULT otherwise (keepalived.md §3.13).
    let mut notify = new.notify.clone();
    for (k, v) in &s.notify.by_name {
        notify
            .by_name
            .entry(k.clone())
            .or_insert_with(|| NotifyScripts {
                removed: true,
                ..v.clone()
            });
    }
    drain(engine, io, &notify, events);
    for (name, routes, rules) in added {
        io.routes(&name, &routes, &rules, true);
    }
    // Keep the VMAC definitions that exist (created at start).
    let mut extras = std::mem::take(&mut new.extras);
    for (k, e) in extras.iter_mut() {
        e.vmac = vmacs.get(k).and_then(|o| o.vmac.clone());
    }
    io.extras = extras;
    if new.fifos != s.fifos {
        let old = std::mem::replace(&mut io.fifos, Fifos::open(&new.fifos));
        let mut old = old;
        tokio::spawn(async move { old.close().await });
    }
    if new.static_routes != s.static_routes || new.static_rules != s.static_rules {
        warn!("static_routes / static_rules changes apply at restart");
        new.static_routes = s.static_routes.clone();
        new.static_rules = s.static_rules.clone();
    }
    // Link state of newly tracked interfaces.
    for ifname in engine.tracked_interfaces() {
        if !tracked.contains(&ifname) {
            let up = addr::link_is_up(&ifname).unwrap_or(false);
            engine.handle_link(now, &ifname, up);
            tracked.push(ifname);
        }
    }
    info!(
        instances = engine.status().len(),
        "VRRP configuration reloaded"
    );
    *s = new;
    io.build_plans(&s.ecfg);
    Ok(())
}

fn drain(engine: &mut Engine, io: &mut Io, notify: &Notifiers, events: &mpsc::Sender<VrrpEvent>) {
    drain_timed(engine, io, notify, events, std::time::Instant::now());
}

/// Execute every pending action: first the kernel work (adverts, VIPs,
/// gratuitous ARP/NA: what the peers see) in the engine's order, then the
/// kernel's answers to the prepared VIP batches, then notifications and
/// logs. From `decided_at` (just before the engine call) to the first
/// GARP, a prepared transition neither allocates nor logs (a failure is
/// reported when it happens); the state line carries lvsd's own transition
/// work.
fn drain_timed(
    engine: &mut Engine,
    io: &mut Io,
    notify: &Notifiers,
    events: &mpsc::Sender<VrrpEvent>,
    decided_at: std::time::Instant,
) {
    io.first_garp = None;
    io.first_advert = None;
    io.first_vips = None;
    io.prepared = false;
    let mut acts = std::mem::take(&mut io.acts);
    while let Some(a) = engine.poll_action() {
        acts.push(a);
    }
    for a in &acts {
        io.execute(a);
    }
    io.read_acks();
    for a in acts.drain(..) {
        match a {
            Action::Notify {
                kind,
                name,
                state,
                priority,
            } => {
                let work_us = decided_at.elapsed().as_micros() as u64;
                // Decision → advert, VIPs (and routes) configured, first GARP/NA sent.
                let since = |t: Option<std::time::Instant>| {
                    t.map(|t| t.saturating_duration_since(decided_at).as_micros() as u64)
                };
                let (advert_us, vips_us, garp_us) = (
                    since(io.first_advert),
                    since(io.first_vips),
                    since(io.first_garp),
                );
                if kind == NotifyKind::Instance && state == State::Master {
                    // keepalived's line; logged here, once the GARPs are out.
                    info!(instance = %name, "Entering MASTER STATE");
                    let prepared = io.prepared;
                    info!(kind = ?kind, %name, %state, priority, work_us, advert_us, vips_us, garp_us, prepared, "VRRP state");
                } else {
                    info!(kind = ?kind, %name, %state, priority, work_us, advert_us, vips_us, garp_us, "VRRP state");
                }
                let key = match kind {
                    NotifyKind::Instance => format!("I:{name}"),
                    NotifyKind::Group => format!("G:{name}"),
                };
                let n = notify.by_name.get(&key);
                let deleted = n.and_then(|n| {
                    n.deleted
                        .as_ref()
                        .filter(|_| n.removed && state == State::Fault)
                });
                let word = if deleted.is_some() {
                    "DELETED"
                } else {
                    state.as_str()
                };
                io.fifos.write(&fifo_line(kind, &name, word, priority));
                if let Some(n) = n {
                    let specific = match state {
                        _ if deleted.is_some() => deleted,
                        State::Master => n.master.as_ref(),
                        State::Backup => n.backup.as_ref(),
                        State::Fault => n.fault.as_ref(),
                        State::Stop => n.stop.as_ref(),
                        State::Init => None,
                    };
                    if let Some(s) = specific {
                        spawn_script(s, &[]);
                    }
                    if let Some(s) = &n.notify {
                        let kind_s = match kind {
                            NotifyKind::Instance => "INSTANCE",
                            NotifyKind::Group => "GROUP",
                        };
                        spawn_script(
                            s,
                            &[
                                kind_s.into(),
                                name.clone(),
                                word.into(),
                                priority.to_string(),
                            ],
                        );
                    }
                }
                let _ = events.try_send(VrrpEvent {
                    kind,
                    name,
                    state,
                    priority,
                });
            }
            Action::MasterRxLowerPri { instance, .. } => {
                if !io.fifos.open.is_empty() {
                    let prio = engine
                        .status()
                        .iter()
                        .find(|i| i.name == instance)
                        .map_or(0, |i| i.effective_priority);
                    io.fifos.write(&fifo_line(
                        NotifyKind::Instance,
                        &instance,
                        "MASTER_RX_LOWER_PRI",
                        prio,
                    ));
                }
                if let Some(s) = notify
                    .by_name
                    .get(&format!("I:{instance}"))
                    .and_then(|n| n.master_rx_lower_pri.as_ref())
                {
                    spawn_script(s, &[]);
                }
            }
            _ => {}
        }
    }
    io.acts = acts;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_lines_are_keepalived_s() {
        assert_eq!(
            fifo_line(NotifyKind::Instance, "VI_1", "MASTER", 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(
            fifo_line(NotifyKind::Group, "G", "BACKUP", 0),
            "GROUP \"G\" BACKUP 0\n"
        );
    }

    #[test]
    fn fifo_paths_and_fifo_script_from_global_defs() {
        let cat = find_program("cat");
        let l = lvs_config::parse_str(
            "t.conf",
            &format!(
                "global_defs {{\n notify_fifo /run/n.fifo nobody nogroup\n vrrp_notify_fifo /run/v.fifo\n vrrp_notify_fifo_script \"{} -u\" nobody\n}}\n",
                cat.display()
            ),
        );
        let pol = ScriptPolicy::new(&l);
        let f = fifo_cfg(&l.config, &pol);
        let nobody = lvs_config::ScriptUser {
            user: "nobody".into(),
            group: Some("nogroup".into()),
        };
        assert_eq!(
            f.paths,
            vec![
                (PathBuf::from("/run/n.fifo"), Some(nobody)),
                (PathBuf::from("/run/v.fifo"), None)
            ]
        );
        assert_eq!(f.scripts.len(), 1, "{:?}", l.config.global_defs.other);
        let (p, path) = &f.scripts[0];
        assert_eq!(path, &PathBuf::from("/run/v.fifo"));
        assert_eq!(p.argv[1], "-u");
        assert_eq!(p.run_as.uid, 65534);
    }

    #[test]
    fn vmac_names_and_macs() {
        let l = lvs_config::parse_str(
            "t.conf",
            "vrrp_instance A {\n interface eth0\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 52\n use_vmac vmac52 02:11:22:33:44:55\n virtual_ipaddress {\n 10.0.0.2\n }\n}\n",
        );
        let a = vmac_of(&l.config.vrrp_instances[0], Family::Inet).unwrap();
        assert_eq!(a, ("vrrp.51".to_string(), [0, 0, 0x5e, 0, 1, 51]));
        let b = vmac_of(&l.config.vrrp_instances[1], Family::Inet6).unwrap();
        assert_eq!(b, ("vmac52".to_string(), [2, 0x11, 0x22, 0x33, 0x44, 0x55]));
        assert_eq!(parse_mac("zz:00"), None);
    }

    #[test]
    fn insecure_script_is_disabled_only_with_script_security() {
        let dir = std::env::temp_dir().join(format!("lvsd-vrrp-sec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let s = dir.join("notify.sh");
        std::fs::write(&s, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o757)).unwrap();
        let conf = |sec: bool| {
            format!(
                "global_defs {{\n script_user root\n{}}}\nvrrp_instance A {{\n interface lo\n virtual_router_id 51\n notify_master \"{} x\"\n virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n",
                if sec { " enable_script_security\n" } else { "" },
                s.display()
            )
        };
        for sec in [false, true] {
            let l = lvs_config::parse_str("t.conf", &conf(sec));
            let pol = ScriptPolicy::new(&l);
            assert_eq!(pol.default_user, RunAs::ROOT);
            let script = l.config.vrrp_instances[0].notify_master.clone().unwrap();
            let p = pol.prepare(&script, "notify_master");
            assert_eq!(p.is_some(), !sec, "enable_script_security={sec}");
        }
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
        let l = lvs_config::parse_str("t.conf", &conf(true));
        let script = l.config.vrrp_instances[0].notify_master.clone().unwrap();
        if script::current_uid() == 0 {
            let p = ScriptPolicy::new(&l)
                .prepare(&script, "notify_master")
                .unwrap();
            assert_eq!(p.argv, vec![s.display().to_string(), "x".to_string()]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
