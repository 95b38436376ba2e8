//! VRRP sockets: raw IP protocol 112 for IPv4 (`IP_HDRINCL`, the engine
//! builds the header: TOS 0xc0, TTL 255) and IPv6 (hop limit 255, TCLASS
//! 0xc0, source chosen with `IPV6_PKTINFO`, hop limit and destination read
//! back from ancillary data), joined to 224.0.0.18 / ff02::12 on one
//! interface; plus an `AF_PACKET` sender for gratuitous ARP and unsolicited
//! NA frames.
//!
//! Sockets are non-blocking; the daemon registers the fd with its reactor
//! (`AsRawFd`) and calls [`VrrpSocket::recv`] until `WouldBlock`.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::addr::ifindex;

const IPPROTO_VRRP: libc::c_int = 112;
const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live T of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned from here on.
    let fd =
        cvt(unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: fd was just returned by socket(2).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind_to_device(fd: RawFd, ifname: &str) -> io::Result<()> {
    // SAFETY: the name slice is valid for its length.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            ifname.as_ptr().cast(),
            ifname.len() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// A received VRRP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes in the buffer (IPv4: whole datagram; IPv6: VRRP message).
    pub len: usize,
    /// Source (IPv6 only meaningful; IPv4 has it in the header).
    pub src: IpAddr,
    /// Destination (IPv6 from IPV6_PKTINFO).
    pub dst: IpAddr,
    /// Hop limit (IPv6 from IPV6_HOPLIMIT; IPv4: from the header).
    pub hop_limit: u8,
}

/// A raw VRRP socket on one interface and family.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: OwnedFd,
    ifindex: u32,
    v6: bool,
}

impl AsRawFd for VrrpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl VrrpSocket {
    /// IPv4: raw protocol 112 with `IP_HDRINCL`, bound to `ifname`, member of
    /// 224.0.0.18 there (when `multicast`), no multicast loopback.
    pub fn open_v4(ifname: &str, multicast: bool) -> io::Result<Self> {
        let idx = ifindex(ifname)?;
        let fd = socket(libc::AF_INET, libc::SOCK_RAW, IPPROTO_VRRP)?;
        let raw = fd.as_raw_fd();
        bind_to_device(raw, ifname)?;
        setsockopt(raw, libc::IPPROTO_IP, libc::IP_HDRINCL, &1i32)?;
        setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0i32)?;
        setsockopt(raw, libc::IPPROTO_IP, libc::IP_TOS, &0xc0i32)?;
        // SAFETY: ip_mreqn is plain data.
        let mut mreq: libc::ip_mreqn = unsafe { zeroed() };
        mreq.imr_ifindex = idx as libc::c_int;
        setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)?;
        if multicast {
            mreq.imr_multiaddr.s_addr = u32::from_ne_bytes(MCAST_V4.octets());
            setsockopt(raw, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
        }
        Ok(Self {
            fd,
            ifindex: idx,
            v6: false,
        })
    }

    /// IPv6: raw protocol 112, hop limits 255, TCLASS 0xc0, PKTINFO and
    /// HOPLIMIT ancillary data, member of ff02::12 on `ifname`. The kernel
    /// does not verify the VRRP checksum (no `IPV6_CHECKSUM`): the engine
    /// does, so bad checksums are counted.
    pub fn open_v6(ifname: &str, multicast: bool) -> io::Result<Self> {
        let idx = ifindex(ifname)?;
        let fd = socket(libc::AF_INET6, libc::SOCK_RAW, IPPROTO_VRRP)?;
        let raw = fd.as_raw_fd();
        bind_to_device(raw, ifname)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &255i32)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &255i32)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, &0xc0i32)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &0i32)?;
        setsockopt(
            raw,
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_IF,
            &(idx as i32),
        )?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &1i32)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &1i32)?;
        if multicast {
            let mreq = libc::ipv6_mreq {
                ipv6mr_multiaddr: libc::in6_addr {
                    s6_addr: MCAST_V6.octets(),
                },
                ipv6mr_interface: idx,
            };
            setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq)?;
        }
        Ok(Self {
            fd,
            ifindex: idx,
            v6: true,
        })
    }

    /// Interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Register with the tokio reactor (the current runtime).
    pub fn into_async(self) -> io::Result<tokio::io::unix::AsyncFd<Self>> {
        // SAFETY: the socket owns its fd (OwnedFd), so it stays open for the
        // AsyncFd's lifetime and is registered nowhere else.
        unsafe { tokio::io::unix::AsyncFd::register(self) }.map_err(io::Error::from)
    }

    /// Send a complete IPv4 datagram (header included) to `dst`.
    pub fn send_v4(&self, datagram: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        // SAFETY: sockaddr_in is plain data.
        let mut sa: libc::sockaddr_in = unsafe { zeroed() };
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from_ne_bytes(dst.octets());
        // SAFETY: buffer and address are valid for the lengths given.
        cvt(unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                datagram.as_ptr().cast(),
                datagram.len(),
                0,
                (&sa as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ) as libc::c_int
        })?;
        Ok(())
    }

    /// Send a VRRP message from `src` (via IPV6_PKTINFO) to `dst`.
    pub fn send_v6(&self, payload: &[u8], src: Ipv6Addr, dst: Ipv6Addr) -> io::Result<()> {
        // SAFETY: sockaddr_in6 is plain data.
        let mut sa: libc::sockaddr_in6 = unsafe { zeroed() };
        sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        sa.sin6_addr.s6_addr = dst.octets();
        sa.sin6_scope_id = self.ifindex;
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: src.octets(),
            },
            ipi6_ifindex: self.ifindex,
        };
        let mut cbuf = [0u64; 8];
        let mut iov = libc::iovec {
            iov_base: payload.as_ptr() as *mut _,
            iov_len: payload.len(),
        };
        // SAFETY: msghdr is plain data; all pointers outlive the call.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut sa as *mut libc::sockaddr_in6).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure computation.
        msg.msg_controllen =
            unsafe { libc::CMSG_SPACE(size_of::<libc::in6_pktinfo>() as u32) } as usize;
        // SAFETY: the control buffer is large enough for one in6_pktinfo cmsg.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::IPPROTO_IPV6;
            (*c).cmsg_type = libc::IPV6_PKTINFO;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>(), info);
        }
        // SAFETY: msg is fully initialised.
        cvt(unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, 0) } as libc::c_int)?;
        Ok(())
    }

    /// Receive one packet into `buf` (non-blocking: `WouldBlock` when empty).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        // SAFETY: sockaddr_storage is plain data.
        let mut sa: libc::sockaddr_storage = unsafe { zeroed() };
        let mut cbuf = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut sa as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>();
        // SAFETY: all buffers are valid for their stated lengths.
        let n = cvt(unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0) } as libc::c_int)?
            as usize;
        if !self.v6 {
            let (src, dst, ttl) = if n >= 20 {
                (
                    IpAddr::V4(Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15])),
                    IpAddr::V4(Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19])),
                    buf[8],
                )
            } else {
                (
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    0,
                )
            };
            return Ok(Received {
                len: n,
                src,
                dst,
                hop_limit: ttl,
            });
        }
        // SAFETY: the kernel filled a sockaddr_in6 for an AF_INET6 socket.
        let sin6 = unsafe { &*(&sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
        let src = IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr));
        let mut dst = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let mut hop = 0u8;
        // SAFETY: iterating the control messages the kernel wrote.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::IPPROTO_IPV6 && (*c).cmsg_type == libc::IPV6_PKTINFO {
                    let info =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>());
                    dst = IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                } else if (*c).cmsg_level == libc::IPPROTO_IPV6
                    && (*c).cmsg_type == libc::IPV6_HOPLIMIT
                {
                    hop = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>()) as u8;
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(Received {
            len: n,
            src,
            dst,
            hop_limit: hop,
        })
    }
}

/// An `AF_PACKET` socket that sends complete Ethernet frames (gratuitous ARP,
/// unsolicited NA) out of one interface.
#[derive(Debug)]
pub struct FrameSender {
    fd: OwnedFd,
    ifindex: u32,
}

impl FrameSender {
    /// Open for `ifname`.
    pub fn open(ifname: &str) -> io::Result<Self> {
        let idx = ifindex(ifname)?;
        // Protocol 0: send only, receive nothing.
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
        Ok(Self { fd, ifindex: idx })
    }

    /// Interface index it sends on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Send one frame (destination MAC taken from the frame).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame shorter than an Ethernet header",
            ));
        }
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = self.ifindex as i32;
        sll.sll_protocol = u16::from_be_bytes([frame[12], frame[13]]).to_be();
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and address valid for the lengths given.
        cvt(unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            ) as libc::c_int
        })?;
        Ok(())
    }
}
