//! The director's interfaces and routes (a snapshot of the kernel's, pushed
//! in by the driver) and longest-prefix-match lookup.

use std::net::IpAddr;

/// A local interface the data plane may receive on or send from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// Interface index.
    pub ifindex: i32,
    /// Name.
    pub name: String,
    /// MAC address.
    pub mac: [u8; 6],
    /// MTU (bytes of IP packet).
    pub mtu: u32,
    /// Addresses with prefix lengths.
    pub addrs: Vec<(IpAddr, u8)>,
}

/// A route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Gateway (None: on-link).
    pub gateway: Option<IpAddr>,
    /// Output interface.
    pub ifindex: i32,
    /// Metric.
    pub metric: u32,
}

/// Where to send a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// Output interface.
    pub ifindex: i32,
    /// The neighbour to resolve (gateway or the destination itself).
    pub addr: IpAddr,
}

/// Interfaces and routes.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    ifaces: Vec<Iface>,
    routes: Vec<Route>,
}

fn prefix_match(net: &IpAddr, plen: u8, a: &IpAddr) -> bool {
    match (net, a) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let m = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(plen.min(32)))
            };
            u32::from(*n) & m == u32::from(*a) & m
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let m = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(plen.min(128)))
            };
            u128::from(*n) & m == u128::from(*a) & m
        }
        _ => false,
    }
}

impl Routing {
    /// Builds the table. Connected routes are derived from the interface
    /// addresses, so `routes` only needs the others (duplicates are harmless).
    pub fn new(ifaces: Vec<Iface>, mut routes: Vec<Route>) -> Self {
        for i in &ifaces {
            for (a, p) in &i.addrs {
                routes.push(Route {
                    dst: *a,
                    prefix_len: *p,
                    gateway: None,
                    ifindex: i.ifindex,
                    metric: u32::MAX,
                });
            }
        }
        Self { ifaces, routes }
    }

    /// The interfaces.
    pub fn ifaces(&self) -> &[Iface] {
        &self.ifaces
    }

    /// Interface by index.
    pub fn iface(&self, ifindex: i32) -> Option<&Iface> {
        self.ifaces.iter().find(|i| i.ifindex == ifindex)
    }

    /// True when `a` is configured on one of the interfaces.
    pub fn is_local(&self, a: &IpAddr) -> bool {
        self.ifaces
            .iter()
            .any(|i| i.addrs.iter().any(|(x, _)| x == a))
    }

    /// Longest-prefix match, then lowest metric.
    pub fn lookup(&self, dst: &IpAddr) -> Option<NextHop> {
        let r = self
            .routes
            .iter()
            .filter(|r| prefix_match(&r.dst, r.prefix_len, dst))
            .filter(|r| self.iface(r.ifindex).is_some())
            .max_by(|a, b| {
                a.prefix_len
                    .cmp(&b.prefix_len)
                    .then(b.metric.cmp(&a.metric))
            })?;
        Some(NextHop {
            ifindex: r.ifindex,
            addr: r.gateway.unwrap_or(*dst),
        })
    }

    /// The source address to use on `ifindex` toward `dst`: an address of the
    /// same family on that interface, preferring one whose prefix covers
    /// `dst`, then any such address of the director.
    pub fn source(&self, ifindex: i32, dst: &IpAddr) -> Option<IpAddr> {
        let same = |a: &IpAddr| a.is_ipv4() == dst.is_ipv4();
        let i = self.iface(ifindex)?;
        i.addrs
            .iter()
            .find(|(a, p)| same(a) && prefix_match(a, *p, dst))
            .or_else(|| i.addrs.iter().find(|(a, _)| same(a)))
            .or_else(|| {
                self.ifaces
                    .iter()
                    .flat_map(|i| i.addrs.iter())
                    .find(|(a, _)| same(a))
            })
            .map(|(a, _)| *a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn lpm() {
        let r = Routing::new(
            vec![
                Iface {
                    ifindex: 2,
                    name: "eth0".into(),
                    mac: [2, 0, 0, 0, 0, 1],
                    mtu: 1500,
                    addrs: vec![(ip("10.0.0.1"), 24), (ip("fd00::1"), 64)],
                },
                Iface {
                    ifindex: 3,
                    name: "eth1".into(),
                    mac: [2, 0, 0, 0, 0, 2],
                    mtu: 1500,
                    addrs: vec![(ip("192.168.1.1"), 24)],
                },
            ],
            vec![Route {
                dst: ip("0.0.0.0"),
                prefix_len: 0,
                gateway: Some(ip("10.0.0.254")),
                ifindex: 2,
                metric: 0,
            }],
        );
        assert_eq!(
            r.lookup(&ip("192.168.1.7")),
            Some(NextHop {
                ifindex: 3,
                addr: ip("192.168.1.7")
            })
        );
        assert_eq!(
            r.lookup(&ip("8.8.8.8")),
            Some(NextHop {
                ifindex: 2,
                addr: ip("10.0.0.254")
            })
        );
        assert_eq!(r.lookup(&ip("fd00::9")).unwrap().ifindex, 2);
        assert_eq!(r.lookup(&ip("fd01::9")), None);
        assert!(r.is_local(&ip("10.0.0.1")));
        assert_eq!(r.source(3, &ip("192.168.1.9")), Some(ip("192.168.1.1")));
        assert_eq!(r.source(3, &ip("fd00::9")), Some(ip("fd00::1")));
    }
}
