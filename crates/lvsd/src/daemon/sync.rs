//! `lvs_sync_daemon` with the built-in data plane: lvsd's own sync master and
//! backup (the kernel backend starts the kernel's daemons instead).
//!
//! One task per daemon. Every [`TICK`] it reads the driving VRRP instance's
//! state (both roles when no instance is named) and starts/stops the roles
//! (`lvs_sync::daemon::transition`, stops first).
//! - master: the engine itself decides per forwarded packet which entries are
//!   due, with the kernel's rules (`sync_threshold`, `sync_period`,
//!   `sync_refresh_period`, `sync_retries`, `sync_persist_mode`; see
//!   [`lvs_ipvs::sync`]) and queues them. Every [`SEND_DELAY`] the task takes
//!   the queue from the main loop in chunks of at most [`DRAIN_CHUNK`]
//!   entries (one short engine lock each, [`lvs_ipvs::Ipvs::sync_drain`]),
//!   then encodes them with lvs-sync at the daemon's version/syncid/maxlen and
//!   sends them to the multicast group outside the engine. Nothing walks the
//!   table, so the data plane's workers never wait behind the sync master.
//!   The tunables are the kernel's defaults; `LVSD_SYNC_THRESHOLD="T P"`,
//!   `LVSD_SYNC_REFRESH_PERIOD=S`, `LVSD_SYNC_RETRIES=N` and
//!   `LVSD_SYNC_PERSIST_MODE=0|1` in lvsd's environment set them as the
//!   `net.ipv4.vs.sync_*` sysctls do for the kernel's master;
//! - backup: receives datagrams, runs them through `lvs_sync::SyncBackup`
//!   (syncid filter, entry checks, timeouts) and has the main loop install
//!   them ([`lvs_ipvs::Ipvs::sync_install`], [`INSTALL_CHUNK`] entries per
//!   engine lock).
//!
//! The engine lives in the main loop; the task talks to it through
//! [`EngineReq`] messages served by [`EngineReq::serve`].

use std::time::Duration;

use lvs_ipvs::sync::{SyncEntry, SyncQueueStats, SyncRules};
use lvs_sync::daemon::transition;
use lvs_sync::{
    Roles, SyncBackup, SyncConn, SyncDaemonCfg, SyncMaster, SyncParams, SyncdAction, SyncdRole,
    VrrpRoleState,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::vrrp::VrrpHandle;

/// How often roles are re-evaluated.
const TICK: Duration = Duration::from_millis(500);
/// How often the master takes the engine's queue (the kernel's `IPVS_SYNC_SEND_DELAY`, HZ/50).
const SEND_DELAY: Duration = Duration::from_millis(20);
/// Entries taken from the engine's queue per engine lock.
pub(crate) const DRAIN_CHUNK: usize = 2048;
/// Received entries installed per engine lock.
pub(crate) const INSTALL_CHUNK: usize = 1024;

/// A request to the main loop, which owns the data plane.
#[derive(Debug)]
pub(crate) enum EngineReq {
    /// Run the master's per-packet rules (start them if needed) and take up to `max` queued
    /// entries (None: no built-in engine running).
    Drain {
        rules: SyncRules,
        max: usize,
        reply: oneshot::Sender<Option<Drained>>,
    },
    /// The master stopped: no more queueing, the queue is dropped.
    StopMaster,
    /// Install received entries with this `in_pkts`.
    Install(Vec<SyncEntry>, u32),
}

/// Entries taken from the engine's sync queue.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    pub(crate) entries: Vec<SyncEntry>,
    pub(crate) stats: SyncQueueStats,
}

impl EngineReq {
    /// Serve the request against the data plane.
    pub(crate) fn serve(self, plane: &super::plane::Plane) {
        match self {
            EngineReq::Drain { rules, max, reply } => {
                let v = plane.with_builtin_engine(|ipvs, _now| drain(ipvs, rules, max));
                let _ = reply.send(v);
            }
            EngineReq::StopMaster => {
                plane.with_builtin_engine(|ipvs, _| ipvs.set_sync_master(None));
            }
            EngineReq::Install(entries, in_pkts) => {
                for chunk in entries.chunks(INSTALL_CHUNK) {
                    let r = plane.with_builtin_engine(|ipvs, now| {
                        chunk
                            .iter()
                            .map(|e| ipvs.sync_install(now, e, in_pkts))
                            .collect::<Vec<_>>()
                    });
                    match r {
                        Some(out) => debug!(?out, "sync backup: installed"),
                        None => {
                            debug!("sync backup: no built-in engine yet, entries dropped");
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// The master's side of the engine, under its lock: bounded work, whatever the table's size.
pub(crate) fn drain(ipvs: &mut lvs_ipvs::Ipvs, rules: SyncRules, max: usize) -> Drained {
    ipvs.set_sync_master(Some(rules));
    let mut entries = Vec::with_capacity(max.min(DRAIN_CHUNK));
    ipvs.sync_drain(max, &mut entries);
    Drained {
        entries,
        stats: ipvs.sync_queue_stats().unwrap_or_default(),
    }
}

/// The master's tunables from lvsd's environment (`LVSD_SYNC_*`, read with `get`), on top of
/// `p`. Values as the `net.ipv4.vs.sync_*` sysctls take them.
pub(crate) fn tunables(
    p: &mut SyncParams,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let num = |k: &str, v: &str| -> Result<u32, String> {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("{k}={v:?}: not a number"))
    };
    if let Some(v) = get("LVSD_SYNC_THRESHOLD") {
        let w: Vec<&str> = v.split_whitespace().collect();
        let [t, per] = w[..] else {
            return Err(format!(
                "LVSD_SYNC_THRESHOLD={v:?}: want \"THRESHOLD PERIOD\""
            ));
        };
        let (t, per) = (
            num("LVSD_SYNC_THRESHOLD", t)?,
            num("LVSD_SYNC_THRESHOLD", per)?,
        );
        // proc_do_sync_threshold: threshold < period unless the period is 0.
        if per != 0 && t >= per {
            return Err(format!(
                "LVSD_SYNC_THRESHOLD={v:?}: the threshold must be below the period (or period 0)"
            ));
        }
        p.sync_threshold = t;
        p.sync_period = per;
    }
    if let Some(v) = get("LVSD_SYNC_REFRESH_PERIOD") {
        p.sync_refresh_period =
            Duration::from_secs(u64::from(num("LVSD_SYNC_REFRESH_PERIOD", &v)?));
    }
    if let Some(v) = get("LVSD_SYNC_RETRIES") {
        let n = num("LVSD_SYNC_RETRIES", &v)?;
        if n > 3 {
            return Err(format!("LVSD_SYNC_RETRIES={v:?}: 0..3"));
        }
        p.sync_retries = n;
    }
    if let Some(v) = get("LVSD_SYNC_PERSIST_MODE") {
        p.sync_persist_mode = num("LVSD_SYNC_PERSIST_MODE", &v)? != 0;
    }
    Ok(())
}

/// Starts the sync daemon task if the configuration asks for one and the data
/// plane is the built-in one.
pub(crate) fn start(
    loaded: &lvs_config::Loaded,
    dataplane: &str,
    vrrp: Option<VrrpHandle>,
    engine: mpsc::Sender<EngineReq>,
) -> Option<tokio::task::JoinHandle<()>> {
    let cfg = match SyncDaemonCfg::from_loaded(loaded) {
        Ok(Some(c)) => c,
        Ok(None) => return None,
        Err(e) => {
            warn!(error = %e, "lvs_sync_daemon not started");
            return None;
        }
    };
    if dataplane != "builtin" {
        info!(
            dataplane,
            "lvs_sync_daemon: the built-in sync daemon runs only with the built-in data plane"
        );
        return None;
    }
    info!(interface = %cfg.interface, instance = ?cfg.vrrp_instance, syncid = cfg.syncid,
        group = %cfg.group_addr(), "lvs_sync_daemon (built-in)");
    Some(tokio::spawn(run(cfg, vrrp, engine)))
}

/// The driving instance's state.
fn instance_state(cfg: &SyncDaemonCfg, vrrp: &Option<VrrpHandle>) -> Option<VrrpRoleState> {
    let name = cfg.vrrp_instance.as_ref()?;
    let snap = vrrp.as_ref()?.snapshot();
    let st = snap.iter().find(|i| &i.name == name)?.state;
    Some(match st {
        lvs_vrrp::State::Init => VrrpRoleState::Init,
        lvs_vrrp::State::Backup => VrrpRoleState::Backup,
        lvs_vrrp::State::Master => VrrpRoleState::Master,
        lvs_vrrp::State::Fault => VrrpRoleState::Fault,
        lvs_vrrp::State::Stop => VrrpRoleState::Stopped,
    })
}

/// The backup's receive buffer. A master sends its queue in bursts (100 000 entries are ~2 500
/// datagrams, ~6 MB of socket memory), and the kernel's default (`rmem_default`, ~200 kB)
/// dropped most of such a burst in the VM.
const BACKUP_RCVBUF: usize = 32 << 20;
/// Datagrams drained in one go before the main loop installs them (one engine lock).
const BACKUP_BATCH: usize = 256;

fn sock_cfg(cfg: &SyncDaemonCfg, sock_size: usize) -> lvs_sys::sync::SyncSocketCfg {
    lvs_sys::sync::SyncSocketCfg {
        ifname: cfg.interface.clone(),
        group: cfg.group,
        port: cfg.port,
        ttl: cfg.ttl,
        sock_size,
    }
}

fn to_tokio(s: std::io::Result<std::net::UdpSocket>) -> std::io::Result<UdpSocket> {
    let s = s?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s)
}

struct Master {
    sock: UdpSocket,
    sent_entries: u64,
    /// The engine queue's drop count last seen.
    dropped: u64,
}

impl Master {
    /// Take the engine's queue a chunk at a time and send it; false when the main loop is gone.
    async fn send_queued(
        &mut self,
        engine: &mpsc::Sender<EngineReq>,
        rules: &SyncRules,
        params: &SyncParams,
    ) -> bool {
        loop {
            let (reply, rx) = oneshot::channel();
            let req = EngineReq::Drain {
                rules: rules.clone(),
                max: DRAIN_CHUNK,
                reply,
            };
            if engine.send(req).await.is_err() {
                return false;
            }
            let Ok(Some(d)) = rx.await else { return true };
            if d.stats.dropped > self.dropped {
                warn!(
                    dropped = d.stats.dropped - self.dropped,
                    "sync master: queue full, entries dropped"
                );
                self.dropped = d.stats.dropped;
            }
            if d.entries.is_empty() {
                return true;
            }
            let conns: Vec<SyncConn> = d.entries.iter().map(to_sync_conn).collect();
            match SyncMaster::pack_all(params, &conns) {
                Ok(msgs) => {
                    for msg in msgs {
                        if let Err(e) = self.sock.send(&msg).await {
                            warn!(error = %e, "sync master: send");
                            break;
                        }
                    }
                    self.sent_entries += conns.len() as u64;
                    debug!(entries = conns.len(), "sync master: sent");
                }
                Err(e) => warn!(error = %e, "sync master: encode"),
            }
            if d.entries.len() < DRAIN_CHUNK {
                return true;
            }
        }
    }
}

struct Backup {
    sock: UdpSocket,
    proc: SyncBackup,
}

async fn recv_opt(b: &Option<Backup>, buf: &mut [u8]) -> std::io::Result<usize> {
    match b {
        Some(b) => b.sock.recv(buf).await,
        None => std::future::pending().await,
    }
}

async fn run(cfg: SyncDaemonCfg, vrrp: Option<VrrpHandle>, engine: mpsc::Sender<EngineReq>) {
    let mut params = cfg.master_params();
    if let Err(e) = tunables(&mut params, |k| std::env::var(k).ok()) {
        warn!(error = %e, "lvs_sync_daemon: sync tunables ignored");
        params = cfg.master_params();
    }
    let rules = params.rules();
    let mut roles = Roles::default();
    let mut master: Option<Master> = None;
    let mut backup: Option<Backup> = None;
    let mut buf = vec![0u8; 65536];
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut send = tokio::time::interval(SEND_DELAY);
    send.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let want = cfg.roles(instance_state(&cfg, &vrrp));
                if want != roles {
                    for a in transition(roles, want) {
                        match a {
                            SyncdAction::Stop(SyncdRole::Master) => {
                                if let Some(m) = master.take() {
                                    if engine.send(EngineReq::StopMaster).await.is_err() {
                                        return;
                                    }
                                    info!(entries = m.sent_entries, dropped = m.dropped, "sync master stopped");
                                }
                            }
                            SyncdAction::Stop(SyncdRole::Backup) => {
                                if backup.take().is_some() {
                                    info!("sync backup stopped");
                                }
                            }
                            SyncdAction::Start(SyncdRole::Master) => {
                                match to_tokio(lvs_sys::sync::open_master(&sock_cfg(&cfg, 0))) {
                                    Ok(sock) => {
                                        info!(syncid = params.syncid, maxlen = params.maxlen,
                                            threshold = params.sync_threshold, period = params.sync_period,
                                            "sync master started");
                                        master = Some(Master { sock, sent_entries: 0, dropped: 0 });
                                    }
                                    Err(e) => warn!(error = %e, "sync master not started"),
                                }
                            }
                            SyncdAction::Start(SyncdRole::Backup) => {
                                match to_tokio(lvs_sys::sync::open_backup(&sock_cfg(&cfg, BACKUP_RCVBUF))) {
                                    Ok(sock) => {
                                        info!(syncid = cfg.syncid, "sync backup started");
                                        // Installed entries count as at the threshold (`in_pkts`).
                                        let bcfg = lvs_sync::BackupCfg { sync_threshold: params.sync_threshold, ..cfg.backup_cfg() };
                                        backup = Some(Backup { sock, proc: SyncBackup::new(bcfg) });
                                    }
                                    Err(e) => warn!(error = %e, "sync backup not started"),
                                }
                            }
                        }
                    }
                    // A role that failed to open is retried on the next tick.
                    roles = Roles { master: master.is_some(), backup: backup.is_some() };
                }
            }
            _ = send.tick(), if master.is_some() => {
                let Some(m) = master.as_mut() else { continue };
                if !m.send_queued(&engine, &rules, &params).await {
                    return;
                }
            }
            r = recv_opt(&backup, &mut buf) => {
                let n = match r {
                    Ok(n) => n,
                    Err(e) => {
                        warn!(error = %e, "sync backup: receive");
                        continue;
                    }
                };
                let Some(b) = backup.as_mut() else { continue };
                let mut installs = b.proc.installs(&buf[..n]);
                // Whatever else already arrived goes in the same install request.
                for _ in 1..BACKUP_BATCH {
                    match b.sock.try_recv(&mut buf) {
                        Ok(n) => installs.extend(b.proc.installs(&buf[..n])),
                        Err(_) => break,
                    }
                }
                if installs.is_empty() {
                    continue;
                }
                let in_pkts = installs[0].in_pkts;
                let entries = installs.iter().map(|i| from_sync_conn(&i.conn)).collect();
                if engine.send(EngineReq::Install(entries, in_pkts)).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn to_sync_conn(e: &SyncEntry) -> SyncConn {
    SyncConn {
        protocol: e.protocol,
        caddr: e.caddr,
        cport: e.cport,
        vaddr: e.vaddr,
        vport: e.vport,
        daddr: e.daddr,
        dport: e.dport,
        flags: e.flags,
        state: e.state,
        fwmark: e.fwmark,
        timeout: e.timeout,
        seq: None,
        pe_data: None,
        pe_name: None,
    }
}

fn from_sync_conn(c: &SyncConn) -> SyncEntry {
    SyncEntry {
        protocol: c.protocol,
        caddr: c.caddr,
        cport: c.cport,
        vaddr: c.vaddr,
        vport: c.vport,
        daddr: c.daddr,
        dport: c.dport,
        flags: c.flags,
        state: c.state,
        fwmark: c.fwmark,
        timeout: c.timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_ipvs::admin::{Dest, FwdMethod, Protocol, Service, ServiceKey, SvcFlags};
    use lvs_ipvs::{tcp_flags, Ipvs, PacketMeta, Verdict};
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn director(proto: Protocol, port: u16, persistent: bool) -> Ipvs {
        let mut v = Ipvs::default();
        let mut svc = Service::new(ServiceKey::Addr {
            proto,
            addr: ip("10.0.0.49"),
            port,
        });
        svc.scheduler = "rr".into();
        if persistent {
            svc.flags = SvcFlags(SvcFlags::PERSISTENT);
            svc.timeout = 300;
        }
        v.add_service(&svc).unwrap();
        for a in ["10.0.0.56", "10.0.0.57"] {
            let mut d = Dest::new(ip(a), port);
            d.fwd = FwdMethod::Route;
            v.add_dest(&svc.key, &d).unwrap();
        }
        v
    }

    fn flow(i: u32) -> PacketMeta {
        PacketMeta::udp(
            IpAddr::from(std::net::Ipv4Addr::from(0x0a01_0000 + (i >> 12))),
            (i & 4095) as u16 + 1024,
            ip("10.0.0.49"),
            53,
        )
    }

    fn udp_rules() -> SyncRules {
        let mut p = SyncDaemonCfg::default().master_params();
        tunables(&mut p, |k| {
            (k == "LVSD_SYNC_THRESHOLD").then(|| "1 50".into())
        })
        .unwrap();
        p.rules()
    }

    /// The master's work under the engine lock is bounded by the chunk, not the table: a
    /// table of 50,000 entries that existed before the master started gives nothing (no
    /// scan), and 5,000 new flows come out in chunks of at most DRAIN_CHUNK, each once.
    #[test]
    fn drain_is_bounded_by_the_chunk_not_the_table() {
        let mut v = director(Protocol::Udp, 53, false);
        for i in 0..50_000 {
            v.handle_packet(1, &flow(i));
        }
        assert_eq!(v.conn_count(), 50_000);
        let d = drain(&mut v, udp_rules(), DRAIN_CHUNK);
        assert!(d.entries.is_empty(), "{}", d.entries.len());
        for i in 50_000..55_000 {
            v.handle_packet(2, &flow(i));
        }
        // Old flows seen again are not due (their count passed the threshold).
        for i in 0..1_000 {
            v.handle_packet(3, &flow(i));
        }
        let mut sizes = vec![];
        let mut got = std::collections::HashSet::new();
        loop {
            let d = drain(&mut v, udp_rules(), DRAIN_CHUNK);
            if d.entries.is_empty() {
                break;
            }
            sizes.push(d.entries.len());
            for e in d.entries {
                assert!(got.insert((e.caddr, e.cport)), "sent twice: {e:?}");
            }
        }
        assert_eq!(
            sizes,
            vec![DRAIN_CHUNK, DRAIN_CHUNK, 5_000 - 2 * DRAIN_CHUNK]
        );
        let want: std::collections::HashSet<_> = (50_000..55_000)
            .map(|i| (flow(i).src, flow(i).sport))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn tunables_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let mut p = SyncParams::default();
        tunables(
            &mut p,
            env(&[
                ("LVSD_SYNC_THRESHOLD", " 1  50 "),
                ("LVSD_SYNC_REFRESH_PERIOD", "30"),
                ("LVSD_SYNC_RETRIES", "2"),
                ("LVSD_SYNC_PERSIST_MODE", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (p.sync_threshold, p.sync_period, p.sync_retries),
            (1, 50, 2)
        );
        assert_eq!(p.sync_refresh_period, Duration::from_secs(30));
        assert!(p.sync_persist_mode);
        let r = p.rules();
        assert_eq!(
            (r.threshold, r.period, r.refresh_period_ms),
            (1, 50, 30_000)
        );
        let mut p = SyncParams::default();
        for bad in [
            &[("LVSD_SYNC_THRESHOLD", "50 50")][..],
            &[("LVSD_SYNC_THRESHOLD", "3")][..],
            &[("LVSD_SYNC_RETRIES", "4")][..],
            &[("LVSD_SYNC_REFRESH_PERIOD", "x")][..],
        ] {
            assert!(tunables(&mut p, env(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(p, SyncParams::default());
    }

    /// Master engine → lvs-sync codec → backup engine: the held connection keeps its real
    /// server and the persistent client's next connection follows the synced template; the
    /// backup (also running the master's rules, both roles) sends nothing back.
    #[test]
    fn round_trip_through_the_codec_installs_on_a_backup_engine() {
        let rules = SyncDaemonCfg::default().master_params().rules();
        let pkt = |c: &str, p: u16, f: u8| PacketMeta::tcp(ip(c), p, ip("10.0.0.49"), 80, f);
        let dest = |v: Verdict| match v {
            Verdict::Forward(f) => f.daddr,
            o => panic!("{o:?}"),
        };
        let mut m = director(Protocol::Tcp, 80, true);
        drain(&mut m, rules.clone(), DRAIN_CHUNK);
        dest(m.handle_packet(0, &pkt("10.0.0.200", 1, tcp_flags::SYN)));
        let d = dest(m.handle_packet(1, &pkt("10.0.0.100", 40000, tcp_flags::SYN)));
        m.handle_packet(2, &pkt("10.0.0.100", 40000, tcp_flags::ACK));
        m.handle_packet(3, &pkt("10.0.0.100", 40000, tcp_flags::ACK));
        let sent = drain(&mut m, rules.clone(), DRAIN_CHUNK).entries;
        assert!(sent.iter().any(|e| !e.is_template() && e.cport == 40000));
        let conns: Vec<SyncConn> = sent.iter().map(to_sync_conn).collect();
        let cfg = SyncDaemonCfg::default();
        let msgs = SyncMaster::pack_all(&cfg.master_params(), &conns).unwrap();
        let mut bp = SyncBackup::new(cfg.backup_cfg());
        let mut b = director(Protocol::Tcp, 80, true);
        drain(&mut b, rules.clone(), DRAIN_CHUNK);
        for msg in &msgs {
            for i in bp.installs(msg) {
                b.sync_install(10, &from_sync_conn(&i.conn), i.in_pkts);
            }
        }
        assert!(drain(&mut b, rules.clone(), DRAIN_CHUNK).entries.is_empty());
        // The established connection keeps flowing, new ones stay put.
        match b.handle_packet(20, &pkt("10.0.0.100", 40000, tcp_flags::ACK)) {
            Verdict::Forward(f) => assert_eq!((f.daddr, f.new_conn), (d, false)),
            o => panic!("{o:?}"),
        }
        assert_eq!(
            dest(b.handle_packet(30, &pkt("10.0.0.100", 40001, tcp_flags::SYN))),
            d
        );
        b.check_invariants(30).unwrap();
    }
}
