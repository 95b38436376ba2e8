//! [`PacketIo`] over AF_PACKET (TPACKET_V3 receive rings, `sendmmsg`
//! transmit) from `lvs_sys::packet`, and the routing/neighbour snapshot of
//! the kernel the plane starts from.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use lvs_sys::packet::{self as pk, Fanout, PacketSocket, RingConfig};

use crate::io::PacketIo;
use crate::plane::{RxMeta, TxFrame};
use crate::route::{Iface, Route, Routing};
use crate::DataplaneError;

/// A kernel neighbour entry: (ifindex, address, MAC).
pub type Neighbour = (i32, IpAddr, [u8; 6]);

/// One packet socket per interface.
#[derive(Debug)]
pub struct AfPacketIo {
    socks: Vec<PacketSocket>,
    by_ifindex: HashMap<i32, usize>,
}

impl AfPacketIo {
    /// Opens a socket on each interface; with `fanout`, joins group
    /// `(group + i)` on interface `i` so several workers share the load.
    pub fn open(
        ifnames: &[String],
        cfg: RingConfig,
        fanout: Option<(u16, Fanout)>,
    ) -> Result<Self, DataplaneError> {
        let mut socks = Vec::new();
        let mut by_ifindex = HashMap::new();
        for (i, name) in ifnames.iter().enumerate() {
            let idx = pk::if_index(name)
                .map_err(|e| DataplaneError::io(format!("interface {name}"), e))?;
            let s = PacketSocket::open(idx, cfg)
                .map_err(|e| DataplaneError::io(format!("AF_PACKET socket on {name}"), e))?;
            if let Some((group, mode)) = fanout {
                s.join_fanout(group.wrapping_add(i as u16), mode)
                    .map_err(|e| DataplaneError::io(format!("PACKET_FANOUT on {name}"), e))?;
            }
            by_ifindex.insert(idx, socks.len());
            socks.push(s);
        }
        if socks.is_empty() {
            return Err(DataplaneError::Config(
                "no interface for the data plane".into(),
            ));
        }
        Ok(Self { socks, by_ifindex })
    }

    /// Per-socket kernel counters (ring drops), summed; resets them.
    pub fn stats(&self) -> pk::SocketStats {
        let mut t = pk::SocketStats::default();
        for s in &self.socks {
            if let Ok(x) = s.stats() {
                t.packets += x.packets;
                t.drops += x.drops;
            }
        }
        t
    }
}

impl PacketIo for AfPacketIo {
    fn recv(&mut self, timeout: Duration, f: &mut dyn FnMut(&RxMeta, &[u8])) -> io::Result<usize> {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        if !pk::wait_any(&self.socks, ms)? {
            return Ok(0);
        }
        let mut n = 0;
        for s in &mut self.socks {
            n += s.recv_blocks(8, |fr| {
                if fr.data.len() as u32 != fr.wire_len {
                    return; // truncated: cannot be forwarded
                }
                let meta = RxMeta {
                    ifindex: fr.ifindex,
                    pkttype: fr.pkttype,
                    csum_not_ready: fr.csum_not_ready,
                };
                f(&meta, fr.data);
            });
        }
        Ok(n)
    }

    fn send(&mut self, frames: &[TxFrame]) -> io::Result<usize> {
        let mut sent = 0;
        if self.socks.len() == 1 {
            let b: Vec<&[u8]> = frames.iter().map(|t| t.frame.as_slice()).collect();
            return self.socks[0].send_batch(&b);
        }
        for (idx, &si) in &self.by_ifindex {
            let b: Vec<&[u8]> = frames
                .iter()
                .filter(|t| t.ifindex == *idx)
                .map(|t| t.frame.as_slice())
                .collect();
            if !b.is_empty() {
                sent += self.socks[si].send_batch(&b)?;
            }
        }
        Ok(sent)
    }
}

/// Reads the current namespace's interfaces (only `ifnames`), addresses and
/// routes into a [`Routing`], plus the kernel's complete ARP entries on them.
pub fn snapshot(ifnames: &[String]) -> Result<(Routing, Vec<Neighbour>), DataplaneError> {
    let addrs = pk::local_addrs().map_err(|e| DataplaneError::io("getifaddrs", e))?;
    let mut ifaces = Vec::new();
    for name in ifnames {
        let e = |what: &str| {
            let name = name.clone();
            let what = what.to_string();
            move |err| DataplaneError::io(format!("{what} of {name}"), err)
        };
        let ifindex = pk::if_index(name).map_err(e("index"))?;
        ifaces.push(Iface {
            ifindex,
            name: name.clone(),
            mac: pk::if_mac(name).map_err(e("MAC"))?,
            mtu: pk::if_mtu(name).map_err(e("MTU"))?,
            addrs: addrs
                .iter()
                .filter(|a| a.ifname == *name)
                .map(|a| (a.addr, a.prefix_len))
                .collect(),
        });
    }
    let mut routes = Vec::new();
    let v4 = pk::read_routes_v4().map_err(|e| DataplaneError::io("/proc/net/route", e))?;
    let v6 = pk::read_routes_v6().map_err(|e| DataplaneError::io("/proc/net/ipv6_route", e))?;
    for r in v4.into_iter().chain(v6) {
        if let Some(i) = ifaces.iter().find(|i| i.name == r.ifname) {
            routes.push(Route {
                dst: r.dst,
                prefix_len: r.prefix_len,
                gateway: r.gateway,
                ifindex: i.ifindex,
                metric: r.metric,
            });
        }
    }
    let arp = pk::read_arp_table().map_err(|e| DataplaneError::io("/proc/net/arp", e))?;
    let neigh = arp
        .into_iter()
        .filter_map(|a| {
            ifaces
                .iter()
                .find(|i| i.name == a.ifname)
                .map(|i| (i.ifindex, IpAddr::V4(a.ip), a.mac))
        })
        .collect();
    Ok((Routing::new(ifaces, routes), neigh))
}
