//! Property tests: decoding never panics on any input; every encodable
//! value round-trips; damaged valid datagrams never panic the backup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_sync::consts::flags::IP_VS_CONN_F_SEQ_MASK;
use lvs_sync::{BackupTable, IpVsSeq, Packet, SeqOpts, SyncBackup, SyncConn, SyncMessage, Version};
use proptest::prelude::*;

fn seq() -> impl Strategy<Value = SeqOpts> {
    (any::<[u32; 3]>(), any::<[u32; 3]>()).prop_map(|(a, b)| SeqOpts {
        in_seq: IpVsSeq {
            init_seq: a[0],
            delta: a[1],
            previous_delta: a[2],
        },
        out_seq: IpVsSeq {
            init_seq: b[0],
            delta: b[1],
            previous_delta: b[2],
        },
    })
}

fn addrs(v6: bool) -> BoxedStrategy<(IpAddr, IpAddr, IpAddr)> {
    if v6 {
        any::<[u128; 3]>()
            .prop_map(|a| {
                (
                    IpAddr::V6(Ipv6Addr::from(a[0])),
                    IpAddr::V6(Ipv6Addr::from(a[1])),
                    IpAddr::V6(Ipv6Addr::from(a[2])),
                )
            })
            .boxed()
    } else {
        any::<[u32; 3]>()
            .prop_map(|a| {
                (
                    IpAddr::V4(Ipv4Addr::from(a[0])),
                    IpAddr::V4(Ipv4Addr::from(a[1])),
                    IpAddr::V4(Ipv4Addr::from(a[2])),
                )
            })
            .boxed()
    }
}

fn conn_v1() -> impl Strategy<Value = SyncConn> {
    any::<bool>()
        .prop_flat_map(|v6| {
            (
                addrs(v6),
                any::<(u8, u16, u16, u16, u32, u16, u32, u32)>(),
                proptest::option::of(seq()),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 1..=255)),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 1..=16)),
            )
        })
        .prop_map(
            |(
                (c, v, d),
                (protocol, cport, vport, dport, flags, state, fwmark, timeout),
                seq,
                pe_data,
                pe_name,
            )| {
                SyncConn {
                    protocol,
                    caddr: c,
                    cport,
                    vaddr: v,
                    vport,
                    daddr: d,
                    dport,
                    flags,
                    state,
                    fwmark,
                    timeout,
                    seq,
                    pe_data,
                    pe_name,
                }
            },
        )
}

fn conn_v0() -> impl Strategy<Value = SyncConn> {
    (addrs(false), any::<(u8, u16, u16, u16, u16, u16)>(), seq()).prop_map(
        |((c, v, d), (protocol, cport, vport, dport, flags, state), s)| {
            let flags = u32::from(flags);
            SyncConn {
                protocol,
                caddr: c,
                cport,
                vaddr: v,
                vport,
                daddr: d,
                dport,
                flags,
                state,
                fwmark: 0,
                timeout: 0,
                seq: (flags & IP_VS_CONN_F_SEQ_MASK != 0).then_some(s),
                pe_data: None,
                pe_name: None,
            }
        },
    )
}

fn process_all(data: &[u8]) {
    if let Ok(p) = Packet::new(data) {
        for e in p.entries().flatten() {
            let _ = e.to_conn();
        }
    }
    let mut b = SyncBackup::default();
    let mut t = BackupTable::new();
    for i in b.installs(data) {
        t.apply(std::time::Duration::ZERO, &i);
    }
    if let Ok(m) = SyncMessage::decode(data) {
        let bytes = m.encode().unwrap();
        assert_eq!(SyncMessage::decode(&bytes).unwrap(), m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        process_all(&data);
    }

    #[test]
    fn decode_never_panics_with_a_consistent_size(mut data in proptest::collection::vec(any::<u8>(), 4..600), v1 in any::<bool>()) {
        let len = data.len() as u16;
        data[2..4].copy_from_slice(&len.to_be_bytes());
        if v1 && data.len() >= 8 {
            data[0] = 0;
            data[5] = 1;
            data[6] = 0;
            data[7] = 0;
        }
        process_all(&data);
    }

    #[test]
    fn v1_round_trips(syncid in any::<u8>(), conns in proptest::collection::vec(conn_v1(), 0..20)) {
        let m = SyncMessage { version: Version::V1, syncid, conns };
        let bytes = m.encode().unwrap();
        prop_assert_eq!(bytes.len(), u16::from_be_bytes([bytes[2], bytes[3]]) as usize);
        let back = SyncMessage::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.encode().unwrap(), bytes);
    }

    #[test]
    fn v0_round_trips(syncid in any::<u8>(), conns in proptest::collection::vec(conn_v0(), 1..40)) {
        let m = SyncMessage { version: Version::V0, syncid, conns };
        let bytes = m.encode().unwrap();
        let back = SyncMessage::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.encode().unwrap(), bytes);
    }

    #[test]
    fn damaged_datagrams_never_panic(
        conns in proptest::collection::vec(conn_v1(), 1..8),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let m = SyncMessage { version: Version::V1, syncid: 0, conns };
        let mut bytes = m.encode().unwrap();
        for (at, x) in flips {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
        process_all(&bytes);
        let cut = cut % (bytes.len() + 1);
        let mut short = bytes[..cut].to_vec();
        if short.len() >= 4 {
            let len = short.len() as u16;
            short[2..4].copy_from_slice(&len.to_be_bytes());
        }
        process_all(&short);
    }
}
