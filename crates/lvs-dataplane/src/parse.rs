//! Minimal, allocation-free parsing of the frames the data plane handles:
//! Ethernet II, ARP, IPv4 (options allowed), IPv6 (no extension headers),
//! TCP, UDP, and the ICMPv6 neighbour-discovery messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// EtherType IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;
/// Ethernet header length.
pub const ETH_HLEN: usize = 14;

/// IP protocol numbers used here.
pub mod proto {
    /// IPv4-in-IP.
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6-in-IP.
    pub const IPV6: u8 = 41;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// The EtherType of a frame (None if shorter than an Ethernet header).
pub fn ethertype(frame: &[u8]) -> Option<u16> {
    (frame.len() >= ETH_HLEN).then(|| u16::from_be_bytes([frame[12], frame[13]]))
}

/// A parsed IPv4/IPv6 TCP/UDP packet inside an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip {
    /// Offset of the IP header (14 for untagged Ethernet).
    pub l3: usize,
    /// Offset of the L4 header.
    pub l4: usize,
    /// End of the IP packet (frame padding excluded).
    pub end: usize,
    /// L4 protocol.
    pub proto: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 when `l4_ok` is false).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
    /// A complete TCP/UDP header is present (not a non-first fragment).
    pub l4_ok: bool,
    /// IPv4 fragment (MF set or offset non-zero).
    pub fragment: bool,
    /// IPv4 DF bit.
    pub dont_fragment: bool,
}

impl Ip {
    /// True for IPv6.
    pub fn is_v6(&self) -> bool {
        self.src.is_ipv6()
    }
}

/// Parses an IP packet at `l3` of `frame` whose EtherType is `ethertype`.
pub fn ip(frame: &[u8], ethertype: u16, l3: usize) -> Option<Ip> {
    let p = frame.get(l3..)?;
    let (l4, end, proto, src, dst, fragment, df) = match ethertype {
        ETH_P_IP => {
            if p.len() < 20 || p[0] >> 4 != 4 {
                return None;
            }
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let tot = usize::from(u16::from_be_bytes([p[2], p[3]]));
            if ihl < 20 || tot < ihl || tot > p.len() {
                return None;
            }
            let frag = u16::from_be_bytes([p[6], p[7]]);
            let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
            (
                l3 + ihl,
                l3 + tot,
                p[9],
                IpAddr::V4(src),
                IpAddr::V4(dst),
                frag & 0x3fff != 0,
                frag & 0x4000 != 0,
            )
        }
        ETH_P_IPV6 => {
            if p.len() < 40 || p[0] >> 4 != 6 {
                return None;
            }
            let plen = usize::from(u16::from_be_bytes([p[4], p[5]]));
            if 40 + plen > p.len() {
                return None;
            }
            let src: [u8; 16] = p[8..24].try_into().ok()?;
            let dst: [u8; 16] = p[24..40].try_into().ok()?;
            (
                l3 + 40,
                l3 + 40 + plen,
                p[6],
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                false,
                true,
            )
        }
        _ => return None,
    };
    let first_frag = !fragment || u16::from_be_bytes([p[6], p[7]]) & 0x1fff == 0;
    let l4h = &frame[l4..end];
    let (sport, dport, flags, l4_ok) = match proto {
        proto::TCP if first_frag && l4h.len() >= 20 => (
            u16::from_be_bytes([l4h[0], l4h[1]]),
            u16::from_be_bytes([l4h[2], l4h[3]]),
            l4h[13],
            usize::from(l4h[12] >> 4) * 4 >= 20,
        ),
        proto::UDP | proto::SCTP if first_frag && l4h.len() >= 8 => (
            u16::from_be_bytes([l4h[0], l4h[1]]),
            u16::from_be_bytes([l4h[2], l4h[3]]),
            0,
            true,
        ),
        _ => (0, 0, 0, false),
    };
    Some(Ip {
        l3,
        l4,
        end,
        proto,
        src,
        dst,
        sport,
        dport,
        tcp_flags: flags,
        l4_ok,
        fragment,
        dont_fragment: df,
    })
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// 1 request, 2 reply.
    pub op: u16,
    /// Sender MAC.
    pub sha: [u8; 6],
    /// Sender IP.
    pub spa: Ipv4Addr,
    /// Target MAC.
    pub tha: [u8; 6],
    /// Target IP.
    pub tpa: Ipv4Addr,
}

/// Parses the ARP payload of `frame` (EtherType already checked).
pub fn arp(frame: &[u8]) -> Option<Arp> {
    let a = frame.get(ETH_HLEN..ETH_HLEN + 28)?;
    if a[0..2] != [0, 1] || a[2..4] != [8, 0] || a[4] != 6 || a[5] != 4 {
        return None;
    }
    Some(Arp {
        op: u16::from_be_bytes([a[6], a[7]]),
        sha: a[8..14].try_into().ok()?,
        spa: Ipv4Addr::new(a[14], a[15], a[16], a[17]),
        tha: a[18..24].try_into().ok()?,
        tpa: Ipv4Addr::new(a[24], a[25], a[26], a[27]),
    })
}

/// A neighbour advertisement (ICMPv6 type 136) or solicitation (135) with
/// the link-layer address option, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nd {
    /// 135 solicitation, 136 advertisement.
    pub icmp_type: u8,
    /// Target address.
    pub target: Ipv6Addr,
    /// Source of the IPv6 packet.
    pub src: Ipv6Addr,
    /// Source (NS) or target (NA) link-layer address option.
    pub lladdr: Option<[u8; 6]>,
}

/// Parses an NS/NA inside an already parsed IPv6 packet.
pub fn nd(frame: &[u8], ip: &Ip) -> Option<Nd> {
    if ip.proto != proto::ICMPV6 {
        return None;
    }
    let m = frame.get(ip.l4..ip.end)?;
    if m.len() < 24 || !(m[0] == 135 || m[0] == 136) || m[1] != 0 {
        return None;
    }
    let target: [u8; 16] = m[8..24].try_into().ok()?;
    let mut lladdr = None;
    let mut o = &m[24..];
    while o.len() >= 8 {
        let len = usize::from(o[1]) * 8;
        if len == 0 || len > o.len() {
            break;
        }
        if (o[0] == 1 || o[0] == 2) && len == 8 {
            lladdr = o[2..8].try_into().ok();
        }
        o = &o[len..];
    }
    let IpAddr::V6(src) = ip.src else {
        return None;
    };
    Some(Nd {
        icmp_type: m[0],
        target: Ipv6Addr::from(target),
        src,
        lladdr,
    })
}
