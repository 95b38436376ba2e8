//! Interface, address, route and neighbour facts the data plane needs, read
//! from sysfs, procfs and `getifaddrs` of the current network namespace.

use std::ffi::{CStr, CString};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Interface index of `name`.
pub fn if_index(name: &str) -> io::Result<i32> {
    let c = CString::new(name).map_err(|_| invalid(format!("bad interface name {name:?}")))?;
    // SAFETY: valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface named {name}"),
        ));
    }
    Ok(i as i32)
}

/// Name of interface `ifindex`.
pub fn if_name(ifindex: i32) -> io::Result<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buffer of IF_NAMESIZE bytes as required.
    let p = unsafe { libc::if_indextoname(ifindex as libc::c_uint, buf.as_mut_ptr()) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: if_indextoname wrote a NUL-terminated string into buf.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned())
}

fn sysfs(name: &str, attr: &str) -> io::Result<String> {
    if name.contains('/') || name == "." || name == ".." {
        return Err(invalid(format!("bad interface name {name:?}")));
    }
    Ok(
        std::fs::read_to_string(format!("/sys/class/net/{name}/{attr}"))?
            .trim()
            .to_string(),
    )
}

/// Hardware (MAC) address of `name`.
pub fn if_mac(name: &str) -> io::Result<[u8; 6]> {
    let s = sysfs(name, "address")?;
    parse_mac(&s).ok_or_else(|| invalid(format!("{name}: unexpected address {s:?}")))
}

/// MTU of `name`.
pub fn if_mtu(name: &str) -> io::Result<u32> {
    let s = sysfs(name, "mtu")?;
    s.parse()
        .map_err(|_| invalid(format!("{name}: unexpected mtu {s:?}")))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut n = 0;
    for (i, part) in s.split(':').enumerate() {
        if i >= 6 {
            return None;
        }
        mac[i] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(mac)
}

/// An address configured on a local interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddr {
    /// Interface index.
    pub ifindex: i32,
    /// Interface name.
    pub ifname: String,
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
}

/// Every IPv4/IPv6 address of the current namespace (`getifaddrs`).
pub fn local_addrs() -> io::Result<Vec<LocalAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head`; freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut p = head;
    while !p.is_null() {
        // SAFETY: p is a node of the list returned by getifaddrs.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr is non-null; sa_family tells the real type.
        let fam = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        let (addr, prefix_len) = match fam {
            libc::AF_INET => {
                // SAFETY: AF_INET ⇒ sockaddr_in (and the netmask likewise).
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                let plen = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    // SAFETY: as above.
                    let m = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in) };
                    u32::from_be(m.sin_addr.s_addr).count_ones() as u8
                };
                (IpAddr::V4(ip), plen)
            }
            libc::AF_INET6 => {
                // SAFETY: AF_INET6 ⇒ sockaddr_in6.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                let plen = if ifa.ifa_netmask.is_null() {
                    128
                } else {
                    // SAFETY: as above.
                    let m = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in6) };
                    m.sin6_addr
                        .s6_addr
                        .iter()
                        .map(|b| b.count_ones())
                        .sum::<u32>() as u8
                };
                (IpAddr::V6(ip), plen)
            }
            _ => continue,
        };
        let ifindex = if_index(&name).unwrap_or(0);
        out.push(LocalAddr {
            ifindex,
            ifname: name,
            addr,
            prefix_len,
        });
    }
    // SAFETY: head came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// One route of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    /// Output interface name.
    pub ifname: String,
    /// Destination prefix.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Gateway, `None` for on-link routes.
    pub gateway: Option<IpAddr>,
    /// Metric (lower wins among equal prefixes).
    pub metric: u32,
}

/// IPv4 routes from `/proc/net/route` (main table).
pub fn read_routes_v4() -> io::Result<Vec<RouteEntry>> {
    Ok(parse_routes_v4(&std::fs::read_to_string(
        "/proc/net/route",
    )?))
}

fn parse_routes_v4(text: &str) -> Vec<RouteEntry> {
    // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
    let hex = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::from_le);
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dst = Ipv4Addr::from(u32::from_be(hex(f[1])?));
            let gw = Ipv4Addr::from(u32::from_be(hex(f[2])?));
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            const RTF_UP: u32 = 1;
            const RTF_GATEWAY: u32 = 2;
            if flags & RTF_UP == 0 {
                return None;
            }
            let mask = u32::from_be(hex(f[7])?);
            Some(RouteEntry {
                ifname: f[0].to_string(),
                dst: IpAddr::V4(dst),
                prefix_len: mask.count_ones() as u8,
                gateway: (flags & RTF_GATEWAY != 0).then_some(IpAddr::V4(gw)),
                metric: f[6].parse().ok()?,
            })
        })
        .collect()
}

/// IPv6 routes from `/proc/net/ipv6_route`.
pub fn read_routes_v6() -> io::Result<Vec<RouteEntry>> {
    match std::fs::read_to_string("/proc/net/ipv6_route") {
        Ok(t) => Ok(parse_routes_v6(&t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn parse_v6_hex(s: &str) -> Option<Ipv6Addr> {
    if s.len() != 32 {
        return None;
    }
    u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from)
}

fn parse_routes_v6(text: &str) -> Vec<RouteEntry> {
    // dst dst_plen src src_plen nexthop metric refcnt use flags iface
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            const RTF_UP: u32 = 1;
            const RTF_GATEWAY: u32 = 2;
            const RTF_REJECT: u32 = 0x200;
            if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 || f[9] == "lo" {
                return None;
            }
            Some(RouteEntry {
                ifname: f[9].to_string(),
                dst: IpAddr::V6(parse_v6_hex(f[0])?),
                prefix_len: u8::from_str_radix(f[1], 16).ok()?,
                gateway: (flags & RTF_GATEWAY != 0)
                    .then(|| parse_v6_hex(f[4]).map(IpAddr::V6))
                    .flatten(),
                metric: u32::from_str_radix(f[5], 16).ok()?,
            })
        })
        .collect()
}

/// One complete entry of the kernel's IPv4 neighbour (ARP) table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpEntry {
    /// Neighbour address.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: [u8; 6],
    /// Interface name.
    pub ifname: String,
}

/// Complete entries of `/proc/net/arp`.
pub fn read_arp_table() -> io::Result<Vec<ArpEntry>> {
    Ok(parse_arp(&std::fs::read_to_string("/proc/net/arp")?))
}

fn parse_arp(text: &str) -> Vec<ArpEntry> {
    // IP address  HW type  Flags  HW address  Mask  Device
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            let flags = u32::from_str_radix(f[2].trim_start_matches("0x"), 16).ok()?;
            const ATF_COM: u32 = 2;
            if flags & ATF_COM == 0 {
                return None;
            }
            Some(ArpEntry {
                ip: f[0].parse().ok()?,
                mac: parse_mac(f[3])?,
                ifname: f[5].to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_v4() {
        let t =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t00000000\t0101000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                 eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                 eth1\t0000A8C0\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let r = parse_routes_v4(t);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].gateway, Some("10.0.1.1".parse().unwrap()));
        assert_eq!(r[0].prefix_len, 0);
        assert_eq!(r[1].dst, "10.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(r[1].prefix_len, 24);
        assert_eq!(r[1].gateway, None);
    }

    #[test]
    fn routes_v6() {
        let t = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
                 00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n\
                 00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        let r = parse_routes_v6(t);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].prefix_len, 64);
        assert_eq!(r[0].metric, 256);
        assert_eq!(r[1].gateway, Some("fd00::1".parse().unwrap()));
    }

    #[test]
    fn arp() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 10.0.0.56        0x1         0x2         02:00:00:00:00:38     *        eth0\n\
                 10.0.0.57        0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        let r = parse_arp(t);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].mac, [2, 0, 0, 0, 0, 0x38]);
        assert_eq!(parse_mac("zz:00:00:00:00:00"), None);
        assert_eq!(parse_mac("00:00:00:00:00"), None);
    }
}
