//! `lvs_sync_daemon` with the built-in data plane: lvsd's own sync master and
//! backup (the kernel backend starts the kernel's daemons instead).
//!
//! One task per daemon. Every [`TICK`] it reads the driving VRRP instance's
//! state (both roles when no instance is named) and starts/stops the roles
//! (`lvs_sync::daemon::transition`, stops first).
//! - master: asks the main loop for the engine's entries
//!   ([`lvs_ipvs::Ipvs::sync_entries`]), picks the new and changed ones plus
//!   periodic refreshes ([`Tracker`]), encodes them with lvs-sync at the
//!   daemon's version/syncid/maxlen and sends them to the multicast group;
//! - backup: receives datagrams, runs them through `lvs_sync::SyncBackup`
//!   (syncid filter, entry checks, timeouts) and has the main loop install
//!   them ([`lvs_ipvs::Ipvs::sync_install`]).
//!
//! The engine lives in the main loop; the task talks to it through
//! [`EngineReq`] messages served by [`EngineReq::serve`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use lvs_ipvs::sync::{SyncEntry, IP_VS_CONN_F_SYNC};
use lvs_sync::consts::{sctp, tcp};
use lvs_sync::daemon::transition;
use lvs_sync::{
    Roles, SyncBackup, SyncConn, SyncDaemonCfg, SyncMaster, SyncdAction, SyncdRole, VrrpRoleState,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::vrrp::VrrpHandle;

/// How often roles are re-evaluated and the master scans the table.
const TICK: Duration = Duration::from_millis(500);
/// Shortest refresh period of an entry (one tick): entries with a timeout of
/// a few seconds (the write-up's 2 s persistence) stay alive on the backup.
const REFRESH_MIN_MS: u64 = 500;

/// A request to the main loop, which owns the data plane.
#[derive(Debug)]
pub(crate) enum EngineReq {
    /// Entries to replicate with their activity (None: no built-in engine running).
    List(oneshot::Sender<Option<Vec<Scanned>>>),
    /// Install received entries with this `in_pkts`.
    Install(Vec<SyncEntry>, u32),
}

impl EngineReq {
    /// Serve the request against the data plane.
    pub(crate) fn serve(self, plane: &super::plane::Plane) {
        match self {
            EngineReq::List(reply) => {
                let v = plane.with_builtin_engine(|ipvs, now| scan(ipvs, now));
                let _ = reply.send(v);
            }
            EngineReq::Install(entries, in_pkts) => {
                let r = plane.with_builtin_engine(|ipvs, now| {
                    entries
                        .iter()
                        .map(|e| ipvs.sync_install(now, e, in_pkts))
                        .collect::<Vec<_>>()
                });
                match r {
                    Some(out) => debug!(?out, "sync backup: installed"),
                    None => debug!("sync backup: no built-in engine yet, entries dropped"),
                }
            }
        }
    }
}

/// An entry the master may send, with what tells whether packets went through it here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scanned {
    pub(crate) entry: SyncEntry,
    /// Packets counted on the entry (`in_pkts`; a synced entry starts at `sync_threshold`).
    pub(crate) in_pkts: u32,
    /// The controlling template, for connections under persistence.
    pub(crate) control: Option<Key>,
}

fn key_of(e: &SyncEntry) -> Key {
    (
        e.is_template(),
        e.protocol,
        e.caddr,
        e.cport,
        e.vaddr,
        e.vport,
    )
}

/// The engine's replicable entries joined with their packet counters and templates.
fn scan(ipvs: &lvs_ipvs::Ipvs, now: u64) -> Vec<Scanned> {
    let views = ipvs.connections(now);
    let view_key = |v: &lvs_ipvs::ConnView| -> Key {
        (v.template, v.proto_num, v.caddr, v.cport, v.vaddr, v.vport)
    };
    let by_id: HashMap<lvs_ipvs::model::ConnId, Key> =
        views.iter().map(|v| (v.id, view_key(v))).collect();
    let info: HashMap<Key, (u32, Option<Key>)> = views
        .iter()
        .map(|v| {
            let control = v.control.and_then(|c| by_id.get(&c).copied());
            (view_key(v), (v.in_pkts, control))
        })
        .collect();
    ipvs.sync_entries(now)
        .into_iter()
        .map(|entry| {
            let (in_pkts, control) = info.get(&key_of(&entry)).copied().unwrap_or((0, None));
            Scanned {
                entry,
                in_pkts,
                control,
            }
        })
        .collect()
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

/// The backup's receive buffer. The master sends what a table scan picked in one burst (a
/// whole table at start: 100 000 entries are ~2 500 datagrams, ~6 MB of socket memory), and
/// the kernel's default (`rmem_default`, ~200 kB) dropped most of such a burst in the VM.
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
    tracker: Tracker,
    sent_entries: u64,
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
    let origin = Instant::now();
    let params = cfg.master_params();
    let mut roles = Roles::default();
    let mut master: Option<Master> = None;
    let mut backup: Option<Backup> = None;
    let mut buf = vec![0u8; 65536];
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let want = cfg.roles(instance_state(&cfg, &vrrp));
                if want != roles {
                    for a in transition(roles, want) {
                        match a {
                            SyncdAction::Stop(SyncdRole::Master) => {
                                if let Some(m) = master.take() {
                                    info!(entries = m.sent_entries, "sync master stopped");
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
                                        info!(syncid = params.syncid, maxlen = params.maxlen, "sync master started");
                                        master = Some(Master { sock, tracker: Tracker::default(), sent_entries: 0 });
                                    }
                                    Err(e) => warn!(error = %e, "sync master not started"),
                                }
                            }
                            SyncdAction::Start(SyncdRole::Backup) => {
                                match to_tokio(lvs_sys::sync::open_backup(&sock_cfg(&cfg, BACKUP_RCVBUF))) {
                                    Ok(sock) => {
                                        info!(syncid = cfg.syncid, "sync backup started");
                                        backup = Some(Backup { sock, proc: SyncBackup::new(cfg.backup_cfg()) });
                                    }
                                    Err(e) => warn!(error = %e, "sync backup not started"),
                                }
                            }
                        }
                    }
                    // A role that failed to open is retried on the next tick.
                    roles = Roles { master: master.is_some(), backup: backup.is_some() };
                }
                if let Some(m) = master.as_mut() {
                    let (tx, rx) = oneshot::channel();
                    if engine.send(EngineReq::List(tx)).await.is_err() {
                        return;
                    }
                    let Ok(Some(entries)) = rx.await else { continue };
                    let pick = m.tracker.select(origin.elapsed(), &entries);
                    if pick.is_empty() {
                        continue;
                    }
                    let conns: Vec<SyncConn> = pick.iter().map(to_sync_conn).collect();
                    match SyncMaster::pack_all(&params, &conns) {
                        Ok(msgs) => {
                            for msg in msgs {
                                if let Err(e) = m.sock.send(&msg).await {
                                    warn!(error = %e, "sync master: send");
                                    break;
                                }
                            }
                            m.sent_entries += conns.len() as u64;
                            debug!(entries = conns.len(), "sync master: sent");
                        }
                        Err(e) => warn!(error = %e, "sync master: encode"),
                    }
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

/// Lookup identity of an entry: (template, protocol, caddr, cport, vaddr, vport).
pub(crate) type Key = (bool, u8, IpAddr, u16, IpAddr, u16);

#[derive(Debug, Clone, Copy)]
struct Sent {
    daddr: IpAddr,
    dport: u16,
    state: u16,
    inactive: bool,
    /// When it was last sent (None: never, e.g. a synced entry idle here).
    at: Option<Duration>,
    in_pkts: u32,
}

/// The master's choice of what to send from a table scan.
///
/// Entries this director created (by forwarding packets) are sent when they are in a state the
/// kernel syncs (templates and UDP always; TCP in ESTABLISHED, FIN_WAIT, CLOSE, CLOSE_WAIT,
/// TIME_WAIT; SCTP in ESTABLISHED and the shutdown states), when new, when their real server /
/// state / activity changed, and again every quarter of their timeout (0.5..60 s) so that the
/// backup's timers follow the master's.
///
/// Entries installed by the sync backup (`IP_VS_CONN_F_SYNC`) are sent only once packets go
/// through them here (their `in_pkts` moves), as the kernel syncs only on packets: otherwise two
/// directors that both run master and backup (`lvs_sync_daemon IF` without an instance) would
/// echo each other's entries back and forth and keep them alive forever.
///
/// A connection's template goes out with it, as the kernel sends `cp->control` along.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    sent: HashMap<Key, Sent>,
}

fn syncable(e: &SyncEntry) -> bool {
    if e.is_template() {
        return true;
    }
    match e.protocol {
        6 => [
            tcp::IP_VS_TCP_S_ESTABLISHED,
            tcp::IP_VS_TCP_S_FIN_WAIT,
            tcp::IP_VS_TCP_S_CLOSE,
            tcp::IP_VS_TCP_S_CLOSE_WAIT,
            tcp::IP_VS_TCP_S_TIME_WAIT,
        ]
        .contains(&e.state),
        132 => [
            sctp::IP_VS_SCTP_S_ESTABLISHED,
            sctp::IP_VS_SCTP_S_SHUTDOWN_SENT,
            sctp::IP_VS_SCTP_S_SHUTDOWN_RECEIVED,
            sctp::IP_VS_SCTP_S_SHUTDOWN_ACK_SENT,
            sctp::IP_VS_SCTP_S_CLOSED,
        ]
        .contains(&e.state),
        _ => true,
    }
}

impl Tracker {
    /// The entries to send now, from a full table scan at `now`.
    pub(crate) fn select(&mut self, now: Duration, entries: &[Scanned]) -> Vec<SyncEntry> {
        let mut due_keys: Vec<Key> = Vec::new();
        let mut seen = HashMap::with_capacity(entries.len());
        let mut by_key: HashMap<Key, &Scanned> = HashMap::with_capacity(entries.len());
        for sc in entries.iter().filter(|sc| syncable(&sc.entry)) {
            let e = &sc.entry;
            let key = key_of(e);
            by_key.insert(key, sc);
            let inactive = e.flags & 0x0100 != 0;
            let refresh =
                Duration::from_millis((u64::from(e.timeout) * 250).clamp(REFRESH_MIN_MS, 60_000));
            let prev = self.sent.get(&key);
            let changed_or_stale = match prev.and_then(|s| s.at.map(|at| (s, at))) {
                None => true,
                Some((s, at)) => {
                    s.daddr != e.daddr
                        || s.dport != e.dport
                        || s.state != e.state
                        || s.inactive != inactive
                        || now.saturating_sub(at) >= refresh
                }
            };
            let due = if e.flags & IP_VS_CONN_F_SYNC != 0 {
                // Synced here: only packets through this director make it ours to send
                // (templates follow their connections below).
                let moved = prev.is_some_and(|s| s.in_pkts != sc.in_pkts);
                !e.is_template() && moved && changed_or_stale
            } else {
                changed_or_stale
            };
            if due {
                due_keys.push(key);
            }
            seen.insert(
                key,
                Sent {
                    daddr: e.daddr,
                    dport: e.dport,
                    state: e.state,
                    inactive,
                    at: prev.and_then(|s| s.at),
                    in_pkts: sc.in_pkts,
                },
            );
        }
        // Templates of the connections being sent go along.
        let mut out_keys: Vec<Key> = Vec::with_capacity(due_keys.len());
        let mut taken: std::collections::HashSet<Key> = std::collections::HashSet::new();
        for k in &due_keys {
            if let Some(t) = by_key.get(k).and_then(|sc| sc.control) {
                if by_key.contains_key(&t) && taken.insert(t) {
                    out_keys.push(t);
                }
            }
        }
        for k in due_keys {
            if taken.insert(k) {
                out_keys.push(k);
            }
        }
        // Templates first, as the table lists them.
        out_keys.sort_by_key(|k| !k.0);
        let mut out = Vec::with_capacity(out_keys.len());
        for k in out_keys {
            if let Some(s) = seen.get_mut(&k) {
                s.at = Some(now);
            }
            out.push(by_key[&k].entry.clone());
        }
        self.sent = seen;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(v: &[SyncEntry]) -> Vec<Scanned> {
        v.iter().map(|e| sc(e, 0, None)).collect()
    }

    fn entry(cport: u16, state: u16, flags: u32) -> SyncEntry {
        SyncEntry {
            protocol: 6,
            caddr: "10.0.0.100".parse().unwrap(),
            cport,
            vaddr: "10.0.0.49".parse().unwrap(),
            vport: 80,
            daddr: "10.0.0.56".parse().unwrap(),
            dport: 80,
            flags,
            state,
            fwmark: 0,
            timeout: 40,
        }
    }

    #[test]
    fn tracker_sends_new_changed_and_refreshes_only() {
        let s = Duration::from_secs;
        let mut t = Tracker::default();
        let tpl = entry(0, 0, 0x1000 | 2);
        let est = entry(40000, 1, 2);
        let syn = entry(40001, 3, 2); // SYN_RECV: not synced
        let all = scanned(&[tpl.clone(), est.clone(), syn.clone()]);
        assert_eq!(t.select(s(0), &all), vec![tpl.clone(), est.clone()]);
        assert!(t.select(s(1), &all).is_empty());
        // State change: FIN_WAIT, inactive.
        let fin = SyncEntry {
            state: 4,
            flags: 2 | 0x0100,
            ..est.clone()
        };
        assert_eq!(
            t.select(s(2), &scanned(&[tpl.clone(), fin.clone()])),
            vec![fin.clone()]
        );
        // Refresh every timeout/4 = 10 s since the last send.
        assert_eq!(
            t.select(s(10), &scanned(&[tpl.clone(), fin.clone()])),
            vec![tpl.clone()]
        );
        assert_eq!(
            t.select(s(12), &scanned(&[tpl.clone(), fin.clone()])),
            vec![fin.clone()]
        );
        // Gone and back: sent again.
        assert!(t
            .select(s(13), &scanned(std::slice::from_ref(&tpl)))
            .is_empty());
        assert_eq!(
            t.select(s(14), &scanned(&[tpl.clone(), fin.clone()])),
            vec![fin]
        );
    }

    fn sc(e: &SyncEntry, in_pkts: u32, control: Option<&SyncEntry>) -> Scanned {
        Scanned {
            entry: e.clone(),
            in_pkts,
            control: control.map(key_of),
        }
    }

    /// Entries installed from the peer are not sent back while idle here (no echo between two
    /// directors running both roles); once packets go through one, it goes out with its template.
    #[test]
    fn synced_entries_are_sent_only_once_packets_go_through_them() {
        let s = Duration::from_secs;
        let mut t = Tracker::default();
        let tpl = entry(0, 0, 0x1000 | 2 | IP_VS_CONN_F_SYNC);
        let est = entry(40000, 1, 2 | IP_VS_CONN_F_SYNC);
        let idle = |n| vec![sc(&tpl, 3, None), sc(&est, n, Some(&tpl))];
        assert!(t.select(s(0), &idle(3)).is_empty());
        // Refreshed by the peer (timers move, in_pkts stays at the threshold): still not ours.
        assert!(t.select(s(20), &idle(3)).is_empty());
        assert!(t.select(s(40), &idle(3)).is_empty());
        // Packets through this director (it took over): the connection and its template go out.
        assert_eq!(t.select(s(41), &idle(5)), vec![tpl.clone(), est.clone()]);
        // Nothing new: quiet until the refresh period, and only with more packets.
        assert!(t.select(s(42), &idle(6)).is_empty());
        assert!(t.select(s(60), &idle(6)).is_empty());
        assert_eq!(t.select(s(61), &idle(7)), vec![tpl, est]);
    }

    /// A connection created here under a template (synced or not) carries the template along.
    #[test]
    fn a_new_connection_sends_its_template_along() {
        let s = Duration::from_secs;
        let mut t = Tracker::default();
        let tpl = entry(0, 0, 0x1000 | 2 | IP_VS_CONN_F_SYNC);
        let c1 = entry(40000, 1, 2);
        assert!(t.select(s(0), &[sc(&tpl, 3, None)]).is_empty());
        assert_eq!(
            t.select(s(1), &[sc(&tpl, 3, None), sc(&c1, 3, Some(&tpl))]),
            vec![tpl.clone(), c1.clone()]
        );
        assert!(t
            .select(s(2), &[sc(&tpl, 3, None), sc(&c1, 4, Some(&tpl))])
            .is_empty());
    }

    #[test]
    fn round_trip_through_the_codec_installs_on_a_backup_engine() {
        use lvs_ipvs::admin::{Dest, FwdMethod, Protocol, Service, ServiceKey, SvcFlags};
        use lvs_ipvs::{tcp_flags, Ipvs, PacketMeta, Verdict};
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let director = || {
            let mut v = Ipvs::default();
            let mut svc = Service::new(ServiceKey::Addr {
                proto: Protocol::Tcp,
                addr: ip("10.0.0.49"),
                port: 80,
            });
            svc.scheduler = "rr".into();
            svc.flags = SvcFlags(SvcFlags::PERSISTENT);
            svc.timeout = 300;
            v.add_service(&svc).unwrap();
            for a in ["10.0.0.56", "10.0.0.57"] {
                let mut d = Dest::new(ip(a), 80);
                d.fwd = FwdMethod::Route;
                v.add_dest(&svc.key, &d).unwrap();
            }
            v
        };
        let pkt = |c: &str, p: u16, f: u8| PacketMeta::tcp(ip(c), p, ip("10.0.0.49"), 80, f);
        let dest = |v: Verdict| match v {
            Verdict::Forward(f) => f.daddr,
            o => panic!("{o:?}"),
        };
        let mut m = director();
        dest(m.handle_packet(0, &pkt("10.0.0.200", 1, tcp_flags::SYN)));
        let d = dest(m.handle_packet(1, &pkt("10.0.0.100", 40000, tcp_flags::SYN)));
        m.handle_packet(2, &pkt("10.0.0.100", 40000, tcp_flags::ACK));
        let mut tr = Tracker::default();
        let pick = tr.select(Duration::ZERO, &scan(&m, 2));
        let conns: Vec<SyncConn> = pick.iter().map(to_sync_conn).collect();
        let cfg = SyncDaemonCfg::default();
        let msgs = SyncMaster::pack_all(&cfg.master_params(), &conns).unwrap();
        let mut bp = SyncBackup::new(cfg.backup_cfg());
        let mut b = director();
        for msg in &msgs {
            for i in bp.installs(msg) {
                b.sync_install(10, &from_sync_conn(&i.conn), i.in_pkts);
            }
        }
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
