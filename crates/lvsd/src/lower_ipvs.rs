//! Lower the keepalived configuration model (lvs-config) to the IPVS admin
//! objects (lvs-ipvs), and apply a configuration — or a reload — to an
//! in-process IPVS the way keepalived changes the kernel.
//!
//! Every real server is taken as up (no health checking offline): services
//! and real servers are added in file order, so the kernel's lists end up
//! newest-first exactly as keepalived leaves them.

use std::net::IpAddr;

use anyhow::{bail, Result};
use lvs_config as cfg;
use lvs_ipvs::admin::{self, Dest, DestKey, Family, FwdMethod, Service, ServiceKey, SvcFlags};
use lvs_ipvs::Ipvs;

/// A service with its real servers, in file order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoweredService {
    pub service: Service,
    pub dests: Vec<Dest>,
}

/// What a configuration asks of IPVS.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Lowered {
    pub services: Vec<LoweredService>,
    /// `lvs_timeouts` (seconds, 0 = leave).
    pub timeouts: (u32, u32, u32),
}

fn fwd(kind: &cfg::LbKind) -> (FwdMethod, admin::TunType, u16, admin::TunCsum) {
    match kind {
        cfg::LbKind::Nat => (
            FwdMethod::Masq,
            admin::TunType::Ipip,
            0,
            admin::TunCsum::NoCsum,
        ),
        cfg::LbKind::Dr => (
            FwdMethod::Route,
            admin::TunType::Ipip,
            0,
            admin::TunCsum::NoCsum,
        ),
        cfg::LbKind::Tun { tun_type, csum } => {
            let (t, p) = match tun_type {
                cfg::TunType::Ipip => (admin::TunType::Ipip, 0),
                cfg::TunType::Gue { port } => (admin::TunType::Gue, *port),
                cfg::TunType::Gre => (admin::TunType::Gre, 0),
            };
            let c = match csum {
                Some(cfg::TunCsum::Csum) => admin::TunCsum::Csum,
                Some(cfg::TunCsum::Remcsum) => admin::TunCsum::RemCsum,
                _ => admin::TunCsum::NoCsum,
            };
            (FwdMethod::Tunnel, t, p, c)
        }
    }
}

fn proto(p: cfg::Protocol) -> admin::Protocol {
    match p {
        cfg::Protocol::Tcp => admin::Protocol::Tcp,
        cfg::Protocol::Udp => admin::Protocol::Udp,
        cfg::Protocol::Sctp => admin::Protocol::Sctp,
    }
}

fn family(f: Option<cfg::Family>) -> Family {
    match f {
        Some(cfg::Family::Inet6) => Family::Inet6,
        _ => Family::Inet,
    }
}

/// Every address of an inclusive range (IPv4 or IPv6), capped.
fn expand(first: IpAddr, last: IpAddr) -> Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let (a, b) = (u32::from(a), u32::from(b));
            if b < a || b - a > 65_535 {
                bail!("virtual_server_group range {first}-{last} is empty or too large");
            }
            out.extend((a..=b).map(|x| IpAddr::from(std::net::Ipv4Addr::from(x))));
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let (a, b) = (u128::from(a), u128::from(b));
            if b < a || b - a > 65_535 {
                bail!("virtual_server_group range {first}-{last} is empty or too large");
            }
            out.extend((a..=b).map(|x| IpAddr::from(std::net::Ipv6Addr::from(x))));
        }
        _ => bail!("virtual_server_group range {first}-{last} mixes address families"),
    }
    Ok(out)
}

/// Lower one configuration.
pub(crate) fn lower(c: &cfg::Config) -> Result<Lowered> {
    let mut out = Lowered::default();
    if let Some(t) = &c.global_defs.lvs_timeouts {
        out.timeouts = (
            t.tcp.unwrap_or(0),
            t.tcpfin.unwrap_or(0),
            t.udp.unwrap_or(0),
        );
    }
    for vs in &c.virtual_servers {
        let keys: Vec<ServiceKey> = match &vs.address {
            cfg::VsAddress::Ip { ip, port } => {
                vec![ServiceKey::Addr {
                    proto: proto(vs.protocol),
                    addr: *ip,
                    port: *port,
                }]
            }
            cfg::VsAddress::Fwmark { fwmark } => {
                vec![ServiceKey::Fwmark {
                    mark: *fwmark,
                    af: family(vs.ip_family),
                }]
            }
            cfg::VsAddress::Group { group } => {
                let Some(g) = c.virtual_server_groups.iter().find(|g| &g.name == group) else {
                    bail!("virtual_server group {group}: no such virtual_server_group");
                };
                let mut keys = Vec::new();
                for e in &g.entries {
                    match e {
                        cfg::VsgEntry::Range {
                            first, last, port, ..
                        } => {
                            for a in expand(*first, *last)? {
                                keys.push(ServiceKey::Addr {
                                    proto: proto(vs.protocol),
                                    addr: a,
                                    port: *port,
                                });
                            }
                        }
                        cfg::VsgEntry::Fwmark {
                            fwmark, family: f, ..
                        } => keys.push(ServiceKey::Fwmark {
                            mark: *fwmark,
                            af: family(f.or(vs.ip_family)),
                        }),
                    }
                }
                keys
            }
        };
        if vs.lb_algo == cfg::LbAlgo::Twos {
            bail!("lb_algo twos is random by design and is not modelled");
        }
        for key in keys {
            let mut s = Service::new(key);
            s.scheduler = vs.lb_algo.as_str().to_string();
            let mut flags = 0;
            if let Some(t) = vs.persistence_timeout {
                flags |= SvcFlags::PERSISTENT;
                s.timeout = t;
                match vs.persistence_granularity {
                    Some(cfg::PersistenceGranularity::Netmask(m)) => s.netmask = u32::from(m),
                    Some(cfg::PersistenceGranularity::PrefixLen(p)) => s.netmask = p as u32,
                    None => {}
                }
            }
            let f = &vs.flags;
            if f.ops {
                flags |= SvcFlags::ONEPACKET;
            }
            if f.flag_1 || f.sh_fallback || f.mh_fallback {
                flags |= SvcFlags::SCHED1;
            }
            if f.flag_2 || f.sh_port || f.mh_port {
                flags |= SvcFlags::SCHED2;
            }
            if f.flag_3 {
                flags |= SvcFlags::SCHED3;
            }
            s.flags = SvcFlags(flags);
            s.pe_name = vs.persistence_engine.clone();
            let dests = vs
                .real_servers
                .iter()
                .map(|rs| {
                    let (m, tt, tp, tc) = fwd(rs.lb_kind.as_ref().unwrap_or(&vs.lb_kind));
                    let mut d = Dest::new(rs.ip, rs.port);
                    d.fwd = m;
                    d.weight = rs.weight;
                    d.u_threshold = rs.uthreshold;
                    d.l_threshold = rs.lthreshold;
                    d.tun_type = tt;
                    d.tun_port = tp;
                    d.tun_flags = tc;
                    d
                })
                .collect();
            out.services.push(LoweredService { service: s, dests });
        }
    }
    Ok(out)
}

/// Program a fresh model with a lowered configuration.
pub(crate) fn apply_fresh(v: &mut Ipvs, l: &Lowered) -> Result<()> {
    v.set_timeouts(l.timeouts.0, l.timeouts.1, l.timeouts.2);
    for s in &l.services {
        v.add_service(&s.service)
            .map_err(|e| anyhow::anyhow!("{}: {e}", s.service.key))?;
        for d in &s.dests {
            v.add_dest(&s.service.key, d)
                .map_err(|e| anyhow::anyhow!("{} -> {}: {e}", s.service.key, d.key()))?;
        }
    }
    Ok(())
}

/// Change the model from `old` to `new` as a keepalived reload changes the
/// kernel: services and real servers edited in place, removed ones deleted,
/// new ones added (in file order).
pub(crate) fn apply_reload(v: &mut Ipvs, old: &Lowered, new: &Lowered) -> Result<()> {
    let err = |e: admin::AdminError| anyhow::anyhow!("{e}");
    for o in &old.services {
        if !new.services.iter().any(|n| n.service.key == o.service.key) {
            v.del_service(&o.service.key).map_err(err)?;
        }
    }
    v.set_timeouts(new.timeouts.0, new.timeouts.1, new.timeouts.2);
    for n in &new.services {
        match old.services.iter().find(|o| o.service.key == n.service.key) {
            None => {
                v.add_service(&n.service).map_err(err)?;
                for d in &n.dests {
                    v.add_dest(&n.service.key, d).map_err(err)?;
                }
            }
            Some(o) => {
                if !o.service.same_config(&n.service) {
                    v.edit_service(&n.service).map_err(err)?;
                }
                for od in &o.dests {
                    if !n.dests.iter().any(|nd| nd.key() == od.key()) {
                        v.del_dest(
                            &n.service.key,
                            &DestKey {
                                addr: od.addr,
                                port: od.port,
                            },
                        )
                        .map_err(err)?;
                    }
                }
                for nd in &n.dests {
                    match o.dests.iter().find(|od| od.key() == nd.key()) {
                        None => v.add_dest(&n.service.key, nd).map_err(err)?,
                        Some(od) if od != nd => v.edit_dest(&n.service.key, nd).map_err(err)?,
                        Some(_) => {}
                    }
                }
            }
        }
    }
    Ok(())
}

/// Load and lower a keepalived.conf, failing on configuration errors.
pub(crate) fn load(path: &std::path::Path) -> Result<Lowered> {
    let loaded =
        cfg::load(&cfg::FsSource, path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if loaded.has_errors() {
        let msgs: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == cfg::Severity::Error)
            .map(|d| format!("{d}"))
            .collect();
        bail!(
            "{}: configuration errors:\n{}",
            path.display(),
            msgs.join("\n")
        );
    }
    lower(&loaded.config)
}
