//! The running built-in data plane: worker threads (one per configured
//! worker, AF_PACKET `PACKET_FANOUT_HASH` across them), the shared engine, a
//! routing/neighbour refresh, and the nftables ingress rules kept in step
//! with the engine's services. This is what `lvsd run --dataplane builtin`
//! starts (through `crates/lvsd/src/daemon/dataplane.rs`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lvs_ipvs::Ipvs;
use lvs_sys::packet::{self as pk, Fanout, IngressDrop, IngressGuard, RingConfig};

use crate::afpacket::{self, AfPacketIo};
use crate::engine::{self, SharedEngine};
use crate::io::{self, LoopConfig};
use crate::plane::{Counters, Dataplane};
use crate::DataplaneError;

/// Neighbours learned by any worker: (ifindex, address) → MAC.
type NeighBoard = HashMap<(i32, IpAddr), [u8; 6]>;

/// Settings of the built-in data plane.
#[derive(Debug, Clone)]
pub struct BuiltinConfig {
    /// Interfaces to receive on and transmit from.
    pub interfaces: Vec<String>,
    /// Worker threads (1 = no fan-out).
    pub workers: usize,
    /// Name of the lvsd-owned `netdev` table.
    pub nft_table: String,
    /// Install the ingress drop rules (tests may turn it off to observe the
    /// stack's behaviour without them).
    pub ingress_rules: bool,
    /// Receive ring geometry.
    pub ring: RingConfig,
    /// How often interfaces, routes and the kernel's ARP table are re-read.
    pub refresh: Duration,
}

impl BuiltinConfig {
    /// Defaults for `interfaces`.
    pub fn new(interfaces: Vec<String>) -> Self {
        Self {
            interfaces,
            workers: 1,
            nft_table: format!("lvsd_dp_{}", std::process::id()),
            ingress_rules: true,
            ring: RingConfig::default(),
            refresh: Duration::from_secs(1),
        }
    }
}

/// A running built-in data plane. Dropping it stops the workers and removes
/// the ingress rules.
#[derive(Debug)]
pub struct Builtin {
    cfg: BuiltinConfig,
    engine: SharedEngine,
    start: Instant,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<std::io::Result<()>>>,
    guard: Mutex<Option<IngressGuard>>,
    counters: Arc<Mutex<Vec<Counters>>>,
}

impl Builtin {
    /// Starts the workers over `engine` (already programmed or programmed
    /// later through [`Builtin::update`]).
    pub fn start(cfg: BuiltinConfig, engine: SharedEngine) -> Result<Self, DataplaneError> {
        if cfg.interfaces.is_empty() {
            return Err(DataplaneError::Config(
                "the built-in data plane needs at least one interface".into(),
            ));
        }
        let workers = cfg.workers.max(1);
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Mutex::new(vec![Counters::default(); workers]));
        let guard = if cfg.ingress_rules {
            Some(IngressGuard::new(&cfg.nft_table).map_err(|e| DataplaneError::io("nftables", e))?)
        } else {
            None
        };
        let mut me = Self {
            cfg: cfg.clone(),
            engine: engine.clone(),
            start,
            stop: stop.clone(),
            threads: Vec::new(),
            guard: Mutex::new(guard),
            counters: counters.clone(),
        };
        me.sync_rules()?;
        let fanout = (workers > 1).then(|| ((std::process::id() & 0xff00) as u16, Fanout::Hash));
        // Neighbours learned by any worker, shared every tick.
        let board: Arc<Mutex<NeighBoard>> = Arc::default();
        for w in 0..workers {
            let mut pio = AfPacketIo::open(&cfg.interfaces, cfg.ring, fanout)?;
            let (routing, neigh) = afpacket::snapshot(&cfg.interfaces)?;
            let mut plane = Dataplane::new(engine.decider(), routing);
            let now = start.elapsed();
            for (i, a, m) in neigh {
                plane.seed_neighbour(now, i, a, m);
            }
            let stop = stop.clone();
            let counters = counters.clone();
            let ifnames = cfg.interfaces.clone();
            let refresh = cfg.refresh;
            let board = board.clone();
            let t = std::thread::Builder::new()
                .name(format!("lvsd-dp{w}"))
                .spawn(move || {
                    let mut next_refresh = refresh;
                    io::run(
                        &mut pio,
                        &mut plane,
                        || start.elapsed(),
                        LoopConfig::default(),
                        &stop,
                        |now, plane| {
                            if let Ok(mut c) = counters.lock() {
                                c[w] = plane.counters();
                            }
                            if workers > 1 {
                                let shared: Vec<_> = {
                                    let mut b = board.lock().unwrap_or_else(|p| p.into_inner());
                                    for (i, a, m) in plane.neighbours() {
                                        b.insert((i, a), m);
                                    }
                                    b.iter().map(|(k, m)| (k.0, k.1, *m)).collect()
                                };
                                for (i, a, m) in shared {
                                    plane.seed_neighbour(now, i, a, m);
                                }
                            }
                            if now >= next_refresh {
                                next_refresh = now + refresh;
                                if let Ok((r, neigh)) = afpacket::snapshot(&ifnames) {
                                    plane.set_routing(r);
                                    for (i, a, m) in neigh {
                                        plane.seed_neighbour(now, i, a, m);
                                    }
                                }
                            }
                        },
                    )
                })
                .map_err(|e| DataplaneError::io("spawning a data-plane worker", e))?;
            me.threads.push(t);
        }
        Ok(me)
    }

    /// The engine.
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// Time since start, the engine's clock.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Engine milliseconds now.
    pub fn now_ms(&self) -> u64 {
        engine::millis(self.now())
    }

    /// Changes the engine (services, real servers, weights, timeouts) and
    /// brings the ingress rules in step.
    pub fn update<R>(&self, f: impl FnOnce(&mut Ipvs) -> R) -> Result<R, DataplaneError> {
        let r = {
            let mut e = self.engine.lock();
            f(&mut e)
        };
        self.sync_rules()?;
        Ok(r)
    }

    /// Re-renders the ingress rules from the engine's services.
    pub fn sync_rules(&self) -> Result<(), DataplaneError> {
        let mut g = self.guard.lock().unwrap_or_else(|p| p.into_inner());
        let Some(guard) = g.as_mut() else {
            return Ok(());
        };
        let (svcs, nat) = engine::forwarded_classes(&mut self.engine.lock());
        let local: Vec<_> = pk::local_addrs()
            .map_err(|e| DataplaneError::io("getifaddrs", e))?
            .into_iter()
            .map(|a| a.addr)
            .collect();
        let mut drops: Vec<IngressDrop> = svcs
            .into_iter()
            .map(|(proto, vip, port)| IngressDrop::ToService { proto, vip, port })
            .collect();
        drops.extend(
            nat.into_iter()
                .map(|(proto, rip, port)| IngressDrop::FromRealServer {
                    proto,
                    rip,
                    port,
                    local: local.clone(),
                }),
        );
        let devices: Vec<(String, Vec<IngressDrop>)> = self
            .cfg
            .interfaces
            .iter()
            .map(|i| (i.clone(), drops.clone()))
            .collect();
        guard
            .apply(&devices)
            .map_err(|e| DataplaneError::io("installing the nftables ingress rules", e))
    }

    /// `ipvsadm -lnc` body lines (sorted), at the current time.
    pub fn lnc_lines(&self) -> Vec<String> {
        let now = self.now_ms();
        let mut e = self.engine.lock();
        e.expire(now);
        e.lnc_lines(now)
    }

    /// Packet counters summed over workers (as of their last tick).
    pub fn counters(&self) -> Counters {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.iter().fold(Counters::default(), |mut a, b| {
            a.rx += b.rx;
            a.forwarded += b.forwarded;
            a.replies += b.replies;
            a.passed += b.passed;
            a.dropped_verdict += b.dropped_verdict;
            a.dropped_no_route += b.dropped_no_route;
            a.dropped_too_big += b.dropped_too_big;
            a.segmented += b.segmented;
            a.probes += b.probes;
            a.queued += b.queued;
            a
        })
    }

    /// True while every worker runs.
    pub fn healthy(&self) -> bool {
        self.threads.iter().all(|t| !t.is_finished())
    }

    /// Stops the workers and removes the ingress rules; returns the first
    /// worker error.
    pub fn stop(mut self) -> Result<(), DataplaneError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), DataplaneError> {
        self.stop.store(true, Ordering::Relaxed);
        let mut first = None;
        for t in self.threads.drain(..) {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first.get_or_insert(DataplaneError::io("data-plane worker", e));
                }
                Err(_) => {
                    first.get_or_insert(DataplaneError::Config(
                        "a data-plane worker panicked".into(),
                    ));
                }
            }
        }
        if let Some(mut g) = self.guard.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if let Err(e) = g.remove() {
                first.get_or_insert(DataplaneError::io("removing the nftables ingress rules", e));
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Builtin {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
