//! ARP for Ethernet/IPv4 (RFC 826) and the gratuitous ARP keepalived sends on
//! becoming MASTER: an ARP *request* "who-has VIP tell VIP" from the
//! interface MAC to broadcast, with target hardware address ff:ff:ff:ff:ff:ff
//! (observed on keepalived 2.2.7, `tests/fixtures/keepalived-v2pass.pcap`).
//!
//! ```text
//! +-------------------------------+-------------------------------+
//! |   Hardware type (1 = Ether)   |   Protocol type (0x0800)      |
//! +---------------+---------------+-------------------------------+
//! | HW len (6)    | Proto len (4) |   Operation (1 req, 2 reply)  |
//! +---------------+---------------+-------------------------------+
//! |  Sender HW (6) | Sender IP (4) | Target HW (6) | Target IP (4) |
//! +---------------------------------------------------------------+
//! ```

use std::net::Ipv4Addr;

use crate::ethernet::{self, EtherType, EthernetFrame, EthernetRepr, MacAddr};
use crate::field::Field;
use crate::{Error, Result};

mod field {
    use super::Field;
    pub(super) const HTYPE: Field = 0..2;
    pub(super) const PTYPE: Field = 2..4;
    pub(super) const HLEN: usize = 4;
    pub(super) const PLEN: usize = 5;
    pub(super) const OPER: Field = 6..8;
    pub(super) const SHA: Field = 8..14;
    pub(super) const SPA: Field = 14..18;
    pub(super) const THA: Field = 18..24;
    pub(super) const TPA: Field = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOperation {
    /// 1
    Request,
    /// 2
    Reply,
    /// Anything else.
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => Self::Request,
            2 => Self::Reply,
            x => Self::Unknown(x),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(v: ArpOperation) -> Self {
        match v {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(x) => x,
        }
    }
}

/// A view over an ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
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
    /// Check the buffer holds an Ethernet/IPv4 ARP packet.
    pub fn check_len(&self) -> Result<()> {
        let got = self.buffer.as_ref().len();
        if got < PACKET_LEN {
            return Err(Error::Truncated {
                got,
                need: PACKET_LEN,
            });
        }
        Ok(())
    }
    fn u16_at(&self, f: Field) -> u16 {
        let b = &self.buffer.as_ref()[f];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// Hardware type.
    pub fn hardware_type(&self) -> u16 {
        self.u16_at(field::HTYPE)
    }
    /// Protocol type.
    pub fn protocol_type(&self) -> u16 {
        self.u16_at(field::PTYPE)
    }
    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    /// Operation.
    pub fn operation(&self) -> ArpOperation {
        self.u16_at(field::OPER).into()
    }
    fn mac_at(&self, f: Field) -> MacAddr {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[f]);
        MacAddr(m)
    }
    fn ip_at(&self, f: Field) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[f];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    /// Sender hardware address.
    pub fn source_hardware_addr(&self) -> MacAddr {
        self.mac_at(field::SHA)
    }
    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        self.ip_at(field::SPA)
    }
    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> MacAddr {
        self.mac_at(field::THA)
    }
    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        self.ip_at(field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn set(&mut self, f: Field, v: &[u8]) {
        self.buffer.as_mut()[f].copy_from_slice(v);
    }
    /// Write the fixed Ethernet/IPv4 preamble and the operation.
    pub fn set_ether_ipv4(&mut self, op: ArpOperation) {
        self.set(field::HTYPE, &1u16.to_be_bytes());
        self.set(field::PTYPE, &0x0800u16.to_be_bytes());
        self.buffer.as_mut()[field::HLEN] = 6;
        self.buffer.as_mut()[field::PLEN] = 4;
        self.set(field::OPER, &u16::from(op).to_be_bytes());
    }
    /// Set sender hardware address.
    pub fn set_source_hardware_addr(&mut self, m: MacAddr) {
        self.set(field::SHA, &m.0);
    }
    /// Set sender protocol address.
    pub fn set_source_protocol_addr(&mut self, a: Ipv4Addr) {
        self.set(field::SPA, &a.octets());
    }
    /// Set target hardware address.
    pub fn set_target_hardware_addr(&mut self, m: MacAddr) {
        self.set(field::THA, &m.0);
    }
    /// Set target protocol address.
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.set(field::TPA, &a.octets());
    }
}

/// An Ethernet/IPv4 ARP packet as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Operation.
    pub operation: ArpOperation,
    /// Sender hardware address.
    pub source_hardware_addr: MacAddr,
    /// Sender protocol address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target hardware address.
    pub target_hardware_addr: MacAddr,
    /// Target protocol address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Parse; refuses anything but Ethernet/IPv4.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> Result<Self> {
        p.check_len()?;
        if p.hardware_type() != 1
            || p.protocol_type() != 0x0800
            || p.hardware_len() != 6
            || p.protocol_len() != 4
        {
            return Err(Error::Unsupported("ARP hardware/protocol type"));
        }
        Ok(Self {
            operation: p.operation(),
            source_hardware_addr: p.source_hardware_addr(),
            source_protocol_addr: p.source_protocol_addr(),
            target_hardware_addr: p.target_hardware_addr(),
            target_protocol_addr: p.target_protocol_addr(),
        })
    }

    /// The gratuitous ARP keepalived sends for `ip` from `mac`.
    pub fn gratuitous(mac: MacAddr, ip: Ipv4Addr) -> Self {
        Self {
            operation: ArpOperation::Request,
            source_hardware_addr: mac,
            source_protocol_addr: ip,
            target_hardware_addr: MacAddr::BROADCAST,
            target_protocol_addr: ip,
        }
    }

    /// Packet length.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Write the packet.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ArpPacket<T>) {
        p.set_ether_ipv4(self.operation);
        p.set_source_hardware_addr(self.source_hardware_addr);
        p.set_source_protocol_addr(self.source_protocol_addr);
        p.set_target_hardware_addr(self.target_hardware_addr);
        p.set_target_protocol_addr(self.target_protocol_addr);
    }

    /// A complete Ethernet frame carrying this ARP packet to broadcast.
    pub fn to_broadcast_frame(&self) -> [u8; ethernet::HEADER_LEN + PACKET_LEN] {
        let mut buf = [0u8; ethernet::HEADER_LEN + PACKET_LEN];
        let eth = EthernetRepr {
            src_addr: self.source_hardware_addr,
            dst_addr: MacAddr::BROADCAST,
            ethertype: EtherType::Arp,
        };
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut frame);
        self.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // keepalived 2.2.7 gratuitous ARP for 10.55.0.100 from 02:00:00:00:05:01
    // (tests/fixtures/keepalived-v2pass.pcap, whole Ethernet frame).
    static GARP_FRAME: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x05, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x05, 0x01, 0x0a, 0x37,
        0x00, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0x37, 0x00, 0x64,
    ];

    fn mac() -> MacAddr {
        MacAddr([2, 0, 0, 0, 5, 1])
    }

    #[test]
    fn deconstruct() {
        let f = EthernetFrame::new_checked(&GARP_FRAME[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::Arp);
        let p = ArpPacket::new_checked(f.payload()).unwrap();
        assert_eq!(p.operation(), ArpOperation::Request);
        assert_eq!(p.source_protocol_addr(), Ipv4Addr::new(10, 55, 0, 100));
        assert_eq!(p.target_hardware_addr(), MacAddr::BROADCAST);
    }

    #[test]
    fn parse() {
        let f = EthernetFrame::new_checked(&GARP_FRAME[..]).unwrap();
        let r = ArpRepr::parse(&ArpPacket::new_checked(f.payload()).unwrap()).unwrap();
        assert_eq!(r, ArpRepr::gratuitous(mac(), Ipv4Addr::new(10, 55, 0, 100)));
    }

    #[test]
    fn emit_identical_frame() {
        let r = ArpRepr::gratuitous(mac(), Ipv4Addr::new(10, 55, 0, 100));
        assert_eq!(r.to_broadcast_frame(), GARP_FRAME);
    }

    #[test]
    fn refuses_non_ethernet_ipv4() {
        let mut b = GARP_FRAME[14..].to_vec();
        b[1] = 6; // hardware type 6 (IEEE 802)
        assert!(ArpRepr::parse(&ArpPacket::new_checked(&b[..]).unwrap()).is_err());
        assert!(ArpPacket::new_checked(&b[..27]).is_err());
    }
}
