//! The IPVS generic-netlink payload (`genlmsghdr` is handled by
//! netlink-packet-generic) and whole-frame encode/decode helpers.

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_packet_utils::nla::{NlasIterator, NLA_F_NESTED};
use netlink_packet_utils::{DecodeError, Emitable, ParseableParametrized};

use crate::attr::IpvsAttr;
use crate::NlError;

/// Generic netlink family name.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// Generic netlink family version.
pub const IPVS_GENL_VERSION: u8 = 1;

/// `IPVS_CMD_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpvsCmd {
    NewService,
    SetService,
    DelService,
    GetService,
    NewDest,
    SetDest,
    DelDest,
    GetDest,
    NewDaemon,
    DelDaemon,
    GetDaemon,
    SetConfig,
    GetConfig,
    SetInfo,
    GetInfo,
    Zero,
    Flush,
    Other(u8),
}

impl IpvsCmd {
    pub fn to_raw(self) -> u8 {
        use IpvsCmd::*;
        match self {
            NewService => 1,
            SetService => 2,
            DelService => 3,
            GetService => 4,
            NewDest => 5,
            SetDest => 6,
            DelDest => 7,
            GetDest => 8,
            NewDaemon => 9,
            DelDaemon => 10,
            GetDaemon => 11,
            SetConfig => 12,
            GetConfig => 13,
            SetInfo => 14,
            GetInfo => 15,
            Zero => 16,
            Flush => 17,
            Other(c) => c,
        }
    }

    pub fn from_raw(c: u8) -> Self {
        use IpvsCmd::*;
        match c {
            1 => NewService,
            2 => SetService,
            3 => DelService,
            4 => GetService,
            5 => NewDest,
            6 => SetDest,
            7 => DelDest,
            8 => GetDest,
            9 => NewDaemon,
            10 => DelDaemon,
            11 => GetDaemon,
            12 => SetConfig,
            13 => GetConfig,
            14 => SetInfo,
            15 => GetInfo,
            16 => Zero,
            17 => Flush,
            c => Other(c),
        }
    }

    /// `ipvsadm`-style name, for error messages.
    pub fn name(self) -> &'static str {
        use IpvsCmd::*;
        match self {
            NewService => "IPVS_CMD_NEW_SERVICE",
            SetService => "IPVS_CMD_SET_SERVICE",
            DelService => "IPVS_CMD_DEL_SERVICE",
            GetService => "IPVS_CMD_GET_SERVICE",
            NewDest => "IPVS_CMD_NEW_DEST",
            SetDest => "IPVS_CMD_SET_DEST",
            DelDest => "IPVS_CMD_DEL_DEST",
            GetDest => "IPVS_CMD_GET_DEST",
            NewDaemon => "IPVS_CMD_NEW_DAEMON",
            DelDaemon => "IPVS_CMD_DEL_DAEMON",
            GetDaemon => "IPVS_CMD_GET_DAEMON",
            SetConfig => "IPVS_CMD_SET_CONFIG",
            GetConfig => "IPVS_CMD_GET_CONFIG",
            SetInfo => "IPVS_CMD_SET_INFO",
            GetInfo => "IPVS_CMD_GET_INFO",
            Zero => "IPVS_CMD_ZERO",
            Flush => "IPVS_CMD_FLUSH",
            Other(_) => "IPVS_CMD_?",
        }
    }
}

/// One IPVS generic-netlink payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    pub cmd: IpvsCmd,
    pub attrs: Vec<IpvsAttr>,
    /// Set `NLA_F_NESTED` on top-level nests when emitting. libnl (ipvsadm)
    /// sets it; the kernel's replies do not. Parsing records what was seen.
    pub nested_flag: bool,
}

impl IpvsMessage {
    /// A request as lvsd sends it (nests flagged like libnl does).
    pub fn new(cmd: IpvsCmd, attrs: Vec<IpvsAttr>) -> Self {
        IpvsMessage {
            cmd,
            attrs,
            nested_flag: true,
        }
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }
    fn command(&self) -> u8 {
        self.cmd.to_raw()
    }
    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        let mut off = 0;
        for a in &self.attrs {
            let len = a.buffer_len();
            a.emit(&mut buffer[off..off + len]);
            if self.nested_flag && a.is_nest() {
                let kind = u16::from_ne_bytes([buffer[off + 2], buffer[off + 3]]) | NLA_F_NESTED;
                buffer[off + 2..off + 4].copy_from_slice(&kind.to_ne_bytes());
            }
            off += len;
        }
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let cmd = IpvsCmd::from_raw(header.cmd);
        let info = matches!(cmd, IpvsCmd::SetInfo | IpvsCmd::GetInfo);
        let mut attrs = Vec::new();
        let mut nested_flag = false;
        for nla in NlasIterator::new(buf) {
            let nla = nla?;
            let a = IpvsAttr::parse(&nla, info)?;
            if a.is_nest() && nla.nested_flag() {
                nested_flag = true;
            }
            attrs.push(a);
        }
        Ok(IpvsMessage {
            cmd,
            attrs,
            nested_flag,
        })
    }
}

/// A whole IPVS netlink frame.
pub type IpvsNetlinkMessage = NetlinkMessage<GenlMessage<IpvsMessage>>;
/// A whole generic-netlink controller frame.
pub type CtrlNetlinkMessage = NetlinkMessage<GenlMessage<GenlCtrl>>;

/// Serialize a request: `NLM_F_REQUEST | NLM_F_ACK` for doit commands,
/// `NLM_F_REQUEST | NLM_F_DUMP` when `dump` (libipvs' flags for both).
pub fn encode_request(family_id: u16, seq: u32, dump: bool, msg: IpvsMessage) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family_id);
    let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(genl));
    nl.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
    nl.header.sequence_number = seq;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// Serialize any IPVS frame with explicit header fields (used to rebuild
/// captured replies in round-trip tests).
pub fn encode_frame(family_id: u16, flags: u16, seq: u32, pid: u32, msg: IpvsMessage) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family_id);
    let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(genl));
    nl.header.flags = flags;
    nl.header.sequence_number = seq;
    nl.header.port_number = pid;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// Split a receive buffer into netlink frames (each `nlmsg_len`, 4-aligned).
pub fn split_frames(buf: &[u8]) -> Result<Vec<&[u8]>, NlError> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
        if len < 16 || off + len > buf.len() {
            return Err(NlError::Decode(format!(
                "netlink frame length {len} at offset {off} exceeds the {}-byte buffer",
                buf.len()
            )));
        }
        out.push(&buf[off..off + len]);
        off += (len + 3) & !3;
    }
    Ok(out)
}

/// Decode one IPVS frame.
pub fn decode_frame(frame: &[u8]) -> Result<IpvsNetlinkMessage, NlError> {
    IpvsNetlinkMessage::deserialize(frame).map_err(|e| NlError::Decode(format!("{e:#}")))
}

/// `CTRL_CMD_GETFAMILY` for "IPVS" (doit).
pub fn encode_family_request(seq: u32) -> Vec<u8> {
    let genl = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(IPVS_GENL_NAME.to_string())],
    });
    let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(genl));
    nl.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    nl.header.sequence_number = seq;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// What a controller reply frame says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtrlReply {
    /// The family id (and version) of IPVS.
    Family {
        id: u16,
        version: u32,
    },
    /// An ack (errno 0) or an error (negative errno).
    Ack(i32),
    Other,
}

/// Decode a controller reply frame.
pub fn decode_family_reply(frame: &[u8]) -> Result<CtrlReply, NlError> {
    let msg =
        CtrlNetlinkMessage::deserialize(frame).map_err(|e| NlError::Decode(format!("{e:#}")))?;
    Ok(match msg.payload {
        NetlinkPayload::InnerMessage(g) => {
            let mut id = None;
            let mut version = 0;
            for a in &g.payload.nlas {
                match a {
                    GenlCtrlAttrs::FamilyId(i) => id = Some(*i),
                    GenlCtrlAttrs::Version(v) => version = *v,
                    _ => {}
                }
            }
            match id {
                Some(id) => CtrlReply::Family { id, version },
                None => CtrlReply::Other,
            }
        }
        NetlinkPayload::Error(e) => CtrlReply::Ack(e.raw_code()),
        _ => CtrlReply::Other,
    })
}
