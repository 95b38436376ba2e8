//! keepalived.conf (typed model) → desired IPVS state, as keepalived's
//! checker process programs it at start (`ipvswrapper.c`, `ipwrapper.c`):
//!
//! * services in file order; `virtual_server_group` entries expanded (ranges
//!   address by address, fwmark entries as fwmark services);
//! * scheduler `lb_algo` (default wlc); persistence → `PERSISTENT`, timeout
//!   (empty value or granularity alone → 360), netmask = granularity (else
//!   /32 or 128); a port-0 VS without persistence is forced persistent;
//!   `ops` → ONEPACKET; `flag-N`/`sh-*`/`mh-*` → SCHED1..3; PE name;
//! * real servers in file order, forwarding method from the RS or the VS
//!   (default NAT); port = VS port for DR/TUN, 0 for fwmark non-NAT;
//!   thresholds; tunnel type/port/checksum;
//! * health checks are not run by `apply`: without `alpha` a real server is
//!   up from the start (keepalived adds it at once); with `alpha` it starts
//!   down (absent, or weight 0 with `inhibit_on_failure`); if the weight sum
//!   of the live servers is below `quorum`, the `sorry_server` is used;
//! * `lvs_timeouts` (unset values keep the kernel's), `lvs_flush`,
//!   `lvs_sync_daemon` (no instance: master and backup; with an instance:
//!   backup, the state VRRP starts in; syncid = `id`, else the instance's
//!   VRID, else 0).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_config::{
    Config, LbKind, PersistenceGranularity, Protocol as CProto, TunCsum as CCsum, TunType as CTun,
    VirtualServer, VsAddress, VsgEntry,
};
use lvs_ipvs::admin::{
    Daemon, DaemonState, Dest, Family, FwdMethod, Protocol, Service, ServiceKey, SvcFlags,
    Timeouts, TunCsum, TunType, IPVS_SVC_PERSISTENT_TIMEOUT,
};
use lvs_ipvs::reconcile::Desired;

/// Most addresses a single group range may expand to.
const MAX_RANGE: u128 = 65_536;

/// A problem found while lowering (besides what `lvs-config` reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LowerNote {
    pub(crate) message: String,
}

fn proto(p: CProto) -> Protocol {
    match p {
        CProto::Tcp => Protocol::Tcp,
        CProto::Udp => Protocol::Udp,
        CProto::Sctp => Protocol::Sctp,
    }
}

fn fwd_of(kind: &LbKind) -> (FwdMethod, TunType, u16, TunCsum) {
    match kind {
        LbKind::Nat => (FwdMethod::Masq, TunType::Ipip, 0, TunCsum::NoCsum),
        LbKind::Dr => (FwdMethod::Route, TunType::Ipip, 0, TunCsum::NoCsum),
        LbKind::Tun { tun_type, csum } => {
            let (t, port) = match tun_type {
                CTun::Ipip => (TunType::Ipip, 0),
                CTun::Gue { port } => (TunType::Gue, *port),
                CTun::Gre => (TunType::Gre, 0),
            };
            let c = match csum {
                None | Some(CCsum::Nocsum) => TunCsum::NoCsum,
                Some(CCsum::Csum) => TunCsum::Csum,
                Some(CCsum::Remcsum) => TunCsum::RemCsum,
            };
            (FwdMethod::Tunnel, t, port, c)
        }
    }
}

fn family_of(f: lvs_config::Family) -> Family {
    match f {
        lvs_config::Family::Inet => Family::Inet,
        lvs_config::Family::Inet6 => Family::Inet6,
    }
}

/// Expand `first..=last` (same family) into addresses.
fn expand(first: IpAddr, last: IpAddr, notes: &mut Vec<LowerNote>) -> Vec<IpAddr> {
    let (a, b, v6) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), false)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), true),
        _ => {
            notes.push(LowerNote {
                message: format!(
                    "group range {first}-{last} mixes address families; using {first}"
                ),
            });
            return vec![first];
        }
    };
    if b < a {
        return vec![first];
    }
    let n = b - a + 1;
    let n = if n > MAX_RANGE {
        notes.push(LowerNote {
            message: format!("group range {first}-{last} truncated to {MAX_RANGE} addresses"),
        });
        MAX_RANGE
    } else {
        n
    };
    (0..n)
        .map(|i| {
            if v6 {
                IpAddr::V6(Ipv6Addr::from(a + i))
            } else {
                IpAddr::V4(Ipv4Addr::from((a + i) as u32))
            }
        })
        .collect()
}

/// The service keys a `virtual_server` stands for.
fn keys_of(cfg: &Config, vs: &VirtualServer, notes: &mut Vec<LowerNote>) -> Vec<ServiceKey> {
    let p = proto(vs.protocol);
    let fw_af = || {
        vs.ip_family.map(family_of).unwrap_or_else(|| {
            vs.real_servers
                .first()
                .map(|r| Family::of(&r.ip))
                .unwrap_or(Family::Inet)
        })
    };
    match &vs.address {
        VsAddress::Ip { ip, port } => vec![ServiceKey::Addr {
            proto: p,
            addr: *ip,
            port: *port,
        }],
        VsAddress::Fwmark { fwmark } => vec![ServiceKey::Fwmark {
            mark: *fwmark,
            af: fw_af(),
        }],
        VsAddress::Group { group } => {
            let Some(g) = cfg.virtual_server_groups.iter().find(|g| &g.name == group) else {
                notes.push(LowerNote {
                    message: format!("virtual_server group {group}: no such virtual_server_group"),
                });
                return vec![];
            };
            let mut out = Vec::new();
            for e in &g.entries {
                match e {
                    VsgEntry::Range {
                        first, last, port, ..
                    } => {
                        for addr in expand(*first, *last, notes) {
                            out.push(ServiceKey::Addr {
                                proto: p,
                                addr,
                                port: *port,
                            });
                        }
                    }
                    VsgEntry::Fwmark { fwmark, family, .. } => out.push(ServiceKey::Fwmark {
                        mark: *fwmark,
                        af: family.map(family_of).unwrap_or_else(fw_af),
                    }),
                }
            }
            out
        }
    }
}

fn service_for(vs: &VirtualServer, key: ServiceKey) -> Service {
    let mut s = Service::new(key);
    s.scheduler = vs.lb_algo.as_str().to_string();
    let mut flags = 0;
    let f = &vs.flags;
    if f.flag_1 || f.sh_fallback || f.mh_fallback {
        flags |= SvcFlags::SCHED1;
    }
    if f.flag_2 || f.sh_port || f.mh_port {
        flags |= SvcFlags::SCHED2;
    }
    if f.flag_3 {
        flags |= SvcFlags::SCHED3;
    }
    let ops_ok = match key {
        ServiceKey::Addr { proto, .. } => proto == Protocol::Udp,
        ServiceKey::Fwmark { .. } => true,
    };
    if f.ops && ops_ok {
        flags |= SvcFlags::ONEPACKET;
    }
    let port0 = matches!(key, ServiceKey::Addr { port: 0, .. });
    let timeout = match (vs.persistence_timeout, vs.persistence_granularity) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => Some(IPVS_SVC_PERSISTENT_TIMEOUT),
        (None, None) if port0 => Some(IPVS_SVC_PERSISTENT_TIMEOUT),
        (None, None) => None,
    };
    if let Some(t) = timeout {
        flags |= SvcFlags::PERSISTENT;
        s.timeout = t;
        s.netmask = match (vs.persistence_granularity, key.af()) {
            (Some(PersistenceGranularity::Netmask(m)), Family::Inet) => u32::from(m),
            (Some(PersistenceGranularity::PrefixLen(p)), Family::Inet6) => u32::from(p),
            (Some(PersistenceGranularity::PrefixLen(p)), Family::Inet) if p <= 32 => {
                if p == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(p))
                }
            }
            _ => key.af().full_netmask(),
        };
    }
    s.flags = SvcFlags(flags);
    s.pe_name = vs.persistence_engine.clone();
    s
}

fn dest_for(key: &ServiceKey, kind: &LbKind, ip: IpAddr, port: u16, weight: u32) -> Dest {
    let (fwd, tun_type, tun_port, tun_flags) = fwd_of(kind);
    let port = match (key, fwd) {
        (ServiceKey::Fwmark { .. }, FwdMethod::Masq) => port,
        (ServiceKey::Fwmark { .. }, _) => 0,
        (ServiceKey::Addr { port: p, .. }, FwdMethod::Route | FwdMethod::Tunnel) => {
            if *p == 0 {
                port
            } else {
                *p
            }
        }
        _ => port,
    };
    let mut d = Dest::new(ip, port);
    d.fwd = fwd;
    d.weight = weight;
    d.tun_type = tun_type;
    d.tun_port = tun_port;
    d.tun_flags = tun_flags;
    d
}

/// Lower a whole configuration.
pub(crate) fn desired_from_config(cfg: &Config) -> (Desired, Vec<LowerNote>) {
    let mut notes = Vec::new();
    let mut d = Desired {
        flush: cfg.global_defs.lvs_flush,
        ..Desired::default()
    };
    for vs in &cfg.virtual_servers {
        for key in keys_of(cfg, vs, &mut notes) {
            let svc = service_for(vs, key);
            let mut dests = Vec::new();
            let mut live_weight: u64 = 0;
            for rs in &vs.real_servers {
                let kind = rs.lb_kind.as_ref().unwrap_or(&vs.lb_kind);
                let rs_port = if rs.port == 0 { vs.port() } else { rs.port };
                let weight = if rs.alpha {
                    if rs.inhibit_on_failure {
                        Some(0)
                    } else {
                        None
                    }
                } else {
                    live_weight += u64::from(rs.weight);
                    Some(rs.weight)
                };
                if let Some(w) = weight {
                    let mut dest = dest_for(&key, kind, rs.ip, rs_port, w);
                    dest.u_threshold = rs.uthreshold;
                    dest.l_threshold = rs.lthreshold;
                    dests.push(dest);
                }
            }
            if let Some(sorry) = &vs.sorry_server {
                if live_weight < u64::from(vs.quorum.max(1)) {
                    let kind = sorry.lb_kind.as_ref().unwrap_or(&vs.lb_kind);
                    let port = if sorry.port == 0 {
                        vs.port()
                    } else {
                        sorry.port
                    };
                    if !sorry.inhibit {
                        dests.retain(|x| x.weight == 0);
                    }
                    let sd = dest_for(&key, kind, sorry.ip, port, 1);
                    if !dests.iter().any(|x| x.key() == sd.key()) {
                        dests.push(sd);
                    }
                }
            }
            d.services.push((svc, dests));
        }
    }
    if let Some(t) = &cfg.global_defs.lvs_timeouts {
        d.timeouts = Some(Timeouts {
            tcp: t.tcp.unwrap_or(0),
            tcp_fin: t.tcpfin.unwrap_or(0),
            udp: t.udp.unwrap_or(0),
        });
    }
    if let Some(sd) = &cfg.global_defs.lvs_sync_daemon {
        let vrid = sd.vrrp_instance.as_ref().and_then(|name| {
            cfg.vrrp_instances
                .iter()
                .find(|v| &v.name == name)
                .map(|v| v.virtual_router_id)
        });
        let base = Daemon {
            state: DaemonState::Backup,
            mcast_ifn: sd.interface.clone(),
            syncid: u32::from(sd.id.or(vrid).unwrap_or(0)),
            sync_maxlen: sd.maxlen.unwrap_or(0),
            mcast_group: sd.group,
            mcast_port: sd.port.unwrap_or(0),
            mcast_ttl: sd.ttl.unwrap_or(0),
        };
        if sd.vrrp_instance.is_none() {
            d.daemons.push(Daemon {
                state: DaemonState::Master,
                ..base.clone()
            });
        }
        d.daemons.push(base);
    }
    (d, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(text: &str) -> Desired {
        let l = lvs_config::parse_str("test.conf", text);
        desired_from_config(&l.config).0
    }

    #[test]
    fn seed_config_maps_like_keepalived() {
        let d = lower(
            "virtual_server 192.168.56.49 80 {\n lb_algo rr\n lb_kind DR\n persistence_timeout \n protocol TCP\n\
             real_server 192.168.56.56 80 { weight 100 }\n real_server 192.168.56.57 80 { weight 100 }\n}\n",
        );
        assert_eq!(d.services.len(), 1);
        let (s, ds) = &d.services[0];
        assert_eq!(s.scheduler, "rr");
        assert!(s.is_persistent());
        assert_eq!(s.timeout, 360);
        assert_eq!(s.netmask, 0xffff_ffff);
        assert_eq!(ds.len(), 2);
        assert_eq!(ds[0].addr, "192.168.56.56".parse::<IpAddr>().unwrap());
        assert_eq!(ds[0].fwd, FwdMethod::Route);
        assert_eq!(ds[0].weight, 100);
        assert!(d.timeouts.is_none() && d.daemons.is_empty() && !d.flush);
    }

    #[test]
    fn defaults_granularity_fwmark_and_globals() {
        let d = lower(
            "global_defs {\n lvs_timeouts tcp 30 udp 90\n lvs_sync_daemon eth1 id 7\n lvs_flush\n}\n\
             virtual_server 10.1.0.1 53 {\n protocol UDP\n persistence_granularity 255.255.255.0\n\
             real_server 10.2.0.1 5353 { }\n}\n\
             virtual_server fwmark 5 {\n lb_kind DR\n lb_algo sh\n sh-port\n real_server 10.2.0.2 80 {\n uthreshold 100\n lthreshold 10\n }\n}\n",
        );
        let (s, ds) = &d.services[0];
        assert_eq!(s.scheduler, "wlc");
        assert_eq!((s.timeout, s.netmask), (360, 0xffff_ff00));
        assert_eq!(ds[0].fwd, FwdMethod::Masq);
        assert_eq!(ds[0].port, 5353);
        let (f, fd) = &d.services[1];
        assert_eq!(
            f.key,
            ServiceKey::Fwmark {
                mark: 5,
                af: Family::Inet
            }
        );
        assert!(f.flags.has(SvcFlags::SCHED2));
        assert_eq!(fd[0].port, 0);
        assert_eq!((fd[0].u_threshold, fd[0].l_threshold), (100, 10));
        assert_eq!(
            d.timeouts,
            Some(Timeouts {
                tcp: 30,
                tcp_fin: 0,
                udp: 90
            })
        );
        assert_eq!(d.daemons.len(), 2);
        assert_eq!(d.daemons[0].state, DaemonState::Master);
        assert_eq!(d.daemons[1].syncid, 7);
        assert!(d.flush);
    }

    #[test]
    fn groups_expand_and_dr_port_follows_vs() {
        let d = lower(
            "virtual_server_group G {\n 10.0.0.1-3 80\n fwmark 9\n}\n\
             virtual_server group G {\n protocol TCP\n lb_kind DR\n real_server 10.9.0.1 8080 { }\n}\n",
        );
        let keys: Vec<String> = d.services.iter().map(|s| s.0.key.to_string()).collect();
        assert_eq!(
            keys,
            vec![
                "TCP 10.0.0.1:80",
                "TCP 10.0.0.2:80",
                "TCP 10.0.0.3:80",
                "FWM 9"
            ]
        );
        assert_eq!(d.services[0].1[0].port, 80);
        assert_eq!(d.services[3].1[0].port, 0);
    }
}
