//! The packet path: one received frame in, zero or more frames to transmit
//! out. Sans-IO: the caller owns the sockets and the clock.

use std::net::IpAddr;
use std::time::Duration;

use crate::decide::{Decider, FwdMethod, PacketMeta, Verdict};
use crate::neigh::{self, NeighCache};
use crate::parse::{self, proto, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6};
use crate::rewrite::{self, End};
use crate::route::{NextHop, Routing};

/// `sll_pkttype` of a frame addressed to our MAC.
pub const PACKET_HOST: u8 = 0;

/// Receive metadata of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// Interface it arrived on.
    pub ifindex: i32,
    /// `sll_pkttype` (0 = to us).
    pub pkttype: u8,
    /// The L4 checksum is a partial (offload) sum that must be completed.
    pub csum_not_ready: bool,
}

/// A frame to transmit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFrame {
    /// Output interface.
    pub ifindex: i32,
    /// The complete Ethernet frame.
    pub frame: Vec<u8>,
}

/// Packet counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to [`Dataplane::handle`].
    pub rx: u64,
    /// Client → real-server packets forwarded (or queued for ARP).
    pub forwarded: u64,
    /// NAT replies translated.
    pub replies: u64,
    /// Packets left to the local stack.
    pub passed: u64,
    /// Packets the engine dropped.
    pub dropped_verdict: u64,
    /// Packets without a route / neighbour source address.
    pub dropped_no_route: u64,
    /// Packets larger than the output MTU that could not be segmented.
    pub dropped_too_big: u64,
    /// TCP super-frames (GSO) split into segments.
    pub segmented: u64,
    /// Neighbour probes (ARP requests / neighbour solicitations) sent.
    pub probes: u64,
    /// Frames queued waiting for a neighbour.
    pub queued: u64,
}

/// The data plane state: routing snapshot, neighbour cache, the decider.
#[derive(Debug)]
pub struct Dataplane<D> {
    decider: D,
    routing: Routing,
    neigh: NeighCache,
    counters: Counters,
    ip_id: u16,
    pool: Vec<Vec<u8>>,
    seg: Vec<Vec<u8>>,
    pending: Vec<TxFrame>,
}

impl<D: Decider> Dataplane<D> {
    /// A data plane over `routing` asking `decider`.
    pub fn new(decider: D, routing: Routing) -> Self {
        Self {
            decider,
            routing,
            neigh: NeighCache::new(),
            counters: Counters::default(),
            ip_id: 1,
            pool: Vec::new(),
            seg: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The decider.
    pub fn decider(&self) -> &D {
        &self.decider
    }

    /// The decider, mutably.
    pub fn decider_mut(&mut self) -> &mut D {
        &mut self.decider
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Frames dropped by the neighbour cache (queue overflow / no answer).
    pub fn neigh_dropped(&self) -> u64 {
        self.neigh.dropped
    }

    /// The routing snapshot.
    pub fn routing(&self) -> &Routing {
        &self.routing
    }

    /// Replaces the routing snapshot (interfaces, addresses, routes).
    pub fn set_routing(&mut self, routing: Routing) {
        self.routing = routing;
    }

    /// Seeds a neighbour from the kernel's table or another worker (only
    /// when not known yet or when it changed). Frames that were waiting for
    /// it become pending (see [`Dataplane::take_pending`]).
    pub fn seed_neighbour(&mut self, now: Duration, ifindex: i32, addr: IpAddr, mac: [u8; 6]) {
        let known = self
            .neigh
            .known()
            .any(|(i, a, m)| i == ifindex && a == addr && m == mac);
        if !known {
            let q = self.neigh.learn(now, ifindex, addr, mac);
            self.pending
                .extend(q.into_iter().map(|frame| TxFrame { ifindex, frame }));
        }
    }

    /// Moves frames released outside [`Dataplane::handle`] (by
    /// [`Dataplane::seed_neighbour`]) to `out`.
    pub fn take_pending(&mut self, out: &mut Vec<TxFrame>) {
        out.append(&mut self.pending);
    }

    /// Known neighbours.
    pub fn neighbours(&self) -> Vec<(i32, IpAddr, [u8; 6])> {
        self.neigh.known().collect()
    }

    /// Returns transmitted frames' buffers for reuse.
    pub fn recycle(&mut self, frames: impl IntoIterator<Item = TxFrame>) {
        for mut f in frames {
            if self.pool.len() < 1024 {
                f.frame.clear();
                self.pool.push(f.frame);
            }
        }
    }

    fn buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_else(|| Vec::with_capacity(2048))
    }

    /// Timers: the engine's connection expiry and the neighbour cache.
    pub fn tick(&mut self, now: Duration) {
        self.decider.tick(now);
        self.neigh.expire(now);
    }

    /// Handles one received frame, appending frames to transmit to `out`.
    pub fn handle(&mut self, now: Duration, rx: &RxMeta, frame: &[u8], out: &mut Vec<TxFrame>) {
        self.counters.rx += 1;
        let Some(et) = parse::ethertype(frame) else {
            return;
        };
        match et {
            ETH_P_ARP => self.on_arp(now, rx, frame, out),
            ETH_P_IP | ETH_P_IPV6 => {
                let Some(ip) = parse::ip(frame, et, parse::ETH_HLEN) else {
                    return;
                };
                if ip.proto == proto::ICMPV6 {
                    self.on_nd(now, rx, frame, &ip, out);
                    return;
                }
                if rx.pkttype != PACKET_HOST || !ip.l4_ok {
                    return;
                }
                self.on_ip(now, rx, frame, &ip, out);
            }
            _ => {}
        }
    }

    fn on_arp(&mut self, now: Duration, rx: &RxMeta, frame: &[u8], out: &mut Vec<TxFrame>) {
        let Some(a) = parse::arp(frame) else {
            return;
        };
        // Learn addresses we asked about (or already know), and replies
        // addressed to us (with fan-out, the worker that asked may not be the
        // one that receives the reply; workers share what they learn).
        let spa = IpAddr::V4(a.spa);
        let q = if a.op == 2
            && rx.pkttype == PACKET_HOST
            && self.routing.is_local(&IpAddr::V4(a.tpa))
        {
            self.neigh.learn(now, rx.ifindex, spa, a.sha)
        } else {
            self.neigh.update_known(now, rx.ifindex, spa, a.sha)
        };
        out.extend(q.into_iter().map(|frame| TxFrame {
            ifindex: rx.ifindex,
            frame,
        }));
    }

    fn on_nd(
        &mut self,
        now: Duration,
        rx: &RxMeta,
        frame: &[u8],
        ip: &parse::Ip,
        out: &mut Vec<TxFrame>,
    ) {
        let Some(nd) = parse::nd(frame, ip) else {
            return;
        };
        let (addr, mac) = match (nd.icmp_type, nd.lladdr) {
            (136, Some(m)) => (nd.target, m),
            (135, Some(m)) if !nd.src.is_unspecified() => (nd.src, m),
            _ => return,
        };
        let q = self
            .neigh
            .update_known(now, rx.ifindex, IpAddr::V6(addr), mac);
        out.extend(q.into_iter().map(|frame| TxFrame {
            ifindex: rx.ifindex,
            frame,
        }));
    }

    fn on_ip(
        &mut self,
        now: Duration,
        rx: &RxMeta,
        frame: &[u8],
        ip: &parse::Ip,
        out: &mut Vec<TxFrame>,
    ) {
        let meta = PacketMeta {
            proto: ip.proto,
            saddr: ip.src,
            sport: ip.sport,
            daddr: ip.dst,
            dport: ip.dport,
            tcp_flags: ip.tcp_flags,
            len: (ip.end - ip.l3) as u32,
        };
        match self.decider.decide(now, &meta) {
            Verdict::Pass => self.counters.passed += 1,
            Verdict::Drop => self.counters.dropped_verdict += 1,
            Verdict::Forward {
                method,
                daddr,
                dport,
            } => {
                self.counters.forwarded += 1;
                self.forward(now, rx, frame, ip, method, daddr, dport, out);
            }
            Verdict::Reply { vaddr, vport } => {
                self.counters.replies += 1;
                if vaddr.is_ipv4() != ip.is_v6() {
                    let mut f = self.buf();
                    f.extend_from_slice(&frame[..ip.end]);
                    rewrite::nat(&mut f, ip, End::Src, vaddr, vport, rx.csum_not_ready);
                    if rx.csum_not_ready {
                        rewrite::complete_l4_checksum(&mut f, ip);
                    }
                    match self.routing.lookup(&ip.dst) {
                        Some(nh) => self.emit(now, f, ip, nh, out),
                        None => self.counters.dropped_no_route += 1,
                    }
                } else {
                    self.counters.dropped_no_route += 1;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn forward(
        &mut self,
        now: Duration,
        rx: &RxMeta,
        frame: &[u8],
        ip: &parse::Ip,
        method: FwdMethod,
        daddr: IpAddr,
        dport: u16,
        out: &mut Vec<TxFrame>,
    ) {
        let Some(route) = self.routing.lookup(&daddr) else {
            self.counters.dropped_no_route += 1;
            return;
        };
        let mut f = self.buf();
        match method {
            FwdMethod::Route | FwdMethod::Local | FwdMethod::Bypass => {
                // DR: the packet is unchanged; the real server is the next hop.
                f.extend_from_slice(&frame[..ip.end]);
                if rx.csum_not_ready {
                    rewrite::complete_l4_checksum(&mut f, ip);
                }
                let nh = NextHop {
                    ifindex: route.ifindex,
                    addr: daddr,
                };
                self.emit(now, f, ip, nh, out);
            }
            FwdMethod::Masq => {
                if daddr.is_ipv4() == ip.is_v6() {
                    self.counters.dropped_no_route += 1;
                    return;
                }
                f.extend_from_slice(&frame[..ip.end]);
                rewrite::nat(&mut f, ip, End::Dst, daddr, dport, rx.csum_not_ready);
                if rx.csum_not_ready {
                    rewrite::complete_l4_checksum(&mut f, ip);
                }
                self.emit(now, f, ip, route, out);
            }
            FwdMethod::Tunnel => {
                let Some(src) = self.routing.source(route.ifindex, &daddr) else {
                    self.counters.dropped_no_route += 1;
                    return;
                };
                let mut inner = frame[..ip.end].to_vec();
                if rx.csum_not_ready {
                    rewrite::complete_l4_checksum(&mut inner, ip);
                }
                self.ip_id = self.ip_id.wrapping_add(1);
                if !rewrite::encapsulate(&inner, ip, src, daddr, self.ip_id, &mut f) {
                    self.counters.dropped_no_route += 1;
                    return;
                }
                let mtu = self.mtu(route.ifindex);
                if f.len() - parse::ETH_HLEN > mtu {
                    self.counters.dropped_too_big += 1;
                    return;
                }
                self.send_resolved(now, f, route, out);
            }
        }
    }

    fn mtu(&self, ifindex: i32) -> usize {
        self.routing.iface(ifindex).map_or(1500, |i| i.mtu as usize)
    }

    /// Sends an IP frame (header layout `ip`) to `nh`, segmenting TCP
    /// super-frames larger than the output MTU.
    fn emit(
        &mut self,
        now: Duration,
        f: Vec<u8>,
        ip: &parse::Ip,
        nh: NextHop,
        out: &mut Vec<TxFrame>,
    ) {
        let mtu = self.mtu(nh.ifindex);
        if ip.end - ip.l3 > mtu {
            let mut segs = std::mem::take(&mut self.seg);
            if rewrite::tcp_segment(&f, ip, mtu, &mut segs) {
                self.counters.segmented += 1;
                for s in segs.drain(..) {
                    self.send_resolved(now, s, nh, out);
                }
            } else {
                self.counters.dropped_too_big += 1;
            }
            self.seg = segs;
            return;
        }
        self.send_resolved(now, f, nh, out);
    }

    fn send_resolved(
        &mut self,
        now: Duration,
        mut f: Vec<u8>,
        nh: NextHop,
        out: &mut Vec<TxFrame>,
    ) {
        let Some(iface) = self.routing.iface(nh.ifindex) else {
            self.counters.dropped_no_route += 1;
            return;
        };
        let src_mac = iface.mac;
        f[6..12].copy_from_slice(&src_mac);
        let r = self.neigh.resolve(now, nh.ifindex, nh.addr);
        if r.probe {
            if let Some(p) = self.probe(nh) {
                self.counters.probes += 1;
                out.push(TxFrame {
                    ifindex: nh.ifindex,
                    frame: p,
                });
            }
        }
        match r.mac {
            Some(mac) => {
                f[0..6].copy_from_slice(&mac);
                out.push(TxFrame {
                    ifindex: nh.ifindex,
                    frame: f,
                });
            }
            None => {
                self.counters.queued += 1;
                self.neigh.enqueue(nh.ifindex, nh.addr, f);
            }
        }
    }

    fn probe(&self, nh: NextHop) -> Option<Vec<u8>> {
        let iface = self.routing.iface(nh.ifindex)?;
        match (nh.addr, self.routing.source(nh.ifindex, &nh.addr)?) {
            (IpAddr::V4(t), IpAddr::V4(s)) => Some(neigh::arp_request(iface.mac, s, t)),
            (IpAddr::V6(t), IpAddr::V6(s)) => Some(neigh::neighbour_solicitation(iface.mac, s, t)),
            _ => None,
        }
    }
}
