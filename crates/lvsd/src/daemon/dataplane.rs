//! Driver: the built-in data plane (`lvsd run --dataplane builtin`, and
//! `auto` when ip_vs is missing). Owned by issue 8.
//!
//! Entry point for the daemon:
//!
//! ```ignore
//! let dp = dataplane::start_builtin(dataplane::BuiltinOptions::new(interfaces))?;
//! dp.apply(|ipvs| reconcile_into(ipvs))?;            // program services (IpvsBackend)
//! dp.set_weight(&svc_key, &dest_key, 0)?;            // checker result
//! dp.lnc_lines();                                    // `lvsd ipvs conns` body lines
//! dp.status();                                       // status / metrics JSON
//! dp.stop()?;                                        // workers stop, nft table removed
//! ```
//!
//! What runs: worker threads (one per `workers`, `PACKET_FANOUT_HASH` across
//! them) each with an AF_PACKET TPACKET_V3 ring per interface, all deciding
//! through one shared `lvs_ipvs::Ipvs` (exact kernel semantics: one
//! connection table, one scheduler state). An lvsd-owned nftables `netdev`
//! ingress table drops the forwarded traffic (packets to the virtual
//! services, replies from NAT real servers) before the director's own IP
//! stack sees it, so the stack never answers (no RST); the ring sees packets
//! before that hook. The table follows every [`DataplaneHandle::apply`] and is
//! removed by [`DataplaneHandle::stop`] (and on drop).

// Parts of this API are only used once `lvsd run` wires every view.
#![allow(dead_code)]

use anyhow::Context;
use lvs_dataplane::driver::{Builtin, BuiltinConfig};
use lvs_dataplane::engine::SharedEngine;
use lvs_ipvs::admin::{ConnEntry, DestKey, IpvsBackend, ServiceKey};
use lvs_ipvs::Ipvs;
use serde_json::{json, Value};

/// Options of the built-in data plane.
#[derive(Debug, Clone)]
pub(crate) struct BuiltinOptions {
    /// Interfaces to forward on (see [`default_interfaces`]).
    pub(crate) interfaces: Vec<String>,
    /// Worker threads (1 is exact and fastest on small hosts; see docs/PERFORMANCE.md).
    pub(crate) workers: usize,
    /// Engine settings (`net.ipv4.vs.*` equivalents).
    pub(crate) settings: lvs_ipvs::Settings,
}

impl BuiltinOptions {
    pub(crate) fn new(interfaces: Vec<String>) -> Self {
        Self {
            interfaces,
            workers: 1,
            settings: lvs_ipvs::Settings::default(),
        }
    }
}

/// Every interface of this namespace that has an address, except loopback.
pub(crate) fn default_interfaces() -> anyhow::Result<Vec<String>> {
    let mut v: Vec<String> = lvs_sys::packet::local_addrs()
        .context("listing interfaces")?
        .into_iter()
        .filter(|a| a.ifname != "lo" && !a.addr.is_loopback())
        .map(|a| a.ifname)
        .collect();
    v.sort();
    v.dedup();
    Ok(v)
}

/// A running built-in data plane.
#[derive(Debug)]
pub(crate) struct DataplaneHandle {
    inner: Builtin,
}

/// Starts the workers (with no services yet: program them with
/// [`DataplaneHandle::apply`]).
pub(crate) fn start_builtin(opts: BuiltinOptions) -> anyhow::Result<DataplaneHandle> {
    let mut cfg = BuiltinConfig::new(opts.interfaces);
    cfg.workers = opts.workers.max(1);
    let engine = SharedEngine::new(Ipvs::new(opts.settings));
    let inner = Builtin::start(cfg, engine).context("starting the built-in data plane")?;
    Ok(DataplaneHandle { inner })
}

impl DataplaneHandle {
    /// Runs `f` on the engine as an [`IpvsBackend`] (services, real servers,
    /// timeouts), then brings the ingress rules in step.
    pub(crate) fn apply<R>(&self, f: impl FnOnce(&mut dyn IpvsBackend) -> R) -> anyhow::Result<R> {
        let now = self.inner.now_ms();
        Ok(self.inner.update(|e| {
            // Admin operations carry no time; let the engine know it first.
            e.expire(now);
            f(e)
        })?)
    }

    /// Sets a real server's weight (checker results). Weight 0 quiesces it.
    pub(crate) fn set_weight(
        &self,
        svc: &ServiceKey,
        dest: &DestKey,
        weight: u32,
    ) -> anyhow::Result<()> {
        self.apply(|b| -> anyhow::Result<()> {
            let cur = b
                .dests(svc)?
                .into_iter()
                .find(|d| d.dest.key() == *dest)
                .with_context(|| format!("{svc}: no real server {dest}"))?;
            let mut d = cur.dest;
            d.weight = weight;
            b.edit_dest(svc, &d)?;
            Ok(())
        })?
    }

    /// Connection entries (`ipvsadm -lnc` data), at the current time.
    pub(crate) fn connections(&self) -> Vec<ConnEntry> {
        let now = self.inner.now_ms();
        let mut e = self.inner.engine().lock();
        e.expire(now);
        IpvsBackend::connections(&mut *e).unwrap_or_default()
    }

    /// `ipvsadm -lnc` body lines, sorted.
    pub(crate) fn lnc_lines(&self) -> Vec<String> {
        self.inner.lnc_lines()
    }

    /// The engine clock now (ms), for views computed elsewhere.
    pub(crate) fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }

    /// Runs `f` with the engine locked (explain, snapshots).
    pub(crate) fn with_engine<R>(&self, f: impl FnOnce(&mut Ipvs, u64) -> R) -> R {
        let now = self.inner.now_ms();
        let mut e = self.inner.engine().lock();
        e.expire(now);
        f(&mut e, now)
    }

    /// Status / metrics: packet counters and worker health.
    pub(crate) fn status(&self) -> Value {
        let c = self.inner.counters();
        json!({
            "mode": "builtin",
            "healthy": self.inner.healthy(),
            "packets": {
                "rx": c.rx,
                "forwarded": c.forwarded,
                "nat_replies": c.replies,
                "passed_to_stack": c.passed,
                "dropped_by_ipvs": c.dropped_verdict,
                "dropped_no_route": c.dropped_no_route,
                "dropped_too_big": c.dropped_too_big,
                "gso_segmented": c.segmented,
                "neighbour_probes": c.probes,
                "queued_for_neighbour": c.queued,
            },
            "connections": self.inner.engine().lock().conn_count(),
        })
    }

    /// Entries in the connection table (connections and templates).
    pub(crate) fn conn_count(&self) -> usize {
        self.inner.engine().lock().conn_count()
    }

    /// True while every worker runs.
    pub(crate) fn healthy(&self) -> bool {
        self.inner.healthy()
    }

    /// Stops the workers and removes the ingress rules.
    pub(crate) fn stop(self) -> anyhow::Result<()> {
        Ok(self.inner.stop()?)
    }
}
