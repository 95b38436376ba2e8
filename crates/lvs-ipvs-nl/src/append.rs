//! Reconcile requests written straight into a send buffer.
//!
//! A cold apply sends tens of thousands of `IPVS_CMD_NEW_DEST` / `IPVS_CMD_NEW_SERVICE`
//! requests. Building each as an [`IpvsMessage`] (a tree of attribute vectors) and serialising
//! it through netlink-packet costs about a microsecond a request natively and ten times that
//! under emulation, on the thread that feeds the kernel. [`append_op`] writes the same frame —
//! byte for byte what [`encode_frame`](crate::encode_frame) makes of the matching `req_*`
//! message, nests flagged as libnl flags them — into the caller's buffer with no allocation.
//! The attribute codec stays the reference: the tests below compare the two on arbitrary
//! services and destinations, and commands without a fast path (flush, timeouts, sync daemons)
//! are left to it.

use lvs_ipvs::admin::{Dest, DestKey, Family, Service, ServiceKey};
use lvs_ipvs::reconcile::Op;
use netlink_packet_utils::nla::NLA_F_NESTED;

use crate::attr::*;
use crate::convert::{inet_addr_bytes, netmask_raw};
use crate::message::{IpvsCmd, IPVS_GENL_VERSION};

/// The netlink header fields of one request frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The resolved IPVS generic-netlink family id (`nlmsg_type`).
    pub family_id: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
}

/// Appends the request frame for `op` to `buf` and returns true, or returns false (and leaves
/// `buf` alone) for an operation without a fast path: encode
/// [`req_for_op`](crate::req_for_op) with [`encode_frame`](crate::encode_frame) then.
pub fn append_op(buf: &mut Vec<u8>, h: FrameHeader, op: &Op) -> bool {
    let start = match op {
        Op::AddService(s) => service_req(buf, h, IpvsCmd::NewService, s),
        Op::EditService(s) => service_req(buf, h, IpvsCmd::SetService, s),
        Op::DelService(k) => {
            let f = begin_frame(buf, h, IpvsCmd::DelService);
            let n = begin_nest(buf, IPVS_CMD_ATTR_SERVICE);
            service_key(buf, k);
            end_nest(buf, n);
            f
        }
        Op::AddDest { service, dest } => dest_req(buf, h, IpvsCmd::NewDest, service, dest),
        Op::EditDest { service, dest } => dest_req(buf, h, IpvsCmd::SetDest, service, dest),
        Op::DelDest { service, dest } => {
            let f = begin_frame(buf, h, IpvsCmd::DelDest);
            let n = begin_nest(buf, IPVS_CMD_ATTR_SERVICE);
            service_key(buf, service);
            end_nest(buf, n);
            let n = begin_nest(buf, IPVS_CMD_ATTR_DEST);
            dest_key(buf, dest);
            end_nest(buf, n);
            f
        }
        Op::Flush | Op::SetTimeouts(_) | Op::StopDaemon(_) | Op::StartDaemon(_) => return false,
    };
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    true
}

fn service_req(buf: &mut Vec<u8>, h: FrameHeader, cmd: IpvsCmd, s: &Service) -> usize {
    let f = begin_frame(buf, h, cmd);
    let n = begin_nest(buf, IPVS_CMD_ATTR_SERVICE);
    service_key(buf, &s.key);
    attr_str(buf, IPVS_SVC_ATTR_SCHED_NAME, &s.scheduler);
    if let Some(pe) = &s.pe_name {
        attr_str(buf, IPVS_SVC_ATTR_PE_NAME, pe);
    }
    let mut fm = [0u8; 8];
    fm[..4].copy_from_slice(&s.flags.user().0.to_ne_bytes());
    fm[4..].copy_from_slice(&(!0u32).to_ne_bytes());
    attr(buf, IPVS_SVC_ATTR_FLAGS, &fm);
    attr(buf, IPVS_SVC_ATTR_TIMEOUT, &s.timeout.to_ne_bytes());
    attr(
        buf,
        IPVS_SVC_ATTR_NETMASK,
        &netmask_raw(s.key.af(), s.netmask),
    );
    end_nest(buf, n);
    f
}

fn dest_req(buf: &mut Vec<u8>, h: FrameHeader, cmd: IpvsCmd, k: &ServiceKey, d: &Dest) -> usize {
    let f = begin_frame(buf, h, cmd);
    let n = begin_nest(buf, IPVS_CMD_ATTR_SERVICE);
    service_key(buf, k);
    end_nest(buf, n);
    let n = begin_nest(buf, IPVS_CMD_ATTR_DEST);
    dest_key(
        buf,
        &DestKey {
            addr: d.addr,
            port: d.port,
        },
    );
    attr(
        buf,
        IPVS_DEST_ATTR_FWD_METHOD,
        &d.fwd.to_raw().to_ne_bytes(),
    );
    attr(buf, IPVS_DEST_ATTR_WEIGHT, &d.weight.to_ne_bytes());
    attr(buf, IPVS_DEST_ATTR_TUN_TYPE, &[d.tun_type.to_raw()]);
    attr(buf, IPVS_DEST_ATTR_TUN_PORT, &d.tun_port.to_be_bytes());
    attr(
        buf,
        IPVS_DEST_ATTR_TUN_FLAGS,
        &d.tun_flags.to_raw().to_ne_bytes(),
    );
    attr(buf, IPVS_DEST_ATTR_U_THRESH, &d.u_threshold.to_ne_bytes());
    attr(buf, IPVS_DEST_ATTR_L_THRESH, &d.l_threshold.to_ne_bytes());
    end_nest(buf, n);
    f
}

/// `AF`, then `FWMARK` or `PROTOCOL` / `ADDR` / `PORT` (as `convert::service_key_attrs`).
fn service_key(buf: &mut Vec<u8>, key: &ServiceKey) {
    attr(buf, IPVS_SVC_ATTR_AF, &key.af().to_raw().to_ne_bytes());
    match key {
        ServiceKey::Fwmark { mark, .. } => attr(buf, IPVS_SVC_ATTR_FWMARK, &mark.to_ne_bytes()),
        ServiceKey::Addr { proto, addr, port } => {
            attr(buf, IPVS_SVC_ATTR_PROTOCOL, &proto.number().to_ne_bytes());
            attr(buf, IPVS_SVC_ATTR_ADDR, &inet_addr_bytes(addr));
            attr(buf, IPVS_SVC_ATTR_PORT, &port.to_be_bytes());
        }
    }
}

/// `ADDR_FAMILY`, `ADDR`, `PORT` (the head of `convert::dest_attrs`, all of `dest_key_attrs`).
fn dest_key(buf: &mut Vec<u8>, k: &DestKey) {
    attr(
        buf,
        IPVS_DEST_ATTR_ADDR_FAMILY,
        &Family::of(&k.addr).to_raw().to_ne_bytes(),
    );
    attr(buf, IPVS_DEST_ATTR_ADDR, &inet_addr_bytes(&k.addr));
    attr(buf, IPVS_DEST_ATTR_PORT, &k.port.to_be_bytes());
}

/// `nlmsghdr` (length filled in by [`append_op`]) and `genlmsghdr`; returns the frame's start.
fn begin_frame(buf: &mut Vec<u8>, h: FrameHeader, cmd: IpvsCmd) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&h.family_id.to_ne_bytes());
    buf.extend_from_slice(&h.flags.to_ne_bytes());
    buf.extend_from_slice(&h.seq.to_ne_bytes());
    buf.extend_from_slice(&h.pid.to_ne_bytes());
    buf.extend_from_slice(&[cmd.to_raw(), IPVS_GENL_VERSION, 0, 0]);
    start
}

/// One attribute: `nla_len` counts the value unpadded; the value is zero-padded to 4 bytes.
fn attr(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    buf.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    pad(buf);
}

/// A NUL-terminated string attribute.
fn attr_str(buf: &mut Vec<u8>, kind: u16, s: &str) {
    buf.extend_from_slice(&((4 + s.len() + 1) as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(s.as_bytes());
    buf.push(0);
    pad(buf);
}

fn pad(buf: &mut Vec<u8>) {
    buf.resize((buf.len() + 3) & !3, 0);
}

fn begin_nest(buf: &mut Vec<u8>, kind: u16) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&0u16.to_ne_bytes());
    buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    at
}

fn end_nest(buf: &mut [u8], at: usize) {
    let len = (buf.len() - at) as u16;
    buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::*;
    use crate::encode_frame;
    use lvs_ipvs::admin::{FwdMethod, Protocol, SvcFlags, TunCsum, TunType};
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        ]
    }

    fn key() -> impl Strategy<Value = ServiceKey> {
        prop_oneof![
            (
                prop_oneof![
                    Just(Protocol::Tcp),
                    Just(Protocol::Udp),
                    Just(Protocol::Sctp)
                ],
                ip(),
                any::<u16>()
            )
                .prop_map(|(proto, addr, port)| ServiceKey::Addr { proto, addr, port }),
            (any::<u32>(), any::<bool>()).prop_map(|(mark, v6)| ServiceKey::Fwmark {
                mark,
                af: if v6 { Family::Inet6 } else { Family::Inet },
            }),
        ]
    }

    fn service() -> impl Strategy<Value = Service> {
        (
            key(),
            "[a-z]{0,15}",
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of("[a-z]{0,15}"),
        )
            .prop_map(
                |(key, scheduler, flags, timeout, netmask, pe_name)| Service {
                    key,
                    scheduler,
                    flags: SvcFlags(flags),
                    timeout,
                    netmask,
                    pe_name,
                },
            )
    }

    fn dest() -> impl Strategy<Value = Dest> {
        (
            ip(),
            any::<u16>(),
            0u32..5,
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            0u8..3,
            any::<u16>(),
            0u16..3,
        )
            .prop_map(|(addr, port, fwd, weight, u, l, tt, tp, tf)| Dest {
                addr,
                port,
                fwd: FwdMethod::from_raw(fwd).unwrap_or(FwdMethod::Route),
                weight,
                u_threshold: u,
                l_threshold: l,
                tun_type: TunType::from_raw(tt).unwrap_or(TunType::Ipip),
                tun_port: tp,
                tun_flags: TunCsum::from_raw(tf).unwrap_or(TunCsum::NoCsum),
            })
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            service().prop_map(Op::AddService),
            service().prop_map(Op::EditService),
            key().prop_map(Op::DelService),
            (key(), dest()).prop_map(|(service, dest)| Op::AddDest { service, dest }),
            (key(), dest()).prop_map(|(service, dest)| Op::EditDest { service, dest }),
            (key(), ip(), any::<u16>()).prop_map(|(service, addr, port)| Op::DelDest {
                service,
                dest: DestKey { addr, port },
            }),
        ]
    }

    proptest! {
        /// Byte for byte the attribute codec's frame, appended after whatever the buffer held.
        #[test]
        fn append_op_equals_encode_frame(ops in proptest::collection::vec(op(), 1..6),
                                         family_id in any::<u16>(), flags in any::<u16>(),
                                         seq in any::<u32>(), pid in any::<u32>()) {
            let mut buf = vec![0xa5u8; 12];
            let mut want = buf.clone();
            for (i, op) in ops.iter().enumerate() {
                let h = FrameHeader { family_id, flags, seq: seq.wrapping_add(i as u32), pid };
                prop_assert!(append_op(&mut buf, h, op));
                want.extend(encode_frame(family_id, flags, h.seq, pid, req_for_op(op)));
            }
            prop_assert_eq!(buf, want);
        }
    }

    #[test]
    fn operations_without_a_fast_path_leave_the_buffer_alone() {
        let h = FrameHeader {
            family_id: 30,
            flags: 5,
            seq: 1,
            pid: 0,
        };
        let mut buf = vec![1, 2, 3];
        for op in [
            Op::Flush,
            Op::SetTimeouts(Default::default()),
            Op::StopDaemon(lvs_ipvs::admin::DaemonState::Master),
        ] {
            assert!(!append_op(&mut buf, h, &op));
        }
        assert_eq!(buf, [1, 2, 3]);
    }
}
