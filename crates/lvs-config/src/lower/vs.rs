//! `virtual_server_group`, `virtual_server`, `real_server`, checkers.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use super::Lower;
use crate::model::*;
use crate::tree::Node;
use crate::values::*;
use crate::Severity;

/// VS-level settings real servers and checkers inherit.
#[derive(Clone)]
struct Inherit {
    port: u16,
    lb_kind: LbKind,
    fwmark: bool,
    delay_loop: Duration,
    connect_timeout: Duration,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    warmup: Option<Duration>,
    alpha: bool,
    inhibit_on_failure: bool,
    weight: u32,
    virtualhost: Option<String>,
}

const CHECKERS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

impl Lower<'_, '_> {
    pub(crate) fn virtual_server_group(&mut self, n: &Node<'_>) -> Option<VirtualServerGroup> {
        let name = self.block_name(n)?;
        let body = self.body(n)?;
        let mut g = VirtualServerGroup {
            name,
            entries: Vec::new(),
            span: n.span,
        };
        for e in body {
            if e.block.is_some() {
                self.no_block(e);
                continue;
            }
            let first = e.kw().text.as_str();
            if first == "fwmark" {
                let Some(m) = e.arg(0) else {
                    self.invalid(e, 0, "fwmark needs a number".into());
                    continue;
                };
                let Ok(mark) = parse_int(m, 1, i64::from(u32::MAX)) else {
                    self.invalid(e, 0, format!("invalid fwmark '{}'", m.escape_debug()));
                    continue;
                };
                let family = match e.arg(1) {
                    Some("inet") => Some(Family::Inet),
                    Some("inet6") => Some(Family::Inet6),
                    Some(_) => {
                        self.extra(e, 1);
                        None
                    }
                    None => None,
                };
                g.entries.push(VsgEntry::Fwmark {
                    fwmark: mark as u32,
                    family,
                    span: e.span,
                });
                continue;
            }
            let port = match e.arg(0) {
                Some(p) => match parse_port(p) {
                    Some(p) => p,
                    None => {
                        self.invalid(e, 0, format!("invalid port '{}'", p.escape_debug()));
                        continue;
                    }
                },
                None => 0,
            };
            self.extra(e, 1);
            match vsg_range(first) {
                Some((a, b)) => g.entries.push(VsgEntry::Range {
                    first: a,
                    last: b,
                    port,
                    span: e.span,
                }),
                None => {
                    let t = first.to_string();
                    self.push(
                        Severity::Error,
                        "invalid-address",
                        e.span,
                        Some(&t),
                        "not an address, range or subnet; ignored".into(),
                        None,
                    );
                }
            }
        }
        Some(g)
    }

    pub(crate) fn virtual_server(&mut self, n: &Node<'_>) -> Option<VirtualServer> {
        self.body(n)?;
        let address = match (n.arg(0), n.arg(1)) {
            (Some("fwmark"), Some(m)) => match parse_int(m, 1, i64::from(u32::MAX)) {
                Ok(v) => VsAddress::Fwmark { fwmark: v as u32 },
                Err(e) => {
                    self.invalid(n, 1, format!("fwmark: {e}; virtual_server ignored"));
                    return None;
                }
            },
            (Some("group"), Some(g)) => VsAddress::Group {
                group: g.to_string(),
            },
            (Some(ip), port) => {
                let Some(addr) = parse_ip(ip) else {
                    self.invalid(
                        n,
                        0,
                        format!(
                            "'{}' is not an IP address; virtual_server ignored",
                            ip.escape_debug()
                        ),
                    );
                    return None;
                };
                let port = match port {
                    Some(p) => match parse_port(p) {
                        Some(p) => p,
                        None => {
                            self.invalid(
                                n,
                                1,
                                format!(
                                    "invalid port '{}'; virtual_server ignored",
                                    p.escape_debug()
                                ),
                            );
                            return None;
                        }
                    },
                    None => 0,
                };
                VsAddress::Ip { ip: addr, port }
            }
            (None, _) => {
                self.err(
                    "missing-parameter",
                    n.span,
                    Some("virtual_server"),
                    "virtual_server needs 'IP PORT', 'fwmark N' or 'group NAME'; ignored".into(),
                    None,
                );
                return None;
            }
        };
        if n.args().len() > 2 {
            self.extra(n, 2);
        }
        let body = n.block.unwrap_or(&[]);
        let fwmark = matches!(address, VsAddress::Fwmark { .. });
        let mut v = VirtualServer {
            address,
            protocol: Protocol::Udp,
            lb_algo: LbAlgo::Wlc,
            lb_kind: LbKind::Nat,
            persistence_timeout: None,
            persistence_granularity: None,
            persistence_engine: None,
            flags: ServiceFlags::default(),
            ip_family: None,
            delay_loop: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            retry: None,
            delay_before_retry: None,
            warmup: None,
            weight: 1,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            alpha: false,
            omega: false,
            inhibit_on_failure: false,
            ha_suspend: false,
            virtualhost: None,
            smtp_alert: None,
            sorry_server: None,
            real_servers: Vec::new(),
            span: n.span,
        };
        let mut protocol_seen = false;
        let mut algo_seen: Option<u32> = None;
        let mut kind_seen = false;
        let mut hysteresis_node: Option<&Node<'_>> = None;
        let mut quorum_node: Option<&Node<'_>> = None;
        let mut sorry_inhibit = false;
        let mut sorry_kind: Option<LbKind> = None;
        for e in body {
            match e.name() {
                "real_server" => {}
                "lb_algo" | "lvs_sched" => {
                    if let Some(a) = self.string(e) {
                        match LbAlgo::from_name(&a) {
                            Some(x) => {
                                v.lb_algo = x;
                                algo_seen = Some(e.span.line);
                            }
                            None => self.invalid(
                                e,
                                0,
                                format!("unknown scheduler '{}'; ignored", a.escape_debug()),
                            ),
                        }
                    }
                }
                "lb_kind" | "lvs_method" => {
                    if let Some(k) = self.lb_kind(e) {
                        v.lb_kind = k;
                        kind_seen = true;
                    }
                }
                "protocol" => {
                    if let Some(p) = self.string(e) {
                        match p.to_ascii_uppercase().as_str() {
                            "TCP" => v.protocol = Protocol::Tcp,
                            "UDP" => v.protocol = Protocol::Udp,
                            "SCTP" => v.protocol = Protocol::Sctp,
                            _ => {
                                self.invalid(
                                    e,
                                    0,
                                    format!(
                                        "unknown protocol '{}' (TCP, UDP, SCTP)",
                                        p.escape_debug()
                                    ),
                                );
                                continue;
                            }
                        }
                        protocol_seen = true;
                    }
                }
                "persistence_timeout" => {
                    self.no_block(e);
                    match e.arg(0) {
                        None => {
                            v.persistence_timeout = Some(360);
                            self.note(
                                "persistence-default",
                                e,
                                "persistence_timeout has no value: keepalived silently uses 360 seconds".into(),
                                Some("write 'persistence_timeout 360' (or the value you mean) explicitly".into()),
                            );
                        }
                        Some(_) => {
                            if let Some(t) = self.u32_(e, 1, 2_678_400) {
                                v.persistence_timeout = Some(t);
                            }
                        }
                    }
                }
                "persistence_granularity" => {
                    if let Some(g) = self.string(e) {
                        if let Some(m) = parse_netmask(&g) {
                            v.persistence_granularity = Some(PersistenceGranularity::Netmask(m));
                        } else if let Ok(p) = parse_int(&g, 1, 128) {
                            v.persistence_granularity =
                                Some(PersistenceGranularity::PrefixLen(p as u8));
                        } else {
                            self.invalid(
                                e,
                                0,
                                format!("invalid persistence_granularity '{}'", g.escape_debug()),
                            );
                        }
                    }
                }
                "persistence_engine" => v.persistence_engine = self.string(e),
                "hashed" => v.flags.hashed = self.bare(e),
                "flag-1" => v.flags.flag_1 = self.bare(e),
                "flag-2" => v.flags.flag_2 = self.bare(e),
                "flag-3" => v.flags.flag_3 = self.bare(e),
                "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                    self.bare(e);
                    let want = if e.name().starts_with("sh") {
                        LbAlgo::Sh
                    } else {
                        LbAlgo::Mh
                    };
                    if algo_seen.is_none() || v.lb_algo != want {
                        self.invalid(
                            e,
                            0,
                            format!(
                                "{} only applies to the {} scheduler, which must be set before it; ignored",
                                e.name(),
                                want.as_str()
                            ),
                        );
                        continue;
                    }
                    match e.name() {
                        "sh-port" => v.flags.sh_port = true,
                        "sh-fallback" => v.flags.sh_fallback = true,
                        "mh-port" => v.flags.mh_port = true,
                        _ => v.flags.mh_fallback = true,
                    }
                }
                "ops" => v.flags.ops = self.bare(e),
                "ip_family" => match self.string(e).as_deref() {
                    Some("inet") => v.ip_family = Some(Family::Inet),
                    Some("inet6") => v.ip_family = Some(Family::Inet6),
                    Some(o) => {
                        let o = o.to_string();
                        self.invalid(e, 0, format!("unknown ip_family '{}'", o.escape_debug()))
                    }
                    None => {}
                },
                "delay_loop" => {
                    if let Some(d) = self.timer(e, 0.000001, 4294.967295) {
                        v.delay_loop = d;
                    }
                }
                "delay" => {
                    self.obsolete_note(e, "deprecated; use delay_loop");
                    if let Some(d) = self.timer(e, 0.000001, 4294.967295) {
                        v.delay_loop = d;
                    }
                }
                "connect_timeout" => {
                    if let Some(d) = self.timer(e, 0.000001, 4294.967295) {
                        v.connect_timeout = d;
                    }
                }
                "retry" => v.retry = self.u32_(e, 0, u32::MAX),
                "delay_before_retry" => v.delay_before_retry = self.timer(e, 0.0, 4294.967295),
                "warmup" => v.warmup = self.timer(e, 0.0, 4294.967295),
                "weight" => {
                    if let Some(w) = self.u32_(e, 0, i32::MAX as u32) {
                        v.weight = w;
                    }
                }
                "quorum" => {
                    quorum_node = Some(e);
                    if let Some(q) = self.u32_(e, 1, u32::MAX) {
                        v.quorum = q;
                    }
                }
                "hysteresis" => {
                    hysteresis_node = Some(e);
                    if let Some(h) = self.u32_(e, 0, u32::MAX) {
                        v.hysteresis = h;
                    }
                }
                "quorum_up" => v.quorum_up = self.script(e),
                "quorum_down" => v.quorum_down = self.script(e),
                "alpha" => v.alpha = self.flag(e),
                "omega" => v.omega = self.flag(e),
                "inhibit_on_failure" => v.inhibit_on_failure = self.flag(e),
                "ha_suspend" => {
                    v.ha_suspend = self.bare(e);
                    if fwmark {
                        self.invalid(
                            e,
                            0,
                            "ha_suspend is not allowed with fwmark services".into(),
                        );
                        v.ha_suspend = false;
                    }
                }
                "virtualhost" => v.virtualhost = self.string(e),
                "smtp_alert" => v.smtp_alert = Some(self.flag(e)),
                "sorry_server" => {
                    if let Some(ip) = self.arg1(e) {
                        match parse_ip(ip) {
                            Some(addr) => {
                                let port = e.arg(1).and_then(parse_port).unwrap_or(0);
                                self.extra(e, 2);
                                v.sorry_server = Some(SorryServer {
                                    ip: addr,
                                    port,
                                    inhibit: false,
                                    lb_kind: None,
                                    span: e.span,
                                });
                            }
                            None => self.invalid(
                                e,
                                0,
                                format!("'{}' is not an IP address", ip.escape_debug()),
                            ),
                        }
                    }
                }
                "sorry_server_inhibit" => sorry_inhibit = self.flag(e),
                "sorry_server_lvs_method" => sorry_kind = self.lb_kind(e),
                "snmp_name" => {
                    self.string(e);
                }
                kw if CHECKERS.contains(&kw) => {
                    let k = kw.to_string();
                    self.push(
                        Severity::Error,
                        "misplaced-checker",
                        e.span,
                        Some(&k),
                        "a checker belongs inside a real_server block; ignored here".into(),
                        None,
                    );
                }
                _ => self.unknown(e, "virtual_server"),
            }
        }
        if let Some(s) = &mut v.sorry_server {
            s.inhibit = sorry_inhibit;
            s.lb_kind = sorry_kind;
        }
        if v.persistence_granularity.is_some() && v.persistence_timeout.is_none() {
            v.persistence_timeout = Some(360);
            self.push(
                Severity::Note,
                "persistence-default",
                n.span,
                Some("persistence_granularity"),
                "persistence_granularity without persistence_timeout: keepalived makes the service persistent with 360 seconds".into(),
                None,
            );
        }
        if !protocol_seen && !fwmark {
            self.push(
                Severity::Error,
                "no-protocol",
                n.span,
                Some("virtual_server"),
                "no protocol set: keepalived defaults to UDP".into(),
                Some("add 'protocol TCP' (or UDP/SCTP)".into()),
            );
        }
        if algo_seen.is_none() {
            self.push(
                Severity::Warning,
                "no-scheduler",
                n.span,
                Some("virtual_server"),
                "no lb_algo set: keepalived uses wlc".into(),
                None,
            );
        }
        if !kind_seen {
            self.push(
                Severity::Warning,
                "no-lb-kind",
                n.span,
                Some("virtual_server"),
                "no lb_kind set: keepalived uses NAT".into(),
                None,
            );
        }
        if v.flags.ops && v.protocol != Protocol::Udp && !fwmark {
            self.push(
                Severity::Warning,
                "ops-udp",
                n.span,
                Some("ops"),
                "ops (one-packet scheduling) only applies to UDP; ignored".into(),
                None,
            );
            v.flags.ops = false;
        }
        if v.port() == 0
            && !fwmark
            && v.persistence_timeout.is_none()
            && matches!(v.address, VsAddress::Ip { .. })
        {
            self.push(
                Severity::Error,
                "port0-persistence",
                n.span,
                Some("virtual_server"),
                "a virtual server on port 0 must be persistent: keepalived forces persistence_timeout 360".into(),
                None,
            );
            v.persistence_timeout = Some(360);
        }
        let inh = Inherit {
            port: v.port(),
            lb_kind: v.lb_kind,
            fwmark,
            delay_loop: v.delay_loop,
            connect_timeout: v.connect_timeout,
            retry: v.retry,
            delay_before_retry: v.delay_before_retry,
            warmup: v.warmup,
            alpha: v.alpha,
            inhibit_on_failure: v.inhibit_on_failure,
            weight: v.weight,
            virtualhost: v.virtualhost.clone(),
        };
        let rss = body.iter().filter(|e| e.name() == "real_server");
        v.real_servers.reserve_exact(rss.clone().count());
        // Duplicates: a scan while the list is short, a set of the kept
        // servers' addresses beyond (a farm of thousands stays linear).
        let mut kept: Option<HashSet<(IpAddr, u16)>> = None;
        for e in rss {
            if let Some(rs) = self.real_server(e, &inh) {
                let dup = if kept.is_none() && v.real_servers.len() < 32 {
                    v.real_servers
                        .iter()
                        .any(|r| r.ip == rs.ip && r.port == rs.port)
                } else {
                    !kept
                        .get_or_insert_with(|| {
                            v.real_servers.iter().map(|r| (r.ip, r.port)).collect()
                        })
                        .insert((rs.ip, rs.port))
                };
                if dup {
                    self.push(
                        Severity::Warning,
                        "duplicate-rs",
                        e.span,
                        Some("real_server"),
                        format!(
                            "real_server {} port {} is duplicated; the second one is removed",
                            rs.ip, rs.port
                        ),
                        None,
                    );
                    continue;
                }
                v.real_servers.push(rs);
            }
        }
        let wsum: u64 = v.real_servers.iter().map(|r| u64::from(r.weight)).sum();
        if let Some(q) = quorum_node {
            if u64::from(v.quorum) > wsum && !v.real_servers.is_empty() {
                self.push(
                    Severity::Warning,
                    "quorum",
                    q.span,
                    Some("quorum"),
                    format!(
                        "quorum {} is above the sum of real server weights ({wsum}); keepalived lowers it to {wsum}",
                        v.quorum
                    ),
                    None,
                );
                v.quorum = wsum.max(1) as u32;
            }
        }
        if v.hysteresis >= v.quorum && v.hysteresis > 0 {
            if let Some(h) = hysteresis_node {
                self.push(
                    Severity::Warning,
                    "hysteresis",
                    h.span,
                    Some("hysteresis"),
                    format!(
                        "hysteresis {} must be below quorum {}; keepalived lowers it to {}",
                        v.hysteresis,
                        v.quorum,
                        v.quorum - 1
                    ),
                    None,
                );
            }
            v.hysteresis = v.quorum - 1;
        }
        Some(v)
    }

    fn lb_kind(&mut self, e: &Node<'_>) -> Option<LbKind> {
        let k = self.arg1(e)?.to_string();
        match k.as_str() {
            "NAT" => {
                self.extra(e, 1);
                Some(LbKind::Nat)
            }
            "DR" => {
                self.extra(e, 1);
                Some(LbKind::Dr)
            }
            "TUN" => {
                let mut tun_type = TunType::Ipip;
                let mut csum = None;
                let mut i = 1;
                while i < e.args().len() {
                    match e.args()[i].text.as_str() {
                        "type" => {
                            match e.arg(i + 1) {
                                Some("ipip") => tun_type = TunType::Ipip,
                                Some("gre") => tun_type = TunType::Gre,
                                Some("gue") => {
                                    if e.arg(i + 2) == Some("port") {
                                        match e.arg(i + 3).and_then(parse_port) {
                                            Some(p) => tun_type = TunType::Gue { port: p },
                                            None => {
                                                self.invalid(e, i + 3, "gue needs 'port N'".into())
                                            }
                                        }
                                        i += 2;
                                    } else {
                                        self.invalid(e, i + 1, "gue needs 'port N'".into());
                                    }
                                }
                                _ => self.invalid(
                                    e,
                                    i + 1,
                                    "tunnel type must be ipip, gue or gre".into(),
                                ),
                            }
                            i += 2;
                        }
                        "nocsum" => {
                            csum = Some(TunCsum::Nocsum);
                            i += 1;
                        }
                        "csum" => {
                            csum = Some(TunCsum::Csum);
                            i += 1;
                        }
                        "remcsum" => {
                            csum = Some(TunCsum::Remcsum);
                            i += 1;
                        }
                        _ => {
                            self.extra(e, i);
                            break;
                        }
                    }
                }
                Some(LbKind::Tun { tun_type, csum })
            }
            other => {
                let hint = match other.to_ascii_uppercase().as_str() {
                    "NAT" | "DR" | "TUN" => Some(format!(
                        "write '{}' in capitals",
                        other.to_ascii_uppercase()
                    )),
                    "FNAT" => Some(
                        "FNAT exists only in Alibaba's LVS fork (DPVS), not in the Linux kernel"
                            .into(),
                    ),
                    _ => None,
                };
                let kw = e.kw().text.to_string();
                self.push(
                    Severity::Error,
                    "invalid-value",
                    e.arg_span(0),
                    Some(&kw),
                    format!(
                        "unknown forwarding method '{}' (NAT, DR, TUN); ignored",
                        other.escape_debug()
                    ),
                    hint,
                );
                None
            }
        }
    }

    fn real_server(&mut self, n: &Node<'_>, inh: &Inherit) -> Option<RealServer> {
        let ip_text = n.arg(0);
        let Some(ip) = ip_text.and_then(parse_ip) else {
            match ip_text {
                Some(t) => {
                    let t = t.to_string();
                    self.invalid(
                        n,
                        0,
                        format!(
                            "'{}' is not an IP address; real_server ignored",
                            t.escape_debug()
                        ),
                    )
                }
                None => self.err(
                    "missing-parameter",
                    n.span,
                    Some("real_server"),
                    "real_server needs an address; ignored".into(),
                    None,
                ),
            }
            return None;
        };
        let mut port = match n.arg(1) {
            Some(p) => match parse_port(p) {
                Some(p) => p,
                None => {
                    self.invalid(
                        n,
                        1,
                        format!("invalid port '{}'; real_server ignored", p.escape_debug()),
                    );
                    return None;
                }
            },
            None => inh.port,
        };
        self.extra(n, 2);
        let body = self.body(n).unwrap_or(&[]);
        let mut rs = RealServer {
            ip,
            port,
            weight: inh.weight,
            lb_kind: None,
            uthreshold: 0,
            lthreshold: 0,
            inhibit_on_failure: inh.inhibit_on_failure,
            alpha: inh.alpha,
            notify_up: None,
            notify_down: None,
            smtp_alert: None,
            virtualhost: inh.virtualhost.clone(),
            checkers: Vec::new(),
            span: n.span,
        };
        let mut rinh = inh.clone();
        let mut n_checkers = 0;
        for e in body {
            match e.name() {
                "weight" => {
                    if let Some(w) = self.u32_(e, 0, i32::MAX as u32) {
                        rs.weight = w;
                    }
                }
                "lvs_method" | "lb_kind" => rs.lb_kind = self.lb_kind(e),
                "uthreshold" => rs.uthreshold = self.u32_(e, 0, u32::MAX).unwrap_or(0),
                "lthreshold" => rs.lthreshold = self.u32_(e, 0, u32::MAX).unwrap_or(0),
                "inhibit_on_failure" => {
                    rs.inhibit_on_failure = self.flag(e);
                }
                "alpha" => {
                    rs.alpha = self.flag(e);
                    rinh.alpha = rs.alpha;
                }
                "notify_up" => rs.notify_up = self.script(e),
                "notify_down" => rs.notify_down = self.script(e),
                "smtp_alert" => rs.smtp_alert = Some(self.flag(e)),
                "virtualhost" => {
                    rs.virtualhost = self.string(e);
                    rinh.virtualhost = rs.virtualhost.clone();
                }
                "connect_timeout" => {
                    if let Some(d) = self.timer(e, 0.000001, 4294.967295) {
                        rinh.connect_timeout = d;
                    }
                }
                "retry" => {
                    if let Some(r) = self.u32_(e, 0, u32::MAX) {
                        rinh.retry = Some(r);
                    }
                }
                "delay_before_retry" => {
                    if let Some(d) = self.timer(e, 0.0, 4294.967295) {
                        rinh.delay_before_retry = Some(d);
                    }
                }
                "warmup" => {
                    if let Some(d) = self.timer(e, 0.0, 4294.967295) {
                        rinh.warmup = Some(d);
                    }
                }
                "delay_loop" => {
                    if let Some(d) = self.timer(e, 0.000001, 4294.967295) {
                        rinh.delay_loop = d;
                    }
                }
                "snmp_name" => {
                    self.string(e);
                }
                kw if CHECKERS.contains(&kw) => n_checkers += 1,
                _ => self.unknown(e, "real_server"),
            }
        }
        let kind = rs.lb_kind.unwrap_or(inh.lb_kind);
        if !matches!(kind, LbKind::Nat) && port != inh.port && !inh.fwmark && n.arg(1).is_some() {
            self.push(
                Severity::Warning,
                "rs-port",
                n.arg_span(1),
                Some("real_server"),
                format!(
                    "DR/TUN cannot change the port: keepalived resets real server port {port} to the virtual server port {}",
                    inh.port
                ),
                None,
            );
            port = inh.port;
            rs.port = port;
        }
        if inh.fwmark && !matches!(kind, LbKind::Nat) {
            rs.port = 0;
        }
        // Exact capacity: a Vec grows to 4 elements at its first push; most
        // real servers have one checker, and a checker is a few hundred
        // bytes (shrunk again if some checker was dropped).
        rs.checkers.reserve_exact(n_checkers);
        for e in body.iter().filter(|e| CHECKERS.contains(&e.name())) {
            if let Some(c) = self.checker(e, &rs, &rinh) {
                rs.checkers.push(c);
            }
        }
        rs.checkers.shrink_to_fit();
        Some(rs)
    }

    fn checker(&mut self, n: &Node<'_>, rs: &RealServer, inh: &Inherit) -> Option<Checker> {
        let kind = n.name();
        let body = self.body(n)?;
        let (def_retry, def_dbr) = match kind {
            "HTTP_GET" | "SSL_GET" => (1, Duration::from_secs(3)),
            "MISC_CHECK" => (0, Duration::from_secs(1)),
            "DNS_CHECK" => (3, inh.delay_loop),
            _ => (1, Duration::from_secs(1)),
        };
        let mut c = CheckCommon {
            connect_ip: rs.ip,
            connect_port: rs.port,
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            connect_timeout: inh.connect_timeout,
            retry: inh.retry.unwrap_or(def_retry),
            delay_before_retry: inh.delay_before_retry.unwrap_or(def_dbr),
            warmup: Duration::ZERO,
            delay_loop: inh.delay_loop,
            alpha: inh.alpha,
            log_all_failures: false,
        };
        let mut warmup = inh.warmup;
        let mut http = HttpCheck {
            common: c.clone(),
            urls: Vec::new(),
            http_protocol: HttpProtocol::Http10,
            virtualhost: inh.virtualhost.clone(),
            fast_recovery: false,
            enable_sni: false,
            sni_name: None,
            tls_compliant: false,
            span: n.span,
        };
        let mut misc_path = None;
        let mut misc_timeout = None;
        let mut misc_dynamic = false;
        let mut user = None;
        let mut helo = None;
        let mut dns_type = DnsType::Soa;
        let mut dns_name: Option<String> = None;
        let mut payload = None;
        let mut require_reply = None;
        let mut min_len = 0;
        let mut max_len = 255;
        let mut track_file = None;
        let mut fweight = None;
        let mut freverse = false;
        let mut fdynamic = false;
        let mut bfd_name = None;
        let is_http = kind == "HTTP_GET" || kind == "SSL_GET";
        for e in body {
            let kw = e.name();
            match kw {
                "connect_ip" => {
                    if let Some(ip) = self.ip(e) {
                        c.connect_ip = ip;
                    }
                }
                "connect_port" => {
                    if let Some(p) = self.int(e, 0, 65535) {
                        c.connect_port = p as u16;
                    }
                }
                "bindto" => c.bindto = self.ip(e),
                "bind_port" => c.bind_port = self.int(e, 0, 65535).map(|p| p as u16),
                "bind_if" => c.bind_if = self.string(e),
                "fwmark" => c.fwmark = self.u32_(e, 0, u32::MAX),
                "connect_timeout" => {
                    if let Some(d) = self.timer(e, 0.000001, 4294.967295) {
                        c.connect_timeout = d;
                    }
                }
                "retry" => {
                    if let Some(r) = self.u32_(e, 0, u32::MAX) {
                        c.retry = r;
                    }
                }
                "nb_get_retry" => {
                    self.obsolete_note(
                        e,
                        "nb_get_retry is deprecated; use 'retry' (the value is still applied)",
                    );
                    if let Some(r) = e.arg(0).and_then(|a| a.parse().ok()) {
                        c.retry = r;
                    }
                }
                "delay_before_retry" => {
                    if let Some(d) = self.timer(e, 0.0, 4294.967295) {
                        c.delay_before_retry = d;
                    }
                }
                "warmup" => warmup = self.timer(e, 0.0, 4294.967295),
                "delay_loop" => {
                    if let Some(d) = self.timer(e, 0.000001, 4294.967295) {
                        c.delay_loop = d;
                    }
                }
                "alpha" => c.alpha = self.flag(e),
                "log_all_failures" => c.log_all_failures = self.flag(e),
                "url" if is_http => {
                    if let Some(u) = self.url(e) {
                        http.urls.push(u);
                    }
                }
                "http_protocol" if is_http => match self.string(e).as_deref() {
                    Some("1.0") => http.http_protocol = HttpProtocol::Http10,
                    Some("1.0C") | Some("1.0c") => http.http_protocol = HttpProtocol::Http10C,
                    Some("1.1") => http.http_protocol = HttpProtocol::Http11,
                    Some(o) => {
                        let o = o.to_string();
                        self.invalid(
                            e,
                            0,
                            format!(
                                "http_protocol must be 1.0, 1.0C or 1.1, not '{}'",
                                o.escape_debug()
                            ),
                        )
                    }
                    None => {}
                },
                "virtualhost" if is_http => http.virtualhost = self.string(e),
                "fast_recovery" if is_http => http.fast_recovery = self.flag(e),
                "enable_sni" if kind == "SSL_GET" => http.enable_sni = self.flag(e),
                "sni_name" if kind == "SSL_GET" => http.sni_name = self.string(e),
                "tls_compliant" if kind == "SSL_GET" => http.tls_compliant = self.flag(e),
                "misc_path" if kind == "MISC_CHECK" => misc_path = self.script(e),
                "misc_timeout" if kind == "MISC_CHECK" => {
                    misc_timeout = self.timer(e, 0.000001, 4294.967295)
                }
                "misc_dynamic" if kind == "MISC_CHECK" => misc_dynamic = self.flag(e),
                "user" if kind == "MISC_CHECK" => user = self.user(e),
                "helo_name" if kind == "SMTP_CHECK" => helo = self.string(e),
                "host" if kind == "SMTP_CHECK" => {
                    self.obsolete_note(e, "the SMTP_CHECK host {} sub-block is deprecated; use one SMTP_CHECK per host with connect_ip");
                    if let Some(b) = &e.block {
                        for h in *b {
                            if h.name() == "connect_ip" {
                                if let Some(ip) = h.arg(0).and_then(parse_ip) {
                                    c.connect_ip = ip;
                                }
                            } else if h.name() == "connect_port" {
                                if let Some(p) = h.arg(0).and_then(parse_port) {
                                    c.connect_port = p;
                                }
                            }
                        }
                    }
                }
                "type" if kind == "DNS_CHECK" => {
                    match self.string(e).map(|s| s.to_ascii_uppercase()).as_deref() {
                        Some("A") => dns_type = DnsType::A,
                        Some("NS") => dns_type = DnsType::Ns,
                        Some("CNAME") => dns_type = DnsType::Cname,
                        Some("SOA") => dns_type = DnsType::Soa,
                        Some("MX") => dns_type = DnsType::Mx,
                        Some("TXT") => dns_type = DnsType::Txt,
                        Some("AAAA") => dns_type = DnsType::Aaaa,
                        Some(o) => {
                            let o = o.to_string();
                            self.invalid(e, 0, format!("unknown DNS type '{}'", o.escape_debug()))
                        }
                        None => {}
                    }
                }
                "name" if kind == "DNS_CHECK" => {
                    if let Some(s) = self.string(e) {
                        dns_name = Some(s);
                    }
                }
                "payload" if kind == "UDP_CHECK" => {
                    if let Some(s) = self.string(e) {
                        match parse_hex(&s) {
                            Some(b) => payload = Some(b),
                            None => self.invalid(e, 0, "payload must be hex digits".into()),
                        }
                    }
                }
                "require_reply" if kind == "UDP_CHECK" => {
                    require_reply =
                        Some(e.args().iter().map(|w| w.text.as_str()).collect::<String>())
                }
                "min_reply_length" if kind == "UDP_CHECK" => {
                    min_len = self.u32_(e, 0, 65535).unwrap_or(0)
                }
                "max_reply_length" if kind == "UDP_CHECK" => {
                    max_len = self.u32_(e, 0, 65535).unwrap_or(255)
                }
                "track_file" if kind == "FILE_CHECK" => track_file = self.string(e),
                "weight" if kind == "FILE_CHECK" => {
                    if let Some(w) = self.arg1(e) {
                        match parse_int(w, -254, 254) {
                            Ok(w) => fweight = Some(w as i32),
                            Err(m) => self.invalid(e, 0, m),
                        }
                        freverse = e.arg(1) == Some("reverse");
                    }
                }
                "dynamic" if kind == "FILE_CHECK" => fdynamic = self.flag(e),
                "name" if kind == "BFD_CHECK" => bfd_name = self.string(e),
                _ => self.unknown(e, kind),
            }
        }
        c.warmup = warmup.unwrap_or(c.delay_loop);
        let span = n.span;
        Some(match kind {
            "TCP_CHECK" => Checker::TcpCheck(TcpCheck { common: c, span }),
            "HTTP_GET" | "SSL_GET" => {
                if http.urls.is_empty() {
                    self.push(
                        Severity::Error,
                        "http-no-url",
                        span,
                        Some(kind),
                        format!("{kind} has no url: keepalived ignores this checker (and 2.2.7's -t crashes on it)"),
                        Some("add url { path / } (and status_code or digest)".into()),
                    );
                    return None;
                }
                http.common = c;
                if kind == "HTTP_GET" {
                    Checker::HttpGet(http)
                } else {
                    Checker::SslGet(http)
                }
            }
            "MISC_CHECK" => {
                if misc_path.is_none() {
                    self.push(
                        Severity::Error,
                        "misc-no-path",
                        span,
                        Some("MISC_CHECK"),
                        "MISC_CHECK has no misc_path; ignored".into(),
                        None,
                    );
                    return None;
                }
                Checker::MiscCheck(MiscCheck {
                    misc_timeout: misc_timeout.unwrap_or(c.delay_loop),
                    common: c,
                    misc_path,
                    misc_dynamic,
                    user,
                    span,
                })
            }
            "SMTP_CHECK" => Checker::SmtpCheck(SmtpCheck {
                common: c,
                helo_name: helo,
                span,
            }),
            "DNS_CHECK" => Checker::DnsCheck(DnsCheck {
                common: c,
                qtype: dns_type,
                name: dns_name.unwrap_or_else(|| ".".to_string()),
                span,
            }),
            "UDP_CHECK" => Checker::UdpCheck(UdpCheck {
                common: c,
                payload,
                require_reply,
                min_reply_length: min_len,
                max_reply_length: max_len,
                span,
            }),
            "PING_CHECK" => Checker::PingCheck(PingCheck { common: c, span }),
            "FILE_CHECK" => {
                let Some(track_file) = track_file else {
                    self.push(
                        Severity::Error,
                        "file-check",
                        span,
                        Some("FILE_CHECK"),
                        "FILE_CHECK has no track_file; ignored".into(),
                        None,
                    );
                    return None;
                };
                Checker::FileCheck(FileCheck {
                    track_file,
                    weight: fweight,
                    reverse: freverse,
                    dynamic: fdynamic,
                    span,
                })
            }
            _ => Checker::BfdCheck(BfdCheck {
                name: bfd_name.unwrap_or_default(),
                alpha: c.alpha,
                span,
            }),
        })
    }

    fn url(&mut self, n: &Node<'_>) -> Option<Url> {
        let body = self.body(n)?;
        let mut u = Url {
            path: String::new(),
            digest: None,
            status_code: Vec::new(),
            virtualhost: None,
            regex: None,
            regex_no_match: false,
            span: n.span,
        };
        let mut have_path = false;
        for e in body {
            match e.name() {
                "path" => {
                    if let Some(p) = self.string(e) {
                        u.path = p;
                        have_path = true;
                    }
                }
                "digest" => {
                    if let Some(d) = self.string(e) {
                        if d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()) {
                            u.digest = Some(d.to_ascii_lowercase());
                        } else {
                            self.invalid(e, 0, "digest must be 32 hex digits (an MD5 sum)".into());
                        }
                    }
                }
                "status_code" => {
                    self.no_block(e);
                    for (i, w) in e.args().iter().enumerate() {
                        let (a, b) = w.text.split_once('-').unwrap_or((&w.text, &w.text));
                        match (parse_int(a, 100, 999), parse_int(b, 100, 999)) {
                            (Ok(a), Ok(b)) if a <= b => u.status_code.push(StatusRange {
                                min: a as u16,
                                max: b as u16,
                            }),
                            _ => {
                                let t = w.text.to_string();
                                self.invalid(
                                    e,
                                    i,
                                    format!("invalid status code '{}'", t.escape_debug()),
                                )
                            }
                        }
                    }
                    if e.args().is_empty() {
                        self.arg1(e);
                    }
                }
                "virtualhost" => u.virtualhost = self.string(e),
                "regex" => u.regex = self.string(e),
                "regex_no_match" => u.regex_no_match = self.flag(e),
                "regex_options" | "regex_stack" | "regex_min_offset" | "regex_max_offset" => {}
                _ => self.unknown(e, "url"),
            }
        }
        if !have_path {
            self.push(
                Severity::Error,
                "url-no-path",
                n.span,
                Some("url"),
                "url without path; keepalived drops it".into(),
                None,
            );
            return None;
        }
        if u.status_code.is_empty() && u.digest.is_none() {
            u.status_code.push(StatusRange { min: 200, max: 299 });
        }
        Some(u)
    }
}

/// `a.b.c.d`, `a.b.c.d-e`, `a.b.c.d-w.x.y.z`, `addr/nn` → (first, last).
fn vsg_range(s: &str) -> Option<(IpAddr, IpAddr)> {
    if let Some((a, p)) = s.split_once('/') {
        let ip = parse_ip(a)?;
        let p: u32 = p.parse().ok()?;
        return match ip {
            IpAddr::V4(v4) if p <= 32 => {
                let x = u32::from(v4);
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                Some((
                    IpAddr::V4((x & mask).into()),
                    IpAddr::V4((x | !mask).into()),
                ))
            }
            IpAddr::V6(v6) if p <= 128 => {
                let x = u128::from(v6);
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                Some((
                    IpAddr::V6((x & mask).into()),
                    IpAddr::V6((x | !mask).into()),
                ))
            }
            _ => None,
        };
    }
    if let Some(ip) = parse_ip(s) {
        return Some((ip, ip));
    }
    let (a, b) = s.rsplit_once('-')?;
    let first = parse_ip(a)?;
    if let Some(last) = parse_ip(b) {
        return (first.is_ipv4() == last.is_ipv4() && last >= first).then_some((first, last));
    }
    match first {
        IpAddr::V4(v4) => {
            let e: u8 = b.parse().ok()?;
            let o = v4.octets();
            (e >= o[3]).then(|| (first, IpAddr::V4([o[0], o[1], o[2], e].into())))
        }
        IpAddr::V6(v6) => {
            let e = u16::from_str_radix(b, 16).ok()?;
            let mut s = v6.segments();
            (e >= s[7]).then(|| {
                s[7] = e;
                (first, IpAddr::V6(s.into()))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    /// Duplicate real servers are dropped with a warning, whether the list
    /// is still scanned (short) or already kept in a set (long).
    #[test]
    fn duplicate_real_servers_short_and_long() {
        // Real server k has address 10.1.0.(pick(k)); 5, 35 and 38 repeat
        // earlier ones (38 one that came after the list grew past 32).
        let pick = |k: usize| match k {
            5 => 2,
            35 => 3,
            38 => 36,
            k => k,
        };
        let mut text = String::from("virtual_server 10.0.0.1 80 {\n");
        for k in 0..40 {
            text.push_str(&format!("real_server 10.1.0.{} 80\n", pick(k)));
        }
        text.push_str("}\n");
        let l = crate::parse_str("k.conf", &text);
        let kept: Vec<String> = l.config.virtual_servers[0]
            .real_servers
            .iter()
            .map(|r| r.ip.to_string())
            .collect();
        let want: Vec<String> = (0..40)
            .filter(|k| ![5, 35, 38].contains(k))
            .map(|k| format!("10.1.0.{k}"))
            .collect();
        assert_eq!(kept, want);
        let dups: Vec<u32> = l
            .diagnostics
            .iter()
            .filter(|d| d.code == "duplicate-rs")
            .map(|d| d.line)
            .collect();
        assert_eq!(dups, [7, 37, 40]);
    }
}
