//! `virtual_routes` / `virtual_rules` (and `static_routes` / `static_rules`):
//! keepalived's `ip route` / `ip rule` syntax parsed into specs, and added or
//! removed with hand-built rtnetlink messages (`RTM_NEWROUTE`/`RTM_DELROUTE`,
//! `RTM_NEWRULE`/`RTM_DELRULE`). Routes and rules carry protocol
//! `keepalived` (18), as keepalived's do, so `ip route show proto keepalived`
//! lists them.

use std::io;
use std::net::IpAddr;

use crate::addr::{ifindex, ip_bytes, push_attr, Rtnl};

/// `RTPROT_KEEPALIVED` (rtnetlink.h).
pub const RTPROT_KEEPALIVED: u8 = 18;

const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
const RTNH_F_ONLINK: u32 = 4;

const FRA_DST: u16 = 1;
const FRA_SRC: u16 = 2;
const FRA_IIFNAME: u16 = 3;
const FRA_GOTO: u16 = 4;
const FRA_PRIORITY: u16 = 6;
const FRA_FWMARK: u16 = 10;
const FRA_TABLE: u16 = 15;
const FRA_FWMASK: u16 = 16;
const FRA_OIFNAME: u16 = 17;
const FRA_PROTOCOL: u16 = 21;
const FIB_RULE_INVERT: u32 = 2;

/// A prefix (`10.0.0.0/24`, `default`, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// Network address.
    pub addr: IpAddr,
    /// Length.
    pub len: u8,
}

fn parse_prefix(s: &str, v6_hint: bool) -> Result<Prefix, String> {
    if matches!(s, "default" | "all" | "any") {
        let addr = if v6_hint {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        };
        return Ok(Prefix { addr, len: 0 });
    }
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .parse()
        .map_err(|_| format!("'{}' is not an address or prefix", s.escape_debug()))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        None => max,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("bad prefix length in '{}'", s.escape_debug()))?,
    };
    Ok(Prefix { addr, len })
}

fn parse_addr(s: Option<&String>, kw: &str) -> Result<IpAddr, String> {
    let s = s.ok_or_else(|| format!("'{kw}' needs an address"))?;
    s.parse()
        .map_err(|_| format!("'{}' after '{kw}' is not an address", s.escape_debug()))
}

fn parse_num(s: Option<&String>, kw: &str) -> Result<u32, String> {
    let s = s.ok_or_else(|| format!("'{kw}' needs a value"))?;
    let v = if let Some(h) = s.strip_prefix("0x") {
        u32::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    };
    v.ok_or_else(|| format!("'{}' after '{kw}' is not a number", s.escape_debug()))
}

fn parse_table(s: Option<&String>) -> Result<u32, String> {
    match s.map(String::as_str) {
        Some("main") => Ok(254),
        Some("local") => Ok(255),
        Some("default") => Ok(253),
        _ => parse_num(s, "table"),
    }
}

/// One `virtual_routes` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// Route type (`RTN_*`): unicast 1, local 2, broadcast 3, blackhole 6,
    /// unreachable 7, prohibit 8, throw 9.
    pub kind: u8,
    /// Destination.
    pub dst: Prefix,
    /// `from PREFIX` (source routing, IPv6).
    pub from: Option<Prefix>,
    /// `src IP` (preferred source).
    pub src: Option<IpAddr>,
    /// `via` / `gw`.
    pub via: Option<IpAddr>,
    /// `dev` / `oif`.
    pub dev: Option<String>,
    /// `scope` (None = derived: link without a gateway, host for local).
    pub scope: Option<u8>,
    /// `table` (default main).
    pub table: u32,
    /// `metric` / `priority` / `preference`.
    pub metric: Option<u32>,
    /// `proto` (default keepalived).
    pub protocol: u8,
    /// `onlink`.
    pub onlink: bool,
    /// `no_track` (accepted; lvsd does not watch routes).
    pub no_track: bool,
}

impl RouteSpec {
    /// Parse the words of one entry (`ip route` syntax as keepalived takes it).
    pub fn parse(words: &[String]) -> Result<Self, String> {
        let v6_hint = words.iter().any(|w| w.contains(':'));
        let mut r = RouteSpec {
            kind: 1,
            dst: Prefix {
                addr: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                len: 0,
            },
            from: None,
            src: None,
            via: None,
            dev: None,
            scope: None,
            table: 254,
            metric: None,
            protocol: RTPROT_KEEPALIVED,
            onlink: false,
            no_track: false,
        };
        let mut dst = None;
        let mut it = words.iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "unicast" => r.kind = 1,
                "local" => r.kind = 2,
                "broadcast" => r.kind = 3,
                "blackhole" => r.kind = 6,
                "unreachable" => r.kind = 7,
                "prohibit" => r.kind = 8,
                "throw" => r.kind = 9,
                "to" => dst = Some(parse_prefix(it.next().map_or("", |s| s), v6_hint)?),
                "from" => r.from = Some(parse_prefix(it.next().map_or("", |s| s), v6_hint)?),
                "src" => r.src = Some(parse_addr(it.next(), "src")?),
                "via" | "gw" => r.via = Some(parse_addr(it.next(), w)?),
                "dev" | "oif" => {
                    r.dev = Some(
                        it.next()
                            .ok_or_else(|| format!("'{w}' needs a name"))?
                            .clone(),
                    )
                }
                "scope" => {
                    let s = it.next().ok_or("'scope' needs a value")?;
                    r.scope = Some(
                        crate::addr::scope_from_str(s)
                            .ok_or_else(|| format!("'{}' is not a scope", s.escape_debug()))?,
                    );
                }
                "table" | "lookup" => r.table = parse_table(it.next())?,
                "metric" | "priority" | "preference" => r.metric = Some(parse_num(it.next(), w)?),
                "proto" | "protocol" => {
                    let p = it.next();
                    r.protocol = match p.map(String::as_str) {
                        Some("boot") => 3,
                        Some("static") => 4,
                        Some("kernel") => 2,
                        Some("keepalived") => RTPROT_KEEPALIVED,
                        _ => u8::try_from(parse_num(p, "proto")?)
                            .map_err(|_| "'proto' is out of range".to_string())?,
                    }
                }
                "onlink" => r.onlink = true,
                "no_track" => r.no_track = true,
                "or" => {
                    return Err(
                        "multipath 'or' routes are not supported by lvsd; use two entries".into(),
                    )
                }
                other if dst.is_none() && !other.is_empty() => {
                    dst = Some(parse_prefix(other, v6_hint)?)
                }
                other => {
                    return Err(format!(
                        "unsupported route option '{}'",
                        other.escape_debug()
                    ))
                }
            }
        }
        r.dst = dst.ok_or("no destination")?;
        let fam = r.dst.addr.is_ipv4();
        for a in [r.src, r.via].into_iter().flatten() {
            if a.is_ipv4() != fam {
                return Err(format!("{a} is not of the destination's address family"));
            }
        }
        Ok(r)
    }

    fn scope_value(&self) -> u8 {
        self.scope.unwrap_or(match self.kind {
            2 | 3 => 254,
            1 if self.via.is_none() && self.dev.is_some() => 253,
            _ => 0,
        })
    }

    pub(crate) fn msg(&self, del: bool) -> io::Result<Vec<u8>> {
        let v6 = self.dst.addr.is_ipv6();
        let mut b = vec![
            if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8,
            self.dst.len,
            self.from.map_or(0, |f| f.len),
            0,
            u8::try_from(self.table).unwrap_or(252),
            if del { 0 } else { self.protocol },
            if del { 255 } else { self.scope_value() }, // RT_SCOPE_NOWHERE on delete = any
            self.kind,
        ];
        let flags = if self.onlink { RTNH_F_ONLINK } else { 0 };
        b.extend_from_slice(&flags.to_ne_bytes());
        if self.dst.len > 0 {
            push_attr(&mut b, RTA_DST, &ip_bytes(self.dst.addr));
        }
        if let Some(f) = self.from {
            push_attr(&mut b, RTA_SRC, &ip_bytes(f.addr));
        }
        if let Some(s) = self.src {
            push_attr(&mut b, RTA_PREFSRC, &ip_bytes(s));
        }
        if let Some(g) = self.via {
            push_attr(&mut b, RTA_GATEWAY, &ip_bytes(g));
        }
        if let Some(d) = &self.dev {
            push_attr(&mut b, RTA_OIF, &ifindex(d)?.to_ne_bytes());
        }
        if let Some(m) = self.metric {
            push_attr(&mut b, RTA_PRIORITY, &m.to_ne_bytes());
        }
        push_attr(&mut b, RTA_TABLE, &self.table.to_ne_bytes());
        Ok(b)
    }
}

/// One `virtual_rules` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// IPv6 rule.
    pub v6: bool,
    /// `from PREFIX`.
    pub from: Option<Prefix>,
    /// `to PREFIX`.
    pub to: Option<Prefix>,
    /// `iif` / `dev`.
    pub iif: Option<String>,
    /// `oif`.
    pub oif: Option<String>,
    /// `fwmark M[/MASK]`.
    pub fwmark: Option<(u32, Option<u32>)>,
    /// `tos`.
    pub tos: u8,
    /// `table` / `lookup`.
    pub table: u32,
    /// `priority` / `preference` / `pref`.
    pub priority: Option<u32>,
    /// `not`.
    pub invert: bool,
    /// Action (`FR_ACT_*`): to_tbl 1, goto 2, nop 3, blackhole 6,
    /// unreachable 7, prohibit 8.
    pub action: u8,
    /// `goto N`.
    pub goto: Option<u32>,
    /// `no_track`.
    pub no_track: bool,
}

impl RuleSpec {
    /// Parse the words of one entry (`ip rule` syntax as keepalived takes it).
    pub fn parse(words: &[String]) -> Result<Self, String> {
        let v6_hint = words.iter().any(|w| w.contains(':')) || words.iter().any(|w| w == "inet6");
        let mut r = RuleSpec {
            v6: v6_hint,
            from: None,
            to: None,
            iif: None,
            oif: None,
            fwmark: None,
            tos: 0,
            table: 0,
            priority: None,
            invert: false,
            action: 1,
            goto: None,
            no_track: false,
        };
        let mut it = words.iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "inet" | "inet6" => {}
                "from" => r.from = Some(parse_prefix(it.next().map_or("", |s| s), v6_hint)?),
                "to" => r.to = Some(parse_prefix(it.next().map_or("", |s| s), v6_hint)?),
                "iif" | "dev" => {
                    r.iif = Some(
                        it.next()
                            .ok_or_else(|| format!("'{w}' needs a name"))?
                            .clone(),
                    )
                }
                "oif" => r.oif = Some(it.next().ok_or("'oif' needs a name")?.clone()),
                "fwmark" => {
                    let s = it.next().ok_or("'fwmark' needs a value")?;
                    let (m, mask) = match s.split_once('/') {
                        Some((m, k)) => (m.to_string(), Some(k.to_string())),
                        None => (s.clone(), None),
                    };
                    let m = parse_num(Some(&m), "fwmark")?;
                    let mask = mask.map(|k| parse_num(Some(&k), "fwmark")).transpose()?;
                    r.fwmark = Some((m, mask));
                }
                "tos" | "dsfield" => {
                    r.tos = u8::try_from(parse_num(it.next(), w)?)
                        .map_err(|_| "'tos' is out of range".to_string())?
                }
                "table" | "lookup" => r.table = parse_table(it.next())?,
                "priority" | "preference" | "pref" => r.priority = Some(parse_num(it.next(), w)?),
                "not" => r.invert = true,
                "goto" => {
                    r.action = 2;
                    r.goto = Some(parse_num(it.next(), "goto")?);
                }
                "nop" => r.action = 3,
                "blackhole" => r.action = 6,
                "unreachable" => r.action = 7,
                "prohibit" => r.action = 8,
                "no_track" => r.no_track = true,
                other => {
                    return Err(format!(
                        "unsupported rule option '{}'",
                        other.escape_debug()
                    ))
                }
            }
        }
        for p in [r.from, r.to].into_iter().flatten() {
            if p.len > 0 || !p.addr.is_unspecified() {
                r.v6 = p.addr.is_ipv6();
            }
        }
        if r.action == 1 && r.table == 0 {
            return Err("a rule needs 'table' (or goto/nop/blackhole/unreachable/prohibit)".into());
        }
        Ok(r)
    }

    pub(crate) fn msg(&self) -> Vec<u8> {
        let mut b = vec![
            if self.v6 {
                libc::AF_INET6
            } else {
                libc::AF_INET
            } as u8,
            self.to.map_or(0, |p| p.len),
            self.from.map_or(0, |p| p.len),
            self.tos,
            u8::try_from(self.table).unwrap_or(252),
            0,
            0,
            self.action,
        ];
        let flags = if self.invert { FIB_RULE_INVERT } else { 0 };
        b.extend_from_slice(&flags.to_ne_bytes());
        if let Some(p) = self.to.filter(|p| p.len > 0) {
            push_attr(&mut b, FRA_DST, &ip_bytes(p.addr));
        }
        if let Some(p) = self.from.filter(|p| p.len > 0) {
            push_attr(&mut b, FRA_SRC, &ip_bytes(p.addr));
        }
        for (ty, name) in [(FRA_IIFNAME, &self.iif), (FRA_OIFNAME, &self.oif)] {
            if let Some(n) = name {
                let mut s = n.as_bytes().to_vec();
                s.push(0);
                push_attr(&mut b, ty, &s);
            }
        }
        if let Some((m, mask)) = self.fwmark {
            push_attr(&mut b, FRA_FWMARK, &m.to_ne_bytes());
            if let Some(k) = mask {
                push_attr(&mut b, FRA_FWMASK, &k.to_ne_bytes());
            }
        }
        if let Some(p) = self.priority {
            push_attr(&mut b, FRA_PRIORITY, &p.to_ne_bytes());
        }
        if let Some(g) = self.goto {
            push_attr(&mut b, FRA_GOTO, &g.to_ne_bytes());
        }
        if self.table > 0 {
            push_attr(&mut b, FRA_TABLE, &self.table.to_ne_bytes());
        }
        push_attr(&mut b, FRA_PROTOCOL, &[RTPROT_KEEPALIVED]);
        b
    }
}

fn ignore(r: io::Result<()>, codes: &[i32]) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error().is_some_and(|c| codes.contains(&c)) => Ok(()),
        r => r,
    }
}

impl Rtnl {
    /// Add a route (keepalived's default: prepend, i.e. create); one already
    /// present is not an error.
    pub fn add_route(&mut self, r: &RouteSpec) -> io::Result<()> {
        let flags = (libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        let seq = self.send(libc::RTM_NEWROUTE, flags, &r.msg(false)?)?;
        ignore(self.recv_until_done(seq, |_, _| {}), &[libc::EEXIST])
    }

    /// Remove a route; an absent one is not an error.
    pub fn del_route(&mut self, r: &RouteSpec) -> io::Result<()> {
        let seq = self.send(libc::RTM_DELROUTE, libc::NLM_F_ACK as u16, &r.msg(true)?)?;
        ignore(
            self.recv_until_done(seq, |_, _| {}),
            &[libc::ESRCH, libc::ENOENT, libc::ENODEV],
        )
    }

    /// Add a rule; an identical one already present is not an error.
    pub fn add_rule(&mut self, r: &RuleSpec) -> io::Result<()> {
        let flags = (libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        let seq = self.send(libc::RTM_NEWRULE, flags, &r.msg())?;
        ignore(self.recv_until_done(seq, |_, _| {}), &[libc::EEXIST])
    }

    /// Remove a rule; an absent one is not an error.
    pub fn del_rule(&mut self, r: &RuleSpec) -> io::Result<()> {
        let seq = self.send(libc::RTM_DELRULE, libc::NLM_F_ACK as u16, &r.msg())?;
        ignore(
            self.recv_until_done(seq, |_, _| {}),
            &[libc::ENOENT, libc::ESRCH],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn routes_parse() {
        let r = RouteSpec::parse(&w(
            "src 192.168.100.1 to 192.168.109.0/24 via 192.168.200.254 dev eth1 table 7 metric 5",
        ))
        .unwrap();
        assert_eq!(r.dst.len, 24);
        assert_eq!(r.src, Some("192.168.100.1".parse().unwrap()));
        assert_eq!(r.via, Some("192.168.200.254".parse().unwrap()));
        assert_eq!(
            (r.dev.as_deref(), r.table, r.metric),
            (Some("eth1"), 7, Some(5))
        );
        assert_eq!(r.scope_value(), 0);
        let r = RouteSpec::parse(&w("192.168.112.0/24 dev eth0")).unwrap();
        assert_eq!((r.scope_value(), r.table, r.kind), (253, 254, 1));
        let r = RouteSpec::parse(&w("blackhole 10.9.0.0/16")).unwrap();
        assert_eq!(r.kind, 6);
        let r = RouteSpec::parse(&w("default via fe80::1 dev eth0")).unwrap();
        assert!(r.dst.addr.is_ipv6() && r.dst.len == 0);
        let r = RouteSpec::parse(&w("10.1.0.0/16 gw 10.0.0.1 table main no_track")).unwrap();
        assert!(r.no_track);
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/8 via fe80::1",
            "10.0.0.0/8 frobnicate",
            "10.0.0.0/8 via 10.0.0.1 or 10.0.0.2",
            "10.0.0.0/8 metric x",
        ] {
            assert!(RouteSpec::parse(&w(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_parse() {
        let r = RuleSpec::parse(&w("from 192.168.28.0/24 table 1 priority 100")).unwrap();
        assert!(!r.v6);
        assert_eq!((r.table, r.priority, r.action), (1, Some(100), 1));
        let r = RuleSpec::parse(&w("to 2001:db8::/32 lookup 200 fwmark 0x10/0xff not")).unwrap();
        assert!(r.v6 && r.invert);
        assert_eq!(r.fwmark, Some((16, Some(255))));
        let r = RuleSpec::parse(&w("from all iif eth0 blackhole")).unwrap();
        assert_eq!(r.action, 6);
        assert!(RuleSpec::parse(&w("from 10.0.0.0/8")).is_err());
        assert!(RuleSpec::parse(&w("from 10.0.0.0/8 table 1 bogus")).is_err());
    }

    #[test]
    fn messages_carry_table_and_protocol() {
        let r = RouteSpec::parse(&w("10.1.0.0/16 via 10.0.0.1 table 300")).unwrap();
        let m = r.msg(false).unwrap();
        assert_eq!(&m[..8], &[libc::AF_INET as u8, 16, 0, 0, 252, 18, 0, 1]);
        let got: Vec<u16> = crate::addr::attrs(&m[12..]).map(|(t, _)| t).collect();
        assert_eq!(got, vec![RTA_DST, RTA_GATEWAY, RTA_TABLE]);
        let rule = RuleSpec::parse(&w("from 10.0.0.0/8 table 5")).unwrap();
        let m = rule.msg();
        assert_eq!(&m[..8], &[libc::AF_INET as u8, 0, 8, 0, 5, 0, 0, 1]);
        let got: Vec<u16> = crate::addr::attrs(&m[12..]).map(|(t, _)| t).collect();
        assert_eq!(got, vec![FRA_SRC, FRA_TABLE, FRA_PROTOCOL]);
    }
}
