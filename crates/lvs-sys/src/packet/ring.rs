//! AF_PACKET socket bound to one interface, with a TPACKET_V3 receive ring
//! (block-based, mmap'ed, zero syscalls per received packet) and batched
//! transmit through `sendmmsg`.
//!
//! Layouts follow `include/uapi/linux/if_packet.h`; the constants are spelled
//! out here so the code does not depend on which of them a given `libc`
//! release exports.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, Ordering};

const SOL_PACKET: libc::c_int = 263;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_FANOUT: libc::c_int = 18;
const PACKET_QDISC_BYPASS: libc::c_int = 20;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const TPACKET_V3: libc::c_int = 2;
const ETH_P_ALL: u16 = 0x0003;

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;

/// `sll_pkttype` values (`linux/if_packet.h`).
pub mod pkttype {
    /// To us (destination MAC is ours).
    pub const HOST: u8 = 0;
    /// Broadcast.
    pub const BROADCAST: u8 = 1;
    /// Multicast.
    pub const MULTICAST: u8 = 2;
    /// To someone else (promiscuous).
    pub const OTHERHOST: u8 = 3;
    /// Sent by us (only seen without `PACKET_IGNORE_OUTGOING`).
    pub const OUTGOING: u8 = 4;
}

// Offsets inside `struct tpacket_block_desc` / `tpacket_hdr_v1`.
const BD_BLOCK_STATUS: usize = 8;
const BD_NUM_PKTS: usize = 12;
const BD_OFFSET_TO_FIRST: usize = 16;
// Offsets inside `struct tpacket3_hdr` (48 bytes) and the `sockaddr_ll` after it.
const H_NEXT_OFFSET: usize = 0;
const H_SNAPLEN: usize = 12;
const H_LEN: usize = 16;
const H_STATUS: usize = 20;
const H_MAC: usize = 24;
const H_RXHASH: usize = 28;
const H_VLAN_TCI: usize = 32;
const SLL: usize = 48;
const SLL_IFINDEX: usize = SLL + 4;
const SLL_PKTTYPE: usize = SLL + 10;

#[repr(C)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

/// Receive ring geometry.
#[derive(Debug, Clone, Copy)]
pub struct RingConfig {
    /// Bytes per block (a power of two, multiple of the page size). A block
    /// must hold the largest frame (GSO super-packets on veth can be 64 KiB).
    pub block_size: u32,
    /// Number of blocks.
    pub block_nr: u32,
    /// Milliseconds after which the kernel hands over a partly filled block.
    pub retire_tov_ms: u32,
    /// Bypass the qdisc layer on transmit (`PACKET_QDISC_BYPASS`).
    pub qdisc_bypass: bool,
}

impl Default for RingConfig {
    fn default() -> Self {
        Self {
            block_size: 1 << 18,
            block_nr: 16,
            retire_tov_ms: 1,
            qdisc_bypass: true,
        }
    }
}

/// `PACKET_FANOUT` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fanout {
    /// Flow hash (`PACKET_FANOUT_HASH`), with defragmentation.
    Hash,
    /// Round-robin (`PACKET_FANOUT_LB`).
    LoadBalance,
    /// By receiving CPU (`PACKET_FANOUT_CPU`).
    Cpu,
}

/// One received frame, borrowed from the ring.
#[derive(Debug)]
pub struct RxFrame<'a> {
    /// The captured bytes, starting at the Ethernet header.
    pub data: &'a [u8],
    /// Original length on the wire (larger than `data.len()` when truncated).
    pub wire_len: u32,
    /// Interface the frame arrived on.
    pub ifindex: i32,
    /// `sll_pkttype` (see [`pkttype`]).
    pub pkttype: u8,
    /// The L4 checksum is not filled in yet (`CHECKSUM_PARTIAL` from a local
    /// sender on a veth): whoever forwards the frame must complete it.
    pub csum_not_ready: bool,
    /// VLAN tag stripped by the driver, if any.
    pub vlan_tci: Option<u16>,
    /// The kernel's flow hash (0 when not computed).
    pub rxhash: u32,
}

/// Counters from `PACKET_STATISTICS` (reset by each read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Packets seen by the socket.
    pub packets: u64,
    /// Packets dropped because the ring was full.
    pub drops: u64,
}

/// An AF_PACKET socket bound to one interface with a TPACKET_V3 RX ring.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ring: NonNull<u8>,
    ring_len: usize,
    block_size: usize,
    block_nr: usize,
    next_block: usize,
    ifindex: i32,
}

// The ring is only touched through `&mut self` (receive) and the fd is
// thread-safe; moving the socket to a worker thread is sound.
unsafe impl Send for PacketSocket {}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live `T` of the size we pass.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

impl PacketSocket {
    /// Opens a socket on `ifindex`, maps its receive ring and binds it.
    /// Outgoing frames (including our own transmissions) are not received.
    pub fn open(ifindex: i32, cfg: RingConfig) -> io::Result<Self> {
        if cfg.block_size == 0 || !cfg.block_size.is_power_of_two() || cfg.block_nr == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ring block size must be a power of two and block count non-zero",
            ));
        }
        // Protocol 0: receive nothing until bound to the interface below.
        // SAFETY: plain syscall; the result is checked.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        setsockopt(raw, SOL_PACKET, PACKET_VERSION, &TPACKET_V3)?;
        let one: libc::c_int = 1;
        setsockopt(raw, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one)?;
        if cfg.qdisc_bypass {
            setsockopt(raw, SOL_PACKET, PACKET_QDISC_BYPASS, &one)?;
        }
        let frame_size = 2048u32.min(cfg.block_size);
        let req = TpacketReq3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.block_nr,
            tp_frame_size: frame_size,
            tp_frame_nr: cfg.block_size / frame_size * cfg.block_nr,
            tp_retire_blk_tov: cfg.retire_tov_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(raw, SOL_PACKET, PACKET_RX_RING, &req)?;
        let ring_len = cfg.block_size as usize * cfg.block_nr as usize;
        // SAFETY: maps the ring the kernel just allocated for this socket.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                raw,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ring = NonNull::new(ptr.cast::<u8>()).expect("mmap returned null");
        let sock = Self {
            fd,
            ring,
            ring_len,
            block_size: cfg.block_size as usize,
            block_nr: cfg.block_nr as usize,
            next_block: 0,
            ifindex,
        };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a valid sockaddr_ll of the given length.
        cvt(unsafe {
            libc::bind(
                raw,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(sock)
    }

    /// The interface this socket is bound to.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// Joins fan-out group `group` (one group per interface and daemon).
    pub fn join_fanout(&self, group: u16, mode: Fanout) -> io::Result<()> {
        const DEFRAG: u32 = 0x8000;
        let (m, flags) = match mode {
            Fanout::Hash => (0u32, DEFRAG),
            Fanout::LoadBalance => (1, 0),
            Fanout::Cpu => (2, 0),
        };
        let val: u32 = u32::from(group) | ((m | flags) << 16);
        setsockopt(self.fd.as_raw_fd(), SOL_PACKET, PACKET_FANOUT, &val)
    }

    /// Waits up to `timeout_ms` (-1: forever) for a ready block or an error.
    /// Returns true when a block is ready.
    pub fn wait(&self, timeout_ms: i32) -> io::Result<bool> {
        if self.block_ready(self.next_block) {
            return Ok(true);
        }
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(e);
        }
        Ok(self.block_ready(self.next_block))
    }

    fn block_ptr(&self, i: usize) -> *mut u8 {
        debug_assert!(i < self.block_nr);
        // SAFETY: i < block_nr, so the offset stays inside the mapping.
        unsafe { self.ring.as_ptr().add(i * self.block_size) }
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: block descriptors are 8-byte aligned (page-aligned blocks) and
        // the status word is shared with the kernel, hence atomic access.
        unsafe { &*(self.block_ptr(i).add(BD_BLOCK_STATUS).cast::<AtomicU32>()) }
    }

    fn block_ready(&self, i: usize) -> bool {
        self.status(i).load(Ordering::Acquire) & TP_STATUS_USER != 0
    }

    /// Hands every frame of up to `max_blocks` ready blocks to `f`, returning
    /// each block to the kernel after its frames are processed. Returns the
    /// number of frames.
    pub fn recv_blocks(&mut self, max_blocks: usize, mut f: impl FnMut(RxFrame<'_>)) -> usize {
        let mut frames = 0;
        for _ in 0..max_blocks {
            let i = self.next_block;
            if !self.block_ready(i) {
                break;
            }
            let base = self.block_ptr(i);
            // SAFETY: the block belongs to user space while TP_STATUS_USER is
            // set; all offsets come from the kernel and stay inside the block
            // (checked against block_size below before reading).
            unsafe {
                let num = rd32(base, BD_NUM_PKTS);
                let mut off = rd32(base, BD_OFFSET_TO_FIRST) as usize;
                for _ in 0..num {
                    if off + SLL + 20 > self.block_size {
                        break;
                    }
                    let h = base.add(off);
                    let snaplen = rd32(h, H_SNAPLEN) as usize;
                    let mac = std::ptr::read_unaligned(h.add(H_MAC).cast::<u16>()) as usize;
                    if off + mac + snaplen > self.block_size {
                        break;
                    }
                    let status = rd32(h, H_STATUS);
                    let data = std::slice::from_raw_parts(h.add(mac), snaplen);
                    let vlan =
                        (status & TP_STATUS_VLAN_VALID != 0).then(|| rd32(h, H_VLAN_TCI) as u16);
                    f(RxFrame {
                        data,
                        wire_len: rd32(h, H_LEN),
                        ifindex: std::ptr::read_unaligned(h.add(SLL_IFINDEX).cast::<i32>()),
                        pkttype: *h.add(SLL_PKTTYPE),
                        csum_not_ready: status & TP_STATUS_CSUMNOTREADY != 0,
                        vlan_tci: vlan,
                        rxhash: rd32(h, H_RXHASH),
                    });
                    frames += 1;
                    let next = rd32(h, H_NEXT_OFFSET) as usize;
                    if next == 0 {
                        break;
                    }
                    off += next;
                }
            }
            fence(Ordering::Release);
            self.status(i).store(TP_STATUS_KERNEL, Ordering::Release);
            self.next_block = (i + 1) % self.block_nr;
        }
        frames
    }

    /// Transmits one frame (a complete Ethernet frame).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: buffer valid for its length.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Transmits frames with as few `sendmmsg` calls as possible. Returns how
    /// many were accepted by the kernel; stops at the first error after at
    /// least one frame was sent (a full queue shows up as `WouldBlock`).
    pub fn send_batch<B: AsRef<[u8]>>(&self, frames: &[B]) -> io::Result<usize> {
        const CHUNK: usize = 64;
        let mut sent = 0;
        while sent < frames.len() {
            let chunk = &frames[sent..frames.len().min(sent + CHUNK)];
            let mut iovs: Vec<libc::iovec> = chunk
                .iter()
                .map(|b| libc::iovec {
                    iov_base: b.as_ref().as_ptr() as *mut libc::c_void,
                    iov_len: b.as_ref().len(),
                })
                .collect();
            let mut msgs: Vec<libc::mmsghdr> = iovs
                .iter_mut()
                .map(|iov| {
                    // SAFETY: mmsghdr is plain data; zeroed is valid.
                    let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                    m.msg_hdr.msg_iov = iov;
                    m.msg_hdr.msg_iovlen = 1;
                    m
                })
                .collect();
            // SAFETY: msgs/iovs live until the call returns; the kernel only reads them.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    msgs.len() as libc::c_uint,
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if sent > 0 {
                    return Ok(sent);
                }
                return Err(e);
            }
            sent += r as usize;
            if (r as usize) < chunk.len() {
                break;
            }
        }
        Ok(sent)
    }

    /// Reads (and resets) the socket's packet/drop counters.
    pub fn stats(&self) -> io::Result<SocketStats> {
        let mut st = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: buffer and length match.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_STATISTICS,
                (&mut st as *mut TpacketStatsV3).cast(),
                &mut len,
            )
        })?;
        Ok(SocketStats {
            packets: u64::from(st.tp_packets),
            drops: u64::from(st.tp_drops),
        })
    }
}

/// Waits up to `timeout_ms` (-1: forever) until at least one of `socks` has
/// a ready block. Returns true when one has.
pub fn wait_any(socks: &[PacketSocket], timeout_ms: i32) -> io::Result<bool> {
    if socks.iter().any(|s| s.block_ready(s.next_block)) {
        return Ok(true);
    }
    let mut pfds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        })
        .collect();
    // SAFETY: pfds is a valid array of pollfd of the given length.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(socks.iter().any(|s| s.block_ready(s.next_block)))
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `open`.
        unsafe {
            libc::munmap(self.ring.as_ptr().cast(), self.ring_len);
        }
    }
}

/// # Safety
/// `base + off .. +4` must be readable.
unsafe fn rd32(base: *const u8, off: usize) -> u32 {
    std::ptr::read_unaligned(base.add(off).cast::<u32>())
}
