//! Neighbour resolution (ARP for IPv4, NDP for IPv6) done by the data plane
//! itself: a cache seeded from the kernel's table, probes sent through the
//! same packet socket, answers learned from the frames the ring sees, and a
//! short queue of frames waiting for an answer.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::csum;
use crate::parse::{proto, ETH_P_ARP, ETH_P_IPV6};

/// An entry is trusted without re-probing for this long after confirmation.
pub const REACHABLE: Duration = Duration::from_secs(30);
/// Minimum interval between probes for one neighbour.
pub const RETRANS: Duration = Duration::from_secs(1);
/// Frames queued per unresolved neighbour (older ones are dropped).
pub const QUEUE_LEN: usize = 16;
/// An unresolved neighbour (and its queue) is forgotten after this long.
pub const UNRESOLVED_TTL: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
struct Entry {
    mac: Option<[u8; 6]>,
    confirmed: Duration,
    last_probe: Option<Duration>,
    first_probe: Option<Duration>,
    queue: Vec<Vec<u8>>,
}

/// The outcome of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// The MAC to use now, if known.
    pub mac: Option<[u8; 6]>,
    /// A probe should be sent now.
    pub probe: bool,
}

/// The neighbour cache.
#[derive(Debug, Default)]
pub struct NeighCache {
    entries: HashMap<(i32, IpAddr), Entry>,
    /// Frames dropped because a neighbour queue overflowed or expired.
    pub dropped: u64,
}

impl NeighCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks `addr` up on `ifindex`, creating an entry if needed.
    pub fn resolve(&mut self, now: Duration, ifindex: i32, addr: IpAddr) -> Resolution {
        let e = self.entries.entry((ifindex, addr)).or_default();
        let fresh = e.mac.is_some() && now.saturating_sub(e.confirmed) < REACHABLE;
        let probe = !fresh
            && e.last_probe
                .is_none_or(|t| now.saturating_sub(t) >= RETRANS);
        if probe {
            e.last_probe = Some(now);
            e.first_probe.get_or_insert(now);
        }
        Resolution { mac: e.mac, probe }
    }

    /// Queues a frame until `addr` resolves (its destination MAC is filled in then).
    pub fn enqueue(&mut self, ifindex: i32, addr: IpAddr, frame: Vec<u8>) {
        let e = self.entries.entry((ifindex, addr)).or_default();
        if e.queue.len() >= QUEUE_LEN {
            e.queue.remove(0);
            self.dropped += 1;
        }
        e.queue.push(frame);
    }

    /// Records `addr` at `mac`; returns the frames that were waiting for it,
    /// destination MAC set.
    pub fn learn(
        &mut self,
        now: Duration,
        ifindex: i32,
        addr: IpAddr,
        mac: [u8; 6],
    ) -> Vec<Vec<u8>> {
        let e = self.entries.entry((ifindex, addr)).or_default();
        e.mac = Some(mac);
        e.confirmed = now;
        e.first_probe = None;
        let mut q = std::mem::take(&mut e.queue);
        for f in &mut q {
            f[0..6].copy_from_slice(&mac);
        }
        q
    }

    /// Updates an entry only if the address is already known or wanted (so
    /// that unsolicited traffic cannot grow the cache).
    pub fn update_known(
        &mut self,
        now: Duration,
        ifindex: i32,
        addr: IpAddr,
        mac: [u8; 6],
    ) -> Vec<Vec<u8>> {
        if self.entries.contains_key(&(ifindex, addr)) {
            self.learn(now, ifindex, addr, mac)
        } else {
            Vec::new()
        }
    }

    /// Forgets unresolved entries whose first probe is older than
    /// [`UNRESOLVED_TTL`] (dropping their queued frames).
    pub fn expire(&mut self, now: Duration) {
        let mut dropped = 0;
        self.entries.retain(|_, e| {
            let dead = e.mac.is_none()
                && e.first_probe
                    .is_some_and(|t| now.saturating_sub(t) >= UNRESOLVED_TTL);
            if dead {
                dropped += e.queue.len() as u64;
            }
            !dead
        });
        self.dropped += dropped;
    }

    /// Known (ifindex, address, MAC) triples.
    pub fn known(&self) -> impl Iterator<Item = (i32, IpAddr, [u8; 6])> + '_ {
        self.entries
            .iter()
            .filter_map(|((i, a), e)| e.mac.map(|m| (*i, *a, m)))
    }
}

/// Builds a broadcast ARP request "who has `target`? tell `src_ip`".
pub fn arp_request(src_mac: [u8; 6], src_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f.resize(60, 0);
    f
}

/// Builds a neighbour solicitation for `target` to its solicited-node
/// multicast group, with our link-layer address option.
pub fn neighbour_solicitation(src_mac: [u8; 6], src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let dst = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let d = dst.octets();
    let mut f = Vec::with_capacity(86);
    f.extend_from_slice(&[0x33, 0x33, d[12], d[13], d[14], d[15]]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    let plen: u16 = 32;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&plen.to_be_bytes());
    f.push(proto::ICMPV6);
    f.push(255);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&d);
    let l4 = f.len();
    f.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&t);
    f.extend_from_slice(&[1, 1]);
    f.extend_from_slice(&src_mac);
    let acc = csum::pseudo(&src_ip.octets(), &d, proto::ICMPV6, u32::from(plen));
    let c = !csum::fold(csum::add(acc, &f[l4..]));
    f[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    const T0: Duration = Duration::from_secs(100);

    #[test]
    fn resolve_queue_learn() {
        let mut n = NeighCache::new();
        let a: IpAddr = "10.0.0.56".parse().unwrap();
        let r = n.resolve(T0, 2, a);
        assert_eq!(
            r,
            Resolution {
                mac: None,
                probe: true
            }
        );
        n.enqueue(2, a, vec![0; 20]);
        // No second probe within RETRANS.
        assert!(!n.resolve(T0 + Duration::from_millis(500), 2, a).probe);
        assert!(n.resolve(T0 + RETRANS, 2, a).probe);
        let q = n.learn(T0 + RETRANS, 2, a, [2, 0, 0, 0, 0, 0x38]);
        assert_eq!(q.len(), 1);
        assert_eq!(&q[0][0..6], &[2, 0, 0, 0, 0, 0x38]);
        let r = n.resolve(T0 + RETRANS, 2, a);
        assert_eq!(r.mac, Some([2, 0, 0, 0, 0, 0x38]));
        assert!(!r.probe);
        // Stale: still usable, but re-probed.
        let r = n.resolve(T0 + RETRANS + REACHABLE, 2, a);
        assert!(r.mac.is_some() && r.probe);
        // Other interface is a different neighbour.
        assert_eq!(n.resolve(T0, 3, a).mac, None);
    }

    #[test]
    fn queue_bounded_and_expiry() {
        let mut n = NeighCache::new();
        let a: IpAddr = "10.0.0.9".parse().unwrap();
        n.resolve(T0, 2, a);
        for i in 0..(QUEUE_LEN + 3) {
            n.enqueue(2, a, vec![i as u8; 14]);
        }
        assert_eq!(n.dropped, 3);
        n.expire(T0 + UNRESOLVED_TTL);
        assert_eq!(n.dropped, 3 + QUEUE_LEN as u64);
        assert!(n.update_known(T0, 2, a, [1; 6]).is_empty());
        assert_eq!(n.known().count(), 0);
    }

    #[test]
    fn arp_request_parses() {
        let f = arp_request(
            [2, 0, 0, 0, 0, 1],
            "10.0.0.1".parse().unwrap(),
            "10.0.0.56".parse().unwrap(),
        );
        assert_eq!(parse::ethertype(&f), Some(ETH_P_ARP));
        let a = parse::arp(&f).unwrap();
        assert_eq!(a.op, 1);
        assert_eq!(a.tpa, Ipv4Addr::new(10, 0, 0, 56));
        assert_eq!(a.sha, [2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn ns_parses_and_checksums() {
        let f = neighbour_solicitation(
            [2, 0, 0, 0, 0, 1],
            "fd00::1".parse().unwrap(),
            "fd00::56".parse().unwrap(),
        );
        let ip = parse::ip(&f, ETH_P_IPV6, 14).unwrap();
        assert_eq!(ip.dst, "ff02::1:ff00:56".parse::<IpAddr>().unwrap());
        let nd = parse::nd(&f, &ip).unwrap();
        assert_eq!(nd.icmp_type, 135);
        assert_eq!(nd.lladdr, Some([2, 0, 0, 0, 0, 1]));
        // Checksum over pseudo header + message verifies to zero.
        let acc = csum::pseudo(&f[22..38], &f[38..54], proto::ICMPV6, 32);
        assert_eq!(!csum::fold(csum::add(acc, &f[54..])), 0);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0xff, 0x00, 0x00, 0x56]);
    }
}
