//! ICMPv6 Neighbor Advertisement (RFC 4861 §4.4), as sent unsolicited for an
//! IPv6 VIP on becoming MASTER. keepalived 2.2.7 sends it from the VIP to
//! ff02::1 with hop limit 255, flags Override only, and a Target Link-Layer
//! Address option (`tests/fixtures/keepalived-v36.pcap`).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type (136)  |    Code (0)   |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|S|O|                     Reserved                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Target Address (128)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type (2)     |  Length (1)   |  Link-layer address (6) ...   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::Ipv6Addr;

use crate::checksum;
use crate::ethernet::{self, EtherType, EthernetFrame, EthernetRepr, MacAddr};
use crate::field::Field;
use crate::ipv6::{self, Ipv6Packet, Ipv6Repr};
use crate::{Error, Result, IPPROTO_ICMPV6};

mod field {
    use super::Field;
    pub(super) const TYPE: usize = 0;
    pub(super) const CODE: usize = 1;
    pub(super) const CHECKSUM: Field = 2..4;
    pub(super) const FLAGS: usize = 4;
    pub(super) const TARGET: Field = 8..24;
    pub(super) const OPTIONS: usize = 24;
}

/// ICMPv6 type of a neighbour advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
const OPT_TARGET_LLADDR: u8 = 2;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// ff02::1, the all-nodes group unsolicited NAs go to.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A view over an ICMPv6 neighbour advertisement.
#[derive(Debug, Clone)]
pub struct NeighborAdvertPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NeighborAdvertPacket<T> {
    /// Wrap without checks.
    pub fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }
    /// Wrap an untrusted buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// The fixed part must fit.
    pub fn check_len(&self) -> Result<()> {
        let got = self.buffer.as_ref().len();
        if got < field::OPTIONS {
            return Err(Error::Truncated {
                got,
                need: field::OPTIONS,
            });
        }
        Ok(())
    }
    /// ICMPv6 type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    /// ICMPv6 code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// R/S/O flag byte.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    /// Target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[field::TARGET]);
        o.into()
    }
    /// The options area.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..]
    }
    /// Verify the ICMPv6 checksum over the IPv6 pseudo-header.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        let acc = checksum::pseudo_v6(0, src, dst, IPPROTO_ICMPV6, b.len() as u32);
        checksum::finish(checksum::accumulate(acc, b)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NeighborAdvertPacket<T> {
    /// Compute and store the checksum.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let b = self.buffer.as_ref();
        let acc = checksum::pseudo_v6(0, src, dst, IPPROTO_ICMPV6, b.len() as u32);
        let c = checksum::finish(checksum::accumulate(acc, b));
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// A neighbour advertisement as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvertRepr {
    /// R flag.
    pub router: bool,
    /// S flag.
    pub solicited: bool,
    /// O flag.
    pub override_: bool,
    /// Target address.
    pub target_addr: Ipv6Addr,
    /// Target link-layer address option, if present.
    pub target_lladdr: Option<MacAddr>,
}

impl NeighborAdvertRepr {
    /// Parse and verify the checksum against `src`/`dst`.
    pub fn parse<T: AsRef<[u8]>>(
        p: &NeighborAdvertPacket<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<Self> {
        p.check_len()?;
        if p.msg_type() != TYPE_NEIGHBOR_ADVERT || p.code() != 0 {
            return Err(Error::Unsupported(
                "ICMPv6 message other than a neighbour advertisement",
            ));
        }
        if !p.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        let mut target_lladdr = None;
        let mut opts = p.options();
        while !opts.is_empty() {
            if opts.len() < 2 || opts[1] == 0 || opts.len() < usize::from(opts[1]) * 8 {
                return Err(Error::Truncated {
                    got: opts.len(),
                    need: 8,
                });
            }
            let len = usize::from(opts[1]) * 8;
            if opts[0] == OPT_TARGET_LLADDR && len == 8 {
                let mut m = [0; 6];
                m.copy_from_slice(&opts[2..8]);
                target_lladdr = Some(MacAddr(m));
            }
            opts = &opts[len..];
        }
        let f = p.flags();
        Ok(Self {
            router: f & FLAG_ROUTER != 0,
            solicited: f & FLAG_SOLICITED != 0,
            override_: f & FLAG_OVERRIDE != 0,
            target_addr: p.target_addr(),
            target_lladdr,
        })
    }

    /// The unsolicited NA keepalived sends for `addr` owned by `mac`.
    pub fn unsolicited(mac: MacAddr, addr: Ipv6Addr) -> Self {
        Self {
            router: false,
            solicited: false,
            override_: true,
            target_addr: addr,
            target_lladdr: Some(mac),
        }
    }

    /// ICMPv6 message length.
    pub fn buffer_len(&self) -> usize {
        field::OPTIONS + if self.target_lladdr.is_some() { 8 } else { 0 }
    }

    /// Write the message and its checksum over the pseudo-header `src`/`dst`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        p: &mut NeighborAdvertPacket<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) {
        let b = p.buffer.as_mut();
        b[field::TYPE] = TYPE_NEIGHBOR_ADVERT;
        b[field::CODE] = 0;
        b[field::FLAGS] = (if self.router { FLAG_ROUTER } else { 0 })
            | (if self.solicited { FLAG_SOLICITED } else { 0 })
            | (if self.override_ { FLAG_OVERRIDE } else { 0 });
        b[5..8].copy_from_slice(&[0, 0, 0]);
        b[field::TARGET].copy_from_slice(&self.target_addr.octets());
        if let Some(m) = self.target_lladdr {
            b[24] = OPT_TARGET_LLADDR;
            b[25] = 1;
            b[26..32].copy_from_slice(&m.0);
        }
        p.fill_checksum(src, dst);
    }

    /// A complete Ethernet frame: from `mac` to 33:33:00:00:00:01, IPv6 from
    /// the target address to ff02::1 with hop limit 255.
    pub fn to_all_nodes_frame(&self, mac: MacAddr) -> Vec<u8> {
        let icmp_len = self.buffer_len();
        let mut buf = vec![0u8; ethernet::HEADER_LEN + ipv6::HEADER_LEN + icmp_len];
        let eth = EthernetRepr {
            src_addr: mac,
            dst_addr: MacAddr::ipv6_multicast(ALL_NODES),
            ethertype: EtherType::Ipv6,
        };
        let ip = Ipv6Repr {
            src_addr: self.target_addr,
            dst_addr: ALL_NODES,
            next_header: IPPROTO_ICMPV6,
            payload_len: icmp_len,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        };
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut frame);
        let mut ipp = Ipv6Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut ipp);
        self.emit(
            &mut NeighborAdvertPacket::new_unchecked(ipp.payload_mut()),
            ip.src_addr,
            ip.dst_addr,
        );
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // keepalived 2.2.7 unsolicited NA for fd00:55::100 (tests/fixtures/keepalived-v36.pcap).
    static NA_FRAME: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x05, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfd, 0x00, 0x00, 0x55, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0x01, 0x00, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 0x88, 0x00,
        0x52, 0xf3, 0x20, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x01, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x05, 0x01,
    ];

    fn vip() -> Ipv6Addr {
        "fd00:55::100".parse().unwrap()
    }

    #[test]
    fn deconstruct_and_parse() {
        let f = EthernetFrame::new_checked(&NA_FRAME[..]).unwrap();
        let ip = Ipv6Packet::new_checked(f.payload()).unwrap();
        assert_eq!(ip.hop_limit(), 255);
        let na = NeighborAdvertPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(na.checksum(), 0x52f3);
        let r = NeighborAdvertRepr::parse(&na, ip.src_addr(), ip.dst_addr()).unwrap();
        assert_eq!(
            r,
            NeighborAdvertRepr::unsolicited(MacAddr([2, 0, 0, 0, 5, 1]), vip())
        );
    }

    #[test]
    fn emit_identical_frame() {
        let r = NeighborAdvertRepr::unsolicited(MacAddr([2, 0, 0, 0, 5, 1]), vip());
        assert_eq!(
            r.to_all_nodes_frame(MacAddr([2, 0, 0, 0, 5, 1])),
            NA_FRAME.to_vec()
        );
    }

    #[test]
    fn bad_checksum_and_truncation() {
        let mut b = NA_FRAME[54..].to_vec();
        b[3] ^= 0xff;
        let na = NeighborAdvertPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            NeighborAdvertRepr::parse(&na, vip(), ALL_NODES),
            Err(Error::BadChecksum)
        );
        assert!(NeighborAdvertPacket::new_checked(&b[..23]).is_err());
    }
}
