//! The sync message codec, versions 0 and 1 (`ip_vs_sync.c`), byte-exact.
//!
//! ```text
//! v0 header (4):  u8 nr_conns | u8 syncid | be16 size
//! v0 entry (24):  u8 reserved | u8 protocol | be16 cport | be16 vport | be16 dport
//!                 | be32 caddr | be32 vaddr | be32 daddr | be16 flags | be16 state
//!                 [+24 if flags & SEQ_MASK: in_seq, out_seq as the master's raw memory]
//! v1 header (8):  u8 reserved=0 | u8 syncid | be16 size | u8 nr_conns | s8 version=1 | u16 spare=0
//! v1 entry (36 IPv4 / 72 IPv6): u8 type (bit 0 = IPv6) | u8 protocol | be16 ver_size (ver<<12 | size)
//!                 | be32 flags | be16 state | be16 cport | be16 vport | be16 dport | be32 fwmark
//!                 | be32 timeout (s) | caddr | vaddr | daddr, then TLV options
//!                 (u8 type, u8 len, data); entries start 4-byte aligned.
//! ```
//!
//! [`Packet`] is a zero-copy view that walks a received datagram exactly as the
//! kernel backup does (`ip_vs_process_message`): an entry with an unknown
//! mandatory option is skipped, any other malformation drops the rest of the
//! datagram (entries before it stay valid). [`SyncMessage`] is the validated
//! value: it decodes strictly and encodes the way the kernel master lays
//! messages out, so a kernel datagram decodes and re-encodes to the same bytes.
//!
//! v0 sequence options are a raw `memcpy` of the master's `struct ip_vs_seq`
//! (host byte order); this codec reads and writes them little-endian, the
//! byte order of x86 and arm64 masters. v1 sends them in network order.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::conn::{IpVsSeq, SeqOpts, SyncConn};
use crate::consts::flags::IP_VS_CONN_F_SEQ_MASK;
use crate::consts::opt::{
    IPVS_OPT_F_PARAM, IPVS_OPT_PE_DATA, IPVS_OPT_PE_NAME, IPVS_OPT_SEQ_DATA, IP_VS_PEDATA_MAXLEN,
    IP_VS_PENAME_MAXLEN,
};
use crate::consts::SYNC_PROTO_VER;
use crate::Error;

/// v0 message header length (`struct ip_vs_sync_mesg_v0`).
pub const V0_HDR_LEN: usize = 4;
/// v1 message header length (`struct ip_vs_sync_mesg`).
pub const V1_HDR_LEN: usize = 8;
/// v0 entry without options (`SIMPLE_CONN_SIZE`).
pub const V0_SIMPLE_CONN_SIZE: usize = 24;
/// v0 entry with sequence options (`FULL_CONN_SIZE`).
pub const V0_FULL_CONN_SIZE: usize = 48;
/// v1 IPv4 entry without options (`struct ip_vs_sync_v4`).
pub const V1_CONN_V4_SIZE: usize = 36;
/// v1 IPv6 entry without options (`struct ip_vs_sync_v6`).
pub const V1_CONN_V6_SIZE: usize = 72;
/// `struct ip_vs_sync_conn_options` (two `struct ip_vs_seq`).
pub const SEQ_OPTS_LEN: usize = 24;
/// `STYPE_F_INET6`: bit 0 of a v1 entry's type.
pub const STYPE_F_INET6: u8 = 1;
/// `SVER_SHIFT`.
pub const SVER_SHIFT: u16 = 12;
/// `SVER_MASK`: the size bits of `ver_size`.
pub const SVER_MASK: u16 = 0x0fff;

/// Sync protocol version (`net.ipv4.vs.sync_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum Version {
    /// Legacy format: IPv4 only, no timeout, fwmark or PE data.
    V0,
    /// Current format (kernel default).
    #[default]
    V1,
}

impl Version {
    /// Header length of this version.
    pub fn header_len(self) -> usize {
        match self {
            Version::V0 => V0_HDR_LEN,
            Version::V1 => V1_HDR_LEN,
        }
    }
}

/// Length of `c` encoded as a v1 entry, without alignment padding.
pub fn entry_len_v1(c: &SyncConn) -> usize {
    let mut len = if c.is_ipv6() {
        V1_CONN_V6_SIZE
    } else {
        V1_CONN_V4_SIZE
    };
    if c.seq.is_some() {
        len += 2 + SEQ_OPTS_LEN;
    }
    if let Some(d) = &c.pe_data {
        len += 2 + d.len();
    }
    if let Some(n) = &c.pe_name {
        len += 2 + n.len();
    }
    len
}

/// Length of `c` encoded as a v0 entry.
pub fn entry_len_v0(c: &SyncConn) -> usize {
    if c.has_seq_flags() {
        V0_FULL_CONN_SIZE
    } else {
        V0_SIMPLE_CONN_SIZE
    }
}

fn check_families(c: &SyncConn) -> Result<(), Error> {
    let v6 = c.caddr.is_ipv6();
    if c.vaddr.is_ipv6() != v6 || c.daddr.is_ipv6() != v6 {
        return Err(Error::MixedFamilies);
    }
    Ok(())
}

fn put_addr(out: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
}

fn put_seq_be(out: &mut Vec<u8>, s: &IpVsSeq) {
    out.extend_from_slice(&s.init_seq.to_be_bytes());
    out.extend_from_slice(&s.delta.to_be_bytes());
    out.extend_from_slice(&s.previous_delta.to_be_bytes());
}

fn put_seq_le(out: &mut Vec<u8>, s: &IpVsSeq) {
    out.extend_from_slice(&s.init_seq.to_le_bytes());
    out.extend_from_slice(&s.delta.to_le_bytes());
    out.extend_from_slice(&s.previous_delta.to_le_bytes());
}

/// Check that `c` can be encoded as a v1 entry.
pub fn validate_v1(c: &SyncConn) -> Result<(), Error> {
    check_families(c)?;
    if let Some(d) = &c.pe_data {
        if d.is_empty() || d.len() > IP_VS_PEDATA_MAXLEN {
            return Err(Error::PeDataLength(d.len()));
        }
    }
    if let Some(n) = &c.pe_name {
        if n.is_empty() || n.len() > IP_VS_PENAME_MAXLEN {
            return Err(Error::PeNameLength(n.len()));
        }
    }
    Ok(())
}

/// Check that `c` can be encoded as a v0 entry.
pub fn validate_v0(c: &SyncConn) -> Result<(), Error> {
    check_families(c)?;
    if c.is_ipv6() {
        return Err(Error::V0Ipv6);
    }
    if c.flags > 0xffff {
        return Err(Error::V0FlagsTooWide(c.flags));
    }
    if c.has_seq_flags() != c.seq.is_some() {
        return Err(Error::V0SeqMismatch);
    }
    if c.pe_data.is_some() || c.pe_name.is_some() {
        return Err(Error::V0PeData);
    }
    Ok(())
}

/// Append `c` as a v1 entry (no padding). Call [`validate_v1`] first.
fn put_entry_v1(out: &mut Vec<u8>, c: &SyncConn) {
    let len = entry_len_v1(c);
    out.push(if c.is_ipv6() { STYPE_F_INET6 } else { 0 });
    out.push(c.protocol);
    out.extend_from_slice(&((len as u16) & SVER_MASK).to_be_bytes());
    out.extend_from_slice(&c.flags.to_be_bytes());
    out.extend_from_slice(&c.state.to_be_bytes());
    out.extend_from_slice(&c.cport.to_be_bytes());
    out.extend_from_slice(&c.vport.to_be_bytes());
    out.extend_from_slice(&c.dport.to_be_bytes());
    out.extend_from_slice(&c.fwmark.to_be_bytes());
    out.extend_from_slice(&c.timeout.to_be_bytes());
    put_addr(out, c.caddr);
    put_addr(out, c.vaddr);
    put_addr(out, c.daddr);
    if let Some(s) = &c.seq {
        out.push(IPVS_OPT_SEQ_DATA);
        out.push(SEQ_OPTS_LEN as u8);
        put_seq_be(out, &s.in_seq);
        put_seq_be(out, &s.out_seq);
    }
    if let Some(d) = &c.pe_data {
        out.push(IPVS_OPT_PE_DATA);
        out.push(d.len() as u8);
        out.extend_from_slice(d);
    }
    if let Some(n) = &c.pe_name {
        out.push(IPVS_OPT_PE_NAME);
        out.push(n.len() as u8);
        out.extend_from_slice(n);
    }
}

/// Append `c` as a v0 entry. Call [`validate_v0`] first.
fn put_entry_v0(out: &mut Vec<u8>, c: &SyncConn) {
    out.push(0);
    out.push(c.protocol);
    out.extend_from_slice(&c.cport.to_be_bytes());
    out.extend_from_slice(&c.vport.to_be_bytes());
    out.extend_from_slice(&c.dport.to_be_bytes());
    put_addr(out, c.caddr);
    put_addr(out, c.vaddr);
    put_addr(out, c.daddr);
    out.extend_from_slice(&(c.flags as u16).to_be_bytes());
    out.extend_from_slice(&c.state.to_be_bytes());
    if c.has_seq_flags() {
        let s = c.seq.unwrap_or_default();
        put_seq_le(out, &s.in_seq);
        put_seq_le(out, &s.out_seq);
    }
}

/// A sync message being built, laid out as the kernel master does
/// (`ip_vs_sync_buff_create*`, `ip_vs_sync_conn*`).
#[derive(Debug, Clone)]
pub struct MessageBuf {
    buf: Vec<u8>,
    version: Version,
    nr_conns: u8,
}

impl MessageBuf {
    /// An empty message (header only).
    pub fn new(version: Version, syncid: u8) -> Self {
        Self::with_capacity(version, syncid, 64)
    }

    /// An empty message with room for `cap` bytes.
    pub fn with_capacity(version: Version, syncid: u8, cap: usize) -> Self {
        let mut buf = Vec::with_capacity(cap.max(V1_HDR_LEN));
        match version {
            Version::V0 => {
                buf.extend_from_slice(&[0, syncid]);
                buf.extend_from_slice(&(V0_HDR_LEN as u16).to_be_bytes());
            }
            Version::V1 => {
                buf.extend_from_slice(&[0, syncid]);
                buf.extend_from_slice(&(V1_HDR_LEN as u16).to_be_bytes());
                buf.extend_from_slice(&[0, SYNC_PROTO_VER as u8, 0, 0]);
            }
        }
        MessageBuf {
            buf,
            version,
            nr_conns: 0,
        }
    }

    /// Version of this message.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Number of entries so far.
    pub fn nr_conns(&self) -> u8 {
        self.nr_conns
    }

    /// Current length in bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if the message has no entries.
    pub fn is_empty(&self) -> bool {
        self.nr_conns == 0
    }

    /// Bytes `c` would add: (alignment padding, entry length).
    pub fn cost(&self, c: &SyncConn) -> (usize, usize) {
        match self.version {
            Version::V0 => (0, entry_len_v0(c)),
            Version::V1 => ((4 - (self.buf.len() & 3)) & 3, entry_len_v1(c)),
        }
    }

    /// Append one entry. Fails if the entry is not encodable in this version,
    /// or if the message would exceed 255 entries or 65535 bytes.
    pub fn push(&mut self, c: &SyncConn) -> Result<(), Error> {
        match self.version {
            Version::V0 => validate_v0(c)?,
            Version::V1 => validate_v1(c)?,
        }
        if self.nr_conns == u8::MAX {
            return Err(Error::TooManyConns);
        }
        let (pad, len) = self.cost(c);
        let new_len = self.buf.len() + pad + len;
        if new_len > u16::MAX as usize {
            return Err(Error::MessageTooLong(new_len));
        }
        self.buf.resize(self.buf.len() + pad, 0);
        match self.version {
            Version::V0 => put_entry_v0(&mut self.buf, c),
            Version::V1 => put_entry_v1(&mut self.buf, c),
        }
        debug_assert_eq!(self.buf.len(), new_len);
        self.nr_conns += 1;
        self.buf[2..4].copy_from_slice(&(new_len as u16).to_be_bytes());
        match self.version {
            Version::V0 => self.buf[0] = self.nr_conns,
            Version::V1 => self.buf[4] = self.nr_conns,
        }
        Ok(())
    }

    /// The finished datagram.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// The datagram so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn v4(b: &[u8], off: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(b[off], b[off + 1], b[off + 2], b[off + 3]))
}

fn v6(b: &[u8], off: usize) -> IpAddr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[off..off + 16]);
    IpAddr::V6(Ipv6Addr::from(o))
}

fn seq_be(b: &[u8]) -> SeqOpts {
    let s = |o: usize| IpVsSeq {
        init_seq: be32(b, o),
        delta: be32(b, o + 4),
        previous_delta: be32(b, o + 8),
    };
    SeqOpts {
        in_seq: s(0),
        out_seq: s(12),
    }
}

fn seq_le(b: &[u8]) -> SeqOpts {
    let s = |o: usize| IpVsSeq {
        init_seq: le32(b, o),
        delta: le32(b, o + 4),
        previous_delta: le32(b, o + 8),
    };
    SeqOpts {
        in_seq: s(0),
        out_seq: s(12),
    }
}

/// A zero-copy view of a received sync datagram whose header checked out:
/// at least 4 bytes and `size == datagram length` (`ip_vs_process_message`).
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    buf: &'a [u8],
    version: Version,
}

impl<'a> Packet<'a> {
    /// Check the header and detect the version: v1 when `version == 1`,
    /// `reserved == 0` and `spare == 0`, otherwise v0 (as the kernel does).
    pub fn new(buf: &'a [u8]) -> Result<Self, Error> {
        if buf.len() < V0_HDR_LEN {
            return Err(Error::HeaderTooShort(buf.len()));
        }
        let size = be16(buf, 2) as usize;
        if size != buf.len() {
            return Err(Error::SizeMismatch {
                size,
                len: buf.len(),
            });
        }
        let version = if buf.len() >= V1_HDR_LEN
            && buf[5] as i8 == SYNC_PROTO_VER
            && buf[0] == 0
            && buf[6] == 0
            && buf[7] == 0
        {
            Version::V1
        } else {
            Version::V0
        };
        Ok(Packet { buf, version })
    }

    /// Protocol version of the message.
    pub fn version(&self) -> Version {
        self.version
    }

    /// SyncID of the sending master.
    pub fn syncid(&self) -> u8 {
        self.buf[1]
    }

    /// Number of entries the header announces.
    pub fn nr_conns(&self) -> u8 {
        match self.version {
            Version::V0 => self.buf[0],
            Version::V1 => self.buf[4],
        }
    }

    /// The raw datagram.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Walk the entries as the kernel backup does. Each item is an entry, an
    /// entry-level error ([`Error::UnknownMandatoryOption`]: this entry is
    /// skipped, the walk goes on), or a message-level error after which the
    /// walk ends (the rest of the datagram is dropped).
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            buf: self.buf,
            version: self.version,
            pos: self.version.header_len(),
            index: 0,
            remaining: self.nr_conns(),
            done: false,
        }
    }
}

/// Iterator over the entries of a [`Packet`].
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    buf: &'a [u8],
    version: Version,
    pos: usize,
    index: usize,
    remaining: u8,
    done: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<ConnView<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let index = self.index;
        self.index += 1;
        let r = match self.version {
            Version::V0 => self.next_v0(index),
            Version::V1 => self.next_v1(index),
        };
        if let Err(e) = &r {
            if e.is_fatal() {
                self.done = true;
            }
        }
        Some(r)
    }
}

impl<'a> Entries<'a> {
    fn next_v0(&mut self, index: usize) -> Result<ConnView<'a>, Error> {
        let p = self.pos;
        if p + V0_SIMPLE_CONN_SIZE > self.buf.len() {
            return Err(Error::EntryTruncated { index });
        }
        let flags = be16(self.buf, p + 20) as u32;
        let (len, seq) = if flags & IP_VS_CONN_F_SEQ_MASK != 0 {
            if p + V0_FULL_CONN_SIZE > self.buf.len() {
                return Err(Error::EntryTruncated { index });
            }
            (
                V0_FULL_CONN_SIZE,
                Some(seq_le(
                    &self.buf[p + V0_SIMPLE_CONN_SIZE..p + V0_FULL_CONN_SIZE],
                )),
            )
        } else {
            (V0_SIMPLE_CONN_SIZE, None)
        };
        self.pos = p + len;
        Ok(ConnView {
            raw: &self.buf[p..p + len],
            version: Version::V0,
            ipv6: false,
            seq,
            pe_data: None,
            pe_name: None,
        })
    }

    fn next_v1(&mut self, index: usize) -> Result<ConnView<'a>, Error> {
        let buf = self.buf;
        let p = self.pos;
        if p + V1_CONN_V4_SIZE > buf.len() {
            return Err(Error::EntryTruncated { index });
        }
        let ver_size = be16(buf, p + 2);
        let size = (ver_size & SVER_MASK) as usize;
        let end = p + size;
        if end > buf.len() {
            return Err(Error::EntryBeyondMessage { index, size });
        }
        if ver_size >> SVER_SHIFT != 0 {
            return Err(Error::EntryVersion {
                index,
                version: (ver_size >> SVER_SHIFT) as u8,
            });
        }
        let ty = buf[p];
        let (ipv6, fixed) = if ty & STYPE_F_INET6 != 0 {
            (true, V1_CONN_V6_SIZE)
        } else if ty == 0 {
            (false, V1_CONN_V4_SIZE)
        } else {
            return Err(Error::EntryType { index, ty });
        };
        if p + fixed > end {
            return Err(Error::EntryTooSmall { index, size });
        }
        // The next entry starts at the 4-byte boundary after this one,
        // whatever happens to this one.
        self.pos = p + ((size + 3) & !3);
        let mut q = p + fixed;
        let mut seq = None;
        let mut pe_data = None;
        let mut pe_name = None;
        while q < end {
            if q + 2 > end {
                return Err(Error::OptionTruncated { index });
            }
            let ptype = buf[q];
            let plen = buf[q + 1] as usize;
            q += 2;
            if plen == 0 || q + plen > end {
                return Err(Error::OptionLength { index, ptype, plen });
            }
            let data = &buf[q..q + plen];
            match ptype & !IPVS_OPT_F_PARAM {
                IPVS_OPT_SEQ_DATA => {
                    if plen != SEQ_OPTS_LEN {
                        return Err(Error::OptionLength { index, ptype, plen });
                    }
                    if seq.is_some() {
                        return Err(Error::DuplicateOption { index, ptype });
                    }
                    seq = Some(seq_be(data));
                }
                IPVS_OPT_PE_DATA => {
                    if pe_data.is_some() {
                        return Err(Error::DuplicateOption { index, ptype });
                    }
                    pe_data = Some(data);
                }
                IPVS_OPT_PE_NAME => {
                    if plen > IP_VS_PENAME_MAXLEN {
                        return Err(Error::OptionLength { index, ptype, plen });
                    }
                    if pe_name.is_some() {
                        return Err(Error::DuplicateOption { index, ptype });
                    }
                    pe_name = Some(data);
                }
                _ => {
                    if ptype & IPVS_OPT_F_PARAM == 0 {
                        return Err(Error::UnknownMandatoryOption { index, ptype });
                    }
                }
            }
            q += plen;
        }
        Ok(ConnView {
            raw: &buf[p..p + fixed],
            version: Version::V1,
            ipv6,
            seq,
            pe_data,
            pe_name,
        })
    }
}

/// A zero-copy view of one entry of a [`Packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnView<'a> {
    raw: &'a [u8],
    version: Version,
    ipv6: bool,
    seq: Option<SeqOpts>,
    pe_data: Option<&'a [u8]>,
    pe_name: Option<&'a [u8]>,
}

impl<'a> ConnView<'a> {
    /// Is this an IPv6 entry?
    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }
    /// IP protocol.
    pub fn protocol(&self) -> u8 {
        self.raw[1]
    }
    /// Connection flags as sent.
    pub fn flags(&self) -> u32 {
        match self.version {
            Version::V0 => be16(self.raw, 20) as u32,
            Version::V1 => be32(self.raw, 4),
        }
    }
    /// State.
    pub fn state(&self) -> u16 {
        match self.version {
            Version::V0 => be16(self.raw, 22),
            Version::V1 => be16(self.raw, 8),
        }
    }
    /// Client port.
    pub fn cport(&self) -> u16 {
        match self.version {
            Version::V0 => be16(self.raw, 2),
            Version::V1 => be16(self.raw, 10),
        }
    }
    /// Virtual port.
    pub fn vport(&self) -> u16 {
        match self.version {
            Version::V0 => be16(self.raw, 4),
            Version::V1 => be16(self.raw, 12),
        }
    }
    /// Real server port.
    pub fn dport(&self) -> u16 {
        match self.version {
            Version::V0 => be16(self.raw, 6),
            Version::V1 => be16(self.raw, 14),
        }
    }
    /// Firewall mark (0 in v0).
    pub fn fwmark(&self) -> u32 {
        match self.version {
            Version::V0 => 0,
            Version::V1 => be32(self.raw, 16),
        }
    }
    /// Timeout in seconds (0 in v0).
    pub fn timeout(&self) -> u32 {
        match self.version {
            Version::V0 => 0,
            Version::V1 => be32(self.raw, 20),
        }
    }
    fn addr(&self, i: usize) -> IpAddr {
        match (self.version, self.ipv6) {
            (Version::V0, _) => v4(self.raw, 8 + 4 * i),
            (Version::V1, false) => v4(self.raw, 24 + 4 * i),
            (Version::V1, true) => v6(self.raw, 24 + 16 * i),
        }
    }
    /// Client address.
    pub fn caddr(&self) -> IpAddr {
        self.addr(0)
    }
    /// Virtual address.
    pub fn vaddr(&self) -> IpAddr {
        self.addr(1)
    }
    /// Real server address.
    pub fn daddr(&self) -> IpAddr {
        self.addr(2)
    }
    /// Sequence options.
    pub fn seq(&self) -> Option<SeqOpts> {
        self.seq
    }
    /// PE data.
    pub fn pe_data(&self) -> Option<&'a [u8]> {
        self.pe_data
    }
    /// PE name.
    pub fn pe_name(&self) -> Option<&'a [u8]> {
        self.pe_name
    }
    /// The owned value.
    pub fn to_conn(&self) -> SyncConn {
        SyncConn {
            protocol: self.protocol(),
            caddr: self.caddr(),
            cport: self.cport(),
            vaddr: self.vaddr(),
            vport: self.vport(),
            daddr: self.daddr(),
            dport: self.dport(),
            flags: self.flags(),
            state: self.state(),
            fwmark: self.fwmark(),
            timeout: self.timeout(),
            seq: self.seq,
            pe_data: self.pe_data.map(<[u8]>::to_vec),
            pe_name: self.pe_name.map(<[u8]>::to_vec),
        }
    }
}

/// A whole sync message as a validated value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncMessage {
    /// Protocol version.
    pub version: Version,
    /// SyncID of the master.
    pub syncid: u8,
    /// The entries, in order.
    pub conns: Vec<SyncConn>,
}

impl SyncMessage {
    /// Decode strictly: any error the kernel backup would act on (dropping
    /// the message, the rest of it, or one entry) is an error here.
    pub fn decode(buf: &[u8]) -> Result<Self, Error> {
        let p = Packet::new(buf)?;
        let conns = p
            .entries()
            .map(|e| e.map(|v| v.to_conn()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SyncMessage {
            version: p.version(),
            syncid: p.syncid(),
            conns,
        })
    }

    /// Encode with the kernel master's layout.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut m = MessageBuf::new(self.version, self.syncid);
        for c in &self.conns {
            m.push(c)?;
        }
        Ok(m.finish())
    }
}
