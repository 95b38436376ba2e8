//! Admin types (`lvs_ipvs::admin`) ↔ IPVS attributes, and request builders
//! laid out exactly as libipvs lays them out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_ipvs::admin::{
    Daemon, DaemonState, Dest, DestEntry, DestKey, Family, FwdMethod, Info, Protocol, Service,
    ServiceEntry, ServiceKey, Stats, SvcFlags, Timeouts, TunCsum, TunType,
};

use lvs_ipvs::reconcile::Op;

use crate::attr::{DaemonAttr, DestAttr, IpvsAttr, StatsAttr, SvcAttr};
use crate::message::{IpvsCmd, IpvsMessage};
use crate::NlError;

/// The 16-byte `nf_inet_addr` for an address.
pub fn inet_addr(a: &IpAddr) -> Vec<u8> {
    inet_addr_bytes(a).to_vec()
}

/// [`inet_addr`] without an allocation.
pub fn inet_addr_bytes(a: &IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => {
            let mut out = [0u8; 16];
            out[..4].copy_from_slice(&v4.octets());
            out
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn addr_from(raw: &[u8], af: Family) -> Result<IpAddr, NlError> {
    match af {
        Family::Inet if raw.len() >= 4 => {
            Ok(IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])))
        }
        Family::Inet6 if raw.len() >= 16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&raw[..16]);
            Ok(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => Err(NlError::Invalid(format!(
            "address attribute of {} bytes for {af:?}",
            raw.len()
        ))),
    }
}

/// Netmask as carried: IPv4 raw network-order mask, IPv6 prefix length.
pub fn netmask_raw(af: Family, netmask: u32) -> [u8; 4] {
    match af {
        Family::Inet => netmask.to_be_bytes(),
        Family::Inet6 => netmask.to_ne_bytes(),
    }
}

fn netmask_from(af: Family, raw: [u8; 4]) -> u32 {
    match af {
        Family::Inet => u32::from_be_bytes(raw),
        Family::Inet6 => u32::from_ne_bytes(raw),
    }
}

/// Identifying attributes of a service (`AF`, then `FWMARK` or `PROTOCOL`/`ADDR`/`PORT`).
pub fn service_key_attrs(key: &ServiceKey) -> Vec<SvcAttr> {
    let mut v = vec![SvcAttr::Af(key.af().to_raw())];
    match key {
        ServiceKey::Fwmark { mark, .. } => v.push(SvcAttr::Fwmark(*mark)),
        ServiceKey::Addr { proto, addr, port } => {
            v.push(SvcAttr::Protocol(proto.number()));
            v.push(SvcAttr::Addr(inet_addr(addr)));
            v.push(SvcAttr::Port(*port));
        }
    }
    v
}

/// The full service entry (NEW/SET_SERVICE), libipvs order, mask `~0`.
pub fn service_attrs(svc: &Service) -> Vec<SvcAttr> {
    let mut v = service_key_attrs(&svc.key);
    v.push(SvcAttr::SchedName(svc.scheduler.clone()));
    if let Some(pe) = &svc.pe_name {
        v.push(SvcAttr::PeName(pe.clone()));
    }
    v.push(SvcAttr::Flags {
        flags: svc.flags.user().0,
        mask: !0,
    });
    v.push(SvcAttr::Timeout(svc.timeout));
    v.push(SvcAttr::Netmask(netmask_raw(svc.key.af(), svc.netmask)));
    v
}

/// The full destination entry (NEW/SET_DEST), libipvs order.
pub fn dest_attrs(dest: &Dest) -> Vec<DestAttr> {
    vec![
        DestAttr::AddrFamily(Family::of(&dest.addr).to_raw()),
        DestAttr::Addr(inet_addr(&dest.addr)),
        DestAttr::Port(dest.port),
        DestAttr::FwdMethod(dest.fwd.to_raw()),
        DestAttr::Weight(dest.weight),
        DestAttr::TunType(dest.tun_type.to_raw()),
        DestAttr::TunPort(dest.tun_port),
        DestAttr::TunFlags(dest.tun_flags.to_raw()),
        DestAttr::UThresh(dest.u_threshold),
        DestAttr::LThresh(dest.l_threshold),
    ]
}

/// Identifying attributes of a destination (DEL_DEST).
pub fn dest_key_attrs(key: &DestKey) -> Vec<DestAttr> {
    vec![
        DestAttr::AddrFamily(Family::of(&key.addr).to_raw()),
        DestAttr::Addr(inet_addr(&key.addr)),
        DestAttr::Port(key.port),
    ]
}

/// Daemon attributes (NEW_DAEMON), libipvs order; zero/None optional fields are left out.
pub fn daemon_attrs(d: &Daemon) -> Vec<DaemonAttr> {
    let mut v = vec![
        DaemonAttr::State(d.state.to_raw()),
        DaemonAttr::McastIfn(d.mcast_ifn.clone()),
        DaemonAttr::SyncId(d.syncid),
    ];
    if d.sync_maxlen != 0 {
        v.push(DaemonAttr::SyncMaxlen(d.sync_maxlen));
    }
    if d.mcast_port != 0 {
        v.push(DaemonAttr::McastPort(d.mcast_port));
    }
    if d.mcast_ttl != 0 {
        v.push(DaemonAttr::McastTtl(d.mcast_ttl));
    }
    match d.mcast_group {
        Some(IpAddr::V6(a)) => v.push(DaemonAttr::McastGroup6(a.octets())),
        Some(IpAddr::V4(a)) => v.push(DaemonAttr::McastGroup(a.octets())),
        None => {}
    }
    v
}

// --- requests ------------------------------------------------------------

pub fn req_get_info() -> IpvsMessage {
    IpvsMessage::new(IpvsCmd::GetInfo, vec![])
}

/// Dump all services (send with `dump = true`).
pub fn req_get_services() -> IpvsMessage {
    IpvsMessage::new(IpvsCmd::GetService, vec![])
}

/// Get one service (doit).
pub fn req_get_service(key: &ServiceKey) -> IpvsMessage {
    IpvsMessage::new(
        IpvsCmd::GetService,
        vec![IpvsAttr::Service(service_key_attrs(key))],
    )
}

/// Dump the destinations of a service (send with `dump = true`).
pub fn req_get_dests(key: &ServiceKey) -> IpvsMessage {
    IpvsMessage::new(
        IpvsCmd::GetDest,
        vec![IpvsAttr::Service(service_key_attrs(key))],
    )
}

pub fn req_new_service(svc: &Service) -> IpvsMessage {
    IpvsMessage::new(
        IpvsCmd::NewService,
        vec![IpvsAttr::Service(service_attrs(svc))],
    )
}

pub fn req_set_service(svc: &Service) -> IpvsMessage {
    IpvsMessage::new(
        IpvsCmd::SetService,
        vec![IpvsAttr::Service(service_attrs(svc))],
    )
}

pub fn req_del_service(key: &ServiceKey) -> IpvsMessage {
    IpvsMessage::new(
        IpvsCmd::DelService,
        vec![IpvsAttr::Service(service_key_attrs(key))],
    )
}

fn dest_req(cmd: IpvsCmd, key: &ServiceKey, d: Vec<DestAttr>) -> IpvsMessage {
    IpvsMessage::new(
        cmd,
        vec![IpvsAttr::Service(service_key_attrs(key)), IpvsAttr::Dest(d)],
    )
}

pub fn req_new_dest(key: &ServiceKey, dest: &Dest) -> IpvsMessage {
    dest_req(IpvsCmd::NewDest, key, dest_attrs(dest))
}

pub fn req_set_dest(key: &ServiceKey, dest: &Dest) -> IpvsMessage {
    dest_req(IpvsCmd::SetDest, key, dest_attrs(dest))
}

pub fn req_del_dest(key: &ServiceKey, dest: &DestKey) -> IpvsMessage {
    dest_req(IpvsCmd::DelDest, key, dest_key_attrs(dest))
}

/// The request for one reconcile operation.
pub fn req_for_op(op: &Op) -> IpvsMessage {
    match op {
        Op::Flush => req_flush(),
        Op::SetTimeouts(t) => req_set_config(t),
        Op::AddService(s) => req_new_service(s),
        Op::EditService(s) => req_set_service(s),
        Op::DelService(k) => req_del_service(k),
        Op::AddDest { service, dest } => req_new_dest(service, dest),
        Op::EditDest { service, dest } => req_set_dest(service, dest),
        Op::DelDest { service, dest } => req_del_dest(service, dest),
        Op::StopDaemon(s) => req_del_daemon(*s),
        Op::StartDaemon(d) => req_new_daemon(d),
    }
}

pub fn req_flush() -> IpvsMessage {
    IpvsMessage::new(IpvsCmd::Flush, vec![])
}

pub fn req_zero(key: Option<&ServiceKey>) -> IpvsMessage {
    let attrs = key
        .map(|k| vec![IpvsAttr::Service(service_key_attrs(k))])
        .unwrap_or_default();
    IpvsMessage::new(IpvsCmd::Zero, attrs)
}

pub fn req_get_config() -> IpvsMessage {
    IpvsMessage::new(IpvsCmd::GetConfig, vec![])
}

/// SET_CONFIG with all three values (0 keeps), as ipvsadm `--set` sends it.
pub fn req_set_config(t: &Timeouts) -> IpvsMessage {
    IpvsMessage::new(
        IpvsCmd::SetConfig,
        vec![
            IpvsAttr::TimeoutTcp(t.tcp),
            IpvsAttr::TimeoutTcpFin(t.tcp_fin),
            IpvsAttr::TimeoutUdp(t.udp),
        ],
    )
}

/// Dump the sync daemons (send with `dump = true`).
pub fn req_get_daemons() -> IpvsMessage {
    IpvsMessage::new(IpvsCmd::GetDaemon, vec![])
}

pub fn req_new_daemon(d: &Daemon) -> IpvsMessage {
    IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(daemon_attrs(d))])
}

/// DEL_DAEMON; the kernel needs only the state.
pub fn req_del_daemon(state: DaemonState) -> IpvsMessage {
    IpvsMessage::new(
        IpvsCmd::DelDaemon,
        vec![IpvsAttr::Daemon(vec![DaemonAttr::State(state.to_raw())])],
    )
}

// --- replies -------------------------------------------------------------

fn stats_from(attrs: &[StatsAttr]) -> Stats {
    let mut s = Stats::default();
    for a in attrs {
        let (k, v) = match a {
            StatsAttr::U32(k, v) => (*k, u64::from(*v)),
            StatsAttr::U64(k, v) => (*k, *v),
            StatsAttr::Other(_) => continue,
        };
        let slot = match k {
            1 => &mut s.conns,
            2 => &mut s.inpkts,
            3 => &mut s.outpkts,
            4 => &mut s.inbytes,
            5 => &mut s.outbytes,
            6 => &mut s.cps,
            7 => &mut s.inpps,
            8 => &mut s.outpps,
            9 => &mut s.inbps,
            10 => &mut s.outbps,
            _ => continue,
        };
        *slot = v;
    }
    s
}

/// 64-bit stats block (`*_ATTR_STATS64`).
pub fn stats64_attrs(s: &Stats) -> Vec<StatsAttr> {
    [
        s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes, s.cps, s.inpps, s.outpps, s.inbps,
        s.outbps,
    ]
    .iter()
    .enumerate()
    .map(|(i, v)| StatsAttr::U64(i as u16 + 1, *v))
    .collect()
}

/// 32-bit stats block (`*_ATTR_STATS`): byte counters stay u64.
pub fn stats32_attrs(s: &Stats) -> Vec<StatsAttr> {
    [
        s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes, s.cps, s.inpps, s.outpps, s.inbps,
        s.outbps,
    ]
    .iter()
    .enumerate()
    .map(|(i, v)| {
        let k = i as u16 + 1;
        if k == 4 || k == 5 {
            StatsAttr::U64(k, *v)
        } else {
            StatsAttr::U32(k, *v as u32)
        }
    })
    .collect()
}

/// Decode a service nest (a dump entry or a request).
pub fn parse_service(attrs: &[SvcAttr]) -> Result<ServiceEntry, NlError> {
    let mut af = None;
    let mut proto = None;
    let mut addr = None;
    let mut port = None;
    let mut fwmark = None;
    let mut sched = None;
    let mut flags = 0;
    let mut timeout = 0;
    let mut netmask = None;
    let mut pe = None;
    let mut st32 = None;
    let mut st64 = None;
    for a in attrs {
        match a {
            SvcAttr::Af(v) => af = Some(*v),
            SvcAttr::Protocol(v) => proto = Some(*v),
            SvcAttr::Addr(v) => addr = Some(v.as_slice()),
            SvcAttr::Port(v) => port = Some(*v),
            SvcAttr::Fwmark(v) => fwmark = Some(*v),
            SvcAttr::SchedName(v) => sched = Some(v.clone()),
            SvcAttr::Flags { flags: f, .. } => flags = *f,
            SvcAttr::Timeout(v) => timeout = *v,
            SvcAttr::Netmask(v) => netmask = Some(*v),
            SvcAttr::PeName(v) => pe = Some(v.clone()),
            SvcAttr::Stats(v) => st32 = Some(v.as_slice()),
            SvcAttr::Stats64(v) => st64 = Some(v.as_slice()),
            SvcAttr::Other(_) => {}
        }
    }
    let af = af.ok_or(NlError::Missing("IPVS_SVC_ATTR_AF"))?;
    let af =
        Family::from_raw(af).ok_or_else(|| NlError::Invalid(format!("address family {af}")))?;
    let key = match fwmark {
        Some(mark) if mark != 0 => ServiceKey::Fwmark { mark, af },
        _ => {
            let p = proto.ok_or(NlError::Missing("IPVS_SVC_ATTR_PROTOCOL"))?;
            let proto = Protocol::from_number(p)
                .ok_or_else(|| NlError::Invalid(format!("service protocol {p}")))?;
            let addr = addr_from(addr.ok_or(NlError::Missing("IPVS_SVC_ATTR_ADDR"))?, af)?;
            let port = port.ok_or(NlError::Missing("IPVS_SVC_ATTR_PORT"))?;
            ServiceKey::Addr { proto, addr, port }
        }
    };
    let stats = st64.or(st32).map(stats_from).unwrap_or_default();
    Ok(ServiceEntry {
        service: Service {
            key,
            scheduler: sched.unwrap_or_default(),
            flags: SvcFlags(flags),
            timeout,
            netmask: netmask.map_or(af.full_netmask(), |m| netmask_from(af, m)),
            pe_name: pe.filter(|p| !p.is_empty()),
        },
        stats,
    })
}

/// Decode a destination nest; `svc_af` is used when `ADDR_FAMILY` is absent or 0.
pub fn parse_dest(attrs: &[DestAttr], svc_af: Family) -> Result<DestEntry, NlError> {
    let mut af = svc_af;
    let mut addr = None;
    let mut e = DestEntry {
        dest: Dest::new(svc_af.unspecified(), 0),
        active_conns: 0,
        inact_conns: 0,
        persist_conns: 0,
        stats: Stats::default(),
    };
    let mut port = None;
    let mut st32 = None;
    let mut st64 = None;
    for a in attrs {
        match a {
            DestAttr::Addr(v) => addr = Some(v.as_slice()),
            DestAttr::Port(v) => port = Some(*v),
            DestAttr::FwdMethod(v) => {
                e.dest.fwd = FwdMethod::from_raw(*v)
                    .ok_or_else(|| NlError::Invalid(format!("forwarding method {v}")))?
            }
            DestAttr::Weight(v) => e.dest.weight = *v,
            DestAttr::UThresh(v) => e.dest.u_threshold = *v,
            DestAttr::LThresh(v) => e.dest.l_threshold = *v,
            DestAttr::ActiveConns(v) => e.active_conns = *v,
            DestAttr::InactConns(v) => e.inact_conns = *v,
            DestAttr::PersistConns(v) => e.persist_conns = *v,
            DestAttr::Stats(v) => st32 = Some(v.as_slice()),
            DestAttr::Stats64(v) => st64 = Some(v.as_slice()),
            DestAttr::AddrFamily(v) => {
                if *v != 0 {
                    af = Family::from_raw(*v)
                        .ok_or_else(|| NlError::Invalid(format!("address family {v}")))?;
                }
            }
            DestAttr::TunType(v) => {
                e.dest.tun_type = TunType::from_raw(*v)
                    .ok_or_else(|| NlError::Invalid(format!("tunnel type {v}")))?
            }
            DestAttr::TunPort(v) => e.dest.tun_port = *v,
            DestAttr::TunFlags(v) => {
                e.dest.tun_flags = TunCsum::from_raw(*v)
                    .ok_or_else(|| NlError::Invalid(format!("tunnel flags {v}")))?
            }
            DestAttr::Other(_) => {}
        }
    }
    e.dest.addr = addr_from(addr.ok_or(NlError::Missing("IPVS_DEST_ATTR_ADDR"))?, af)?;
    e.dest.port = port.ok_or(NlError::Missing("IPVS_DEST_ATTR_PORT"))?;
    e.stats = st64.or(st32).map(stats_from).unwrap_or_default();
    Ok(e)
}

/// Decode a daemon nest.
pub fn parse_daemon(attrs: &[DaemonAttr]) -> Result<Daemon, NlError> {
    let mut d = Daemon {
        state: DaemonState::Master,
        mcast_ifn: String::new(),
        syncid: 0,
        sync_maxlen: 0,
        mcast_group: None,
        mcast_port: 0,
        mcast_ttl: 0,
    };
    let mut state = None;
    for a in attrs {
        match a {
            DaemonAttr::State(v) => state = Some(*v),
            DaemonAttr::McastIfn(v) => d.mcast_ifn = v.clone(),
            DaemonAttr::SyncId(v) => d.syncid = *v,
            DaemonAttr::SyncMaxlen(v) => d.sync_maxlen = *v,
            DaemonAttr::McastGroup(v) => d.mcast_group = Some(IpAddr::V4(Ipv4Addr::from(*v))),
            DaemonAttr::McastGroup6(v) => d.mcast_group = Some(IpAddr::V6(Ipv6Addr::from(*v))),
            DaemonAttr::McastPort(v) => d.mcast_port = *v,
            DaemonAttr::McastTtl(v) => d.mcast_ttl = *v,
            DaemonAttr::Other(_) => {}
        }
    }
    let s = state.ok_or(NlError::Missing("IPVS_DAEMON_ATTR_STATE"))?;
    d.state =
        DaemonState::from_raw(s).ok_or_else(|| NlError::Invalid(format!("daemon state {s}")))?;
    Ok(d)
}

/// Decoded content of one IPVS reply message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Service(ServiceEntry),
    Dest(DestEntry),
    Daemon(Daemon),
    Timeouts(Timeouts),
    Info(Info),
    /// A command without attributes we interpret.
    Empty(IpvsCmd),
}

/// Interpret a reply payload. `svc_af` resolves dest addresses lacking `ADDR_FAMILY`.
pub fn parse_reply(msg: &IpvsMessage, svc_af: Family) -> Result<Reply, NlError> {
    match msg.cmd {
        IpvsCmd::NewService | IpvsCmd::SetService | IpvsCmd::GetService => {
            for a in &msg.attrs {
                if let IpvsAttr::Service(s) = a {
                    return parse_service(s).map(Reply::Service);
                }
            }
            Err(NlError::Missing("IPVS_CMD_ATTR_SERVICE"))
        }
        IpvsCmd::NewDest | IpvsCmd::SetDest | IpvsCmd::GetDest => {
            for a in &msg.attrs {
                if let IpvsAttr::Dest(d) = a {
                    return parse_dest(d, svc_af).map(Reply::Dest);
                }
            }
            Err(NlError::Missing("IPVS_CMD_ATTR_DEST"))
        }
        IpvsCmd::NewDaemon | IpvsCmd::GetDaemon => {
            for a in &msg.attrs {
                if let IpvsAttr::Daemon(d) = a {
                    return parse_daemon(d).map(Reply::Daemon);
                }
            }
            Err(NlError::Missing("IPVS_CMD_ATTR_DAEMON"))
        }
        IpvsCmd::SetConfig | IpvsCmd::GetConfig => {
            let mut t = Timeouts::default();
            for a in &msg.attrs {
                match a {
                    IpvsAttr::TimeoutTcp(v) => t.tcp = *v,
                    IpvsAttr::TimeoutTcpFin(v) => t.tcp_fin = *v,
                    IpvsAttr::TimeoutUdp(v) => t.udp = *v,
                    _ => {}
                }
            }
            Ok(Reply::Timeouts(t))
        }
        IpvsCmd::SetInfo | IpvsCmd::GetInfo => {
            let mut version = None;
            let mut size = 0;
            for a in &msg.attrs {
                match a {
                    IpvsAttr::InfoVersion(v) => version = Some(*v),
                    IpvsAttr::InfoConnTabSize(v) => size = *v,
                    _ => {}
                }
            }
            Ok(Reply::Info(Info {
                version: version.ok_or(NlError::Missing("IPVS_INFO_ATTR_VERSION"))?,
                conn_tab_size: size,
            }))
        }
        c => Ok(Reply::Empty(c)),
    }
}

// --- kernel-side encoders (what the kernel sends back; used by tests and the fake kernel) ---

/// A service dump entry as the kernel fills it (`ip_vs_genl_fill_service`).
pub fn kernel_service_attrs(e: &ServiceEntry) -> Vec<SvcAttr> {
    let svc = &e.service;
    let mut v = service_key_attrs(&svc.key);
    v.push(SvcAttr::SchedName(svc.scheduler.clone()));
    if let Some(pe) = &svc.pe_name {
        v.push(SvcAttr::PeName(pe.clone()));
    }
    v.push(SvcAttr::Flags {
        flags: svc.flags.0,
        mask: !0,
    });
    v.push(SvcAttr::Timeout(svc.timeout));
    v.push(SvcAttr::Netmask(netmask_raw(svc.key.af(), svc.netmask)));
    v.push(SvcAttr::Stats(stats32_attrs(&e.stats)));
    v.push(SvcAttr::Stats64(stats64_attrs(&e.stats)));
    v
}

/// A dest dump entry as the kernel fills it (`ip_vs_genl_fill_dest`).
pub fn kernel_dest_attrs(e: &DestEntry) -> Vec<DestAttr> {
    let d = &e.dest;
    vec![
        DestAttr::Addr(inet_addr(&d.addr)),
        DestAttr::Port(d.port),
        DestAttr::FwdMethod(d.fwd.to_raw()),
        DestAttr::Weight(d.weight),
        DestAttr::TunType(d.tun_type.to_raw()),
        DestAttr::TunPort(d.tun_port),
        DestAttr::TunFlags(d.tun_flags.to_raw()),
        DestAttr::UThresh(d.u_threshold),
        DestAttr::LThresh(d.l_threshold),
        DestAttr::ActiveConns(e.active_conns),
        DestAttr::InactConns(e.inact_conns),
        DestAttr::PersistConns(e.persist_conns),
        DestAttr::AddrFamily(Family::of(&d.addr).to_raw()),
        DestAttr::Stats(stats32_attrs(&e.stats)),
        DestAttr::Stats64(stats64_attrs(&e.stats)),
    ]
}
