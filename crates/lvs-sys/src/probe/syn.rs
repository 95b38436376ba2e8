//! TCP_CHECK as a half-open probe: a SYN from a raw socket, no connection on either side.
//!
//! The director sends the SYN itself (a raw `IPPROTO_TCP` socket with `IP_HDRINCL`, our own
//! IPv4 header and TCP checksum) and reads the answer on the same socket: a SYN-ACK acknowledging
//! our ISN means the port is up, a RST means refused, nothing by `connect_timeout` means down
//! (the SYN is sent again after 1 s, 3 s, 7 s … within `connect_timeout`, as the kernel's
//! `connect` does). No socket owns the 4-tuple, so the director's kernel answers the SYN-ACK
//! with a RST of its own: the server drops its SYN-RECV entry and neither side keeps a socket
//! (no accept, no FIN exchange, no TIME_WAIT) — what an F5 "tcp_half_open" monitor does.
//!
//! Source ports come from a small range that [`Reservation`] holds with ordinary TCP sockets,
//! *bound* but neither listening nor connected: no other local socket can take those ports
//! (neither `bind` nor an ephemeral `connect`), and a bound socket is in neither the established
//! nor the listening lookup table, so the kernel still answers the SYN-ACK with a RST. A classic
//! BPF filter on the raw socket passes only SYN or RST segments to that range (a director sees
//! a lot of TCP; the rest never reaches user space). A reply is matched by (source address,
//! source port, our port) and the acknowledgement number (our ISN + 1).
//!
//! The source address is `bindto` when set (a `bindto` this host cannot bind fails the check,
//! as keepalived's bind does), otherwise the address the kernel would choose for
//! the destination (learnt with a connected UDP socket, cached for a minute). Sends are batched
//! with `sendmmsg`, replies read with `recvmmsg`; as in the connector, one task polls every
//! [`POLL`] while probes are in flight and sleeps otherwise.
//!
//! IPv6 runs on a second raw socket (`IPPROTO_TCP`, `IPV6_CHECKSUM` at offset 16: the kernel
//! chooses the source address and fills in the checksum; the reply's TCP header comes without
//! the IPv6 header, its source in the message name), with the same ports reserved for IPv6 too.
//!
//! `bind_port` is the probe's source port: outside the reserved range lvsd holds it the same
//! way (a bound TCP socket at `bindto`, or the wildcard, as keepalived's bind) and adds it to the
//! filter, and lets it go once no probe asked for it in ten minutes; if another socket has it,
//! the connect probe runs the check (and fails, as keepalived's bind does). Probes of one server
//! from one port go one at a time (the 4-tuple is the key).
//!
//! ICMP errors quoting one of our SYNs end its probe at once, as they end a kernel `connect` in
//! SYN-SENT (`tcp_v4_err` / `tcp_v6_err`): destination unreachable (but "fragmentation needed" /
//! "packet too big"), time exceeded and parameter problem, with the errno the kernel's table
//! gives (`icmp_err_convert`, `icmpv6_err_convert`) — "No route to host" when the director's
//! own neighbour resolution fails for an on-link server, as keepalived's connect reports it.
//! They are read on raw ICMP / ICMPv6 sockets (a BPF filter passes only those types) and
//! matched by the quoted destination, our port and our ISN as the sequence number.
//!
//! Not taken here (the connect probe runs them): `bind_if` and `fwmark` (per-socket options a
//! shared raw socket cannot carry per packet), IPv6 with `bindto` or `bind_port`, and IPv6 when
//! the IPv6 raw socket or reservation is not available.

use std::cmp::Reverse;
use std::collections::hash_map::RandomState;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lvs_check::{ProbeKind, ProbeResult, ProbeSpec, RunId};
use socket2::{Domain, SockAddr, Socket, Type};
use tokio::sync::Notify;

use super::{Done, Job};

/// Segments read or written per `recvmmsg` / `sendmmsg`.
const BATCH: usize = 64;
/// While probes are in flight, the raw socket is read this often.
const POLL: Duration = Duration::from_millis(10);
/// Source ports reserved for probes.
pub(crate) const PORTS: u16 = 64;
/// The first SYN retransmission (then doubling), as the kernel's `connect`.
const RTO: Duration = Duration::from_secs(1);
/// A `bind_port` held for probes is let go when no probe asked for it in this long (its
/// checker was removed by a reload, say); a later probe holds it again.
const HELD_IDLE: Duration = Duration::from_secs(600);
/// A learnt source address is asked again after this long (routes change).
const SRC_TTL: Duration = Duration::from_secs(60);
/// Bytes kept of a received segment (IPv4 header with options + TCP header).
const SNAP: usize = 80;
/// Bytes kept of a received ICMP error (outer and quoted IPv4 headers with options, the ICMP
/// header, the quoted TCP ports and sequence number).
const SNAP_ICMP: usize = 160;
/// The SYN's length: IPv4 header (20) + TCP header with the MSS option (24).
const SYN_LEN: usize = 44;
/// An IPv6 SYN's TCP header with the MSS option.
const SYN6_LEN: usize = 24;
/// TCP flags.
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// Whether a half-open probe can run this check (TCP_CHECK without `bind_if`, `fwmark`; to
/// IPv6 only with `ipv6` and neither `bindto` nor `bind_port`).
pub(crate) fn runs(spec: &ProbeSpec, ipv6: bool) -> bool {
    let t = &spec.target;
    let family = match t.connect_ip {
        IpAddr::V4(_) => t.bindto.is_none_or(|b| b.is_ipv4()),
        IpAddr::V6(_) => ipv6 && t.bindto.is_none() && t.bind_port.is_none(),
    };
    matches!(spec.kind, ProbeKind::TcpCheck) && family && t.bind_if.is_none() && t.fwmark.is_none()
}

/// The internet checksum (RFC 1071) of `data`, continuing from `sum`.
fn sum16(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The TCP checksum of `seg` (checksum field zero) over the IPv4 pseudo-header.
pub(crate) fn tcp_checksum_v4(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8]) -> u16 {
    let mut sum = sum16(0, &src.octets());
    sum = sum16(sum, &dst.octets());
    sum += 6 + seg.len() as u32;
    fold(sum16(sum, seg))
}

/// One SYN: IPv4 header (identification and header checksum left to the kernel, DF set,
/// TTL 64) and a TCP header with window 64240 and an MSS option of 1460.
pub(crate) fn build_syn(src: SocketAddrV4, dst: SocketAddrV4, isn: u32) -> [u8; SYN_LEN] {
    let mut p = [0u8; SYN_LEN];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(SYN_LEN as u16).to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = libc::IPPROTO_TCP as u8;
    p[12..16].copy_from_slice(&src.ip().octets());
    p[16..20].copy_from_slice(&dst.ip().octets());
    let t = &mut p[20..];
    t[0..2].copy_from_slice(&src.port().to_be_bytes());
    t[2..4].copy_from_slice(&dst.port().to_be_bytes());
    t[4..8].copy_from_slice(&isn.to_be_bytes());
    t[12] = 6 << 4; // data offset: 6 words
    t[13] = SYN;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let c = tcp_checksum_v4(*src.ip(), *dst.ip(), t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    p
}

/// The TCP header of an IPv6 SYN (the checksum is left to the kernel: `IPV6_CHECKSUM`).
pub(crate) fn build_syn6(sport: u16, dport: u16, isn: u32) -> [u8; SYN6_LEN] {
    let mut t = [0u8; SYN6_LEN];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&isn.to_be_bytes());
    t[12] = 6 << 4;
    t[13] = SYN;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0x8c]); // MSS 1420
    t
}

/// What a received segment says, once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The server (source of the segment).
    pub(crate) from: SocketAddr,
    /// Our port (its destination).
    pub(crate) port: u16,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
}

impl Reply {
    /// A SYN-ACK: the port is open.
    pub(crate) fn open(&self) -> bool {
        self.flags & (SYN | ACK | RST) == SYN | ACK
    }

    /// A RST with an acknowledgement: refused.
    pub(crate) fn refused(&self) -> bool {
        self.flags & (RST | ACK) == RST | ACK
    }
}

/// Parses an IPv4 packet carrying a TCP segment (as a raw socket returns it); `None` for
/// anything else (fragments, truncated).
pub(crate) fn parse_reply(p: &[u8]) -> Option<Reply> {
    if p.len() < 20 || p[0] >> 4 != 4 || p[9] != libc::IPPROTO_TCP as u8 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    let frag = u16::from_be_bytes([p[6], p[7]]);
    if ihl < 20 || frag & 0x3fff != 0 || total < ihl + 20 || p.len() < ihl + 20 {
        return None;
    }
    let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    // No checksum check: on the loopback and veth the kernel hands segments over with the
    // checksum left to "offload" (not filled in); a reply counts only if it acknowledges our
    // random ISN.
    parse_tcp(IpAddr::V4(src), &p[ihl..])
}

/// Parses a TCP header from `src` (an IPv6 raw socket's data); `None` if truncated.
pub(crate) fn parse_tcp(src: IpAddr, t: &[u8]) -> Option<Reply> {
    if t.len() < 20 {
        return None;
    }
    Some(Reply {
        from: SocketAddr::new(src, u16::from_be_bytes([t[0], t[1]])),
        port: u16::from_be_bytes([t[2], t[3]]),
        ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
        flags: t[13],
    })
}

/// The classic BPF program for the raw socket: IPv4 non-fragments, TCP destination port in
/// `lo..=hi` or one of `extra` (`bind_port`s), SYN or RST set; the first [`SNAP`] bytes are kept.
pub(crate) fn filter(lo: u16, hi: u16, extra: &[u16]) -> Vec<libc::sock_filter> {
    const LD_H_ABS: u16 = 0x28;
    const LDX_B_MSH: u16 = 0xb1;
    const LD_H_IND: u16 = 0x48;
    const LD_B_IND: u16 = 0x50;
    const JSET: u16 = 0x45;
    const JGE: u16 = 0x35;
    const JGT: u16 = 0x25;
    const JEQ: u16 = 0x15;
    const RET: u16 = 0x06;
    let i = |code, jt: usize, jf: usize, k| libc::sock_filter {
        code,
        jt: jt as u8,
        jf: jf as u8,
        k,
    };
    let n = extra.len();
    // Layout: 0-5 header and range checks, 6..6+n the extra ports, then flags, accept, drop.
    let (flags, drop) = (6 + n, 6 + n + 3);
    let miss = if n > 0 { 6 } else { drop };
    let mut p = vec![
        i(LD_H_ABS, 0, 0, 6),                       // fragment bits
        i(JSET, drop - 2, 0, 0x1fff),               // a fragment → drop
        i(LDX_B_MSH, 0, 0, 0),                      // x = IP header length
        i(LD_H_IND, 0, 0, 2),                       // TCP destination port
        i(JGE, 0, miss - 5, u32::from(lo)),         // < lo → the extra ports
        i(JGT, miss - 6, flags - 6, u32::from(hi)), // > hi → the extra ports
    ];
    for (k, &e) in extra.iter().enumerate() {
        let at = 6 + k;
        let jf = if k + 1 == n { drop - (at + 1) } else { 0 };
        p.push(i(JEQ, flags - (at + 1), jf, u32::from(e)));
    }
    p.push(i(LD_B_IND, 0, 0, 13)); // TCP flags
    p.push(i(JSET, 0, 1, u32::from(SYN | RST))); // neither SYN nor RST → drop
    p.push(i(RET, 0, 0, SNAP as u32)); // accept
    p.push(i(RET, 0, 0, 0)); // drop
    p
}

/// The classic BPF program for the IPv6 raw socket (its data starts at the TCP header): TCP
/// destination port in `lo..=hi`, SYN or RST set.
pub(crate) fn filter6(lo: u16, hi: u16) -> Vec<libc::sock_filter> {
    let i = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    vec![
        i(0x28, 0, 0, 2),                    // 0: ldh [2]: destination port
        i(0x35, 0, 4, u32::from(lo)),        // 1: < lo → drop (6)
        i(0x25, 3, 0, u32::from(hi)),        // 2: > hi → drop
        i(0x30, 0, 0, 13),                   // 3: ldb [13]: flags
        i(0x45, 0, 1, u32::from(SYN | RST)), // 4: neither → drop
        i(0x06, 0, 0, SNAP as u32),          // 5: accept
        i(0x06, 0, 0, 0),                    // 6: drop
    ]
}

/// An ICMP or ICMPv6 error quoting a TCP segment we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IcmpError {
    /// The quoted segment's destination (the probed server).
    pub(crate) to: SocketAddr,
    /// The quoted segment's source port (ours).
    pub(crate) port: u16,
    /// The quoted sequence number (our ISN for a SYN).
    pub(crate) seq: u32,
    /// What a kernel `connect` in SYN-SENT would have failed with.
    pub(crate) errno: i32,
    pub(crate) icmp_type: u8,
    pub(crate) code: u8,
}

impl IcmpError {
    /// The probe's failure detail: the errno's text, as the connect probe reports it, and
    /// which ICMP message said so.
    pub(crate) fn detail(&self, from: IpAddr) -> String {
        let v = if from.is_ipv4() { "ICMP" } else { "ICMPv6" };
        format!(
            "{} ({v} type {} code {} from {from})",
            io::Error::from_raw_os_error(self.errno),
            self.icmp_type,
            self.code
        )
    }
}

/// The errno a kernel TCP socket in SYN-SENT takes from an ICMP error (`tcp_v4_err` with
/// `icmp_err_convert`); `None` for messages it ignores (fragmentation needed is path MTU
/// discovery, codes past 15, other types).
pub(crate) fn icmp4_errno(icmp_type: u8, code: u8) -> Option<i32> {
    match (icmp_type, code) {
        (3, 4) | (3, 16..) => None,
        (3, c) => Some(match c {
            0 | 6 | 9 | 11 => libc::ENETUNREACH,
            2 => libc::ENOPROTOOPT,
            3 => libc::ECONNREFUSED,
            5 => libc::EOPNOTSUPP,
            7 => libc::EHOSTDOWN,
            8 => libc::ENONET,
            _ => libc::EHOSTUNREACH,
        }),
        (11, _) => Some(libc::EHOSTUNREACH),
        (12, _) => Some(libc::EPROTO),
        _ => None,
    }
}

/// The same for ICMPv6 (`tcp_v6_err` with `icmpv6_err_convert`; packet too big is path MTU
/// discovery).
pub(crate) fn icmp6_errno(icmp_type: u8, code: u8) -> Option<i32> {
    match (icmp_type, code) {
        (1, 0) => Some(libc::ENETUNREACH),
        (1, 1 | 5 | 6) => Some(libc::EACCES),
        (1, 2 | 3) => Some(libc::EHOSTUNREACH),
        (1, 4) => Some(libc::ECONNREFUSED),
        (1, _) | (4, _) => Some(libc::EPROTO),
        (3, _) => Some(libc::EHOSTUNREACH),
        _ => None,
    }
}

/// Parses an IPv4 ICMP error (as a raw `IPPROTO_ICMP` socket returns it: with the outer IPv4
/// header) quoting a TCP segment; `None` for anything else. Also the sender of the message.
pub(crate) fn parse_icmp4(p: &[u8]) -> Option<(Ipv4Addr, IcmpError)> {
    if p.len() < 20 || p[0] >> 4 != 4 || p[9] != libc::IPPROTO_ICMP as u8 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let from = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    let icmp = p.get(ihl..)?;
    let (icmp_type, code) = (*icmp.first()?, *icmp.get(1)?);
    let errno = icmp4_errno(icmp_type, code)?;
    let inner = icmp.get(8..)?;
    if inner.len() < 20 || inner[0] >> 4 != 4 || inner[9] != libc::IPPROTO_TCP as u8 {
        return None;
    }
    let iihl = usize::from(inner[0] & 0x0f) * 4;
    let dst = Ipv4Addr::new(inner[16], inner[17], inner[18], inner[19]);
    let t = inner.get(iihl..iihl + 8)?;
    Some((
        from,
        IcmpError {
            to: SocketAddr::new(IpAddr::V4(dst), u16::from_be_bytes([t[2], t[3]])),
            port: u16::from_be_bytes([t[0], t[1]]),
            seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
            errno,
            icmp_type,
            code,
        },
    ))
}

/// Parses an ICMPv6 error (as a raw `IPPROTO_ICMPV6` socket returns it: from the ICMPv6
/// header on) quoting a TCP segment right after the IPv6 header; `None` for anything else.
pub(crate) fn parse_icmp6(p: &[u8]) -> Option<IcmpError> {
    let (icmp_type, code) = (*p.first()?, *p.get(1)?);
    let errno = icmp6_errno(icmp_type, code)?;
    let inner = p.get(8..)?;
    if inner.len() < 48 || inner[0] >> 4 != 6 || inner[6] != libc::IPPROTO_TCP as u8 {
        return None;
    }
    let mut d = [0u8; 16];
    d.copy_from_slice(&inner[24..40]);
    let t = &inner[40..48];
    Some(IcmpError {
        to: SocketAddr::new(
            IpAddr::V6(Ipv6Addr::from(d)),
            u16::from_be_bytes([t[2], t[3]]),
        ),
        port: u16::from_be_bytes([t[0], t[1]]),
        seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        errno,
        icmp_type,
        code,
    })
}

/// The classic BPF program for the raw ICMP socket (data from the IPv4 header): the error types
/// a connecting socket acts on (destination unreachable but fragmentation needed, time
/// exceeded, parameter problem) quoting a TCP segment.
pub(crate) fn filter_icmp4() -> Vec<libc::sock_filter> {
    let i = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    vec![
        i(0xb1, 0, 0, 0),                // 0: ldxb 4*([0]&0xf): x = IP header length
        i(0x50, 0, 0, 0),                // 1: ldb [x+0]: ICMP type
        i(0x15, 2, 0, 3),                // 2: unreachable → its code (5)
        i(0x15, 4, 0, 11),               // 3: time exceeded → quoted protocol (8)
        i(0x15, 3, 6, 12),               // 4: parameter problem → 8, else drop (11)
        i(0x50, 0, 0, 1),                // 5: ldb [x+1]: code
        i(0x15, 4, 0, 4),                // 6: fragmentation needed → drop
        i(0x25, 3, 0, 15),               // 7: code > 15 → drop
        i(0x50, 0, 0, 17),               // 8: ldb [x+17]: the quoted header's protocol
        i(0x15, 0, 1, 6),                // 9: TCP → accept, else drop
        i(0x06, 0, 0, SNAP_ICMP as u32), // 10: accept
        i(0x06, 0, 0, 0),                // 11: drop
    ]
}

/// The same for the raw ICMPv6 socket (data from the ICMPv6 header): destination unreachable,
/// time exceeded, parameter problem, quoting TCP right after the IPv6 header.
pub(crate) fn filter_icmp6() -> Vec<libc::sock_filter> {
    let i = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    vec![
        i(0x30, 0, 0, 0),                // 0: ldb [0]: type
        i(0x15, 2, 0, 1),                // 1: unreachable → 4
        i(0x15, 1, 0, 3),                // 2: time exceeded → 4
        i(0x15, 0, 3, 4),                // 3: parameter problem → 4, else drop (7)
        i(0x30, 0, 0, 14),               // 4: ldb [14]: the quoted next header
        i(0x15, 0, 1, 6),                // 5: TCP → accept, else drop
        i(0x06, 0, 0, SNAP_ICMP as u32), // 6: accept
        i(0x06, 0, 0, 0),                // 7: drop
    ]
}

/// Room for the replies that arrive between two polls (a busy loop polls late): 4 MiB, above
/// `net.core.rmem_max` with `SO_RCVBUFFORCE` when allowed (CAP_NET_ADMIN), else up to it. A
/// reply dropped for want of room would turn an up server into a timeout.
fn rcvbuf(sock: &Socket) {
    let size: libc::c_int = 4 << 20;
    // SAFETY: a c_int option of the right size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        let _ = sock.set_recv_buffer_size(size as usize);
    }
}

/// Attaches (or replaces) a classic BPF program on `sock`.
fn set_filter(fd: std::os::fd::RawFd, prog: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points at `prog`, alive for the call; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &fprog as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Attaches a classic BPF program to `sock`, then drops whatever was queued before it.
fn attach(sock: &Socket, prog: &[libc::sock_filter]) -> io::Result<()> {
    set_filter(sock.as_raw_fd(), prog)?;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); SNAP];
    while sock.recv(&mut buf).is_ok() {}
    Ok(())
}

/// Source ports held by bound (not listening, not connected) TCP sockets.
pub(crate) struct Reservation {
    pub(crate) lo: u16,
    pub(crate) hi: u16,
    /// The ports in `lo..=hi` we hold.
    pub(crate) ports: Vec<u16>,
    /// Those we also hold for IPv6 (`[::]`, IPV6_V6ONLY).
    pub(crate) ports6: Vec<u16>,
    _socks: Vec<Socket>,
}

impl Reservation {
    /// Holds up to `n` ports at the top of the ephemeral range (`ip_local_port_range`), the
    /// first window where at least half of them are free.
    pub(crate) fn new(n: u16) -> io::Result<Self> {
        let (elo, ehi) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| {
                let mut it = s.split_whitespace().map(|x| x.parse::<u16>().ok());
                Some((it.next()??, it.next()??))
            })
            .unwrap_or((32768, 60999));
        let mut hi = ehi;
        while hi >= elo.saturating_add(n) {
            let lo = hi - (n - 1);
            let mut socks = Vec::new();
            let mut ports = Vec::new();
            for p in lo..=hi {
                let s = Socket::new(Domain::IPV4, Type::STREAM.cloexec(), None)?;
                let a = SocketAddr::from((Ipv4Addr::UNSPECIFIED, p));
                if s.bind(&a.into()).is_ok() {
                    socks.push(s);
                    ports.push(p);
                }
            }
            if ports.len() * 2 >= usize::from(n) {
                let mut ports6 = Vec::new();
                for &p in &ports {
                    let Ok(s) = Socket::new(Domain::IPV6, Type::STREAM.cloexec(), None) else {
                        break;
                    };
                    let a = SocketAddr::from((Ipv6Addr::UNSPECIFIED, p));
                    if s.set_only_v6(true).is_ok() && s.bind(&a.into()).is_ok() {
                        socks.push(s);
                        ports6.push(p);
                    }
                }
                return Ok(Self {
                    lo,
                    hi,
                    ports,
                    ports6,
                    _socks: socks,
                });
            }
            hi = lo - 1;
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no free source port range for half-open probes",
        ))
    }
}

/// Runs TCP_CHECK as half-open probes on one raw socket.
#[derive(Clone)]
pub(crate) struct HalfOpen {
    shared: Arc<Shared>,
}

struct Shared {
    raw: OwnedFd,
    /// IPv6 (`None`: IPv6 targets connect).
    raw6: Option<OwnedFd>,
    /// ICMP and ICMPv6 errors (`None`: not available; a probe then waits for its timeout).
    icmp: Option<OwnedFd>,
    icmp6: Option<OwnedFd>,
    res: Reservation,
    keys: RandomState,
    state: Mutex<State>,
    wake: Notify,
}

/// Probe key: (server, our port).
type Key = (SocketAddr, u16);

/// What a socket [`Shared::drain_fd`] reads carries.
#[derive(Clone, Copy)]
enum Rx {
    Tcp4,
    Tcp6,
    Icmp4,
    Icmp6,
}

struct Slot {
    gen: u32,
    key: Option<Key>,
    /// IPv4: the source address (IPv6: the kernel's choice).
    src: Ipv4Addr,
    isn: u32,
    run: RunId,
    started: Instant,
    deadline: Instant,
    limit: Duration,
    rto: Duration,
    done: Option<Done>,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    free: Vec<u32>,
    inflight: HashMap<Key, u32>,
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// Slots whose SYN is to be sent (index, generation).
    outbox: Vec<(u32, u32)>,
    queued: VecDeque<Job>,
    src_cache: HashMap<Ipv4Addr, (Ipv4Addr, Instant)>,
    /// Whether a `bindto` address can be bound here (the error if not), asked again after
    /// [`SRC_TTL`].
    bindto_cache: HashMap<Ipv4Addr, (Result<(), i32>, Instant)>,
    running: usize,
    max: usize,
    next_port: usize,
    counter: u64,
    task: bool,
    /// `bind_port`s outside the reserved range, held by bound TCP sockets (IPv4), with when a
    /// probe last asked for each.
    extra: Vec<(u16, Socket, Instant)>,
    /// A held `bind_port` no probe asked for in this long is let go ([`HELD_IDLE`]).
    held_idle: Duration,
    /// When idle `bind_port`s are looked for next.
    next_release: Option<Instant>,
}

fn result(ok: bool, detail: String, latency: Duration) -> ProbeResult {
    ProbeResult {
        ok,
        weight: None,
        detail,
        latency,
        skipped: false,
    }
}

/// The address the kernel would send from to `dst` (a connected UDP socket's local address).
fn route_src(dst: Ipv4Addr) -> io::Result<Ipv4Addr> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    s.connect((dst, 9))?;
    match s.local_addr()?.ip() {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(_) => Err(io::ErrorKind::AddrNotAvailable.into()),
    }
}

impl HalfOpen {
    /// Opens the raw socket (needs CAP_NET_RAW), reserves the source ports, attaches the
    /// filter; at most `max_concurrent` probes in flight (more are queued).
    pub(crate) fn new(max_concurrent: usize) -> io::Result<Self> {
        let raw = Socket::new(
            Domain::IPV4,
            Type::RAW.nonblocking().cloexec(),
            Some(socket2::Protocol::TCP),
        )?;
        raw.set_header_included_v4(true)?;
        rcvbuf(&raw);
        let res = Reservation::new(PORTS)?;
        attach(&raw, &filter(res.lo, res.hi, &[]))?;
        let raw6 = if res.ports6.is_empty() {
            None
        } else {
            Self::open6(&res).ok()
        };
        let icmp = Self::open_icmp(Domain::IPV4, socket2::Protocol::ICMPV4, &filter_icmp4());
        let icmp6 = raw6.as_ref().and_then(|_| {
            Self::open_icmp(Domain::IPV6, socket2::Protocol::ICMPV6, &filter_icmp6())
        });
        Ok(Self {
            shared: Arc::new(Shared {
                raw: raw.into(),
                raw6,
                icmp,
                icmp6,
                res,
                keys: RandomState::new(),
                state: Mutex::new(State {
                    max: max_concurrent.max(1),
                    held_idle: HELD_IDLE,
                    ..State::default()
                }),
                wake: Notify::new(),
            }),
        })
    }

    /// A raw ICMP or ICMPv6 socket with `prog` attached; `None` if it cannot be had.
    fn open_icmp(
        domain: Domain,
        proto: socket2::Protocol,
        prog: &[libc::sock_filter],
    ) -> Option<OwnedFd> {
        let sock = Socket::new(domain, Type::RAW.nonblocking().cloexec(), Some(proto)).ok()?;
        attach(&sock, prog).ok()?;
        Some(sock.into())
    }

    /// The IPv6 raw socket: the kernel fills in the TCP checksum (offset 16).
    fn open6(res: &Reservation) -> io::Result<OwnedFd> {
        let raw = Socket::new(
            Domain::IPV6,
            Type::RAW.nonblocking().cloexec(),
            Some(socket2::Protocol::TCP),
        )?;
        let off: libc::c_int = 16;
        // SAFETY: a c_int option of the right size.
        let rc = unsafe {
            libc::setsockopt(
                raw.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_CHECKSUM,
                &off as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        rcvbuf(&raw);
        attach(&raw, &filter6(res.lo, res.hi))?;
        Ok(raw.into())
    }

    /// Whether IPv6 targets run half-open.
    pub(crate) fn ipv6(&self) -> bool {
        self.shared.raw6.is_some()
    }

    /// Starts (or queues) one run; false, doing nothing, for a probe it does not [`runs`].
    #[cfg(test)]
    pub(crate) fn spawn(&self, run: RunId, spec: &Arc<ProbeSpec>, done: Done) -> bool {
        self.spawn_by(run, spec, None, done)
    }

    /// [`HalfOpen::spawn`]; a run still queued at `start_by` is answered
    /// [`ProbeResult::skipped`] instead of started late.
    pub(crate) fn spawn_by(
        &self,
        run: RunId,
        spec: &Arc<ProbeSpec>,
        start_by: Option<Instant>,
        done: Done,
    ) -> bool {
        if !runs(spec, self.ipv6()) {
            return false;
        }
        let sh = &self.shared;
        let mut st = sh.lock();
        if let Some(p) = spec.target.bind_port {
            if !sh.hold(&mut st, p, spec.target.bindto) {
                // Taken by another socket (or too many): the connect probe runs it and fails
                // as keepalived's bind would.
                return false;
            }
        }
        if !st.task {
            st.task = true;
            tokio::spawn(drive(sh.clone()));
        }
        let job = Job {
            run,
            spec: spec.clone(),
            done,
            start_by,
        };
        if st.running >= st.max {
            st.queued.push_back(job);
        } else {
            sh.start(&mut st, job, Instant::now());
        }
        true
    }

    /// The reserved source ports (first, last).
    pub(crate) fn ports(&self) -> (u16, u16) {
        (self.shared.res.lo, self.shared.res.hi)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `bind_port` `p` usable as a probe source port: one of ours, or held now (bound
    /// at `bindto`, or the wildcard, like keepalived's bind) and added to the filter.
    fn hold(&self, st: &mut State, p: u16, bindto: Option<IpAddr>) -> bool {
        if (self.res.lo..=self.res.hi).contains(&p) {
            return self.res.ports.contains(&p);
        }
        let now = Instant::now();
        if let Some(e) = st.extra.iter_mut().find(|(q, _, _)| *q == p) {
            e.2 = now;
            return true;
        }
        self.release_idle(st, now);
        if st.extra.len() >= usize::from(PORTS) {
            return false;
        }
        let ip = bindto.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let Ok(sock) = Socket::new(Domain::IPV4, Type::STREAM.cloexec(), None) else {
            return false;
        };
        // SO_REUSEADDR like keepalived's own bind: other checkers with this bind_port (an
        // HTTP_GET, say) still bind it for their connects.
        let _ = sock.set_reuse_address(true);
        if sock.bind(&SocketAddr::new(ip, p).into()).is_err() {
            return false;
        }
        let mut ports: Vec<u16> = st.extra.iter().map(|(q, _, _)| *q).collect();
        ports.push(p);
        if set_filter(
            self.raw.as_raw_fd(),
            &filter(self.res.lo, self.res.hi, &ports),
        )
        .is_err()
        {
            return false;
        }
        st.extra.push((p, sock, now));
        true
    }

    /// Lets go of the held `bind_port`s no probe asked for in [`State::held_idle`] and none is
    /// using (looked for at most once per `held_idle`, and at least once a minute).
    fn release_idle(&self, st: &mut State, now: Instant) {
        if st.next_release.is_some_and(|t| now < t) {
            return;
        }
        st.next_release = Some(now + st.held_idle.min(Duration::from_secs(60)));
        let idle = st.held_idle;
        let busy: std::collections::HashSet<u16> = st
            .inflight
            .keys()
            .map(|&(_, q)| q)
            .filter(|q| st.extra.iter().any(|(e, _, _)| e == q))
            .collect();
        let before = st.extra.len();
        st.extra
            .retain(|(q, _, last)| busy.contains(q) || now.saturating_duration_since(*last) < idle);
        if st.extra.len() < before {
            let ports: Vec<u16> = st.extra.iter().map(|(q, _, _)| *q).collect();
            let _ = set_filter(
                self.raw.as_raw_fd(),
                &filter(self.res.lo, self.res.hi, &ports),
            );
        }
    }

    fn isn(&self, st: &mut State) -> u32 {
        st.counter = st.counter.wrapping_add(1);
        self.keys.hash_one(st.counter) as u32
    }

    /// Picks the source, a free port and the ISN, and queues the SYN.
    fn start(&self, st: &mut State, job: Job, now: Instant) {
        let t = &job.spec.target;
        let dst = SocketAddr::new(t.connect_ip, t.connect_port);
        let src = match (t.connect_ip, t.bindto) {
            (IpAddr::V6(_), _) => Ok(Ipv4Addr::UNSPECIFIED),
            // As keepalived's bind: an address this host cannot bind fails the check.
            (_, Some(IpAddr::V4(b))) => match st.bindto_cache.get(&b) {
                Some(&(r, at)) if now.saturating_duration_since(at) < SRC_TTL => {
                    r.map(|()| b).map_err(io::Error::from_raw_os_error)
                }
                _ => {
                    let r = UdpSocket::bind((b, 0)).map(drop);
                    let errno = |e: &io::Error| e.raw_os_error().unwrap_or(libc::EADDRNOTAVAIL);
                    st.bindto_cache
                        .insert(b, (r.as_ref().map(|_| ()).map_err(errno), now));
                    r.map(|()| b)
                }
            },
            (IpAddr::V4(dip), _) => match st.src_cache.get(&dip) {
                Some(&(a, at)) if now.saturating_duration_since(at) < SRC_TTL => Ok(a),
                _ => route_src(dip).inspect(|&a| {
                    st.src_cache.insert(dip, (a, now));
                }),
            },
        };
        let src = match src {
            Ok(s) => s,
            Err(e) => {
                let _ = job
                    .done
                    .send((job.run, result(false, e.to_string(), Duration::ZERO)));
                return;
            }
        };
        // A port with no probe to this server in flight.
        let single;
        let ports: &[u16] = match t.bind_port {
            Some(p) => {
                single = [p];
                &single
            }
            None if dst.is_ipv4() => &self.res.ports,
            None => &self.res.ports6,
        };
        let mut port = None;
        for _ in 0..ports.len() {
            let p = ports[st.next_port % ports.len()];
            st.next_port = st.next_port.wrapping_add(1);
            if !st.inflight.contains_key(&(dst, p)) {
                port = Some(p);
                break;
            }
        }
        let Some(port) = port else {
            // Every reserved port already probes this server: wait for one.
            st.queued.push_back(job);
            return;
        };
        let isn = self.isn(st);
        let idx = match st.free.pop() {
            Some(i) => i,
            None => {
                st.slots.push(Slot {
                    gen: 0,
                    key: None,
                    src,
                    isn,
                    run: job.run,
                    started: now,
                    deadline: now,
                    limit: Duration::ZERO,
                    rto: RTO,
                    done: None,
                });
                (st.slots.len() - 1) as u32
            }
        };
        let limit = job.spec.connect_timeout;
        let slot = &mut st.slots[idx as usize];
        slot.gen = slot.gen.wrapping_add(1);
        let gen = slot.gen;
        slot.key = Some((dst, port));
        slot.src = src;
        slot.isn = isn;
        slot.run = job.run;
        slot.started = now;
        slot.deadline = now + limit;
        slot.limit = limit;
        slot.rto = RTO;
        slot.done = Some(job.done);
        st.inflight.insert((dst, port), idx);
        st.timers
            .push(Reverse(((now + RTO).min(now + limit), idx, gen)));
        st.outbox.push((idx, gen));
        st.running += 1;
        if st.outbox.len() == 1 {
            self.wake.notify_one();
        }
    }

    /// Ends the probe in slot `idx` (if still generation `gen`); starts queued jobs.
    fn finish(&self, st: &mut State, idx: u32, gen: u32, ok: bool, detail: String, now: Instant) {
        let Some(slot) = st.slots.get_mut(idx as usize) else {
            return;
        };
        if slot.gen != gen {
            return;
        }
        let Some(key) = slot.key.take() else {
            return;
        };
        let latency = now.saturating_duration_since(slot.started);
        if let Some(done) = slot.done.take() {
            let _ = done.send((slot.run, result(ok, detail, latency)));
        }
        st.inflight.remove(&key);
        st.free.push(idx);
        st.running -= 1;
        while st.running < st.max {
            let Some(job) = Job::pop_startable(&mut st.queued, now) else {
                break;
            };
            let before = st.queued.len();
            self.start(st, job, now);
            if st.queued.len() > before {
                // Requeued (no free port for that server): try later.
                break;
            }
        }
    }

    /// Sends the queued SYNs (`sendmmsg` in batches per family); a SYN the kernel refuses fails
    /// its probe.
    fn flush(&self, now: Instant) {
        let mut st = self.lock();
        let mut out = std::mem::take(&mut st.outbox);
        out.retain(|&(i, g)| {
            let s = &st.slots[i as usize];
            s.gen == g && s.key.is_some()
        });
        for v6 in [false, true] {
            let fam: Vec<(u32, u32)> = out
                .iter()
                .copied()
                .filter(|&(i, _)| {
                    st.slots[i as usize]
                        .key
                        .is_some_and(|(d, _)| d.is_ipv6() == v6)
                })
                .collect();
            let fd = match (v6, &self.raw6) {
                (false, _) => self.raw.as_raw_fd(),
                (true, Some(r)) => r.as_raw_fd(),
                (true, None) => continue,
            };
            for chunk in fam.chunks(BATCH) {
                let mut pkts = Vec::with_capacity(chunk.len());
                let mut names = Vec::with_capacity(chunk.len());
                for &(i, _) in chunk {
                    let s = &st.slots[i as usize];
                    let (dst, port) = s.key.expect("live slot");
                    let mut p = [0u8; SYN_LEN];
                    match dst {
                        SocketAddr::V4(d) => {
                            p = build_syn(SocketAddrV4::new(s.src, port), d, s.isn);
                        }
                        SocketAddr::V6(d) => {
                            p[..SYN6_LEN].copy_from_slice(&build_syn6(port, d.port(), s.isn));
                        }
                    }
                    pkts.push(p);
                    names.push(SockAddr::from(SocketAddr::new(dst.ip(), 0)));
                }
                let len = if v6 { SYN6_LEN } else { SYN_LEN };
                for (k, e) in send_batch(fd, &mut pkts, len, &names) {
                    let (i, g) = chunk[k];
                    if e.kind() == io::ErrorKind::WouldBlock {
                        // A full send buffer: it goes out at the next poll.
                        st.outbox.push((i, g));
                    } else {
                        self.finish(&mut st, i, g, false, e.to_string(), now);
                    }
                }
            }
        }
    }

    /// Reads the replies and ICMP errors on every socket until none is left; matches them to
    /// probes.
    fn drain(&self) {
        self.drain_fd(self.raw.as_raw_fd(), Rx::Tcp4);
        if let Some(r) = &self.raw6 {
            self.drain_fd(r.as_raw_fd(), Rx::Tcp6);
        }
        if let Some(r) = &self.icmp {
            self.drain_fd(r.as_raw_fd(), Rx::Icmp4);
        }
        if let Some(r) = &self.icmp6 {
            self.drain_fd(r.as_raw_fd(), Rx::Icmp6);
        }
    }

    /// The running probe (slot, generation) to server `to` from our `port` whose ISN is `isn`.
    fn probe_of(st: &State, to: SocketAddr, port: u16, isn: u32) -> Option<(u32, u32)> {
        let &idx = st.inflight.get(&(to, port))?;
        let slot = &st.slots[idx as usize];
        (slot.isn == isn).then_some((idx, slot.gen))
    }

    fn drain_fd(&self, fd: std::os::fd::RawFd, rx: Rx) {
        let v6 = matches!(rx, Rx::Tcp6 | Rx::Icmp6);
        let snap = if matches!(rx, Rx::Icmp4 | Rx::Icmp6) {
            SNAP_ICMP
        } else {
            SNAP
        };
        let mut bufs = [[0u8; SNAP_ICMP]; BATCH];
        // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
        let mut names: [libc::sockaddr_in6; BATCH] = unsafe { std::mem::zeroed() };
        loop {
            let mut iovs: Vec<libc::iovec> = bufs
                .iter_mut()
                .map(|b| libc::iovec {
                    iov_base: b.as_mut_ptr() as *mut libc::c_void,
                    iov_len: snap,
                })
                .collect();
            // SAFETY: mmsghdr is plain data; all-zero is a valid value.
            let mut msgs: Vec<libc::mmsghdr> =
                (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
            for ((m, iov), name) in msgs.iter_mut().zip(iovs.iter_mut()).zip(names.iter_mut()) {
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                if v6 {
                    m.msg_hdr.msg_name = name as *mut libc::sockaddr_in6 as *mut libc::c_void;
                    m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as u32;
                }
            }
            // SAFETY: the headers point at `iovs`/`bufs`/`names`, alive for the call.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    msgs.as_mut_ptr(),
                    BATCH as u32,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n <= 0 {
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            let now = Instant::now();
            let mut st = self.lock();
            for ((m, b), name) in msgs
                .iter()
                .zip(bufs.iter())
                .zip(names.iter())
                .take(n as usize)
            {
                let len = (m.msg_len as usize).min(snap);
                let r = match rx {
                    Rx::Tcp6 => {
                        let src = Ipv6Addr::from(name.sin6_addr.s6_addr);
                        parse_tcp(IpAddr::V6(src), &b[..len])
                    }
                    Rx::Tcp4 => parse_reply(&b[..len]),
                    Rx::Icmp4 | Rx::Icmp6 => {
                        // An ICMP error quoting our SYN: its server, our port, our ISN.
                        let e = match rx {
                            Rx::Icmp4 => parse_icmp4(&b[..len]).map(|(f, e)| (IpAddr::V4(f), e)),
                            _ => parse_icmp6(&b[..len])
                                .map(|e| (IpAddr::V6(Ipv6Addr::from(name.sin6_addr.s6_addr)), e)),
                        };
                        if let Some((from, e)) = e {
                            if let Some((idx, gen)) = Self::probe_of(&st, e.to, e.port, e.seq) {
                                self.finish(&mut st, idx, gen, false, e.detail(from), now);
                            }
                        }
                        continue;
                    }
                };
                let Some(r) = r else {
                    continue;
                };
                let Some((idx, gen)) = Self::probe_of(&st, r.from, r.port, r.ack.wrapping_sub(1))
                else {
                    continue;
                };
                if r.open() {
                    self.finish(&mut st, idx, gen, true, "SYN-ACK".into(), now);
                } else if r.refused() {
                    self.finish(
                        &mut st,
                        idx,
                        gen,
                        false,
                        "connection refused (RST)".into(),
                        now,
                    );
                }
            }
            drop(st);
            if (n as usize) < BATCH {
                return;
            }
        }
    }

    /// Retransmits SYNs that are due, fails probes past `connect_timeout`; the next timer.
    fn expire(&self, now: Instant) -> Option<Instant> {
        let mut st = self.lock();
        while let Some(&Reverse((at, idx, gen))) = st.timers.peek() {
            let live = st
                .slots
                .get(idx as usize)
                .is_some_and(|s| s.gen == gen && s.key.is_some());
            if !live {
                st.timers.pop();
                continue;
            }
            if at > now {
                return Some(at);
            }
            st.timers.pop();
            let slot = &mut st.slots[idx as usize];
            if now >= slot.deadline {
                let limit = slot.limit;
                let detail = super::Error::Timeout(limit).to_string();
                self.finish(&mut st, idx, gen, false, detail, now);
            } else {
                slot.rto *= 2;
                let next = (now + slot.rto).min(slot.deadline);
                st.timers.push(Reverse((next, idx, gen)));
                st.outbox.push((idx, gen));
            }
        }
        None
    }
}

/// Sends `pkts` (the first `len` bytes of each) to `names` with `sendmmsg`; returns the
/// packets not sent with the reason (`WouldBlock` for all the rest when the buffer is full).
fn send_batch(
    fd: std::os::fd::RawFd,
    pkts: &mut [[u8; SYN_LEN]],
    len: usize,
    names: &[SockAddr],
) -> Vec<(usize, io::Error)> {
    let mut iovs: Vec<libc::iovec> = pkts
        .iter_mut()
        .map(|p| libc::iovec {
            iov_base: p.as_mut_ptr() as *mut libc::c_void,
            iov_len: len,
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is a valid value.
    let mut msgs: Vec<libc::mmsghdr> = (0..pkts.len())
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    for ((m, iov), name) in msgs.iter_mut().zip(iovs.iter_mut()).zip(names) {
        m.msg_hdr.msg_name = name.as_ptr() as *mut libc::c_void;
        m.msg_hdr.msg_namelen = name.len();
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut failed = Vec::new();
    let mut k = 0;
    while k < msgs.len() {
        // SAFETY: every header points at live buffers (pkts, names, iovs) of this call.
        let n = unsafe { libc::sendmmsg(fd, msgs[k..].as_mut_ptr(), (msgs.len() - k) as u32, 0) };
        if n > 0 {
            k += n as usize;
            continue;
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                failed.extend((k..msgs.len()).map(|i| (i, io::ErrorKind::WouldBlock.into())));
                break;
            }
            _ => {
                failed.push((k, e));
                k += 1;
            }
        }
    }
    failed
}

/// Polls every [`POLL`] while probes are in flight, sends what is queued; idle otherwise.
async fn drive(sh: Arc<Shared>) {
    loop {
        let now = Instant::now();
        sh.flush(now);
        sh.drain();
        let now = Instant::now();
        let next = sh.expire(now);
        sh.flush(now);
        if sh.lock().running > 0 {
            let at = next.map_or(now + POLL, |t| t.min(now + POLL));
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => {}
                _ = sh.wake.notified() => {}
            }
        } else {
            sh.wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    /// The SYN is well formed: etherparse reads it back, and its TCP checksum verifies.
    #[test]
    fn syn_is_well_formed() {
        let (src, dst) = (a("10.0.0.1:61000"), a("192.0.2.7:8080"));
        let p = build_syn(src, dst, 0xdead_beef);
        let h = etherparse::Ipv4HeaderSlice::from_slice(&p).unwrap();
        assert_eq!(h.source_addr(), *src.ip());
        assert_eq!(h.destination_addr(), *dst.ip());
        assert_eq!(h.protocol(), etherparse::IpNumber::TCP);
        assert!(h.dont_fragment());
        assert_eq!(usize::from(h.total_len()), p.len());
        let t = etherparse::TcpHeaderSlice::from_slice(&p[20..]).unwrap();
        assert!(t.syn() && !t.ack() && !t.rst() && !t.fin());
        assert_eq!(t.source_port(), 61000);
        assert_eq!(t.destination_port(), 8080);
        assert_eq!(t.sequence_number(), 0xdead_beef);
        let want = t
            .to_header()
            .calc_checksum_ipv4_raw(src.ip().octets(), dst.ip().octets(), &[])
            .unwrap();
        assert_eq!(t.checksum(), want);
        assert_eq!(
            tcp_checksum_v4(*src.ip(), *dst.ip(), &p[20..]),
            0,
            "verifies"
        );
    }

    /// A reply built by etherparse: a SYN-ACK is open, a RST|ACK refused; a fragment, a non-TCP packet and a truncated one are not replies.
    fn reply(flags: u8, ack: u32) -> Vec<u8> {
        let mut t = etherparse::TcpHeader::new(8080, 61001, 77, 65535);
        t.syn = flags & SYN != 0;
        t.ack = flags & ACK != 0;
        t.rst = flags & RST != 0;
        t.acknowledgment_number = ack;
        let b = etherparse::PacketBuilder::ipv4([192, 0, 2, 7], [10, 0, 0, 1], 64).tcp_header(t);
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out
    }

    /// The IPv6 SYN's TCP header; a reply's TCP header parses with the source it came from.
    #[test]
    fn syn6_and_tcp_reply() {
        let t = build_syn6(61000, 443, 7);
        let h = etherparse::TcpHeaderSlice::from_slice(&t).unwrap();
        assert!(h.syn() && !h.ack());
        assert_eq!((h.source_port(), h.destination_port()), (61000, 443));
        assert_eq!(h.sequence_number(), 7);
        assert_eq!(h.checksum(), 0, "left to the kernel");
        let p = reply(SYN | ACK, 8);
        let src: IpAddr = "2001:db8::7".parse().unwrap();
        let r = parse_tcp(src, &p[20..]).unwrap();
        assert_eq!(r.from, SocketAddr::new(src, 8080));
        assert!(r.open() && r.ack == 8 && r.port == 61001);
        assert!(parse_tcp(src, &p[20..39]).is_none(), "truncated");
    }

    #[test]
    fn replies_parse_and_classify() {
        let p = reply(SYN | ACK, 5);
        let r = parse_reply(&p).unwrap();
        assert_eq!(r.from, SocketAddr::V4(a("192.0.2.7:8080")));
        assert_eq!(r.port, 61001);
        assert_eq!(r.ack, 5);
        assert!(r.open() && !r.refused());
        let r = parse_reply(&reply(RST | ACK, 5)).unwrap();
        assert!(r.refused() && !r.open());
        let r = parse_reply(&reply(SYN, 0)).unwrap();
        assert!(!r.open() && !r.refused(), "a bare SYN is neither");
        let mut frag = reply(SYN | ACK, 5);
        frag[6] = 0x20; // MF
        assert!(parse_reply(&frag).is_none(), "fragment");
        let mut udp = reply(SYN | ACK, 5);
        udp[9] = 17;
        assert!(parse_reply(&udp).is_none(), "not TCP");
        assert!(parse_reply(&p[..30]).is_none(), "truncated");
    }

    /// The BPF program, run by a tiny interpreter of the opcodes it uses: it passes SYN and RST
    /// segments to the reserved range only, and no fragment.
    /// Runs a classic BPF program (the opcodes these filters use) on a packet.
    fn run(prog: &[libc::sock_filter], p: &[u8]) -> u32 {
        let (mut acc, mut x, mut pc) = (0u32, 0u32, 0usize);
        let ld = |off: usize, n: usize| -> u32 {
            p[off..off + n]
                .iter()
                .fold(0u32, |v, b| (v << 8) | u32::from(*b))
        };
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                0x28 => acc = ld(i.k as usize, 2),
                0x30 => acc = ld(i.k as usize, 1),
                0x48 => acc = ld(x as usize + i.k as usize, 2),
                0x50 => acc = ld(x as usize + i.k as usize, 1),
                0xb1 => x = u32::from(p[i.k as usize] & 0x0f) * 4,
                0x05 => pc += i.k as usize,
                0x45 | 0x35 | 0x25 | 0x15 => {
                    let t = match i.code {
                        0x45 => acc & i.k != 0,
                        0x35 => acc >= i.k,
                        0x15 => acc == i.k,
                        _ => acc > i.k,
                    };
                    pc += usize::from(if t { i.jt } else { i.jf });
                }
                0x06 => return i.k,
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    /// An ICMP error as the director's kernel would deliver it: outer IPv4 header from `from`,
    /// ICMP `t`/`c`, quoting `quoted` (its first 28 bytes, as RFC 792 guarantees at least).
    fn icmp4(from: [u8; 4], t: u8, c: u8, quoted: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        p.extend_from_slice(&from);
        p.extend_from_slice(&[10, 88, 0, 1]);
        p.extend_from_slice(&[t, c, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&quoted[..28]);
        let n = p.len() as u16;
        p[2..4].copy_from_slice(&n.to_be_bytes());
        p
    }

    /// ICMP errors quoting our SYN: parsed with the kernel's errno for a connecting socket;
    /// the filter passes exactly the types and codes that end a connect.
    #[test]
    fn icmp_errors_parse_and_filter() {
        let syn = build_syn(a("10.88.0.1:60936"), a("10.88.9.9:8000"), 0x1234_5678);
        let (from, e) = parse_icmp4(&icmp4([10, 88, 0, 2], 3, 1, &syn)).unwrap();
        assert_eq!(from, Ipv4Addr::new(10, 88, 0, 2));
        assert_eq!(
            e,
            IcmpError {
                to: "10.88.9.9:8000".parse().unwrap(),
                port: 60936,
                seq: 0x1234_5678,
                errno: libc::EHOSTUNREACH,
                icmp_type: 3,
                code: 1,
            }
        );
        assert!(
            e.detail(IpAddr::V4(from)).starts_with("No route to host"),
            "{}",
            e.detail(IpAddr::V4(from))
        );
        let errno = |t, c| parse_icmp4(&icmp4([10, 88, 0, 2], t, c, &syn)).map(|(_, e)| e.errno);
        assert_eq!(errno(3, 0), Some(libc::ENETUNREACH));
        assert_eq!(errno(3, 3), Some(libc::ECONNREFUSED));
        assert_eq!(
            errno(3, 13),
            Some(libc::EHOSTUNREACH),
            "administratively prohibited"
        );
        assert_eq!(errno(11, 0), Some(libc::EHOSTUNREACH), "time exceeded");
        assert_eq!(errno(12, 0), Some(libc::EPROTO));
        assert_eq!(
            errno(3, 4),
            None,
            "fragmentation needed is path MTU discovery"
        );
        assert_eq!(errno(3, 16), None);
        assert_eq!(errno(0, 0), None, "echo reply");
        // Quoting UDP, or cut short: not ours.
        let mut udp = syn;
        udp[9] = libc::IPPROTO_UDP as u8;
        assert!(parse_icmp4(&icmp4([10, 88, 0, 2], 3, 1, &udp)).is_none());
        assert_eq!(run(&filter_icmp4(), &icmp4([10, 88, 0, 2], 3, 1, &udp)), 0);
        assert_eq!(run(&filter_icmp4(), &icmp4([10, 88, 0, 2], 11, 0, &udp)), 0);
        let full = icmp4([10, 88, 0, 2], 3, 1, &syn);
        assert!(parse_icmp4(&full[..full.len() - 1]).is_none());
        // The filter: the same set.
        let prog = filter_icmp4();
        for (t, c, pass) in [
            (3, 0, true),
            (3, 1, true),
            (3, 3, true),
            (3, 4, false),
            (3, 13, true),
            (3, 15, true),
            (3, 16, false),
            (11, 0, true),
            (12, 0, true),
            (0, 0, false),
            (8, 0, false),
            (5, 1, false),
        ] {
            let got = run(&prog, &icmp4([10, 88, 0, 2], t, c, &syn));
            assert_eq!(got != 0, pass, "type {t} code {c}");
            assert_eq!(
                errno(t, c).is_some(),
                pass,
                "parse and filter agree on {t}/{c}"
            );
        }
        // ICMPv6: from the ICMPv6 header, quoting the IPv6 header and our SYN.
        let mut p6 = vec![1u8, 3, 0, 0, 0, 0, 0, 0];
        let mut ip6 = [0u8; 40];
        ip6[0] = 0x60;
        ip6[6] = libc::IPPROTO_TCP as u8;
        ip6[8..24].copy_from_slice(&"fd00:88::1".parse::<Ipv6Addr>().unwrap().octets());
        ip6[24..40].copy_from_slice(&"fd00:88::9".parse::<Ipv6Addr>().unwrap().octets());
        p6.extend_from_slice(&ip6);
        p6.extend_from_slice(&build_syn6(60936, 8000, 7)[..8]);
        let e6 = parse_icmp6(&p6).unwrap();
        assert_eq!(e6.to, "[fd00:88::9]:8000".parse().unwrap());
        assert_eq!((e6.port, e6.seq, e6.errno), (60936, 7, libc::EHOSTUNREACH));
        let prog6 = filter_icmp6();
        for (t, c, pass) in [
            (1, 3, true),
            (1, 4, true),
            (2, 0, false),
            (3, 0, true),
            (4, 0, true),
            (128, 0, false),
        ] {
            p6[0] = t;
            p6[1] = c;
            assert_eq!(run(&prog6, &p6) != 0, pass, "ICMPv6 type {t}");
            assert_eq!(parse_icmp6(&p6).is_some(), pass, "ICMPv6 type {t}");
        }
        p6[0] = 1;
        p6[1] = 4;
        assert_eq!(parse_icmp6(&p6).unwrap().errno, libc::ECONNREFUSED);
        p6[8 + 6] = libc::IPPROTO_UDP as u8;
        assert_eq!(run(&prog6, &p6), 0, "quoting UDP");
        assert!(parse_icmp6(&p6).is_none());
    }

    #[test]
    fn filter_passes_replies_to_the_range_only() {
        let prog = filter(61000, 61063, &[]);
        let seg = |dport: u16, flags: u8| {
            let mut p = reply(flags, 1);
            p[22..24].copy_from_slice(&dport.to_be_bytes());
            p
        };
        assert_eq!(run(&prog, &seg(61000, SYN | ACK)), SNAP as u32);
        assert_eq!(run(&prog, &seg(61063, RST | ACK)), SNAP as u32);
        assert_eq!(run(&prog, &seg(61064, SYN | ACK)), 0, "above");
        assert_eq!(run(&prog, &seg(60999, SYN | ACK)), 0, "below");
        assert_eq!(run(&prog, &seg(61001, ACK)), 0, "neither SYN nor RST");
        let mut frag = seg(61001, SYN | ACK);
        frag[7] = 1;
        assert_eq!(run(&prog, &frag), 0, "fragment");
        // With bind_ports outside the range: those too, nothing else.
        for extra in [&[40000u16][..], &[40000, 50000, 1234]] {
            let prog = filter(61000, 61063, extra);
            for &e in extra {
                assert_eq!(run(&prog, &seg(e, SYN | ACK)), SNAP as u32, "{e}");
                assert_eq!(run(&prog, &seg(e, ACK)), 0, "{e}: flags");
            }
            assert_eq!(run(&prog, &seg(61005, RST)), SNAP as u32, "range");
            assert_eq!(run(&prog, &seg(40001, SYN | ACK)), 0, "not held");
            assert_eq!(run(&prog, &seg(61064, SYN | ACK)), 0, "above");
            assert_eq!(run(&prog, &seg(1, SYN | ACK)), 0, "below");
        }
        // IPv6: the same on a bare TCP header.
        let prog6 = filter6(61000, 61063);
        assert_eq!(run(&prog6, &seg(61000, SYN | ACK)[20..]), SNAP as u32);
        assert_eq!(run(&prog6, &seg(61063, RST)[20..]), SNAP as u32);
        assert_eq!(run(&prog6, &seg(61064, SYN | ACK)[20..]), 0, "above");
        assert_eq!(run(&prog6, &seg(60999, RST)[20..]), 0, "below");
        assert_eq!(
            run(&prog6, &seg(61001, ACK)[20..]),
            0,
            "neither SYN nor RST"
        );
    }

    /// Privileged, in two network namespaces the test creates (director `d` and server `s`,
    /// joined by a veth pair; 10.88.9.9 is routed to `s`, which drops it): a listening port is
    /// up (SYN-ACK), a closed port is refused at once (RST), over IPv4 and IPv6; the blackholed
    /// address is down
    /// at `connect_timeout` after a retransmitted SYN; the server keeps no SYN-RECV or
    /// ESTABLISHED entry (the director's kernel reset each SYN-ACK: no socket owns the
    /// reserved ports' 4-tuples); a reserved port cannot be bound by anyone else.
    #[test]
    fn half_open_probes_in_netns() {
        use std::process::Command;
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let have = |p: &str, a: &str| Command::new(p).arg(a).output().is_ok();
        if !root || !have("ip", "-V") || !have("python3", "-V") || !have("ss", "-V") {
            eprintln!("skipping half_open_probes_in_netns: needs root, iproute2 and python3");
            return;
        }
        let pid = std::process::id();
        let (d, s) = (format!("lvs-syn-d-{pid}"), format!("lvs-syn-s-{pid}"));
        struct Cleanup(Vec<String>, Option<std::process::Child>);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                if let Some(c) = &mut self.1 {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                for ns in &self.0 {
                    let _ = Command::new("ip").args(["netns", "del", ns]).status();
                }
            }
        }
        let mut guard = Cleanup(vec![d.clone(), s.clone()], None);
        let sh = |args: &[&str]| {
            let st = Command::new(args[0]).args(&args[1..]).status().unwrap();
            assert!(st.success(), "{args:?}");
        };
        sh(&["ip", "netns", "add", &d]);
        sh(&["ip", "netns", "add", &s]);
        sh(&["ip", "-n", &d, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &s, "link", "set", "lo", "up"]);
        sh(&[
            "ip", "-n", &d, "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", &s,
        ]);
        sh(&["ip", "-n", &d, "addr", "add", "10.88.0.1/24", "dev", "v0"]);
        sh(&["ip", "-n", &s, "addr", "add", "10.88.0.2/24", "dev", "v1"]);
        sh(&[
            "ip",
            "-n",
            &d,
            "addr",
            "add",
            "fd00:88::1/64",
            "dev",
            "v0",
            "nodad",
        ]);
        sh(&[
            "ip",
            "-n",
            &s,
            "addr",
            "add",
            "fd00:88::2/64",
            "dev",
            "v1",
            "nodad",
        ]);
        sh(&["ip", "-n", &d, "link", "set", "v0", "up"]);
        sh(&["ip", "-n", &s, "link", "set", "v1", "up"]);
        sh(&[
            "ip",
            "-n",
            &d,
            "route",
            "add",
            "10.88.9.0/24",
            "via",
            "10.88.0.2",
        ]);
        // Behind `s`, routes it refuses (ICMP / ICMPv6 destination unreachable back to `d`).
        sh(&[
            "ip",
            "netns",
            "exec",
            &s,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ]);
        sh(&[
            "ip",
            "netns",
            "exec",
            &s,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.forwarding=1",
        ]);
        sh(&[
            "ip",
            "-n",
            &s,
            "route",
            "add",
            "unreachable",
            "10.88.8.0/24",
        ]);
        // 10.88.9.0/24 stays a silent drop now that `s` forwards.
        sh(&["ip", "-n", &s, "route", "add", "blackhole", "10.88.9.0/24"]);
        sh(&[
            "ip",
            "-n",
            &s,
            "-6",
            "route",
            "add",
            "unreachable",
            "fd00:88:8::/64",
        ]);
        sh(&[
            "ip",
            "-n",
            &d,
            "route",
            "add",
            "10.88.8.0/24",
            "via",
            "10.88.0.2",
        ]);
        sh(&[
            "ip",
            "-n",
            &d,
            "-6",
            "route",
            "add",
            "fd00:88:8::/64",
            "via",
            "fd00:88::2",
        ]);
        // A listener that never accepts: only the kernel's handshake answers.
        guard.1 = Some(
            Command::new("ip")
                .args(["netns", "exec", &s, "python3", "-c"])
                .arg(
                    "import socket,time\ns=socket.socket();s.bind(('10.88.0.2',8000));s.listen(64)\n\
                     t=socket.socket(socket.AF_INET6);t.bind(('fd00:88::2',8000));t.listen(64)\n\
                     open('/dev/stdout','w').write('ready\\n')\ntime.sleep(600)",
                )
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        {
            use std::io::Read;
            let mut b = [0u8; 6];
            let out = guard.1.as_mut().unwrap().stdout.as_mut().unwrap();
            out.read_exact(&mut b).unwrap();
        }
        let dpath = format!("/run/netns/{d}");
        let results = std::thread::spawn(move || {
            let f = std::fs::File::open(&dpath).unwrap();
            // SAFETY: setns on a namespace fd we hold; it affects this thread only.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", io::Error::last_os_error());
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let h = HalfOpen::new(16).unwrap();
                let (lo, hi) = h.ports();
                assert_eq!(hi - lo + 1, PORTS);
                // A reserved port cannot be bound by anyone else.
                let taken = std::net::TcpListener::bind(("0.0.0.0", h.shared.res.ports[0]));
                assert!(taken.is_err(), "reserved ports are held");
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let spec = |ip: [u8; 4], port: u16, secs: u64| {
                    Arc::new(ProbeSpec {
                        kind: ProbeKind::TcpCheck,
                        target: lvs_check::Target::new(IpAddr::from(ip), port),
                        connect_timeout: Duration::from_secs(secs),
                    })
                };
                let id = |n| RunId {
                    probe: lvs_check::ProbeId(n),
                    seq: 1,
                };
                assert!(h.spawn(id(1), &spec([10, 88, 0, 2], 8000, 2), tx.clone()));
                assert!(h.spawn(id(2), &spec([10, 88, 0, 2], 8001, 2), tx.clone()));
                assert!(h.spawn(id(3), &spec([10, 88, 9, 9], 8000, 3), tx.clone()));
                // bind_port: that source port, held while probes use it; a port another socket
                // has goes to the connect probe.
                let mut bound = spec([10, 88, 0, 2], 8000, 2);
                Arc::make_mut(&mut bound).target.bind_port = Some(40000);
                assert!(
                    h.spawn(id(4), &bound, tx.clone()),
                    "bind_port runs half-open"
                );
                // Held (with SO_REUSEADDR, as keepalived binds: only a socket without it is
                // refused).
                let plain = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                let at = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 40000));
                assert!(plain.bind(&at.into()).is_err(), "bind_port held");
                let other = std::net::TcpListener::bind(("0.0.0.0", 0)).unwrap();
                let mut taken = spec([10, 88, 0, 2], 8000, 2);
                Arc::make_mut(&mut taken).target.bind_port =
                    Some(other.local_addr().unwrap().port());
                assert!(
                    !h.spawn(id(8), &taken, tx.clone()),
                    "a taken bind_port connects"
                );
                let v6 = |port| {
                    let mut v6 = spec([10, 88, 0, 2], port, 2);
                    Arc::make_mut(&mut v6).target.connect_ip = "fd00:88::2".parse().unwrap();
                    v6
                };
                assert!(h.ipv6(), "IPv6 raw socket");
                assert!(h.spawn(id(6), &v6(8000), tx.clone()));
                assert!(h.spawn(id(7), &v6(8001), tx.clone()));
                let mut bound6 = v6(8000);
                Arc::make_mut(&mut bound6).target.bindto = Some("fd00:88::1".parse().unwrap());
                assert!(!h.spawn(id(5), &bound6, tx.clone()), "IPv6 bindto connects");
                // A bindto this host does not have fails as keepalived's bind does.
                let mut foreign = spec([10, 88, 0, 2], 8000, 2);
                Arc::make_mut(&mut foreign).target.bindto = Some("10.88.0.99".parse().unwrap());
                assert!(h.spawn(id(12), &foreign, tx.clone()));
                // Refused by a router (ICMP), and an on-link address nobody answers ARP for
                // (the director's own kernel reports the neighbour failure, ~3 s).
                assert!(h.spawn(id(9), &spec([10, 88, 8, 8], 8000, 5), tx.clone()));
                assert!(h.spawn(id(10), &spec([10, 88, 0, 77], 8000, 6), tx.clone()));
                let mut unreach6 = v6(8000);
                Arc::make_mut(&mut unreach6).target.connect_ip = "fd00:88:8::8".parse().unwrap();
                Arc::make_mut(&mut unreach6).connect_timeout = Duration::from_secs(5);
                assert!(h.spawn(id(11), &unreach6, tx.clone()));
                let mut got = HashMap::new();
                for _ in 0..10 {
                    let (run, r) = tokio::time::timeout(Duration::from_secs(6), rx.recv())
                        .await
                        .expect("a result")
                        .unwrap();
                    got.insert(run.probe.0, r);
                }
                // bind_port 40000's probe is done: once idle long enough (here at once), the
                // next bind_port probe lets it go, and anyone may bind it again.
                {
                    let mut st = h.shared.lock();
                    st.held_idle = Duration::ZERO;
                    st.next_release = None;
                }
                let mut other_port = spec([10, 88, 0, 2], 8000, 2);
                Arc::make_mut(&mut other_port).target.bind_port = Some(40002);
                assert!(h.spawn(id(13), &other_port, tx.clone()));
                let free = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                let released = free.bind(&at.into()).is_ok();
                let (run, r) = tokio::time::timeout(Duration::from_secs(6), rx.recv())
                    .await
                    .expect("a result")
                    .unwrap();
                assert_eq!(run.probe.0, 13);
                assert!(
                    r.ok && r.detail == "SYN-ACK",
                    "the new bind_port probes: {r:?}"
                );
                (got, released)
            })
        })
        .join()
        .unwrap();
        let (results, released) = results;
        assert!(released, "an idle bind_port is let go");
        let (up, refused, hole) = (&results[&1], &results[&2], &results[&3]);
        let (up6, refused6, bound) = (&results[&6], &results[&7], &results[&4]);
        let (routed, onlink, routed6) = (&results[&9], &results[&10], &results[&11]);
        let foreign = &results[&12];
        assert!(
            !foreign.ok && foreign.detail.contains("Cannot assign requested address"),
            "{foreign:?}"
        );
        assert!(
            !routed.ok
                && routed.detail.contains("No route to host")
                && routed.detail.contains("ICMP type 3 code 1 from 10.88.0.2"),
            "{routed:?}"
        );
        assert!(routed.latency < Duration::from_millis(900), "{routed:?}");
        assert!(
            !routed6.ok
                && routed6
                    .detail
                    .contains("ICMPv6 type 1 code 0 from fd00:88::2"),
            "{routed6:?}"
        );
        // The router's first ICMPv6 error may go to the retransmitted SYN (1 s).
        assert!(routed6.latency < Duration::from_millis(2500), "{routed6:?}");
        assert!(
            !onlink.ok && onlink.detail.contains("No route to host"),
            "{onlink:?}"
        );
        assert!(onlink.latency < Duration::from_secs(5), "{onlink:?}");
        assert!(bound.ok && bound.detail == "SYN-ACK", "{bound:?}");
        assert!(up6.ok && up6.detail == "SYN-ACK", "{up6:?}");
        assert!(
            !refused6.ok && refused6.detail.contains("refused"),
            "{refused6:?}"
        );
        assert!(up.ok && up.detail == "SYN-ACK", "{up:?}");
        assert!(
            !refused.ok && refused.detail.contains("refused"),
            "{refused:?}"
        );
        assert!(refused.latency < Duration::from_millis(900), "{refused:?}");
        assert!(!hole.ok && hole.detail.contains("timeout"), "{hole:?}");
        assert!(hole.latency >= Duration::from_secs(3), "{hole:?}");
        // The server side: nothing half-open, nothing established on the probed port.
        let ss = Command::new("ip")
            .args(["netns", "exec", &s, "ss", "-Htan", "sport", "= :8000"])
            .output()
            .unwrap();
        let ss = String::from_utf8_lossy(&ss.stdout).into_owned();
        assert!(
            ss.lines().all(|l| l.starts_with("LISTEN")),
            "server keeps connections:\n{ss}"
        );
        assert!(ss.contains("LISTEN"), "{ss}");
    }
}
