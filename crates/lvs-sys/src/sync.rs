//! IPVS connection-sync sockets: the UDP multicast sockets of lvsd's own
//! sync master and backup, set up as the kernel's sync threads set up theirs
//! (`make_send_sock` / `make_receive_sock` in `ip_vs_sync.c`).
//!
//! - Master: bound to the interface (`SO_BINDTODEVICE`), multicast output
//!   on its ifindex, loop off, TTL/hop limit as configured, PMTU discovery
//!   off (`IP_PMTUDISC_DONT`), bound to the interface's primary IPv4 address
//!   (IPv4 groups), connected to `group:port`.
//! - Backup: `SO_REUSEADDR`, bound to the interface, bound to `group:port`,
//!   member of the group on that interface.
//!
//! Both return a blocking [`std::net::UdpSocket`]; async drivers convert it
//! with `set_nonblocking(true)` and `tokio::net::UdpSocket::from_std`.

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Where and how a sync socket talks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSocketCfg {
    /// Multicast interface name (`lvs_sync_daemon IFACE`).
    pub ifname: String,
    /// Multicast group (default 224.0.0.81).
    pub group: IpAddr,
    /// UDP port (default 8848).
    pub port: u16,
    /// Multicast TTL / hop limit (default 1).
    pub ttl: u8,
    /// `sync_sock_size`: SO_SNDBUF (master) / SO_RCVBUF (backup); 0 = system default. With
    /// CAP_NET_ADMIN the size is forced past `net.core.{w,r}mem_max` (`SO_*BUFFORCE`).
    pub sock_size: usize,
}

fn ctx(op: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("sync socket: {op}: {e}"))
}

fn last(op: &str) -> io::Error {
    ctx(op, io::Error::last_os_error())
}

fn setsockopt<T>(fd: RawFd, level: i32, name: i32, val: &T, op: &str) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the given size for the duration of the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            val as *const T as *const libc::c_void,
            size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(last(op));
    }
    Ok(())
}

/// The ifindex of `ifname`.
pub fn if_index(ifname: &str) -> io::Result<u32> {
    let c = CString::new(ifname)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has NUL"))?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(ctx(
            &format!("unknown interface {ifname}"),
            io::Error::last_os_error(),
        ));
    }
    Ok(idx)
}

/// The first IPv4 address of `ifname` (its primary address), if any.
pub fn if_ipv4(ifname: &str) -> io::Result<Option<Ipv4Addr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } < 0 {
        return Err(last("getifaddrs"));
    }
    let mut found = None;
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list returned by getifaddrs.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        // SAFETY: ifa_addr is non-null and points to a sockaddr.
        let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
        if name.to_bytes() == ifname.as_bytes() && family == libc::AF_INET {
            // SAFETY: family AF_INET means the sockaddr is a sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            found = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            break;
        }
    }
    // SAFETY: `head` came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    Ok(found)
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn udp_socket(group: &IpAddr) -> io::Result<OwnedFd> {
    let af = if group.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(af, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, libc::IPPROTO_UDP) };
    if fd < 0 {
        return Err(last("socket"));
    }
    // SAFETY: `fd` is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind_device(fd: RawFd, ifname: &str) -> io::Result<()> {
    let name = CString::new(ifname)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has NUL"))?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: `bytes` is valid for its length during the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            bytes.as_ptr() as *const libc::c_void,
            bytes.len() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(last(&format!("SO_BINDTODEVICE {ifname}")));
    }
    Ok(())
}

fn bind(fd: RawFd, addr: SocketAddr) -> io::Result<()> {
    let (ss, len) = sockaddr(addr);
    // SAFETY: `ss` holds a valid sockaddr of `len` bytes.
    if unsafe { libc::bind(fd, &ss as *const _ as *const libc::sockaddr, len) } < 0 {
        return Err(last(&format!("bind {addr}")));
    }
    Ok(())
}

fn connect(fd: RawFd, addr: SocketAddr) -> io::Result<()> {
    let (ss, len) = sockaddr(addr);
    // SAFETY: `ss` holds a valid sockaddr of `len` bytes.
    if unsafe { libc::connect(fd, &ss as *const _ as *const libc::sockaddr, len) } < 0 {
        return Err(last(&format!("connect {addr}")));
    }
    Ok(())
}

/// Open the master's sending socket. Datagrams are sent with
/// [`UdpSocket::send`] (the socket is connected to `group:port`).
pub fn open_master(cfg: &SyncSocketCfg) -> io::Result<UdpSocket> {
    let ifindex = if_index(&cfg.ifname)?;
    let sock = udp_socket(&cfg.group)?;
    let fd = sock.as_raw_fd();
    bind_device(fd, &cfg.ifname)?;
    let ttl = libc::c_int::from(cfg.ttl);
    let off: libc::c_int = 0;
    match cfg.group {
        IpAddr::V4(_) => {
            let mreqn = libc::ip_mreqn {
                imr_multiaddr: libc::in_addr { s_addr: 0 },
                imr_address: libc::in_addr { s_addr: 0 },
                imr_ifindex: ifindex as libc::c_int,
            };
            setsockopt(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_IF,
                &mreqn,
                "IP_MULTICAST_IF",
            )?;
            setsockopt(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_LOOP,
                &off,
                "IP_MULTICAST_LOOP",
            )?;
            setsockopt(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_TTL,
                &ttl,
                "IP_MULTICAST_TTL",
            )?;
            let dont: libc::c_int = libc::IP_PMTUDISC_DONT;
            setsockopt(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                &dont,
                "IP_MTU_DISCOVER",
            )?;
            // The kernel master binds to the interface's primary address.
            let src = if_ipv4(&cfg.ifname)?.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    format!("sync socket: interface {} has no IPv4 address", cfg.ifname),
                )
            })?;
            bind(fd, SocketAddr::new(IpAddr::V4(src), 0))?;
        }
        IpAddr::V6(_) => {
            let idx = ifindex as libc::c_int;
            setsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_IF,
                &idx,
                "IPV6_MULTICAST_IF",
            )?;
            setsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_LOOP,
                &off,
                "IPV6_MULTICAST_LOOP",
            )?;
            setsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_HOPS,
                &ttl,
                "IPV6_MULTICAST_HOPS",
            )?;
            let dont: libc::c_int = libc::IPV6_PMTUDISC_DONT;
            setsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                &dont,
                "IPV6_MTU_DISCOVER",
            )?;
        }
    }
    if cfg.sock_size > 0 {
        buf_size(
            fd,
            cfg.sock_size,
            libc::SO_SNDBUFFORCE,
            libc::SO_SNDBUF,
            "SO_SNDBUF",
        )?;
    }
    let scope = if cfg.group.is_ipv6() { ifindex } else { 0 };
    let dst = match cfg.group {
        IpAddr::V4(g) => SocketAddr::new(IpAddr::V4(g), cfg.port),
        IpAddr::V6(g) => SocketAddr::V6(std::net::SocketAddrV6::new(g, cfg.port, 0, scope)),
    };
    connect(fd, dst)?;
    Ok(UdpSocket::from(sock))
}

/// Sets a socket buffer size: the forcing option first (root), else the plain one (capped by
/// the `*mem_max` sysctl).
fn buf_size(fd: RawFd, size: usize, force: i32, plain: i32, op: &str) -> io::Result<()> {
    let v = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    setsockopt(fd, libc::SOL_SOCKET, force, &v, op)
        .or_else(|_| setsockopt(fd, libc::SOL_SOCKET, plain, &v, op))
}

/// Open the backup's receiving socket, joined to the group on the interface.
pub fn open_backup(cfg: &SyncSocketCfg) -> io::Result<UdpSocket> {
    let ifindex = if_index(&cfg.ifname)?;
    let sock = udp_socket(&cfg.group)?;
    let fd = sock.as_raw_fd();
    let on: libc::c_int = 1;
    setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_REUSEADDR,
        &on,
        "SO_REUSEADDR",
    )?;
    bind_device(fd, &cfg.ifname)?;
    if cfg.sock_size > 0 {
        buf_size(
            fd,
            cfg.sock_size,
            libc::SO_RCVBUFFORCE,
            libc::SO_RCVBUF,
            "SO_RCVBUF",
        )?;
    }
    match cfg.group {
        IpAddr::V4(g) => {
            bind(fd, SocketAddr::new(IpAddr::V4(g), cfg.port))?;
            let mreqn = libc::ip_mreqn {
                imr_multiaddr: libc::in_addr {
                    s_addr: u32::from(g).to_be(),
                },
                imr_address: libc::in_addr { s_addr: 0 },
                imr_ifindex: ifindex as libc::c_int,
            };
            setsockopt(
                fd,
                libc::IPPROTO_IP,
                libc::IP_ADD_MEMBERSHIP,
                &mreqn,
                "IP_ADD_MEMBERSHIP",
            )?;
        }
        IpAddr::V6(g) => {
            bind(
                fd,
                SocketAddr::V6(std::net::SocketAddrV6::new(g, cfg.port, 0, ifindex)),
            )?;
            let mreq = libc::ipv6_mreq {
                ipv6mr_multiaddr: libc::in6_addr {
                    s6_addr: g.octets(),
                },
                ipv6mr_interface: ifindex,
            };
            setsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_ADD_MEMBERSHIP,
                &mreq,
                "IPV6_ADD_MEMBERSHIP",
            )?;
        }
    }
    Ok(UdpSocket::from(sock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_an_index_and_an_ipv4_address() {
        assert!(if_index("lo").unwrap() > 0);
        assert_eq!(if_ipv4("lo").unwrap(), Some(Ipv4Addr::LOCALHOST));
        assert!(if_index("no-such-if0").is_err());
    }

    /// A burst of sync messages (lvsd's master sends a table scan at once) must fit the backup's
    /// receive buffer: as root the size is forced past net.core.rmem_max.
    #[test]
    fn buffer_size_is_forced_as_root() {
        let sock = udp_socket(&IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let fd = sock.as_raw_fd();
        let want = 16 << 20;
        buf_size(fd, want, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, "SO_RCVBUF").unwrap();
        let mut got: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `got` and `len` are live locals of the sizes passed.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &mut got as *mut libc::c_int as *mut libc::c_void,
                &mut len,
            )
        };
        assert_eq!(r, 0);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            assert!(got as usize >= want, "SO_RCVBUF {got} < {want}");
        } else {
            assert!(got > 0);
        }
    }
}
