//! "Why is this client stuck to that real server, and until when?" —
//! a structured explanation computed from the model's state.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::admin::ServiceKey;
use crate::model::{Ipvs, Millis, EXPIRE_LATER_MS};
use crate::sched::DEST_F_AVAILABLE;
use crate::table::{addr_bytes, flags as cf, NIL};
use crate::view::ConnView;

/// One persistence template that covers the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    pub template: ConnView,
    /// The service the template belongs to (None if it was deleted).
    pub service: Option<ServiceKey>,
    /// The service's configured persistence timeout (seconds).
    pub configured_timeout_s: Option<u32>,
    /// The netmask the service applies to client addresses.
    pub netmask: Option<u32>,
    /// The template's timeout is the kernel's 60 s `expire_later` value, not the configured one.
    pub rearmed_60s: bool,
    /// The template still matches new connections (false: invalidated, dest removed
    /// or quiescent with `expire_quiescent_template`).
    pub valid: bool,
    /// Weight of the bound real server (None if it was removed).
    pub dest_weight: Option<i32>,
    /// Connection entries the template controls.
    pub controlled: Vec<ConnView>,
    /// When the template is gone if no new connection arrives (absolute ms).
    pub free_at_ms: Millis,
    /// How many 60 s re-arms that takes.
    pub rearms_ahead: u32,
}

/// The explanation for one client at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub client: IpAddr,
    pub at_ms: Millis,
    pub bindings: Vec<Binding>,
    /// The client's connection entries that no template controls.
    pub free_connections: Vec<ConnView>,
}

fn mask_matches(client: &IpAddr, caddr: &IpAddr, netmask: u32) -> bool {
    match (client, caddr) {
        (IpAddr::V4(c), IpAddr::V4(t)) => u32::from(*c) & netmask == u32::from(*t),
        (IpAddr::V6(c), IpAddr::V6(t)) => {
            let plen = netmask.min(128);
            let m = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen)
            };
            u128::from(*c) & m == u128::from(*t)
        }
        _ => false,
    }
}

impl Ipvs {
    /// Explain which templates and entries bind `client` at `now`.
    pub fn explain(&self, client: IpAddr, now: Millis) -> Explanation {
        let views = self.connections(now);
        let mut bindings = Vec::new();
        for v in views.iter().filter(|v| v.template) {
            let c = &self.table.conns[v.id.idx as usize];
            // The service of the template.
            let svc = self.services.iter().flatten().find(|s| match &s.cfg.key {
                ServiceKey::Addr { proto, addr, port } => {
                    proto.number() as u8 == c.proto
                        && addr_bytes(addr) == c.vaddr
                        && (*port == c.vport || (c.vport == 0 && (*port == 0 || *port == 21)))
                }
                ServiceKey::Fwmark { mark, .. } => {
                    c.proto == 0 && c.vaddr[..4] == mark.to_be_bytes()
                }
            });
            let netmask = svc.map(|s| s.cfg.netmask);
            let covers = match netmask {
                Some(m) => mask_matches(&client, &v.caddr, m),
                None => v.caddr == client,
            };
            if !covers {
                continue;
            }
            let controlled: Vec<ConnView> = views
                .iter()
                .filter(|x| x.control.map(|id| id.idx) == Some(v.id.idx))
                .cloned()
                .collect();
            let last = controlled.iter().map(|x| now + x.expires_ms).max();
            let t0 = now + v.expires_ms;
            let (free_at_ms, rearms_ahead) = match last {
                None => (t0, 0),
                Some(m) if m < t0 => (t0, 0),
                Some(m) => {
                    let k = (m - t0).div_ceil(EXPIRE_LATER_MS as u64).max(1);
                    (t0 + k * EXPIRE_LATER_MS as u64, k as u32)
                }
            };
            let configured = svc.map(|s| s.cfg.timeout);
            let d = c.dest;
            let dest_weight =
                (d != NIL && self.rs[d as usize].linked).then(|| self.ds[d as usize].weight);
            let valid = c.flags & cf::HASHED != 0
                && d != NIL
                && self.ds[d as usize].flags & DEST_F_AVAILABLE != 0
                && !(self.settings.expire_quiescent_template && self.ds[d as usize].weight == 0);
            bindings.push(Binding {
                template: v.clone(),
                service: svc.map(|s| s.cfg.key),
                configured_timeout_s: configured,
                netmask,
                rearmed_60s: v.timeout_ms == EXPIRE_LATER_MS
                    && configured.is_some_and(|t| t * 1000 != EXPIRE_LATER_MS),
                valid,
                dest_weight,
                controlled,
                free_at_ms,
                rearms_ahead,
            });
        }
        bindings.sort_by_key(|b| std::cmp::Reverse(b.valid));
        let free_connections = views
            .into_iter()
            .filter(|v| !v.template && v.control.is_none() && v.caddr == client)
            .collect();
        Explanation {
            client,
            at_ms: now,
            bindings,
            free_connections,
        }
    }
}

fn secs(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

fn ep(a: &IpAddr, p: u16) -> String {
    match a {
        IpAddr::V4(v) => format!("{v}:{p}"),
        IpAddr::V6(v) => format!("[{v}]:{p}"),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "client {} at t={}:", self.client, secs(self.at_ms))?;
        let valid: Vec<&Binding> = self.bindings.iter().filter(|b| b.valid).collect();
        if valid.is_empty() {
            writeln!(
                f,
                "  no persistence template binds this client: its next new connection is scheduled afresh."
            )?;
        }
        for b in &self.bindings {
            let t = &b.template;
            let svc = b
                .service
                .map(|k| k.to_string())
                .unwrap_or_else(|| "(deleted service)".into());
            if b.valid {
                writeln!(
                    f,
                    "  bound to real server {} by the persistence template",
                    ep(&t.daddr, t.dport)
                )?;
            } else {
                writeln!(
                    f,
                    "  an invalidated template (its real server was removed or is quiescent) still points at {}; it no longer binds new connections",
                    ep(&t.daddr, t.dport)
                )?;
            }
            writeln!(f, "    {}", t.lnc_line())?;
            write!(f, "    of service {svc}")?;
            if let Some(s) = b.configured_timeout_s {
                write!(f, " (persistence_timeout {s} s")?;
                if let Some(m) = b.netmask {
                    if t.caddr.is_ipv4() && m != u32::MAX {
                        write!(f, ", granularity {}", std::net::Ipv4Addr::from(m))?;
                    } else if t.caddr.is_ipv6() && m != 128 {
                        write!(f, ", granularity /{m}")?;
                    }
                }
                write!(f, ")")?;
            }
            writeln!(f, ", state {}.", t.state)?;
            if let Some(w) = b.dest_weight {
                if w == 0 {
                    writeln!(f, "    the real server has weight 0 (quiescent) but the template still sends this client there.")?;
                }
            } else {
                writeln!(f, "    the real server has been removed from the service.")?;
            }
            writeln!(
                f,
                "    the template's timer fires in {} (at t={}); its current timeout is {}.",
                secs(t.expires_ms),
                secs(self.at_ms + t.expires_ms),
                secs(t.timeout_ms as u64)
            )?;
            if b.rearmed_60s {
                writeln!(
                    f,
                    "    that is the kernel's 60 s expire_later value, not the configured {} s: the template ran out while it still controlled connections, was re-armed for 60 s, and every new connection now re-arms it for 60 s.",
                    b.configured_timeout_s.unwrap_or(0)
                )?;
            }
            if b.controlled.is_empty() {
                writeln!(f, "    it controls no connection entry.")?;
            } else {
                writeln!(
                    f,
                    "    it controls {} connection entr{}:",
                    b.controlled.len(),
                    if b.controlled.len() == 1 { "y" } else { "ies" }
                )?;
                for c in &b.controlled {
                    writeln!(
                        f,
                        "      {}   (expires in {})",
                        c.lnc_line(),
                        secs(c.expires_ms)
                    )?;
                }
            }
            if b.valid {
                writeln!(
                    f,
                    "    each new connection from the client re-arms the template (timeout {}) and goes to {}.",
                    secs(t.timeout_ms as u64),
                    ep(&t.daddr, t.dport)
                )?;
            }
            if b.rearms_ahead > 0 {
                writeln!(
                    f,
                    "    while it controls entries the template cannot expire: it will be re-armed {} more time{} for 60 s.",
                    b.rearms_ahead,
                    if b.rearms_ahead == 1 { "" } else { "s" }
                )?;
            }
            writeln!(
                f,
                "    free to move at t={} (in {}) if the client opens no new connection and its open ones see no packets.",
                secs(b.free_at_ms),
                secs(b.free_at_ms.saturating_sub(self.at_ms))
            )?;
        }
        if !self.free_connections.is_empty() {
            writeln!(f, "  connection entries not under persistence:")?;
            for c in &self.free_connections {
                writeln!(
                    f,
                    "    {}   (expires in {})",
                    c.lnc_line(),
                    secs(c.expires_ms)
                )?;
            }
        }
        Ok(())
    }
}
