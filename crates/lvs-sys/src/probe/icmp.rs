//! PING_CHECK: one ICMP / ICMPv6 echo, over an unprivileged ping socket when
//! `net.ipv4.ping_group_range` allows it, else a raw socket (CAP_NET_RAW).

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};

use lvs_check::Target;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::Error;

static SEQ: AtomicU16 = AtomicU16::new(1);

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn open(t: &Target) -> io::Result<(Socket, bool)> {
    let (domain, proto) = match t.connect_ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let (s, raw) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => (s, false),
        Err(_) => (Socket::new(domain, Type::RAW, Some(proto))?, true),
    };
    s.set_nonblocking(true)?;
    if let Some(m) = t.fwmark {
        s.set_mark(m)?;
    }
    if let Some(dev) = &t.bind_if {
        s.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(b) = t.bindto {
        s.bind(&SockAddr::from(SocketAddr::new(b, 0)))?;
    }
    s.connect(&SockAddr::from(SocketAddr::new(t.connect_ip, 0)))?;
    Ok((s, raw))
}

/// Sends one echo request and waits (under the caller's timeout) for its reply.
pub(crate) async fn ping(t: &Target) -> Result<String, Error> {
    let (sock, raw) = open(t)?;
    let v6 = t.connect_ip.is_ipv6();
    let id = (std::process::id() & 0xffff) as u16;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut pkt = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    pkt.extend_from_slice(&id.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(b"lvsd PING_CHECK payload.");
    if !v6 {
        let c = checksum(&pkt);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
    } // ICMPv6: the kernel computes the checksum.
      // SAFETY: `sock` owns its descriptor and is moved into the AsyncFd, which deregisters it
      // before the socket is dropped; nothing else closes or duplicates it.
    let fd = unsafe { AsyncFd::register(sock) }.map_err(|e| e.into_parts().1)?;
    loop {
        let mut guard = fd.writable().await?;
        match guard.try_io(|s| s.get_ref().send(&pkt)) {
            Ok(r) => {
                r?;
                break;
            }
            Err(_would_block) => continue,
        }
    }
    let mut buf = [0u8; 1500];
    loop {
        let mut guard = fd.readable().await?;
        let n = match guard.try_io(|s| {
            let mut r: &Socket = s.get_ref();
            r.read(&mut buf)
        }) {
            Ok(r) => r?,
            Err(_would_block) => continue,
        };
        let mut icmp = &buf[..n];
        if raw && !v6 {
            let ihl = usize::from(icmp.first().map_or(0, |b| b & 0x0f)) * 4;
            icmp = icmp.get(ihl..).unwrap_or(&[]);
        }
        if icmp.len() < 8 {
            continue;
        }
        let (ty, rid, rseq) = (
            icmp[0],
            u16::from_be_bytes([icmp[4], icmp[5]]),
            u16::from_be_bytes([icmp[6], icmp[7]]),
        );
        let reply = if v6 { 129 } else { 0 };
        let unreachable = if v6 { 1 } else { 3 };
        // Ping sockets rewrite the id; raw sockets see every echo reply from that address.
        if ty == reply && rseq == seq && (!raw || rid == id) {
            return Ok("echo reply".into());
        }
        if ty == unreachable {
            return Err(Error::Protocol("ICMP destination unreachable".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc1071_checksum() {
        // Echo request id 1 seq 1 with no payload: 0xf7fd.
        assert_eq!(super::checksum(&[8, 0, 0, 0, 0, 1, 0, 1]), 0xf7fd);
    }
}
