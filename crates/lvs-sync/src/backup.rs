//! The backup side (`ip_vs_process_message`, `ip_vs_proc_sync_conn`,
//! `ip_vs_proc_conn`): received datagrams become plain install actions for
//! an IPVS connection table.
//!
//! [`SyncBackup::process`] applies everything the kernel checks on the
//! message itself (size, syncid filter, entry layout, protocol, state, PE)
//! and resolves each accepted entry into a [`ConnInstall`]: the entry with
//! the flags the backup keeps (`IP_VS_CONN_F_BACKUP_MASK | SYNC`), its state,
//! the timeout it gets (from the message in v1, else the protocol's state
//! timeout, or 180 s for templates) and `in_pkts = sync_threshold`.
//!
//! What happens next depends on what the table already holds;
//! [`reconcile`] is the kernel's rule for that, and [`BackupTable`] a
//! complete in-memory table built on it (used by the built-in data plane's
//! backup and by the tests). Synced connections are not linked to synced
//! templates (the kernel backup does not link them either): a backup
//! template lives on its own synced timeout.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::conn::{ConnKey, SyncConn};
use crate::consts::flags::{
    IP_VS_CONN_F_BACKUP_MASK, IP_VS_CONN_F_BACKUP_UPD_MASK, IP_VS_CONN_F_HASHED,
    IP_VS_CONN_F_INACTIVE, IP_VS_CONN_F_SYNC,
};
use crate::consts::proto::{num_states, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use crate::consts::{sctp, tcp};
use crate::wire::{Packet, Version};
use crate::Error;

/// Template timeout when the message carries none (v0): `3*60*HZ`.
pub const DEFAULT_TEMPLATE_TIMEOUT: u32 = 180;

/// Backup configuration: the daemon's syncid and the backup host's sysctls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupCfg {
    /// Accept only this syncid (0 = accept all).
    pub syncid: u8,
    /// `sync_threshold[0]`: `in_pkts` of installed entries.
    pub sync_threshold: u32,
    /// TCP state timeouts (s), indexed by state.
    pub tcp_timeouts: [u32; 11],
    /// UDP timeout (s).
    pub udp_timeout: u32,
    /// SCTP state timeouts (s), indexed by state.
    pub sctp_timeouts: [u32; 14],
    /// Persistence engines loaded on the backup (`sip`).
    pub pe_names: Vec<String>,
}

impl Default for BackupCfg {
    fn default() -> Self {
        BackupCfg {
            syncid: 0,
            sync_threshold: 3,
            tcp_timeouts: tcp::DEFAULT_TIMEOUTS,
            udp_timeout: 300,
            sctp_timeouts: sctp::DEFAULT_TIMEOUTS,
            pe_names: vec!["sip".to_string()],
        }
    }
}

impl BackupCfg {
    /// Timeout a v0 entry (or a v1 entry with timeout 0) gets.
    pub fn default_timeout(&self, protocol: u8, state: u16, template: bool) -> u32 {
        if template {
            return DEFAULT_TEMPLATE_TIMEOUT;
        }
        let s = state as usize;
        match protocol {
            IPPROTO_TCP => self.tcp_timeouts.get(s).copied(),
            IPPROTO_UDP => Some(self.udp_timeout),
            IPPROTO_SCTP => self.sctp_timeouts.get(s).copied(),
            _ => None,
        }
        .unwrap_or(DEFAULT_TEMPLATE_TIMEOUT)
    }
}

/// A connection or template the backup installs (or refreshes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnInstall {
    /// The entry: `flags` already reduced to what the backup keeps (with
    /// `IP_VS_CONN_F_SYNC`), `timeout` resolved in seconds, PE data kept for
    /// templates only.
    pub conn: SyncConn,
    /// `in_pkts` to set (`sync_threshold`).
    pub in_pkts: u32,
    /// Message version it came in.
    pub version: Version,
}

/// Why the backup skipped one entry but went on with the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SkipReason {
    /// Unknown option without the optional bit.
    UnknownMandatoryOption(u8),
    /// IPVS has no such protocol.
    UnsupportedProtocol(u8),
    /// State out of range for the protocol.
    InvalidState {
        /// Protocol.
        protocol: u8,
        /// State.
        state: u16,
    },
    /// PE data without a PE name.
    PeDataWithoutName,
    /// PE name not loaded on the backup.
    UnknownPe(String),
}

/// What the backup does with a datagram, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BackupAction {
    /// Install or refresh this entry (see [`reconcile`]).
    Install(ConnInstall),
    /// Entry `index` was skipped.
    SkipEntry {
        /// Entry index in the message.
        index: usize,
        /// Why.
        reason: SkipReason,
    },
    /// The message was ignored because of its syncid.
    IgnoredSyncid(u8),
    /// The message (or its rest, after the installs before this action) was dropped.
    Drop(#[serde(skip)] Error),
}

/// Counters of a [`SyncBackup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct BackupStats {
    /// Datagrams seen.
    pub messages: u64,
    /// Entries turned into installs.
    pub installs: u64,
    /// Entries skipped.
    pub skipped: u64,
    /// Datagrams (or rests of datagrams) dropped.
    pub dropped: u64,
    /// Datagrams ignored for their syncid.
    pub ignored: u64,
}

/// The backup's message processor.
#[derive(Debug, Clone, Default)]
pub struct SyncBackup {
    cfg: BackupCfg,
    stats: BackupStats,
}

impl SyncBackup {
    /// A backup with this configuration.
    pub fn new(cfg: BackupCfg) -> Self {
        SyncBackup {
            cfg,
            stats: BackupStats::default(),
        }
    }

    /// The configuration.
    pub fn cfg(&self) -> &BackupCfg {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> BackupStats {
        self.stats
    }

    /// Process one received datagram, appending actions to `out`.
    pub fn process(&mut self, datagram: &[u8], out: &mut Vec<BackupAction>) {
        self.stats.messages += 1;
        let pkt = match Packet::new(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.dropped += 1;
                out.push(BackupAction::Drop(e));
                return;
            }
        };
        if self.cfg.syncid != 0 && pkt.syncid() != self.cfg.syncid {
            self.stats.ignored += 1;
            out.push(BackupAction::IgnoredSyncid(pkt.syncid()));
            return;
        }
        for (index, e) in pkt.entries().enumerate() {
            let view = match e {
                Ok(v) => v,
                Err(Error::UnknownMandatoryOption { ptype, .. }) => {
                    self.stats.skipped += 1;
                    out.push(BackupAction::SkipEntry {
                        index,
                        reason: SkipReason::UnknownMandatoryOption(ptype),
                    });
                    continue;
                }
                Err(e) => {
                    self.stats.dropped += 1;
                    out.push(BackupAction::Drop(e));
                    return;
                }
            };
            match self.resolve(view.to_conn(), pkt.version()) {
                Ok(inst) => {
                    self.stats.installs += 1;
                    out.push(BackupAction::Install(inst));
                }
                Err(reason) => {
                    self.stats.skipped += 1;
                    out.push(BackupAction::SkipEntry { index, reason });
                }
            }
        }
    }

    /// Convenience: process and return only the installs.
    pub fn installs(&mut self, datagram: &[u8]) -> Vec<ConnInstall> {
        let mut out = Vec::new();
        self.process(datagram, &mut out);
        out.into_iter()
            .filter_map(|a| match a {
                BackupAction::Install(i) => Some(i),
                _ => None,
            })
            .collect()
    }

    /// The per-entry checks and value resolution of `ip_vs_proc_sync_conn`
    /// and `ip_vs_proc_conn`.
    fn resolve(&self, mut c: SyncConn, version: Version) -> Result<ConnInstall, SkipReason> {
        let flags = match version {
            Version::V1 => (c.flags & IP_VS_CONN_F_BACKUP_MASK) | IP_VS_CONN_F_SYNC,
            Version::V0 => (c.flags | IP_VS_CONN_F_SYNC) & !IP_VS_CONN_F_HASHED,
        };
        let template = flags & crate::consts::flags::IP_VS_CONN_F_TEMPLATE != 0;
        if !template {
            let n = num_states(c.protocol).ok_or(SkipReason::UnsupportedProtocol(c.protocol))?;
            if c.state >= n {
                return Err(SkipReason::InvalidState {
                    protocol: c.protocol,
                    state: c.state,
                });
            }
        }
        // ip_vs_conn_fill_param_sync: PE data needs a known PE name.
        if c.pe_data.is_some() {
            let name = c.pe_name.as_deref().ok_or(SkipReason::PeDataWithoutName)?;
            let name = String::from_utf8_lossy(name).into_owned();
            if !self.cfg.pe_names.contains(&name) {
                return Err(SkipReason::UnknownPe(name));
            }
        }
        if !template || c.pe_data.is_none() {
            c.pe_data = None;
            c.pe_name = None;
        }
        c.flags = flags;
        if c.timeout == 0 {
            c.timeout = self.cfg.default_timeout(c.protocol, c.state, template);
        }
        Ok(ConnInstall {
            conn: c,
            in_pkts: self.cfg.sync_threshold,
            version,
        })
    }
}

/// What a table holds under the key of an incoming entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    /// Its real server address.
    pub daddr: IpAddr,
    /// Its real server port.
    pub dport: u16,
    /// Its flags.
    pub flags: u32,
    /// Is it bound to a real server (`cp->dest`)?
    pub bound: bool,
}

/// Active/inactive counter move on the bound real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CounterMove {
    /// `activeconns--`, `inactconns++`.
    ActiveToInactive,
    /// `inactconns--`, `activeconns++`.
    InactiveToActive,
}

/// The kernel backup's decision for one install (`ip_vs_proc_conn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reconcile {
    /// Create a new entry (bind it to the real server if the backup has the
    /// same service and real server, else keep it unbound).
    Create,
    /// Expire the existing connection now (it points elsewhere) and create.
    ReplaceExisting,
    /// The existing connection points elsewhere and the message says
    /// INACTIVE: an expiration message of a replaced connection; ignore it.
    IgnoreStale,
    /// Keep the entry (and its real server); set these flags, the state,
    /// the timeout, `in_pkts` and the sequence data; try to bind if unbound.
    Update {
        /// New flags: the message's INACTIVE/SEQ bits, the rest kept.
        flags: u32,
        /// Counter adjustment, for a bound non-template whose INACTIVE bit flips.
        counters: Option<CounterMove>,
    },
}

/// Decide what to do with `inst` given what the table holds under its key.
pub fn reconcile(existing: Option<&Existing>, inst: &ConnInstall) -> Reconcile {
    let c = &inst.conn;
    let template = c.is_template();
    let Some(e) = existing else {
        return Reconcile::Create;
    };
    if !template && (e.dport != c.dport || e.daddr != c.daddr) {
        return if c.flags & IP_VS_CONN_F_INACTIVE == 0 {
            Reconcile::ReplaceExisting
        } else {
            Reconcile::IgnoreStale
        };
    }
    let counters = if (e.flags ^ c.flags) & IP_VS_CONN_F_INACTIVE != 0 && !template && e.bound {
        Some(if c.flags & IP_VS_CONN_F_INACTIVE != 0 {
            CounterMove::ActiveToInactive
        } else {
            CounterMove::InactiveToActive
        })
    } else {
        None
    };
    Reconcile::Update {
        flags: (c.flags & IP_VS_CONN_F_BACKUP_UPD_MASK) | (e.flags & !IP_VS_CONN_F_BACKUP_UPD_MASK),
        counters,
    }
}

/// One entry of a [`BackupTable`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableEntry {
    /// The entry (flags, state, timeout as installed).
    pub conn: SyncConn,
    /// `in_pkts`.
    pub in_pkts: u32,
    /// When its timer fires.
    pub expires: Duration,
}

/// A backup connection table with the kernel's sync rules: entries keyed as
/// the kernel looks them up, timers re-armed to the full synced timeout on
/// each message (`ip_vs_conn_put`), expired by [`BackupTable::expire`].
/// Binding to real servers and their counters is the engine's business.
#[derive(Debug, Clone, Default)]
pub struct BackupTable {
    entries: HashMap<ConnKey, TableEntry>,
}

impl BackupTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply one install at `now`; returns the decision taken.
    pub fn apply(&mut self, now: Duration, inst: &ConnInstall) -> Reconcile {
        let key = inst.conn.key();
        let existing = self.entries.get(&key).map(|t| Existing {
            daddr: t.conn.daddr,
            dport: t.conn.dport,
            flags: t.conn.flags,
            bound: false,
        });
        let r = reconcile(existing.as_ref(), inst);
        let expires = now + Duration::from_secs(u64::from(inst.conn.timeout));
        match r {
            Reconcile::IgnoreStale => {}
            Reconcile::Create | Reconcile::ReplaceExisting => {
                self.entries.insert(
                    key,
                    TableEntry {
                        conn: inst.conn.clone(),
                        in_pkts: inst.in_pkts,
                        expires,
                    },
                );
            }
            Reconcile::Update { flags, .. } => {
                if let Some(t) = self.entries.get_mut(&key) {
                    t.conn.flags = flags;
                    t.conn.state = inst.conn.state;
                    t.conn.timeout = inst.conn.timeout;
                    if inst.conn.seq.is_some() {
                        t.conn.seq = inst.conn.seq;
                    }
                    t.in_pkts = inst.in_pkts;
                    t.expires = expires;
                }
            }
        }
        r
    }

    /// Remove entries whose timer fired at or before `now`; returns them.
    pub fn expire(&mut self, now: Duration) -> Vec<TableEntry> {
        let keys: Vec<ConnKey> = self
            .entries
            .iter()
            .filter(|(_, t)| t.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| self.entries.remove(&k))
            .collect()
    }

    /// Look an entry up.
    pub fn get(&self, key: &ConnKey) -> Option<&TableEntry> {
        self.entries.get(key)
    }

    /// Number of entries (connections and templates).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries, sorted by key (stable output).
    pub fn entries(&self) -> Vec<&TableEntry> {
        let mut v: Vec<_> = self.entries.iter().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v.into_iter().map(|(_, t)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::flags::*;
    use crate::master::{ChainLink, ConnSyncState, SyncMaster, SyncParams};
    use crate::wire::{MessageBuf, SyncMessage};

    fn conn(protocol: u8, state: u16, flags: u32, timeout: u32) -> SyncConn {
        SyncConn {
            protocol,
            caddr: "203.0.113.5".parse().unwrap(),
            cport: 51234,
            vaddr: "10.0.0.100".parse().unwrap(),
            vport: 80,
            daddr: "192.168.1.11".parse().unwrap(),
            dport: 80,
            flags,
            state,
            fwmark: 0,
            timeout,
            seq: None,
            pe_data: None,
            pe_name: None,
        }
    }

    fn msg(version: Version, syncid: u8, conns: &[SyncConn]) -> Vec<u8> {
        let mut m = MessageBuf::new(version, syncid);
        for c in conns {
            m.push(c).unwrap();
        }
        m.finish()
    }

    #[test]
    fn v1_install_masks_flags_and_keeps_the_message_timeout() {
        let mut b = SyncBackup::default();
        let c = conn(
            6,
            1,
            IP_VS_CONN_F_DROUTE
                | IP_VS_CONN_F_NOOUTPUT
                | IP_VS_CONN_F_NFCT
                | IP_VS_CONN_F_ONE_PACKET,
            873,
        );
        let got = b.installs(&msg(Version::V1, 0, std::slice::from_ref(&c)));
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].conn.flags,
            IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_SYNC
        );
        assert_eq!(got[0].conn.timeout, 873);
        assert_eq!(got[0].in_pkts, 3);
        assert_eq!(got[0].conn.state, 1);
    }

    #[test]
    fn v0_and_zero_timeouts_come_from_the_backup_tables() {
        let mut b = SyncBackup::default();
        let conns = [
            conn(6, 1, 0, 0),
            conn(6, 4, 0, 0),
            conn(17, 0, IP_VS_CONN_F_INACTIVE, 0),
            conn(132, 8, 0, 0),
            conn(6, 1, IP_VS_CONN_F_TEMPLATE, 0),
        ];
        for v in [Version::V0, Version::V1] {
            let got: Vec<u32> = b
                .installs(&msg(v, 0, &conns))
                .iter()
                .map(|i| i.conn.timeout)
                .collect();
            assert_eq!(got, vec![900, 120, 300, 900, 180], "{v:?}");
        }
        // v0 keeps the non-masked 16 bits (HASHED cleared, SYNC set).
        let got = b.installs(&msg(Version::V0, 0, &[conn(6, 1, 0x2040, 0)]));
        assert_eq!(got[0].conn.flags, 0x2000 | IP_VS_CONN_F_SYNC);
    }

    #[test]
    fn syncid_filter() {
        let d = msg(Version::V1, 5, &[conn(6, 1, 0, 900)]);
        let mut any = SyncBackup::new(BackupCfg::default());
        assert_eq!(any.installs(&d).len(), 1);
        let mut five = SyncBackup::new(BackupCfg {
            syncid: 5,
            ..BackupCfg::default()
        });
        assert_eq!(five.installs(&d).len(), 1);
        let mut six = SyncBackup::new(BackupCfg {
            syncid: 6,
            ..BackupCfg::default()
        });
        let mut out = vec![];
        six.process(&d, &mut out);
        assert_eq!(out, vec![BackupAction::IgnoredSyncid(5)]);
    }

    #[test]
    fn bad_protocol_state_and_pe_skip_single_entries() {
        let mut t = conn(17, 0, IP_VS_CONN_F_TEMPLATE, 180);
        t.pe_data = Some(b"call-1".to_vec());
        let mut no_name = t.clone();
        no_name.pe_name = None;
        let mut sip = t.clone();
        sip.pe_name = Some(b"sip".to_vec());
        let mut other = t.clone();
        other.pe_name = Some(b"xyz".to_vec());
        let fwmark_tpl = SyncConn {
            protocol: 0,
            state: 7, // template states are not checked
            ..conn(0, 0, IP_VS_CONN_F_TEMPLATE, 300)
        };
        let conns = [
            conn(47, 0, 0, 60), // GRE: no IPVS protocol
            conn(6, 11, 0, 60), // TCP state out of range
            no_name,
            other,
            sip.clone(),
            fwmark_tpl.clone(),
        ];
        let mut b = SyncBackup::default();
        let mut out = vec![];
        b.process(&msg(Version::V1, 0, &conns), &mut out);
        let skips: Vec<_> = out
            .iter()
            .filter_map(|a| match a {
                BackupAction::SkipEntry { index, reason } => Some((*index, reason.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            skips,
            vec![
                (0, SkipReason::UnsupportedProtocol(47)),
                (
                    1,
                    SkipReason::InvalidState {
                        protocol: 6,
                        state: 11
                    }
                ),
                (2, SkipReason::PeDataWithoutName),
                (3, SkipReason::UnknownPe("xyz".into())),
            ]
        );
        let installs: Vec<_> = out
            .iter()
            .filter_map(|a| match a {
                BackupAction::Install(i) => Some(i.conn.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(installs.len(), 2);
        assert_eq!(installs[0].pe_data.as_deref(), Some(&b"call-1"[..]));
        assert_eq!(installs[1].state, 7);
        assert_eq!(b.stats().skipped, 4);
    }

    #[test]
    fn truncated_message_keeps_entries_before_the_damage() {
        let mut d = msg(Version::V1, 0, &[conn(6, 1, 0, 900), conn(6, 1, 0, 900)]);
        d[4] = 3; // announces a third entry that is not there
        let mut out = vec![];
        SyncBackup::default().process(&d, &mut out);
        assert_eq!(out.len(), 3);
        assert!(matches!(
            out[2],
            BackupAction::Drop(Error::EntryTruncated { index: 2 })
        ));
    }

    #[test]
    fn reconcile_follows_ip_vs_proc_conn() {
        let inst = |flags: u32, daddr: &str| ConnInstall {
            conn: SyncConn {
                daddr: daddr.parse().unwrap(),
                ..conn(6, 1, flags | IP_VS_CONN_F_SYNC, 900)
            },
            in_pkts: 3,
            version: Version::V1,
        };
        let ex = Existing {
            daddr: "192.168.1.11".parse().unwrap(),
            dport: 80,
            flags: IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_SYNC | IP_VS_CONN_F_HASHED,
            bound: true,
        };
        assert_eq!(reconcile(None, &inst(0, "192.168.1.11")), Reconcile::Create);
        assert_eq!(
            reconcile(Some(&ex), &inst(0, "192.168.1.12")),
            Reconcile::ReplaceExisting
        );
        assert_eq!(
            reconcile(Some(&ex), &inst(IP_VS_CONN_F_INACTIVE, "192.168.1.12")),
            Reconcile::IgnoreStale
        );
        assert_eq!(
            reconcile(Some(&ex), &inst(IP_VS_CONN_F_INACTIVE, "192.168.1.11")),
            Reconcile::Update {
                flags: ex.flags | IP_VS_CONN_F_INACTIVE,
                counters: Some(CounterMove::ActiveToInactive),
            }
        );
        // A template keeps its real server whatever the message says.
        let t = inst(IP_VS_CONN_F_TEMPLATE, "192.168.1.12");
        assert!(matches!(
            reconcile(Some(&ex), &t),
            Reconcile::Update { counters: None, .. }
        ));
    }

    #[test]
    fn master_to_backup_table_holds_connection_and_template() {
        let mut m = SyncMaster::new(SyncParams::default());
        let c = conn(6, 1, IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_HASHED, 900);
        let t = SyncConn {
            caddr: "203.0.113.0".parse().unwrap(),
            cport: 0,
            ..conn(
                6,
                1,
                IP_VS_CONN_F_TEMPLATE | IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_INACTIVE,
                360,
            )
        };
        let mut cst = ConnSyncState::new(Duration::ZERO);
        cst.old_state = 1;
        let mut tst = ConnSyncState::new(Duration::ZERO);
        for pkts in 1..=3 {
            let mut chain = [
                ChainLink {
                    conn: &c,
                    st: &mut cst,
                },
                ChainLink {
                    conn: &t,
                    st: &mut tst,
                },
            ];
            m.sync_conn(Duration::ZERO, &mut chain, pkts);
        }
        let d = m.poll_transmit(Duration::from_secs(2)).unwrap();
        let mut b = SyncBackup::default();
        let mut table = BackupTable::new();
        for i in b.installs(&d) {
            table.apply(Duration::from_secs(2), &i);
        }
        assert_eq!(table.len(), 2);
        let tc = table.get(&c.key()).unwrap();
        assert_eq!(tc.conn.flags, IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_SYNC);
        assert_eq!(tc.expires, Duration::from_secs(902));
        let tt = table.get(&t.key()).unwrap();
        assert!(tt.conn.is_template());
        assert_eq!(tt.expires, Duration::from_secs(362));
        assert_eq!(table.expire(Duration::from_secs(400)).len(), 1);
        assert_eq!(table.len(), 1);
        // The message decodes to the same entries the table got.
        assert_eq!(SyncMessage::decode(&d).unwrap().conns.len(), 4);
    }
}
