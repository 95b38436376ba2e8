//! Encoder/decoder round trips for every command and attribute space, and a
//! hand-assembled byte layout checked against ip_vs.h.

use std::net::IpAddr;

use lvs_ipvs::admin::*;
use lvs_ipvs_nl::*;
use netlink_packet_core::NetlinkPayload;

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: addr.parse().unwrap(),
        port,
    }
}

fn roundtrip(msg: IpvsMessage, dump: bool) -> IpvsMessage {
    let bytes = encode_request(0x1c, 7, dump, msg.clone());
    let frames = split_frames(&bytes).unwrap();
    assert_eq!(frames.len(), 1);
    let nl = decode_frame(frames[0]).unwrap();
    assert_eq!(nl.header.sequence_number, 7);
    assert_eq!(nl.header.message_type, 0x1c);
    let NetlinkPayload::InnerMessage(g) = nl.payload else {
        panic!("not an inner message")
    };
    assert_eq!(g.header.version, 1);
    assert_eq!(g.payload.cmd, msg.cmd);
    assert_eq!(g.payload.attrs, msg.attrs);
    if msg.attrs.iter().any(|a| a.is_nest()) {
        assert!(g.payload.nested_flag);
    }
    // Re-emitting the parsed message gives the same bytes.
    assert_eq!(encode_request(0x1c, 7, dump, g.payload.clone()), bytes);
    g.payload
}

#[test]
fn new_service_bytes_match_ip_vs_h_layout() {
    let mut svc = Service::new(tcp("10.0.0.100", 80));
    svc.flags = SvcFlags(SvcFlags::PERSISTENT);
    svc.timeout = 360;
    svc.netmask = 0xffff_ff00;
    let b = encode_request(0x1c, 1, false, req_new_service(&svc));
    #[rustfmt::skip]
    let want: Vec<u8> = [
        // nlmsghdr: len 104, type 0x1c, flags REQUEST|ACK, seq 1, pid 0
        &[104u8, 0, 0, 0, 0x1c, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
        // genlmsghdr: cmd NEW_SERVICE, version 1
        &[1, 1, 0, 0],
        // SERVICE nest (len 84, type 1|NLA_F_NESTED)
        &[84, 0, 0x01, 0x80],
        &[6, 0, 1, 0, 2, 0, 0, 0], // AF = AF_INET
        &[6, 0, 2, 0, 6, 0, 0, 0], // PROTOCOL = TCP
        &[20, 0, 3, 0, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // ADDR
        &[6, 0, 4, 0, 0, 80, 0, 0], // PORT be16
        &[8, 0, 6, 0, b'w', b'l', b'c', 0], // SCHED_NAME
        &[12, 0, 7, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // FLAGS {1, ~0}
        &[8, 0, 8, 0, 0x68, 1, 0, 0], // TIMEOUT 360
        &[8, 0, 9, 0, 255, 255, 255, 0], // NETMASK be32
    ]
    .concat();
    assert_eq!(b, want);
}

#[test]
fn every_request_roundtrips() {
    let k4 = tcp("192.0.2.1", 443);
    let k6 = ServiceKey::Addr {
        proto: Protocol::Udp,
        addr: "2001:db8::53".parse().unwrap(),
        port: 53,
    };
    let fw = ServiceKey::Fwmark {
        mark: 42,
        af: Family::Inet6,
    };
    let mut svc = Service::new(k6);
    svc.scheduler = "mh".into();
    svc.flags = SvcFlags(SvcFlags::SCHED1 | SvcFlags::SCHED2 | SvcFlags::PERSISTENT);
    svc.timeout = 600;
    svc.netmask = 64;
    svc.pe_name = Some("sip".into());
    let mut d = Dest::new("2001:db8::10".parse().unwrap(), 5353);
    d.fwd = FwdMethod::Tunnel;
    d.tun_type = TunType::Gue;
    d.tun_port = 6080;
    d.tun_flags = TunCsum::RemCsum;
    d.weight = 65535;
    d.u_threshold = 1000;
    d.l_threshold = 10;
    let daemon = Daemon {
        state: DaemonState::Backup,
        mcast_ifn: "eth1".into(),
        syncid: 9,
        sync_maxlen: 1400,
        mcast_group: Some("ff02::81".parse().unwrap()),
        mcast_port: 9000,
        mcast_ttl: 3,
    };
    let t = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    for (m, dump) in [
        (req_get_info(), false),
        (req_get_services(), true),
        (req_get_service(&k4), false),
        (req_get_dests(&fw), true),
        (req_new_service(&svc), false),
        (req_set_service(&svc), false),
        (req_del_service(&fw), false),
        (req_new_dest(&k6, &d), false),
        (req_set_dest(&k6, &d), false),
        (req_del_dest(&k6, &d.key()), false),
        (req_flush(), false),
        (req_zero(None), false),
        (req_zero(Some(&k4)), false),
        (req_get_config(), false),
        (req_set_config(&t), false),
        (req_get_daemons(), true),
        (req_new_daemon(&daemon), false),
        (req_del_daemon(DaemonState::Master), false),
    ] {
        roundtrip(m, dump);
    }

    // Semantic round trips through the admin types.
    let m = roundtrip(req_new_service(&svc), false);
    let IpvsAttr::Service(sa) = &m.attrs[0] else {
        panic!()
    };
    assert_eq!(parse_service(sa).unwrap().service, svc);
    let m = roundtrip(req_new_dest(&k6, &d), false);
    let IpvsAttr::Dest(da) = &m.attrs[1] else {
        panic!()
    };
    assert_eq!(parse_dest(da, Family::Inet6).unwrap().dest, d);
    let m = roundtrip(req_new_daemon(&daemon), false);
    assert_eq!(
        parse_reply(&m, Family::Inet).unwrap(),
        Reply::Daemon(daemon)
    );
    let m = roundtrip(req_set_config(&t), false);
    assert_eq!(parse_reply(&m, Family::Inet).unwrap(), Reply::Timeouts(t));
}

#[test]
fn kernel_replies_decode_with_stats_and_flags() {
    let mut svc = Service::new(ServiceKey::Fwmark {
        mark: 1,
        af: Family::Inet,
    });
    svc.scheduler = "rr".into();
    svc.flags = SvcFlags(SvcFlags::ONEPACKET | SvcFlags::HASHED);
    let stats = Stats {
        conns: 1234,
        inpkts: 5_000_000_000,
        outpkts: 3,
        inbytes: 1 << 40,
        outbytes: 5,
        cps: 6,
        inpps: 7,
        outpps: 8,
        inbps: 9,
        outbps: 10,
    };
    let e = ServiceEntry {
        service: svc,
        stats,
    };
    let msg = IpvsMessage {
        cmd: IpvsCmd::NewService,
        attrs: vec![IpvsAttr::Service(kernel_service_attrs(&e))],
        nested_flag: false,
    };
    let bytes = encode_frame(0x1c, 2, 99, 1234, msg.clone());
    let nl = decode_frame(&bytes).unwrap();
    let NetlinkPayload::InnerMessage(g) = nl.payload else {
        panic!()
    };
    assert_eq!(g.payload, msg);
    assert!(!g.payload.nested_flag);
    // STATS64 wins over the truncated 32-bit block.
    assert_eq!(
        parse_reply(&g.payload, Family::Inet).unwrap(),
        Reply::Service(e.clone())
    );
    // Without STATS64, the 32-bit block is used (inpkts truncated as the kernel does).
    let mut attrs = kernel_service_attrs(&e);
    attrs.retain(|a| !matches!(a, SvcAttr::Stats64(_)));
    let got = parse_service(&attrs).unwrap();
    assert_eq!(got.stats.inpkts, 5_000_000_000u64 as u32 as u64);
    assert_eq!(got.stats.inbytes, 1 << 40);

    let de = DestEntry {
        dest: Dest::new("198.51.100.7".parse().unwrap(), 0),
        active_conns: 3,
        inact_conns: 17,
        persist_conns: 2,
        stats,
    };
    let m = IpvsMessage {
        cmd: IpvsCmd::NewDest,
        attrs: vec![IpvsAttr::Dest(kernel_dest_attrs(&de))],
        nested_flag: false,
    };
    assert_eq!(parse_reply(&m, Family::Inet).unwrap(), Reply::Dest(de));

    let info = IpvsMessage {
        cmd: IpvsCmd::SetInfo,
        attrs: vec![
            IpvsAttr::InfoVersion(0x010201),
            IpvsAttr::InfoConnTabSize(4096),
        ],
        nested_flag: false,
    };
    let b = encode_frame(0x1c, 0, 1, 1, info);
    let NetlinkPayload::InnerMessage(g) = decode_frame(&b).unwrap().payload else {
        panic!()
    };
    assert_eq!(
        parse_reply(&g.payload, Family::Inet).unwrap(),
        Reply::Info(Info {
            version: 0x010201,
            conn_tab_size: 4096
        })
    );
}

#[test]
fn ipv4_dest_in_ipv6_service_uses_addr_family() {
    let d = Dest::new(IpAddr::from([10, 1, 2, 3]), 80);
    let attrs = dest_attrs(&d);
    assert_eq!(parse_dest(&attrs, Family::Inet6).unwrap().dest, d);
}

#[test]
fn family_resolution_request_and_reply() {
    let b = encode_family_request(3);
    // nlmsghdr type GENL_ID_CTRL (0x10), genl cmd CTRL_CMD_GETFAMILY (3), FAMILY_NAME "IPVS\0".
    assert_eq!(&b[4..6], &0x10u16.to_ne_bytes());
    assert_eq!(b[16], 3);
    assert_eq!(&b[20..24], &[9, 0, 2, 0]);
    assert_eq!(&b[24..29], b"IPVS\0");
    // A controller error reply decodes as an errno.
    let mut err = vec![0u8; 36];
    err[0] = 36;
    err[4] = 2; // NLMSG_ERROR
    err[16..20].copy_from_slice(&(-2i32).to_ne_bytes());
    err[20] = 16;
    assert_eq!(decode_family_reply(&err).unwrap(), CtrlReply::Ack(-2));
}

#[test]
fn truncated_frames_are_errors_not_panics() {
    let b = encode_request(0x1c, 1, false, req_flush());
    for cut in 0..b.len() {
        if let Ok(frames) = split_frames(&b[..cut]) {
            for f in frames {
                let _ = decode_frame(f);
            }
        }
    }
    let mut bad = encode_request(
        0x1c,
        1,
        false,
        req_new_service(&Service::new(tcp("1.2.3.4", 1))),
    );
    bad[24] = 200; // nest length beyond the message
    assert!(decode_frame(&bad).is_err());
}
