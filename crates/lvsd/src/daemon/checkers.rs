//! Checkers driver: maps keepalived.conf's virtual servers into `lvs-check`'s engine
//! configuration, and runs what the engine asks for (probes through `lvs-sys::probe`,
//! notify scripts without a shell).

use std::cell::OnceCell;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use lvs_check as chk;
use lvs_config as cfg;
use tracing::warn;

use super::vrrp::ScriptPolicy;

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

/// Maps keepalived.conf's virtual servers, preparing MISC_CHECK scripts as keepalived does: the
/// script policy (`script_user`, `enable_script_security`) is resolved on first use.
pub(crate) struct Mapper<'a> {
    loaded: &'a cfg::Loaded,
    /// Warn once if scripts will run as root for want of a script user (full loads only).
    warn_root: bool,
    policy: OnceCell<ScriptPolicy>,
}

impl<'a> Mapper<'a> {
    pub(crate) fn new(loaded: &'a cfg::Loaded, warn_root: bool) -> Self {
        Self {
            loaded,
            warn_root,
            policy: OnceCell::new(),
        }
    }

    fn policy(&self) -> &ScriptPolicy {
        self.policy
            .get_or_init(|| ScriptPolicy::with_root_warning(self.loaded, self.warn_root))
    }

    /// keepalived's MISC_CHECK preparation: run as the checker's `user` (or `misc_path`'s),
    /// else the default script user; a script not found, not executable, with an unknown
    /// user, or insecure under `enable_script_security` is logged with file:line and the
    /// checker removed (`None`: the real server keeps its other checkers).
    fn misc(&self, m: &cfg::MiscCheck, rs: &cfg::RealServer) -> Option<chk::MiscSpec> {
        let rs = SocketAddr::new(rs.ip, rs.port);
        let Some(path) = &m.misc_path else {
            warn!(%rs, "MISC_CHECK without misc_path ignored");
            return None;
        };
        let script = cfg::Script {
            user: m.user.clone().or_else(|| path.user.clone()),
            ..path.clone()
        };
        let Some(p) = self.policy().prepare(&script, "MISC_CHECK misc_path") else {
            warn!(%rs, script = %path.command, "disabling misc script: MISC_CHECK removed from the real server");
            return None;
        };
        Some(chk::MiscSpec {
            argv: p.argv,
            timeout: m.misc_timeout,
            dynamic: m.misc_dynamic,
            run_as: Some(chk::Credentials {
                uid: p.run_as.uid,
                gid: p.run_as.gid,
            }),
        })
    }
}

fn checker(
    c: &cfg::Checker,
    rs: &cfg::RealServer,
    vs: &cfg::VirtualServer,
    map: &Mapper<'_>,
) -> Option<chk::CheckerCfg> {
    let conf = &map.loaded.config;
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
        cfg::Checker::MiscCheck(m) => (chk::ProbeKind::MiscCheck(map.misc(m, rs)?), &m.common),
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
pub(crate) fn engine_config(loaded: &cfg::Loaded) -> chk::EngineConfig {
    let map = Mapper::new(loaded, true);
    chk::EngineConfig {
        virtual_servers: loaded
            .config
            .virtual_servers
            .iter()
            .map(|vs| map.engine_vs(vs))
            .collect(),
        jitter_permille: JITTER_PERMILLE,
        stall_grace: STALL_GRACE,
        timer_slack: TIMER_SLACK,
    }
}

/// The virtual server at `index` of `loaded` as the checker engine sees it (a reload of a few
/// virtual servers maps only those: `Engine::reconfigure_some`).
pub(crate) fn engine_vs(loaded: &cfg::Loaded, index: usize) -> chk::VirtualServerCfg {
    Mapper::new(loaded, false).engine_vs(&loaded.config.virtual_servers[index])
}

impl Mapper<'_> {
    /// One virtual server as the checker engine sees it.
    pub(crate) fn engine_vs(&self, vs: &cfg::VirtualServer) -> chk::VirtualServerCfg {
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
                .filter_map(|c| checker(c, rs, vs, self))
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
            misc_path "/bin/true arg1"
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
        let e = engine_config(&loaded);
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
        // Run by its real path, as keepalived does.
        let real = std::fs::canonicalize("/bin/true").unwrap();
        assert_eq!(ms.argv, vec![real.display().to_string(), "arg1".into()]);
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

    fn load(text: &str) -> cfg::Loaded {
        let loaded = lvs_config::parse_str("test.conf", text);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        loaded
    }

    /// The MISC_CHECKs of each real server of the first virtual server (and how many checkers
    /// it kept in all).
    fn misc_of(e: &chk::EngineConfig) -> Vec<(usize, Vec<chk::MiscSpec>)> {
        e.virtual_servers[0]
            .real_servers
            .iter()
            .map(|r| {
                let misc = r
                    .checkers
                    .iter()
                    .filter_map(|c| match &c.spec.kind {
                        chk::ProbeKind::MiscCheck(m) => Some(m.clone()),
                        _ => None,
                    })
                    .collect();
                (r.checkers.len(), misc)
            })
            .collect()
    }

    fn uid_of(name: &str) -> chk::Credentials {
        let r = lvs_sys::script::lookup_user(name).unwrap().unwrap();
        chk::Credentials {
            uid: r.uid,
            gid: r.gid,
        }
    }

    /// A MISC_CHECK runs as keepalived runs it: its own `user` (or misc_path's), else
    /// `script_user`.
    #[test]
    fn misc_check_runs_as_the_script_user() {
        let e = engine_config(&load(
            "global_defs {\n script_user nobody\n}\n\
             virtual_server 192.0.2.1 80 {\n protocol TCP\n\
               real_server 10.0.0.1 80 {\n  MISC_CHECK {\n   misc_path /bin/true\n  }\n }\n\
               real_server 10.0.0.2 80 {\n  MISC_CHECK {\n   misc_path /bin/true\n   user root\n  }\n }\n\
               real_server 10.0.0.3 80 {\n  MISC_CHECK {\n   misc_path \"/bin/true x\" root\n  }\n }\n\
             }\n",
        ));
        let m = misc_of(&e);
        assert_eq!(m[0].1[0].run_as, Some(uid_of("nobody")));
        assert_eq!(m[1].1[0].run_as, Some(uid_of("root")));
        assert_eq!(m[2].1[0].run_as, Some(uid_of("root")));
        assert_eq!(m[2].1[0].argv[1], "x");
    }

    /// A misc script that is missing, not executable, has an unknown user, or (under
    /// enable_script_security) is insecure is removed; its real server keeps its other
    /// checkers, and one left with none is up (in the service with its weight).
    #[test]
    fn unusable_misc_scripts_are_removed() {
        let dir = std::env::temp_dir().join(format!("lvsd-misc-map-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let open = dir.join("open");
        std::fs::create_dir_all(&open).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // World-writable, no sticky bit: anyone could replace the script.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let insecure = open.join("check.sh");
        std::fs::write(&insecure, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&insecure, std::fs::Permissions::from_mode(0o755)).unwrap();
        let noexec = dir.join("noexec.sh");
        std::fs::write(&noexec, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&noexec, std::fs::Permissions::from_mode(0o644)).unwrap();
        let conf = |security: &str| {
            format!(
                "global_defs {{\n script_user root\n{security}}}\n\
                 virtual_server 192.0.2.1 80 {{\n protocol TCP\n\
                   real_server 10.0.0.1 80 {{\n  weight 3\n  MISC_CHECK {{\n   misc_path {insecure}\n  }}\n }}\n\
                   real_server 10.0.0.2 80 {{\n  TCP_CHECK {{\n  }}\n  MISC_CHECK {{\n   misc_path /nonexistent/check.sh\n  }}\n }}\n\
                   real_server 10.0.0.3 80 {{\n  MISC_CHECK {{\n   misc_path {noexec}\n  }}\n }}\n\
                   real_server 10.0.0.4 80 {{\n  MISC_CHECK {{\n   misc_path /bin/true\n   user no-such-user-lvsd\n  }}\n }}\n\
                 }}\n",
                insecure = insecure.display(),
                noexec = noexec.display(),
            )
        };
        // Without enable_script_security the insecure one runs (with a warning).
        let e = engine_config(&load(&conf("")));
        let m = misc_of(&e);
        assert_eq!((m[0].0, m[0].1.len()), (1, 1), "{m:?}");
        assert_eq!((m[1].0, m[1].1.len()), (1, 0), "missing: TCP_CHECK kept");
        assert_eq!((m[2].0, m[3].0), (0, 0), "not executable / unknown user");
        // With it, the insecure one is removed too.
        let e = engine_config(&load(&conf(" enable_script_security\n")));
        let m = misc_of(&e);
        assert_eq!(m[0].0, 0, "{m:?}");
        assert_eq!(m[1].0, 1);
        // A real server left without checkers is up: in the service with its weight.
        let key = e.virtual_servers[0].key.clone();
        let mut engine = chk::Engine::new(e, 1, std::time::Instant::now());
        while engine.poll_action().is_some() {}
        let published = engine.published(&key).unwrap();
        assert_eq!(published.get(&"10.0.0.1:80".parse().unwrap()), Some(&3));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
