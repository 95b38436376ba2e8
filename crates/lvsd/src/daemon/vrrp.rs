//! VRRP driver: the async plumbing around the sans-IO `lvs_vrrp::Engine`.
//!
//! # API (for `lvsd run`)
//!
//! ```ignore
//! let handle = VrrpHandle::default();                 // cheap to clone; query any time
//! let (tx, rx) = tokio::sync::mpsc::channel(64);      // VrrpEvent stream (state changes)
//! run_vrrp(&config, handle.clone(), tx, shutdown_future).await?;  // returns after shutdown
//! handle.snapshot() -> Vec<lvs_vrrp::InstanceStatus>  // name, state, priorities, counters
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
//!   arguments `INSTANCE|GROUP name STATE priority`.
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
//! One task drives every instance and sync group (one engine): the raw
//! sockets are per interface, and demultiplexing by VRID inside one engine
//! is what makes "unknown VRID" counters meaningful.
#![allow(dead_code)] // Also compiled into the lvs-sys `vrrpd` example, which uses only part of the API.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use lvs_config::{AuthType, Broadcast, Config, Script, VrrpState};
use lvs_sys::addr::{self, AddrSpec, LinkMonitor, Rtnl};
use lvs_sys::vrrp::{FrameSender, VrrpSocket};
use lvs_vrrp::config::{AuthCfg, FileCfg, TrackFile, TrackInterface, TrackScript, UnicastPeer};
use lvs_vrrp::{
    Action, Engine, EngineCfg, InstanceCfg, InstanceStatus, NotifyKind, RxPacket, ScriptCfg, State,
    SyncGroupCfg, Vip,
};
use lvs_wire::{ArpRepr, Family, MacAddr, NeighborAdvertRepr, VrrpVersion};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

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
}

impl VrrpHandle {
    /// Instances with state, priorities and counters.
    pub(crate) fn snapshot(&self) -> Vec<InstanceStatus> {
        self.inner.lock().map(|g| g.clone()).unwrap_or_default()
    }

    fn set(&self, v: Vec<InstanceStatus>) {
        if let Ok(mut g) = self.inner.lock() {
            *g = v;
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
    master: Option<Script>,
    backup: Option<Script>,
    fault: Option<Script>,
    stop: Option<Script>,
    notify: Option<Script>,
    master_rx_lower_pri: Option<Script>,
}

/// Runtime facts of a `vrrp_script`.
#[derive(Debug, Clone)]
struct ScriptRun {
    name: String,
    script: Script,
    interval: Duration,
    timeout: Duration,
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
        let vip = |v: &lvs_config::VirtualIpAddress| Vip {
            addr: v.addr,
            prefix: v.prefix,
            dev: v.dev.clone(),
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

fn notifiers(cfg: &Config) -> Notifiers {
    let mut n = Notifiers::default();
    for vi in &cfg.vrrp_instances {
        n.by_name.insert(
            format!("I:{}", vi.name),
            NotifyScripts {
                master: vi.notify_master.clone(),
                backup: vi.notify_backup.clone(),
                fault: vi.notify_fault.clone(),
                stop: vi.notify_stop.clone(),
                notify: vi.notify.clone(),
                master_rx_lower_pri: vi.notify_master_rx_lower_pri.clone(),
            },
        );
    }
    for sg in &cfg.vrrp_sync_groups {
        n.by_name.insert(
            format!("G:{}", sg.name),
            NotifyScripts {
                master: sg.notify_master.clone(),
                backup: sg.notify_backup.clone(),
                fault: sg.notify_fault.clone(),
                stop: sg.notify_stop.clone(),
                notify: sg.notify.clone(),
                master_rx_lower_pri: None,
            },
        );
    }
    n
}

/// Spawn `script` without a shell, with `extra` arguments appended; never waits.
fn spawn_script(script: &Script, extra: &[String]) -> Option<tokio::process::Child> {
    let Some((prog, args)) = script.args.split_first() else {
        warn!(command = %script.command, "empty script command");
        return None;
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .args(extra)
        .stdin(std::process::Stdio::null());
    match cmd.spawn() {
        Ok(c) => Some(c),
        Err(e) => {
            warn!(command = %script.command, error = %e, "cannot run script");
            None
        }
    }
}

/// Inputs from the helper tasks to the engine loop.
enum Msg {
    Packet(RxPacket),
    Link(String, bool),
    Script(String, bool),
    File(String, i64),
}

/// Run every configured VRRP instance until `shutdown` resolves.
pub(crate) async fn run_vrrp(
    cfg: &Config,
    handle: VrrpHandle,
    events: mpsc::Sender<VrrpEvent>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let ecfg = engine_cfg(cfg)?;
    if ecfg.instances.is_empty() {
        shutdown.await;
        return Ok(());
    }
    let scripts: Vec<ScriptRun> = cfg
        .vrrp_scripts
        .iter()
        .filter_map(|s| {
            s.script.clone().map(|script| ScriptRun {
                name: s.name.clone(),
                script,
                interval: s.interval,
                timeout: s.timeout,
            })
        })
        .collect();
    let files: Vec<(String, String)> = cfg
        .track_files
        .iter()
        .filter_map(|f| f.file.clone().map(|p| (f.name.clone(), p)))
        .collect();
    let notify = notifiers(cfg);
    run_engine(ecfg, scripts, files, notify, handle, events, shutdown).await
}

struct Io {
    sockets: HashMap<(String, Family), Arc<AsyncFd<VrrpSocket>>>,
    frames: HashMap<String, (FrameSender, MacAddr)>,
    rtnl: Rtnl,
}

impl Io {
    fn frame_sender(&mut self, ifname: &str) -> std::io::Result<&(FrameSender, MacAddr)> {
        if !self.frames.contains_key(ifname) {
            let s = FrameSender::open(ifname)?;
            let mac = MacAddr(addr::mac_address(ifname)?);
            self.frames.insert(ifname.to_string(), (s, mac));
        }
        Ok(&self.frames[ifname])
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

    fn execute(&mut self, a: &Action) {
        match a {
            Action::SendAdvert {
                interface,
                family,
                src,
                dst,
                data,
                ..
            } => {
                let Some(s) = self.sockets.get(&(interface.clone(), *family)) else {
                    return;
                };
                let r = match (src, dst) {
                    (_, IpAddr::V4(d)) => s.get_ref().send_v4(data, *d),
                    (IpAddr::V6(sr), IpAddr::V6(d)) => s.get_ref().send_v6(data, *sr, *d),
                    _ => Ok(()),
                };
                if let Err(e) = r {
                    warn!(interface = %interface, %dst, error = %e, "advert send failed");
                }
            }
            Action::AddVips {
                instance,
                interface,
                vips,
            }
            | Action::DelVips {
                instance,
                interface,
                vips,
            } => {
                let add = matches!(a, Action::AddVips { .. });
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
            }
            Action::Gratuitous {
                instance,
                interface,
                vips,
                count,
            } => {
                for _ in 0..*count {
                    for v in vips {
                        let dev = v.dev.as_deref().unwrap_or(interface);
                        let r = self.frame_sender(dev).and_then(|(s, mac)| match v.addr {
                            IpAddr::V4(ip) => {
                                s.send(&ArpRepr::gratuitous(*mac, ip).to_broadcast_frame())
                            }
                            IpAddr::V6(ip) => s.send(
                                &NeighborAdvertRepr::unsolicited(*mac, ip).to_all_nodes_frame(*mac),
                            ),
                        });
                        if let Err(e) = r {
                            warn!(%instance, vip = %v.addr, error = %e, "gratuitous ARP/NA failed");
                        }
                    }
                }
            }
            Action::Notify { .. } | Action::MasterRxLowerPri { .. } => {}
        }
    }
}

async fn run_engine(
    ecfg: EngineCfg,
    scripts: Vec<ScriptRun>,
    files: Vec<(String, String)>,
    notify: Notifiers,
    handle: VrrpHandle,
    events: mpsc::Sender<VrrpEvent>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (mut engine, warnings) = Engine::new(ecfg.clone()).map_err(|e| anyhow!(e))?;
    for w in warnings {
        warn!("{w}");
    }
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let mut io = Io {
        sockets: HashMap::new(),
        frames: HashMap::new(),
        rtnl: Rtnl::open()?,
    };

    // Sockets and their reader tasks.
    let mut tasks = Vec::new();
    for (ifname, family) in engine.listeners() {
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
    }

    // Link state: initial state, then rtnetlink notifications.
    let tracked = engine.tracked_interfaces();
    let start = tokio::time::Instant::now();
    let now = |start: tokio::time::Instant| lvs_vrrp::Instant(start.elapsed().as_micros() as u64);
    for ifname in &tracked {
        let up = addr::link_is_up(ifname).unwrap_or(false);
        engine.handle_link(now(start), ifname, up);
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

    // vrrp_script runners.
    for s in scripts {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(s.interval.max(Duration::from_millis(10)));
            loop {
                tick.tick().await;
                let ok = match spawn_script(&s.script, &[]) {
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
    for (name, path) in files {
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
    drop(tx);

    engine.handle_start(now(start));
    drain(&mut engine, &mut io, &notify, &events);
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
                engine.handle_timeout(now(start));
            }
            msg = rx.recv() => {
                decided_at = std::time::Instant::now();
                let t = now(start);
                match msg {
                    Some(Msg::Packet(p)) => engine.handle_packet(t, &p),
                    Some(Msg::Link(name, up)) => engine.handle_link(t, &name, up),
                    Some(Msg::Script(name, ok)) => engine.handle_script(t, &name, ok),
                    Some(Msg::File(name, v)) => engine.handle_file(t, &name, v),
                    None => {}
                }
            }
        }
        drain_timed(&mut engine, &mut io, &notify, &events, decided_at);
        handle.set(engine.status());
    }
    info!("VRRP shutting down");
    engine.handle_shutdown(now(start));
    drain(&mut engine, &mut io, &notify, &events);
    handle.set(engine.status());
    for t in tasks {
        t.abort();
    }
    Ok(())
}

fn drain(engine: &mut Engine, io: &mut Io, notify: &Notifiers, events: &mpsc::Sender<VrrpEvent>) {
    drain_timed(engine, io, notify, events, std::time::Instant::now());
}

/// Execute every pending action in order: kernel work first (it is what the
/// peers see), then notifications. A MASTER notify comes after the advert,
/// the VIPs and the first gratuitous burst, so the time from `decided_at`
/// (just before the engine call) to it is lvsd's own transition work.
fn drain_timed(
    engine: &mut Engine,
    io: &mut Io,
    notify: &Notifiers,
    events: &mpsc::Sender<VrrpEvent>,
    decided_at: std::time::Instant,
) {
    while let Some(a) = engine.poll_action() {
        io.execute(&a);
        match a {
            Action::Notify {
                kind,
                name,
                state,
                priority,
            } => {
                let work_us = decided_at.elapsed().as_micros() as u64;
                info!(kind = ?kind, %name, %state, priority, work_us, "VRRP state");
                let key = match kind {
                    NotifyKind::Instance => format!("I:{name}"),
                    NotifyKind::Group => format!("G:{name}"),
                };
                if let Some(n) = notify.by_name.get(&key) {
                    let specific = match state {
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
                                state.as_str().into(),
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
}
