//! The checker engine: probe scheduling, keepalived's retry state machine, and the virtual-server
//! logic (alpha, quorum, hysteresis, sorry server, inhibit_on_failure, ha_suspend, omega).
//!
//! # Call order (quinn style)
//!
//! ```text
//! let mut e = Engine::new(cfg, seed, now);
//! loop {
//!     while let Some(a) = e.poll_action() { /* start probes, apply weights, run notifies */ }
//!     sleep_until(e.poll_timeout()) → e.handle_timeout(now)
//!     or a probe finished          → e.handle_result(now, run, result)
//!     or SIGHUP                    → e.reconfigure(now, new_cfg)
//!     or VIP appeared/disappeared  → e.set_vip_present(ip, bool)
//! }
//! e.shutdown(); drain poll_action()
//! ```
//!
//! Invariants:
//! - One probe per distinct `(ProbeSpec, Timing)`, whatever the number of virtual servers
//!   that reference it; every consumer sees the same result.
//! - At most one run of a probe is outstanding. A result for a run that is no longer current
//!   (stalled, or the probe was removed by a reload) is ignored.
//! - `SetWeight` actions are a diff of the published per-virtual-server destination set:
//!   additions and weight changes come before removals, so a service is never emptied by the
//!   order of operations (the sorry server is added before the last real server leaves).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::config::{EngineConfig, RealServerCfg, VirtualServerCfg, VsKey};
use crate::spec::{ProbeKind, ProbeSpec, Timing};

/// Stable identity of a probe for the life of the engine (kept across reloads when the
/// checker compares equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ProbeId(pub u64);

/// One run of a probe; results must quote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RunId {
    /// The probe.
    pub probe: ProbeId,
    /// The run number of that probe.
    pub seq: u64,
}

/// What an executor reports for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// The check passed.
    pub ok: bool,
    /// `misc_dynamic` / FILE_CHECK `dynamic`: the weight the real server should take.
    pub weight: Option<u32>,
    /// Human-readable reason (failure cause, status line…).
    pub detail: String,
    /// Wall time the run took.
    pub latency: Duration,
    /// The run never started: the executor could not start it by its `start_by` (saturated).
    /// Not a result of the check: the checker's state is kept and the next run scheduled.
    pub skipped: bool,
}

impl ProbeResult {
    /// A pass.
    pub fn up(detail: impl Into<String>) -> Self {
        Self {
            ok: true,
            weight: None,
            detail: detail.into(),
            latency: Duration::ZERO,
            skipped: false,
        }
    }
    /// A failure.
    pub fn down(detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            weight: None,
            detail: detail.into(),
            latency: Duration::ZERO,
            skipped: false,
        }
    }
    /// A run the executor did not start in time (see [`Action::StartProbe::start_by`]).
    pub fn skipped(detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            weight: None,
            detail: detail.into(),
            latency: Duration::ZERO,
            skipped: true,
        }
    }
}

/// Notification events (keepalived's notify_up / notify_down / quorum_up / quorum_down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NotifyEvent {
    /// A real server came up.
    RsUp,
    /// A real server went down.
    RsDown,
    /// The virtual server gained quorum.
    QuorumUp,
    /// The virtual server lost quorum.
    QuorumDown,
}

/// What the engine asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run a probe now and report with [`Engine::handle_result`].
    StartProbe {
        /// Quote this in the result.
        run: RunId,
        /// What to run.
        spec: Arc<ProbeSpec>,
        /// An executor that queues runs (a concurrency bound) and cannot start this one by
        /// then answers [`ProbeResult::skipped`] instead of running it late: the run is
        /// coalesced into the probe's next one (one `delay_loop` after it was due).
        /// Its own timeout counts from the actual start.
        start_by: Instant,
    },
    /// Set a destination of a virtual server in the data plane: `Some(w)` adds or edits it,
    /// `None` removes it.
    SetWeight {
        /// The service.
        vs: VsKey,
        /// The destination.
        dest: SocketAddr,
        /// New weight, or removal.
        weight: Option<u32>,
        /// This destination is the sorry server.
        sorry: bool,
    },
    /// A checker changed state (for logs and metrics).
    CheckerChanged {
        /// The probe.
        probe: ProbeId,
        /// What it probes.
        spec: Arc<ProbeSpec>,
        /// New state.
        up: bool,
        /// Why (the last result's detail).
        detail: String,
        /// Failed runs that led here (retries included).
        failures: u32,
    },
    /// Run a notify script / report an event.
    Notify {
        /// The event.
        event: NotifyEvent,
        /// Virtual server concerned.
        vs: VsKey,
        /// Real server concerned (for RsUp / RsDown).
        dest: Option<SocketAddr>,
        /// The configured script, if any (argv).
        script: Option<Vec<String>>,
    },
    /// A probe run produced no result in time: the executor is stuck. The run counts as failed.
    Stalled {
        /// The run that never reported.
        run: RunId,
        /// What it probes.
        spec: Arc<ProbeSpec>,
        /// How long we waited.
        after: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Running { since: Instant },
}

/// Counters kept per probe.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeStats {
    /// Runs completed (stalls included).
    pub runs: u64,
    /// Failed runs.
    pub failures: u64,
    /// Runs that stalled.
    pub stalls: u64,
    /// Runs the executor skipped (could not start them within their `delay_loop`).
    pub skips: u64,
    /// Latency of the last completed run.
    pub last_latency: Duration,
}

#[derive(Debug)]
struct Probe {
    spec: Arc<ProbeSpec>,
    timing: Timing,
    is_up: bool,
    has_run: bool,
    retry_it: u32,
    dyn_weight: Option<u32>,
    phase: Phase,
    seq: u64,
    timer_gen: u64,
    next_at: Instant,
    last_detail: String,
    last_run: Option<Instant>,
    stats: ProbeStats,
    /// (vs index, rs index) consumers in the current configuration.
    consumers: Vec<(usize, usize)>,
}

impl Probe {
    fn new(spec: ProbeSpec, timing: Timing, at: Instant) -> Self {
        Self {
            spec: Arc::new(spec),
            timing,
            is_up: !timing.alpha,
            has_run: false,
            retry_it: 0,
            dyn_weight: None,
            phase: Phase::Waiting,
            seq: 0,
            timer_gen: 0,
            next_at: at,
            last_detail: String::new(),
            last_run: None,
            stats: ProbeStats::default(),
            consumers: Vec::new(),
        }
    }

    /// How long a due run may wait for the executor before it is skipped: until the next
    /// run would be due (one `delay_loop`, at least 1 s).
    fn start_window(&self) -> Duration {
        self.timing.delay_loop.max(Duration::from_secs(1))
    }

    /// Upper bound of one run as the executor enforces it.
    fn max_duration(&self) -> Duration {
        match &self.spec.kind {
            ProbeKind::MiscCheck(m) => m.timeout,
            ProbeKind::FileCheck(_) => Duration::from_secs(1),
            _ => self.spec.connect_timeout,
        }
    }
}

#[derive(Debug)]
struct Rs {
    /// Its configuration (without `checkers`: those are `probes`).
    cfg: RealServerCfg,
    probes: Vec<ProbeId>,
    alive: bool,
    /// What this real server adds to `Vs::alive_weight` (its weight while alive, else 0).
    contrib: u64,
}

#[derive(Debug)]
struct Vs {
    cfg: VirtualServerCfg,
    rs: Vec<Rs>,
    suspended: bool,
    quorum_up: bool,
    published: BTreeMap<SocketAddr, u32>,
    /// Σ weights of alive real servers (kept by `eval_vs` and `eval_rs`).
    alive_weight: u64,
    /// Real servers and the sorry server have distinct addresses, so one real server's
    /// change touches only its own destination (`eval_rs` may update it alone).
    distinct_dests: bool,
}

/// Status of one checker, for `lvsd status`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckerStatus {
    /// Probe identity.
    pub id: ProbeId,
    /// keepalived keyword (`TCP_CHECK`, …).
    pub kind: &'static str,
    /// Human description.
    pub target: String,
    /// Current state.
    pub up: bool,
    /// Has run at least once.
    pub has_run: bool,
    /// Consecutive failures in the current retry cycle.
    pub retry_it: u32,
    /// Last result's detail.
    pub last_detail: String,
    /// Seconds since the last completed run.
    pub last_run_ago: Option<f64>,
    /// Counters.
    pub stats: ProbeStats,
    /// Number of real servers (across virtual servers) sharing this probe.
    pub shared_by: usize,
}

/// Status of one real server.
#[derive(Debug, Clone, Serialize)]
pub struct RealServerStatus {
    /// Destination.
    pub dest: SocketAddr,
    /// All checkers pass.
    pub alive: bool,
    /// Weight currently published (`None`: not in the service).
    pub weight: Option<u32>,
    /// Configured weight.
    pub configured_weight: u32,
    /// `inhibit_on_failure`.
    pub inhibit_on_failure: bool,
    /// Its checkers.
    pub checkers: Vec<CheckerStatus>,
}

/// Status of one virtual server.
#[derive(Debug, Clone, Serialize)]
pub struct VirtualServerStatus {
    /// Identity.
    pub key: VsKey,
    /// Quorum currently met.
    pub quorum_up: bool,
    /// `quorum`.
    pub quorum: u64,
    /// `hysteresis`.
    pub hysteresis: u64,
    /// Σ weights of alive real servers.
    pub alive_weight: u64,
    /// Probes suspended (`ha_suspend` and the VIP is absent).
    pub suspended: bool,
    /// Sorry server and its published weight.
    pub sorry_server: Option<(SocketAddr, Option<u32>)>,
    /// Real servers.
    pub real_servers: Vec<RealServerStatus>,
}

/// Hasher of [`ProbeId`]s (sequential integers): one multiply instead of SipHash on the
/// per-result path.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type IdMap<V> = HashMap<ProbeId, V, BuildHasherDefault<IdHasher>>;

/// Stall deadlines of running probes, one FIFO per run bound (`max_duration + stall_grace`):
/// runs start in time order, so each FIFO is sorted by deadline (no heap, no per-run timer
/// in the schedule heap). Entries are `(deadline, probe, run seq)`; stale ones (the run
/// completed) are dropped when they reach the front.
type StallQueues = Vec<(Duration, VecDeque<(Instant, ProbeId, u64)>)>;

/// The health-check engine. See the module docs for the call order.
#[derive(Debug)]
pub struct Engine {
    probes: IdMap<Probe>,
    by_key: HashMap<(ProbeSpec, Timing), ProbeId>,
    vs: Vec<Vs>,
    timers: BinaryHeap<Reverse<(Instant, ProbeId, u64)>>,
    stall_queues: StallQueues,
    /// [`Engine::poll_timeout`] rounds up to a multiple of this since `epoch` (0: exact).
    timer_slack: Duration,
    epoch: Instant,
    actions: VecDeque<Action>,
    rng: ChaCha8Rng,
    next_id: u64,
    jitter_permille: u16,
    stall_grace: Duration,
    stopped: bool,
    /// Two virtual servers share a key (then only the full reconfigure applies).
    duplicate_keys: bool,
    /// Runs skipped since the last [`Engine::take_skipped`].
    skipped: u64,
}

impl Engine {
    /// Builds the engine, schedules every probe's first run at `now + 1 s + random(0..=warmup)`,
    /// and queues the initial destination set (real servers without alpha are in at once).
    pub fn new(cfg: EngineConfig, seed: u64, now: Instant) -> Self {
        let mut e = Self {
            probes: IdMap::default(),
            by_key: HashMap::new(),
            vs: Vec::new(),
            timers: BinaryHeap::new(),
            stall_queues: Vec::new(),
            timer_slack: cfg.timer_slack,
            epoch: now,
            actions: VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_id: 1,
            jitter_permille: cfg.jitter_permille,
            stall_grace: cfg.stall_grace,
            stopped: false,
            duplicate_keys: false,
            skipped: 0,
        };
        e.install(cfg, HashMap::new(), HashMap::new(), now);
        e
    }

    /// The checker keyword of a probe (for metrics labels).
    pub fn probe_kind(&self, id: ProbeId) -> Option<&'static str> {
        self.probes.get(&id).map(|p| p.spec.kind.keyword())
    }

    /// Number of distinct probes (after deduplication).
    pub fn probe_count(&self) -> usize {
        self.probes.len()
    }

    /// The earliest instant at which [`Engine::handle_timeout`] has work, rounded up to the
    /// configured `timer_slack` (so that one wake-up serves every timer of that slot).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let mut best = None;
        while let Some(Reverse((at, id, gen))) = self.timers.peek().copied() {
            if self.probes.get(&id).is_some_and(|p| p.timer_gen == gen) {
                best = Some(at);
                break;
            }
            self.timers.pop();
        }
        for (_, q) in &mut self.stall_queues {
            while let Some(&(at, id, seq)) = q.front() {
                if Self::stall_live(&self.probes, id, seq) {
                    best = Some(best.map_or(at, |b: Instant| b.min(at)));
                    break;
                }
                q.pop_front();
            }
        }
        let at = best?;
        let slack = self.timer_slack.as_nanos();
        if slack == 0 {
            return Some(at);
        }
        let since = at.saturating_duration_since(self.epoch).as_nanos();
        let slots = since.div_ceil(slack);
        Some(self.epoch + Duration::from_nanos((slots * slack) as u64))
    }

    /// Whether a stall-queue entry is the probe's current, still running, run.
    fn stall_live(probes: &IdMap<Probe>, id: ProbeId, seq: u64) -> bool {
        probes
            .get(&id)
            .is_some_and(|p| p.seq == seq && matches!(p.phase, Phase::Running { .. }))
    }

    /// Next queued action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Fires due timers: starts probes, reports stalled ones.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, id, gen))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(p) = self.probes.get(&id) else {
                continue;
            };
            if p.timer_gen != gen {
                continue;
            }
            match p.phase {
                Phase::Waiting => self.start(id, now),
                Phase::Running { .. } => self.stall(id, now),
            }
        }
        for qi in 0..self.stall_queues.len() {
            while let Some(&(at, id, seq)) = self.stall_queues[qi].1.front() {
                if at > now {
                    break;
                }
                self.stall_queues[qi].1.pop_front();
                if Self::stall_live(&self.probes, id, seq) {
                    self.stall(id, now);
                }
            }
        }
    }

    /// The running probe `id` produced no result in time: report it, count a failure.
    fn stall(&mut self, id: ProbeId, now: Instant) {
        let p = self.probes.get_mut(&id).expect("probe exists");
        let Phase::Running { since } = p.phase else {
            return;
        };
        p.stats.stalls += 1;
        let run = RunId {
            probe: id,
            seq: p.seq,
        };
        let after = now.saturating_duration_since(since);
        self.actions.push_back(Action::Stalled {
            run,
            spec: p.spec.clone(),
            after,
        });
        let detail = format!("stalled: no result after {:.1}s", after.as_secs_f64());
        self.complete(id, now, false, None, detail, after);
    }

    fn start(&mut self, id: ProbeId, now: Instant) {
        let suspended = {
            let p = &self.probes[&id];
            !p.consumers.is_empty() && p.consumers.iter().all(|&(v, _)| self.vs[v].suspended)
        };
        let grace = self.stall_grace;
        let p = self.probes.get_mut(&id).expect("probe exists");
        if suspended {
            let at = now + p.timing.delay_loop;
            Self::schedule(&mut self.timers, id, p, at);
            return;
        }
        p.seq += 1;
        p.phase = Phase::Running { since: now };
        // No schedule-heap timer while running: the stall deadline goes to its FIFO. A run may
        // wait up to its start window for the executor (then it is skipped), and once started
        // takes at most max_duration: only a run past both (and the grace) is stalled.
        let window = p.start_window();
        let bound = window + p.max_duration() + grace;
        p.timer_gen += 1;
        p.next_at = now + bound;
        let entry = (now + bound, id, p.seq);
        match self.stall_queues.iter_mut().find(|(b, _)| *b == bound) {
            Some((_, q)) => q.push_back(entry),
            None => self.stall_queues.push((bound, VecDeque::from([entry]))),
        }
        self.actions.push_back(Action::StartProbe {
            run: RunId {
                probe: id,
                seq: p.seq,
            },
            spec: p.spec.clone(),
            start_by: now + window,
        });
    }

    fn schedule(
        timers: &mut BinaryHeap<Reverse<(Instant, ProbeId, u64)>>,
        id: ProbeId,
        p: &mut Probe,
        at: Instant,
    ) {
        p.timer_gen += 1;
        p.next_at = at;
        timers.push(Reverse((at, id, p.timer_gen)));
    }

    /// Takes a probe result. Results for runs that are not current are ignored (returns false).
    pub fn handle_result(&mut self, now: Instant, run: RunId, result: ProbeResult) -> bool {
        let Some(p) = self.probes.get(&run.probe) else {
            return false;
        };
        if p.seq != run.seq || !matches!(p.phase, Phase::Running { .. }) {
            return false;
        }
        if result.skipped {
            self.skip(run.probe, now);
            return true;
        }
        self.complete(
            run.probe,
            now,
            result.ok,
            result.weight,
            result.detail,
            result.latency,
        );
        true
    }

    /// The executor did not start the run in its window: no result, the state (up/down, retry
    /// count) is kept and the next run is one (jittered) `delay_loop` from now.
    fn skip(&mut self, id: ProbeId, now: Instant) {
        let jitter = self.jitter_permille;
        let p = self.probes.get_mut(&id).expect("probe exists");
        p.phase = Phase::Waiting;
        p.stats.skips += 1;
        self.skipped += 1;
        let delay = p.timing.delay_loop;
        let max = delay.as_nanos() as u64 * u64::from(jitter) / 1000;
        let delay = delay - Duration::from_nanos(self.rng.gen_range(0..=max));
        Self::schedule(&mut self.timers, id, p, now + delay);
    }

    /// Runs skipped by the executor since the last call (a saturated executor: the driver
    /// reports it).
    pub fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }

    /// keepalived's checker epilogue (`tcp_epilog` & co.): retry while up, then down; a down
    /// checker comes back on its first success.
    fn complete(
        &mut self,
        id: ProbeId,
        now: Instant,
        ok: bool,
        weight: Option<u32>,
        detail: String,
        latency: Duration,
    ) {
        let jitter = self.jitter_permille;
        let p = self.probes.get_mut(&id).expect("probe exists");
        p.phase = Phase::Waiting;
        p.stats.runs += 1;
        p.stats.last_latency = latency;
        p.last_run = Some(now);
        if !ok {
            p.stats.failures += 1;
        }
        let was_up = p.is_up;
        let old_weight = p.dyn_weight;
        let failures = p.retry_it + 1;
        let mut full_loop = true;
        let delay;
        if ok || ((p.is_up || !p.has_run) && p.retry_it >= p.timing.retry) {
            delay = p.timing.delay_loop;
            p.retry_it = 0;
            if ok {
                p.is_up = true;
                p.dyn_weight = weight;
            } else if p.is_up || !p.has_run {
                p.is_up = false;
            }
        } else if p.is_up {
            p.retry_it += 1;
            delay = p.timing.delay_before_retry;
            full_loop = false;
        } else {
            delay = p.timing.delay_loop;
        }
        let changed_state = was_up != p.is_up;
        p.has_run = true;
        p.last_detail = detail;
        let delay = if full_loop && jitter > 0 {
            let max = delay.as_nanos() as u64 * u64::from(jitter) / 1000;
            delay - Duration::from_nanos(self.rng.gen_range(0..=max))
        } else {
            delay
        };
        Self::schedule(&mut self.timers, id, p, now + delay);
        if changed_state {
            self.actions.push_back(Action::CheckerChanged {
                probe: id,
                spec: p.spec.clone(),
                up: p.is_up,
                detail: p.last_detail.clone(),
                failures: if p.is_up { 0 } else { failures },
            });
        }
        if changed_state || old_weight != p.dyn_weight {
            // Only the real servers that use this probe: O(1) each, not O(virtual server).
            let consumers = p.consumers.clone();
            for (v, r) in consumers {
                self.eval_rs(v, r);
            }
        }
    }

    /// `ha_suspend`: tells the engine whether `ip` is configured locally. Virtual servers with
    /// `ha_suspend` on that address run their probes only while it is.
    pub fn set_vip_present(&mut self, ip: IpAddr, present: bool) {
        for vs in &mut self.vs {
            if vs.cfg.ha_suspend && vs.cfg.key.addr() == Some(ip) {
                vs.suspended = !present;
            }
        }
    }

    /// Applies a new configuration: probes that compare equal keep their state and schedule,
    /// real servers that keep their identity keep `alive`, and only the destination diff is
    /// queued.
    pub fn reconfigure(&mut self, now: Instant, cfg: EngineConfig) {
        self.jitter_permille = cfg.jitter_permille;
        self.stall_grace = cfg.stall_grace;
        self.timer_slack = cfg.timer_slack;
        let old_vs: HashMap<VsKey, Vs> =
            self.vs.drain(..).map(|v| (v.cfg.key.clone(), v)).collect();
        let mut old_probes: HashMap<(ProbeSpec, Timing), (ProbeId, Probe)> = HashMap::new();
        for (key, id) in self.by_key.drain() {
            if let Some(mut p) = self.probes.remove(&id) {
                p.consumers.clear();
                old_probes.insert(key, (id, p));
            }
        }
        self.install(cfg, old_probes, old_vs, now);
    }

    fn install(
        &mut self,
        cfg: EngineConfig,
        mut old_probes: HashMap<(ProbeSpec, Timing), (ProbeId, Probe)>,
        mut old_vs: HashMap<VsKey, Vs>,
        now: Instant,
    ) {
        let mut new_vs = Vec::with_capacity(cfg.virtual_servers.len());
        let mut keys = std::collections::HashSet::with_capacity(cfg.virtual_servers.len());
        self.duplicate_keys = false;
        for (vi, vcfg) in cfg.virtual_servers.into_iter().enumerate() {
            self.duplicate_keys |= !keys.insert(vcfg.key.clone());
            let prev = old_vs.remove(&vcfg.key);
            new_vs.push(self.build_vs(vi, vcfg, prev, &mut old_probes, now));
        }
        // Virtual servers that disappeared: withdraw what we published.
        self.withdraw(old_vs.into_values().collect());
        self.vs = new_vs;
        for v in 0..self.vs.len() {
            self.eval_vs(v);
        }
    }

    /// Withdraws what the given (removed) virtual servers published, in key order.
    fn withdraw(&mut self, mut gone: Vec<Vs>) {
        gone.sort_by(|a, b| a.cfg.key.cmp(&b.cfg.key));
        for vs in gone {
            for (dest, _) in vs.published {
                let sorry = vs.cfg.sorry_server == Some(dest);
                self.actions.push_back(Action::SetWeight {
                    vs: vs.cfg.key.clone(),
                    dest,
                    weight: None,
                    sorry,
                });
            }
        }
    }

    /// The engine state of virtual server `vi` of a new configuration: its probes (shared, or
    /// carried over from `old_probes` with their id, state and schedule, or new), and what
    /// `prev` (the virtual server with the same key before) knew.
    fn build_vs(
        &mut self,
        vi: usize,
        vcfg: VirtualServerCfg,
        prev: Option<Vs>,
        old_probes: &mut HashMap<(ProbeSpec, Timing), (ProbeId, Probe)>,
        now: Instant,
    ) -> Vs {
        // A real server that keeps its address keeps `alive` (the first of duplicates).
        let mut prev_alive: HashMap<SocketAddr, bool> = HashMap::new();
        for r in prev.iter().flat_map(|v| v.rs.iter()) {
            prev_alive.entry(r.cfg.dest).or_insert(r.alive);
        }
        let mut rs_list = Vec::with_capacity(vcfg.real_servers.len());
        for (ri, rcfg) in vcfg.real_servers.iter().enumerate() {
            let mut ids = Vec::with_capacity(rcfg.checkers.len());
            for c in &rcfg.checkers {
                let key = (c.spec.clone(), c.timing);
                let id = match self.by_key.get(&key) {
                    Some(&id) => id,
                    None => {
                        let (id, probe) = match old_probes.remove(&key) {
                            // Carried over with its id, state, schedule and in-flight run.
                            Some((id, p)) => (id, p),
                            None => {
                                let id = ProbeId(self.next_id);
                                self.next_id += 1;
                                let warm = c.timing.warmup.as_nanos() as u64;
                                let offset = if warm == 0 {
                                    0
                                } else {
                                    self.rng.gen_range(0..=warm)
                                };
                                let at =
                                    now + Duration::from_secs(1) + Duration::from_nanos(offset);
                                let mut p = Probe::new(c.spec.clone(), c.timing, at);
                                Self::schedule(&mut self.timers, id, &mut p, at);
                                (id, p)
                            }
                        };
                        self.probes.insert(id, probe);
                        self.by_key.insert(key, id);
                        id
                    }
                };
                // Consumers stay sorted (virtual servers are evaluated in that order).
                let cons = &mut self.probes.get_mut(&id).expect("inserted").consumers;
                let at = cons.partition_point(|&c| c < (vi, ri));
                cons.insert(at, (vi, ri));
                ids.push(id);
            }
            let alive_now = ids.iter().all(|id| self.probes[id].is_up);
            let alive = prev_alive.get(&rcfg.dest).copied().unwrap_or(alive_now);
            rs_list.push(Rs {
                cfg: RealServerCfg {
                    dest: rcfg.dest,
                    weight: rcfg.weight,
                    inhibit_on_failure: rcfg.inhibit_on_failure,
                    notify_up: rcfg.notify_up.clone(),
                    notify_down: rcfg.notify_down.clone(),
                    checkers: Vec::new(),
                },
                probes: ids,
                alive,
                contrib: 0,
            });
        }
        let mut dests = HashSet::with_capacity(rs_list.len() + 1);
        let distinct_dests = rs_list.iter().all(|r| dests.insert(r.cfg.dest))
            && vcfg.sorry_server.is_none_or(|s| dests.insert(s));
        let mut cfg_no_rs = vcfg;
        cfg_no_rs.real_servers.clear();
        let (suspended, quorum_up, published) = match prev {
            Some(p) => (
                p.suspended && cfg_no_rs.ha_suspend,
                p.quorum_up,
                p.published,
            ),
            None => (cfg_no_rs.ha_suspend, true, BTreeMap::new()),
        };
        Vs {
            cfg: cfg_no_rs,
            rs: rs_list,
            suspended,
            quorum_up,
            published,
            alive_weight: 0,
            distinct_dests,
        }
    }

    /// Replaces some virtual servers, by position, and leaves the others alone: the outcome of
    /// [`Engine::reconfigure`] with the whole configuration in which only these changed (probes
    /// that compare equal keep their state and schedule, real servers that keep their identity
    /// keep `alive`, only the destination diff of the replaced ones is queued), at a cost
    /// proportional to the change. `changes`: (position, new configuration), distinct
    /// positions. Returns false and changes nothing when that equivalence does not hold — a
    /// position out of range, or two virtual servers with one key (the full reconfigure pairs
    /// old and new by key) — then use `reconfigure`.
    pub fn reconfigure_some(
        &mut self,
        now: Instant,
        mut changes: Vec<(usize, VirtualServerCfg)>,
    ) -> bool {
        changes.sort_by_key(|c| c.0);
        if self.duplicate_keys
            || changes.windows(2).any(|w| w[0].0 == w[1].0)
            || changes.last().is_some_and(|c| c.0 >= self.vs.len())
        {
            return false;
        }
        // A new key must not be one that stays (unchanged position) or another new one.
        let mut is_changed = vec![false; self.vs.len()];
        for (i, _) in &changes {
            is_changed[*i] = true;
        }
        for (n, (_, c)) in changes.iter().enumerate() {
            if changes[..n].iter().any(|(_, o)| o.key == c.key)
                || self
                    .vs
                    .iter()
                    .enumerate()
                    .any(|(j, v)| !is_changed[j] && v.cfg.key == c.key)
            {
                return false;
            }
        }
        // Detach the replaced virtual servers; probes nobody else uses become candidates for
        // reuse (as `reconfigure`'s old probes).
        let mut old: HashMap<VsKey, Vs> = HashMap::with_capacity(changes.len());
        let mut orphans: HashMap<(ProbeSpec, Timing), (ProbeId, Probe)> = HashMap::new();
        for (i, _) in &changes {
            let placeholder = Vs {
                cfg: VirtualServerCfg::new(self.vs[*i].cfg.key.clone()),
                rs: Vec::new(),
                suspended: false,
                quorum_up: true,
                published: BTreeMap::new(),
                alive_weight: 0,
                distinct_dests: true,
            };
            let v = std::mem::replace(&mut self.vs[*i], placeholder);
            for id in v.rs.iter().flat_map(|r| r.probes.iter()) {
                let Some(p) = self.probes.get_mut(id) else {
                    continue;
                };
                p.consumers.retain(|&(vi, _)| vi != *i);
                if p.consumers.is_empty() {
                    let p = self.probes.remove(id).expect("present");
                    let key = ((*p.spec).clone(), p.timing);
                    self.by_key.remove(&key);
                    orphans.insert(key, (*id, p));
                }
            }
            old.insert(v.cfg.key.clone(), v);
        }
        let mut built = Vec::with_capacity(changes.len());
        for (i, c) in changes {
            let prev = old.remove(&c.key);
            let v = self.build_vs(i, c, prev, &mut orphans, now);
            built.push((i, v));
        }
        self.withdraw(old.into_values().collect());
        let order: Vec<usize> = built.iter().map(|(i, _)| *i).collect();
        for (i, v) in built {
            self.vs[i] = v;
        }
        for v in order {
            self.eval_vs(v);
        }
        true
    }

    /// The weight a real server takes when up: the first `misc_dynamic` / dynamic FILE_CHECK
    /// weight of its probes, else the configured one.
    /// A real server is alive when all its probes are up; a change is recorded and notified
    /// (notify_up / notify_down). Returns the liveness.
    fn refresh_alive(
        probes: &IdMap<Probe>,
        rs: &mut Rs,
        key: &VsKey,
        actions: &mut VecDeque<Action>,
    ) -> bool {
        let alive = rs.probes.iter().all(|id| probes[id].is_up);
        if alive != rs.alive {
            rs.alive = alive;
            let (event, script) = if alive {
                (NotifyEvent::RsUp, rs.cfg.notify_up.clone())
            } else {
                (NotifyEvent::RsDown, rs.cfg.notify_down.clone())
            };
            actions.push_back(Action::Notify {
                event,
                vs: key.clone(),
                dest: Some(rs.cfg.dest),
                script,
            });
        }
        alive
    }

    fn rs_weight(probes: &IdMap<Probe>, rs: &Rs) -> u32 {
        rs.probes
            .iter()
            .find_map(|id| probes[id].dyn_weight)
            .unwrap_or(rs.cfg.weight)
    }

    /// Quorum with hysteresis from `alive_weight` (notifies on a change).
    fn update_quorum(vs: &mut Vs, key: &VsKey, actions: &mut VecDeque<Action>) {
        let sum = vs.alive_weight;
        let q = vs.cfg.quorum;
        let h = vs.cfg.hysteresis;
        if !vs.quorum_up && sum >= q + h && sum > 0 {
            vs.quorum_up = true;
            actions.push_back(Action::Notify {
                event: NotifyEvent::QuorumUp,
                vs: key.clone(),
                dest: None,
                script: vs.cfg.quorum_up.clone(),
            });
        } else if vs.quorum_up && (sum == 0 || sum < q.saturating_sub(h)) {
            vs.quorum_up = false;
            actions.push_back(Action::Notify {
                event: NotifyEvent::QuorumDown,
                vs: key.clone(),
                dest: None,
                script: vs.cfg.quorum_down.clone(),
            });
        }
    }

    /// Recomputes one real server after a probe of its changed: liveness (notify on change),
    /// the virtual server's alive weight and quorum, and that one destination — what
    /// [`Engine::eval_vs`] would do, at O(1) instead of O(real servers). The whole virtual
    /// server is recomputed when the sorry server comes or goes (quorum flip) or when
    /// destinations are not distinct.
    fn eval_rs(&mut self, vi: usize, ri: usize) {
        if !self.vs[vi].distinct_dests {
            return self.eval_vs(vi);
        }
        let vs = &mut self.vs[vi];
        let key = vs.cfg.key.clone();
        let rs = &mut vs.rs[ri];
        let alive = Self::refresh_alive(&self.probes, rs, &key, &mut self.actions);
        let w = Self::rs_weight(&self.probes, rs);
        let contrib = if alive { u64::from(w) } else { 0 };
        let (old, dest, inhibit) = (rs.contrib, rs.cfg.dest, rs.cfg.inhibit_on_failure);
        rs.contrib = contrib;
        vs.alive_weight = vs.alive_weight - old + contrib;
        let sorry_was = vs.cfg.sorry_server.is_some() && !vs.quorum_up;
        Self::update_quorum(vs, &key, &mut self.actions);
        let sorry_active = vs.cfg.sorry_server.is_some() && !vs.quorum_up;
        if sorry_active != sorry_was {
            return self.eval_vs(vi);
        }
        let desired = if sorry_active || !alive {
            inhibit.then_some(0)
        } else {
            Some(w)
        };
        if vs.published.get(&dest).copied() != desired {
            match desired {
                Some(w) => vs.published.insert(dest, w),
                None => vs.published.remove(&dest),
            };
            self.actions.push_back(Action::SetWeight {
                vs: key,
                dest,
                weight: desired,
                sorry: false,
            });
        }
    }

    /// Recomputes a virtual server: real-server liveness (notify on change), quorum (with
    /// hysteresis), the sorry server, and the destination diff.
    fn eval_vs(&mut self, vi: usize) {
        let vs = &mut self.vs[vi];
        let key = vs.cfg.key.clone();
        for rs in &mut vs.rs {
            Self::refresh_alive(&self.probes, rs, &key, &mut self.actions);
        }
        let weight_of = |rs: &Rs| -> u32 { Self::rs_weight(&self.probes, rs) };
        let mut sum = 0;
        for rs in &mut vs.rs {
            rs.contrib = if rs.alive {
                u64::from(weight_of(rs))
            } else {
                0
            };
            sum += rs.contrib;
        }
        vs.alive_weight = sum;
        Self::update_quorum(vs, &key, &mut self.actions);
        let sorry_active = vs.cfg.sorry_server.is_some() && !vs.quorum_up;
        let mut desired: BTreeMap<SocketAddr, u32> = BTreeMap::new();
        for rs in &vs.rs {
            let w = if sorry_active || !rs.alive {
                if rs.cfg.inhibit_on_failure {
                    Some(0)
                } else {
                    None
                }
            } else {
                Some(weight_of(rs))
            };
            if let Some(w) = w {
                desired.insert(rs.cfg.dest, w);
            }
        }
        if let Some(s) = vs.cfg.sorry_server {
            if sorry_active {
                desired.insert(s, 1);
            } else if vs.cfg.sorry_server_inhibit {
                desired.insert(s, 0);
            }
        }
        let sorry = vs.cfg.sorry_server;
        // Additions and edits first, removals last.
        for (dest, w) in &desired {
            if vs.published.get(dest) != Some(w) {
                self.actions.push_back(Action::SetWeight {
                    vs: key.clone(),
                    dest: *dest,
                    weight: Some(*w),
                    sorry: sorry == Some(*dest),
                });
            }
        }
        for dest in vs.published.keys() {
            if !desired.contains_key(dest) {
                self.actions.push_back(Action::SetWeight {
                    vs: key.clone(),
                    dest: *dest,
                    weight: None,
                    sorry: sorry == Some(*dest),
                });
            }
        }
        vs.published = desired;
    }

    /// Graceful stop: no more probes; every published destination is withdrawn (the driver
    /// decides whether to apply that), and with `omega` notify_down / quorum_down run.
    pub fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.timers.clear();
        self.stall_queues.clear();
        for p in self.probes.values_mut() {
            p.timer_gen += 1;
        }
        for vs in &mut self.vs {
            let key = vs.cfg.key.clone();
            if vs.cfg.omega {
                for rs in vs.rs.iter().filter(|r| r.alive) {
                    self.actions.push_back(Action::Notify {
                        event: NotifyEvent::RsDown,
                        vs: key.clone(),
                        dest: Some(rs.cfg.dest),
                        script: rs.cfg.notify_down.clone(),
                    });
                }
                if vs.quorum_up {
                    self.actions.push_back(Action::Notify {
                        event: NotifyEvent::QuorumDown,
                        vs: key.clone(),
                        dest: None,
                        script: vs.cfg.quorum_down.clone(),
                    });
                }
            }
            for dest in std::mem::take(&mut vs.published).into_keys() {
                let sorry = vs.cfg.sorry_server == Some(dest);
                self.actions.push_back(Action::SetWeight {
                    vs: key.clone(),
                    dest,
                    weight: None,
                    sorry,
                });
            }
        }
    }

    /// The published destination set of a virtual server (what the data plane should hold).
    pub fn published(&self, vs: &VsKey) -> Option<&BTreeMap<SocketAddr, u32>> {
        self.vs
            .iter()
            .find(|v| &v.cfg.key == vs)
            .map(|v| &v.published)
    }

    /// Status of every virtual server, in configuration order.
    pub fn status(&self, now: Instant) -> Vec<VirtualServerStatus> {
        self.vs
            .iter()
            .map(|vs| {
                let weight_of = |rs: &Rs| {
                    rs.probes
                        .iter()
                        .find_map(|id| self.probes[id].dyn_weight)
                        .unwrap_or(rs.cfg.weight)
                };
                VirtualServerStatus {
                    key: vs.cfg.key.clone(),
                    quorum_up: vs.quorum_up,
                    quorum: vs.cfg.quorum,
                    hysteresis: vs.cfg.hysteresis,
                    alive_weight: vs
                        .rs
                        .iter()
                        .filter(|r| r.alive)
                        .map(|r| u64::from(weight_of(r)))
                        .sum(),
                    suspended: vs.suspended,
                    sorry_server: vs
                        .cfg
                        .sorry_server
                        .map(|s| (s, vs.published.get(&s).copied())),
                    real_servers: vs
                        .rs
                        .iter()
                        .map(|rs| RealServerStatus {
                            dest: rs.cfg.dest,
                            alive: rs.alive,
                            weight: vs.published.get(&rs.cfg.dest).copied(),
                            configured_weight: rs.cfg.weight,
                            inhibit_on_failure: rs.cfg.inhibit_on_failure,
                            checkers: rs
                                .probes
                                .iter()
                                .map(|id| self.checker_status(*id, now))
                                .collect(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    fn checker_status(&self, id: ProbeId, now: Instant) -> CheckerStatus {
        let p = &self.probes[&id];
        CheckerStatus {
            id,
            kind: p.spec.kind.keyword(),
            target: p.spec.to_string(),
            up: p.is_up,
            has_run: p.has_run,
            retry_it: p.retry_it,
            last_detail: p.last_detail.clone(),
            last_run_ago: p
                .last_run
                .map(|t| now.saturating_duration_since(t).as_secs_f64()),
            stats: p.stats.clone(),
            shared_by: p.consumers.len(),
        }
    }

    /// Test check: what the incremental `eval_rs` keeps (alive weights, published sets)
    /// equals a full recomputation from the probes' states.
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        for vs in &self.vs {
            let mut sum = 0;
            let mut desired = BTreeMap::new();
            let sorry_active = vs.cfg.sorry_server.is_some() && !vs.quorum_up;
            for rs in &vs.rs {
                let alive = rs.probes.iter().all(|id| self.probes[id].is_up);
                assert_eq!(alive, rs.alive, "{} {}", vs.cfg.key, rs.cfg.dest);
                let w = Self::rs_weight(&self.probes, rs);
                if alive {
                    sum += u64::from(w);
                }
                let d = if sorry_active || !alive {
                    rs.cfg.inhibit_on_failure.then_some(0)
                } else {
                    Some(w)
                };
                if let Some(d) = d {
                    desired.insert(rs.cfg.dest, d);
                }
            }
            if let Some(s) = vs.cfg.sorry_server {
                if sorry_active {
                    desired.insert(s, 1);
                } else if vs.cfg.sorry_server_inhibit {
                    desired.insert(s, 0);
                }
            }
            assert_eq!(sum, vs.alive_weight, "{}", vs.cfg.key);
            assert_eq!(desired, vs.published, "{}", vs.cfg.key);
        }
    }

    /// Probes that are overdue: waiting past their schedule by more than `slack` or running
    /// past their stall deadline. The driver uses this as a watchdog of its own loop.
    pub fn overdue(&self, now: Instant, slack: Duration) -> usize {
        self.probes
            .values()
            .filter(|p| {
                p.timer_gen > 0
                    && match p.phase {
                        Phase::Waiting => !self.stopped && now > p.next_at + slack,
                        Phase::Running { since } => {
                            now > since
                                + p.start_window()
                                + p.max_duration()
                                + self.stall_grace
                                + slack
                        }
                    }
            })
            .count()
    }
}
