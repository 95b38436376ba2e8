//! Interface facts and virtual addresses over rtnetlink (hand-built
//! messages on a `NETLINK_ROUTE` socket): add/remove a VIP with keepalived's
//! extended syntax (dev, label, scope, brd), find an interface's primary
//! address, and watch link state (`RTMGRP_LINK`).

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NLMSG_HDRLEN: usize = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_F_SECONDARY: u8 = 0x01;
const IFA_F_NODAD: u8 = 0x02;
const IFLA_IFNAME: u16 = 3;
const RTMGRP_LINK: u32 = 1;

/// Interface index of `name`.
pub fn ifindex(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))?;
    // SAFETY: c is a valid C string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("interface {name} does not exist"),
        ));
    }
    Ok(i)
}

/// MAC address of `name` (from sysfs).
pub fn mac_address(name: &str) -> io::Result<[u8; 6]> {
    let s = std::fs::read_to_string(format!("/sys/class/net/{name}/address"))?;
    let mut m = [0u8; 6];
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() != 6 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name}: not an Ethernet address: {s}"),
        ));
    }
    for (o, p) in m.iter_mut().zip(parts) {
        *o =
            u8::from_str_radix(p, 16).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
    Ok(m)
}

/// Whether the link is operationally up (`operstate` up, or unknown for
/// interfaces that do not report it).
pub fn link_is_up(name: &str) -> io::Result<bool> {
    let s = std::fs::read_to_string(format!("/sys/class/net/{name}/operstate"))?;
    Ok(matches!(s.trim(), "up" | "unknown"))
}

/// Scope by name or number (`ip addr` names).
pub fn scope_from_str(s: &str) -> Option<u8> {
    Some(match s {
        "global" | "universe" => 0,
        "site" => 200,
        "link" => 253,
        "host" => 254,
        "nowhere" => 255,
        n => n.parse().ok()?,
    })
}

/// One address to add or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrSpec {
    /// Interface index.
    pub ifindex: u32,
    /// Address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// IPv4 broadcast.
    pub brd: Option<Ipv4Addr>,
    /// Scope (0 = global).
    pub scope: u8,
    /// IPv4 label.
    pub label: Option<String>,
}

/// A `NETLINK_ROUTE` request socket.
#[derive(Debug)]
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

fn cvt(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn nl_socket(groups: u32, nonblock: bool) -> io::Result<OwnedFd> {
    let flags = libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain syscall.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | flags,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data.
    let mut sa: libc::sockaddr_nl = unsafe { zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sa.nl_groups = groups;
    // SAFETY: address valid for its size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

pub(crate) fn push_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

pub(crate) fn ip_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Iterate `(type, payload)` of rtattrs.
pub(crate) fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let ty = u16::from_ne_bytes([b[2], b[3]]);
        if len < 4 || len > b.len() {
            return None;
        }
        let data = &b[4..len];
        b = &b[((len + 3) & !3).min(b.len())..];
        Some((ty, data))
    })
}

impl Rtnl {
    /// Open a request socket.
    pub fn open() -> io::Result<Self> {
        Ok(Self {
            fd: nl_socket(0, false)?,
            seq: 1,
        })
    }

    pub(crate) fn send(&mut self, ty: u16, flags: u16, body: &[u8]) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut m = Vec::with_capacity(NLMSG_HDRLEN + body.len());
        m.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&(flags | libc::NLM_F_REQUEST as u16).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        // SAFETY: buffer valid for its length.
        cvt(unsafe { libc::send(self.fd.as_raw_fd(), m.as_ptr().cast(), m.len(), 0) })?;
        Ok(self.seq)
    }

    /// Read replies for `seq`, calling `f` for each data message, until ACK
    /// (error 0) or NLMSG_DONE. A negative error is returned as io::Error.
    pub(crate) fn recv_until_done(
        &mut self,
        seq: u32,
        mut f: impl FnMut(u16, &[u8]),
    ) -> io::Result<()> {
        let mut buf = vec![0u8; 32768];
        loop {
            // SAFETY: buffer valid for its length.
            let n = cvt(unsafe {
                libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
            })?;
            let mut b = &buf[..n];
            while let Some(m) = next_nlmsg(&mut b) {
                let (ty, mseq, payload) = m.map_err(|()| {
                    io::Error::new(io::ErrorKind::InvalidData, "truncated netlink message")
                })?;
                if mseq != seq {
                    continue;
                }
                match ty as i32 {
                    libc::NLMSG_DONE => return Ok(()),
                    libc::NLMSG_ERROR => {
                        let err = i32::from_ne_bytes(payload[0..4].try_into().unwrap());
                        return if err == 0 {
                            Ok(())
                        } else {
                            Err(io::Error::from_raw_os_error(-err))
                        };
                    }
                    _ => f(ty, payload),
                }
            }
        }
    }

    fn addr_msg(spec: &AddrSpec) -> Vec<u8> {
        let v6 = spec.addr.is_ipv6();
        let mut b = vec![
            if v6 {
                libc::AF_INET6 as u8
            } else {
                libc::AF_INET as u8
            },
            spec.prefix,
            if v6 { IFA_F_NODAD } else { 0 },
            spec.scope,
        ];
        b.extend_from_slice(&spec.ifindex.to_ne_bytes());
        push_attr(&mut b, IFA_LOCAL, &ip_bytes(spec.addr));
        push_attr(&mut b, IFA_ADDRESS, &ip_bytes(spec.addr));
        if let (Some(brd), false) = (spec.brd, v6) {
            push_attr(&mut b, IFA_BROADCAST, &brd.octets());
        }
        if let (Some(l), false) = (&spec.label, v6) {
            let mut s = l.as_bytes().to_vec();
            s.push(0);
            push_attr(&mut b, IFA_LABEL, &s);
        }
        b
    }

    /// Add an address; an address already present is not an error.
    pub fn add_address(&mut self, spec: &AddrSpec) -> io::Result<()> {
        let flags = (libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        let seq = self.send(libc::RTM_NEWADDR, flags, &Self::addr_msg(spec))?;
        match self.recv_until_done(seq, |_, _| {}) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r,
        }
    }

    /// Remove an address; an absent address is not an error.
    pub fn del_address(&mut self, spec: &AddrSpec) -> io::Result<()> {
        let seq = self.send(
            libc::RTM_DELADDR,
            libc::NLM_F_ACK as u16,
            &Self::addr_msg(spec),
        )?;
        match self.recv_until_done(seq, |_, _| {}) {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT)
                ) =>
            {
                Ok(())
            }
            r => r,
        }
    }

    /// Addresses of an interface: `(address, prefix, flags, scope)`.
    pub fn addresses(&mut self, ifindex: u32, v6: bool) -> io::Result<Vec<(IpAddr, u8, u8, u8)>> {
        let family = if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
        let body = [family, 0, 0, 0, 0, 0, 0, 0];
        let seq = self.send(libc::RTM_GETADDR, libc::NLM_F_DUMP as u16, &body)?;
        let mut out = Vec::new();
        self.recv_until_done(seq, |ty, p| {
            if ty != libc::RTM_NEWADDR || p.len() < 8 {
                return;
            }
            let idx = u32::from_ne_bytes(p[4..8].try_into().unwrap());
            if idx != ifindex || p[0] != family {
                return;
            }
            let (prefix, flags, scope) = (p[1], p[2], p[3]);
            let mut local = None;
            let mut address = None;
            for (t, d) in attrs(&p[8..]) {
                let a = match d.len() {
                    4 => Some(IpAddr::V4(Ipv4Addr::new(d[0], d[1], d[2], d[3]))),
                    16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(d).unwrap()))),
                    _ => None,
                };
                match t {
                    IFA_LOCAL => local = a,
                    IFA_ADDRESS => address = a,
                    _ => {}
                }
            }
            if let Some(a) = local.or(address) {
                out.push((a, prefix, flags, scope));
            }
        })?;
        Ok(out)
    }

    /// keepalived's default source: the first primary IPv4 address, or the
    /// first link-local IPv6 address, of the interface.
    pub fn primary_address(&mut self, ifindex: u32, v6: bool) -> io::Result<Option<IpAddr>> {
        let addrs = self.addresses(ifindex, v6)?;
        Ok(if v6 {
            addrs
                .iter()
                .find(|(a, ..)| matches!(a, IpAddr::V6(x) if x.segments()[0] & 0xffc0 == 0xfe80))
                .map(|x| x.0)
        } else {
            addrs
                .iter()
                .find(|(_, _, f, _)| f & IFA_F_SECONDARY == 0)
                .map(|x| x.0)
        })
    }
}

/// What one message of an [`NlBatch`] does (for reading its answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOp {
    /// `RTM_NEWADDR` (an address already present is not an error).
    AddAddress,
    /// `RTM_NEWROUTE` (a route already present is not an error).
    AddRoute,
    /// `RTM_NEWRULE` (a rule already present is not an error).
    AddRule,
}

/// rtnetlink requests encoded once (when a configuration is loaded) and sent
/// together by [`Rtnl::send_batch`]: one `sendmsg` for all of them. The
/// kernel processes a request sent to `NETLINK_ROUTE` inside that call, in
/// order, one message after the other (`netlink_unicast` → `rtnetlink_rcv` →
/// `netlink_rcv_skb`), and queues each acknowledgement on the socket: when
/// `send_batch` returns, every address of the batch is installed, and the
/// acknowledgements can be read later ([`Rtnl::batch_acks`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NlBatch {
    buf: Vec<u8>,
    /// Offset of each message in `buf`, and what it does.
    msgs: Vec<(usize, BatchOp)>,
}

/// The acknowledgements a sent batch still owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "read the acknowledgements with Rtnl::batch_acks"]
pub struct PendingAcks {
    first_seq: u32,
    count: usize,
}

/// Largest part of a batch sent in one call (well under the socket's send buffer).
const BATCH_CHUNK: usize = 32 * 1024;

impl NlBatch {
    fn push(&mut self, ty: u16, op: BatchOp, body: &[u8]) {
        let flags =
            (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        self.msgs.push((self.buf.len(), op));
        self.buf
            .extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set when sent
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(body);
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    /// Append an address add.
    pub fn add_address(&mut self, spec: &AddrSpec) {
        self.push(
            libc::RTM_NEWADDR,
            BatchOp::AddAddress,
            &Rtnl::addr_msg(spec),
        );
    }

    /// Append a route add (the route's `dev` is resolved now).
    pub fn add_route(&mut self, r: &crate::route::RouteSpec) -> io::Result<()> {
        let body = r.msg(false)?;
        self.push(libc::RTM_NEWROUTE, BatchOp::AddRoute, &body);
        Ok(())
    }

    /// Append a rule add.
    pub fn add_rule(&mut self, r: &crate::route::RuleSpec) {
        self.push(libc::RTM_NEWRULE, BatchOp::AddRule, &r.msg());
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// No request.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// What request `i` does.
    pub fn op(&self, i: usize) -> Option<BatchOp> {
        self.msgs.get(i).map(|m| m.1)
    }
}

impl Rtnl {
    /// Send every request of `batch` with as few `send` calls as its size
    /// allows (one below 32 KiB), numbering them; returns at once, the
    /// requests done (see [`NlBatch`]). Allocates nothing.
    pub fn send_batch(&mut self, batch: &mut NlBatch) -> io::Result<PendingAcks> {
        let first_seq = self.seq.wrapping_add(1);
        for &(off, _) in &batch.msgs {
            self.seq = self.seq.wrapping_add(1);
            batch.buf[off + 8..off + 12].copy_from_slice(&self.seq.to_ne_bytes());
        }
        let mut start = 0;
        let mut i = 0;
        while i < batch.msgs.len() {
            // The largest run of whole messages from `start` within one chunk (at least one).
            let mut end_i = i + 1;
            while end_i < batch.msgs.len() && batch.msgs[end_i].0 - start <= BATCH_CHUNK {
                end_i += 1;
            }
            let end = batch.msgs.get(end_i).map_or(batch.buf.len(), |m| m.0);
            let part = &batch.buf[start..end];
            // SAFETY: buffer valid for its length.
            cvt(unsafe { libc::send(self.fd.as_raw_fd(), part.as_ptr().cast(), part.len(), 0) })?;
            start = end;
            i = end_i;
        }
        Ok(PendingAcks {
            first_seq,
            count: batch.msgs.len(),
        })
    }

    /// Read the acknowledgements of a batch sent with [`Self::send_batch`]
    /// (they are queued already: never blocks); `f(i, result)` for request
    /// `i`, where an entry already present counts as success. Acks of other
    /// requests are skipped, so read a batch's acks before any other request
    /// on this socket.
    pub fn batch_acks(
        &mut self,
        pending: PendingAcks,
        mut f: impl FnMut(usize, io::Result<()>),
    ) -> io::Result<()> {
        let mut left = pending.count;
        let mut buf = [0u8; 4096];
        while left > 0 {
            // SAFETY: buffer valid for its length.
            let n = cvt(unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            })
            .map_err(|e| {
                if e.kind() == io::ErrorKind::WouldBlock {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("{left} rtnetlink acknowledgement(s) missing"),
                    )
                } else {
                    e
                }
            })?;
            let mut b = &buf[..n];
            while let Some(Ok((ty, mseq, payload))) = next_nlmsg(&mut b) {
                let i = mseq.wrapping_sub(pending.first_seq) as usize;
                if ty as i32 != libc::NLMSG_ERROR || i >= pending.count || payload.len() < 4 {
                    continue;
                }
                let err = i32::from_ne_bytes(payload[0..4].try_into().unwrap());
                left -= 1;
                f(
                    i,
                    if err == 0 || err == -libc::EEXIST {
                        Ok(())
                    } else {
                        Err(io::Error::from_raw_os_error(-err))
                    },
                );
            }
        }
        Ok(())
    }
}

/// A received netlink message: type, sequence number, payload.
type NlMsg<'b> = (u16, u32, &'b [u8]);

/// The next netlink message of a received buffer, advancing it: `(type, sequence, payload)`;
/// `None` at the end, `Some(Err(()))` when a header claims less than a header or more than is left.
fn next_nlmsg<'b>(b: &mut &'b [u8]) -> Option<Result<NlMsg<'b>, ()>> {
    if b.len() < NLMSG_HDRLEN {
        return None;
    }
    let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
    let ty = u16::from_ne_bytes([b[4], b[5]]);
    let seq = u32::from_ne_bytes(b[8..12].try_into().unwrap());
    if len < NLMSG_HDRLEN || len > b.len() {
        return Some(Err(()));
    }
    let payload = &b[NLMSG_HDRLEN..len];
    *b = &b[((len + 3) & !3).min(b.len())..];
    Some(Ok((ty, seq, payload)))
}

/// A link-state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// Interface index.
    pub ifindex: u32,
    /// Interface name.
    pub name: String,
    /// IFF_UP and IFF_RUNNING.
    pub up: bool,
}

/// A non-blocking rtnetlink socket subscribed to link notifications.
#[derive(Debug)]
pub struct LinkMonitor {
    fd: OwnedFd,
}

impl AsRawFd for LinkMonitor {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl LinkMonitor {
    /// Subscribe to `RTMGRP_LINK`.
    pub fn open() -> io::Result<Self> {
        Ok(Self {
            fd: nl_socket(RTMGRP_LINK, true)?,
        })
    }

    /// Register with the tokio reactor (the current runtime).
    pub fn into_async(self) -> io::Result<tokio::io::unix::AsyncFd<Self>> {
        // SAFETY: the monitor owns its fd (OwnedFd), so it stays open for the
        // AsyncFd's lifetime and is registered nowhere else.
        unsafe { tokio::io::unix::AsyncFd::register(self) }.map_err(io::Error::from)
    }

    /// Drain pending notifications (`WouldBlock` when none are queued).
    pub fn recv(&self) -> io::Result<Vec<LinkEvent>> {
        let mut buf = vec![0u8; 32768];
        // SAFETY: buffer valid for its length.
        let n =
            cvt(unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })?;
        let mut out = Vec::new();
        let mut b = &buf[..n];
        while b.len() >= NLMSG_HDRLEN {
            let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
            let ty = u16::from_ne_bytes([b[4], b[5]]);
            if len < NLMSG_HDRLEN || len > b.len() {
                break;
            }
            let p = &b[NLMSG_HDRLEN..len];
            b = &b[((len + 3) & !3).min(b.len())..];
            if ty != libc::RTM_NEWLINK || p.len() < 16 {
                continue;
            }
            let ifindex = i32::from_ne_bytes(p[4..8].try_into().unwrap()) as u32;
            let flags = u32::from_ne_bytes(p[8..12].try_into().unwrap());
            let name = attrs(&p[16..])
                .find(|(t, _)| *t == IFLA_IFNAME)
                .map(|(_, d)| {
                    String::from_utf8_lossy(d.split(|c| *c == 0).next().unwrap_or(d)).into_owned()
                })
                .unwrap_or_default();
            let up = flags & libc::IFF_UP as u32 != 0 && flags & libc::IFF_RUNNING as u32 != 0;
            out.push(LinkEvent { ifindex, name, up });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_encoding_is_aligned_and_parses_back() {
        let mut b = Vec::new();
        push_attr(&mut b, IFA_LABEL, b"eth0:1\0");
        push_attr(&mut b, IFA_LOCAL, &[10, 0, 0, 1]);
        assert_eq!(b.len() % 4, 0);
        let got: Vec<(u16, Vec<u8>)> = attrs(&b).map(|(t, d)| (t, d.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                (IFA_LABEL, b"eth0:1\0".to_vec()),
                (IFA_LOCAL, vec![10, 0, 0, 1])
            ]
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(scope_from_str("link"), Some(253));
        assert_eq!(scope_from_str("global"), Some(0));
        assert_eq!(scope_from_str("42"), Some(42));
        assert_eq!(scope_from_str("bogus"), None);
    }

    /// In a network namespace of its own (this thread only): the batch's
    /// addresses exist as soon as `send_batch` returns, before any
    /// acknowledgement is read; errors come back per request.
    #[test]
    fn batch_addresses_exist_when_send_returns() {
        std::thread::spawn(|| {
            // SAFETY: plain syscall; it moves only this thread to a new namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                let e = io::Error::last_os_error();
                assert_eq!(e.raw_os_error(), Some(libc::EPERM), "unshare: {e}");
                eprintln!("skipped: needs root (CLONE_NEWNET)");
                return;
            }
            let spec = |a: &str, ifindex| AddrSpec {
                ifindex,
                addr: a.parse().unwrap(),
                prefix: if a.contains(':') { 128 } else { 32 },
                brd: None,
                scope: 0,
                label: None,
            };
            let mut b = NlBatch::default();
            b.add_address(&spec("10.9.8.7", 1));
            b.add_address(&spec("fd00::7", 1));
            b.add_address(&spec("10.9.8.8", 999)); // no such interface
            b.add_address(&spec("10.9.8.9", 1));
            assert_eq!(b.len(), 4);
            let mut nl = Rtnl::open().unwrap();
            let pending = nl.send_batch(&mut b).unwrap();
            // Another socket looks before a single ack is read.
            let mut other = Rtnl::open().unwrap();
            let v4: Vec<IpAddr> = other
                .addresses(1, false)
                .unwrap()
                .into_iter()
                .map(|a| a.0)
                .collect();
            let v6 = other.addresses(1, true).unwrap();
            for a in ["10.9.8.7", "10.9.8.9"] {
                assert!(v4.contains(&a.parse().unwrap()), "{a} not in {v4:?}");
            }
            let fd7: IpAddr = "fd00::7".parse().unwrap();
            let (_, _, flags, _) = *v6.iter().find(|a| a.0 == fd7).expect("fd00::7");
            assert_eq!(flags & 0x40, 0, "IFA_F_TENTATIVE on a NODAD address");
            let mut got = Vec::new();
            nl.batch_acks(pending, |i, r| {
                got.push((i, r.map_err(|e| e.raw_os_error())))
            })
            .unwrap();
            assert_eq!(
                got,
                vec![
                    (0, Ok(())),
                    (1, Ok(())),
                    (2, Err(Some(libc::ENODEV))),
                    (3, Ok(()))
                ]
            );
            // Sent again: present already is success; the socket is reusable.
            let pending = nl.send_batch(&mut b).unwrap();
            let mut ok = 0;
            nl.batch_acks(pending, |_, r| ok += usize::from(r.is_ok()))
                .unwrap();
            assert_eq!(ok, 3);
            assert!(nl.primary_address(1, false).unwrap().is_some());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn loopback_facts() {
        assert_eq!(ifindex("lo").unwrap(), 1);
        assert!(ifindex("no-such-if0").is_err());
        let mut nl = Rtnl::open().unwrap();
        let a = nl.primary_address(1, false).unwrap();
        assert_eq!(a, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
}
