//! Read-only views of the model: connection entries (`ipvsadm -lnc`, JSON),
//! services and real servers with their counters.

use std::net::IpAddr;

use serde::Serialize;

use crate::admin::{FwdMethod, ServiceKey, Stats};
use crate::model::{ConnId, Ipvs, Millis};
use crate::proto;
use crate::table::{bytes_addr, flags as cf, Conn, CTPL_S_ASSURED, NIL};

/// One entry of the connection table as `/proc/net/ip_vs_conn` shows it, plus
/// the model's bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnView {
    pub id: ConnId,
    /// `TCP`, `UDP`, `SCTP`, `IP` (fwmark templates).
    pub proto: String,
    /// IP protocol number (0 for fwmark templates).
    pub proto_num: u8,
    /// State name as printed (`ESTABLISHED`, `FIN_WAIT`, `UDP`, `NONE`/`ASSURED` for templates).
    pub state: String,
    pub template: bool,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// Milliseconds until the entry's timer fires.
    pub expires_ms: u64,
    /// Whole seconds as the kernel prints them (rounded down).
    pub expire_secs: u64,
    /// The timeout the next re-arm will use (ms).
    pub timeout_ms: u32,
    /// Entries this one controls (templates).
    pub n_control: u32,
    /// The controlling template.
    pub control: Option<ConnId>,
    pub fwd: FwdMethod,
    pub in_pkts: u32,
    pub active: bool,
    /// `skb->mark` of the packet that created the entry.
    pub fwmark: u32,
}

impl ConnView {
    pub(crate) fn from_conn(idx: u32, c: &Conn, gen_of: impl Fn(u32) -> u32, now: Millis) -> Self {
        let template = c.flags & cf::TEMPLATE != 0;
        let state = if template {
            if c.state & CTPL_S_ASSURED != 0 {
                "ASSURED"
            } else {
                "NONE"
            }
            .to_string()
        } else {
            proto::state_name(c.proto, c.state).to_string()
        };
        let expires_ms = c.expires.saturating_sub(now);
        ConnView {
            id: ConnId { idx, gen: c.gen },
            proto: proto::proto_name(c.proto),
            proto_num: c.proto,
            state,
            template,
            caddr: bytes_addr(c.af, &c.caddr),
            cport: c.cport,
            vaddr: bytes_addr(c.af, &c.vaddr),
            vport: c.vport,
            daddr: bytes_addr(c.daf, &c.daddr),
            dport: c.dport,
            expires_ms,
            expire_secs: expires_ms / 1000,
            timeout_ms: c.timeout,
            n_control: c.n_control,
            control: (c.control != NIL).then(|| ConnId {
                idx: c.control,
                gen: gen_of(c.control),
            }),
            fwd: FwdMethod::from_raw(c.flags & cf::FWD_MASK).unwrap_or(FwdMethod::Masq),
            in_pkts: c.in_pkts,
            active: !template && c.flags & cf::INACTIVE == 0,
            fwmark: c.fwmark,
        }
    }

    /// The `ipvsadm -lnc` body line.
    pub fn lnc_line(&self) -> String {
        crate::ipvsadm::conn_line(&self.conn_entry(), &crate::ipvsadm::NumericOnly)
    }

    /// The entry as a `/proc/net/ip_vs_conn` row.
    pub fn conn_entry(&self) -> crate::admin::ConnEntry {
        crate::admin::ConnEntry {
            proto: u16::from(self.proto_num),
            caddr: self.caddr,
            cport: self.cport,
            vaddr: self.vaddr,
            vport: self.vport,
            daddr: self.daddr,
            dport: self.dport,
            state: self.state.clone(),
            expires: u32::try_from(self.expire_secs).unwrap_or(u32::MAX),
            pe_name: None,
            pe_data: None,
        }
    }
}

/// A real server with its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestView {
    pub addr: IpAddr,
    pub port: u16,
    pub fwd: FwdMethod,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub overloaded: bool,
    pub stats: Stats,
}

/// A virtual service with its real servers in kernel order (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    pub key: ServiceKey,
    pub scheduler: String,
    pub flags: u32,
    pub persistent: Option<u32>,
    pub netmask: u32,
    pub stats: Stats,
    pub dests: Vec<DestView>,
}

/// A JSON-able snapshot of the whole model at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub at_ms: Millis,
    pub services: Vec<ServiceView>,
    pub connections: Vec<ConnView>,
}

impl Ipvs {
    /// Every entry (connections and templates), in slot order.
    pub fn connections(&self, now: Millis) -> Vec<ConnView> {
        let gen_of = |i: u32| self.table.conns[i as usize].gen;
        self.table
            .iter_live()
            .map(|(i, c)| ConnView::from_conn(i, c, gen_of, now))
            .collect()
    }

    /// One entry by handle, if it still exists.
    pub fn connection(&self, id: ConnId, now: Millis) -> Option<ConnView> {
        let c = self.table.conns.get(id.idx as usize)?;
        if !self.table.is_live(id.idx) || c.gen != id.gen {
            return None;
        }
        let gen_of = |i: u32| self.table.conns[i as usize].gen;
        Some(ConnView::from_conn(id.idx, c, gen_of, now))
    }

    /// `ipvsadm -lnc` body lines, sorted.
    pub fn lnc_lines(&self, now: Millis) -> Vec<String> {
        let mut v: Vec<String> = self
            .connections(now)
            .iter()
            .map(ConnView::lnc_line)
            .collect();
        v.sort();
        v
    }

    /// Services and real servers with counters.
    pub fn service_views(&self) -> Vec<ServiceView> {
        self.services
            .iter()
            .flatten()
            .map(|s| ServiceView {
                key: s.cfg.key,
                scheduler: s.sched.name().to_string(),
                flags: s.cfg.flags.0,
                persistent: s.cfg.is_persistent().then_some(s.cfg.timeout),
                netmask: s.cfg.netmask,
                stats: s.stats,
                dests: s
                    .dests
                    .iter()
                    .map(|&d| {
                        let x = &self.ds[d as usize];
                        let r = &self.rs[d as usize];
                        DestView {
                            addr: x.addr,
                            port: x.port,
                            fwd: r.cfg.fwd,
                            weight: x.weight,
                            u_threshold: r.cfg.u_threshold,
                            l_threshold: r.cfg.l_threshold,
                            active_conns: x.activeconns,
                            inact_conns: x.inactconns,
                            persist_conns: x.persistconns,
                            overloaded: x.flags & crate::sched::DEST_F_OVERLOAD != 0,
                            stats: r.stats,
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    /// Totals (`/proc/net/ip_vs_stats` counters).
    pub fn total_stats(&self) -> Stats {
        self.total
    }

    pub fn snapshot(&self, now: Millis) -> Snapshot {
        Snapshot {
            at_ms: now,
            services: self.service_views(),
            connections: self.connections(now),
        }
    }
}
