//! `lvsd simulate`: replay a capture or a scenario against a keepalived
//! configuration through the in-process IPVS model and print the connection
//! table the kernel would have at the requested times.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use lvs_ipvs::admin::{FwdMethod, ServiceKey};
use lvs_ipvs::proto::{sctp, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use lvs_ipvs::{tcp_flags, Direction, Ipvs, Millis, PacketMeta, Settings};
use serde::Serialize;

use crate::lower_ipvs::{self, Lowered};

/// Arguments of `lvsd simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// Print the table at this time (seconds after the first frame or scenario time 0); repeatable.
    #[arg(long = "at", value_name = "SECONDS")]
    pub at: Vec<String>,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The inputs shared by `simulate` and `explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct InputArgs {
    /// keepalived.conf to take the virtual services from.
    #[arg(short = 'f', long = "config", value_name = "CONFIG")]
    pub config: PathBuf,
    /// Director ingress capture (pcap or pcapng, Ethernet).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "scenario",
        conflicts_with = "scenario"
    )]
    pub pcap: Option<PathBuf>,
    /// Scenario file (see docs/simulate.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Switch to another configuration at time T, as a keepalived reload does; repeatable.
    #[arg(long = "reload", value_name = "SECONDS=CONFIG")]
    pub reload: Vec<String>,
    /// Set a net.ipv4.vs sysctl (conn_reuse_mode, expire_nodest_conn,
    /// expire_quiescent_template, sloppy_tcp, sloppy_sctp, secure_tcp); repeatable.
    #[arg(long = "sysctl", value_name = "NAME=VALUE")]
    pub sysctl: Vec<String>,
}

/// Seconds as written ("7.079") to milliseconds.
pub(crate) fn parse_secs(s: &str) -> Result<Millis> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| anyhow!("bad time {s:?}: expected seconds like 7.079"))?;
    if !(0.0..=1e9).contains(&v) {
        bail!("bad time {s:?}: must be between 0 and 1e9 seconds");
    }
    Ok((v * 1000.0).round() as Millis)
}

/// One packet as read from a capture or a scenario; its direction is decided
/// at replay time from the configuration then in force.
#[derive(Debug, Clone)]
pub(crate) struct RawPacket {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub tcp_flags: u8,
    pub sctp_chunk: u8,
    pub len: u32,
    pub fwmark: u32,
    /// Forced direction (scenario `reply`).
    pub direction: Option<Direction>,
}

#[derive(Debug, Clone)]
pub(crate) enum Event {
    Packet(RawPacket),
    Reload(PathBuf),
}

/// Read a classic pcap or pcapng file of Ethernet frames.
pub(crate) fn read_pcap(path: &Path) -> Result<Vec<(Millis, Event)>> {
    let data =
        std::fs::read(path).with_context(|| format!("cannot read pcap {}", path.display()))?;
    let mut frames: Vec<(std::time::Duration, Vec<u8>)> = Vec::new();
    let magic = data
        .get(..4)
        .ok_or_else(|| anyhow!("{}: not a pcap file (too short)", path.display()))?;
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut r = pcap_file::pcapng::PcapNgReader::new(&data[..])
            .map_err(|e| anyhow!("{}: not a readable pcapng file: {e}", path.display()))?;
        while let Some(b) = r.next_block() {
            let b = b.map_err(|e| anyhow!("{}: corrupt pcapng block: {e}", path.display()))?;
            if let pcap_file::pcapng::Block::EnhancedPacket(p) = b {
                frames.push((p.timestamp, p.data.to_vec()));
            }
        }
    } else {
        let mut r = pcap_file::pcap::PcapReader::new(&data[..])
            .map_err(|e| anyhow!("{}: not a readable pcap file: {e}", path.display()))?;
        let dl = r.header().datalink;
        if dl != pcap_file::DataLink::ETHERNET {
            bail!("{}: link type {dl:?} is not Ethernet", path.display());
        }
        while let Some(p) = r.next_packet() {
            let p = p.map_err(|e| anyhow!("{}: corrupt pcap record: {e}", path.display()))?;
            frames.push((p.timestamp, p.data.to_vec()));
        }
    }
    let Some(t0) = frames.first().map(|f| f.0) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (ts, frame) in frames {
        let ms = (ts.saturating_sub(t0).as_micros() as u64 + 500) / 1000;
        if let Some(p) = parse_frame(&frame) {
            out.push((ms, Event::Packet(p)));
        }
    }
    Ok(out)
}

fn parse_frame(frame: &[u8]) -> Option<RawPacket> {
    use etherparse::{NetSlice, SlicedPacket};
    let sp = SlicedPacket::from_ethernet(frame).ok()?;
    let (src, dst, len, payload) = match sp.net? {
        NetSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.total_len() as u32,
                v4.payload().clone(),
            )
        }
        NetSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.payload_length() as u32 + 40,
                v6.payload().clone(),
            )
        }
    };
    if payload.fragmented {
        return None;
    }
    let b = payload.payload;
    let proto = payload.ip_number.0;
    if !matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) || b.len() < 4 {
        return None;
    }
    let sport = u16::from_be_bytes([b[0], b[1]]);
    let dport = u16::from_be_bytes([b[2], b[3]]);
    let mut p = RawPacket {
        src,
        dst,
        proto,
        sport,
        dport,
        tcp_flags: 0,
        sctp_chunk: 0,
        len,
        fwmark: 0,
        direction: None,
    };
    match proto {
        IPPROTO_TCP => p.tcp_flags = *b.get(13)?,
        IPPROTO_SCTP => {
            let ch = *b.get(12)?;
            p.sctp_chunk = ch;
            // An ABORT bundled after COOKIE-ECHO / COOKIE-ACK decides the event.
            if ch == sctp::CID_COOKIE_ECHO || ch == sctp::CID_COOKIE_ACK {
                if let Some(l) = b.get(14..16) {
                    let clen = u16::from_be_bytes([l[0], l[1]]) as usize;
                    if clen >= 4 {
                        let next = 12 + clen.div_ceil(4) * 4;
                        if b.get(next) == Some(&sctp::CID_ABORT) {
                            p.sctp_chunk = sctp::CID_ABORT;
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Some(p)
}

fn parse_tcp_flags(s: &str) -> Result<u8> {
    let mut f = 0;
    let words: Vec<&str> = if s.contains(',') || s.len() > 5 {
        s.split(',').collect()
    } else {
        vec![]
    };
    if !words.is_empty() {
        for w in words {
            f |= match w.to_ascii_lowercase().as_str() {
                "syn" => tcp_flags::SYN,
                "ack" => tcp_flags::ACK,
                "fin" => tcp_flags::FIN,
                "rst" => tcp_flags::RST,
                "psh" => tcp_flags::PSH,
                other => bail!("unknown TCP flag {other:?}"),
            };
        }
        return Ok(f);
    }
    for c in s.chars() {
        f |= match c.to_ascii_uppercase() {
            'S' => tcp_flags::SYN,
            'A' => tcp_flags::ACK,
            'F' => tcp_flags::FIN,
            'R' => tcp_flags::RST,
            'P' => tcp_flags::PSH,
            '.' => tcp_flags::ACK,
            _ => bail!("unknown TCP flags {s:?} (use letters S A F R P, or syn,ack,...)"),
        };
    }
    Ok(f)
}

fn parse_chunk(s: &str) -> Result<u8> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "data" => sctp::CID_DATA,
        "init" => sctp::CID_INIT,
        "init-ack" => sctp::CID_INIT_ACK,
        "abort" => sctp::CID_ABORT,
        "shutdown" => sctp::CID_SHUTDOWN,
        "shutdown-ack" => sctp::CID_SHUTDOWN_ACK,
        "error" => sctp::CID_ERROR,
        "cookie-echo" => sctp::CID_COOKIE_ECHO,
        "cookie-ack" => sctp::CID_COOKIE_ACK,
        "shutdown-complete" => sctp::CID_SHUTDOWN_COMPLETE,
        other => bail!("unknown SCTP chunk {other:?}"),
    })
}

fn parse_endpoint(s: &str, need_port: bool) -> Result<(IpAddr, Option<u16>)> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok((sa.ip(), Some(sa.port())));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        if need_port {
            bail!("{s:?} needs a port (ADDR:PORT, or [V6]:PORT)");
        }
        return Ok((ip, None));
    }
    bail!("{s:?} is not an address or ADDR:PORT")
}

/// Parse a scenario file (format in docs/simulate.md).
pub(crate) fn read_scenario(path: &Path) -> Result<Vec<(Millis, Event)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read scenario {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    let mut next_port: HashMap<IpAddr, u16> = HashMap::new();
    let mut open: HashMap<(IpAddr, IpAddr, u16), u16> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: anyhow::Error| anyhow!("{}:{}: {e}", path.display(), n + 1);
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let toks: Vec<&str> = line.split_whitespace().collect();
        let t = toks[0]
            .strip_prefix("t=")
            .ok_or_else(|| at(anyhow!("a line starts with t=SECONDS")))
            .and_then(|s| parse_secs(s).map_err(at))?;
        let mut rest: Vec<&str> = toks[1..].to_vec();
        let mut fwmark = 0;
        if let Some(pos) = rest.iter().position(|w| w.starts_with("mark=")) {
            fwmark = rest[pos][5..]
                .parse()
                .map_err(|_| at(anyhow!("bad mark {:?}", rest[pos])))?;
            rest.remove(pos);
        }
        let action = *rest.first().ok_or_else(|| at(anyhow!("missing action")))?;
        let pkt = |src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8| RawPacket {
            src,
            dst,
            proto,
            sport,
            dport,
            tcp_flags: 0,
            sctp_chunk: 0,
            len: 60,
            fwmark,
            direction: None,
        };
        // "A > B" endpoints after the action (and protocol, for reply).
        let arrow = |i: usize| -> Result<(&str, &str)> {
            match (rest.get(i), rest.get(i + 1), rest.get(i + 2)) {
                (Some(a), Some(&">"), Some(b)) => Ok((a, b)),
                _ => Err(anyhow!("expected `SRC > DST` after {action}")),
            }
        };
        match action {
            "open" | "close" | "request" => {
                let (a, b) = arrow(1).map_err(at)?;
                let (c, cport) = parse_endpoint(a, false).map_err(at)?;
                let (v, vport) = parse_endpoint(b, true).map_err(at)?;
                let vport = vport.unwrap_or(0);
                let cport = match (cport, action) {
                    (Some(p), _) => p,
                    (None, "close") => *open
                        .get(&(c, v, vport))
                        .ok_or_else(|| at(anyhow!("close: no open connection from {c} to {b}")))?,
                    (None, _) => {
                        let p = next_port.entry(c).or_insert(40000);
                        *p = p.wrapping_add(1);
                        *p
                    }
                };
                let seg = |flags: u8| {
                    let mut p = pkt(c, cport, v, vport, IPPROTO_TCP);
                    p.tcp_flags = flags;
                    Event::Packet(p)
                };
                if action != "close" {
                    out.push((t, seg(tcp_flags::SYN)));
                    out.push((t, seg(tcp_flags::ACK)));
                    open.insert((c, v, vport), cport);
                }
                if action != "open" {
                    out.push((t, seg(tcp_flags::FIN | tcp_flags::ACK)));
                    out.push((t, seg(tcp_flags::ACK)));
                    open.remove(&(c, v, vport));
                }
            }
            "tcp" | "udp" | "sctp" => {
                let (a, b) = arrow(1).map_err(at)?;
                let (c, cport) = parse_endpoint(a, true).map_err(at)?;
                let (v, vport) = parse_endpoint(b, true).map_err(at)?;
                let proto = match action {
                    "tcp" => IPPROTO_TCP,
                    "udp" => IPPROTO_UDP,
                    _ => IPPROTO_SCTP,
                };
                let mut p = pkt(c, cport.unwrap_or(0), v, vport.unwrap_or(0), proto);
                match action {
                    "tcp" => {
                        let f = rest
                            .get(4)
                            .ok_or_else(|| at(anyhow!("tcp needs flags, e.g. S or syn,ack")))?;
                        p.tcp_flags = parse_tcp_flags(f).map_err(at)?;
                    }
                    "sctp" => {
                        let f = rest
                            .get(4)
                            .ok_or_else(|| at(anyhow!("sctp needs a chunk type, e.g. init")))?;
                        p.sctp_chunk = parse_chunk(f).map_err(at)?;
                    }
                    _ => {}
                }
                out.push((t, Event::Packet(p)));
            }
            "reply" => {
                let proto = match rest.get(1).copied() {
                    Some("tcp") => IPPROTO_TCP,
                    Some("udp") => IPPROTO_UDP,
                    Some("sctp") => IPPROTO_SCTP,
                    _ => {
                        return Err(at(anyhow!(
                            "reply needs a protocol: reply tcp|udp|sctp RS:PORT > CLIENT:PORT"
                        )))
                    }
                };
                let (a, b) = arrow(2).map_err(at)?;
                let (r, rport) = parse_endpoint(a, true).map_err(at)?;
                let (c, cport) = parse_endpoint(b, true).map_err(at)?;
                let mut p = pkt(r, rport.unwrap_or(0), c, cport.unwrap_or(0), proto);
                p.direction = Some(Direction::Output);
                if let Some(f) = rest.get(5) {
                    match proto {
                        IPPROTO_TCP => p.tcp_flags = parse_tcp_flags(f).map_err(at)?,
                        IPPROTO_SCTP => p.sctp_chunk = parse_chunk(f).map_err(at)?,
                        _ => {}
                    }
                } else if proto == IPPROTO_TCP {
                    p.tcp_flags = tcp_flags::ACK;
                }
                out.push((t, Event::Packet(p)));
            }
            "reload" => {
                let f = rest
                    .get(1)
                    .ok_or_else(|| at(anyhow!("reload needs a file")))?;
                out.push((t, Event::Reload(base.join(f))));
            }
            other => {
                return Err(at(anyhow!(
                "unknown action {other:?} (open, close, request, tcp, udp, sctp, reply, reload)"
            )))
            }
        }
    }
    Ok(out)
}

fn apply_sysctl(s: &mut Settings, kv: &str) -> Result<()> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| anyhow!("--sysctl {kv:?}: expected NAME=VALUE"))?;
    let n: u32 = v
        .trim()
        .parse()
        .map_err(|_| anyhow!("--sysctl {kv:?}: value must be a number"))?;
    let k = k.trim().trim_start_matches("net.ipv4.vs.");
    match k {
        "conn_reuse_mode" => s.conn_reuse_mode = n,
        "expire_nodest_conn" => s.expire_nodest_conn = n != 0,
        "expire_quiescent_template" => s.expire_quiescent_template = n != 0,
        "sloppy_tcp" => s.sloppy_tcp = n != 0,
        "sloppy_sctp" => s.sloppy_sctp = n != 0,
        "secure_tcp" => s.secure_tcp = n > 1,
        other => bail!("--sysctl {other}: not modelled"),
    }
    Ok(())
}

/// A replay in progress: the model, the configuration in force, the events.
pub(crate) struct Replay {
    pub ipvs: Ipvs,
    lowered: Lowered,
    events: Vec<(Millis, Event)>,
    pos: usize,
    vips: HashSet<IpAddr>,
    nat_rs: HashSet<(IpAddr, u16)>,
}

impl Replay {
    pub(crate) fn new(input: &InputArgs) -> Result<Replay> {
        let mut settings = Settings::default();
        for kv in &input.sysctl {
            apply_sysctl(&mut settings, kv)?;
        }
        let lowered = lower_ipvs::load(&input.config)?;
        let mut ipvs = Ipvs::new(settings);
        lower_ipvs::apply_fresh(&mut ipvs, &lowered)?;
        let mut events = match (&input.pcap, &input.scenario) {
            (Some(p), _) => read_pcap(p)?,
            (None, Some(s)) => read_scenario(s)?,
            (None, None) => bail!("give --pcap FILE or --scenario FILE"),
        };
        for r in &input.reload {
            let (t, f) = r
                .split_once('=')
                .ok_or_else(|| anyhow!("--reload {r:?}: expected SECONDS=CONFIG"))?;
            events.push((parse_secs(t)?, Event::Reload(PathBuf::from(f))));
        }
        // Stable: reloads given on the command line come after packets of the same instant.
        events.sort_by_key(|e| e.0);
        let mut r = Replay {
            ipvs,
            lowered,
            events,
            pos: 0,
            vips: HashSet::new(),
            nat_rs: HashSet::new(),
        };
        r.index_config();
        Ok(r)
    }

    fn index_config(&mut self) {
        self.vips.clear();
        self.nat_rs.clear();
        for s in &self.lowered.services {
            if let ServiceKey::Addr { addr, .. } = s.service.key {
                self.vips.insert(addr);
            }
            for d in &s.dests {
                if d.fwd == FwdMethod::Masq {
                    self.nat_rs.insert((d.addr, d.port));
                }
            }
        }
    }

    /// Process every event up to and including time `t`, then run the timers due by `t`.
    pub(crate) fn advance_to(&mut self, t: Millis) -> Result<()> {
        while self.pos < self.events.len() && self.events[self.pos].0 <= t {
            let (at, ev) = self.events[self.pos].clone();
            self.pos += 1;
            match ev {
                Event::Reload(path) => {
                    let new = lower_ipvs::load(&path)?;
                    self.ipvs.expire(at);
                    lower_ipvs::apply_reload(&mut self.ipvs, &self.lowered, &new)
                        .with_context(|| format!("reload of {} at {at} ms", path.display()))?;
                    self.lowered = new;
                    self.index_config();
                }
                Event::Packet(p) => {
                    let dir = match p.direction {
                        Some(d) => d,
                        None if self.vips.contains(&p.dst) || p.fwmark != 0 => Direction::Input,
                        None if self.nat_rs.contains(&(p.src, p.sport)) => Direction::Output,
                        None => continue,
                    };
                    let meta = PacketMeta {
                        src: p.src,
                        dst: p.dst,
                        proto: p.proto,
                        sport: p.sport,
                        dport: p.dport,
                        tcp_flags: p.tcp_flags,
                        sctp_chunk: p.sctp_chunk,
                        fwmark: p.fwmark,
                        len: p.len,
                        direction: dir,
                    };
                    self.ipvs.handle_packet(at, &meta);
                }
            }
        }
        self.ipvs.expire(t);
        Ok(())
    }
}

#[derive(Serialize)]
struct JsonSnapshot<'a> {
    at: &'a str,
    at_ms: Millis,
    connections: Vec<lvs_ipvs::ConnView>,
    services: Vec<lvs_ipvs::ServiceView>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let mut times: Vec<(Millis, String)> = args
        .at
        .iter()
        .map(|s| parse_secs(s).map(|t| (t, s.clone())))
        .collect::<Result<_>>()?;
    times.sort_by_key(|t| t.0);
    let mut replay = Replay::new(&args.input)?;
    if times.is_empty() {
        // No --at: the table after the last event.
        let end = replay.events.last().map(|e| e.0).unwrap_or(0);
        times.push((end, format!("{:.3}", end as f64 / 1000.0)));
    }
    let mut snaps = Vec::new();
    let mut text = String::new();
    for (t, given) in &times {
        replay.advance_to(*t)?;
        if args.json {
            snaps.push(JsonSnapshot {
                at: given,
                at_ms: *t,
                connections: replay.ipvs.connections(*t),
                services: replay.ipvs.service_views(),
            });
        } else {
            text.push_str(&format!("--- at={given}\n"));
            for l in replay.ipvs.lnc_lines(*t) {
                text.push_str(&l);
                text.push('\n');
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "snapshots": snaps }))?
        );
    } else {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}
