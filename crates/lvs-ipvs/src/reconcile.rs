//! Reconciler: desired IPVS state (from keepalived.conf) against the actual
//! state (read from a backend) → the minimal list of operations.
//!
//! Rules:
//! * **Adopt**: a desired service or destination that already exists with the
//!   same settings is left untouched (connections survive an lvsd restart).
//! * **Edit in place**: scheduler, flags, persistence timeout/netmask and PE of
//!   a service, and forwarding method, weight, thresholds and tunnel settings
//!   of a destination are changed with SET_SERVICE / SET_DEST, never by
//!   delete + add.
//! * **Ownership**: only what lvsd created or adopted (remembered in an
//!   [`Ownership`] record that the caller persists across restarts) is ever
//!   removed. Services and destinations added by someone else are left alone,
//!   except with `lvs_flush`, which flushes the whole table first.
//! * **Order**: services in configuration order, their destinations in
//!   configuration order (keepalived adds real servers in file order; the
//!   kernel keeps dests newest-first, which matters to rr/wrr/mh).
//! * `lvs_timeouts`: only the values set in the config are applied; the
//!   original values are remembered and restored when the option disappears.
//! * Sync daemons: started when wanted and not running, restarted when their
//!   parameters differ, stopped only if lvsd started them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::admin::{
    AdminError, Daemon, DaemonState, Dest, DestEntry, DestKey, Family, IpvsBackend, Protocol,
    Service, ServiceEntry, ServiceKey, Timeouts,
};

/// What the configuration asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    /// Services in configuration order, each with its destinations in order.
    pub services: Vec<(Service, Vec<Dest>)>,
    /// `lvs_timeouts` (a 0 field is "not set"); None = option absent.
    pub timeouts: Option<Timeouts>,
    /// Sync daemons to run (`lvs_sync_daemon`). Zero/None fields = kernel default.
    pub daemons: Vec<Daemon>,
    /// `lvs_flush`: flush the whole table before applying.
    pub flush: bool,
}

/// The backend's state as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actual {
    pub services: Vec<(ServiceEntry, Vec<DestEntry>)>,
    pub timeouts: Timeouts,
    pub daemons: Vec<Daemon>,
}

/// What lvsd owns in the backend, persisted between runs (e.g. as JSON in
/// `/run/lvsd/ipvs-state.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub services: BTreeSet<OwnedKey>,
    pub dests: BTreeSet<(OwnedKey, OwnedDest)>,
    pub daemons: BTreeSet<String>,
    /// Timeouts before lvsd first changed them (restored when `lvs_timeouts` goes).
    pub saved_timeouts: Option<Timeouts>,
}

/// A [`ServiceKey`] in a form with a total order (for sets and JSON).
pub type OwnedKey = String;
/// A [`DestKey`] as `addr:port` text.
pub type OwnedDest = String;

/// `tcp/192.0.2.1/80`, `udp/[2001:db8::1]/53`, `fwmark/1/inet6`.
pub fn okey(k: &ServiceKey) -> OwnedKey {
    match k {
        ServiceKey::Addr { proto, addr, port } => {
            format!("{}/{addr}/{port}", proto.name().to_ascii_lowercase())
        }
        ServiceKey::Fwmark { mark, af } => format!(
            "fwmark/{mark}/{}",
            match af {
                Family::Inet => "inet",
                Family::Inet6 => "inet6",
            }
        ),
    }
}

fn odest(d: &DestKey) -> OwnedDest {
    d.to_string()
}

/// Inverse of [`okey`].
pub fn parse_okey(s: &str) -> Option<ServiceKey> {
    let mut it = s.splitn(3, '/');
    let (kind, a, b) = (it.next()?, it.next()?, it.next()?);
    let proto = match kind {
        "fwmark" => {
            let af = match b {
                "inet" => Family::Inet,
                "inet6" => Family::Inet6,
                _ => return None,
            };
            return Some(ServiceKey::Fwmark {
                mark: a.parse().ok()?,
                af,
            });
        }
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => return None,
    };
    Some(ServiceKey::Addr {
        proto,
        addr: a.parse().ok()?,
        port: b.parse().ok()?,
    })
}

/// One backend operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Flush,
    SetTimeouts(Timeouts),
    AddService(Service),
    EditService(Service),
    DelService(ServiceKey),
    AddDest { service: ServiceKey, dest: Dest },
    EditDest { service: ServiceKey, dest: Dest },
    DelDest { service: ServiceKey, dest: DestKey },
    StopDaemon(DaemonState),
    StartDaemon(Daemon),
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Flush => write!(f, "flush"),
            Op::SetTimeouts(t) => write!(
                f,
                "set timeouts tcp {} tcpfin {} udp {}",
                t.tcp, t.tcp_fin, t.udp
            ),
            Op::AddService(s) => write!(f, "add service {}", s.key),
            Op::EditService(s) => write!(f, "edit service {}", s.key),
            Op::DelService(k) => write!(f, "delete service {k}"),
            Op::AddDest { service, dest } => write!(f, "add {} to {service}", dest.key()),
            Op::EditDest { service, dest } => write!(f, "edit {} in {service}", dest.key()),
            Op::DelDest { service, dest } => write!(f, "delete {dest} from {service}"),
            Op::StopDaemon(s) => write!(f, "stop {} sync daemon", s.name()),
            Op::StartDaemon(d) => {
                write!(f, "start {} sync daemon on {}", d.state.name(), d.mcast_ifn)
            }
        }
    }
}

/// The result of planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// Ownership to persist once every op has succeeded.
    pub ownership: Ownership,
    /// Desired items that already existed identically (adopted, no op).
    pub adopted_services: usize,
    pub adopted_dests: usize,
}

/// Whether an existing destination already has the desired settings.
pub fn dest_matches(want: &Dest, have: &Dest) -> bool {
    want.fwd == have.fwd
        && want.weight == have.weight
        && want.u_threshold == have.u_threshold
        && want.l_threshold == have.l_threshold
        && (want.fwd != crate::admin::FwdMethod::Tunnel
            || (want.tun_type == have.tun_type
                && want.tun_port == have.tun_port
                && want.tun_flags == have.tun_flags))
}

/// Whether a running daemon satisfies a wanted one (zero = don't care).
pub fn daemon_matches(want: &Daemon, have: &Daemon) -> bool {
    want.state == have.state
        && want.mcast_ifn == have.mcast_ifn
        && want.syncid == have.syncid
        && (want.sync_maxlen == 0 || want.sync_maxlen == have.sync_maxlen)
        && (want.mcast_group.is_none() || want.mcast_group == have.mcast_group)
        && (want.mcast_port == 0 || want.mcast_port == have.mcast_port)
        && (want.mcast_ttl == 0 || want.mcast_ttl == have.mcast_ttl)
}

/// Compute the operations that turn `actual` into `desired`.
pub fn plan(desired: &Desired, actual: &Actual, owned: &Ownership) -> Plan {
    let mut p = plan_ops(desired, actual, owned);
    let (services, dests) = desired_ownership(desired);
    p.ownership.services = services;
    p.ownership.dests = dests;
    p
}

/// The services and destinations [`plan`] records as owned: every desired one (the first of
/// duplicates), whatever the backend holds. Independent of the operations, so a caller may
/// compute it while they run (formatting and sorting tens of thousands of keys).
pub fn desired_ownership(
    desired: &Desired,
) -> (BTreeSet<OwnedKey>, BTreeSet<(OwnedKey, OwnedDest)>) {
    let mut wanted_keys = std::collections::HashSet::with_capacity(desired.services.len());
    let mut own_dests: Vec<(OwnedKey, OwnedDest)> = Vec::new();
    let mut own_services: Vec<OwnedKey> = Vec::with_capacity(desired.services.len());
    for (svc, dests) in &desired.services {
        if !wanted_keys.insert(svc.key) {
            continue;
        }
        let ok = okey(&svc.key);
        let mut seen = Seen::default();
        for d in dests {
            let dk = d.key();
            if seen.insert(dk) {
                own_dests.push((ok.clone(), odest(&dk)));
            }
        }
        own_services.push(ok);
    }
    (
        own_services.into_iter().collect(),
        own_dests.into_iter().collect(),
    )
}

/// [`plan`] without the owned services and destinations (see [`desired_ownership`]): the
/// operations, the adoption counts, and the owned daemons and saved timeouts.
pub fn plan_ops(desired: &Desired, actual: &Actual, owned: &Ownership) -> Plan {
    let mut ops = Vec::new();
    let mut own = Ownership {
        saved_timeouts: owned.saved_timeouts,
        ..Ownership::default()
    };
    let mut adopted_services = 0;
    let mut adopted_dests = 0;

    let no_services = Vec::new();
    let not_owned = Ownership::default();
    let (actual_svcs, prev_owned) = if desired.flush {
        ops.push(Op::Flush);
        (&no_services, &not_owned)
    } else {
        (&actual.services, owned)
    };

    // Timeouts.
    match desired.timeouts {
        Some(t) => {
            let mut set = Timeouts::default();
            let mut change = false;
            for (want, have, slot) in [
                (t.tcp, actual.timeouts.tcp, &mut set.tcp),
                (t.tcp_fin, actual.timeouts.tcp_fin, &mut set.tcp_fin),
                (t.udp, actual.timeouts.udp, &mut set.udp),
            ] {
                if want != 0 && want != have {
                    *slot = want;
                    change = true;
                }
            }
            if change {
                if own.saved_timeouts.is_none() {
                    own.saved_timeouts = Some(actual.timeouts);
                }
                ops.push(Op::SetTimeouts(set));
            }
        }
        None => {
            if let Some(orig) = own.saved_timeouts.take() {
                if orig != actual.timeouts {
                    ops.push(Op::SetTimeouts(orig));
                }
            }
        }
    }

    // Services and destinations.
    let by_key: HashMap<ServiceKey, &(ServiceEntry, Vec<DestEntry>)> =
        actual_svcs.iter().map(|s| (s.0.service.key, s)).collect();
    let mut wanted_keys = std::collections::HashSet::with_capacity(desired.services.len());
    for (svc, dests) in &desired.services {
        let k = svc.key;
        if !wanted_keys.insert(k) {
            continue; // duplicate in config: the first wins
        }
        let have = by_key.get(&k);
        match have {
            None => ops.push(Op::AddService(svc.clone())),
            Some((se, _)) if !svc.same_config(&se.service) => {
                ops.push(Op::EditService(svc.clone()))
            }
            Some(_) => adopted_services += 1,
        }
        let have_dests: HashMap<DestKey, &DestEntry> = have
            .map(|(_, ds)| ds.iter().map(|d| (d.dest.key(), d)).collect())
            .unwrap_or_default();
        // Stale owned dests go first (frees capacity, keeps the add order clean).
        if let Some((_, ds)) = have {
            let ok = okey(&k);
            let want_keys: BTreeSet<DestKey> = dests.iter().map(Dest::key).collect();
            for d in ds {
                let dk = d.dest.key();
                if !want_keys.contains(&dk) && prev_owned.dests.contains(&(ok.clone(), odest(&dk)))
                {
                    ops.push(Op::DelDest {
                        service: k,
                        dest: dk,
                    });
                }
            }
        }
        let mut seen = Seen::default();
        for d in dests {
            let dk = d.key();
            if !seen.insert(dk) {
                continue;
            }
            match have_dests.get(&dk) {
                None => ops.push(Op::AddDest {
                    service: k,
                    dest: d.clone(),
                }),
                Some(h) if !dest_matches(d, &h.dest) => ops.push(Op::EditDest {
                    service: k,
                    dest: d.clone(),
                }),
                Some(_) => adopted_dests += 1,
            }
        }
    }
    // Owned services no longer wanted.
    for (se, _) in actual_svcs {
        let k = se.service.key;
        if !wanted_keys.contains(&k) && prev_owned.services.contains(&okey(&k)) {
            ops.push(Op::DelService(k));
        }
    }
    // Owned dests in services that are no longer ours but still exist stay
    // owned only if the service stays: nothing else to carry over.

    // Sync daemons.
    let running: BTreeMap<DaemonState, &Daemon> =
        actual.daemons.iter().map(|d| (d.state, d)).collect();
    let wanted: BTreeMap<DaemonState, &Daemon> =
        desired.daemons.iter().map(|d| (d.state, d)).collect();
    for (state, have) in &running {
        match wanted.get(state) {
            Some(w) if daemon_matches(w, have) && prev_owned.daemons.contains(state.name()) => {
                own.daemons.insert(state.name().to_string());
            }
            Some(w) if daemon_matches(w, have) => {}
            Some(_) => ops.push(Op::StopDaemon(*state)),
            None if prev_owned.daemons.contains(state.name()) => ops.push(Op::StopDaemon(*state)),
            None => {}
        }
    }
    for (state, w) in &wanted {
        let ok = running.get(state).is_some_and(|h| daemon_matches(w, h));
        if !ok {
            ops.push(Op::StartDaemon((*w).clone()));
            own.daemons.insert(state.name().to_string());
        }
    }

    Plan {
        ops,
        ownership: own,
        adopted_services,
        adopted_dests,
    }
}

/// Keys already seen in one service's destination list: a short list searched in place, a set
/// beyond that.
#[derive(Default)]
struct Seen {
    few: Vec<DestKey>,
    many: Option<std::collections::HashSet<DestKey>>,
}

impl Seen {
    fn insert(&mut self, k: DestKey) -> bool {
        if let Some(m) = &mut self.many {
            return m.insert(k);
        }
        if self.few.contains(&k) {
            return false;
        }
        self.few.push(k);
        if self.few.len() > 16 {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// Read everything the reconciler needs from a backend.
pub fn read_actual<B: IpvsBackend + ?Sized>(b: &mut B) -> Result<Actual, AdminError> {
    let svcs = b.services()?;
    let mut services = Vec::with_capacity(svcs.len());
    for s in svcs {
        let d = b.dests(&s.service.key)?;
        services.push((s, d));
    }
    Ok(Actual {
        services,
        timeouts: b.timeouts()?,
        daemons: b.daemons()?,
    })
}

/// The outcome of one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    pub op: Op,
    pub result: Result<(), AdminError>,
}

/// Run one op against a backend, treating keepalived's benign races as
/// success (EEXIST on add, ENOENT/ESRCH on delete).
pub fn apply_op<B: IpvsBackend + ?Sized>(b: &mut B, op: &Op) -> Result<(), AdminError> {
    benign(op, apply_raw(b, op))
}

/// Run one op against a backend and return its raw result.
pub fn apply_raw<B: IpvsBackend + ?Sized>(b: &mut B, op: &Op) -> Result<(), AdminError> {
    match op {
        Op::Flush => b.flush(),
        Op::SetTimeouts(t) => b.set_timeouts(t),
        Op::AddService(s) => b.add_service(s),
        Op::EditService(s) => b.edit_service(s),
        Op::DelService(k) => b.del_service(k),
        Op::AddDest { service, dest } => b.add_dest(service, dest),
        Op::EditDest { service, dest } => b.edit_dest(service, dest),
        Op::DelDest { service, dest } => b.del_dest(service, dest),
        Op::StopDaemon(s) => b.stop_daemon(*s),
        Op::StartDaemon(d) => b.start_daemon(d),
    }
}

/// Map an op's raw result: EEXIST on add, ENOENT/ESRCH on delete are success.
pub fn benign(op: &Op, r: Result<(), AdminError>) -> Result<(), AdminError> {
    match (op, r) {
        (Op::AddService(_) | Op::AddDest { .. }, Err(AdminError::Exists)) => Ok(()),
        (Op::DelService(_), Err(AdminError::NoService)) => Ok(()),
        (Op::DelDest { .. }, Err(AdminError::NoDest | AdminError::NoService)) => Ok(()),
        (_, r) => r,
    }
}

/// Apply a plan (through [`IpvsBackend::execute_ops`], so the kernel backend batches it);
/// returns every result. The ownership to persist is the plan's, minus what failed to be
/// created and plus what failed to be deleted (see [`ownership_after`]).
pub fn execute<B: IpvsBackend + ?Sized>(b: &mut B, plan: &Plan) -> Vec<OpResult> {
    execute_ops(b, &plan.ops)
}

/// Apply operations in order (batched by backends that can); benign races count as success.
pub fn execute_ops<B: IpvsBackend + ?Sized>(b: &mut B, ops: &[Op]) -> Vec<OpResult> {
    let raw = b.execute_ops(ops);
    ops.iter()
        .zip(raw)
        .map(|(op, r)| OpResult {
            op: op.clone(),
            result: benign(op, r),
        })
        .collect()
}

/// The operations that turn `prev` — a desired state applied in full (every op succeeded),
/// so the backend is known to hold it — into `next`, without reading the backend: what
/// [`plan`] would return against a backend holding exactly `prev`, all of it owned. This is
/// the daemon's fast path (a reload or a checker's weight change touches a few entries of
/// tens of thousands; re-reading the kernel costs one dump per service). `None` when the
/// change needs a full reconcile: `lvs_flush`, `lvs_timeouts` or the sync daemons changed.
pub fn diff(prev: &Desired, next: &Desired) -> Option<Vec<Op>> {
    if next.flush || prev.flush || prev.timeouts != next.timeouts || prev.daemons != next.daemons {
        return None;
    }
    let mut ops = Vec::new();
    let mut by_key: HashMap<ServiceKey, &(Service, Vec<Dest>)> =
        HashMap::with_capacity(prev.services.len());
    for s in &prev.services {
        by_key.entry(s.0.key).or_insert(s);
    }
    let mut wanted = std::collections::HashSet::with_capacity(next.services.len());
    for entry in &next.services {
        let (svc, dests) = entry;
        if !wanted.insert(svc.key) {
            continue; // duplicate in config: the first wins (as in `plan`)
        }
        let k = svc.key;
        let Some(&have) = by_key.get(&k) else {
            ops.push(Op::AddService(svc.clone()));
            let mut seen = BTreeSet::new();
            for d in dests {
                if seen.insert(d.key()) {
                    ops.push(Op::AddDest {
                        service: k,
                        dest: d.clone(),
                    });
                }
            }
            continue;
        };
        if have == entry {
            continue;
        }
        if !svc.same_config(&have.0) {
            ops.push(Op::EditService(svc.clone()));
        }
        let want_keys: BTreeSet<DestKey> = dests.iter().map(Dest::key).collect();
        let mut had: HashMap<DestKey, &Dest> = HashMap::with_capacity(have.1.len());
        for d in &have.1 {
            had.entry(d.key()).or_insert(d);
        }
        for d in &have.1 {
            let dk = d.key();
            if !want_keys.contains(&dk) && had.remove(&dk).is_some() {
                ops.push(Op::DelDest {
                    service: k,
                    dest: dk,
                });
            }
        }
        let mut seen = BTreeSet::new();
        for d in dests {
            let dk = d.key();
            if !seen.insert(dk) {
                continue;
            }
            match had.get(&dk) {
                None => ops.push(Op::AddDest {
                    service: k,
                    dest: d.clone(),
                }),
                Some(h) if !dest_matches(d, h) => ops.push(Op::EditDest {
                    service: k,
                    dest: d.clone(),
                }),
                Some(_) => {}
            }
        }
    }
    let mut gone = std::collections::HashSet::new();
    for (svc, _) in &prev.services {
        if !wanted.contains(&svc.key) && gone.insert(svc.key) {
            ops.push(Op::DelService(svc.key));
        }
    }
    Some(ops)
}

/// Brings `owned` up to date after running [`diff`]'s operations: what was created is owned,
/// what was deleted is not; a failed operation changes nothing. Returns whether it changed.
pub fn update_ownership(owned: &mut Ownership, results: &[OpResult]) -> bool {
    let mut changed = false;
    for r in results.iter().filter(|r| r.result.is_ok()) {
        match &r.op {
            Op::AddService(s) => changed |= owned.services.insert(okey(&s.key)),
            Op::AddDest { service, dest } => {
                changed |= owned.dests.insert((okey(service), odest(&dest.key())))
            }
            Op::DelService(k) => {
                let k = okey(k);
                changed |= owned.services.remove(&k);
                let before = owned.dests.len();
                owned.dests.retain(|(sk, _)| *sk != k);
                changed |= owned.dests.len() != before;
            }
            Op::DelDest { service, dest } => {
                changed |= owned.dests.remove(&(okey(service), odest(dest)))
            }
            Op::StartDaemon(d) => changed |= owned.daemons.insert(d.state.name().to_string()),
            Op::StopDaemon(s) => changed |= owned.daemons.remove(s.name()),
            Op::SetTimeouts(_) | Op::EditService(_) | Op::EditDest { .. } | Op::Flush => {}
        }
    }
    changed
}

/// Ownership to persist after executing `plan` with `results`.
pub fn ownership_after(plan: &Plan, prev: &Ownership, results: &[OpResult]) -> Ownership {
    finish_ownership(plan.ownership.clone(), prev, results)
}

/// [`ownership_after`] from a plan's ownership taken by value (no copy of tens of thousands
/// of keys).
pub fn finish_ownership(mut own: Ownership, prev: &Ownership, results: &[OpResult]) -> Ownership {
    for r in results {
        if r.result.is_ok() {
            continue;
        }
        match &r.op {
            Op::AddService(s) => {
                let k = okey(&s.key);
                own.services.remove(&k);
                own.dests.retain(|(sk, _)| *sk != k);
            }
            Op::AddDest { service, dest } => {
                own.dests.remove(&(okey(service), odest(&dest.key())));
            }
            Op::DelService(k) => {
                let k = okey(k);
                if prev.services.contains(&k) {
                    own.services.insert(k.clone());
                    for d in prev.dests.iter().filter(|(sk, _)| *sk == k) {
                        own.dests.insert(d.clone());
                    }
                }
            }
            Op::DelDest { service, dest } => {
                let e = (okey(service), odest(dest));
                if prev.dests.contains(&e) {
                    own.dests.insert(e);
                }
            }
            Op::StartDaemon(d) => {
                own.daemons.remove(d.state.name());
            }
            Op::StopDaemon(s) => {
                if prev.daemons.contains(s.name()) {
                    own.daemons.insert(s.name().to_string());
                }
            }
            Op::SetTimeouts(_) | Op::EditService(_) | Op::EditDest { .. } | Op::Flush => {}
        }
    }
    own
}

impl Ownership {
    /// Service keys recorded as owned.
    pub fn service_keys(&self) -> Vec<ServiceKey> {
        self.services.iter().filter_map(|s| parse_okey(s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::*;

    fn key(port: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "192.0.2.49".parse().unwrap(),
            port,
        }
    }

    fn rs(last: u8, w: u32) -> Dest {
        let mut d = Dest::new(format!("192.0.2.{last}").parse().unwrap(), 80);
        d.weight = w;
        d
    }

    fn entry(s: &Service, ds: &[Dest]) -> (ServiceEntry, Vec<DestEntry>) {
        let mut svc = s.clone();
        svc.flags = SvcFlags(svc.flags.0 | SvcFlags::HASHED);
        (
            ServiceEntry {
                service: svc,
                stats: Stats::default(),
            },
            ds.iter()
                .map(|d| DestEntry {
                    dest: d.clone(),
                    active_conns: 0,
                    inact_conns: 0,
                    persist_conns: 0,
                    stats: Stats::default(),
                })
                .collect(),
        )
    }

    fn web() -> Service {
        let mut s = Service::new(key(80));
        s.scheduler = "rr".into();
        s.flags = SvcFlags(SvcFlags::PERSISTENT);
        s.timeout = 360;
        s
    }

    #[test]
    fn cold_apply_adds_in_config_order() {
        let d = Desired {
            services: vec![(web(), vec![rs(56, 100), rs(57, 100)])],
            ..Default::default()
        };
        let p = plan(&d, &Actual::default(), &Ownership::default());
        assert_eq!(
            p.ops,
            vec![
                Op::AddService(web()),
                Op::AddDest {
                    service: key(80),
                    dest: rs(56, 100)
                },
                Op::AddDest {
                    service: key(80),
                    dest: rs(57, 100)
                },
            ]
        );
        assert_eq!(p.ownership.services.len(), 1);
        assert_eq!(p.ownership.dests.len(), 2);
    }

    #[test]
    fn matching_state_is_adopted_without_ops() {
        let d = Desired {
            services: vec![(web(), vec![rs(56, 100), rs(57, 100)])],
            ..Default::default()
        };
        let a = Actual {
            services: vec![entry(&web(), &[rs(57, 100), rs(56, 100)])],
            ..Default::default()
        };
        let p = plan(&d, &a, &Ownership::default());
        assert!(p.ops.is_empty(), "{:?}", p.ops);
        assert_eq!((p.adopted_services, p.adopted_dests), (1, 2));
    }

    #[test]
    fn changes_are_edits_in_place() {
        let mut s2 = web();
        s2.scheduler = "wlc".into();
        s2.netmask = 0xffff_ff00;
        let d = Desired {
            services: vec![(s2.clone(), vec![rs(56, 50), rs(57, 100)])],
            ..Default::default()
        };
        let a = Actual {
            services: vec![entry(&web(), &[rs(56, 100), rs(57, 100)])],
            ..Default::default()
        };
        let p = plan(&d, &a, &Ownership::default());
        assert_eq!(
            p.ops,
            vec![
                Op::EditService(s2),
                Op::EditDest {
                    service: key(80),
                    dest: rs(56, 50)
                }
            ]
        );
    }

    #[test]
    fn foreign_objects_are_left_alone_owned_ones_removed() {
        let foreign = Service::new(key(8080));
        let d = Desired {
            services: vec![(web(), vec![rs(56, 100)])],
            ..Default::default()
        };
        let a = Actual {
            services: vec![
                entry(&web(), &[rs(56, 100), rs(57, 100), rs(99, 1)]),
                entry(&foreign, &[rs(1, 1)]),
                entry(&Service::new(key(443)), &[]),
            ],
            ..Default::default()
        };
        // Run 1 created web with 56 and 57, and the :443 service.
        let mut prev = Ownership::default();
        prev.services.insert(okey(&key(80)));
        prev.services.insert(okey(&key(443)));
        prev.dests.insert((okey(&key(80)), odest(&rs(56, 1).key())));
        prev.dests.insert((okey(&key(80)), odest(&rs(57, 1).key())));
        let p = plan(&d, &a, &prev);
        assert_eq!(
            p.ops,
            vec![
                Op::DelDest {
                    service: key(80),
                    dest: rs(57, 1).key()
                },
                Op::DelService(key(443)),
            ]
        );
        // Without ownership nothing is removed.
        let p = plan(&d, &a, &Ownership::default());
        assert!(p.ops.is_empty());
        // lvs_flush flushes and re-adds everything.
        let p = plan(
            &Desired {
                flush: true,
                ..d.clone()
            },
            &a,
            &prev,
        );
        assert_eq!(p.ops[0], Op::Flush);
        assert_eq!(p.ops.len(), 3);
    }

    #[test]
    fn timeouts_partial_saved_and_restored() {
        let a = Actual {
            timeouts: Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            },
            ..Default::default()
        };
        let d = Desired {
            timeouts: Some(Timeouts {
                tcp: 30,
                tcp_fin: 0,
                udp: 300,
            }),
            ..Default::default()
        };
        let p = plan(&d, &a, &Ownership::default());
        assert_eq!(
            p.ops,
            vec![Op::SetTimeouts(Timeouts {
                tcp: 30,
                tcp_fin: 0,
                udp: 0
            })]
        );
        assert_eq!(p.ownership.saved_timeouts, Some(a.timeouts));
        // Later the option is removed: the originals come back.
        let now = Actual {
            timeouts: Timeouts {
                tcp: 30,
                tcp_fin: 120,
                udp: 300,
            },
            ..Default::default()
        };
        let p2 = plan(&Desired::default(), &now, &p.ownership);
        assert_eq!(p2.ops, vec![Op::SetTimeouts(a.timeouts)]);
        assert_eq!(p2.ownership.saved_timeouts, None);
    }

    #[test]
    fn daemons_started_restarted_and_only_own_stopped() {
        let want = Daemon {
            state: DaemonState::Master,
            mcast_ifn: "eth0".into(),
            syncid: 5,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0,
        };
        let mut running = want.clone();
        running.sync_maxlen = 1472;
        running.mcast_group = Some("224.0.0.81".parse().unwrap());
        running.mcast_port = 8848;
        running.mcast_ttl = 1;
        let d = Desired {
            daemons: vec![want.clone()],
            ..Default::default()
        };
        let p = plan(&d, &Actual::default(), &Ownership::default());
        assert_eq!(p.ops, vec![Op::StartDaemon(want.clone())]);
        // Running with kernel defaults filled in: adopted.
        let a = Actual {
            daemons: vec![running.clone()],
            ..Default::default()
        };
        assert!(plan(&d, &a, &p.ownership).ops.is_empty());
        // syncid changed: restart.
        let mut w2 = want.clone();
        w2.syncid = 6;
        let p3 = plan(
            &Desired {
                daemons: vec![w2.clone()],
                ..Default::default()
            },
            &a,
            &p.ownership,
        );
        assert_eq!(
            p3.ops,
            vec![Op::StopDaemon(DaemonState::Master), Op::StartDaemon(w2)]
        );
        // Removed from config: stopped only when ours.
        assert_eq!(
            plan(&Desired::default(), &a, &p.ownership).ops,
            vec![Op::StopDaemon(DaemonState::Master)]
        );
        assert!(plan(&Desired::default(), &a, &Ownership::default())
            .ops
            .is_empty());
    }

    #[test]
    fn failed_ops_adjust_ownership() {
        let d = Desired {
            services: vec![(web(), vec![rs(56, 100)])],
            ..Default::default()
        };
        let p = plan(&d, &Actual::default(), &Ownership::default());
        let results: Vec<OpResult> = p
            .ops
            .iter()
            .map(|op| OpResult {
                op: op.clone(),
                result: match op {
                    Op::AddDest { .. } => Err(AdminError::Range("weight".into())),
                    _ => Ok(()),
                },
            })
            .collect();
        let own = ownership_after(&p, &Ownership::default(), &results);
        assert_eq!(own.services.len(), 1);
        assert!(own.dests.is_empty());
        assert_eq!(own.service_keys(), vec![key(80)]);
        for k in [
            key(80),
            ServiceKey::Fwmark {
                mark: 7,
                af: Family::Inet6,
            },
            ServiceKey::Addr {
                proto: Protocol::Sctp,
                addr: "2001:db8::1".parse().unwrap(),
                port: 9,
            },
        ] {
            assert_eq!(parse_okey(&okey(&k)), Some(k));
        }
    }

    /// The backend state right after `d` was applied in full.
    fn actual_of(d: &Desired) -> Actual {
        Actual {
            services: d.services.iter().map(|(s, ds)| entry(s, ds)).collect(),
            ..Default::default()
        }
    }

    fn desired(services: Vec<(Service, Vec<Dest>)>) -> Desired {
        Desired {
            services,
            ..Default::default()
        }
    }

    #[test]
    fn diff_is_plan_against_the_last_applied_state() {
        let mut other = Service::new(key(443));
        other.scheduler = "wlc".into();
        let base = desired(vec![
            (web(), vec![rs(56, 100), rs(57, 100), rs(58, 1)]),
            (other.clone(), vec![rs(60, 1)]),
        ]);
        let mut weight = base.clone();
        weight.services[0].1[1].weight = 50;
        let mut sched = base.clone();
        sched.services[1].0.scheduler = "rr".into();
        let mut dests = base.clone();
        dests.services[0].1.remove(0);
        dests.services[0].1.push(rs(59, 3));
        let mut svc_gone = base.clone();
        svc_gone.services.remove(1);
        let mut svc_new = base.clone();
        let mut third = Service::new(key(8080));
        third.scheduler = "sh".into();
        svc_new.services.push((third, vec![rs(70, 1), rs(70, 1)]));
        for (name, next) in [
            ("same", base.clone()),
            ("one weight", weight),
            ("scheduler", sched),
            ("dests replaced", dests),
            ("service removed", svc_gone),
            ("service added", svc_new),
            ("everything removed", Desired::default()),
        ] {
            let owned = plan(&base, &Actual::default(), &Ownership::default()).ownership;
            let full = plan(&next, &actual_of(&base), &owned);
            let fast = diff(&base, &next).expect("incremental");
            assert_eq!(fast, full.ops, "{name}");
            // Ownership kept up to date op by op = the plan's.
            let results: Vec<OpResult> = fast
                .iter()
                .map(|op| OpResult {
                    op: op.clone(),
                    result: Ok(()),
                })
                .collect();
            let mut own = owned.clone();
            let changed = update_ownership(&mut own, &results);
            assert_eq!(own, full.ownership, "{name}: ownership");
            assert_eq!(changed, own != owned, "{name}: changed flag");
        }
        assert_eq!(diff(&base, &base), Some(vec![]));
    }

    #[test]
    fn diff_defers_global_changes_to_a_full_reconcile() {
        let base = desired(vec![(web(), vec![rs(56, 100)])]);
        let mut t = base.clone();
        t.timeouts = Some(Timeouts {
            tcp: 900,
            tcp_fin: 0,
            udp: 0,
        });
        assert_eq!(diff(&base, &t), None);
        let mut f = base.clone();
        f.flush = true;
        assert_eq!(diff(&base, &f), None);
    }

    #[test]
    fn failed_diff_ops_leave_ownership_alone() {
        let base = desired(vec![(web(), vec![rs(56, 100)])]);
        let mut owned = plan(&base, &Actual::default(), &Ownership::default()).ownership;
        let next = desired(vec![(web(), vec![rs(57, 100)])]);
        let ops = diff(&base, &next).unwrap();
        let results: Vec<OpResult> = ops
            .iter()
            .map(|op| OpResult {
                op: op.clone(),
                result: Err(AdminError::Timeout),
            })
            .collect();
        let before = owned.clone();
        assert!(!update_ownership(&mut owned, &results));
        assert_eq!(owned, before);
    }
}
