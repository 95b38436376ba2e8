//! The IPVS engine: services, real servers, the packet path
//! (`ip_vs_in_hook`, `ip_vs_out_hook`), persistence (`ip_vs_sched_persist`)
//! and timers (`ip_vs_conn_expire`).
//!
//! Sans-IO: time is passed in as `now`, milliseconds on any monotonic clock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::admin::{self, AdminError, Family, FwdMethod, Service, ServiceKey, Stats, SvcFlags};
use crate::proto::{
    self, sctp, tcp, TimeoutTable, IPPROTO_IP, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
};
use crate::sched::{
    DestState, SchedInput, SchedParams, Scheduler, DEST_F_AVAILABLE, DEST_F_OVERLOAD,
};
use crate::table::{addr_bytes, bytes_addr, flags as cf, Conn, Key, Table, CTPL_S_ASSURED, NIL};

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// `expire_later` re-arm period (60 s).
pub const EXPIRE_LATER_MS: u32 = 60_000;
/// A new entry's timeout before its first state transition (3 s).
const NEW_CONN_TIMEOUT_MS: u32 = 3_000;
const FTPPORT: u16 = 21;
const FTPDATA: u16 = 20;

/// TCP header flag bits as in the header.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Which way a packet travels through the director.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client → virtual service.
    Input,
    /// Real server → client (seen by the director only with NAT).
    Output,
}

/// The packet fields the engine needs. Parsing is the caller's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number.
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// TCP flags (see [`tcp_flags`]).
    pub tcp_flags: u8,
    /// SCTP: the chunk type that decides the event (an ABORT bundled after a
    /// COOKIE-ECHO/COOKIE-ACK counts as ABORT).
    pub sctp_chunk: u8,
    /// `skb->mark`.
    pub fwmark: u32,
    /// Bytes, for the counters.
    pub len: u32,
    pub direction: Direction,
}

impl PacketMeta {
    /// A TCP packet from the client to the service.
    pub fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, flags: u8) -> Self {
        PacketMeta {
            src,
            dst,
            proto: IPPROTO_TCP,
            sport,
            dport,
            tcp_flags: flags,
            sctp_chunk: 0,
            fwmark: 0,
            len: 60,
            direction: Direction::Input,
        }
    }

    /// A UDP datagram from the client to the service.
    pub fn udp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Self {
        PacketMeta {
            proto: IPPROTO_UDP,
            tcp_flags: 0,
            ..Self::tcp(src, sport, dst, dport, 0)
        }
    }
}

/// A handle on a connection entry (slot + generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConnId {
    pub idx: u32,
    pub gen: u32,
}

/// The result of a forwarded packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forwarded {
    pub conn: ConnId,
    pub daddr: IpAddr,
    pub dport: u16,
    pub fwd: FwdMethod,
    /// The connection's state after this packet.
    pub state: &'static str,
    /// This packet created the connection entry.
    pub new_conn: bool,
    /// The controlling persistence template, if any.
    pub template: Option<ConnId>,
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The connection's real server was removed (`expire_nodest_conn` = 0).
    DestUnavailable,
    /// The entry is bound to no real server.
    NoDest,
}

/// What the director does with a packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// Not IPVS traffic (no service, no entry, or not schedulable): NF_ACCEPT to the local stack.
    Pass,
    /// Forwarded to a real server.
    Forward(Forwarded),
    /// Reply of a NAT connection, translated back to the client.
    Reply(Forwarded),
    /// NF_DROP.
    Drop(DropReason),
    /// No real server available: ICMP port unreachable, packet dropped (`ip_vs_leave`).
    Unreachable,
}

/// The `net.ipv4.vs.*` settings the model honours, with kernel defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub conn_reuse_mode: u32,
    pub expire_nodest_conn: bool,
    pub expire_quiescent_template: bool,
    pub sloppy_tcp: bool,
    pub sloppy_sctp: bool,
    /// `secure_tcp` in effect (value > 1): the DoS TCP state table.
    pub secure_tcp: bool,
    pub sched: SchedParams,
    /// Seed of the connection hash (the kernel's `ip_vs_conn_rnd`).
    pub hash_seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            conn_reuse_mode: 1,
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            sloppy_tcp: false,
            sloppy_sctp: false,
            secure_tcp: false,
            sched: SchedParams::default(),
            hash_seed: 0x5eed_1b5c_0ffe_e000,
        }
    }
}

/// A real server as the engine keeps it.
#[derive(Debug, Clone)]
pub(crate) struct RealServer {
    pub cfg: admin::Dest,
    /// The service it belongs (or belonged) to.
    pub svc_key: ServiceKey,
    pub svc: u32,
    /// In its service's list (false = in the trash).
    pub linked: bool,
    /// Flags applied to new connections (`dest->conn_flags`).
    pub conn_flags: u32,
    pub stats: Stats,
}

#[derive(Debug, Clone)]
pub(crate) struct Svc {
    pub cfg: Service,
    pub sched: Scheduler,
    /// Real servers in kernel order: newest first.
    pub dests: Vec<u32>,
    pub stats: Stats,
}

/// The in-process IPVS.
#[derive(Debug, Clone)]
pub struct Ipvs {
    pub settings: Settings,
    pub(crate) timeouts: TimeoutTable,
    pub(crate) services: Vec<Option<Svc>>,
    pub(crate) by_addr: HashMap<(u8, u8, [u8; 16], u16), u32, FastHash>,
    pub(crate) by_mark: HashMap<(u8, u32), u32, FastHash>,
    /// Scheduler-visible state of every real server (arena).
    pub(crate) ds: Vec<DestState>,
    pub(crate) rs: Vec<RealServer>,
    pub(crate) table: Table,
    pub(crate) total: Stats,
    nullsvc: u32,
    ftpsvc: u32,
    /// Latest time seen (for admin operations, which carry no time).
    pub(crate) last_now: Millis,
    /// The sync master's queue (`sync_state & IP_VS_STATE_MASTER`), see [`crate::sync`].
    pub(crate) sync_q: Option<Box<crate::sync::SyncQueue>>,
}

/// Hasher of the service maps (looked up for every new connection): a
/// multiply-rotate hash instead of SipHash. The keys come from the
/// administrator's configuration, not from packets, so hash flooding is not
/// a concern here.
pub(crate) type FastHash = BuildHasherDefault<MulHasher>;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MulHasher(u64);

impl MulHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for MulHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // Spread the multiply's high bits down as well.
        self.0 ^ (self.0 >> 29)
    }
}

fn af_of(a: &IpAddr) -> u8 {
    if a.is_ipv4() {
        4
    } else {
        6
    }
}

fn fam_af(f: Family) -> u8 {
    match f {
        Family::Inet => 4,
        Family::Inet6 => 6,
    }
}

fn svc_port(key: &ServiceKey) -> u16 {
    match key {
        ServiceKey::Addr { port, .. } => *port,
        ServiceKey::Fwmark { .. } => 0,
    }
}

/// `caddr & netmask` (IPv4 host-order mask) or the IPv6 prefix.
fn mask_addr(af: u8, a: &[u8; 16], netmask: u32) -> [u8; 16] {
    let mut out = [0u8; 16];
    if af == 4 {
        let v = u32::from_be_bytes([a[0], a[1], a[2], a[3]]) & netmask;
        out[..4].copy_from_slice(&v.to_be_bytes());
    } else {
        let plen = netmask.min(128) as usize;
        for (i, o) in out.iter_mut().enumerate() {
            let bits = plen.saturating_sub(i * 8).min(8);
            let m = if bits == 0 { 0 } else { 0xffu8 << (8 - bits) };
            *o = a[i] & m;
        }
    }
    out
}

impl Default for Ipvs {
    fn default() -> Self {
        Self::new(Settings::default())
    }
}

impl Ipvs {
    pub fn new(settings: Settings) -> Self {
        Ipvs {
            table: Table::new(settings.hash_seed),
            settings,
            timeouts: TimeoutTable::default(),
            services: Vec::new(),
            by_addr: HashMap::default(),
            by_mark: HashMap::default(),
            ds: Vec::new(),
            rs: Vec::new(),
            total: Stats::default(),
            nullsvc: 0,
            ftpsvc: 0,
            last_now: 0,
            sync_q: None,
        }
    }

    /// Pre-size the connection table.
    pub fn reserve_conns(&mut self, n: usize) {
        self.table.reserve(n);
    }

    /// Number of entries (connections + templates).
    pub fn conn_count(&self) -> usize {
        self.table.count
    }

    /// Bytes held by the connection table.
    pub fn conn_table_bytes(&self) -> usize {
        self.table.allocated_bytes()
    }

    pub fn timeout_table(&self) -> &TimeoutTable {
        &self.timeouts
    }

    // ------------------------------------------------------------------
    // Administration (ip_vs_ctl.c)

    fn svc_index(&self, key: &ServiceKey) -> Option<u32> {
        match key {
            ServiceKey::Addr { proto, addr, port } => self
                .by_addr
                .get(&(af_of(addr), proto.number() as u8, addr_bytes(addr), *port))
                .copied(),
            ServiceKey::Fwmark { mark, af } => self.by_mark.get(&(fam_af(*af), *mark)).copied(),
        }
    }

    fn check_service(svc: &Service) -> Result<(), AdminError> {
        if svc.key.af() == Family::Inet6 && svc.is_persistent() && !(1..=128).contains(&svc.netmask)
        {
            return Err(AdminError::Invalid(format!(
                "IPv6 prefix length {}",
                svc.netmask
            )));
        }
        if let Some(pe) = &svc.pe_name {
            return Err(AdminError::NoModule(format!(
                "persistence engine {pe} is not modelled"
            )));
        }
        Ok(())
    }

    /// `IPVS_CMD_NEW_SERVICE`.
    pub fn add_service(&mut self, svc: &Service) -> Result<(), AdminError> {
        Self::check_service(svc)?;
        if self.svc_index(&svc.key).is_some() {
            return Err(AdminError::Exists);
        }
        let sched = Scheduler::new(&svc.scheduler, &self.settings.sched)
            .ok_or_else(|| AdminError::NoModule(svc.scheduler.clone()))?;
        let idx = match self.services.iter().position(Option::is_none) {
            Some(i) => i as u32,
            None => {
                self.services.push(None);
                (self.services.len() - 1) as u32
            }
        };
        let mut cfg = svc.clone();
        cfg.flags = SvcFlags(cfg.flags.0 & !SvcFlags::HASHED);
        self.services[idx as usize] = Some(Svc {
            cfg,
            sched,
            dests: Vec::new(),
            stats: Stats::default(),
        });
        match &svc.key {
            ServiceKey::Addr { proto, addr, port } => {
                self.by_addr.insert(
                    (af_of(addr), proto.number() as u8, addr_bytes(addr), *port),
                    idx,
                );
                if *port == 0 {
                    self.nullsvc += 1;
                }
                if *port == FTPPORT {
                    self.ftpsvc += 1;
                }
            }
            ServiceKey::Fwmark { mark, af } => {
                self.by_mark.insert((fam_af(*af), *mark), idx);
            }
        }
        Ok(())
    }

    /// `IPVS_CMD_SET_SERVICE`: scheduler, flags, timeout, netmask edited in place.
    pub fn edit_service(&mut self, svc: &Service) -> Result<(), AdminError> {
        Self::check_service(svc)?;
        let idx = self.svc_index(&svc.key).ok_or(AdminError::NoService)?;
        let params = self.settings.sched;
        let s = self.services[idx as usize]
            .as_mut()
            .expect("indexed service");
        if s.cfg.scheduler != svc.scheduler {
            let mut sched = Scheduler::new(&svc.scheduler, &params)
                .ok_or_else(|| AdminError::NoModule(svc.scheduler.clone()))?;
            // init_service then the dests as they are (the kernel rebuilds from the list).
            let list = s.dests.clone();
            sched.add_dest(&list, &self.ds);
            s.sched = sched;
        }
        let flags = SvcFlags(svc.flags.0 & !SvcFlags::HASHED);
        s.cfg = Service {
            flags,
            ..svc.clone()
        };
        Ok(())
    }

    /// `IPVS_CMD_DEL_SERVICE`: real servers go to the trash; entries live on.
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), AdminError> {
        let idx = self.svc_index(key).ok_or(AdminError::NoService)?;
        let s = self.services[idx as usize].take().expect("indexed service");
        for d in s.dests {
            self.rs[d as usize].linked = false;
            self.ds[d as usize].flags &= !DEST_F_AVAILABLE;
        }
        match key {
            ServiceKey::Addr { proto, addr, port } => {
                self.by_addr
                    .remove(&(af_of(addr), proto.number() as u8, addr_bytes(addr), *port));
                if *port == 0 {
                    self.nullsvc -= 1;
                }
                if *port == FTPPORT {
                    self.ftpsvc -= 1;
                }
            }
            ServiceKey::Fwmark { mark, af } => {
                self.by_mark.remove(&(fam_af(*af), *mark));
            }
        }
        if self.settings.expire_nodest_conn {
            self.expire_nodest_flush();
        }
        Ok(())
    }

    /// `IPVS_CMD_FLUSH`.
    pub fn flush(&mut self) {
        let keys: Vec<ServiceKey> = self.services.iter().flatten().map(|s| s.cfg.key).collect();
        for k in keys {
            let _ = self.del_service(&k);
        }
    }

    fn find_dest(&self, svc: u32, addr: &IpAddr, port: u16) -> Option<u32> {
        let s = self.services[svc as usize].as_ref()?;
        s.dests.iter().copied().find(|&d| {
            self.rs[d as usize].cfg.addr == *addr && self.rs[d as usize].cfg.port == port
        })
    }

    fn dest_conn_flags(fwd: FwdMethod) -> u32 {
        let mut f = fwd.to_raw() | cf::INACTIVE;
        if fwd != FwdMethod::Masq {
            f |= cf::NOOUTPUT;
        }
        f
    }

    /// `__ip_vs_update_dest` (the common part of add and edit).
    fn update_dest(&mut self, d: u32, udest: &admin::Dest, add: bool) {
        let ds = &mut self.ds[d as usize];
        if add || udest.weight != 0 {
            ds.last_weight = udest.weight as i32;
        }
        ds.weight = udest.weight as i32;
        ds.flags |= DEST_F_AVAILABLE;
        let rs = &mut self.rs[d as usize];
        if udest.u_threshold == 0 || udest.u_threshold > rs.cfg.u_threshold {
            ds.flags &= !DEST_F_OVERLOAD;
        }
        rs.conn_flags = Self::dest_conn_flags(udest.fwd);
        rs.cfg = udest.clone();
    }

    fn check_dest(udest: &admin::Dest) -> Result<(), AdminError> {
        if udest.weight > i32::MAX as u32 {
            return Err(AdminError::Range("weight".into()));
        }
        if udest.l_threshold > udest.u_threshold && udest.u_threshold != 0 {
            return Err(AdminError::Range(
                "lower threshold above upper threshold".into(),
            ));
        }
        Ok(())
    }

    /// `IPVS_CMD_NEW_DEST`: the new real server goes to the head of the list
    /// (a real server still in the trash is revived with its counters).
    pub fn add_dest(&mut self, key: &ServiceKey, udest: &admin::Dest) -> Result<(), AdminError> {
        Self::check_dest(udest)?;
        let svc = self.svc_index(key).ok_or(AdminError::NoService)?;
        if self.find_dest(svc, &udest.addr, udest.port).is_some() {
            return Err(AdminError::Exists);
        }
        let trash = (0..self.rs.len() as u32).find(|&d| {
            let r = &self.rs[d as usize];
            !r.linked && r.svc_key == *key && r.cfg.addr == udest.addr && r.cfg.port == udest.port
        });
        let d = match trash {
            Some(d) => {
                let r = &mut self.rs[d as usize];
                r.linked = true;
                r.svc = svc;
                d
            }
            None => {
                self.ds.push(DestState {
                    addr: udest.addr,
                    port: udest.port,
                    weight: 0,
                    last_weight: 0,
                    flags: 0,
                    activeconns: 0,
                    inactconns: 0,
                    persistconns: 0,
                });
                self.rs.push(RealServer {
                    cfg: udest.clone(),
                    svc_key: *key,
                    svc,
                    linked: true,
                    conn_flags: 0,
                    stats: Stats::default(),
                });
                (self.ds.len() - 1) as u32
            }
        };
        self.update_dest(d, udest, true);
        let s = self.services[svc as usize].as_mut().expect("service");
        s.dests.insert(0, d);
        s.sched.add_dest(&s.dests, &self.ds);
        Ok(())
    }

    /// `IPVS_CMD_SET_DEST`: weight, thresholds, forwarding edited in place.
    pub fn edit_dest(&mut self, key: &ServiceKey, udest: &admin::Dest) -> Result<(), AdminError> {
        Self::check_dest(udest)?;
        let svc = self.svc_index(key).ok_or(AdminError::NoService)?;
        let d = self
            .find_dest(svc, &udest.addr, udest.port)
            .ok_or(AdminError::NoDest)?;
        self.update_dest(d, udest, false);
        let s = self.services[svc as usize].as_mut().expect("service");
        s.sched.upd_dest(&s.dests, &self.ds);
        Ok(())
    }

    /// `IPVS_CMD_DEL_DEST`: unlinked and put in the trash; its entries live on.
    pub fn del_dest(&mut self, key: &ServiceKey, dk: &admin::DestKey) -> Result<(), AdminError> {
        let svc = self.svc_index(key).ok_or(AdminError::NoService)?;
        let d = self
            .find_dest(svc, &dk.addr, dk.port)
            .ok_or(AdminError::NoDest)?;
        self.rs[d as usize].linked = false;
        self.ds[d as usize].flags &= !DEST_F_AVAILABLE;
        let s = self.services[svc as usize].as_mut().expect("service");
        let old = s.dests.clone();
        s.dests.retain(|&x| x != d);
        s.sched.del_dest(&old, &s.dests, d, &self.ds);
        s.sched.forget(d);
        if self.settings.expire_nodest_conn {
            self.expire_nodest_flush();
        }
        Ok(())
    }

    /// `IPVS_CMD_SET_CONFIG` (seconds; 0 keeps a value).
    pub fn set_timeouts(&mut self, tcp_s: u32, tcp_fin_s: u32, udp_s: u32) {
        self.timeouts.set(tcp_s, tcp_fin_s, udp_s);
    }

    /// `IPVS_CMD_ZERO`.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), AdminError> {
        match key {
            None => {
                self.total = Stats::default();
                for s in self.services.iter_mut().flatten() {
                    s.stats = Stats::default();
                }
                for r in &mut self.rs {
                    r.stats = Stats::default();
                }
            }
            Some(k) => {
                let svc = self.svc_index(k).ok_or(AdminError::NoService)?;
                let s = self.services[svc as usize].as_mut().expect("service");
                s.stats = Stats::default();
                for &d in &s.dests {
                    self.rs[d as usize].stats = Stats::default();
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------
    // Entries (ip_vs_conn.c)

    fn dest_totalconns(&self, d: u32) -> u32 {
        let x = &self.ds[d as usize];
        x.activeconns + x.inactconns
    }

    /// `ip_vs_conn_new` + `ip_vs_bind_dest`. Not hashed, timer not armed.
    #[allow(clippy::too_many_arguments)]
    fn conn_new(
        &mut self,
        af: u8,
        proto: u8,
        caddr: [u8; 16],
        cport: u16,
        vaddr: [u8; 16],
        vport: u16,
        d: u32,
        dport: u16,
        cflags: u32,
        fwmark: u32,
    ) -> u32 {
        let daddr = addr_bytes(&self.ds[d as usize].addr);
        let daf = af_of(&self.ds[d as usize].addr);
        let mut conn_flags = self.rs[d as usize].conn_flags;
        if proto != IPPROTO_UDP {
            conn_flags &= !cf::ONE_PACKET;
        }
        let flags = cflags | conn_flags;
        let c = Conn {
            caddr,
            vaddr,
            daddr,
            expires: 0,
            flags,
            timeout: NEW_CONN_TIMEOUT_MS,
            fwmark,
            dest: d,
            control: NIL,
            n_control: 0,
            in_pkts: 0,
            gen: 0,
            tgen: 0,
            cport,
            vport,
            dport,
            af,
            daf,
            proto,
            state: 0,
            old_state: 0,
        };
        let idx = self.table.alloc(c);
        let x = &mut self.ds[d as usize];
        if flags & cf::TEMPLATE == 0 {
            if flags & cf::INACTIVE != 0 {
                x.inactconns += 1;
            } else {
                x.activeconns += 1;
            }
        } else {
            x.persistconns += 1;
        }
        let u = self.rs[d as usize].cfg.u_threshold;
        if u != 0 && self.dest_totalconns(d) >= u {
            self.ds[d as usize].flags |= DEST_F_OVERLOAD;
        }
        if flags & cf::ONE_PACKET == 0 {
            self.table.hash(idx);
        }
        idx
    }

    /// `ip_vs_unbind_dest`.
    fn unbind_dest(&mut self, idx: u32) {
        let c = &self.table.conns[idx as usize];
        let d = c.dest;
        if d == NIL {
            return;
        }
        let f = c.flags;
        let x = &mut self.ds[d as usize];
        if f & cf::TEMPLATE == 0 {
            if f & cf::INACTIVE != 0 {
                x.inactconns -= 1;
            } else {
                x.activeconns -= 1;
            }
        } else {
            x.persistconns -= 1;
        }
        let total = x.activeconns + x.inactconns;
        let cfg = &self.rs[d as usize].cfg;
        let clear = if cfg.l_threshold != 0 {
            total < cfg.l_threshold
        } else if cfg.u_threshold != 0 {
            (total as u64) * 4 < (cfg.u_threshold as u64) * 3
        } else {
            true
        };
        if clear {
            self.ds[d as usize].flags &= !DEST_F_OVERLOAD;
        }
    }

    /// `ip_vs_conn_put`: re-arm the timer at now + timeout.
    fn conn_put(&mut self, idx: u32, now: Millis) {
        let t = self.table.conns[idx as usize].timeout as u64;
        self.table.arm(idx, now + t, false);
    }

    /// The timer handler `ip_vs_conn_expire`, run at time `at`.
    fn conn_expire(&mut self, idx: u32, at: Millis) {
        if self.table.conns[idx as usize].n_control > 0 {
            // expire_later: "do I control anybody?"
            let c = &mut self.table.conns[idx as usize];
            c.timeout = EXPIRE_LATER_MS;
            if let Some(pkts) = self.sync_q.as_ref().map(|q| q.rules.threshold) {
                self.sync_conn(at, idx, pkts);
            }
            self.table.arm(idx, at + EXPIRE_LATER_MS as u64, true);
            return;
        }
        self.table.unhash(idx);
        let c = &self.table.conns[idx as usize];
        let ct = c.control;
        let has_ref = c.timeout == 0;
        if ct != NIL {
            self.table.conns[idx as usize].control = NIL;
            let t = &mut self.table.conns[ct as usize];
            t.n_control -= 1;
            if has_ref && t.n_control == 0 && (!t.is_template() || t.state & CTPL_S_ASSURED == 0) {
                self.conn_del(ct, at);
            }
        }
        self.unbind_dest(idx);
        self.table.release(idx);
    }

    /// `ip_vs_conn_del`: drop an entry now (flush paths), marking the chain.
    fn conn_del(&mut self, idx: u32, at: Millis) {
        if !self.table.is_live(idx) {
            return;
        }
        self.table.conns[idx as usize].timeout = 0;
        self.conn_expire(idx, at);
    }

    /// `ip_vs_conn_expire_now`.
    fn conn_expire_now(&mut self, idx: u32, now: Millis) {
        self.conn_expire(idx, now);
    }

    /// `ip_vs_expire_nodest_conn_flush`.
    fn expire_nodest_flush(&mut self) {
        let now = self.last_now;
        let n = self.table.conns.len() as u32;
        for idx in 0..n {
            if !self.table.is_live(idx) {
                continue;
            }
            let c = &self.table.conns[idx as usize];
            if c.dest == NIL
                || self.ds[c.dest as usize].flags & DEST_F_AVAILABLE != 0
                || c.n_control > 0
            {
                continue;
            }
            let cc = c.control;
            self.conn_del(idx, now);
            if cc != NIL && self.table.is_live(cc) && self.table.conns[cc as usize].n_control == 0 {
                self.conn_del(cc, now);
            }
        }
    }

    /// `ip_vs_control_assure_ct`.
    fn assure_ct(&mut self, idx: u32) {
        let ct = self.table.conns[idx as usize].control;
        if ct != NIL {
            let t = &mut self.table.conns[ct as usize];
            if t.is_template() {
                t.state |= CTPL_S_ASSURED;
            }
        }
    }

    /// Move a conn between active and inactive on a state change.
    fn set_activity(&mut self, idx: u32, active: bool) {
        let c = &mut self.table.conns[idx as usize];
        let d = c.dest;
        let inactive = c.flags & cf::INACTIVE != 0;
        if d == NIL {
            return;
        }
        if !inactive && !active {
            c.flags |= cf::INACTIVE;
            self.ds[d as usize].activeconns -= 1;
            self.ds[d as usize].inactconns += 1;
        } else if inactive && active {
            c.flags &= !cf::INACTIVE;
            self.ds[d as usize].activeconns += 1;
            self.ds[d as usize].inactconns -= 1;
        }
    }

    /// `ip_vs_set_state`: the protocol's state transition.
    fn set_state(&mut self, idx: u32, dir: Direction, pkt: &PacketMeta) {
        let c = &mut self.table.conns[idx as usize];
        match c.proto {
            IPPROTO_TCP => {
                let mut off = if dir == Direction::Output { 4 } else { 0 };
                if c.flags & cf::NOOUTPUT != 0 {
                    if dir == Direction::Output {
                        c.flags &= !cf::NOOUTPUT;
                    } else {
                        off = 8;
                    }
                }
                let th = pkt.tcp_flags;
                let event = if th & tcp_flags::RST != 0 {
                    Some(3)
                } else if th & tcp_flags::SYN != 0 {
                    Some(0)
                } else if th & tcp_flags::FIN != 0 {
                    Some(1)
                } else if th & tcp_flags::ACK != 0 {
                    Some(2)
                } else {
                    None
                };
                let table = if self.settings.secure_tcp {
                    &tcp::STATES_DOS
                } else {
                    &tcp::STATES
                };
                let new = match event {
                    Some(e) => table[off + e][c.state as usize],
                    None => tcp::CLOSE,
                };
                let old = c.state;
                c.state = new;
                c.timeout = self.timeouts.tcp[new as usize];
                if new != old {
                    self.set_activity(idx, tcp::is_active(new));
                    if new == tcp::ESTABLISHED {
                        self.assure_ct(idx);
                    }
                }
            }
            IPPROTO_UDP => {
                c.timeout = self.timeouts.udp;
                if dir == Direction::Output {
                    self.assure_ct(idx);
                }
            }
            IPPROTO_SCTP => {
                let mut d = if dir == Direction::Output { 1 } else { 0 };
                if c.flags & cf::NOOUTPUT != 0 {
                    if dir == Direction::Output {
                        c.flags &= !cf::NOOUTPUT;
                    } else {
                        d = 2;
                    }
                }
                let ev = sctp::event(pkt.sctp_chunk);
                let new = sctp::STATES[d][ev][c.state as usize];
                let old = c.state;
                c.state = new;
                c.timeout = self.timeouts.sctp[new as usize];
                if new != old {
                    self.set_activity(idx, new == sctp::ESTABLISHED);
                    if new == sctp::ESTABLISHED {
                        self.assure_ct(idx);
                    }
                }
            }
            _ => {}
        }
    }

    /// `ip_vs_check_template`: is the template's real server still usable?
    /// On invalidation the template is unhashed with ports 0xffff and left to
    /// its timer.
    fn check_template(&mut self, ct: u32) -> bool {
        let d = self.table.conns[ct as usize].dest;
        let bad = d == NIL
            || self.ds[d as usize].flags & DEST_F_AVAILABLE == 0
            || (self.settings.expire_quiescent_template && self.ds[d as usize].weight == 0);
        if bad {
            if self.table.unhash(ct) {
                let c = &mut self.table.conns[ct as usize];
                c.dport = 0xffff;
                c.vport = 0xffff;
                c.cport = 0;
            }
            return false;
        }
        true
    }

    // ------------------------------------------------------------------
    // The packet path

    /// Run every timer due at or before `now`.
    pub fn expire(&mut self, now: Millis) {
        if now > self.last_now {
            self.last_now = now;
        }
        while let Some((idx, at)) = self.table.pop_due(now) {
            self.conn_expire(idx, at);
        }
    }

    /// When the next timer may be due (it may fire early; never late).
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.table.next_deadline()
    }

    /// `ip_vs_service_find`.
    fn service_find(
        &self,
        af: u8,
        fwmark: u32,
        proto: u8,
        vaddr: &[u8; 16],
        vport: u16,
    ) -> Option<u32> {
        if fwmark != 0 {
            if let Some(&s) = self.by_mark.get(&(af, fwmark)) {
                return Some(s);
            }
        }
        if let Some(&s) = self.by_addr.get(&(af, proto, *vaddr, vport)) {
            return Some(s);
        }
        if proto == IPPROTO_TCP && self.ftpsvc > 0 && (vport == FTPDATA || vport >= 1024) {
            if let Some(&s) = self.by_addr.get(&(af, proto, *vaddr, FTPPORT)) {
                return Some(s);
            }
        }
        if self.nullsvc > 0 {
            if let Some(&s) = self.by_addr.get(&(af, proto, *vaddr, 0)) {
                return Some(s);
            }
        }
        None
    }

    fn conn_stats(&mut self, idx: u32, svc: u32) {
        let d = self.table.conns[idx as usize].dest;
        self.rs[d as usize].stats.conns += 1;
        if let Some(s) = self.services[svc as usize].as_mut() {
            s.stats.conns += 1;
        }
        self.total.conns += 1;
    }

    fn in_stats(&mut self, idx: u32, len: u32, out: bool) {
        let d = self.table.conns[idx as usize].dest;
        if d == NIL || self.ds[d as usize].flags & DEST_F_AVAILABLE == 0 {
            return;
        }
        let bump = |s: &mut Stats| {
            if out {
                s.outpkts += 1;
                s.outbytes += len as u64;
            } else {
                s.inpkts += 1;
                s.inbytes += len as u64;
            }
        };
        let r = &mut self.rs[d as usize];
        bump(&mut r.stats);
        let svc = r.svc;
        if r.linked {
            if let Some(s) = self.services[svc as usize].as_mut() {
                bump(&mut s.stats);
            }
        }
        bump(&mut self.total);
    }

    /// `ip_vs_schedule` / `ip_vs_sched_persist`. Ok(None) = ignored (accept).
    fn schedule(
        &mut self,
        svc: u32,
        pkt: &PacketMeta,
        af: u8,
        now: Millis,
    ) -> Result<Option<u32>, ()> {
        if pkt.sport == FTPDATA {
            return Ok(None);
        }
        let s = self.services[svc as usize].as_ref().expect("service");
        let sflags = s.cfg.flags;
        let sport_cfg = svc_port(&s.cfg.key);
        let fwmark = s.cfg.key.fwmark();
        let caddr = addr_bytes(&pkt.src);
        let vaddr = addr_bytes(&pkt.dst);
        let input = SchedInput {
            saddr: pkt.src,
            sport: pkt.sport,
            daddr: pkt.dst,
            has_ports: matches!(pkt.proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP),
        };
        let ops = if sflags.has(SvcFlags::ONEPACKET) && pkt.proto == IPPROTO_UDP {
            cf::ONE_PACKET
        } else {
            0
        };
        if sflags.has(SvcFlags::PERSISTENT) {
            let snet = mask_addr(af, &caddr, s.cfg.netmask);
            let (t_proto, t_vaddr, t_vport) = if pkt.dport == sport_cfg {
                (
                    pkt.proto,
                    vaddr,
                    if sport_cfg != FTPPORT { pkt.dport } else { 0 },
                )
            } else if let Some(mark) = fwmark {
                let mut v = [0u8; 16];
                v[..4].copy_from_slice(&mark.to_be_bytes());
                (IPPROTO_IP, v, 0)
            } else {
                (pkt.proto, vaddr, 0)
            };
            let key = Key {
                caddr: snet,
                vaddr: t_vaddr,
                cport: 0,
                vport: t_vport,
                af,
                proto: t_proto,
                template: true,
            };
            let found = self.table.lookup(&key);
            let ct = match found {
                Some(ct) if self.check_template(ct) => ct,
                _ => {
                    let s = self.services[svc as usize].as_mut().expect("service");
                    let Some(d) = s.sched.schedule(now, sflags, &s.dests, &self.ds, &input) else {
                        return Err(());
                    };
                    let t_dport = if pkt.dport == sport_cfg && sport_cfg != FTPPORT {
                        self.ds[d as usize].port
                    } else {
                        0
                    };
                    let ct = self.conn_new(
                        af,
                        t_proto,
                        snet,
                        0,
                        t_vaddr,
                        t_vport,
                        d,
                        t_dport,
                        cf::TEMPLATE,
                        pkt.fwmark,
                    );
                    let s = self.services[svc as usize].as_ref().expect("service");
                    self.table.conns[ct as usize].timeout = s.cfg.timeout.saturating_mul(1000);
                    ct
                }
            };
            let d = self.table.conns[ct as usize].dest;
            let dport_rs = self.ds[d as usize].port;
            let dport = if pkt.dport == sport_cfg && dport_rs != 0 {
                dport_rs
            } else {
                pkt.dport
            };
            let cp = self.conn_new(
                af, pkt.proto, caddr, pkt.sport, vaddr, pkt.dport, d, dport, ops, pkt.fwmark,
            );
            // ip_vs_control_add + ip_vs_conn_put(ct)
            self.table.conns[cp as usize].control = ct;
            self.table.conns[ct as usize].n_control += 1;
            self.conn_put(ct, now);
            self.conn_stats(cp, svc);
            return Ok(Some(cp));
        }
        if fwmark.is_none() && pkt.dport != sport_cfg {
            return Err(()); // port zero only supported in persistent services
        }
        let s = self.services[svc as usize].as_mut().expect("service");
        let Some(d) = s.sched.schedule(now, sflags, &s.dests, &self.ds, &input) else {
            return Err(());
        };
        let dport_rs = self.ds[d as usize].port;
        let dport = if dport_rs != 0 { dport_rs } else { pkt.dport };
        let cp = self.conn_new(
            af, pkt.proto, caddr, pkt.sport, vaddr, pkt.dport, d, dport, ops, pkt.fwmark,
        );
        self.conn_stats(cp, svc);
        Ok(Some(cp))
    }

    fn forwarded(&self, idx: u32, new_conn: bool) -> Forwarded {
        let c = &self.table.conns[idx as usize];
        let ct = c.control;
        Forwarded {
            conn: ConnId { idx, gen: c.gen },
            daddr: bytes_addr(c.daf, &c.daddr),
            dport: c.dport,
            fwd: FwdMethod::from_raw(c.flags & cf::FWD_MASK).unwrap_or(FwdMethod::Masq),
            state: proto::state_name(c.proto, c.state),
            new_conn,
            template: if ct != NIL {
                Some(ConnId {
                    idx: ct,
                    gen: self.table.conns[ct as usize].gen,
                })
            } else {
                None
            },
        }
    }

    /// Process one packet at time `now` (timers due by then run first).
    pub fn handle_packet(&mut self, now: Millis, pkt: &PacketMeta) -> Verdict {
        self.expire(now);
        if !matches!(pkt.proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
            return Verdict::Pass;
        }
        match pkt.direction {
            Direction::Input => self.in_hook(now, pkt),
            Direction::Output => self.out_hook(now, pkt),
        }
    }

    /// Process a batch of packets at time `now`: exactly `handle_packet` on
    /// each in order (the verdicts are appended to `out`), but the index lines
    /// and entries the batch will look up are loaded first, a chunk at a
    /// time, so that their memory accesses overlap instead of waiting for one
    /// another. A data plane reads packets in batches; on a table much larger
    /// than the CPU caches this is where the per-packet time goes.
    pub fn handle_batch(&mut self, now: Millis, pkts: &[PacketMeta], out: &mut Vec<Verdict>) {
        const CHUNK: usize = 16;
        out.reserve(pkts.len());
        for chunk in pkts.chunks(CHUNK) {
            let mut keys = [None; CHUNK];
            for (k, pkt) in keys.iter_mut().zip(chunk) {
                if pkt.direction == Direction::Input {
                    *k = Some(Self::in_key(pkt));
                }
            }
            let mut acc = 0u64;
            for k in keys.iter().flatten() {
                acc = acc.wrapping_add(self.table.touch_index(k));
            }
            for k in keys.iter().flatten() {
                acc = acc.wrapping_add(self.table.touch_entry(k));
            }
            std::hint::black_box(acc);
            for pkt in chunk {
                out.push(self.handle_packet(now, pkt));
            }
        }
    }

    /// The connection-table key of an input packet.
    #[inline]
    fn in_key(pkt: &PacketMeta) -> Key {
        Key {
            caddr: addr_bytes(&pkt.src),
            vaddr: addr_bytes(&pkt.dst),
            cport: pkt.sport,
            vport: pkt.dport,
            af: af_of(&pkt.src),
            proto: pkt.proto,
            template: false,
        }
    }

    fn is_new_conn(pkt: &PacketMeta) -> bool {
        match pkt.proto {
            IPPROTO_TCP => pkt.tcp_flags & tcp_flags::SYN != 0,
            IPPROTO_SCTP => pkt.sctp_chunk == sctp::CID_INIT,
            _ => false,
        }
    }

    fn is_new_conn_expected(&self, c: &Conn) -> bool {
        if c.control != NIL {
            return false;
        }
        match c.proto {
            IPPROTO_TCP => {
                c.state == tcp::TIME_WAIT
                    || c.state == tcp::CLOSE
                    || (self.settings.conn_reuse_mode & 2 != 0
                        && c.state == tcp::FIN_WAIT
                        && c.flags & cf::NOOUTPUT != 0)
            }
            IPPROTO_SCTP => c.state == sctp::CLOSED,
            _ => false,
        }
    }

    fn in_hook(&mut self, now: Millis, pkt: &PacketMeta) -> Verdict {
        let af = af_of(&pkt.src);
        let key = Self::in_key(pkt);
        let mut cp = self.table.lookup(&key);
        if let Some(idx) = cp {
            if self.settings.conn_reuse_mode != 0 && Self::is_new_conn(pkt) {
                let c = &self.table.conns[idx as usize];
                let resched = if self.settings.expire_nodest_conn
                    && c.dest != NIL
                    && self.ds[c.dest as usize].weight == 0
                {
                    true
                } else {
                    self.is_new_conn_expected(c)
                };
                if resched {
                    if self.table.conns[idx as usize].n_control == 0 {
                        self.conn_expire_now(idx, now);
                    }
                    cp = None;
                }
            }
        }
        if let Some(idx) = cp {
            let d = self.table.conns[idx as usize].dest;
            if d != NIL && self.ds[d as usize].flags & DEST_F_AVAILABLE == 0 {
                if self.settings.expire_nodest_conn {
                    self.conn_expire_now(idx, now);
                    cp = None;
                } else {
                    return Verdict::Drop(DropReason::DestUnavailable);
                }
            }
        }
        let mut new_conn = false;
        let idx = match cp {
            Some(i) => i,
            None => {
                let may_schedule = match pkt.proto {
                    IPPROTO_TCP => {
                        pkt.tcp_flags & tcp_flags::RST == 0
                            && (self.settings.sloppy_tcp || pkt.tcp_flags & tcp_flags::SYN != 0)
                    }
                    IPPROTO_UDP => true,
                    _ => {
                        (pkt.sctp_chunk == sctp::CID_INIT || self.settings.sloppy_sctp)
                            && pkt.sctp_chunk != sctp::CID_ABORT
                    }
                };
                if !may_schedule {
                    return Verdict::Pass;
                }
                let vaddr = addr_bytes(&pkt.dst);
                let Some(svc) = self.service_find(af, pkt.fwmark, pkt.proto, &vaddr, pkt.dport)
                else {
                    return Verdict::Pass;
                };
                match self.schedule(svc, pkt, af, now) {
                    Ok(Some(i)) => {
                        new_conn = true;
                        i
                    }
                    Ok(None) => return Verdict::Pass,
                    Err(()) => {
                        let s = self.services[svc as usize].as_ref().expect("service");
                        if svc_port(&s.cfg.key) == FTPPORT && pkt.dport != FTPPORT {
                            return Verdict::Pass;
                        }
                        return Verdict::Unreachable;
                    }
                }
            }
        };
        self.in_stats(idx, pkt.len, false);
        self.set_state(idx, Direction::Input, pkt);
        let c = &mut self.table.conns[idx as usize];
        c.in_pkts = c.in_pkts.wrapping_add(1);
        if let Some(q) = &self.sync_q {
            // ip_vs_sync_conn: one-packet entries count as at the threshold.
            let pkts = if c.flags & cf::ONE_PACKET != 0 {
                q.rules.threshold
            } else {
                c.in_pkts
            };
            self.sync_conn(now, idx, pkts);
        }
        let v = self.forwarded(idx, new_conn);
        if self.table.conns[idx as usize].flags & cf::ONE_PACKET != 0 {
            // ip_vs_conn_put of an OPS entry: expired at once.
            self.conn_expire(idx, now);
        } else {
            self.conn_put(idx, now);
        }
        Verdict::Forward(v)
    }

    fn out_hook(&mut self, now: Millis, pkt: &PacketMeta) -> Verdict {
        // Reply: src = real server (NAT) or VIP, dst = client.
        let af = af_of(&pkt.src);
        let caddr = addr_bytes(&pkt.dst);
        let cport = pkt.dport;
        // The index is keyed on the client side and the VIP; the reply carries
        // the real server, so look for the entry among those of this client.
        let src = addr_bytes(&pkt.src);
        let mut found = None;
        for &(saf, proto, vaddr, vport) in self.by_addr.keys() {
            if saf != af || proto != pkt.proto || vport == 0 {
                continue;
            }
            let key = Key {
                caddr,
                vaddr,
                cport,
                vport,
                af,
                proto,
                template: false,
            };
            if let Some(i) = self.table.lookup(&key) {
                let c = &self.table.conns[i as usize];
                let masq = c.flags & cf::FWD_MASK == cf::MASQ;
                let (ea, ep) = if masq {
                    (c.daddr, c.dport)
                } else {
                    (c.vaddr, c.vport)
                };
                if ea == src && ep == pkt.sport {
                    found = Some(i);
                    break;
                }
            }
        }
        let Some(idx) = found else {
            return Verdict::Pass;
        };
        self.in_stats(idx, pkt.len, true);
        self.set_state(idx, Direction::Output, pkt);
        let v = self.forwarded(idx, false);
        self.conn_put(idx, now);
        Verdict::Reply(v)
    }

    /// Reply lookup for the data plane when the VIP and port are known.
    pub fn handle_reply(
        &mut self,
        now: Millis,
        pkt: &PacketMeta,
        vaddr: IpAddr,
        vport: u16,
    ) -> Verdict {
        self.expire(now);
        let af = af_of(&pkt.src);
        let key = Key {
            caddr: addr_bytes(&pkt.dst),
            vaddr: addr_bytes(&vaddr),
            cport: pkt.dport,
            vport,
            af,
            proto: pkt.proto,
            template: false,
        };
        let Some(idx) = self.table.lookup(&key) else {
            return Verdict::Pass;
        };
        self.in_stats(idx, pkt.len, true);
        self.set_state(idx, Direction::Output, pkt);
        let v = self.forwarded(idx, false);
        self.conn_put(idx, now);
        Verdict::Reply(v)
    }
}

#[cfg(test)]
mod tests;

impl Ipvs {
    /// Check the table's invariants (for tests and debugging; O(entries)):
    /// every real server's counters equal its entries, every live entry's
    /// timer is pending within its timeout, and every controlled entry points
    /// at a live template whose control count matches.
    pub fn check_invariants(&self, now: Millis) -> Result<(), String> {
        let mut act = vec![0u32; self.ds.len()];
        let mut inact = vec![0u32; self.ds.len()];
        let mut pers = vec![0u32; self.ds.len()];
        let mut ctl: HashMap<u32, u32> = HashMap::new();
        for (i, c) in self.table.iter_live() {
            if c.dest != NIL {
                let d = c.dest as usize;
                if c.flags & cf::TEMPLATE != 0 {
                    pers[d] += 1;
                } else if c.flags & cf::INACTIVE != 0 {
                    inact[d] += 1;
                } else {
                    act[d] += 1;
                }
            }
            if c.expires <= now {
                return Err(format!(
                    "entry {i} outlived its deadline: expires {} <= now {now}",
                    c.expires
                ));
            }
            if c.expires > now + c.timeout as u64 {
                return Err(format!(
                    "entry {i} expires {} beyond now {now} + timeout {}",
                    c.expires, c.timeout
                ));
            }
            if c.control != NIL {
                if !self.table.is_live(c.control)
                    || !self.table.conns[c.control as usize].is_template()
                {
                    return Err(format!(
                        "entry {i} controlled by a dead template {}",
                        c.control
                    ));
                }
                *ctl.entry(c.control).or_default() += 1;
            }
            if c.flags & cf::TEMPLATE == 0 && c.proto == IPPROTO_TCP {
                let active = c.flags & cf::INACTIVE == 0;
                if active != tcp::is_active(c.state) {
                    return Err(format!(
                        "entry {i}: INACTIVE flag disagrees with state {}",
                        c.state
                    ));
                }
            }
        }
        for (i, c) in self.table.iter_live() {
            let n = ctl.get(&i).copied().unwrap_or(0);
            if c.n_control != n {
                return Err(format!(
                    "template {i}: n_control {} but {n} entries point at it",
                    c.n_control
                ));
            }
        }
        for (d, x) in self.ds.iter().enumerate() {
            if (x.activeconns, x.inactconns, x.persistconns) != (act[d], inact[d], pers[d]) {
                return Err(format!(
                    "real server {}: counters {}/{}/{} but entries {}/{}/{}",
                    x.addr, x.activeconns, x.inactconns, x.persistconns, act[d], inact[d], pers[d]
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod proptests;
