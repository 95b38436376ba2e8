//! Byte-exact round trips against datagrams built from the kernel's struct
//! layouts by `tests/fixtures/gen.py` (an independent encoder).

use std::net::IpAddr;

use lvs_sync::consts::flags::*;
use lvs_sync::wire::{Packet, SyncMessage, Version};
use lvs_sync::{Error, IpVsSeq, SeqOpts, SyncConn};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[allow(clippy::too_many_arguments)]
fn conn(
    protocol: u8,
    c: (&str, u16),
    v: (&str, u16),
    d: (&str, u16),
    flags: u32,
    state: u16,
    fwmark: u32,
    timeout: u32,
) -> SyncConn {
    SyncConn {
        protocol,
        caddr: ip(c.0),
        cport: c.1,
        vaddr: ip(v.0),
        vport: v.1,
        daddr: ip(d.0),
        dport: d.1,
        flags,
        state,
        fwmark,
        timeout,
        seq: None,
        pe_data: None,
        pe_name: None,
    }
}

fn expected_v1_ipv4() -> SyncMessage {
    SyncMessage {
        version: Version::V1,
        syncid: 0,
        conns: vec![
            conn(
                6,
                ("203.0.113.5", 51234),
                ("10.0.0.100", 80),
                ("192.168.1.11", 80),
                IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT,
                1,
                0,
                900,
            ),
            conn(
                6,
                ("203.0.113.0", 0),
                ("10.0.0.100", 80),
                ("192.168.1.11", 80),
                IP_VS_CONN_F_TEMPLATE
                    | IP_VS_CONN_F_INACTIVE
                    | IP_VS_CONN_F_NOOUTPUT
                    | IP_VS_CONN_F_DROUTE,
                1,
                0,
                360,
            ),
        ],
    }
}

fn expected_v1_ipv6() -> SyncMessage {
    let mut c1 = conn(
        6,
        ("2001:db8::5", 40000),
        ("2001:db8:1::100", 21),
        ("fd00::11", 2121),
        IP_VS_CONN_F_SEQ_MASK,
        1,
        0,
        900,
    );
    c1.seq = Some(SeqOpts {
        in_seq: IpVsSeq {
            init_seq: 1000,
            delta: 5,
            previous_delta: 3,
        },
        out_seq: IpVsSeq {
            init_seq: 2000,
            delta: 0xffff_fffe,
            previous_delta: 0,
        },
    });
    let mut c2 = conn(
        17,
        ("2001:db8::", 0),
        ("2001:db8:1::100", 5060),
        ("fd00::12", 5060),
        0x1183,
        0,
        0,
        180,
    );
    c2.pe_data = Some(b"abc@host".to_vec());
    c2.pe_name = Some(b"sip".to_vec());
    let c3 = conn(
        0,
        ("198.51.100.0", 0),
        ("0.0.0.1", 0),
        ("192.168.1.12", 0),
        0x1183,
        0,
        1,
        300,
    );
    SyncMessage {
        version: Version::V1,
        syncid: 7,
        conns: vec![c1, c2, c3],
    }
}

fn expected_v0() -> SyncMessage {
    let c1 = conn(
        17,
        ("198.51.100.7", 5353),
        ("10.0.0.100", 53),
        ("192.168.1.11", 53),
        IP_VS_CONN_F_INACTIVE,
        0,
        0,
        0,
    );
    let mut c2 = conn(
        6,
        ("198.51.100.8", 40001),
        ("10.0.0.100", 21),
        ("192.168.1.12", 21),
        IP_VS_CONN_F_SEQ_MASK,
        1,
        0,
        0,
    );
    c2.seq = Some(SeqOpts {
        in_seq: IpVsSeq {
            init_seq: 7,
            delta: 8,
            previous_delta: 9,
        },
        out_seq: IpVsSeq {
            init_seq: 10,
            delta: 11,
            previous_delta: 12,
        },
    });
    let c3 = conn(
        6,
        ("198.51.100.0", 0),
        ("10.0.0.100", 80),
        ("192.168.1.12", 80),
        0x1183,
        0,
        0,
        0,
    );
    SyncMessage {
        version: Version::V0,
        syncid: 3,
        conns: vec![c1, c2, c3],
    }
}

#[test]
fn v1_ipv4_fixture_round_trips() {
    let bytes = fixture("v1_ipv4_conn_template.bin");
    let m = SyncMessage::decode(&bytes).unwrap();
    assert_eq!(m, expected_v1_ipv4());
    assert_eq!(m.encode().unwrap(), bytes);
}

#[test]
fn v1_ipv6_seq_pe_fwmark_fixture_round_trips() {
    let bytes = fixture("v1_ipv6_seq_pe_fwmark.bin");
    let m = SyncMessage::decode(&bytes).unwrap();
    assert_eq!(m, expected_v1_ipv6());
    assert_eq!(m.encode().unwrap(), bytes);
    // Entry 1 is 98 bytes: 2 bytes of padding precede entry 2, counted in size.
    assert_eq!(bytes.len(), 8 + 98 + 2 + 87 + 1 + 36);
}

#[test]
fn v0_fixture_round_trips() {
    let bytes = fixture("v0_udp_seq_template.bin");
    let p = Packet::new(&bytes).unwrap();
    assert_eq!(p.version(), Version::V0);
    assert_eq!(p.nr_conns(), 3);
    let m = SyncMessage::decode(&bytes).unwrap();
    assert_eq!(m, expected_v0());
    assert_eq!(m.encode().unwrap(), bytes);
}

#[test]
fn view_accessors_match_value() {
    let bytes = fixture("v1_ipv6_seq_pe_fwmark.bin");
    let p = Packet::new(&bytes).unwrap();
    assert_eq!(p.syncid(), 7);
    let views: Vec<_> = p.entries().map(Result::unwrap).collect();
    assert_eq!(views.len(), 3);
    assert!(views[0].is_ipv6());
    assert_eq!(views[0].dport(), 2121);
    assert_eq!(views[1].pe_data(), Some(&b"abc@host"[..]));
    assert_eq!(views[1].pe_name(), Some(&b"sip"[..]));
    assert!(!views[2].is_ipv6());
    assert_eq!(views[2].fwmark(), 1);
    assert_eq!(views[2].vaddr(), ip("0.0.0.1"));
}

#[test]
fn size_mismatch_and_short_header_are_dropped() {
    let mut bytes = fixture("v1_ipv4_conn_template.bin");
    bytes.push(0);
    assert!(matches!(
        Packet::new(&bytes),
        Err(Error::SizeMismatch { size: 80, len: 81 })
    ));
    assert_eq!(
        Packet::new(&[0, 0, 0]).unwrap_err(),
        Error::HeaderTooShort(3)
    );
}

#[test]
fn v1_header_with_nonzero_spare_is_read_as_v0() {
    let mut bytes = fixture("v1_ipv4_conn_template.bin");
    bytes[7] = 1;
    assert_eq!(Packet::new(&bytes).unwrap().version(), Version::V0);
}

#[test]
fn unknown_mandatory_option_skips_only_that_entry() {
    // Entry 1 of the IPv4 fixture gets an unknown mandatory option (type 9),
    // entry 2 an unknown optional one (9 | 0x40).
    let m = expected_v1_ipv4();
    let mut bytes = vec![0, 0, 0, 0, 2, 1, 0, 0];
    for (i, c) in m.conns.iter().enumerate() {
        let one = SyncMessage {
            version: Version::V1,
            syncid: 0,
            conns: vec![c.clone()],
        }
        .encode()
        .unwrap();
        let mut e = one[8..].to_vec();
        let ty = if i == 0 { 9 } else { 9 | 0x40 };
        e.extend_from_slice(&[ty, 2, 0xaa, 0xbb]);
        let size = e.len() as u16;
        e[2..4].copy_from_slice(&size.to_be_bytes());
        bytes.extend_from_slice(&e);
    }
    let len = bytes.len() as u16;
    bytes[2..4].copy_from_slice(&len.to_be_bytes());
    let p = Packet::new(&bytes).unwrap();
    let r: Vec<_> = p.entries().collect();
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0].as_ref().unwrap_err(),
        &Error::UnknownMandatoryOption { index: 0, ptype: 9 }
    );
    assert_eq!(r[1].as_ref().unwrap().to_conn(), m.conns[1]);
}

#[test]
fn malformed_entry_drops_the_rest_but_keeps_earlier_entries() {
    let mut bytes = fixture("v1_ipv4_conn_template.bin");
    // Second entry's type byte = 2 (neither IPv4 nor IPv6).
    bytes[8 + 36] = 2;
    let r: Vec<_> = Packet::new(&bytes).unwrap().entries().collect();
    assert_eq!(r.len(), 2);
    assert!(r[0].is_ok());
    assert_eq!(r[1], Err(Error::EntryType { index: 1, ty: 2 }));
    // An entry version nibble != 0.
    let mut bytes = fixture("v1_ipv4_conn_template.bin");
    bytes[8 + 2] |= 0x10;
    let r: Vec<_> = Packet::new(&bytes).unwrap().entries().collect();
    assert_eq!(
        r,
        vec![Err(Error::EntryVersion {
            index: 0,
            version: 1
        })]
    );
    // nr_conns larger than what is there: the walk stops at the truncation.
    let mut bytes = fixture("v1_ipv4_conn_template.bin");
    bytes[4] = 5;
    let r: Vec<_> = Packet::new(&bytes).unwrap().entries().collect();
    assert_eq!(r.len(), 3);
    assert_eq!(r[2], Err(Error::EntryTruncated { index: 2 }));
}

#[test]
fn seq_option_of_wrong_length_or_twice_is_fatal() {
    let bytes = fixture("v1_ipv6_seq_pe_fwmark.bin");
    let mut b = bytes.clone();
    // The seq option header of entry 0 is at 8 + 72.
    b[8 + 72 + 1] = 23;
    let r: Vec<_> = Packet::new(&b).unwrap().entries().collect();
    assert!(matches!(r[0], Err(Error::OptionLength { .. })));
    assert_eq!(r.len(), 1);
}

#[test]
fn encode_rejects_what_the_wire_cannot_carry() {
    let mut c = expected_v1_ipv4().conns[0].clone();
    c.daddr = ip("fd00::1");
    let m = SyncMessage {
        version: Version::V1,
        syncid: 0,
        conns: vec![c],
    };
    assert_eq!(m.encode().unwrap_err(), Error::MixedFamilies);
    let m6 = SyncMessage {
        version: Version::V0,
        syncid: 0,
        conns: vec![expected_v1_ipv6().conns[0].clone()],
    };
    assert_eq!(m6.encode().unwrap_err(), Error::V0Ipv6);
    let mut c = expected_v1_ipv4().conns[0].clone();
    c.pe_name = Some(b"a-very-long-pe-name".to_vec());
    c.pe_data = Some(vec![1]);
    let m = SyncMessage {
        version: Version::V1,
        syncid: 0,
        conns: vec![c],
    };
    assert_eq!(m.encode().unwrap_err(), Error::PeNameLength(19));
}
