//! The VRRP engine: every instance and sync group one driver task runs.
//!
//! `Engine` has roughly four kinds of methods (quinn-proto's taxonomy):
//!
//! - A. getters taking `&self` ([`Engine::status`], [`Engine::engine_stats`]);
//! - B. handlers of events from the network or the system, named `handle_*`,
//!   each taking `now` ([`Engine::handle_packet`], [`Engine::handle_link`],
//!   [`Engine::handle_script`], [`Engine::handle_file`],
//!   [`Engine::handle_timeout`]);
//! - C. commands ([`Engine::handle_start`], [`Engine::handle_shutdown`]);
//! - D. polling functions for outputs: [`Engine::poll_action`] and
//!   [`Engine::poll_timeout`].
//!
//! Call B/C whenever something happens, then drain `poll_action()` until it
//! returns `None`, then sleep until `poll_timeout()` and call
//! `handle_timeout(now)`. The engine never reads a clock, never sleeps and
//! never does I/O; VRRP has no randomness (keepalived's timers are
//! deterministic: skew is derived from priority), so replay is exact.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use lvs_wire::{
    Auth, ChecksumMode, Family, Ipv4Packet, Ipv4Repr, VrrpPacket, VrrpRepr, VrrpVersion,
    IPPROTO_AH, IPPROTO_VRRP,
};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::config::{AuthCfg, EngineCfg, InstanceCfg, OldUnicastChecksum, Vip, Warning};
use crate::io::{Action, Input, NotifyKind, RxPacket, State};
use crate::stats::{DropReason, EngineStats, Stats};
use crate::time::Instant;
use crate::Error;

// ===== timers =====

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// MASTER: send the next advert (RFC 5798 Adver_Timer).
    Adver = 0,
    /// BACKUP: Master_Down_Timer.
    MasterDown = 1,
    /// MASTER: second gratuitous burst after `garp_master_delay`.
    GarpDelay = 2,
    /// MASTER: periodic `garp_master_refresh`.
    GarpRefresh = 3,
}

const TIMERS: [Timer; 4] = [
    Timer::Adver,
    Timer::MasterDown,
    Timer::GarpDelay,
    Timer::GarpRefresh,
];

#[derive(Debug, Clone, Copy, Default)]
struct TimerTable([Option<Instant>; 4]);

impl TimerTable {
    fn set(&mut self, t: Timer, at: Instant) {
        self.0[t as usize] = Some(at);
    }
    fn stop(&mut self, t: Timer) {
        self.0[t as usize] = None;
    }
    fn get(&self, t: Timer) -> Option<Instant> {
        self.0[t as usize]
    }
    fn clear(&mut self) {
        self.0 = [None; 4];
    }
    fn next(&self) -> Option<Instant> {
        self.0.iter().filter_map(|x| *x).min()
    }
}

// ===== status =====

/// A snapshot of one instance for `lvsd status` and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Sync group, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_group: Option<String>,
    /// Interface.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// State.
    pub state: State,
    /// Configured priority.
    pub base_priority: u8,
    /// Effective priority (base + tracker weights, clamped to 1..254).
    pub effective_priority: u8,
    /// Last master seen (source of the last accepted advert), or our own
    /// address while MASTER.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<IpAddr>,
    /// Counters.
    pub stats: Stats,
}

// ===== trackers =====

#[derive(Debug, Clone)]
enum Tracker {
    Interface {
        name: String,
        weight: i32,
        reverse: bool,
    },
    Script {
        idx: usize,
        weight: i32,
        reverse: bool,
    },
    File {
        idx: usize,
        weight: i32,
        reverse: bool,
    },
}

#[derive(Debug, Clone)]
struct ScriptState {
    name: String,
    rise: u32,
    fall: u32,
    up: bool,
    good: u32,
    bad: u32,
}

#[derive(Debug, Clone)]
struct FileState {
    name: String,
    value: i64,
}

// ===== instance =====

#[derive(Debug)]
struct Instance {
    cfg: InstanceCfg,
    src: IpAddr,
    group: Option<usize>,
    state: State,
    want_master: bool,
    effective_priority: u8,
    /// RFC 5798 Master_Adver_Interval, centiseconds (v3 learns it).
    master_adver_int_cs: u16,
    timers: TimerTable,
    preempt_time: Option<Instant>,
    ip_id: u16,
    old_checksum: bool,
    last_master: Option<IpAddr>,
    trackers: Vec<Tracker>,
    stats: Stats,
}

impl Instance {
    fn is_owner(&self) -> bool {
        self.cfg.priority == 255
    }

    /// Advertisement interval used for timers: v2 `advert_int`, v3 the
    /// (learned) Master_Adver_Interval.
    fn adver_int(&self) -> Duration {
        match self.cfg.version {
            VrrpVersion::V2 => self.cfg.advert_int,
            VrrpVersion::V3 => Duration::from_millis(u64::from(self.master_adver_int_cs) * 10),
        }
    }

    /// RFC 3768 §6.1 / RFC 5798 §6.1 Skew_Time, with keepalived's v2 rule
    /// that it is `(256 − prio)/256` s whatever `advert_int` is.
    fn skew_time(&self) -> Duration {
        let p = u64::from(256 - u16::from(self.effective_priority));
        match self.cfg.version {
            VrrpVersion::V2 => Duration::from_micros(p * 1_000_000 / 256),
            VrrpVersion::V3 => {
                Duration::from_micros(p * (self.adver_int().as_micros() as u64) / 256)
            }
        }
    }

    /// Master_Down_Interval = down_timer_adverts × adver_int + Skew_Time.
    fn master_down_interval(&self) -> Duration {
        self.adver_int() * self.cfg.down_timer_adverts + self.skew_time()
    }

    fn all_vips(&self) -> Vec<Vip> {
        self.cfg
            .virtual_ipaddress
            .iter()
            .chain(&self.cfg.virtual_ipaddress_excluded)
            .cloned()
            .collect()
    }

    fn advert_repr(&self, priority: u8) -> VrrpRepr {
        let addresses: Vec<IpAddr> = self
            .cfg
            .virtual_ipaddress
            .iter()
            .map(|v| v.addr)
            .filter(|a| Family::of(*a) == self.cfg.family)
            .take(255)
            .collect();
        let (adver_int, auth) = match self.cfg.version {
            VrrpVersion::V2 => (
                self.cfg.advert_int.as_secs() as u16,
                match &self.cfg.authentication {
                    AuthCfg::None => Auth::None,
                    AuthCfg::Pass(p) => Auth::password(p),
                },
            ),
            VrrpVersion::V3 => (self.cfg.advert_int_cs(), Auth::None),
        };
        VrrpRepr {
            version: self.cfg.version,
            vrid: self.cfg.virtual_router_id,
            priority,
            adver_int,
            auth,
            addresses,
        }
    }

    fn checksum_mode(&self, dst: IpAddr) -> ChecksumMode {
        match (self.cfg.version, self.cfg.family) {
            (VrrpVersion::V2, _) => ChecksumMode::Plain,
            (VrrpVersion::V3, Family::Inet) if self.cfg.v3_checksum_as_v2 => ChecksumMode::Plain,
            (VrrpVersion::V3, Family::Inet)
                if self.cfg.is_unicast()
                    && (self.cfg.old_unicast_checksum == OldUnicastChecksum::Send
                        || self.old_checksum) =>
            {
                ChecksumMode::Pseudo {
                    src: self.src,
                    dst: Family::Inet.mcast_group(),
                }
            }
            (VrrpVersion::V3, _) => ChecksumMode::Pseudo { src: self.src, dst },
        }
    }

    fn destinations(&self) -> Vec<(IpAddr, u8)> {
        if self.cfg.is_unicast() {
            self.cfg
                .unicast_peer
                .iter()
                .map(|p| (p.addr, self.cfg.unicast_ttl))
                .collect()
        } else {
            vec![(self.cfg.family.mcast_group(), 255)]
        }
    }

    fn status(&self, groups: &[Group]) -> InstanceStatus {
        InstanceStatus {
            name: self.cfg.name.clone(),
            sync_group: self.group.map(|g| groups[g].name.clone()),
            interface: self.cfg.interface.clone(),
            vrid: self.cfg.virtual_router_id,
            state: self.state,
            base_priority: self.cfg.priority,
            effective_priority: self.effective_priority,
            master: if self.state == State::Master {
                Some(self.src)
            } else {
                self.last_master
            },
            stats: self.stats.clone(),
        }
    }
}

#[derive(Debug)]
struct Group {
    name: String,
    members: Vec<usize>,
    state: State,
}

/// A validated advert, as far as the FSM cares.
#[derive(Debug, Clone, Copy)]
struct Advert {
    src: IpAddr,
    priority: u8,
    adver_int: u16,
}

// ===== engine =====

/// All VRRP instances and sync groups of one driver. See the module docs for
/// the call protocol.
#[derive(Debug)]
pub struct Engine {
    instances: Vec<Instance>,
    groups: Vec<Group>,
    scripts: Vec<ScriptState>,
    files: Vec<FileState>,
    links: HashMap<String, bool>,
    actions: VecDeque<Action>,
    stats: EngineStats,
    started: bool,
    stopped: bool,
}

impl Engine {
    /// Build from configuration. Instances are completed with keepalived's
    /// rules; the returned warnings describe silent adjustments. Fails on
    /// inconsistent configuration (unknown script, duplicate VRID, missing
    /// source address, …).
    pub fn new(cfg: EngineCfg) -> Result<(Self, Vec<Warning>), Error> {
        let mut warnings = Vec::new();
        let scripts: Vec<ScriptState> = cfg
            .scripts
            .iter()
            .map(|s| ScriptState {
                name: s.name.clone(),
                rise: s.rise.max(1),
                fall: s.fall.max(1),
                up: !s.init_fail,
                good: 0,
                bad: 0,
            })
            .collect();
        let files: Vec<FileState> = cfg
            .files
            .iter()
            .map(|f| FileState {
                name: f.name.clone(),
                value: 0,
            })
            .collect();
        let mut member_of: HashMap<&str, usize> = HashMap::new();
        for (gi, g) in cfg.sync_groups.iter().enumerate() {
            for m in &g.group {
                if member_of.insert(m.as_str(), gi).is_some() {
                    return Err(Error::Config {
                        instance: m.clone(),
                        msg: "an instance may belong to only one sync group".into(),
                    });
                }
                if !cfg.instances.iter().any(|i| &i.name == m) {
                    return Err(Error::Config {
                        instance: m.clone(),
                        msg: format!("sync group {} names an unknown instance", g.name),
                    });
                }
            }
            if g.group.len() == 1 {
                warnings.push(format!("Sync group {} has only 1 virtual router(s) - this probably isn't what you want", g.name));
            }
        }
        let mut instances = Vec::new();
        for ic in &cfg.instances {
            let mut ic = ic.clone();
            warnings.extend(ic.complete()?);
            let Some(src) = ic.src_ip else {
                return Err(Error::Config {
                    instance: ic.name.clone(),
                    msg: "no source address (interface has no usable address?)".into(),
                });
            };
            if Family::of(src) != ic.family {
                return Err(Error::Config {
                    instance: ic.name.clone(),
                    msg: format!("source address {src} is of the wrong family"),
                });
            }
            if instances.iter().any(|o: &Instance| {
                o.cfg.interface == ic.interface
                    && o.cfg.family == ic.family
                    && o.cfg.virtual_router_id == ic.virtual_router_id
                    && !(o.cfg.is_unicast() && ic.is_unicast())
            }) {
                return Err(Error::Config {
                    instance: ic.name.clone(),
                    msg: format!(
                        "VRID {} is used twice on interface {}",
                        ic.virtual_router_id, ic.interface
                    ),
                });
            }
            let group = member_of.get(ic.name.as_str()).copied();
            let gcfg = group.map(|g| &cfg.sync_groups[g]);
            let mut trackers = Vec::new();
            for t in ic
                .track_interface
                .iter()
                .chain(gcfg.into_iter().flat_map(|g| &g.track_interface))
            {
                trackers.push(Tracker::Interface {
                    name: t.name.clone(),
                    weight: t.weight,
                    reverse: t.reverse,
                });
            }
            for t in ic
                .track_script
                .iter()
                .chain(gcfg.into_iter().flat_map(|g| &g.track_script))
            {
                let idx = scripts
                    .iter()
                    .position(|s| s.name == t.name)
                    .ok_or_else(|| Error::Config {
                        instance: ic.name.clone(),
                        msg: format!("track_script {} is not a defined vrrp_script", t.name),
                    })?;
                let sc = &cfg.scripts[idx];
                trackers.push(Tracker::Script {
                    idx,
                    weight: t.weight.unwrap_or(sc.weight),
                    reverse: t.reverse ^ sc.reverse,
                });
            }
            for t in ic
                .track_file
                .iter()
                .chain(gcfg.into_iter().flat_map(|g| &g.track_file))
            {
                let idx =
                    files
                        .iter()
                        .position(|f| f.name == t.name)
                        .ok_or_else(|| Error::Config {
                            instance: ic.name.clone(),
                            msg: format!("track_file {} is not defined", t.name),
                        })?;
                let fc = &cfg.files[idx];
                trackers.push(Tracker::File {
                    idx,
                    weight: t.weight.unwrap_or(fc.weight),
                    reverse: t.reverse ^ fc.reverse,
                });
            }
            if ic.priority == 255 && trackers.iter().any(|t| tracker_weight(t) != 0) {
                warnings.push(format!(
                    "({}) tracker weights are ignored for the address owner (priority 255)",
                    ic.name
                ));
            }
            let master_adver_int_cs = ic.advert_int_cs();
            instances.push(Instance {
                src,
                group,
                state: State::Init,
                want_master: false,
                effective_priority: ic.priority,
                master_adver_int_cs,
                timers: TimerTable::default(),
                preempt_time: None,
                ip_id: 0,
                old_checksum: false,
                last_master: None,
                trackers,
                stats: Stats::default(),
                cfg: ic,
            });
        }
        let groups = cfg
            .sync_groups
            .iter()
            .map(|g| Group {
                name: g.name.clone(),
                members: g
                    .group
                    .iter()
                    .filter_map(|m| instances.iter().position(|i| &i.cfg.name == m))
                    .collect(),
                state: State::Init,
            })
            .collect();
        let mut e = Self {
            instances,
            groups,
            scripts,
            files,
            links: HashMap::new(),
            actions: VecDeque::new(),
            stats: EngineStats::default(),
            started: false,
            stopped: false,
        };
        for i in 0..e.instances.len() {
            e.instances[i].effective_priority = e.compute_priority(i);
        }
        Ok((e, warnings))
    }

    // ----- A. getters -----

    /// Status of every instance, in configuration order.
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.instances
            .iter()
            .map(|i| i.status(&self.groups))
            .collect()
    }

    /// Counters for packets no instance claimed.
    pub fn engine_stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Interfaces and families the instances listen on (for the driver to
    /// open sockets): `(interface, family, unicast)`.
    pub fn listeners(&self) -> Vec<(String, Family)> {
        let mut v: Vec<(String, Family)> = self
            .instances
            .iter()
            .map(|i| (i.cfg.interface.clone(), i.cfg.family))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0).then((a.1 as u8).cmp(&(b.1 as u8))));
        v.dedup();
        v
    }

    /// Interfaces any instance tracks (own interfaces included).
    pub fn tracked_interfaces(&self) -> Vec<String> {
        let mut v = Vec::new();
        for i in &self.instances {
            v.push(i.cfg.interface.clone());
            for t in &i.trackers {
                if let Tracker::Interface { name, .. } = t {
                    v.push(name.clone());
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }

    // ----- D. polling -----

    /// The next action to perform, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.instances.iter().filter_map(|i| i.timers.next()).min()
    }

    // ----- B/C. handlers -----

    /// Dispatch a recorded [`Input`].
    pub fn handle_input(&mut self, now: Instant, input: &Input) {
        match input {
            Input::Start => self.handle_start(now),
            Input::Packet(p) => self.handle_packet(now, p),
            Input::Link { interface, up } => self.handle_link(now, interface, *up),
            Input::Script { name, ok } => self.handle_script(now, name, *ok),
            Input::File { name, value } => self.handle_file(now, name, *value),
            Input::Shutdown => self.handle_shutdown(now),
        }
    }

    /// Leave INIT: every instance goes to BACKUP (VIPs force-removed,
    /// BACKUP notified — keepalived "Entering BACKUP STATE (init)") or to
    /// FAULT if a tracker is down. The address owner's down timer fires at
    /// once.
    pub fn handle_start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        for i in 0..self.instances.len() {
            self.start_instance(now, i);
        }
        self.update_groups();
    }

    fn start_instance(&mut self, now: Instant, i: usize) {
        if self.should_fault(i) {
            self.goto_fault(now, i);
            return;
        }
        let inst = &mut self.instances[i];
        self.actions.push_back(Action::DelVips {
            instance: inst.cfg.name.clone(),
            interface: inst.cfg.interface.clone(),
            vips: inst.all_vips(),
            reload: false,
        });
        if !inst.cfg.preempt_delay.is_zero() {
            inst.preempt_time = Some(now + inst.cfg.preempt_delay);
        }
        self.enter_backup(now, i, true);
    }

    /// Reload (SIGHUP) with keepalived's semantics (keepalived.md §5.4):
    /// instances are matched by identity (interface, family, VRID, unicast
    /// or not) and keep their state, timers and counters; a MASTER gets only
    /// its VIP changes (removed ones deleted, new ones added, all re-announced)
    /// and advertises its new priority with the next advert; a removed
    /// instance that was MASTER sends a priority-0 advert and removes its
    /// VIPs, and is reported FAULT (keepalived's default for a deleted
    /// instance); a new instance starts in BACKUP. `vrrp_script` and
    /// `track_file` states carry over by name, link states always. On error
    /// nothing changes.
    pub fn reconfigure(&mut self, now: Instant, cfg: EngineCfg) -> Result<Vec<Warning>, Error> {
        let (mut new, warnings) = Engine::new(cfg)?;
        for s in &mut new.scripts {
            if let Some(o) = self.scripts.iter().find(|o| o.name == s.name) {
                (s.up, s.good, s.bad) = (o.up, o.good, o.bad);
            }
        }
        for f in &mut new.files {
            if let Some(o) = self.files.iter().find(|o| o.name == f.name) {
                f.value = o.value;
            }
        }
        new.links = std::mem::take(&mut self.links);
        new.stats = self.stats.clone();
        new.started = self.started;
        new.stopped = self.stopped;
        for g in &mut new.groups {
            if let Some(o) = self.groups.iter().find(|o| o.name == g.name) {
                g.state = o.state;
            }
        }
        let identity = |c: &InstanceCfg| {
            (
                c.interface.clone(),
                c.family,
                c.virtual_router_id,
                c.is_unicast(),
            )
        };
        let mut matched: Vec<Option<usize>> = vec![None; new.instances.len()];
        let mut taken = vec![false; self.instances.len()];
        for (ni, m) in matched.iter_mut().enumerate() {
            let key = identity(&new.instances[ni].cfg);
            // Same name first (two unicast instances may share an identity).
            let found = (0..self.instances.len())
                .filter(|&oi| !taken[oi] && identity(&self.instances[oi].cfg) == key)
                .min_by_key(|&oi| self.instances[oi].cfg.name != new.instances[ni].cfg.name);
            if let Some(oi) = found {
                taken[oi] = true;
                *m = Some(oi);
            }
        }
        // Removed instances leave first, so that their VIPs are free for the
        // instances that take them over.
        if self.started && !self.stopped {
            for oi in (0..self.instances.len()).filter(|&oi| !taken[oi]) {
                if self.instances[oi].state == State::Master {
                    self.send_advert(now, oi, 0);
                    let inst = &mut self.instances[oi];
                    inst.stats.release_master += 1;
                    self.actions.push_back(Action::DelVips {
                        instance: inst.cfg.name.clone(),
                        interface: inst.cfg.interface.clone(),
                        vips: inst.all_vips(),
                        reload: false,
                    });
                }
                let inst = &mut self.instances[oi];
                info!(instance = %inst.cfg.name, "removed by reload");
                inst.state = State::Fault;
                self.notify_instance(oi);
            }
        }
        new.actions = std::mem::take(&mut self.actions);
        let mut fresh = Vec::new();
        for (ni, m) in matched.iter().enumerate() {
            let Some(oi) = *m else {
                fresh.push(ni);
                continue;
            };
            let old = &self.instances[oi];
            let n = &mut new.instances[ni];
            n.state = old.state;
            n.want_master = old.want_master;
            n.timers = old.timers;
            n.preempt_time = old.preempt_time;
            n.ip_id = old.ip_id;
            n.old_checksum = old.old_checksum;
            n.last_master = old.last_master;
            n.stats = old.stats.clone();
            if old.cfg.version == n.cfg.version && old.cfg.advert_int == n.cfg.advert_int {
                n.master_adver_int_cs = old.master_adver_int_cs;
            }
            if n.state != State::Master {
                continue;
            }
            if let Some(at) = n.timers.get(Timer::Adver) {
                n.timers.set(Timer::Adver, at.min(now + n.cfg.advert_int));
            }
            if n.cfg.garp_master_refresh.is_zero() {
                n.timers.stop(Timer::GarpRefresh);
            } else if n.timers.get(Timer::GarpRefresh).is_none() {
                n.timers
                    .set(Timer::GarpRefresh, now + n.cfg.garp_master_refresh);
            }
            let (was, now_vips) = (old.all_vips(), n.all_vips());
            let removed: Vec<Vip> = was
                .iter()
                .filter(|v| !now_vips.contains(v))
                .cloned()
                .collect();
            let added: Vec<Vip> = now_vips
                .iter()
                .filter(|v| !was.contains(v))
                .cloned()
                .collect();
            if !removed.is_empty() {
                new.actions.push_back(Action::DelVips {
                    instance: n.cfg.name.clone(),
                    interface: n.cfg.interface.clone(),
                    vips: removed,
                    reload: true,
                });
            }
            if !added.is_empty() {
                new.actions.push_back(Action::AddVips {
                    instance: n.cfg.name.clone(),
                    interface: n.cfg.interface.clone(),
                    vips: added,
                    reload: true,
                });
            }
            let rep = n.cfg.garp_master_repeat;
            new.gratuitous(ni, rep);
        }
        for i in 0..new.instances.len() {
            new.instances[i].effective_priority = new.compute_priority(i);
        }
        if new.started && !new.stopped {
            for &ni in &fresh {
                new.start_instance(now, ni);
            }
            new.reevaluate(now);
        }
        *self = new;
        Ok(warnings)
    }

    /// Orderly shutdown: a MASTER sends a priority-0 advert and removes its
    /// VIPs; every instance notifies STOP.
    pub fn handle_shutdown(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for i in 0..self.instances.len() {
            if self.instances[i].state == State::Master {
                self.send_advert(now, i, 0);
                let inst = &mut self.instances[i];
                info!(instance = %inst.cfg.name, "leaving MASTER: priority 0 advert");
                inst.stats.release_master += 1;
                self.actions.push_back(Action::DelVips {
                    instance: inst.cfg.name.clone(),
                    interface: inst.cfg.interface.clone(),
                    vips: inst.all_vips(),
                    reload: false,
                });
            }
            let inst = &mut self.instances[i];
            inst.timers.clear();
            inst.state = State::Stop;
            info!(instance = %inst.cfg.name, "stopping");
            self.notify_instance(i);
        }
        for g in 0..self.groups.len() {
            self.groups[g].state = State::Stop;
            self.actions.push_back(Action::Notify {
                kind: NotifyKind::Group,
                name: self.groups[g].name.clone(),
                state: State::Stop,
                priority: 0,
            });
        }
    }

    /// Run every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        for i in 0..self.instances.len() {
            for t in TIMERS {
                let due = self.instances[i].timers.get(t).is_some_and(|at| at <= now);
                if due {
                    self.instances[i].timers.stop(t);
                    self.on_timer(now, i, t);
                }
            }
        }
        self.update_groups();
    }

    /// Link state of an interface (rtnetlink). Unknown interfaces are assumed up.
    pub fn handle_link(&mut self, now: Instant, interface: &str, up: bool) {
        if self.links.get(interface) == Some(&up) {
            return;
        }
        self.links.insert(interface.to_string(), up);
        info!(interface, up, "link state");
        self.reevaluate(now);
    }

    /// A `vrrp_script` result: `rise` consecutive successes make it up,
    /// `fall` consecutive failures make it down.
    pub fn handle_script(&mut self, now: Instant, name: &str, ok: bool) {
        let Some(s) = self.scripts.iter_mut().find(|s| s.name == name) else {
            return;
        };
        if ok {
            s.good += 1;
            s.bad = 0;
            if !s.up && s.good >= s.rise {
                s.up = true;
                info!(script = name, "VRRP_Script succeeded");
            }
        } else {
            s.bad += 1;
            s.good = 0;
            if s.up && s.bad >= s.fall {
                s.up = false;
                info!(script = name, "VRRP_Script failed");
            }
        }
        self.reevaluate(now);
    }

    /// A `track_file` value.
    pub fn handle_file(&mut self, now: Instant, name: &str, value: i64) {
        if let Some(f) = self.files.iter_mut().find(|f| f.name == name) {
            f.value = value;
            self.reevaluate(now);
        }
    }

    /// A packet from a VRRP socket: demultiplex by (interface, family, VRID),
    /// validate as keepalived.md §3.7, then run the FSM.
    pub fn handle_packet(&mut self, now: Instant, pkt: &RxPacket) {
        if self.stopped || !self.started {
            return;
        }
        let (interface, family, src, dst, ttl, data): (&str, Family, IpAddr, IpAddr, u8, &[u8]) =
            match pkt {
                RxPacket::Ipv4 { interface, data } => {
                    let Ok(ip) = Ipv4Packet::new_checked(&data[..]) else {
                        self.stats.malformed += 1;
                        return;
                    };
                    let Ok(ipr) = Ipv4Repr::parse(&ip) else {
                        self.stats.malformed += 1;
                        return;
                    };
                    if ipr.protocol == IPPROTO_AH {
                        self.stats.ah_refused += 1;
                        warn!(src = %ipr.src_addr, "VRRP advert with IP AH (auth_type AH) refused: not supported");
                        return;
                    }
                    if ipr.protocol != IPPROTO_VRRP {
                        return;
                    }
                    let payload = &data[ip.header_len()..usize::from(ip.total_len())];
                    (
                        interface,
                        Family::Inet,
                        ipr.src_addr.into(),
                        ipr.dst_addr.into(),
                        ipr.ttl,
                        payload,
                    )
                }
                RxPacket::Ipv6 {
                    interface,
                    src,
                    dst,
                    hop_limit,
                    data,
                } => (interface, Family::Inet6, *src, *dst, *hop_limit, &data[..]),
            };
        if data.len() < 2 {
            self.stats.malformed += 1;
            return;
        }
        let vrid = data[1];
        let candidates: Vec<usize> = (0..self.instances.len())
            .filter(|&i| {
                let c = &self.instances[i].cfg;
                c.interface == interface && c.family == family && c.virtual_router_id == vrid
            })
            .collect();
        let idx = match candidates.as_slice() {
            [] => None,
            [one] => Some(*one),
            many => many
                .iter()
                .copied()
                .find(|&i| {
                    self.instances[i]
                        .cfg
                        .unicast_peer
                        .iter()
                        .any(|p| p.addr == src)
                })
                .or(Some(many[0])),
        };
        let Some(i) = idx else {
            self.stats.unknown_vrid += 1;
            debug!(interface, vrid, %src, "advert for unknown VRID");
            return;
        };
        if src == self.instances[i].src {
            // Our own advert looped back: never an input.
            return;
        }
        match self.validate(i, src, dst, ttl, data) {
            Ok(adv) => {
                self.instances[i].stats.advert_rcvd += 1;
                self.on_advert(now, i, adv);
                self.update_groups();
            }
            Err(r) => {
                let inst = &mut self.instances[i];
                inst.stats.dropped.bump(r);
                debug!(instance = %inst.cfg.name, %src, reason = r.as_str(), "advert dropped");
            }
        }
    }

    // ----- validation (keepalived.md §3.7, HEAD order) -----

    fn validate(
        &mut self,
        i: usize,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        data: &[u8],
    ) -> Result<Advert, DropReason> {
        let inst = &mut self.instances[i];
        let cfg = &inst.cfg;
        // 2. Length, computed for the configured version.
        let p = VrrpPacket::new_checked(data, cfg.family).map_err(|_| DropReason::PacketLength)?;
        p.check_len_for(cfg.version)
            .map_err(|_| DropReason::PacketLength)?;
        // 3. TTL / hop limit 255, multicast only (or unicast peer bounds).
        if cfg.is_unicast() {
            if let Some(peer) = cfg.unicast_peer.iter().find(|x| x.addr == src) {
                if peer.min_ttl.is_some_and(|m| ttl < m) || peer.max_ttl.is_some_and(|m| ttl > m) {
                    return Err(DropReason::IpTtl);
                }
            }
        } else if ttl != 255 {
            return Err(DropReason::IpTtl);
        }
        // 4. Version.
        if p.version() != cfg.version.number() {
            return Err(DropReason::Version);
        }
        // 6. v2 authentication and interval.
        if cfg.version == VrrpVersion::V2 {
            let at = p.auth_type();
            if at > 2 {
                return Err(DropReason::InvalidAuthType);
            }
            let want = match &cfg.authentication {
                AuthCfg::None => Auth::None,
                AuthCfg::Pass(s) => Auth::password(s),
            };
            if at != want.type_number() {
                return Err(DropReason::AuthTypeMismatch);
            }
            if let Auth::Password(pw) = want {
                let got = p.auth_data().unwrap_or_default();
                // Constant time over the 8 bytes.
                if got
                    .iter()
                    .zip(pw.iter())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    != 0
                {
                    return Err(DropReason::AuthFailure);
                }
            }
            if p.adver_int() != cfg.advert_int.as_secs() as u16 {
                return Err(DropReason::AdvertInterval);
            }
        }
        // 7. Type.
        if p.msg_type() != lvs_wire::vrrp::TYPE_ADVERTISEMENT {
            return Err(DropReason::InvalidType);
        }
        // 8. v3 interval mismatch: accepted, counted.
        if cfg.version == VrrpVersion::V3 && p.adver_int() != cfg.advert_int_cs() {
            inst.stats.v3_interval_differs += 1;
        }
        // 9. Checksum.
        let mode = match (cfg.version, cfg.family) {
            (VrrpVersion::V2, _) => ChecksumMode::Plain,
            (VrrpVersion::V3, Family::Inet) if cfg.v3_checksum_as_v2 => ChecksumMode::Plain,
            (VrrpVersion::V3, _) => ChecksumMode::Pseudo { src, dst },
        };
        if !p.verify_checksum(mode) {
            let old = ChecksumMode::Pseudo {
                src,
                dst: Family::Inet.mcast_group(),
            };
            let may_be_old = cfg.version == VrrpVersion::V3
                && cfg.family == Family::Inet
                && cfg.is_unicast()
                && !cfg.v3_checksum_as_v2
                && cfg.old_unicast_checksum != OldUnicastChecksum::Never;
            if may_be_old && p.verify_checksum(old) {
                if !inst.old_checksum {
                    info!(instance = %cfg.name, %src, "Setting unicast VRRPv3 checksum to old version");
                    inst.old_checksum = true;
                }
            } else {
                return Err(DropReason::Checksum);
            }
        }
        // 10. Multicast vs unicast destination.
        if dst.is_multicast() == cfg.is_unicast() {
            return Err(DropReason::DestinationMode);
        }
        // 11. Owner ignoring adverts.
        if cfg.owner_ignore_adverts && cfg.priority == 255 {
            return Err(DropReason::OwnerIgnore);
        }
        // 12. Address list: counted, accepted (keepalived >= 2.3.3, RFC 9568).
        if !cfg.skip_check_adv_addr || inst.last_master != Some(src) {
            let mut got: Vec<IpAddr> = (0..usize::from(p.count()))
                .filter_map(|k| p.address(k))
                .collect();
            let mut want: Vec<IpAddr> = cfg.virtual_ipaddress.iter().map(|v| v.addr).collect();
            got.sort();
            want.sort();
            if got != want {
                inst.stats.addr_list_err += 1;
                debug!(instance = %cfg.name, %src, "advert address list differs from ours");
            }
        }
        // 13. Unicast source.
        if cfg.is_unicast()
            && cfg.check_unicast_src
            && !cfg.unicast_peer.iter().any(|x| x.addr == src)
        {
            return Err(DropReason::UnicastSource);
        }
        Ok(Advert {
            src,
            priority: p.priority(),
            adver_int: p.adver_int(),
        })
    }

    // ----- FSM -----

    /// RFC 5798 §6.4.2 (Backup) / §6.4.3 (Master) "If an ADVERTISEMENT is
    /// received", with keepalived's preempt_delay, nopreempt and
    /// lower-priority handling.
    fn on_advert(&mut self, now: Instant, i: usize, adv: Advert) {
        let state = self.instances[i].state;
        if adv.priority == 0 {
            self.instances[i].stats.pri_zero_rcvd += 1;
        }
        match state {
            State::Backup => {
                let inst = &mut self.instances[i];
                let eff = inst.effective_priority;
                if adv.priority == 0 {
                    // The master is leaving: take over after Skew_Time.
                    info!(instance = %inst.cfg.name, from = %adv.src, "master left (priority 0 advert); taking over after Skew_Time");
                    let at = now + inst.skew_time();
                    inst.timers.set(Timer::MasterDown, at);
                    inst.last_master = None;
                    return;
                }
                let delay_pending =
                    !inst.cfg.preempt_delay.is_zero() && inst.preempt_time.is_none_or(|t| t > now);
                if inst.cfg.nopreempt || adv.priority >= eff || delay_pending {
                    if !inst.cfg.preempt_delay.is_zero() {
                        if adv.priority > eff {
                            inst.preempt_time = None;
                        } else if inst.preempt_time.is_none() {
                            inst.preempt_time = Some(now + inst.cfg.preempt_delay);
                        }
                    }
                    if inst.cfg.version == VrrpVersion::V3 {
                        inst.master_adver_int_cs = adv.adver_int.max(1);
                    }
                    inst.last_master = Some(adv.src);
                    inst.want_master = false;
                    let at = now + inst.master_down_interval();
                    inst.timers.set(Timer::MasterDown, at);
                } else {
                    debug!(instance = %inst.cfg.name, priority = adv.priority, "received lower priority advert - discarding");
                }
            }
            State::Master => {
                let eff = self.instances[i].effective_priority;
                let own = self.instances[i].src;
                if adv.priority == 0 {
                    self.send_advert(now, i, eff);
                } else if adv.priority > eff || (adv.priority == eff && adv.src > own) {
                    info!(instance = %self.instances[i].cfg.name, from = %adv.src, priority = adv.priority, "higher priority advert received");
                    if self.instances[i].cfg.higher_prio_send_advert {
                        self.send_advert(now, i, eff);
                    }
                    {
                        let inst = &mut self.instances[i];
                        if inst.cfg.version == VrrpVersion::V3 {
                            inst.master_adver_int_cs = adv.adver_int.max(1);
                        }
                        inst.last_master = Some(adv.src);
                    }
                    self.leave_master(now, i);
                    // A sync group follows its member to BACKUP.
                    if let Some(g) = self.instances[i].group {
                        for m in self.groups[g].members.clone() {
                            if m != i && self.instances[m].state == State::Master {
                                self.leave_master(now, m);
                            }
                        }
                    }
                } else {
                    let (no_adv, rep, group) = {
                        let inst = &self.instances[i];
                        (
                            inst.cfg.lower_prio_no_advert,
                            inst.cfg.garp_lower_prio_repeat,
                            inst.group,
                        )
                    };
                    if !no_adv {
                        self.send_advert(now, i, eff);
                    }
                    if rep > 0 {
                        let members = match group {
                            Some(g) => self.groups[g].members.clone(),
                            None => vec![i],
                        };
                        for m in members {
                            if self.instances[m].state == State::Master {
                                self.gratuitous(m, rep);
                            }
                        }
                    }
                    self.actions.push_back(Action::MasterRxLowerPri {
                        instance: self.instances[i].cfg.name.clone(),
                        from: adv.src,
                        priority: adv.priority,
                    });
                }
            }
            State::Init | State::Fault | State::Stop => {}
        }
    }

    fn on_timer(&mut self, now: Instant, i: usize, t: Timer) {
        match (t, self.instances[i].state) {
            (Timer::Adver, State::Master) => {
                let eff = self.instances[i].effective_priority;
                self.send_advert(now, i, eff);
                let inst = &mut self.instances[i];
                let at = now + inst.cfg.advert_int;
                inst.timers.set(Timer::Adver, at);
            }
            (Timer::MasterDown, State::Backup) => match self.instances[i].group {
                None => self.become_master(now, i),
                Some(g) => {
                    self.instances[i].want_master = true;
                    let members = self.groups[g].members.clone();
                    let all = members.iter().all(|&m| {
                        self.instances[m].want_master || self.instances[m].state == State::Master
                    });
                    if all {
                        for m in members {
                            if self.instances[m].state == State::Backup {
                                self.become_master(now, m);
                            }
                        }
                    } else {
                        // Wait for the rest of the group (keepalived: adv + skew).
                        let inst = &mut self.instances[i];
                        let at = now + inst.adver_int() + inst.skew_time();
                        inst.timers.set(Timer::MasterDown, at);
                    }
                }
            },
            (Timer::GarpDelay, State::Master) => {
                let rep = self.instances[i].cfg.garp_master_repeat;
                self.gratuitous(i, rep);
            }
            (Timer::GarpRefresh, State::Master) => {
                let rep = self.instances[i].cfg.garp_master_refresh_repeat.max(1);
                self.gratuitous(i, rep);
                let inst = &mut self.instances[i];
                let at = now + inst.cfg.garp_master_refresh;
                inst.timers.set(Timer::GarpRefresh, at);
            }
            _ => {}
        }
    }

    /// RFC 5798 §6.4.2 "If the Master_Down_Timer fires": send an advert,
    /// add the VIPs, gratuitous burst, schedule the second burst, notify.
    fn become_master(&mut self, now: Instant, i: usize) {
        let eff = self.instances[i].effective_priority;
        {
            let inst = &mut self.instances[i];
            // "Entering MASTER STATE" is logged by the driver once the advert, the VIPs and the
            // first gratuitous ARP are out (nothing is written before them).
            inst.state = State::Master;
            inst.want_master = false;
            inst.stats.become_master += 1;
            inst.timers.stop(Timer::MasterDown);
            inst.last_master = None;
            inst.preempt_time = None;
        }
        self.send_advert(now, i, eff);
        let inst = &mut self.instances[i];
        inst.timers.set(Timer::Adver, now + inst.cfg.advert_int);
        self.actions.push_back(Action::AddVips {
            instance: inst.cfg.name.clone(),
            interface: inst.cfg.interface.clone(),
            vips: inst.all_vips(),
            reload: false,
        });
        let rep = inst.cfg.garp_master_repeat;
        if !inst.cfg.garp_master_delay.is_zero() {
            inst.timers
                .set(Timer::GarpDelay, now + inst.cfg.garp_master_delay);
        }
        if !inst.cfg.garp_master_refresh.is_zero() {
            inst.timers
                .set(Timer::GarpRefresh, now + inst.cfg.garp_master_refresh);
        }
        self.gratuitous(i, rep);
        self.notify_instance(i);
    }

    /// MASTER → BACKUP on a higher-priority advert (or sync group pull).
    fn leave_master(&mut self, now: Instant, i: usize) {
        let inst = &mut self.instances[i];
        inst.stats.release_master += 1;
        inst.timers.stop(Timer::Adver);
        inst.timers.stop(Timer::GarpDelay);
        inst.timers.stop(Timer::GarpRefresh);
        self.actions.push_back(Action::DelVips {
            instance: inst.cfg.name.clone(),
            interface: inst.cfg.interface.clone(),
            vips: inst.all_vips(),
            reload: false,
        });
        self.enter_backup(now, i, false);
    }

    fn enter_backup(&mut self, now: Instant, i: usize, init: bool) {
        let inst = &mut self.instances[i];
        inst.state = State::Backup;
        inst.want_master = false;
        let at = if inst.is_owner() {
            now
        } else {
            now + inst.master_down_interval()
        };
        inst.timers.set(Timer::MasterDown, at);
        info!(instance = %inst.cfg.name, init, "Entering BACKUP STATE");
        self.notify_instance(i);
    }

    fn goto_fault(&mut self, now: Instant, i: usize) {
        if self.instances[i].state == State::Master {
            self.send_advert(now, i, 0);
            let inst = &mut self.instances[i];
            inst.stats.release_master += 1;
            self.actions.push_back(Action::DelVips {
                instance: inst.cfg.name.clone(),
                interface: inst.cfg.interface.clone(),
                vips: inst.all_vips(),
                reload: false,
            });
        }
        let inst = &mut self.instances[i];
        inst.timers.clear();
        inst.state = State::Fault;
        inst.want_master = false;
        info!(instance = %inst.cfg.name, "Entering FAULT STATE");
        self.notify_instance(i);
    }

    /// Recompute FAULT and priorities after a tracker changed.
    fn reevaluate(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        for i in 0..self.instances.len() {
            let p = self.compute_priority(i);
            let inst = &mut self.instances[i];
            if p != inst.effective_priority {
                info!(instance = %inst.cfg.name, from = inst.effective_priority, to = p, "effective priority changed");
                inst.effective_priority = p;
            }
        }
        if !self.started {
            return;
        }
        for i in 0..self.instances.len() {
            let fault = self.should_fault(i);
            match (fault, self.instances[i].state) {
                (true, State::Backup | State::Master) => self.goto_fault(now, i),
                (false, State::Fault) => self.enter_backup(now, i, false),
                _ => {}
            }
        }
        self.update_groups();
    }

    fn link_up(&self, name: &str) -> bool {
        self.links.get(name).copied().unwrap_or(true)
    }

    fn tracker_up(&self, t: &Tracker) -> bool {
        match t {
            Tracker::Interface { name, .. } => self.link_up(name),
            Tracker::Script { idx, .. } => self.scripts[*idx].up,
            Tracker::File { idx, .. } => self.files[*idx].value == 0,
        }
    }

    fn own_fault(&self, i: usize) -> bool {
        let inst = &self.instances[i];
        if !inst.cfg.dont_track_primary && !self.link_up(&inst.cfg.interface) {
            return true;
        }
        inst.trackers.iter().any(|t| match t {
            Tracker::Interface { weight: 0, .. } => !self.tracker_up(t),
            Tracker::Script {
                weight: 0, reverse, ..
            } => self.tracker_up(t) == *reverse,
            Tracker::File { idx, weight: 0, .. } => self.files[*idx].value != 0,
            Tracker::File {
                idx,
                weight,
                reverse,
            } => {
                let v = self.files[*idx].value.saturating_mul(i64::from(*weight));
                (if *reverse { -v } else { v }) < -253
            }
            _ => false,
        })
    }

    fn should_fault(&self, i: usize) -> bool {
        match self.instances[i].group {
            None => self.own_fault(i),
            Some(g) => self.groups[g].members.iter().any(|&m| self.own_fault(m)),
        }
    }

    /// Effective priority = base + Σ tracker weights, clamped to 1..254;
    /// the owner (255) ignores weights (keepalived.md §3.2, §3.14).
    fn compute_priority(&self, i: usize) -> u8 {
        let inst = &self.instances[i];
        if inst.is_owner() {
            return 255;
        }
        let mut p = i64::from(inst.cfg.priority);
        for t in &inst.trackers {
            let (w, rev) = match t {
                Tracker::Interface {
                    weight, reverse, ..
                }
                | Tracker::Script {
                    weight, reverse, ..
                } => (*weight, *reverse),
                Tracker::File {
                    idx,
                    weight,
                    reverse,
                } => {
                    let v = self.files[*idx].value.saturating_mul(i64::from(*weight));
                    p += if *reverse { -v } else { v };
                    continue;
                }
            };
            if w == 0 {
                continue;
            }
            let up = self.tracker_up(t);
            let applies = if w > 0 { up } else { !up };
            if applies {
                p += if rev { -i64::from(w) } else { i64::from(w) };
            }
        }
        p.clamp(1, 254) as u8
    }

    // ----- outputs -----

    fn send_advert(&mut self, _now: Instant, i: usize, priority: u8) {
        let inst = &mut self.instances[i];
        let repr = inst.advert_repr(priority);
        for (dst, ttl) in inst.destinations() {
            let mode = inst.checksum_mode(dst);
            let data = match (inst.src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    inst.ip_id = inst.ip_id.wrapping_add(1);
                    repr.to_ipv4_datagram(s, d, ttl, inst.ip_id, mode)
                }
                _ => repr.to_bytes(Family::Inet6, mode),
            };
            inst.stats.advert_sent += 1;
            if priority == 0 {
                inst.stats.pri_zero_sent += 1;
            }
            self.actions.push_back(Action::SendAdvert {
                instance: inst.cfg.name.clone(),
                interface: inst.cfg.interface.clone(),
                family: inst.cfg.family,
                src: inst.src,
                dst,
                priority,
                data,
            });
        }
    }

    fn gratuitous(&mut self, i: usize, count: u32) {
        let inst = &self.instances[i];
        let vips = inst.all_vips();
        if vips.is_empty() || count == 0 {
            return;
        }
        self.actions.push_back(Action::Gratuitous {
            instance: inst.cfg.name.clone(),
            interface: inst.cfg.interface.clone(),
            vips,
            count,
        });
    }

    fn notify_instance(&mut self, i: usize) {
        let inst = &self.instances[i];
        self.actions.push_back(Action::Notify {
            kind: NotifyKind::Instance,
            name: inst.cfg.name.clone(),
            state: inst.state,
            priority: inst.effective_priority,
        });
    }

    /// Derive each sync group's state from its members and notify changes.
    fn update_groups(&mut self) {
        for g in 0..self.groups.len() {
            let states: Vec<State> = self.groups[g]
                .members
                .iter()
                .map(|&m| self.instances[m].state)
                .collect();
            let s = if states.contains(&State::Fault) {
                State::Fault
            } else if states.iter().all(|s| *s == State::Master) {
                State::Master
            } else if states
                .iter()
                .all(|s| *s == State::Backup || *s == State::Master)
            {
                State::Backup
            } else {
                continue;
            };
            if s != self.groups[g].state {
                self.groups[g].state = s;
                // At debug level: a group becoming MASTER is reported by the driver's state line
                // (its Notify below), after the members' VIPs and GARPs.
                debug!(group = %self.groups[g].name, state = %s, "sync group state");
                self.actions.push_back(Action::Notify {
                    kind: NotifyKind::Group,
                    name: self.groups[g].name.clone(),
                    state: s,
                    priority: 0,
                });
            }
        }
    }
}

fn tracker_weight(t: &Tracker) -> i32 {
    match t {
        Tracker::Interface { weight, .. }
        | Tracker::Script { weight, .. }
        | Tracker::File { weight, .. } => *weight,
    }
}
