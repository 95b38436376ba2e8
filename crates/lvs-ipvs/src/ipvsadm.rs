//! ipvsadm (1.31) output formats, byte for byte: `-L[n]` with `--stats`,
//! `--rate`, `--thresholds`, `--persistent-conn`, `--exact`, `--nosort`;
//! `--timeout`; `--daemon`; `-S [-n]`; and `-Lc[n]` over [`ConnEntry`] rows.
//!
//! Pure formatting over admin types. Name resolution (without `-n`) goes
//! through a [`Resolver`]; [`FilesResolver`] reproduces glibc's `files`
//! lookups from the texts of `/etc/hosts` and `/etc/services`.
//!
//! Sorting reproduces libipvs' comparators, including their `int`
//! subtraction of unsigned values, and glibc's merge-sort `qsort`, so that
//! even the odd orders (addresses more than 2^31 apart) come out the same.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::admin::{
    ConnEntry, Daemon, DaemonState, DestEntry, FwdMethod, Info, ServiceEntry, ServiceKey, SvcFlags,
    Timeouts, TunCsum, TunType,
};

/// Which columns `-L` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum View {
    #[default]
    Default,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    TunInfo,
}

/// `-L` options (`-n` is expressed by passing [`NumericOnly`] as the resolver).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListFormat {
    pub view: View,
    /// `--exact`.
    pub exact: bool,
    /// `--nosort`.
    pub nosort: bool,
}

/// Reverse lookups used without `-n`.
pub trait Resolver {
    /// Host name of an address (`gethostbyaddr`).
    fn host(&self, addr: &IpAddr) -> Option<String>;
    /// Service name of a port for an IP protocol number (`getservbyport`);
    /// only TCP (6), UDP (17) and SCTP (132) are looked up.
    fn service(&self, port: u16, proto: u16) -> Option<String>;
}

/// No names at all (what `-n` means).
#[derive(Debug, Clone, Copy, Default)]
pub struct NumericOnly;

impl Resolver for NumericOnly {
    fn host(&self, _: &IpAddr) -> Option<String> {
        None
    }
    fn service(&self, _: u16, _: u16) -> Option<String> {
        None
    }
}

/// glibc's `files` backend: first matching line of `/etc/hosts` (its first
/// name) and of `/etc/services`.
#[derive(Debug, Clone, Default)]
pub struct FilesResolver {
    hosts: HashMap<IpAddr, String>,
    services: HashMap<(u16, &'static str), String>,
}

impl FilesResolver {
    pub fn from_texts(hosts: &str, services: &str) -> Self {
        let mut r = FilesResolver::default();
        for line in hosts.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            let (Some(a), Some(name)) = (it.next(), it.next()) else {
                continue;
            };
            if let Ok(addr) = a.parse::<IpAddr>() {
                r.hosts.entry(addr).or_insert_with(|| name.to_string());
            }
        }
        for line in services.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            let (Some(name), Some(pp)) = (it.next(), it.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let proto: &'static str = match proto {
                "tcp" => "tcp",
                "udp" => "udp",
                "sctp" => "sctp",
                _ => continue,
            };
            r.services
                .entry((port, proto))
                .or_insert_with(|| name.to_string());
        }
        r
    }
}

impl Resolver for FilesResolver {
    fn host(&self, addr: &IpAddr) -> Option<String> {
        self.hosts.get(addr).cloned()
    }
    fn service(&self, port: u16, proto: u16) -> Option<String> {
        let p = match proto {
            6 => "tcp",
            17 => "udp",
            132 => "sctp",
            _ => return None,
        };
        self.services.get(&(port, p)).cloned()
    }
}

/// `addrport_to_anyname`.
fn addrport(addr: &IpAddr, port: u16, proto: u16, r: &dyn Resolver) -> String {
    let host = r.host(addr).unwrap_or_else(|| addr.to_string());
    let port = r.service(port, proto).unwrap_or_else(|| port.to_string());
    match addr {
        IpAddr::V4(_) => format!("{host}:{port}"),
        IpAddr::V6(_) => format!("[{host}]:{port}"),
    }
}

fn truncate(s: &mut String, n: usize) {
    if s.len() > n {
        let mut i = n;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}

/// `print_largenum`.
fn largenum(out: &mut String, i: u64, exact: bool) {
    if exact {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{i:>w$}");
        return;
    }
    let _ = if i < 100_000_000 {
        write!(out, "{i:>9}")
    } else if i < 1_000_000_000 {
        write!(out, "{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        write!(out, "{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(out, "{:>8}G", i / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", i / 1_000_000_000_000)
    };
}

/// `print_sched_flags` (without the surrounding punctuation).
fn sched_flags(scheduler: &str, flags: SvcFlags) -> String {
    let names: [(u32, &str); 3] = match scheduler {
        "sh" => [
            (SvcFlags::SCHED1, "sh-fallback"),
            (SvcFlags::SCHED2, "sh-port"),
            (0, ""),
        ],
        "mh" => [
            (SvcFlags::SCHED1, "mh-fallback"),
            (SvcFlags::SCHED2, "mh-port"),
            (0, ""),
        ],
        _ => [
            (SvcFlags::SCHED1, "flag-1"),
            (SvcFlags::SCHED2, "flag-2"),
            (SvcFlags::SCHED3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(b, _)| *b != 0 && flags.has(*b))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

const ANY_SCHED: u32 = SvcFlags::SCHED1 | SvcFlags::SCHED2 | SvcFlags::SCHED3;

fn dotted(mask: u32) -> String {
    std::net::Ipv4Addr::from(mask).to_string()
}

fn proto_of(key: &ServiceKey) -> u16 {
    match key {
        ServiceKey::Addr { proto, .. } => proto.number(),
        ServiceKey::Fwmark { .. } => 0,
    }
}

// --- sorting (libipvs comparators + glibc msort) ---------------------------

fn addr_words(a: &IpAddr) -> [u32; 4] {
    match a {
        IpAddr::V4(v) => [u32::from(*v), 0, 0, 0],
        IpAddr::V6(v) => {
            let o = v.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            [w(0), w(4), w(8), w(12)]
        }
    }
}

/// `ntohl(a) - ntohl(b)` evaluated as C does (unsigned wrap, then `int`).
fn csub(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

fn cmp_addr(a: &IpAddr, b: &IpAddr, v6: bool) -> i32 {
    let (wa, wb) = (addr_words(a), addr_words(b));
    if v6 {
        for i in 0..4 {
            let r = csub(wa[i], wb[i]);
            if r != 0 {
                return r;
            }
        }
        0
    } else {
        csub(wa[0], wb[0])
    }
}

/// `ipvs_cmp_services`.
pub fn cmp_services(a: &ServiceEntry, b: &ServiceEntry) -> i32 {
    let (ka, kb) = (&a.service.key, &b.service.key);
    let r = csub(ka.fwmark().unwrap_or(0), kb.fwmark().unwrap_or(0));
    if r != 0 {
        return r;
    }
    let r = i32::from(ka.af().to_raw()) - i32::from(kb.af().to_raw());
    if r != 0 {
        return r;
    }
    let r = i32::from(proto_of(ka)) - i32::from(proto_of(kb));
    if r != 0 {
        return r;
    }
    let (aa, pa) = match ka {
        ServiceKey::Addr { addr, port, .. } => (*addr, *port),
        ServiceKey::Fwmark { af, .. } => (af.unspecified(), 0),
    };
    let (ab, pb) = match kb {
        ServiceKey::Addr { addr, port, .. } => (*addr, *port),
        ServiceKey::Fwmark { af, .. } => (af.unspecified(), 0),
    };
    let r = cmp_addr(&aa, &ab, matches!(aa, IpAddr::V6(_)));
    if r != 0 {
        return r;
    }
    i32::from(pa) - i32::from(pb)
}

/// `ipvs_cmp_dests`.
pub fn cmp_dests(a: &DestEntry, b: &DestEntry) -> i32 {
    let r = cmp_addr(
        &a.dest.addr,
        &b.dest.addr,
        matches!(a.dest.addr, IpAddr::V6(_)),
    );
    if r != 0 {
        return r;
    }
    i32::from(a.dest.port) - i32::from(b.dest.port)
}

/// glibc `qsort` (`msort_with_tmp`): top-down merge sort, left wins ties.
pub fn glibc_qsort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    glibc_qsort(&mut v[..n1], cmp);
    glibc_qsort(&mut v[n1..], cmp);
    let mut tmp = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            tmp.push(v[i].clone());
            i += 1;
        } else {
            tmp.push(v[j].clone());
            j += 1;
        }
    }
    tmp.extend_from_slice(&v[i..n1]);
    let k = tmp.len();
    v[..k].clone_from_slice(&tmp);
}

// --- -L ----------------------------------------------------------------------

/// One service with its destinations, as listed.
pub type ServiceWithDests = (ServiceEntry, Vec<DestEntry>);

fn title(out: &mut String, view: View) {
    let _ = match view {
        View::Stats => writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        ),
        View::Rate => writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        View::Thresholds => writeln!(
            out,
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        ),
        View::PersistentConn => writeln!(
            out,
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        ),
        View::TunInfo => writeln!(
            out,
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn"
        ),
        View::Default => writeln!(
            out,
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"
        ),
    };
}

fn svc_label(key: &ServiceKey, r: &dyn Resolver) -> String {
    match key {
        ServiceKey::Fwmark { mark, af } => match af {
            crate::admin::Family::Inet6 => format!("FWM  {mark} IPv6"),
            crate::admin::Family::Inet => format!("FWM  {mark}"),
        },
        ServiceKey::Addr { proto, addr, port } => {
            let mut s = format!(
                "{:<4} {}",
                proto.name(),
                addrport(addr, *port, proto.number(), r)
            );
            if addr.is_ipv4() {
                truncate(&mut s, 33);
            }
            s
        }
    }
}

fn tun_info(e: &DestEntry) -> Option<String> {
    if e.dest.fwd != FwdMethod::Tunnel {
        return None;
    }
    let f = match e.dest.tun_flags {
        TunCsum::NoCsum => "-c",
        TunCsum::Csum => "+c",
        TunCsum::RemCsum => "r+c",
    };
    Some(match e.dest.tun_type {
        TunType::Ipip => "ipip".to_string(),
        TunType::Gue => format!("gue:{}:{f}", e.dest.tun_port),
        TunType::Gre => format!("gre:{f}"),
    })
}

fn print_service(out: &mut String, s: &ServiceWithDests, f: &ListFormat, r: &dyn Resolver) {
    let (se, dests) = s;
    let svc = &se.service;
    let name = svc_label(&svc.key, r);
    match f.view {
        View::Stats => {
            let _ = write!(out, "{name:<33}");
            for v in [
                se.stats.conns,
                se.stats.inpkts,
                se.stats.outpkts,
                se.stats.inbytes,
                se.stats.outbytes,
            ] {
                largenum(out, v, f.exact);
            }
        }
        View::Rate => {
            let _ = write!(out, "{name:<33}");
            for v in [
                se.stats.cps,
                se.stats.inpps,
                se.stats.outpps,
                se.stats.inbps,
                se.stats.outbps,
            ] {
                largenum(out, v, f.exact);
            }
        }
        _ => {
            let _ = write!(out, "{name} {}", svc.scheduler);
            if svc.flags.0 & ANY_SCHED != 0 {
                let _ = write!(out, " ({})", sched_flags(&svc.scheduler, svc.flags));
            }
            if svc.flags.has(SvcFlags::PERSISTENT) {
                let _ = write!(out, " persistent {}", svc.timeout);
                match svc.key.af() {
                    crate::admin::Family::Inet if svc.netmask != 0xffff_ffff => {
                        let _ = write!(out, " mask {}", dotted(svc.netmask));
                    }
                    crate::admin::Family::Inet6 if svc.netmask != 128 => {
                        let _ = write!(out, " mask {}", svc.netmask as i32);
                    }
                    _ => {}
                }
                if let Some(pe) = &svc.pe_name {
                    let _ = write!(out, " pe {pe}");
                }
            }
            if svc.flags.has(SvcFlags::ONEPACKET) {
                out.push_str(" ops");
            }
        }
    }
    out.push('\n');

    let mut dests = dests.clone();
    if !f.nosort {
        glibc_qsort(&mut dests, &cmp_dests);
    }
    let proto = proto_of(&svc.key);
    for e in &dests {
        let mut dname = addrport(&e.dest.addr, e.dest.port, proto, r);
        if e.dest.addr.is_ipv4() {
            truncate(&mut dname, 28);
        }
        let _ = match f.view {
            View::Stats => {
                let _ = write!(out, "  -> {dname:<28}");
                for v in [
                    e.stats.conns,
                    e.stats.inpkts,
                    e.stats.outpkts,
                    e.stats.inbytes,
                    e.stats.outbytes,
                ] {
                    largenum(out, v, f.exact);
                }
                writeln!(out)
            }
            View::Rate => {
                let _ = write!(
                    out,
                    "  -> {dname:<28} {:>8} {:>8} {:>8}",
                    e.stats.cps, e.stats.inpps, e.stats.outpps
                );
                largenum(out, e.stats.inbps, f.exact);
                largenum(out, e.stats.outbps, f.exact);
                writeln!(out)
            }
            View::Thresholds => writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                e.dest.u_threshold, e.dest.l_threshold, e.active_conns, e.inact_conns
            ),
            View::PersistentConn => writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                e.dest.weight, e.persist_conns, e.active_conns, e.inact_conns
            ),
            View::TunInfo => writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
                e.dest.fwd.name(),
                tun_info(e).unwrap_or_else(|| "n/a".into()),
                e.dest.weight as i32,
                e.active_conns,
                e.inact_conns
            ),
            View::Default => writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                e.dest.fwd.name(),
                e.dest.weight as i32,
                e.active_conns,
                e.inact_conns
            ),
        };
    }
}

/// `ipvsadm -L` (all services), header included.
pub fn list(
    info: &Info,
    services: &[ServiceWithDests],
    f: &ListFormat,
    r: &dyn Resolver,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "IP Virtual Server version {} (size={})",
        info.version_string(),
        info.conn_tab_size as i32
    );
    let mut svcs = services.to_vec();
    if !f.nosort {
        glibc_qsort(&mut svcs, &|a: &ServiceWithDests, b: &ServiceWithDests| {
            cmp_services(&a.0, &b.0)
        });
    }
    title(&mut out, f.view);
    for s in &svcs {
        print_service(&mut out, s, f, r);
    }
    out
}

/// `ipvsadm -L -t|-u|-f SERVICE` (one service, no version header).
pub fn list_one(service: &ServiceWithDests, f: &ListFormat, r: &dyn Resolver) -> String {
    let mut out = String::new();
    title(&mut out, f.view);
    print_service(&mut out, service, f, r);
    out
}

// --- -S ----------------------------------------------------------------------

fn rule_svc_name(key: &ServiceKey, r: &dyn Resolver) -> String {
    match key {
        ServiceKey::Fwmark { mark, af } => match af {
            crate::admin::Family::Inet6 => format!("-f {mark} -6"),
            crate::admin::Family::Inet => format!("-f {mark}"),
        },
        ServiceKey::Addr { proto, addr, port } => {
            let opt = match proto {
                crate::admin::Protocol::Tcp => "-t",
                crate::admin::Protocol::Udp => "-u",
                crate::admin::Protocol::Sctp => "--sctp-service",
            };
            format!("{opt} {}", addrport(addr, *port, proto.number(), r))
        }
    }
}

/// `ipvsadm -S [-n]`.
pub fn save(services: &[ServiceWithDests], nosort: bool, r: &dyn Resolver) -> String {
    let mut out = String::new();
    let mut svcs = services.to_vec();
    if !nosort {
        glibc_qsort(&mut svcs, &|a: &ServiceWithDests, b: &ServiceWithDests| {
            cmp_services(&a.0, &b.0)
        });
    }
    for (se, dests) in &svcs {
        let svc = &se.service;
        let name = rule_svc_name(&svc.key, r);
        let _ = write!(out, "-A {name} -s {}", svc.scheduler);
        if svc.flags.has(SvcFlags::PERSISTENT) {
            let _ = write!(out, " -p {}", svc.timeout);
            match svc.key.af() {
                crate::admin::Family::Inet if svc.netmask != 0xffff_ffff => {
                    let _ = write!(out, " -M {}", dotted(svc.netmask));
                }
                crate::admin::Family::Inet6 if svc.netmask != 128 => {
                    let _ = write!(out, " -M {}", svc.netmask as i32);
                }
                _ => {}
            }
        }
        if let Some(pe) = &svc.pe_name {
            let _ = write!(out, " --pe {pe}");
        }
        if svc.flags.has(SvcFlags::ONEPACKET) {
            out.push_str(" -o");
        }
        if svc.flags.0 & ANY_SCHED != 0 {
            let _ = write!(out, " -b {}", sched_flags(&svc.scheduler, svc.flags));
        }
        out.push('\n');
        let mut dests = dests.clone();
        if !nosort {
            glibc_qsort(&mut dests, &cmp_dests);
        }
        let proto = proto_of(&svc.key);
        for e in &dests {
            let d = &e.dest;
            let dname = addrport(&d.addr, d.port, proto, r);
            let sw = match d.fwd {
                FwdMethod::Masq | FwdMethod::Bypass => "-m",
                FwdMethod::Tunnel => "-i",
                FwdMethod::Local | FwdMethod::Route => "-g",
            };
            let w = d.weight as i32;
            let _ = if d.fwd == FwdMethod::Tunnel {
                let opt = match d.tun_flags {
                    TunCsum::NoCsum => "--tun-nocsum",
                    TunCsum::Csum => "--tun-csum",
                    TunCsum::RemCsum => "--tun-remcsum",
                };
                match d.tun_type {
                    TunType::Gre => {
                        writeln!(out, "-a {name} -r {dname} {sw} -w {w} --tun-type gre {opt}")
                    }
                    TunType::Gue => writeln!(
                        out,
                        "-a {name} -r {dname} {sw} -w {w} --tun-type gue --tun-port {} {opt}",
                        d.tun_port
                    ),
                    TunType::Ipip => {
                        writeln!(out, "-a {name} -r {dname} {sw} -w {w} --tun-type ipip")
                    }
                }
            } else {
                writeln!(out, "-a {name} -r {dname} {sw} -w {w}")
            };
        }
    }
    out
}

// --- --timeout, --daemon ----------------------------------------------------

/// `ipvsadm -L --timeout`.
pub fn timeout(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp as i32, t.tcp_fin as i32, t.udp as i32
    )
}

/// `ipvsadm -L --daemon` (entries in kernel dump order; at most two are shown).
pub fn daemons(ds: &[Daemon]) -> String {
    let mut out = String::new();
    for d in ds.iter().take(2) {
        let kind = match d.state {
            DaemonState::Master => "master",
            DaemonState::Backup => "backup",
        };
        let _ = write!(
            out,
            "{kind} sync daemon (mcast={}, syncid={}",
            d.mcast_ifn, d.syncid as i32
        );
        if d.sync_maxlen != 0 {
            let _ = write!(out, ", maxlen={}", d.sync_maxlen);
        }
        if let Some(g) = d.mcast_group {
            let _ = write!(out, ", group={g}");
        }
        if d.mcast_port != 0 {
            let _ = write!(out, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(out, ", ttl={}", d.mcast_ttl);
        }
        out.push_str(")\n");
    }
    out
}

// --- -Lc ---------------------------------------------------------------------

fn proto_label(p: u16) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        132 => "SCTP".into(),
        0 => "IP".into(),
        1 => "ICMP".into(),
        58 => "ICMPv6".into(),
        n => format!("IP_{n}"),
    }
}

/// `ipvsadm -Lc[n]` over `/proc/net/ip_vs_conn` rows (in file order).
pub fn conns(entries: &[ConnEntry], r: &dyn Resolver) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "IPVS connection entries");
    let _ = writeln!(
        out,
        "pro expire {:<11} {:<18} {:<18} destination",
        "state", "source", "virtual"
    );
    for c in entries {
        out.push_str(&conn_line(c, r));
        out.push('\n');
    }
    out
}

/// One `ipvsadm -Lc[n]` row, without the newline (also the built-in table's `-lnc` lines,
/// [`crate::ConnView::lnc_line`]).
pub fn conn_line(c: &ConnEntry, r: &dyn Resolver) -> String {
    let proto = proto_label(c.proto);
    let lookup = match c.proto {
        6 | 17 | 132 => c.proto,
        _ => 0,
    };
    let cname = addrport(&c.caddr, c.cport, lookup, r);
    let vname = addrport(&c.vaddr, c.vport, lookup, r);
    let dname = addrport(&c.daddr, c.dport, lookup, r);
    let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
    format!(
        "{proto:<3} {expire:<6} {:<11} {cname:<18} {vname:<18} {dname}",
        c.state
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::*;

    fn svc(key: ServiceKey, sched: &str) -> Service {
        let mut s = Service::new(key);
        s.scheduler = sched.into();
        s
    }

    fn dest(addr: &str, port: u16, fwd: FwdMethod, w: u32, a: u32, i: u32) -> DestEntry {
        let mut d = Dest::new(addr.parse().unwrap(), port);
        d.fwd = fwd;
        d.weight = w;
        DestEntry {
            dest: d,
            active_conns: a,
            inact_conns: i,
            persist_conns: 0,
            stats: Stats::default(),
        }
    }

    fn tcp(a: &str, p: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: a.parse().unwrap(),
            port: p,
        }
    }

    fn sample() -> Vec<ServiceWithDests> {
        let mut web = svc(tcp("10.0.0.100", 80), "wlc");
        web.flags = SvcFlags(SvcFlags::PERSISTENT | SvcFlags::HASHED);
        web.timeout = 360;
        web.netmask = 0xffff_ff00;
        let mut dns = svc(
            ServiceKey::Addr {
                proto: Protocol::Udp,
                addr: "10.0.0.100".parse().unwrap(),
                port: 53,
            },
            "sh",
        );
        dns.flags = SvcFlags(SvcFlags::SCHED1 | SvcFlags::SCHED2);
        let mut fwm = svc(
            ServiceKey::Fwmark {
                mark: 1,
                af: Family::Inet,
            },
            "rr",
        );
        fwm.flags = SvcFlags(SvcFlags::ONEPACKET);
        let mut gue = dest("192.168.1.21", 0, FwdMethod::Tunnel, 1, 0, 0);
        gue.dest.tun_type = TunType::Gue;
        gue.dest.tun_port = 6080;
        let e = |s: Service| ServiceEntry {
            service: s,
            stats: Stats::default(),
        };
        vec![
            (e(fwm), vec![gue]),
            (
                e(dns),
                vec![dest("192.168.1.11", 53, FwdMethod::Masq, 1, 0, 112)],
            ),
            (
                e(web),
                vec![
                    dest("192.168.1.12", 80, FwdMethod::Route, 0, 1, 40),
                    dest("192.168.1.11", 80, FwdMethod::Route, 1, 3, 17),
                ],
            ),
        ]
    }

    const INFO: Info = Info {
        version: IP_VS_VERSION_CODE,
        conn_tab_size: 4096,
    };

    #[test]
    fn list_numeric_matches_reference_layout() {
        let got = list(&INFO, &sample(), &ListFormat::default(), &NumericOnly);
        let want = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.100:80 wlc persistent 360 mask 255.255.255.0
  -> 192.168.1.11:80              Route   1      3          17        
  -> 192.168.1.12:80              Route   0      1          40        
UDP  10.0.0.100:53 sh (sh-fallback,sh-port)
  -> 192.168.1.11:53              Masq    1      0          112       
FWM  1 rr ops
  -> 192.168.1.21:0               Tunnel  1      0          0         
";
        assert_eq!(got, want);
    }

    #[test]
    fn save_numeric() {
        let got = save(&sample(), false, &NumericOnly);
        let want = "\
-A -t 10.0.0.100:80 -s wlc -p 360 -M 255.255.255.0
-a -t 10.0.0.100:80 -r 192.168.1.11:80 -g -w 1
-a -t 10.0.0.100:80 -r 192.168.1.12:80 -g -w 0
-A -u 10.0.0.100:53 -s sh -b sh-fallback,sh-port
-a -u 10.0.0.100:53 -r 192.168.1.11:53 -m -w 1
-A -f 1 -s rr -o
-a -f 1 -r 192.168.1.21:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
";
        assert_eq!(got, want);
    }

    #[test]
    fn stats_and_largenum() {
        let mut s = sample();
        s[2].0.stats = Stats {
            conns: 1234,
            inpkts: 56789,
            outpkts: 0,
            inbytes: 4_567_890,
            outbytes: 123_456_789_012,
            ..Default::default()
        };
        let got = list(
            &INFO,
            &s[2..],
            &ListFormat {
                view: View::Stats,
                ..Default::default()
            },
            &NumericOnly,
        );
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(
            lines[1],
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes"
        );
        assert_eq!(lines[2], "  -> RemoteAddress:Port");
        assert_eq!(
            lines[3],
            "TCP  10.0.0.100:80                    1234    56789        0  4567890     123G"
        );
        let mut o = String::new();
        largenum(&mut o, 123_456_789, false);
        largenum(&mut o, 99_999_999, false);
        largenum(&mut o, 5_000_000_000, false);
        assert_eq!(o, "  123456K 99999999    5000M");
    }

    #[test]
    fn sort_uses_c_int_subtraction() {
        // 200.0.0.1 - 10.0.0.1 overflows int: it sorts first, as in ipvsadm.
        let e = |a: &str| ServiceEntry {
            service: svc(tcp(a, 80), "rr"),
            stats: Stats::default(),
        };
        let mut v = vec![e("10.0.0.1"), e("200.0.0.1")];
        glibc_qsort(&mut v, &cmp_services);
        assert_eq!(v[0].service.key, tcp("200.0.0.1", 80));
        let mut v = vec![e("10.0.0.2"), e("10.0.0.1")];
        glibc_qsort(&mut v, &cmp_services);
        assert_eq!(v[0].service.key, tcp("10.0.0.1", 80));
    }

    #[test]
    fn ipv6_and_names() {
        let mut s = svc(
            ServiceKey::Addr {
                proto: Protocol::Tcp,
                addr: "2001:db8::1".parse().unwrap(),
                port: 443,
            },
            "mh",
        );
        s.flags = SvcFlags(SvcFlags::SCHED2 | SvcFlags::PERSISTENT);
        s.timeout = 60;
        s.netmask = 64;
        let v = vec![(
            ServiceEntry {
                service: s,
                stats: Stats::default(),
            },
            vec![dest("2001:db8::10", 443, FwdMethod::Masq, 5, 0, 0)],
        )];
        let r = FilesResolver::from_texts(
            "127.0.0.1 localhost\n2001:db8::10 web1 web1.example\n2001:db8::10 other\n",
            "https\t\t443/tcp\t\t\t# http over TLS\nhttps 443/udp\n",
        );
        let got = list(&INFO, &v, &ListFormat::default(), &r);
        assert!(got.contains("TCP  [2001:db8::1]:https mh (mh-port) persistent 60 mask 64\n"));
        assert!(got
            .contains("  -> [web1]:https                 Masq    5      0          0         \n"));
        let saved = save(&v, false, &NumericOnly);
        assert_eq!(
            saved,
            "-A -t [2001:db8::1]:443 -s mh -p 60 -M 64 -b mh-port\n-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 5\n"
        );
    }

    #[test]
    fn timeout_daemon_conns() {
        assert_eq!(
            timeout(&Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }),
            "Timeout (tcp tcpfin udp): 900 120 300\n"
        );
        let d = Daemon {
            state: DaemonState::Master,
            mcast_ifn: "eth0".into(),
            syncid: 0,
            sync_maxlen: 1472,
            mcast_group: Some("224.0.0.81".parse().unwrap()),
            mcast_port: 8848,
            mcast_ttl: 1,
        };
        assert_eq!(
            daemons(&[d]),
            "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
        );
        let c = ConnEntry {
            proto: 6,
            caddr: "203.0.113.5".parse().unwrap(),
            cport: 51234,
            vaddr: "10.0.0.100".parse().unwrap(),
            vport: 80,
            daddr: "192.168.1.11".parse().unwrap(),
            dport: 80,
            state: "ESTABLISHED".into(),
            expires: 898,
            pe_name: None,
            pe_data: None,
        };
        let mut t = c.clone();
        t.proto = 0;
        t.cport = 0;
        t.vaddr = "0.0.0.1".parse().unwrap();
        t.vport = 0;
        t.dport = 0;
        t.state = "ASSURED".into();
        t.expires = 6000;
        assert_eq!(
            conns(&[c, t], &NumericOnly),
            "IPVS connection entries\n\
pro expire state       source             virtual            destination\n\
TCP 14:58  ESTABLISHED 203.0.113.5:51234  10.0.0.100:80      192.168.1.11:80\n\
IP  100:00 ASSURED     203.0.113.5:0      0.0.0.1:0          192.168.1.11:0\n"
        );
    }
}
