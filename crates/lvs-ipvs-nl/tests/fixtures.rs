//! Byte fixtures captured from ipvsadm 1.31 and the Debian 6.1 kernel with nlmon
//! (tests/fixtures/capture-guest.sh in the VM harness; commands in commands.txt):
//! every IPVS frame, request or kernel reply, decodes and re-encodes to the same bytes,
//! and lvsd's request builders produce ipvsadm's payloads.

use lvs_ipvs::admin::*;
use lvs_ipvs_nl::*;
use netlink_packet_core::NetlinkPayload;

/// (netlink message bytes) of every NETLINK_GENERIC record of a LINKTYPE_NETLINK pcap.
fn genl_frames() -> Vec<Vec<u8>> {
    let d = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ipvsadm.pcap"
    ))
    .unwrap();
    assert_eq!(
        u32::from_le_bytes(d[20..24].try_into().unwrap()),
        253,
        "LINKTYPE_NETLINK"
    );
    let mut o = 24;
    let mut out = Vec::new();
    while o + 16 <= d.len() {
        let cl = u32::from_le_bytes(d[o + 8..o + 12].try_into().unwrap()) as usize;
        let r = &d[o + 16..o + 16 + cl];
        o += 16 + cl;
        if u16::from_be_bytes([r[14], r[15]]) == 16 {
            // A dump batch carries several messages in one record.
            for f in split_frames(&r[16..]).unwrap() {
                out.push(f.to_vec());
            }
        }
    }
    out
}

fn ty(f: &[u8]) -> u16 {
    u16::from_ne_bytes([f[4], f[5]])
}

fn ipvs_family(frames: &[Vec<u8>]) -> u16 {
    for f in frames {
        if ty(f) == 0x10 {
            if let Ok(CtrlReply::Family { id, .. }) = decode_family_reply(f) {
                return id;
            }
        }
    }
    panic!("no CTRL_CMD_NEWFAMILY reply for IPVS in the capture")
}

#[test]
fn every_captured_ipvs_frame_roundtrips_byte_for_byte() {
    let frames = genl_frames();
    let fam = ipvs_family(&frames);
    let mut n = 0;
    let mut cmds = std::collections::BTreeSet::new();
    for f in frames.iter().filter(|f| ty(f) == fam) {
        let nl = decode_frame(f).unwrap_or_else(|e| panic!("{e}: {f:02x?}"));
        let NetlinkPayload::InnerMessage(g) = nl.payload else {
            panic!()
        };
        cmds.insert(g.payload.cmd.name());
        let again = encode_frame(
            fam,
            nl.header.flags,
            nl.header.sequence_number,
            nl.header.port_number,
            g.payload.clone(),
        );
        assert_eq!(&again, f, "re-encoding {:?} differs", g.payload.cmd);
        n += 1;
    }
    assert!(n >= 60, "only {n} IPVS frames");
    for c in [
        "IPVS_CMD_NEW_SERVICE",
        "IPVS_CMD_SET_SERVICE",
        "IPVS_CMD_DEL_SERVICE",
        "IPVS_CMD_GET_SERVICE",
        "IPVS_CMD_NEW_DEST",
        "IPVS_CMD_SET_DEST",
        "IPVS_CMD_DEL_DEST",
        "IPVS_CMD_GET_DEST",
        "IPVS_CMD_NEW_DAEMON",
        "IPVS_CMD_DEL_DAEMON",
        "IPVS_CMD_GET_DAEMON",
        "IPVS_CMD_SET_CONFIG",
        "IPVS_CMD_GET_CONFIG",
        "IPVS_CMD_SET_INFO",
        "IPVS_CMD_GET_INFO",
        "IPVS_CMD_ZERO",
        "IPVS_CMD_FLUSH",
    ] {
        assert!(cmds.contains(c), "{c} not in the capture: {cmds:?}");
    }
}

fn first(frames: &[Vec<u8>], fam: u16, cmd: IpvsCmd) -> IpvsMessage {
    for f in frames.iter().filter(|f| ty(f) == fam) {
        if let NetlinkPayload::InnerMessage(g) = decode_frame(f).unwrap().payload {
            if g.payload.cmd == cmd {
                return g.payload;
            }
        }
    }
    panic!("{cmd:?} not captured")
}

#[test]
fn lvsd_requests_equal_ipvsadm_requests() {
    let frames = genl_frames();
    let fam = ipvs_family(&frames);
    // ipvsadm -A -t 10.0.0.49:80 -s rr -p 360 -M 255.255.255.0
    let got = first(&frames, fam, IpvsCmd::NewService);
    let mut svc = Service::new(ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: "10.0.0.49".parse().unwrap(),
        port: 80,
    });
    svc.scheduler = "rr".into();
    svc.flags = SvcFlags(SvcFlags::PERSISTENT);
    svc.timeout = 360;
    svc.netmask = 0xffff_ff00;
    let IpvsAttr::Service(sa) = &got.attrs[0] else {
        panic!()
    };
    assert_eq!(parse_service(sa).unwrap().service, svc);
    let mine = req_new_service(&svc);
    assert_eq!(mine.attrs, got.attrs);
    assert_eq!(
        encode_request(fam, 1, false, mine)[16..],
        encode_request(fam, 1, false, got)[16..]
    );
    // ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 100: the dest nest is identical.
    let got = first(&frames, fam, IpvsCmd::NewDest);
    let mut d = Dest::new("10.0.0.56".parse().unwrap(), 80);
    d.weight = 100;
    let mine = req_new_dest(&svc.key, &d);
    assert_eq!(mine.attrs[1], got.attrs[1]);
    // ipvsadm --set 900 120 300
    let got = first(&frames, fam, IpvsCmd::SetConfig);
    let t = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    assert_eq!(req_set_config(&t).attrs, got.attrs);
    // ipvsadm --start-daemon master --mcast-interface lvsdum0 --syncid 5 ...
    let got = first(&frames, fam, IpvsCmd::NewDaemon);
    let dm = Daemon {
        state: DaemonState::Master,
        mcast_ifn: "lvsdum0".into(),
        syncid: 5,
        sync_maxlen: 1400,
        mcast_group: Some("224.0.0.82".parse().unwrap()),
        mcast_port: 9000,
        mcast_ttl: 2,
    };
    assert_eq!(req_new_daemon(&dm).attrs, got.attrs);
    // The kernel's daemon dump reply decodes to what was started.
    let got = first(&frames, fam, IpvsCmd::NewDaemon);
    assert_eq!(parse_reply(&got, Family::Inet).unwrap(), Reply::Daemon(dm));
}
