//! VRRP advertisements: version 2 (RFC 3768 §5) and version 3 (RFC 5798 §5).
//!
//! ```text
//! VRRPv2 (RFC 3768 §5.1)
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Adver Int   |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         IP Address (1..n)                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Authentication Data (1)                   |
//! |                     Authentication Data (2)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! VRRPv3 (RFC 5798 §5.1)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Ver=3 | Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IPvX Address(es)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Checksums ([`ChecksumMode`]): v2 sums the VRRP message (auth data
//! included). v3 (RFC 5798 §5.2.8) prepends the IPv4/IPv6 pseudo-header; for
//! IPv4 keepalived offers `v3_checksum_as_v2` (no pseudo-header) and, before
//! 1.3.6, used the multicast group as destination even for unicast
//! (`old_unicast_checksum`). Those are all just a different `ChecksumMode`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::field::Field;
use crate::ipv4::{self, Ipv4Packet, Ipv4Repr};
use crate::{Error, Result, IPPROTO_VRRP};

mod field {
    use super::Field;
    pub(super) const VER_TYPE: usize = 0;
    pub(super) const VRID: usize = 1;
    pub(super) const PRIORITY: usize = 2;
    pub(super) const COUNT: usize = 3;
    /// v2: auth type (byte 4), adver int (byte 5). v3: rsvd + max adver int.
    pub(super) const V2_AUTH_TYPE: usize = 4;
    pub(super) const V2_ADVER_INT: usize = 5;
    pub(super) const V3_ADVER_INT: Field = 4..6;
    pub(super) const CHECKSUM: Field = 6..8;
    pub(super) const ADDRS: usize = 8;
}

/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data.
pub const AUTH_LEN: usize = 8;
/// The only VRRP message type (ADVERTISEMENT).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// 224.0.0.18
pub const MCAST_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// ff02::12
pub const MCAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TOS / traffic class keepalived uses for adverts (internetwork control).
pub const TOS: u8 = 0xc0;

/// Address family of the addresses in an advert (it is not carried in the
/// packet; it is the family of the IP header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4, 4-byte addresses.
    Inet,
    /// IPv6, 16-byte addresses.
    Inet6,
}

impl Family {
    /// Address length in bytes.
    pub const fn addr_len(self) -> usize {
        match self {
            Self::Inet => 4,
            Self::Inet6 => 16,
        }
    }
    /// Family of an address.
    pub fn of(a: IpAddr) -> Self {
        if a.is_ipv4() {
            Self::Inet
        } else {
            Self::Inet6
        }
    }
    /// The VRRP multicast group of this family.
    pub fn mcast_group(self) -> IpAddr {
        match self {
            Self::Inet => IpAddr::V4(MCAST_GROUP_V4),
            Self::Inet6 => IpAddr::V6(MCAST_GROUP_V6),
        }
    }
}

/// Protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum VrrpVersion {
    /// RFC 3768.
    V2,
    /// RFC 5798.
    V3,
}

impl VrrpVersion {
    /// The wire nibble.
    pub const fn number(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6; types from RFC 2338).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Auth {
    /// Type 0 (and every v3 advert).
    None,
    /// Type 1: simple text password, 8 bytes, NUL padded.
    Password([u8; 8]),
    /// Type 2: IP Authentication Header. Recognised so it can be refused
    /// with a clear message; lvsd does not implement it.
    Ah,
}

impl Auth {
    /// The auth type byte.
    pub const fn type_number(&self) -> u8 {
        match self {
            Self::None => 0,
            Self::Password(_) => 1,
            Self::Ah => 2,
        }
    }

    /// A password auth from a configured string, truncated to 8 bytes
    /// (keepalived truncates with an error) and NUL padded.
    pub fn password(s: &str) -> Self {
        let mut p = [0u8; 8];
        let b = s.as_bytes();
        let n = b.len().min(8);
        p[..n].copy_from_slice(&b[..n]);
        Self::Password(p)
    }
}

/// How the checksum of an advert is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    /// Over the VRRP message only: VRRPv2, and VRRPv3 with
    /// `v3_checksum_as_v2`.
    Plain,
    /// VRRPv3 (RFC 5798 §5.2.8): IPv4/IPv6 pseudo-header `{src, dst, 112, len}`
    /// first. For keepalived's old unicast checksum, pass the multicast group
    /// as `dst`.
    Pseudo {
        /// IP source address.
        src: IpAddr,
        /// IP destination address (or the group, for the old unicast form).
        dst: IpAddr,
    },
}

/// A zero-copy view over a VRRP message (without the IP header).
#[derive(Debug, Clone)]
pub struct VrrpPacket<T: AsRef<[u8]>> {
    buffer: T,
    family: Family,
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// Wrap without checks (emission into a buffer sized by
    /// [`VrrpRepr::buffer_len`]).
    pub fn new_unchecked(buffer: T, family: Family) -> Self {
        Self { buffer, family }
    }

    /// Wrap an untrusted buffer: the fixed header must fit. Use
    /// [`Self::check_len`] (or [`VrrpRepr::parse`]) before reading addresses.
    pub fn new_checked(buffer: T, family: Family) -> Result<Self> {
        let p = Self::new_unchecked(buffer, family);
        let got = p.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                got,
                need: HEADER_LEN,
            });
        }
        Ok(p)
    }

    /// The length this message must have for `version`:
    /// `8 + count × addrlen (+ 8 auth bytes for v2)`.
    pub fn expected_len(&self, version: VrrpVersion) -> usize {
        HEADER_LEN
            + usize::from(self.count()) * self.family.addr_len()
            + if version == VrrpVersion::V2 {
                AUTH_LEN
            } else {
                0
            }
    }

    /// keepalived's length rule: the buffer must be exactly
    /// [`Self::expected_len`] for `version`.
    pub fn check_len_for(&self, version: VrrpVersion) -> Result<()> {
        let got = self.buffer.as_ref().len();
        let expected = self.expected_len(version);
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                got,
                need: HEADER_LEN,
            });
        }
        if got != expected {
            return Err(Error::BadLength {
                got,
                expected,
                count: self.count(),
            });
        }
        Ok(())
    }

    /// [`Self::check_len_for`] using the version nibble of the packet itself
    /// (an unknown version gives [`Error::BadVersion`]).
    pub fn check_len(&self) -> Result<()> {
        let got = self.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                got,
                need: HEADER_LEN,
            });
        }
        self.check_len_for(self.vrrp_version()?)
    }

    /// The address family given at construction.
    pub fn family(&self) -> Family {
        self.family
    }
    /// The whole message.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    /// Version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }
    /// The version nibble as a [`VrrpVersion`].
    pub fn vrrp_version(&self) -> Result<VrrpVersion> {
        match self.version() {
            2 => Ok(VrrpVersion::V2),
            3 => Ok(VrrpVersion::V3),
            v => Err(Error::BadVersion(v)),
        }
    }
    /// Type nibble.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }
    /// Virtual router id.
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }
    /// Priority.
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }
    /// Count of addresses.
    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }
    /// v2 auth type byte.
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::V2_AUTH_TYPE]
    }
    /// Advertisement interval in the packet's own unit: seconds for v2,
    /// centiseconds (12 bits) for v3.
    pub fn adver_int(&self) -> u16 {
        let b = self.buffer.as_ref();
        if self.version() == 2 {
            u16::from(b[field::V2_ADVER_INT])
        } else {
            u16::from_be_bytes([b[4], b[5]]) & 0x0fff
        }
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// The `i`-th address; `None` past the buffer or the count.
    pub fn address(&self, i: usize) -> Option<IpAddr> {
        if i >= usize::from(self.count()) {
            return None;
        }
        let l = self.family.addr_len();
        let start = field::ADDRS + i * l;
        let b = self.buffer.as_ref().get(start..start + l)?;
        Some(match self.family {
            Family::Inet => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            Family::Inet6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(b);
                IpAddr::V6(o.into())
            }
        })
    }
    /// The 8 bytes of v2 authentication data after the addresses.
    pub fn auth_data(&self) -> Option<[u8; 8]> {
        let start = field::ADDRS + usize::from(self.count()) * self.family.addr_len();
        let b = self.buffer.as_ref().get(start..start + AUTH_LEN)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(a)
    }

    fn sum(&self, mode: ChecksumMode) -> u16 {
        let b = self.buffer.as_ref();
        let acc = match mode {
            ChecksumMode::Plain => 0,
            ChecksumMode::Pseudo { src, dst } => {
                checksum::pseudo(0, src, dst, IPPROTO_VRRP, b.len())
            }
        };
        checksum::finish(checksum::accumulate(acc, b))
    }

    /// Whether the checksum verifies under `mode`.
    pub fn verify_checksum(&self, mode: ChecksumMode) -> bool {
        self.sum(mode) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VrrpPacket<T> {
    /// Compute and store the checksum under `mode`.
    pub fn fill_checksum(&mut self, mode: ChecksumMode) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let c = self.sum(mode);
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Overwrite the priority (used for the priority-0 advert) — the caller
    /// must refill the checksum.
    pub fn set_priority(&mut self, p: u8) {
        self.buffer.as_mut()[field::PRIORITY] = p;
    }
}

/// A validated VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VrrpRepr {
    /// Protocol version.
    pub version: VrrpVersion,
    /// Virtual router id (1..=255; 0 is refused by the engine, not the codec).
    pub vrid: u8,
    /// Priority (0 = master is leaving, 255 = address owner).
    pub priority: u8,
    /// Advertisement interval: seconds for v2, centiseconds for v3.
    pub adver_int: u16,
    /// v2 authentication; always [`Auth::None`] for v3.
    pub auth: Auth,
    /// Virtual addresses, all of the packet's family.
    pub addresses: Vec<IpAddr>,
}

impl VrrpRepr {
    /// Parse and validate the structure: version 2 or 3, type 1, exact
    /// length, v2 auth type in {0,1,2}. The checksum is checked separately
    /// with [`VrrpPacket::verify_checksum`] because its mode is
    /// configuration, not packet, state.
    pub fn parse<T: AsRef<[u8]>>(p: &VrrpPacket<T>) -> Result<Self> {
        let version = p.vrrp_version()?;
        if version == VrrpVersion::V2 && p.family == Family::Inet6 {
            return Err(Error::V2OverIpv6);
        }
        p.check_len_for(version)?;
        if p.msg_type() != TYPE_ADVERTISEMENT {
            return Err(Error::BadType(p.msg_type()));
        }
        let auth = match version {
            VrrpVersion::V3 => Auth::None,
            VrrpVersion::V2 => match p.auth_type() {
                0 => Auth::None,
                1 => Auth::Password(p.auth_data().unwrap_or_default()),
                2 => Auth::Ah,
                t => return Err(Error::BadAuthType(t)),
            },
        };
        let addresses = (0..usize::from(p.count()))
            .filter_map(|i| p.address(i))
            .collect();
        Ok(Self {
            version,
            vrid: p.vrid(),
            priority: p.priority(),
            adver_int: p.adver_int(),
            auth,
            addresses,
        })
    }

    /// Message length.
    pub fn buffer_len(&self) -> usize {
        let alen = self
            .addresses
            .first()
            .map_or(4, |a| Family::of(*a).addr_len());
        HEADER_LEN
            + self.addresses.len() * alen
            + if self.version == VrrpVersion::V2 {
                AUTH_LEN
            } else {
                0
            }
    }

    /// Write the message and its checksum. The buffer must be exactly
    /// [`Self::buffer_len`] bytes. Addresses of the wrong family for the
    /// packet are skipped (callers validate the family at config time).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut VrrpPacket<T>, mode: ChecksumMode) {
        let family = p.family;
        let b = p.buffer.as_mut();
        b[field::VER_TYPE] = (self.version.number() << 4) | TYPE_ADVERTISEMENT;
        b[field::VRID] = self.vrid;
        b[field::PRIORITY] = self.priority;
        b[field::COUNT] = self.addresses.len() as u8;
        match self.version {
            VrrpVersion::V2 => {
                b[field::V2_AUTH_TYPE] = self.auth.type_number();
                b[field::V2_ADVER_INT] = self.adver_int as u8;
            }
            VrrpVersion::V3 => {
                b[field::V3_ADVER_INT].copy_from_slice(&(self.adver_int & 0x0fff).to_be_bytes());
            }
        }
        let mut off = field::ADDRS;
        for a in &self.addresses {
            match (a, family) {
                (IpAddr::V4(a), Family::Inet) => {
                    b[off..off + 4].copy_from_slice(&a.octets());
                    off += 4;
                }
                (IpAddr::V6(a), Family::Inet6) => {
                    b[off..off + 16].copy_from_slice(&a.octets());
                    off += 16;
                }
                _ => {}
            }
        }
        if self.version == VrrpVersion::V2 {
            let data = match self.auth {
                Auth::Password(p) => p,
                Auth::None | Auth::Ah => [0; 8],
            };
            b[off..off + AUTH_LEN].copy_from_slice(&data);
        }
        p.fill_checksum(mode);
    }

    /// The VRRP message as bytes.
    pub fn to_bytes(&self, family: Family, mode: ChecksumMode) -> Vec<u8> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut VrrpPacket::new_unchecked(&mut buf[..], family), mode);
        buf
    }

    /// A complete IPv4 datagram as keepalived sends it with `IP_HDRINCL`:
    /// TOS 0xc0, no DF, protocol 112, the given TTL and identification.
    /// `mode` is the checksum mode of the VRRP part.
    pub fn to_ipv4_datagram(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        ident: u16,
        mode: ChecksumMode,
    ) -> Vec<u8> {
        let vlen = self.buffer_len();
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: IPPROTO_VRRP,
            payload_len: vlen,
            ttl,
            tos: TOS,
            ident,
        };
        let mut buf = vec![0u8; ipv4::HEADER_LEN + vlen];
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
        ip.emit(&mut p);
        self.emit(
            &mut VrrpPacket::new_unchecked(p.payload_mut(), Family::Inet),
            mode,
        );
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // keepalived 2.2.7, tests/fixtures/keepalived-v2pass.pcap: VRRPv2, vrid 51,
    // prio 100, PASS "secret12", advert_int 1, 10.55.0.100 + 10.55.0.101.
    static V2_PASS: [u8; 24] = [
        0x21, 0x33, 0x64, 0x02, 0x01, 0x01, 0xf7, 0x13, 0x0a, 0x37, 0x00, 0x64, 0x0a, 0x37, 0x00,
        0x65, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
    ];
    // Same instance, priority 0 on SIGTERM.
    static V2_PASS_PRIO0: [u8; 24] = [
        0x21, 0x33, 0x00, 0x02, 0x01, 0x01, 0x5b, 0x14, 0x0a, 0x37, 0x00, 0x64, 0x0a, 0x37, 0x00,
        0x65, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
    ];
    // keepalived-v3.pcap: VRRPv3/IPv4 multicast, vrid 52, prio 150, 50 cs,
    // 10.55.0.102, from 10.55.0.1 to 224.0.0.18.
    static V3_MCAST: [u8; 12] = [
        0x31, 0x34, 0x96, 0x01, 0x00, 0x32, 0x43, 0x34, 0x0a, 0x37, 0x00, 0x66,
    ];
    // keepalived-v3u.pcap: VRRPv3/IPv4 unicast 10.55.0.1 -> 10.55.0.2, vrid 53,
    // prio 200, 100 cs, 10.55.0.103 + 10.55.0.104.
    static V3_UCAST: [u8; 16] = [
        0x31, 0x35, 0xc8, 0x02, 0x00, 0x64, 0xdc, 0x35, 0x0a, 0x37, 0x00, 0x67, 0x0a, 0x37, 0x00,
        0x68,
    ];
    // keepalived-v36.pcap: VRRPv3/IPv6 fe80::ff:fe00:501 -> ff02::12, vrid 54,
    // prio 100, 100 cs, fd00:55::100.
    static V3_V6: [u8; 24] = [
        0x31, 0x36, 0x64, 0x01, 0x00, 0x64, 0x69, 0xef, 0xfd, 0x00, 0x00, 0x55, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0x01, 0x00,
    ];

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v2_repr(prio: u8) -> VrrpRepr {
        VrrpRepr {
            version: VrrpVersion::V2,
            vrid: 51,
            priority: prio,
            adver_int: 1,
            auth: Auth::password("secret12"),
            addresses: vec![v4("10.55.0.100"), v4("10.55.0.101")],
        }
    }

    fn pseudo(s: &str, d: &str) -> ChecksumMode {
        ChecksumMode::Pseudo {
            src: v4(s),
            dst: v4(d),
        }
    }

    #[test]
    fn v2_deconstruct() {
        let p = VrrpPacket::new_checked(&V2_PASS[..], Family::Inet).unwrap();
        assert_eq!(p.version(), 2);
        assert_eq!(p.msg_type(), 1);
        assert_eq!(p.vrid(), 51);
        assert_eq!(p.priority(), 100);
        assert_eq!(p.count(), 2);
        assert_eq!(p.auth_type(), 1);
        assert_eq!(p.adver_int(), 1);
        assert_eq!(p.checksum(), 0xf713);
        assert_eq!(p.address(1), Some(v4("10.55.0.101")));
        assert_eq!(p.address(2), None);
        assert_eq!(&p.auth_data().unwrap(), b"secret12");
        assert!(p.verify_checksum(ChecksumMode::Plain));
    }

    #[test]
    fn v2_parse_and_emit() {
        for (bytes, prio) in [(&V2_PASS, 100), (&V2_PASS_PRIO0, 0)] {
            let p = VrrpPacket::new_checked(&bytes[..], Family::Inet).unwrap();
            assert_eq!(VrrpRepr::parse(&p).unwrap(), v2_repr(prio));
            assert_eq!(
                v2_repr(prio).to_bytes(Family::Inet, ChecksumMode::Plain),
                bytes.to_vec()
            );
        }
    }

    #[test]
    fn v3_ipv4_multicast_uses_the_pseudo_header() {
        let p = VrrpPacket::new_checked(&V3_MCAST[..], Family::Inet).unwrap();
        let mode = pseudo("10.55.0.1", "224.0.0.18");
        assert!(p.verify_checksum(mode));
        assert!(!p.verify_checksum(ChecksumMode::Plain));
        let r = VrrpRepr::parse(&p).unwrap();
        assert_eq!(r.version, VrrpVersion::V3);
        assert_eq!(r.adver_int, 50);
        assert_eq!(r.auth, Auth::None);
        assert_eq!(r.to_bytes(Family::Inet, mode), V3_MCAST.to_vec());
    }

    #[test]
    fn v3_ipv4_unicast_checksum_uses_the_peer_and_not_the_group() {
        let p = VrrpPacket::new_checked(&V3_UCAST[..], Family::Inet).unwrap();
        assert!(p.verify_checksum(pseudo("10.55.0.1", "10.55.0.2")));
        // The pre-1.3.6 form (group as destination) gives a different sum.
        assert!(!p.verify_checksum(pseudo("10.55.0.1", "224.0.0.18")));
        let r = VrrpRepr::parse(&p).unwrap();
        assert_eq!(r.addresses, vec![v4("10.55.0.103"), v4("10.55.0.104")]);
        let old = r.to_bytes(Family::Inet, pseudo("10.55.0.1", "224.0.0.18"));
        let old = VrrpPacket::new_checked(&old[..], Family::Inet).unwrap();
        assert!(old.verify_checksum(pseudo("10.55.0.1", "224.0.0.18")));
    }

    #[test]
    fn v3_ipv6() {
        let p = VrrpPacket::new_checked(&V3_V6[..], Family::Inet6).unwrap();
        let mode = ChecksumMode::Pseudo {
            src: v4("fe80::ff:fe00:501"),
            dst: v4("ff02::12"),
        };
        assert!(p.verify_checksum(mode));
        let r = VrrpRepr::parse(&p).unwrap();
        assert_eq!(r.addresses, vec![v4("fd00:55::100")]);
        assert_eq!(r.adver_int, 100);
        assert_eq!(r.to_bytes(Family::Inet6, mode), V3_V6.to_vec());
    }

    #[test]
    fn v3_checksum_as_v2() {
        let r = VrrpRepr::parse(&VrrpPacket::new_checked(&V3_MCAST[..], Family::Inet).unwrap())
            .unwrap();
        let b = r.to_bytes(Family::Inet, ChecksumMode::Plain);
        assert!(VrrpPacket::new_checked(&b[..], Family::Inet)
            .unwrap()
            .verify_checksum(ChecksumMode::Plain));
        assert_ne!(b, V3_MCAST.to_vec());
    }

    #[test]
    fn ipv4_datagram_matches_keepalived() {
        // Whole IP datagram of the first v2 advert (id 1).
        let mut expected = vec![
            0x45, 0xc0, 0x00, 0x2c, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xd0, 0x56, 0x0a, 0x37,
            0x00, 0x01, 0xe0, 0x00, 0x00, 0x12,
        ];
        expected.extend_from_slice(&V2_PASS);
        let d = v2_repr(100).to_ipv4_datagram(
            Ipv4Addr::new(10, 55, 0, 1),
            MCAST_GROUP_V4,
            255,
            1,
            ChecksumMode::Plain,
        );
        assert_eq!(d, expected);
    }

    #[test]
    fn rejections() {
        // Truncated header.
        assert!(matches!(
            VrrpPacket::new_checked(&V2_PASS[..7], Family::Inet),
            Err(Error::Truncated { .. })
        ));
        // Length does not match the count.
        let p = VrrpPacket::new_checked(&V2_PASS[..20], Family::Inet).unwrap();
        assert!(matches!(
            VrrpRepr::parse(&p),
            Err(Error::BadLength {
                got: 20,
                expected: 24,
                count: 2
            })
        ));
        // Version 4.
        let mut b = V2_PASS;
        b[0] = 0x41;
        assert_eq!(
            VrrpRepr::parse(&VrrpPacket::new_checked(&b[..], Family::Inet).unwrap()),
            Err(Error::BadVersion(4))
        );
        // Type 2.
        let mut b = V2_PASS;
        b[0] = 0x22;
        assert_eq!(
            VrrpRepr::parse(&VrrpPacket::new_checked(&b[..], Family::Inet).unwrap()),
            Err(Error::BadType(2))
        );
        // Auth type 3.
        let mut b = V2_PASS;
        b[4] = 3;
        assert_eq!(
            VrrpRepr::parse(&VrrpPacket::new_checked(&b[..], Family::Inet).unwrap()),
            Err(Error::BadAuthType(3))
        );
        // AH auth type is recognised (and refused by the engine).
        let mut b = V2_PASS;
        b[4] = 2;
        assert_eq!(
            VrrpRepr::parse(&VrrpPacket::new_checked(&b[..], Family::Inet).unwrap())
                .unwrap()
                .auth,
            Auth::Ah
        );
        // v2 over IPv6.
        assert_eq!(
            VrrpRepr::parse(&VrrpPacket::new_checked(&V2_PASS[..], Family::Inet6).unwrap()),
            Err(Error::V2OverIpv6)
        );
        // Bad checksum.
        let mut b = V2_PASS;
        b[7] ^= 1;
        assert!(!VrrpPacket::new_checked(&b[..], Family::Inet)
            .unwrap()
            .verify_checksum(ChecksumMode::Plain));
    }
}
