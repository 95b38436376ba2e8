//! The kernel IPVS backend: generic netlink "IPVS" over a netlink-sys socket.
//!
//! * Every request carries its own sequence number; stale replies (from a
//!   request that timed out earlier) are skipped.
//! * Every wait is bounded (`poll` with the backend's timeout).
//! * Dumps restart when the kernel flags them interrupted (`NLM_F_DUMP_INTR`)
//!   or the socket overflowed (`ENOBUFS`), a bounded number of times.
//! * Batches of doit requests are packed many to a `sendmsg` and acked once
//!   per packet (errors still come back per request), which is what makes a
//!   cold apply of thousands of services fast.
//! * Replies are read without a `poll` when already queued (the kernel queues
//!   them while handling the request).
//!
//! Connections are read from `/proc/net/ip_vs_conn` (the kernel has no
//! netlink dump for them).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use lvs_ipvs::admin::{
    AdminError, ConnEntry, Daemon, DaemonState, Dest, DestEntry, DestKey, Family, Info,
    IpvsBackend, Service, ServiceEntry, ServiceKey, Timeouts,
};
use lvs_ipvs::reconcile::Op;
use lvs_ipvs_nl::append::FrameHeader;
use lvs_ipvs_nl::{
    decode_family_reply, decode_frame, encode_family_request, encode_frame, encode_request,
    parse_reply, req_for_op, split_frames, CtrlReply, IpvsCmd, IpvsMessage, Reply,
};
use netlink_packet_core::NetlinkPayload;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_DUMP_INTR: u16 = 0x10;
const RECV_BUF: usize = 1 << 20;
const DUMP_RETRIES: usize = 5;
/// Requests packed into one `sendmsg` by [`KernelIpvs::batch`]: at most this many…
const BATCH_MSGS: usize = 128;
/// …and about this many bytes (error replies of a whole packet must fit the receive buffer).
const BATCH_BYTES: usize = 32 * 1024;

/// The kernel's IPVS, reached over generic netlink.
pub struct KernelIpvs {
    sock: Socket,
    family: u16,
    seq: u32,
    timeout: Duration,
    buf: Vec<u8>,
    conn_path: std::path::PathBuf,
}

impl std::fmt::Debug for KernelIpvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelIpvs")
            .field("family", &self.family)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn io_err(op: &str, e: io::Error) -> AdminError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => AdminError::Permission,
        Some(errno) => AdminError::Os {
            op: op.to_string(),
            errno,
            msg: e.to_string(),
        },
        None => AdminError::Protocol(format!("{op}: {e}")),
    }
}

/// Map a kernel errno (positive) for `cmd` to an [`AdminError`].
pub fn map_errno(cmd: IpvsCmd, errno: i32, msg: &IpvsMessage) -> AdminError {
    use IpvsCmd::*;
    let daemon = matches!(cmd, NewDaemon | DelDaemon | GetDaemon);
    match errno {
        libc::EEXIST if daemon => {
            AdminError::Busy("a sync daemon of this state is already running".into())
        }
        libc::EBUSY => AdminError::Busy(cmd.name().into()),
        libc::EEXIST => AdminError::Exists,
        libc::ESRCH if daemon => AdminError::Invalid("no such sync daemon is running".into()),
        libc::ESRCH => AdminError::NoService,
        libc::ENOENT if matches!(cmd, NewService | SetService) => {
            let mut names = Vec::new();
            for a in &msg.attrs {
                if let lvs_ipvs_nl::IpvsAttr::Service(s) = a {
                    for sa in s {
                        match sa {
                            lvs_ipvs_nl::SvcAttr::SchedName(n)
                            | lvs_ipvs_nl::SvcAttr::PeName(n) => names.push(n.clone()),
                            _ => {}
                        }
                    }
                }
            }
            AdminError::NoModule(names.join("/"))
        }
        libc::ENOENT if matches!(cmd, NewDest | SetDest | DelDest | GetDest) => AdminError::NoDest,
        libc::EINVAL => AdminError::Invalid(cmd.name().into()),
        libc::ERANGE => AdminError::Range(cmd.name().into()),
        libc::EPERM | libc::EACCES => AdminError::Permission,
        e => AdminError::Os {
            op: cmd.name().into(),
            errno: e,
            msg: io::Error::from_raw_os_error(e).to_string(),
        },
    }
}

enum Frame {
    Msg(IpvsMessage),
    Ack,
    Err(i32),
    Done,
    Skip,
}

impl KernelIpvs {
    /// Open a socket and resolve the "IPVS" family; if it is missing, run
    /// `modprobe ip_vs` once (as keepalived does) and retry.
    pub fn open() -> Result<Self, AdminError> {
        Self::open_with_timeout(Duration::from_secs(5))
    }

    pub fn open_with_timeout(timeout: Duration) -> Result<Self, AdminError> {
        match Self::try_open(timeout) {
            Err(AdminError::Unavailable(why)) => {
                let probed = std::process::Command::new("modprobe")
                    .arg("ip_vs")
                    .stderr(std::process::Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if probed {
                    Self::try_open(timeout)
                } else {
                    Err(AdminError::Unavailable(why))
                }
            }
            r => r,
        }
    }

    fn try_open(timeout: Duration) -> Result<Self, AdminError> {
        let mut sock = Socket::new(NETLINK_GENERIC).map_err(|e| io_err("socket", e))?;
        sock.bind_auto().map_err(|e| io_err("bind", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| io_err("connect", e))?;
        // A large receive buffer keeps batched error replies from overflowing; error replies
        // carry only the request's header (the request is at hand to name the error).
        let _ = sock.set_rx_buf_sz(8 << 20);
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        let mut k = KernelIpvs {
            sock,
            family: 0,
            seq: 1,
            timeout,
            buf: Vec::with_capacity(RECV_BUF),
            conn_path: "/proc/net/ip_vs_conn".into(),
        };
        k.family = k.resolve_family()?;
        Ok(k)
    }

    /// The generic-netlink family id of IPVS.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&self, bytes: &[u8]) -> Result<(), AdminError> {
        self.sock.send(bytes, 0).map_err(|e| io_err("send", e))?;
        Ok(())
    }

    /// Receive one datagram into `self.buf`, waiting (bounded by `deadline`) only when none
    /// is queued: replies to generic-netlink requests are queued synchronously by the kernel
    /// while it handles the request, so the common case costs one `recvmsg` and no `poll`.
    fn recv(&mut self, deadline: Instant) -> Result<(), AdminError> {
        loop {
            self.buf.clear();
            match self.sock.recv(&mut self.buf, libc::MSG_DONTWAIT) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("recv", e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(AdminError::Timeout);
            }
            let mut pfd = libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(io_err("poll", e));
            }
            if n == 0 {
                return Err(AdminError::Timeout);
            }
        }
    }

    fn resolve_family(&mut self) -> Result<u16, AdminError> {
        let seq = self.next_seq();
        self.send(&encode_family_request(seq))?;
        let deadline = Instant::now() + self.timeout;
        let mut id = None;
        loop {
            self.recv(deadline)?;
            let frames: Vec<Vec<u8>> = split_frames(&self.buf)
                .map_err(|e| AdminError::Protocol(e.to_string()))?
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect();
            for f in frames {
                if frame_seq(&f) != seq {
                    continue;
                }
                match decode_family_reply(&f).map_err(|e| AdminError::Protocol(e.to_string()))? {
                    CtrlReply::Family { id: i, .. } => id = Some(i),
                    CtrlReply::Ack(0) => {
                        return id.ok_or_else(|| {
                            AdminError::Protocol("controller acked without a family id".into())
                        })
                    }
                    CtrlReply::Ack(e) if -e == libc::ENOENT => {
                        return Err(AdminError::Unavailable(
                            "the IPVS generic netlink family is not registered (ip_vs module not loaded)"
                                .into(),
                        ))
                    }
                    CtrlReply::Ack(e) => {
                        return Err(io_err("CTRL_CMD_GETFAMILY", io::Error::from_raw_os_error(-e)))
                    }
                    CtrlReply::Other => {}
                }
            }
        }
    }

    fn classify(frame: &[u8]) -> Result<(u32, u16, Frame), AdminError> {
        let seq = frame_seq(frame);
        let nl = decode_frame(frame).map_err(|e| AdminError::Protocol(e.to_string()))?;
        let flags = nl.header.flags;
        let f = match nl.payload {
            NetlinkPayload::InnerMessage(g) => Frame::Msg(g.payload),
            NetlinkPayload::Error(e) if e.raw_code() == 0 => Frame::Ack,
            NetlinkPayload::Error(e) => Frame::Err(-e.raw_code()),
            NetlinkPayload::Done(_) => Frame::Done,
            _ => Frame::Skip,
        };
        Ok((seq, flags, f))
    }

    /// One doit request: returns the reply messages (for GET doit) after the ack.
    fn doit(&mut self, msg: IpvsMessage) -> Result<Vec<IpvsMessage>, AdminError> {
        let seq = self.next_seq();
        let cmd = msg.cmd;
        self.send(&encode_request(self.family, seq, false, msg.clone()))?;
        let deadline = Instant::now() + self.timeout;
        let mut out = Vec::new();
        loop {
            self.recv(deadline)?;
            let buf = std::mem::take(&mut self.buf);
            let res = (|| {
                for f in split_frames(&buf).map_err(|e| AdminError::Protocol(e.to_string()))? {
                    let (s, _, fr) = Self::classify(f)?;
                    if s != seq {
                        continue;
                    }
                    match fr {
                        Frame::Msg(m) => out.push(m),
                        Frame::Ack => return Ok(true),
                        Frame::Err(errno) => return Err(map_errno(cmd, errno, &msg)),
                        Frame::Done | Frame::Skip => {}
                    }
                }
                Ok(false)
            })();
            self.buf = buf;
            if res? {
                return Ok(out);
            }
        }
    }

    /// A dump, restarted if interrupted or if the socket overflowed.
    fn dump(&mut self, msg: IpvsMessage) -> Result<Vec<IpvsMessage>, AdminError> {
        let mut last = AdminError::Timeout;
        for _ in 0..DUMP_RETRIES {
            match self.dump_once(msg.clone()) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {
                    last = AdminError::Protocol("dump interrupted by concurrent changes".into());
                }
                Err(AdminError::Os { errno, .. }) if errno == libc::ENOBUFS => {
                    self.drain();
                    last = AdminError::Protocol("netlink receive buffer overflowed".into());
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn dump_once(&mut self, msg: IpvsMessage) -> Result<Option<Vec<IpvsMessage>>, AdminError> {
        let seq = self.next_seq();
        let cmd = msg.cmd;
        self.send(&encode_request(self.family, seq, true, msg.clone()))?;
        let deadline = Instant::now() + self.timeout;
        let mut out = Vec::new();
        let mut intr = false;
        loop {
            self.recv(deadline)?;
            let buf = std::mem::take(&mut self.buf);
            let res = (|| {
                for f in split_frames(&buf).map_err(|e| AdminError::Protocol(e.to_string()))? {
                    let (s, flags, fr) = Self::classify(f)?;
                    if s != seq {
                        continue;
                    }
                    if flags & NLM_F_DUMP_INTR != 0 {
                        intr = true;
                    }
                    match fr {
                        Frame::Msg(m) => out.push(m),
                        Frame::Done | Frame::Ack => return Ok(true),
                        Frame::Err(errno) => return Err(map_errno(cmd, errno, &msg)),
                        Frame::Skip => {}
                    }
                }
                Ok(false)
            })();
            self.buf = buf;
            if res? {
                return Ok(if intr { None } else { Some(out) });
            }
        }
    }

    /// Discard whatever is queued on the socket.
    fn drain(&mut self) {
        loop {
            self.buf.clear();
            match self.sock.recv(&mut self.buf, libc::MSG_DONTWAIT) {
                Ok(0) => return,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
                Err(_) => return,
            }
        }
    }

    /// Run many doit requests and return one result per request, in order.
    ///
    /// Requests are packed several to a `sendmsg` (up to [`BATCH_MSGS`] / [`BATCH_BYTES`]);
    /// only the last of each packet asks for an ack. The kernel handles a packet's requests
    /// one after the other inside that `sendmsg` (an error does not stop the rest) and queues
    /// an error reply, tagged with its sequence number, for each one that fails; so once the
    /// last request's ack is read, every request without an error reply succeeded. A cold
    /// apply of 50,000 operations thus costs a few hundred system calls instead of 100,000.
    /// A packet whose replies cannot all be read (timeout, receive-buffer overflow) reports
    /// its requests without a reply as failed with that error: the caller re-reads the state.
    pub fn batch(&mut self, msgs: &[IpvsMessage]) -> Vec<Result<(), AdminError>> {
        self.run_batch(msgs.len(), |i| msgs[i].clone(), |_, _, _| false)
    }

    /// [`KernelIpvs::batch`] over `n` requests made by `msg_at(0..n)`; `append_at(i, buf,
    /// header)` may write request `i`'s frame straight into `buf` instead (true; the same
    /// bytes, without building the message: `lvs_ipvs_nl::append`). Beyond one packet the
    /// requests are encoded on a second thread while this one sends the previous packet and
    /// reads its acks: the kernel's work (most of a cold apply, serialised by the
    /// generic-netlink lock) then overlaps the encoding instead of following it.
    fn run_batch<F, A>(&mut self, n: usize, msg_at: F, append_at: A) -> Vec<Result<(), AdminError>>
    where
        F: Fn(usize) -> IpvsMessage + Sync,
        A: Fn(usize, &mut Vec<u8>, FrameHeader) -> bool + Sync,
    {
        let mut results: Vec<Option<Result<(), AdminError>>> = vec![None; n];
        let family = self.family;
        let first_seq = self.seq;
        let last_seq = if n <= BATCH_MSGS {
            let mut enc = Encoder::new(family, first_seq);
            let mut buf = Vec::with_capacity(BATCH_BYTES + 4096);
            let mut i = 0;
            while i < n {
                let p = enc.packet(&msg_at, &append_at, i, n, std::mem::take(&mut buf));
                i = p.end;
                buf = self.send_packet(p, &msg_at, &mut results);
            }
            enc.seq
        } else {
            // Bounded: a few packets ahead, their buffers handed back for reuse.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Packet>(4);
            let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
            std::thread::scope(|sc| {
                let (msg_at, append_at) = (&msg_at, &append_at);
                let encoder = sc.spawn(move || {
                    let mut enc = Encoder::new(family, first_seq);
                    let mut i = 0;
                    while i < n {
                        let buf = back_rx
                            .try_recv()
                            .unwrap_or_else(|_| Vec::with_capacity(BATCH_BYTES + 4096));
                        let p = enc.packet(msg_at, append_at, i, n, buf);
                        i = p.end;
                        if tx.send(p).is_err() {
                            break;
                        }
                    }
                    enc.seq
                });
                for p in rx {
                    let buf = self.send_packet(p, msg_at, &mut results);
                    let _ = back_tx.send(buf);
                }
                encoder.join().unwrap_or(first_seq)
            })
        };
        self.seq = last_seq;
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(AdminError::Timeout)))
            .collect()
    }

    /// Sends one packet and reads its replies into `results[p.start..p.end]`; returns the
    /// packet's buffer for reuse.
    fn send_packet<F>(
        &mut self,
        p: Packet,
        msg_at: &F,
        results: &mut [Option<Result<(), AdminError>>],
    ) -> Vec<u8>
    where
        F: Fn(usize) -> IpvsMessage,
    {
        let chunk = &mut results[p.start..p.end];
        if let Err(e) = self.send(&p.bytes) {
            for r in chunk.iter_mut() {
                *r = Some(Err(e.clone()));
            }
            return p.bytes;
        }
        let last = *p.seqs.last().expect("a non-empty packet");
        let deadline = Instant::now() + self.timeout;
        let mut done = false;
        while !done {
            if let Err(e) = self.recv(deadline) {
                for r in chunk.iter_mut().filter(|r| r.is_none()) {
                    *r = Some(Err(e.clone()));
                }
                self.drain();
                break;
            }
            let Ok(frames) = split_frames(&self.buf) else {
                continue;
            };
            for f in frames {
                let Ok((s, _, fr)) = Self::classify(f) else {
                    continue;
                };
                let Some(j) = seq_index(&p.seqs, s) else {
                    continue;
                };
                match fr {
                    Frame::Ack => chunk[j] = Some(Ok(())),
                    Frame::Err(errno) => {
                        let m = msg_at(p.start + j);
                        chunk[j] = Some(Err(map_errno(m.cmd, errno, &m)))
                    }
                    _ => continue,
                }
                if s == last {
                    done = true;
                }
            }
        }
        for r in chunk.iter_mut().filter(|r| r.is_none()) {
            *r = Some(Ok(()));
        }
        p.bytes
    }

    fn one_reply(&mut self, msg: IpvsMessage, svc_af: Family) -> Result<Reply, AdminError> {
        let replies = self.doit(msg)?;
        let m = replies
            .first()
            .ok_or_else(|| AdminError::Protocol("no reply to a GET request".into()))?;
        parse_reply(m, svc_af).map_err(|e| AdminError::Protocol(e.to_string()))
    }
}

/// Requests `start..end` of a batch, encoded into one `sendmsg`.
struct Packet {
    bytes: Vec<u8>,
    seqs: Vec<u32>,
    start: usize,
    end: usize,
}

/// Packs a batch's requests into packets, numbering them as [`KernelIpvs`] does.
struct Encoder {
    family: u16,
    seq: u32,
}

impl Encoder {
    fn new(family: u16, seq: u32) -> Self {
        Self { family, seq }
    }

    /// The packet of requests from `i` on (at most [`BATCH_MSGS`], about [`BATCH_BYTES`]);
    /// only its last request asks for an ack.
    fn packet<F, A>(
        &mut self,
        msg_at: &F,
        append_at: &A,
        i: usize,
        n: usize,
        mut bytes: Vec<u8>,
    ) -> Packet
    where
        F: Fn(usize) -> IpvsMessage,
        A: Fn(usize, &mut Vec<u8>, FrameHeader) -> bool,
    {
        bytes.clear();
        let mut seqs = Vec::with_capacity(BATCH_MSGS);
        let (mut end, mut last_at) = (i, 0);
        while end < n && end - i < BATCH_MSGS && bytes.len() < BATCH_BYTES {
            self.seq = self.seq.wrapping_add(1).max(1);
            seqs.push(self.seq);
            last_at = bytes.len();
            let h = FrameHeader {
                family_id: self.family,
                flags: NLM_F_REQUEST,
                seq: self.seq,
                pid: 0,
            };
            if !append_at(end, &mut bytes, h) {
                let frame = encode_frame(self.family, NLM_F_REQUEST, self.seq, 0, msg_at(end));
                bytes.extend_from_slice(&frame);
            }
            end += 1;
        }
        // The packet's last request asks for the ack (nlmsg_flags: bytes 6..8).
        let flags = u16::from_ne_bytes([bytes[last_at + 6], bytes[last_at + 7]]) | NLM_F_ACK;
        bytes[last_at + 6..last_at + 8].copy_from_slice(&flags.to_ne_bytes());
        Packet {
            bytes,
            seqs,
            start: i,
            end,
        }
    }
}

/// Position of `seq` among a packet's sequence numbers (consecutive but for the wrap).
fn seq_index(seqs: &[u32], seq: u32) -> Option<usize> {
    let first = *seqs.first()?;
    let guess = seq.wrapping_sub(first) as usize;
    if seqs.get(guess) == Some(&seq) {
        return Some(guess);
    }
    seqs.iter().position(|&q| q == seq)
}

fn frame_seq(f: &[u8]) -> u32 {
    if f.len() < 12 {
        return 0;
    }
    u32::from_ne_bytes([f[8], f[9], f[10], f[11]])
}

impl IpvsBackend for KernelIpvs {
    fn info(&mut self) -> Result<Info, AdminError> {
        match self.one_reply(lvs_ipvs_nl::req_get_info(), Family::Inet)? {
            Reply::Info(i) => Ok(i),
            r => Err(AdminError::Protocol(format!("unexpected reply {r:?}"))),
        }
    }

    fn services(&mut self) -> Result<Vec<ServiceEntry>, AdminError> {
        let msgs = self.dump(lvs_ipvs_nl::req_get_services())?;
        msgs.iter()
            .map(|m| match parse_reply(m, Family::Inet) {
                Ok(Reply::Service(s)) => Ok(s),
                Ok(r) => Err(AdminError::Protocol(format!("unexpected reply {r:?}"))),
                Err(e) => Err(AdminError::Protocol(e.to_string())),
            })
            .collect()
    }

    fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>, AdminError> {
        match self.one_reply(lvs_ipvs_nl::req_get_service(key), key.af()) {
            Ok(Reply::Service(s)) => Ok(Some(s)),
            Ok(r) => Err(AdminError::Protocol(format!("unexpected reply {r:?}"))),
            Err(AdminError::NoService) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, AdminError> {
        let msgs = self.dump(lvs_ipvs_nl::req_get_dests(key))?;
        msgs.iter()
            .map(|m| match parse_reply(m, key.af()) {
                Ok(Reply::Dest(d)) => Ok(d),
                Ok(r) => Err(AdminError::Protocol(format!("unexpected reply {r:?}"))),
                Err(e) => Err(AdminError::Protocol(e.to_string())),
            })
            .collect()
    }

    fn add_service(&mut self, svc: &Service) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_new_service(svc)).map(drop)
    }

    fn edit_service(&mut self, svc: &Service) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_set_service(svc)).map(drop)
    }

    fn del_service(&mut self, key: &ServiceKey) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_del_service(key)).map(drop)
    }

    fn add_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_new_dest(key, dest)).map(drop)
    }

    fn edit_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_set_dest(key, dest)).map(drop)
    }

    fn del_dest(&mut self, key: &ServiceKey, dest: &DestKey) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_del_dest(key, dest)).map(drop)
    }

    fn flush(&mut self) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_flush()).map(drop)
    }

    fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_zero(key)).map(drop)
    }

    fn timeouts(&mut self) -> Result<Timeouts, AdminError> {
        match self.one_reply(lvs_ipvs_nl::req_get_config(), Family::Inet)? {
            Reply::Timeouts(t) => Ok(t),
            r => Err(AdminError::Protocol(format!("unexpected reply {r:?}"))),
        }
    }

    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_set_config(t)).map(drop)
    }

    fn daemons(&mut self) -> Result<Vec<Daemon>, AdminError> {
        let msgs = self.dump(lvs_ipvs_nl::req_get_daemons())?;
        msgs.iter()
            .map(|m| match parse_reply(m, Family::Inet) {
                Ok(Reply::Daemon(d)) => Ok(d),
                Ok(r) => Err(AdminError::Protocol(format!("unexpected reply {r:?}"))),
                Err(e) => Err(AdminError::Protocol(e.to_string())),
            })
            .collect()
    }

    fn start_daemon(&mut self, d: &Daemon) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_new_daemon(d)).map(drop)
    }

    fn stop_daemon(&mut self, state: DaemonState) -> Result<(), AdminError> {
        self.doit(lvs_ipvs_nl::req_del_daemon(state)).map(drop)
    }

    fn connections(&mut self) -> Result<Vec<ConnEntry>, AdminError> {
        let text = std::fs::read_to_string(&self.conn_path)
            .map_err(|e| io_err(&self.conn_path.display().to_string(), e))?;
        parse_proc_conns(&text).map_err(AdminError::Protocol)
    }

    fn execute_ops(&mut self, ops: &[Op]) -> Vec<Result<(), AdminError>> {
        self.run_batch(
            ops.len(),
            |i| req_for_op(&ops[i]),
            |i, buf, h| lvs_ipvs_nl::append::append_op(buf, h, &ops[i]),
        )
    }
}

fn proto_number(name: &str) -> Option<u16> {
    Some(match name {
        "TCP" => 6,
        "UDP" => 17,
        "SCTP" => 132,
        "IP" => 0,
        "ICMP" => 1,
        "ICMPv6" => 58,
        _ => return name.strip_prefix("IP_")?.parse().ok(),
    })
}

fn proc_addr(tok: &str) -> Option<IpAddr> {
    if tok.contains(':') {
        tok.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        u32::from_str_radix(tok, 16)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v)))
    }
}

/// Parse `/proc/net/ip_vs_conn` (header line, then one entry per line).
pub fn parse_proc_conns(text: &str) -> Result<Vec<ConnEntry>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if n == 0 || line.trim().is_empty() {
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("/proc/net/ip_vs_conn line {}: cannot parse {line:?}", n + 1);
        if t.len() < 9 {
            return Err(bad());
        }
        let port = |s: &str| u16::from_str_radix(s, 16).map_err(|_| bad());
        out.push(ConnEntry {
            proto: proto_number(t[0]).ok_or_else(bad)?,
            caddr: proc_addr(t[1]).ok_or_else(bad)?,
            cport: port(t[2])?,
            vaddr: proc_addr(t[3]).ok_or_else(bad)?,
            vport: port(t[4])?,
            daddr: proc_addr(t[5]).ok_or_else(bad)?,
            dport: port(t[6])?,
            state: t[7].to_string(),
            expires: t[8].parse().map_err(|_| bad())?,
            pe_name: t.get(9).map(|s| s.to_string()),
            pe_data: t.get(10).map(|s| s.to_string()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_conn_lines() {
        let text = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
TCP CB007105 C822 0A000064 0050 C0A8010B 0050 ESTABLISHED     898\n\
IP  CB007100 0000 00000001 0000 C0A8010B 0000 NONE            359\n\
UDP 2001:0db8:0000:0000:0000:0000:0000:0005 14E9 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0000:0000:0000:0000:0000:000b 0035 UDP             299\n\
UDP C6336407 14E9 0A000064 13C4 C0A8010B 13C4 UDP             100 sip abc\n";
        let c = parse_proc_conns(text).unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].proto, 6);
        assert_eq!(c[0].caddr, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(c[0].cport, 51234);
        assert_eq!(c[0].state, "ESTABLISHED");
        assert_eq!(c[0].expires, 898);
        assert_eq!(c[1].proto, 0);
        assert_eq!(c[1].vaddr, "0.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(c[2].daddr, "2001:db8::b".parse::<IpAddr>().unwrap());
        assert_eq!(c[3].pe_name.as_deref(), Some("sip"));
        assert!(parse_proc_conns("hdr\nTCP zz\n").is_err());
    }

    /// `execute_ops`' packets (requests appended straight into the buffer, the codec only for
    /// operations without a fast path) are the bytes the codec path gives.
    #[test]
    fn op_packets_equal_the_codec_path() {
        let key = |i: usize| ServiceKey::Addr {
            proto: lvs_ipvs::admin::Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + i as u32)),
            port: 80,
        };
        let mut ops = vec![Op::SetTimeouts(Default::default())];
        for i in 0..400 {
            ops.push(Op::AddService(lvs_ipvs::admin::Service::new(key(i))));
            for j in 0..3 {
                let d = Dest::new(
                    IpAddr::V4(Ipv4Addr::from(0x0a02_0000 + (i * 3 + j) as u32)),
                    80,
                );
                ops.push(Op::AddDest {
                    service: key(i),
                    dest: d,
                });
            }
        }
        ops.push(Op::Flush);
        let n = ops.len();
        let msg = |i: usize| req_for_op(&ops[i]);
        let fast = |i: usize, b: &mut Vec<u8>, h: FrameHeader| {
            lvs_ipvs_nl::append::append_op(b, h, &ops[i])
        };
        let slow = |_: usize, _: &mut Vec<u8>, _: FrameHeader| false;
        let (mut a, mut b) = (Encoder::new(9, 100), Encoder::new(9, 100));
        let mut i = 0;
        while i < n {
            let p = a.packet(&msg, &fast, i, n, Vec::new());
            let q = b.packet(&msg, &slow, i, n, Vec::new());
            assert_eq!((p.start, p.end, &p.seqs), (q.start, q.end, &q.seqs));
            assert_eq!(p.bytes, q.bytes);
            i = p.end;
        }
    }

    /// The packets of a batch: every request once, in order, numbered consecutively (0
    /// skipped at the wrap), within the size bounds, only each packet's last one acked.
    #[test]
    fn batch_packets_cover_every_request_in_order() {
        let dest = |i: usize| {
            let d = Dest::new(IpAddr::V4(Ipv4Addr::from(0x0a02_0000 + i as u32)), 80);
            lvs_ipvs_nl::req_new_dest(
                &ServiceKey::Fwmark {
                    mark: 1,
                    af: Family::Inet,
                },
                &d,
            )
        };
        let n = 1000;
        let mut enc = Encoder::new(7, u32::MAX - 300);
        let (mut i, mut seqs, mut packets) = (0, Vec::new(), 0);
        while i < n {
            let p = enc.packet(&dest, &|_, _: &mut Vec<u8>, _| false, i, n, Vec::new());
            assert_eq!(p.start, i);
            assert!(p.end > p.start && p.end - p.start <= BATCH_MSGS);
            assert!(p.bytes.len() < BATCH_BYTES + 4096);
            let frames = split_frames(&p.bytes).unwrap();
            assert_eq!(frames.len(), p.end - p.start);
            for (j, f) in frames.iter().enumerate() {
                let flags = u16::from_ne_bytes([f[6], f[7]]);
                assert_eq!(flags & NLM_F_REQUEST, NLM_F_REQUEST);
                assert_eq!(flags & NLM_F_ACK != 0, j + 1 == frames.len());
                assert_eq!(frame_seq(f), p.seqs[j]);
                let mut want = encode_frame(7, NLM_F_REQUEST, p.seqs[j], 0, dest(i + j));
                if j + 1 == frames.len() {
                    want[6] |= NLM_F_ACK as u8;
                }
                assert_eq!(f.to_vec(), want);
                assert_eq!(seq_index(&p.seqs, p.seqs[j]), Some(j));
            }
            seqs.extend_from_slice(&p.seqs);
            i = p.end;
            packets += 1;
        }
        assert!(packets > 1);
        assert_eq!(seqs.len(), n);
        assert!(!seqs.contains(&0));
        for w in seqs.windows(2) {
            assert_eq!(w[1], w[0].wrapping_add(1).max(1));
        }
        assert_eq!(enc.seq, *seqs.last().unwrap());
    }

    #[test]
    fn errno_mapping_depends_on_command() {
        let m = lvs_ipvs_nl::req_flush();
        assert_eq!(
            map_errno(IpvsCmd::NewService, libc::EEXIST, &m),
            AdminError::Exists
        );
        assert_eq!(
            map_errno(IpvsCmd::SetDest, libc::ENOENT, &m),
            AdminError::NoDest
        );
        assert_eq!(
            map_errno(IpvsCmd::DelService, libc::ESRCH, &m),
            AdminError::NoService
        );
        assert!(matches!(
            map_errno(IpvsCmd::NewDaemon, libc::EEXIST, &m),
            AdminError::Busy(_)
        ));
        let mut s = Service::new(ServiceKey::Fwmark {
            mark: 1,
            af: Family::Inet,
        });
        s.scheduler = "nosuch".into();
        let m = lvs_ipvs_nl::req_new_service(&s);
        assert_eq!(
            map_errno(IpvsCmd::NewService, libc::ENOENT, &m),
            AdminError::NoModule("nosuch".into())
        );
    }
}
