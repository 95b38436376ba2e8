//! Lints keepalived does not give (issue 2, lints a–f).
//!
//! - a: empty `persistence_timeout` (emitted by lowering, where it is seen);
//! - b: persistence shorter than connection timeouts ([`single`]);
//! - c: config file modes (emitted by the reader);
//! - d: unknown-block cascade (`cascade` + lowering);
//! - e: state spelling, `//` comments, `vrrp_strict` without `accept`,
//!   untracked `vrrp_script`, `HTTP_GET` without `url` (lowering and [`single`]);
//! - f: several files at once ([`cross_check`]).

use std::collections::{BTreeSet, HashMap};

use crate::diag::{Diagnostic, Severity};
use crate::model::*;
use crate::{Loaded, Sink};

/// A template that expires while it still controls connection entries is
/// re-armed for this long (kernel `ip_vs_conn_expire`, `expire_later`).
pub const TEMPLATE_REARM_SECS: u32 = 60;

/// Worst-case stickiness of a persistent service, in seconds after a
/// client's last packet: the template lives `persistence_timeout`, but while
/// any connection entry it controls lives (up to the connection timeout) it
/// is re-armed for 60 s, so it can outlive the last entry by up to 60 s.
pub fn worst_case_stickiness(persistence_timeout: u32, connection_timeout: u32) -> u32 {
    if persistence_timeout < connection_timeout {
        connection_timeout.saturating_add(TEMPLATE_REARM_SECS)
    } else {
        persistence_timeout
    }
}

/// Single-configuration lints (b, e and consistency checks).
pub(crate) fn single(cfg: &Config, sink: &mut Sink) {
    persistence_vs_timeouts(cfg, sink);
    strict_accept(cfg, sink);
    scripts_tracked(cfg, sink);
    duplicate_vrid(cfg, sink);
}

/// Lint b.
fn persistence_vs_timeouts(cfg: &Config, sink: &mut Sink) {
    let t = cfg.global_defs.lvs_timeouts;
    let (tcp, tcp_src) = match t.and_then(|t| t.tcp) {
        Some(v) => (v, "lvs_timeouts tcp"),
        None => (
            LvsTimeouts::KERNEL_TCP,
            "kernel default; lvs_timeouts tcp not set",
        ),
    };
    let (fin, fin_src) = match t.and_then(|t| t.tcpfin) {
        Some(v) => (v, "lvs_timeouts tcpfin"),
        None => (
            LvsTimeouts::KERNEL_TCPFIN,
            "kernel default; lvs_timeouts tcpfin not set",
        ),
    };
    let (udp, udp_src) = match t.and_then(|t| t.udp) {
        Some(v) => (v, "lvs_timeouts udp"),
        None => (
            LvsTimeouts::KERNEL_UDP,
            "kernel default; lvs_timeouts udp not set",
        ),
    };
    for vs in &cfg.virtual_servers {
        let Some(p) = vs.persistence_timeout else {
            continue;
        };
        let fwmark = matches!(vs.address, VsAddress::Fwmark { .. });
        let tcp_like = fwmark || matches!(vs.protocol, Protocol::Tcp | Protocol::Sctp);
        let udp_like = fwmark || vs.protocol == Protocol::Udp;
        let mut parts = Vec::new();
        let mut worst = p;
        if tcp_like && (p < tcp || p < fin) {
            parts.push(format!(
                "ESTABLISHED entries live up to {tcp} s ({tcp_src}) and FIN_WAIT entries up to {fin} s ({fin_src}) after the last packet"
            ));
            worst = worst.max(worst_case_stickiness(p, tcp.max(fin)));
        }
        if udp_like && p < udp {
            parts.push(format!("UDP entries live up to {udp} s ({udp_src})"));
            worst = worst.max(worst_case_stickiness(p, udp));
        }
        if parts.is_empty() {
            continue;
        }
        sink.push(
            Severity::Warning,
            "persistence-shorter-than-timeouts",
            Some(vs.span),
            Some("persistence_timeout"),
            format!(
                "persistence_timeout {p} s is shorter than the connection timeouts: a client stays on its real server while any of its connection entries lives — {}; a template that expires while it still controls entries is re-armed for {TEMPLATE_REARM_SECS} s, so a client can stay on the same real server for up to {worst} s after its last packet, not {p} s",
                parts.join("; ")
            ),
            Some({
                let mut t = Vec::new();
                if tcp_like {
                    t.push(format!("tcp {} tcpfin {}", tcp.min(p), fin.min(p)));
                }
                if udp_like {
                    t.push(format!("udp {}", udp.min(p)));
                }
                format!(
                    "set persistence_timeout to at least the connection timeouts, or lower them with 'lvs_timeouts {}' in global_defs",
                    t.join(" ")
                )
            }),
        );
    }
}

/// Lint e: `vrrp_strict` without `accept` on a non-owner.
fn strict_accept(cfg: &Config, sink: &mut Sink) {
    for v in &cfg.vrrp_instances {
        let strict = v.strict_mode.unwrap_or(cfg.global_defs.vrrp_strict);
        if strict && v.priority < 255 && v.accept != Some(true) {
            sink.push(
                Severity::Warning,
                "strict-no-accept",
                Some(v.span),
                Some("vrrp_strict"),
                format!(
                    "vrrp_strict without 'accept' on vrrp_instance {} (priority {} < 255, not the address owner): keepalived installs firewall rules dropping all traffic to the VIPs when this node becomes MASTER",
                    v.name, v.priority
                ),
                Some("add 'accept' to the instance, or remove vrrp_strict".into()),
            );
        }
    }
}

/// Lint e: a `vrrp_script` nobody tracks is never run; a tracked script that
/// does not exist is ignored.
fn scripts_tracked(cfg: &Config, sink: &mut Sink) {
    let mut tracked: BTreeSet<&str> = BTreeSet::new();
    let refs = cfg
        .vrrp_instances
        .iter()
        .flat_map(|v| v.track_script.iter())
        .chain(
            cfg.vrrp_sync_groups
                .iter()
                .flat_map(|g| g.track_script.iter()),
        );
    for t in refs {
        tracked.insert(&t.name);
        if !cfg.vrrp_scripts.iter().any(|s| s.name == t.name) {
            sink.push(
                Severity::Warning,
                "track-script-missing",
                Some(t.span),
                Some("track_script"),
                format!(
                    "track_script {}: no vrrp_script of that name; ignored",
                    t.name
                ),
                None,
            );
        }
    }
    for s in &cfg.vrrp_scripts {
        if !tracked.contains(s.name.as_str()) {
            sink.push(
                Severity::Warning,
                "script-untracked",
                Some(s.span),
                Some("vrrp_script"),
                format!(
                    "vrrp_script {} is not tracked by any vrrp_instance or vrrp_sync_group: keepalived never runs it",
                    s.name
                ),
                Some(format!("add it to a track_script {{ {} }} block", s.name)),
            );
        }
    }
}

/// keepalived: two instances with the same VRID, family and interface.
fn duplicate_vrid(cfg: &Config, sink: &mut Sink) {
    let mut first: std::collections::HashMap<_, &VrrpInstance> = std::collections::HashMap::new();
    for a in &cfg.vrrp_instances {
        if !a.unicast_peer.is_empty() {
            continue;
        }
        let key = (
            a.virtual_router_id,
            a.interface.as_deref(),
            family(a),
            a.mcast_dst_ip,
        );
        let Some(b) = first.get(&key).copied() else {
            first.insert(key, a);
            continue;
        };
        sink.push(
            Severity::Error,
            "duplicate-vrid",
            Some(a.span),
            Some("virtual_router_id"),
            format!(
                "{} and {} both use VRID {} with {} on interface {}",
                b.name,
                a.name,
                a.virtual_router_id,
                if family(a) { "IPv6" } else { "IPv4" },
                a.interface.as_deref().unwrap_or("(default)")
            ),
            None,
        );
    }
}

fn family(v: &VrrpInstance) -> bool {
    v.virtual_ipaddress
        .first()
        .is_some_and(|a| a.addr.is_ipv6())
}

fn vs_key(v: &VirtualServer) -> String {
    let a = match &v.address {
        VsAddress::Ip { ip, port } => format!("{ip} {port}"),
        VsAddress::Fwmark { fwmark } => format!("fwmark {fwmark}"),
        VsAddress::Group { group } => format!("group {group}"),
    };
    if matches!(v.address, VsAddress::Fwmark { .. }) {
        a
    } else {
        format!("{a} {:?}", v.protocol).to_uppercase()
    }
}

/// Lint f: cross-check the configurations of a director pair (or more).
///
/// For instances sharing a `virtual_router_id` (same family, and the same
/// interface name or overlapping VIPs): same version, advert_int,
/// authentication and VIP list written the same way (prefix included), and
/// distinct priorities. Virtual server sets should be equal.
pub fn cross_check(configs: &[&Loaded]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (j, b) in configs.iter().enumerate() {
        for a in &configs[..j] {
            pair(a, b, &mut out);
        }
    }
    out
}

fn at(l: &Loaded, span: Span) -> (Option<String>, u32, u32) {
    (
        l.file_of(span).map(|p| p.to_string_lossy().into_owned()),
        span.line,
        span.col,
    )
}

fn where_(l: &Loaded, span: Span) -> String {
    match l.file_of(span) {
        Some(p) => format!("{}:{}", p.display(), span.line),
        None => format!("line {}", span.line),
    }
}

#[allow(clippy::too_many_arguments)]
fn diag(
    out: &mut Vec<Diagnostic>,
    sev: Severity,
    code: &'static str,
    l: &Loaded,
    span: Span,
    kw: &str,
    message: String,
    hint: Option<String>,
) {
    let (file, line, col) = at(l, span);
    out.push(Diagnostic {
        severity: sev,
        code,
        file,
        line,
        col,
        keyword: Some(kw.to_string()),
        message,
        hint,
    });
}

fn pair(a: &Loaded, b: &Loaded, out: &mut Vec<Diagnostic>) {
    for vb in &b.config.vrrp_instances {
        for va in &a.config.vrrp_instances {
            if va.virtual_router_id != vb.virtual_router_id || family(va) != family(vb) {
                continue;
            }
            let same_if = va.interface.is_some() && va.interface == vb.interface;
            let overlap = va
                .virtual_ipaddress
                .iter()
                .any(|x| vb.virtual_ipaddress.iter().any(|y| x.addr == y.addr));
            if !same_if && !overlap {
                continue;
            }
            let other = format!("{} ({})", va.name, where_(a, va.span));
            let ctx = format!(
                "vrrp_instance {} and {other} share VRID {}",
                vb.name, vb.virtual_router_id
            );
            if va.version != vb.version {
                diag(
                    out,
                    Severity::Error,
                    "pair-version",
                    b,
                    vb.span,
                    "version",
                    format!(
                        "{ctx} but use VRRP version {} and {}",
                        vb.version, va.version
                    ),
                    None,
                );
            }
            if va.advert_int != vb.advert_int {
                diag(out, Severity::Error, "pair-advert-int", b, vb.span, "advert_int",
                    format!("{ctx} but advertise every {} s and {} s: VRRPv2 drops adverts with another interval",
                        vb.advert_int.as_secs_f64(), va.advert_int.as_secs_f64()), None);
            }
            let auth = |v: &VrrpInstance| {
                v.authentication
                    .as_ref()
                    .map(|x| (x.auth_type, x.auth_pass.clone()))
            };
            if auth(va) != auth(vb) {
                diag(out, Severity::Error, "pair-auth", b, vb.span, "authentication",
                    format!("{ctx} but their authentication differs (type or the first 8 bytes of auth_pass): each node drops the other's adverts"), None);
            }
            let vips = |v: &VrrpInstance| {
                v.virtual_ipaddress
                    .iter()
                    .map(|x| x.text.to_string())
                    .collect::<BTreeSet<_>>()
            };
            let (xa, xb) = (vips(va), vips(vb));
            if xa != xb {
                let only_b: Vec<_> = xb.difference(&xa).cloned().collect();
                let only_a: Vec<_> = xa.difference(&xb).cloned().collect();
                diag(out, Severity::Error, "pair-vips", b, vb.span, "virtual_ipaddress",
                    format!("{ctx} but their virtual_ipaddress lists differ (only here: [{}]; only there: [{}]): the VIPs must match exactly, prefix included, or keepalived before 2.3.3 ignores the peer's adverts and both nodes become MASTER",
                        only_b.join(", "), only_a.join(", ")), None);
            }
            if va.priority == vb.priority {
                diag(out, Severity::Warning, "pair-priority", b, vb.span, "priority",
                    format!("{ctx} with the same priority {}: the higher primary IP address wins, which is rarely what is meant", vb.priority),
                    Some("give the intended master a higher priority".into()));
            }
            if va.state == VrrpState::Master && vb.state == VrrpState::Master {
                diag(
                    out,
                    Severity::Warning,
                    "pair-both-master",
                    b,
                    vb.span,
                    "state",
                    format!("{ctx} and both start as MASTER"),
                    None,
                );
            }
        }
    }
    // Virtual server sets.
    let keys = |l: &Loaded| {
        l.config
            .virtual_servers
            .iter()
            .map(vs_key)
            .collect::<BTreeSet<_>>()
    };
    let kb = keys(b);
    // The first virtual server of `a` with each key (one pass: looking each
    // one up by a scan was quadratic, with three strings per comparison).
    let mut ka: HashMap<String, &VirtualServer> = HashMap::new();
    for x in &a.config.virtual_servers {
        ka.entry(vs_key(x)).or_insert(x);
    }
    for v in &b.config.virtual_servers {
        let k = vs_key(v);
        let Some(&va) = ka.get(&k) else {
            diag(
                out,
                Severity::Warning,
                "pair-vs-missing",
                b,
                v.span,
                "virtual_server",
                format!(
                    "virtual_server {k} is not in {}",
                    a.files
                        .first()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
                None,
            );
            continue;
        };
        let mut diffs = Vec::new();
        if va.lb_algo != v.lb_algo {
            diffs.push("lb_algo");
        }
        if va.lb_kind != v.lb_kind {
            diffs.push("lb_kind");
        }
        if va.persistence_timeout != v.persistence_timeout {
            diffs.push("persistence_timeout");
        }
        if va.persistence_granularity != v.persistence_granularity {
            diffs.push("persistence_granularity");
        }
        let rs = |x: &VirtualServer| {
            x.real_servers
                .iter()
                .map(|r| (r.ip, r.port, r.weight))
                .collect::<BTreeSet<_>>()
        };
        if rs(va) != rs(v) {
            diffs.push("real_server set or weights");
        }
        if !diffs.is_empty() {
            diag(
                out,
                Severity::Warning,
                "pair-vs-differs",
                b,
                v.span,
                "virtual_server",
                format!(
                    "virtual_server {k} differs from {} in: {}",
                    where_(a, va.span),
                    diffs.join(", ")
                ),
                None,
            );
        }
    }
    for v in &a.config.virtual_servers {
        let k = vs_key(v);
        if !kb.contains(&k) {
            diag(
                out,
                Severity::Warning,
                "pair-vs-missing",
                a,
                v.span,
                "virtual_server",
                format!(
                    "virtual_server {k} is not in {}",
                    b.files
                        .first()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{cross_check, worst_case_stickiness};

    #[test]
    fn stickiness() {
        assert_eq!(worst_case_stickiness(360, 900), 960);
        assert_eq!(worst_case_stickiness(2, 5), 65);
        assert_eq!(worst_case_stickiness(1000, 900), 1000);
    }

    fn vs(addr: &str, algo: &str, rs: &[(&str, u32)]) -> String {
        let mut s = format!("virtual_server {addr} {{\n lb_algo {algo}\n protocol TCP\n");
        for (ip, w) in rs {
            s.push_str(&format!(" real_server {ip} 80 {{\n  weight {w}\n }}\n"));
        }
        s.push_str("}\n");
        s
    }

    #[test]
    fn pair_virtual_server_sets() {
        // a: X (twice: the first one counts), Y, Z; b: Y (same), X (other
        // algo and weight), W (missing in a).
        let a = [
            vs("10.0.0.1 80", "rr", &[("10.1.0.1", 1)]),
            vs("10.0.0.1 80", "wrr", &[("10.1.0.9", 5)]),
            vs("10.0.0.2 80", "rr", &[("10.1.0.2", 1)]),
            vs("10.0.0.3 80", "rr", &[]),
        ]
        .concat();
        let b = [
            vs("10.0.0.2 80", "rr", &[("10.1.0.2", 1)]),
            vs("10.0.0.1 80", "wlc", &[("10.1.0.1", 2)]),
            vs("10.0.0.4 80", "rr", &[]),
        ]
        .concat();
        let (a, b) = (
            crate::parse_str("a.conf", &a),
            crate::parse_str("b.conf", &b),
        );
        let got: Vec<(String, Option<String>, u32, String)> = cross_check(&[&a, &b])
            .into_iter()
            .map(|d| (d.code.to_string(), d.file, d.line, d.message))
            .collect();
        let want = [
            (
                "pair-vs-differs",
                "b.conf",
                8,
                "virtual_server 10.0.0.1 80 TCP differs from a.conf:1 in: lb_algo, real_server set or weights",
            ),
            ("pair-vs-missing", "b.conf", 15, "virtual_server 10.0.0.4 80 TCP is not in a.conf"),
            ("pair-vs-missing", "a.conf", 22, "virtual_server 10.0.0.3 80 TCP is not in b.conf"),
        ];
        let want: Vec<(String, Option<String>, u32, String)> = want
            .iter()
            .map(|(c, f, l, m)| (c.to_string(), Some(f.to_string()), *l, m.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
