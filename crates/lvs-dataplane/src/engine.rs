//! The IPVS engine (`lvs_ipvs::Ipvs`) as the data plane's [`Decider`]: every
//! packet gets exactly the decision the kernel would make, and the
//! connection table / timers are the engine's.
//!
//! The engine is shared (`Arc<Mutex<_>>`) between the packet workers and the
//! control plane (services, weights, `ipvsadm -lnc` views). One table is what
//! makes the decisions exact: round-robin order and persistence templates are
//! global to a service, so per-worker tables would diverge from the kernel.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lvs_ipvs::admin::{FwdMethod, ServiceKey};
use lvs_ipvs::{Direction, Ipvs};

use crate::decide::{Decider, PacketMeta, Verdict};

/// A shared handle on the engine.
#[derive(Debug, Clone, Default)]
pub struct SharedEngine {
    inner: Arc<Mutex<Ipvs>>,
}

/// Milliseconds for the engine.
pub fn millis(now: Duration) -> u64 {
    now.as_millis() as u64
}

impl SharedEngine {
    /// Wraps an engine.
    pub fn new(ipvs: Ipvs) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ipvs)),
        }
    }

    /// Locks the engine (poisoning is ignored: the engine has no invariants
    /// a panicking reader could break half-way that matter more than
    /// forwarding).
    pub fn lock(&self) -> MutexGuard<'_, Ipvs> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A [`Decider`] for one worker.
    pub fn decider(&self) -> EngineDecider {
        EngineDecider {
            engine: self.clone(),
        }
    }
}

/// The engine as a [`Decider`].
#[derive(Debug, Clone)]
pub struct EngineDecider {
    engine: SharedEngine,
}

fn meta(m: &PacketMeta, direction: Direction) -> lvs_ipvs::PacketMeta {
    lvs_ipvs::PacketMeta {
        src: m.saddr,
        dst: m.daddr,
        proto: m.proto,
        sport: m.sport,
        dport: m.dport,
        tcp_flags: m.tcp_flags,
        sctp_chunk: 0,
        fwmark: 0,
        len: m.len,
        direction,
    }
}

impl Decider for EngineDecider {
    fn decide(&mut self, now: Duration, m: &PacketMeta) -> Verdict {
        let now = millis(now);
        let mut e = self.engine.lock();
        match e.handle_packet(now, &meta(m, Direction::Input)) {
            lvs_ipvs::Verdict::Forward(f) => {
                return Verdict::Forward {
                    method: f.fwd,
                    daddr: f.daddr,
                    dport: f.dport,
                }
            }
            lvs_ipvs::Verdict::Drop(_) | lvs_ipvs::Verdict::Unreachable => return Verdict::Drop,
            lvs_ipvs::Verdict::Reply(_) | lvs_ipvs::Verdict::Pass => {}
        }
        // Not for a service: maybe a NAT reply (the kernel's ip_vs_out).
        match e.handle_packet(now, &meta(m, Direction::Output)) {
            lvs_ipvs::Verdict::Reply(f) if f.fwd == FwdMethod::Masq => {
                match e.connection(f.conn, now) {
                    Some(c) => Verdict::Reply {
                        vaddr: c.vaddr,
                        vport: c.vport,
                    },
                    None => Verdict::Pass,
                }
            }
            _ => Verdict::Pass,
        }
    }

    fn tick(&mut self, now: Duration) {
        self.engine.lock().expire(millis(now));
    }
}

/// (IP protocol, address, port).
pub type Endpoint = (u8, IpAddr, u16);

/// The services' (protocol, address, port) triples and the NAT real servers
/// (protocol, address, port) of the engine: what the ingress rules hide from
/// the local stack.
pub fn forwarded_classes(e: &mut Ipvs) -> (Vec<Endpoint>, Vec<Endpoint>) {
    use lvs_ipvs::admin::IpvsBackend;
    let mut svcs = Vec::new();
    let mut nat = Vec::new();
    let Ok(list) = e.services() else {
        return (svcs, nat);
    };
    for s in list {
        let ServiceKey::Addr { proto, addr, port } = s.service.key else {
            continue; // fwmark services: marks are set after ingress
        };
        let p = proto.number() as u8;
        svcs.push((p, addr, port));
        if let Ok(ds) = e.dests(&s.service.key) {
            for d in ds {
                if d.dest.fwd == FwdMethod::Masq {
                    nat.push((p, d.dest.addr, d.dest.port));
                }
            }
        }
    }
    (svcs, nat)
}
