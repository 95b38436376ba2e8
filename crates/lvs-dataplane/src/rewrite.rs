//! In-place packet rewrites: Ethernet addresses (DR), destination/source NAT
//! with incremental checksums (RFC 1624), full L4 checksum completion for
//! frames captured before checksum offload ran, IPIP/IP6IP6 encapsulation
//! (TUN), and TCP segmentation of GSO super-frames.

use std::net::IpAddr;

use crate::csum;
use crate::parse::{proto, Ip, ETH_HLEN, ETH_P_IP, ETH_P_IPV6};

/// Sets the Ethernet destination and source.
pub fn set_eth(frame: &mut [u8], dst: [u8; 6], src: [u8; 6]) {
    frame[0..6].copy_from_slice(&dst);
    frame[6..12].copy_from_slice(&src);
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn l4_csum_off(ip: &Ip) -> Option<usize> {
    match ip.proto {
        proto::TCP => Some(ip.l4 + 16),
        proto::UDP => Some(ip.l4 + 6),
        _ => None,
    }
}

/// Which end of the flow to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Source address/port.
    Src,
    /// Destination address/port.
    Dst,
}

/// Rewrites one end's address and port, updating the IPv4 header checksum
/// and the TCP/UDP checksum incrementally. `addr` must have the packet's
/// family. When `l4_partial` is true the L4 checksum is left for
/// [`complete_l4_checksum`] (it is not a valid sum yet).
pub fn nat(frame: &mut [u8], ip: &Ip, end: End, addr: IpAddr, port: u16, l4_partial: bool) {
    let new = addr_bytes(&addr);
    let (aoff, alen) = match (ip.is_v6(), end) {
        (false, End::Src) => (ip.l3 + 12, 4),
        (false, End::Dst) => (ip.l3 + 16, 4),
        (true, End::Src) => (ip.l3 + 8, 16),
        (true, End::Dst) => (ip.l3 + 24, 16),
    };
    assert_eq!(new.len(), alen, "address family mismatch");
    let old = frame[aoff..aoff + alen].to_vec();
    frame[aoff..aoff + alen].copy_from_slice(&new);
    if !ip.is_v6() {
        let c = u16::from_be_bytes([frame[ip.l3 + 10], frame[ip.l3 + 11]]);
        let c = csum::update(c, &old, &new);
        frame[ip.l3 + 10..ip.l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    if !ip.l4_ok {
        return;
    }
    let poff = match end {
        End::Src => ip.l4,
        End::Dst => ip.l4 + 2,
    };
    let oldp = [frame[poff], frame[poff + 1]];
    frame[poff..poff + 2].copy_from_slice(&port.to_be_bytes());
    if l4_partial {
        return;
    }
    let Some(coff) = l4_csum_off(ip) else {
        return;
    };
    let c = u16::from_be_bytes([frame[coff], frame[coff + 1]]);
    if ip.proto == proto::UDP && c == 0 && !ip.is_v6() {
        return; // IPv4 UDP without checksum
    }
    let mut c = csum::update(c, &old, &new);
    c = csum::update(c, &oldp, &port.to_be_bytes());
    if ip.proto == proto::UDP && c == 0 {
        c = 0xffff;
    }
    frame[coff..coff + 2].copy_from_slice(&c.to_be_bytes());
}

/// Computes the TCP/UDP checksum of the packet from scratch (for frames whose
/// checksum was still pending offload, `TP_STATUS_CSUMNOTREADY`).
pub fn complete_l4_checksum(frame: &mut [u8], ip: &Ip) {
    let Some(coff) = l4_csum_off(ip) else {
        return;
    };
    if !ip.l4_ok || ip.fragment {
        return;
    }
    frame[coff] = 0;
    frame[coff + 1] = 0;
    let (s, d) = if ip.is_v6() {
        (ip.l3 + 8..ip.l3 + 24, ip.l3 + 24..ip.l3 + 40)
    } else {
        (ip.l3 + 12..ip.l3 + 16, ip.l3 + 16..ip.l3 + 20)
    };
    let len = (ip.end - ip.l4) as u32;
    let acc = csum::pseudo(&frame[s], &frame[d], ip.proto, len);
    let mut c = !csum::fold(csum::add(acc, &frame[ip.l4..ip.end]));
    if ip.proto == proto::UDP && c == 0 {
        c = 0xffff;
    }
    frame[coff..coff + 2].copy_from_slice(&c.to_be_bytes());
}

/// Rewrites the IPv4 header checksum from scratch.
pub fn ipv4_header_checksum(frame: &mut [u8], l3: usize) {
    let ihl = usize::from(frame[l3] & 0x0f) * 4;
    frame[l3 + 10] = 0;
    frame[l3 + 11] = 0;
    let c = csum::checksum(&frame[l3..l3 + ihl]);
    frame[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

/// Builds a tunnel frame: Ethernet (`dst`,`src`) + outer IP header
/// (`outer_src` → `outer_dst`, IPIP or IPv6-in-IPv6) + the inner IP packet of
/// `frame`. Outer TTL/hop limit = inner; DSCP/ECN copied; DF copied from inner
/// IPv4. `id` is the outer IPv4 identification.
pub fn encapsulate(
    frame: &[u8],
    ip: &Ip,
    outer_src: IpAddr,
    outer_dst: IpAddr,
    id: u16,
    out: &mut Vec<u8>,
) -> bool {
    let inner = &frame[ip.l3..ip.end];
    let inner_proto = if ip.is_v6() { proto::IPV6 } else { proto::IPIP };
    let (ttl, tos) = if ip.is_v6() {
        (inner[7], ((inner[0] & 0x0f) << 4) | (inner[1] >> 4))
    } else {
        (inner[8], inner[1])
    };
    out.clear();
    out.extend_from_slice(&[0u8; 12]);
    match (outer_src, outer_dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&ETH_P_IP.to_be_bytes());
            let tot = (20 + inner.len()) as u16;
            let df: u16 = if ip.dont_fragment { 0x4000 } else { 0 };
            let l3 = out.len();
            out.extend_from_slice(&[0x45, tos]);
            out.extend_from_slice(&tot.to_be_bytes());
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&df.to_be_bytes());
            out.extend_from_slice(&[ttl, inner_proto, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            out.extend_from_slice(inner);
            ipv4_header_checksum(out, l3);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
            out.push(0x60 | (tos >> 4));
            out.push(tos << 4);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(inner.len() as u16).to_be_bytes());
            out.push(inner_proto);
            out.push(ttl);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            out.extend_from_slice(inner);
        }
        _ => return false,
    }
    debug_assert!(out.len() >= ETH_HLEN);
    true
}

/// Splits a TCP packet whose IP length exceeds `mtu` into segments of at most
/// `mtu` bytes of IP packet, each with complete checksums (the ones GSO would
/// have produced). Each segment is appended to `out` as a full Ethernet
/// frame, using `frame`'s Ethernet header. Returns false for non-TCP packets.
pub fn tcp_segment(frame: &[u8], ip: &Ip, mtu: usize, out: &mut Vec<Vec<u8>>) -> bool {
    if ip.proto != proto::TCP || !ip.l4_ok || ip.fragment {
        return false;
    }
    let thl = usize::from(frame[ip.l4 + 12] >> 4) * 4;
    let hdr_end = ip.l4 + thl;
    if hdr_end > ip.end {
        return false;
    }
    let iph = ip.l4 - ip.l3;
    let mss = match mtu.checked_sub(iph + thl) {
        Some(m) if m > 0 => m,
        _ => return false,
    };
    let payload = &frame[hdr_end..ip.end];
    let seq0 = u32::from_be_bytes(frame[ip.l4 + 4..ip.l4 + 8].try_into().expect("4 bytes"));
    let flags = frame[ip.l4 + 13];
    let id0 = if ip.is_v6() {
        0
    } else {
        u16::from_be_bytes([frame[ip.l3 + 4], frame[ip.l3 + 5]])
    };
    let n = payload.len().div_ceil(mss).max(1);
    for (i, chunk) in payload.chunks(mss).enumerate() {
        let mut f = Vec::with_capacity(hdr_end + chunk.len());
        f.extend_from_slice(&frame[..hdr_end]);
        f.extend_from_slice(chunk);
        let last = i + 1 == n;
        // FIN and PSH only on the last segment (as GSO does); CWR only first.
        let mut fl = flags;
        if !last {
            fl &= !(0x01 | 0x08);
        }
        if i > 0 {
            fl &= !0x80;
        }
        f[ip.l4 + 13] = fl;
        let seq = seq0.wrapping_add((i * mss) as u32);
        f[ip.l4 + 4..ip.l4 + 8].copy_from_slice(&seq.to_be_bytes());
        let iplen = iph + thl + chunk.len();
        if ip.is_v6() {
            f[ip.l3 + 4..ip.l3 + 6].copy_from_slice(&((iplen - 40) as u16).to_be_bytes());
        } else {
            f[ip.l3 + 2..ip.l3 + 4].copy_from_slice(&(iplen as u16).to_be_bytes());
            f[ip.l3 + 4..ip.l3 + 6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
            ipv4_header_checksum(&mut f, ip.l3);
        }
        let seg = Ip {
            end: ip.l3 + iplen,
            ..*ip
        };
        complete_l4_checksum(&mut f, &seg);
        out.push(f);
    }
    true
}
