//! `lvs_sync_daemon IFACE [[inst] VRRP_INSTANCE] [id N] [maxlen N] [port N]
//! [ttl N] [group IP]` with keepalived's semantics.
//!
//! - Defaults: syncid = the VRID of the named instance, or 0; port 8848;
//!   ttl 1; group 224.0.0.81; maxlen unset = the kernel's default for the
//!   role (master 1500 − headers, backup the interface MTU − headers).
//! - Without an instance both the master and the backup daemons run for the
//!   whole life of the process. With one, the backup runs while the instance
//!   is INIT/BACKUP/FAULT and the master while it is MASTER (the backup is
//!   stopped before the master starts, and vice versa); nothing at shutdown.
//! - The deprecated per-instance `lvs_sync_daemon_interface IF` is honoured
//!   when no global `lvs_sync_daemon` is set: that instance drives the roles.

use std::net::IpAddr;

use serde::Serialize;

use crate::backup::BackupCfg;
use crate::consts::{IP_VS_SYNC_GROUP, IP_VS_SYNC_PORT};
use crate::master::SyncParams;
use crate::Error;

/// The `lvs_sync_daemon` declaration as written (`None` = not given).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SyncDaemonDecl {
    /// Interface.
    pub interface: String,
    /// VRRP instance name.
    pub vrrp_instance: Option<String>,
    /// `id N` (syncid).
    pub id: Option<u8>,
    /// `maxlen N`.
    pub maxlen: Option<u16>,
    /// `port N`.
    pub port: Option<u16>,
    /// `ttl N`.
    pub ttl: Option<u8>,
    /// `group IP`.
    pub group: Option<IpAddr>,
    /// `file:line` for messages.
    pub at: String,
}

/// The resolved sync daemon configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncDaemonCfg {
    /// Multicast interface.
    pub interface: String,
    /// VRRP instance whose state selects the role (None: both roles).
    pub vrrp_instance: Option<String>,
    /// SyncID sent by the master and filtered on by the backup (0 = all).
    pub syncid: u8,
    /// Configured maxlen (None: the kernel's default for the role).
    pub maxlen: Option<u16>,
    /// UDP port.
    pub port: u16,
    /// Multicast TTL / hop limit.
    pub ttl: u8,
    /// Multicast group.
    pub group: IpAddr,
}

/// State of the VRRP instance that drives the sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VrrpRoleState {
    /// Starting up.
    Init,
    /// BACKUP.
    Backup,
    /// MASTER.
    Master,
    /// FAULT.
    Fault,
    /// The VRRP side is shutting down.
    Stopped,
}

/// Which sync daemons should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Roles {
    /// The master (sender).
    pub master: bool,
    /// The backup (receiver).
    pub backup: bool,
}

/// A sync daemon role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SyncdRole {
    /// Master.
    Master,
    /// Backup.
    Backup,
}

/// Start or stop a sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyncdAction {
    /// Start this role.
    Start(SyncdRole),
    /// Stop this role.
    Stop(SyncdRole),
}

/// IPv4 + UDP header length.
const HLEN_V4: u16 = 20 + 8;
/// IPv6 + UDP header length.
const HLEN_V6: u16 = 40 + 8;

impl SyncDaemonCfg {
    /// Resolve a declaration: `vrid_of(name)` gives the VRID of a
    /// vrrp_instance, or None if there is no such instance.
    pub fn resolve(
        decl: &SyncDaemonDecl,
        vrid_of: impl Fn(&str) -> Option<u8>,
    ) -> Result<SyncDaemonCfg, Error> {
        let vrid = match &decl.vrrp_instance {
            Some(name) => Some(vrid_of(name).ok_or_else(|| Error::UnknownInstance {
                at: decl.at.clone(),
                name: name.clone(),
            })?),
            None => None,
        };
        if decl.interface.is_empty() || decl.interface.len() >= 16 {
            return Err(Error::BadDaemonValue {
                at: decl.at.clone(),
                what: format!("bad interface name {:?}", decl.interface),
            });
        }
        if let Some(g) = decl.group {
            if !g.is_multicast() {
                return Err(Error::BadDaemonValue {
                    at: decl.at.clone(),
                    what: format!("group address {g} is not multicast"),
                });
            }
        }
        let bad = |what: &str| Error::BadDaemonValue {
            at: decl.at.clone(),
            what: what.to_string(),
        };
        if decl.port == Some(0) {
            return Err(bad("port must be 1..65535"));
        }
        if decl.ttl == Some(0) {
            return Err(bad("ttl must be 1..255"));
        }
        if let Some(m) = decl.maxlen {
            if m == 0 || m > 65535 - HLEN_V4 {
                return Err(bad("maxlen must be 1..65507"));
            }
        }
        Ok(SyncDaemonCfg {
            interface: decl.interface.clone(),
            vrrp_instance: decl.vrrp_instance.clone(),
            syncid: decl.id.or(vrid).unwrap_or(0),
            maxlen: decl.maxlen,
            port: decl.port.unwrap_or(IP_VS_SYNC_PORT),
            ttl: decl.ttl.unwrap_or(1),
            group: decl.group.unwrap_or(IpAddr::V4(IP_VS_SYNC_GROUP)),
        })
    }

    fn hlen(&self) -> u16 {
        if self.group.is_ipv6() {
            HLEN_V6
        } else {
            HLEN_V4
        }
    }

    /// The master's message size limit (kernel `start_sync_thread`):
    /// `clamp(maxlen, 1, 65535 − hlen)`, default 1500 − hlen.
    pub fn master_maxlen(&self) -> u16 {
        let h = self.hlen();
        match self.maxlen {
            Some(m) => m.clamp(1, u16::MAX - h),
            None => 1500 - h,
        }
    }

    /// The backup's receive limit: `clamp(maxlen, 1024, 65535 − hlen)`,
    /// default `clamp(mtu, 1500, 65535) − hlen`.
    pub fn backup_maxlen(&self, if_mtu: u32) -> u16 {
        let h = self.hlen();
        match self.maxlen {
            Some(m) => m.clamp(1024, u16::MAX - h),
            None => (if_mtu.clamp(1500, 65535) as u16) - h,
        }
    }

    /// Which daemons run given the driving instance's state (`None` when the
    /// daemon follows no instance, or the instance state is not known yet).
    pub fn roles(&self, instance: Option<VrrpRoleState>) -> Roles {
        match (&self.vrrp_instance, instance) {
            (None, Some(VrrpRoleState::Stopped)) => Roles::default(),
            (None, _) => Roles {
                master: true,
                backup: true,
            },
            (Some(_), Some(VrrpRoleState::Master)) => Roles {
                master: true,
                backup: false,
            },
            (Some(_), Some(VrrpRoleState::Stopped)) => Roles::default(),
            (Some(_), _) => Roles {
                master: false,
                backup: true,
            },
        }
    }

    /// Master tunables for lvsd's own master (kernel sysctl defaults).
    pub fn master_params(&self) -> SyncParams {
        SyncParams {
            syncid: self.syncid,
            maxlen: self.master_maxlen(),
            ..SyncParams::default()
        }
    }

    /// Backup configuration for lvsd's own backup.
    pub fn backup_cfg(&self) -> BackupCfg {
        BackupCfg {
            syncid: self.syncid,
            ..BackupCfg::default()
        }
    }

    /// The destination of the master's datagrams.
    pub fn group_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.group, self.port)
    }
}

impl Default for SyncDaemonCfg {
    fn default() -> Self {
        SyncDaemonCfg {
            interface: "eth0".into(),
            vrrp_instance: None,
            syncid: 0,
            maxlen: None,
            port: IP_VS_SYNC_PORT,
            ttl: 1,
            group: IpAddr::V4(IP_VS_SYNC_GROUP),
        }
    }
}

/// `file:line` of a config span.
fn at(loaded: &lvs_config::Loaded, span: lvs_config::Span) -> String {
    let file = loaded
        .file_of(span)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "<config>".into());
    format!("{file}:{}", span.line)
}

impl SyncDaemonCfg {
    /// The sync daemon a loaded keepalived.conf asks for: the global
    /// `lvs_sync_daemon`, else the first vrrp_instance with the deprecated
    /// `lvs_sync_daemon_interface` (driven by that instance). `Ok(None)`
    /// when there is none.
    pub fn from_loaded(loaded: &lvs_config::Loaded) -> Result<Option<SyncDaemonCfg>, Error> {
        let cfg = &loaded.config;
        let vrid_of = |name: &str| {
            cfg.vrrp_instances
                .iter()
                .find(|v| v.name == name)
                .map(|v| v.virtual_router_id)
        };
        let decl = if let Some(d) = &cfg.global_defs.lvs_sync_daemon {
            SyncDaemonDecl {
                interface: d.interface.clone(),
                vrrp_instance: d.vrrp_instance.clone(),
                id: d.id,
                maxlen: d.maxlen,
                port: d.port,
                ttl: d.ttl,
                group: d.group,
                at: at(loaded, d.span),
            }
        } else if let Some(v) = cfg
            .vrrp_instances
            .iter()
            .find(|v| v.lvs_sync_daemon_interface.is_some())
        {
            SyncDaemonDecl {
                interface: v.lvs_sync_daemon_interface.clone().unwrap_or_default(),
                vrrp_instance: Some(v.name.clone()),
                at: at(loaded, v.span),
                ..SyncDaemonDecl::default()
            }
        } else {
            return Ok(None);
        };
        SyncDaemonCfg::resolve(&decl, vrid_of).map(Some)
    }
}

/// The start/stop actions that take the daemons from `from` to `to`:
/// stops first (keepalived stops the backup before starting the master on
/// becoming MASTER, and the reverse on leaving it).
pub fn transition(from: Roles, to: Roles) -> Vec<SyncdAction> {
    let mut v = Vec::new();
    if from.master && !to.master {
        v.push(SyncdAction::Stop(SyncdRole::Master));
    }
    if from.backup && !to.backup {
        v.push(SyncdAction::Stop(SyncdRole::Backup));
    }
    if !from.master && to.master {
        v.push(SyncdAction::Start(SyncdRole::Master));
    }
    if !from.backup && to.backup {
        v.push(SyncdAction::Start(SyncdRole::Backup));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(vi: Option<&str>) -> SyncDaemonDecl {
        SyncDaemonDecl {
            interface: "eth1".into(),
            vrrp_instance: vi.map(str::to_string),
            at: "keepalived.conf:3".into(),
            ..SyncDaemonDecl::default()
        }
    }

    fn vrid(name: &str) -> Option<u8> {
        (name == "VI_1").then_some(51)
    }

    #[test]
    fn defaults_follow_keepalived_and_the_kernel() {
        let c = SyncDaemonCfg::resolve(&decl(None), vrid).unwrap();
        assert_eq!(c.syncid, 0);
        assert_eq!(c.port, 8848);
        assert_eq!(c.ttl, 1);
        assert_eq!(c.group, "224.0.0.81".parse::<IpAddr>().unwrap());
        assert_eq!(c.master_maxlen(), 1472);
        assert_eq!(c.backup_maxlen(1500), 1472);
        assert_eq!(c.backup_maxlen(9000), 8972);
        let c = SyncDaemonCfg::resolve(&decl(Some("VI_1")), vrid).unwrap();
        assert_eq!(c.syncid, 51);
        let mut d = decl(Some("VI_1"));
        d.id = Some(7);
        d.group = Some("ff02::51".parse().unwrap());
        d.maxlen = Some(100);
        let c = SyncDaemonCfg::resolve(&d, vrid).unwrap();
        assert_eq!(c.syncid, 7);
        assert_eq!(c.master_maxlen(), 100);
        assert_eq!(c.backup_maxlen(1500), 1024);
        d.maxlen = None;
        let c = SyncDaemonCfg::resolve(&d, vrid).unwrap();
        assert_eq!(c.master_maxlen(), 1452);
        assert_eq!(c.master_params().syncid, 7);
        assert_eq!(c.backup_cfg().syncid, 7);
    }

    #[test]
    fn bad_declarations_are_errors_with_location() {
        let e = SyncDaemonCfg::resolve(&decl(Some("VI_9")), vrid).unwrap_err();
        assert_eq!(
            e.to_string(),
            "keepalived.conf:3: lvs_sync_daemon: unknown vrrp_instance VI_9"
        );
        let mut d = decl(None);
        d.group = Some("10.0.0.1".parse().unwrap());
        assert!(SyncDaemonCfg::resolve(&d, vrid)
            .unwrap_err()
            .to_string()
            .contains("not multicast"));
    }

    #[test]
    fn from_keepalived_conf() {
        let text = "global_defs {\n  lvs_sync_daemon eth1 VI_1 maxlen 1200 port 8850 ttl 3 group 224.0.0.90\n}\n\
            vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  virtual_ipaddress {\n    10.0.0.100\n  }\n}\n";
        let loaded = lvs_config::parse_str("keepalived.conf", text);
        let c = SyncDaemonCfg::from_loaded(&loaded).unwrap().unwrap();
        assert_eq!(
            c,
            SyncDaemonCfg {
                interface: "eth1".into(),
                vrrp_instance: Some("VI_1".into()),
                syncid: 51,
                maxlen: Some(1200),
                port: 8850,
                ttl: 3,
                group: "224.0.0.90".parse().unwrap(),
            }
        );
        // Deprecated per-instance form: that instance drives the roles.
        let text = "vrrp_instance VI_2 {\n  interface eth0\n  lvs_sync_daemon_interface eth2\n  virtual_router_id 52\n  priority 100\n  virtual_ipaddress {\n    10.0.0.101\n  }\n}\n";
        let loaded = lvs_config::parse_str("k.conf", text);
        let c = SyncDaemonCfg::from_loaded(&loaded).unwrap().unwrap();
        assert_eq!(c.interface, "eth2");
        assert_eq!(c.vrrp_instance.as_deref(), Some("VI_2"));
        assert_eq!(c.syncid, 52);
        // None configured.
        let loaded = lvs_config::parse_str("k.conf", "global_defs {\n  router_id x\n}\n");
        assert_eq!(SyncDaemonCfg::from_loaded(&loaded).unwrap(), None);
        // An unknown instance is an error at the keyword's line.
        let loaded =
            lvs_config::parse_str("k.conf", "global_defs {\n  lvs_sync_daemon eth1 VI_X\n}\n");
        let e = SyncDaemonCfg::from_loaded(&loaded).unwrap_err().to_string();
        assert!(
            e.contains(":2: lvs_sync_daemon: unknown vrrp_instance VI_X"),
            "{e}"
        );
    }

    #[test]
    fn roles_follow_the_instance_or_run_both() {
        let both = SyncDaemonCfg::resolve(&decl(None), vrid).unwrap();
        assert_eq!(
            both.roles(None),
            Roles {
                master: true,
                backup: true
            }
        );
        let vi = SyncDaemonCfg::resolve(&decl(Some("VI_1")), vrid).unwrap();
        let init = vi.roles(Some(VrrpRoleState::Init));
        let master = vi.roles(Some(VrrpRoleState::Master));
        let fault = vi.roles(Some(VrrpRoleState::Fault));
        assert_eq!(
            init,
            Roles {
                master: false,
                backup: true
            }
        );
        assert_eq!(fault, init);
        assert_eq!(
            transition(Roles::default(), init),
            vec![SyncdAction::Start(SyncdRole::Backup)]
        );
        assert_eq!(
            transition(init, master),
            vec![
                SyncdAction::Stop(SyncdRole::Backup),
                SyncdAction::Start(SyncdRole::Master)
            ]
        );
        assert_eq!(
            transition(master, fault),
            vec![
                SyncdAction::Stop(SyncdRole::Master),
                SyncdAction::Start(SyncdRole::Backup)
            ]
        );
        assert_eq!(
            transition(master, vi.roles(Some(VrrpRoleState::Stopped))),
            vec![SyncdAction::Stop(SyncdRole::Master)]
        );
    }
}
