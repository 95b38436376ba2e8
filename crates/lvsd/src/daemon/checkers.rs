//! Checkers driver: maps keepalived.conf's virtual servers into `lvs-check`'s engine
//! configuration, and runs what the engine asks for (probes through `lvs-sys::probe`,
//! notify scripts without a shell).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use lvs_check as chk;
use lvs_config as cfg;
use tracing::warn;

/// Default jitter: each full `delay_loop` is shortened by up to 5 %.
const JITTER_PERMILLE: u16 = 50;
/// A probe with no result this long past its own timeout is reported as stalled.
const STALL_GRACE: Duration = Duration::from_secs(5);
/// Probe starts due within the same 10 ms slot share one wake-up (a start is at most 10 ms late).
const TIMER_SLACK: Duration = Duration::from_millis(10);

fn protocol(p: cfg::Protocol) -> chk::Protocol {
    match p {
        cfg::Protocol::Tcp => chk::Protocol::Tcp,
        cfg::Protocol::Udp => chk::Protocol::Udp,
        cfg::Protocol::Sctp => chk::Protocol::Sctp,
    }
}

/// The engine identity of a configured virtual server.
pub(crate) fn vs_key(vs: &cfg::VirtualServer) -> chk::VsKey {
    match &vs.address {
        cfg::VsAddress::Ip { ip, port } => chk::VsKey::Addr {
            protocol: protocol(vs.protocol),
            addr: *ip,
            port: *port,
        },
        cfg::VsAddress::Fwmark { fwmark } => chk::VsKey::Fwmark {
            mark: *fwmark,
            ipv6: vs.ip_family == Some(cfg::Family::Inet6),
        },
        cfg::VsAddress::Group { group } => chk::VsKey::Group {
            name: group.clone(),
            protocol: protocol(vs.protocol),
        },
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

fn target(c: &cfg::CheckCommon) -> chk::Target {
    chk::Target {
        connect_ip: c.connect_ip,
        connect_port: c.connect_port,
        bindto: c.bindto,
        bind_port: c.bind_port,
        bind_if: c.bind_if.clone(),
        fwmark: c.fwmark,
    }
}

fn timing(c: &cfg::CheckCommon) -> chk::Timing {
    chk::Timing {
        delay_loop: c.delay_loop,
        retry: c.retry,
        delay_before_retry: c.delay_before_retry,
        warmup: c.warmup,
        alpha: c.alpha,
    }
}

fn http(h: &cfg::HttpCheck, rs: &cfg::RealServer, tls: bool) -> chk::HttpSpec {
    chk::HttpSpec {
        urls: h
            .urls
            .iter()
            .map(|u| chk::UrlSpec {
                path: u.path.clone(),
                digest: u.digest.as_ref().map(|d| d.to_ascii_lowercase()),
                status_codes: u.status_code.iter().map(|r| (r.min, r.max)).collect(),
                virtualhost: u.virtualhost.clone(),
                regex: u.regex.clone(),
                regex_no_match: u.regex_no_match,
            })
            .collect(),
        protocol: match h.http_protocol {
            cfg::HttpProtocol::Http10 => chk::HttpProtocol::Http10,
            cfg::HttpProtocol::Http10C => chk::HttpProtocol::Http10Close,
            cfg::HttpProtocol::Http11 => chk::HttpProtocol::Http11,
        },
        virtualhost: h.virtualhost.clone().or_else(|| rs.virtualhost.clone()),
        tls: tls.then(|| chk::TlsSpec {
            enable_sni: h.enable_sni,
            sni_name: h.sni_name.clone(),
        }),
    }
}

fn dns_type(t: cfg::DnsType) -> chk::DnsType {
    match t {
        cfg::DnsType::A => chk::DnsType::A,
        cfg::DnsType::Ns => chk::DnsType::Ns,
        cfg::DnsType::Cname => chk::DnsType::Cname,
        cfg::DnsType::Soa => chk::DnsType::Soa,
        cfg::DnsType::Mx => chk::DnsType::Mx,
        cfg::DnsType::Txt => chk::DnsType::Txt,
        cfg::DnsType::Aaaa => chk::DnsType::Aaaa,
    }
}

fn checker(
    c: &cfg::Checker,
    rs: &cfg::RealServer,
    vs: &cfg::VirtualServer,
    conf: &cfg::Config,
) -> Option<chk::CheckerCfg> {
    let (kind, common) = match c {
        cfg::Checker::TcpCheck(t) => (chk::ProbeKind::TcpCheck, &t.common),
        cfg::Checker::HttpGet(h) => (chk::ProbeKind::HttpGet(http(h, rs, false)), &h.common),
        cfg::Checker::SslGet(h) => (chk::ProbeKind::HttpGet(http(h, rs, true)), &h.common),
        cfg::Checker::SmtpCheck(s) => (
            chk::ProbeKind::SmtpCheck {
                helo_name: s.helo_name.clone().unwrap_or_else(hostname),
            },
            &s.common,
        ),
        cfg::Checker::DnsCheck(d) => (
            chk::ProbeKind::DnsCheck {
                qtype: dns_type(d.qtype),
                name: d.name.clone(),
            },
            &d.common,
        ),
        cfg::Checker::UdpCheck(u) => {
            let require_reply = match u.require_reply.as_deref().map(chk::parse_reply_pattern) {
                None => None,
                Some(Ok(p)) => Some(p),
                Some(Err(e)) => {
                    warn!(rs = %SocketAddr::new(rs.ip, rs.port), error = %e, "UDP_CHECK require_reply ignored");
                    None
                }
            };
            let spec = chk::UdpSpec {
                payload: u.payload.clone().unwrap_or_default(),
                require_reply,
                min_reply_length: u.min_reply_length as usize,
                max_reply_length: u.max_reply_length as usize,
            };
            (chk::ProbeKind::UdpCheck(spec), &u.common)
        }
        cfg::Checker::PingCheck(p) => (chk::ProbeKind::PingCheck, &p.common),
        cfg::Checker::MiscCheck(m) => {
            let Some(path) = &m.misc_path else {
                warn!(rs = %SocketAddr::new(rs.ip, rs.port), "MISC_CHECK without misc_path ignored");
                return None;
            };
            let spec = chk::MiscSpec {
                argv: path.args.clone(),
                timeout: m.misc_timeout,
                dynamic: m.misc_dynamic,
                user: m
                    .user
                    .as_ref()
                    .or(path.user.as_ref())
                    .map(|u| u.user.clone()),
            };
            (chk::ProbeKind::MiscCheck(spec), &m.common)
        }
        cfg::Checker::FileCheck(f) => {
            let Some(def) = conf.track_files.iter().find(|d| d.name == f.track_file) else {
                warn!(track_file = %f.track_file, "FILE_CHECK references an unknown track_file; ignored");
                return None;
            };
            let Some(file) = &def.file else {
                warn!(track_file = %f.track_file, "track_file has no file; FILE_CHECK ignored");
                return None;
            };
            let spec = chk::FileSpec {
                path: PathBuf::from(file),
                weight: i64::from(f.weight.unwrap_or(def.weight)),
                reverse: f.reverse || def.reverse,
                dynamic: f.dynamic,
            };
            // FILE_CHECK has no common options: poll at the virtual server's delay_loop.
            let t = chk::Timing {
                delay_loop: vs.delay_loop,
                retry: 0,
                delay_before_retry: vs.delay_loop,
                warmup: Duration::ZERO,
                alpha: rs.alpha,
            };
            let spec = chk::ProbeSpec {
                kind: chk::ProbeKind::FileCheck(spec),
                target: chk::Target::new(rs.ip, rs.port),
                connect_timeout: Duration::from_secs(1),
            };
            return Some(chk::CheckerCfg { spec, timing: t });
        }
        cfg::Checker::BfdCheck(b) => {
            warn!(bfd = %b.name, "BFD_CHECK is not supported by lvsd; ignored");
            return None;
        }
    };
    Some(chk::CheckerCfg {
        spec: chk::ProbeSpec {
            kind,
            target: target(common),
            connect_timeout: common.connect_timeout,
        },
        timing: timing(common),
    })
}

/// Maps the whole configuration into the checker engine's.
pub(crate) fn engine_config(conf: &cfg::Config) -> chk::EngineConfig {
    chk::EngineConfig {
        virtual_servers: conf
            .virtual_servers
            .iter()
            .map(|vs| engine_vs(vs, conf))
            .collect(),
        jitter_permille: JITTER_PERMILLE,
        stall_grace: STALL_GRACE,
        timer_slack: TIMER_SLACK,
    }
}

/// One virtual server of `conf` as the checker engine sees it (a reload of a few virtual servers
/// maps only those: `Engine::reconfigure_some`).
pub(crate) fn engine_vs(vs: &cfg::VirtualServer, conf: &cfg::Config) -> chk::VirtualServerCfg {
    let mut v = chk::VirtualServerCfg::new(vs_key(vs));
    v.quorum = u64::from(vs.quorum);
    v.hysteresis = u64::from(vs.hysteresis);
    v.quorum_up = vs.quorum_up.as_ref().map(|s| s.args.clone());
    v.quorum_down = vs.quorum_down.as_ref().map(|s| s.args.clone());
    v.sorry_server = vs
        .sorry_server
        .as_ref()
        .map(|s| SocketAddr::new(s.ip, if s.port == 0 { vs.port() } else { s.port }));
    v.sorry_server_inhibit = vs.sorry_server.as_ref().is_some_and(|s| s.inhibit);
    v.ha_suspend = vs.ha_suspend;
    v.omega = vs.omega;
    for rs in &vs.real_servers {
        let checkers = rs
            .checkers
            .iter()
            .filter_map(|c| checker(c, rs, vs, conf))
            .collect();
        v.real_servers.push(chk::RealServerCfg {
            dest: SocketAddr::new(rs.ip, rs.port),
            weight: rs.weight,
            inhibit_on_failure: rs.inhibit_on_failure,
            notify_up: rs.notify_up.as_ref().map(|s| s.args.clone()),
            notify_down: rs.notify_down.as_ref().map(|s| s.args.clone()),
            checkers,
        });
    }
    v
}

/// `address`/`port`/`protocol` of a virtual server key, for status output.
pub(crate) fn vs_fields(key: &chk::VsKey) -> serde_json::Value {
    match key {
        chk::VsKey::Addr {
            protocol,
            addr,
            port,
        } => {
            serde_json::json!({ "address": addr.to_string(), "port": port, "protocol": protocol.to_string() })
        }
        chk::VsKey::Fwmark { mark, ipv6 } => serde_json::json!({
            "address": null, "port": 0, "protocol": null, "fwmark": mark, "family": if *ipv6 { "inet6" } else { "inet" }
        }),
        chk::VsKey::Group { name, protocol } => {
            serde_json::json!({ "address": null, "port": 0, "protocol": protocol.to_string(), "group": name })
        }
    }
}

/// The addresses of virtual servers with `ha_suspend` (watched for presence).
pub(crate) fn ha_suspend_addrs(conf: &cfg::Config) -> Vec<IpAddr> {
    conf.virtual_servers
        .iter()
        .filter(|v| v.ha_suspend)
        .filter_map(|v| match v.address {
            cfg::VsAddress::Ip { ip, .. } => Some(ip),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
track_file tf {
    file /run/lvsd-test-weight
    weight 2
}
virtual_server 192.168.1.1 80 {
    delay_loop 3
    protocol TCP
    quorum 2
    hysteresis 1
    sorry_server 10.9.9.9 8080
    real_server 10.0.0.1 80 {
        weight 5
        inhibit_on_failure
        HTTP_GET {
            url {
                path /health
                status_code 200-204
            }
            connect_timeout 2
            retry 4
        }
        TCP_CHECK {
            connect_port 81
        }
    }
    real_server 10.0.0.2 80 {
        MISC_CHECK {
            misc_path "/bin/check.sh arg1"
            misc_dynamic
        }
        FILE_CHECK {
            track_file tf
        }
    }
}
virtual_server 192.168.1.2 80 {
    delay_loop 3
    protocol TCP
    real_server 10.0.0.1 80 {
        weight 5
        TCP_CHECK {
            connect_port 81
        }
    }
}
"#;

    #[test]
    fn maps_keepalived_semantics() {
        let loaded = lvs_config::parse_str("test.conf", CONF);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let e = engine_config(&loaded.config);
        assert_eq!(e.virtual_servers.len(), 2);
        let v = &e.virtual_servers[0];
        assert_eq!((v.quorum, v.hysteresis), (2, 1));
        assert_eq!(v.sorry_server, Some("10.9.9.9:8080".parse().unwrap()));
        let r = &v.real_servers[0];
        assert_eq!(
            (r.weight, r.inhibit_on_failure, r.checkers.len()),
            (5, true, 2)
        );
        let h = &r.checkers[0];
        assert_eq!(
            (h.timing.retry, h.spec.connect_timeout),
            (4, Duration::from_secs(2))
        );
        // HTTP default delay_before_retry 3 s; warmup = delay_loop.
        assert_eq!(
            (h.timing.delay_before_retry, h.timing.warmup),
            (Duration::from_secs(3), Duration::from_secs(3))
        );
        let chk::ProbeKind::HttpGet(hs) = &h.spec.kind else {
            panic!()
        };
        assert_eq!(hs.urls[0].status_codes, vec![(200, 204)]);
        assert_eq!(r.checkers[1].spec.target.connect_port, 81);
        let m = &v.real_servers[1].checkers[0];
        let chk::ProbeKind::MiscCheck(ms) = &m.spec.kind else {
            panic!()
        };
        assert_eq!(ms.argv, vec!["/bin/check.sh", "arg1"]);
        assert!(ms.dynamic);
        assert_eq!(m.timing.retry, 0);
        let chk::ProbeKind::FileCheck(fs) = &v.real_servers[1].checkers[1].spec.kind else {
            panic!()
        };
        assert_eq!(
            (fs.weight, fs.path.to_str()),
            (2, Some("/run/lvsd-test-weight"))
        );
        // The TCP_CHECK of 10.0.0.1:81 is the same probe in both virtual servers.
        let t0 = std::time::Instant::now();
        let engine = chk::Engine::new(e, 1, t0);
        assert_eq!(engine.probe_count(), 4);
    }
}
