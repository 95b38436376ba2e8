//! The engine's own configuration types. The daemon maps keepalived.conf
//! (`lvs-config`) onto these; the engine never sees the file format. Field
//! names are keepalived.conf(5) keywords.

use std::net::IpAddr;
use std::time::Duration;

use lvs_wire::{Family, VrrpVersion};
use serde::{Deserialize, Serialize};

use crate::Error;

/// A virtual address with keepalived's extended syntax
/// (`IP[/PREFIX] [brd IP] [dev IF] [scope S] [label L]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vip {
    /// Address.
    pub addr: IpAddr,
    /// Prefix length (default /32 or /128).
    pub prefix: u8,
    /// Interface; `None` = the instance's interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// Broadcast address (IPv4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brd: Option<IpAddr>,
    /// Scope name (`global`, `site`, `link`, `host`, `nowhere`) or number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Address label (IPv4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Vip {
    /// A host address on the instance interface.
    pub fn host(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
            dev: None,
            brd: None,
            scope: None,
            label: None,
        }
    }
}

/// A `unicast_peer` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnicastPeer {
    /// Peer address.
    pub addr: IpAddr,
    /// `min_ttl` (implies `check_unicast_src`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ttl: Option<u8>,
    /// `max_ttl` (implies `check_unicast_src`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<u8>,
}

/// `authentication { auth_type … }` (VRRPv2 only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AuthCfg {
    /// No authentication.
    #[default]
    None,
    /// `auth_type PASS` + `auth_pass` (truncated to 8 bytes).
    Pass(String),
}

/// `old_unicast_checksum [never]` (VRRPv3/IPv4 unicast only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OldUnicastChecksum {
    /// Default: send the RFC form, switch to the old form if a peer is seen
    /// using it.
    #[default]
    Auto,
    /// `old_unicast_checksum`: always send the pre-1.3.6 form.
    Send,
    /// `old_unicast_checksum never`: never detect, never send it.
    Never,
}

/// `track_interface { IF [weight W [reverse]] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInterface {
    /// Interface name.
    pub name: String,
    /// 0 = FAULT when down; otherwise the priority adjustment.
    #[serde(default)]
    pub weight: i32,
    /// `reverse`.
    #[serde(default)]
    pub reverse: bool,
}

/// `track_script { S [weight W] [reverse] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackScript {
    /// `vrrp_script` name.
    pub name: String,
    /// Overrides the script's own weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// `reverse`.
    #[serde(default)]
    pub reverse: bool,
}

/// `track_file { F [weight W] [reverse] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackFile {
    /// `track_file` name.
    pub name: String,
    /// Overrides the file's own weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// `reverse`.
    #[serde(default)]
    pub reverse: bool,
}

/// `vrrp_script NAME { … }` — the parts the engine needs (the driver runs it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptCfg {
    /// Name.
    pub name: String,
    /// Default weight (0 = FAULT after `fall` failures).
    #[serde(default)]
    pub weight: i32,
    /// `reverse` on the script itself.
    #[serde(default)]
    pub reverse: bool,
    /// Consecutive successes to become up.
    #[serde(default = "one")]
    pub rise: u32,
    /// Consecutive failures to become down.
    #[serde(default = "one")]
    pub fall: u32,
    /// `init_fail`: start down.
    #[serde(default)]
    pub init_fail: bool,
}

/// `track_file NAME { … }` — weight only (the driver reads the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCfg {
    /// Name.
    pub name: String,
    /// Default weight (0 = non-zero value means FAULT).
    #[serde(default)]
    pub weight: i32,
    /// `reverse`.
    #[serde(default)]
    pub reverse: bool,
}

fn one() -> u32 {
    1
}

/// One `vrrp_instance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceCfg {
    /// Instance name (`vrrp_instance NAME`).
    pub name: String,
    /// `interface`.
    pub interface: String,
    /// `virtual_router_id`, 1..=255.
    pub virtual_router_id: u8,
    /// `priority`, 1..=255 (255 = address owner).
    pub priority: u8,
    /// `state MASTER` (only changes the start for the address owner).
    pub state_master: bool,
    /// `version`.
    pub version: VrrpVersion,
    /// Address family (all VIPs share it).
    pub family: Family,
    /// `advert_int` (v2: whole seconds; v3: 10 ms units, 0.01..40.95 s).
    #[serde(with = "duration_ms")]
    pub advert_int: Duration,
    /// `authentication`.
    pub authentication: AuthCfg,
    /// `virtual_ipaddress`.
    pub virtual_ipaddress: Vec<Vip>,
    /// `virtual_ipaddress_excluded` (not carried in adverts).
    pub virtual_ipaddress_excluded: Vec<Vip>,
    /// Source address of adverts: `unicast_src_ip` / `mcast_src_ip` or the
    /// interface's primary address (link-local for IPv6), resolved by the
    /// driver. Also used to break priority ties.
    pub src_ip: Option<IpAddr>,
    /// `unicast_peer` (non-empty = unicast mode).
    pub unicast_peer: Vec<UnicastPeer>,
    /// `unicast_ttl` (IPv4, default 255).
    pub unicast_ttl: u8,
    /// `check_unicast_src`.
    pub check_unicast_src: bool,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay`.
    #[serde(with = "duration_ms")]
    pub preempt_delay: Duration,
    /// `garp_master_delay` (second burst; 0 = none).
    #[serde(with = "duration_ms")]
    pub garp_master_delay: Duration,
    /// `garp_master_repeat` (≥ 1).
    pub garp_master_repeat: u32,
    /// `garp_master_refresh` (0 = none).
    #[serde(with = "duration_ms")]
    pub garp_master_refresh: Duration,
    /// `garp_master_refresh_repeat`.
    pub garp_master_refresh_repeat: u32,
    /// `garp_lower_prio_repeat` (0 = none).
    pub garp_lower_prio_repeat: u32,
    /// `down_timer_adverts` 1..=100.
    pub down_timer_adverts: u32,
    /// `lower_prio_no_advert`.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`.
    pub higher_prio_send_advert: bool,
    /// `owner_ignore_adverts`.
    pub owner_ignore_adverts: bool,
    /// `skip_check_adv_addr`.
    pub skip_check_adv_addr: bool,
    /// `v3_checksum_as_v2`.
    pub v3_checksum_as_v2: bool,
    /// `old_unicast_checksum`.
    pub old_unicast_checksum: OldUnicastChecksum,
    /// `strict_mode` / global `vrrp_strict`.
    pub strict_mode: bool,
    /// `dont_track_primary`.
    pub dont_track_primary: bool,
    /// `track_interface`.
    pub track_interface: Vec<TrackInterface>,
    /// `track_script`.
    pub track_script: Vec<TrackScript>,
    /// `track_file`.
    pub track_file: Vec<TrackFile>,
}

impl Default for InstanceCfg {
    fn default() -> Self {
        Self {
            name: String::new(),
            interface: String::new(),
            virtual_router_id: 0,
            priority: 100,
            state_master: false,
            version: VrrpVersion::V2,
            family: Family::Inet,
            advert_int: Duration::from_secs(1),
            authentication: AuthCfg::None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            src_ip: None,
            unicast_peer: Vec::new(),
            unicast_ttl: 255,
            check_unicast_src: false,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_master_refresh: Duration::ZERO,
            garp_master_refresh_repeat: 1,
            garp_lower_prio_repeat: 5,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            owner_ignore_adverts: false,
            skip_check_adv_addr: false,
            v3_checksum_as_v2: false,
            old_unicast_checksum: OldUnicastChecksum::Auto,
            strict_mode: false,
            dont_track_primary: false,
            track_interface: Vec::new(),
            track_script: Vec::new(),
            track_file: Vec::new(),
        }
    }
}

/// `vrrp_sync_group NAME { group { … } }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncGroupCfg {
    /// Name.
    pub name: String,
    /// Member instance names.
    pub group: Vec<String>,
    /// Group-level `track_interface` (applies to every member).
    pub track_interface: Vec<TrackInterface>,
    /// Group-level `track_script`.
    pub track_script: Vec<TrackScript>,
    /// Group-level `track_file`.
    pub track_file: Vec<TrackFile>,
}

/// Everything one engine runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineCfg {
    /// Instances.
    pub instances: Vec<InstanceCfg>,
    /// Sync groups.
    pub sync_groups: Vec<SyncGroupCfg>,
    /// `vrrp_script` blocks.
    pub scripts: Vec<ScriptCfg>,
    /// `track_file` blocks.
    pub files: Vec<FileCfg>,
}

/// A non-fatal adjustment made while completing the configuration, in
/// keepalived's words where it has them.
pub type Warning = String;

impl InstanceCfg {
    /// Whether `unicast_peer` is non-empty.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peer.is_empty()
    }

    /// Advert interval in centiseconds (the v3 wire unit).
    pub fn advert_int_cs(&self) -> u16 {
        (self.advert_int.as_millis() / 10) as u16
    }

    /// Validate and apply keepalived's completion rules (`vrrp_complete_instance`),
    /// including `strict_mode` effects. Returns warnings for silent fixes.
    pub fn complete(&mut self) -> Result<Vec<Warning>, Error> {
        let mut w = Vec::new();
        let bad = |msg: String| Error::Config {
            instance: self.name.clone(),
            msg,
        };
        if self.virtual_router_id == 0 {
            return Err(bad("the virtual router id must be set (1..255)".into()));
        }
        if self.priority == 0 {
            return Err(bad("priority must be 1..255".into()));
        }
        if self.family == Family::Inet6 && self.version == VrrpVersion::V2 {
            w.push(format!(
                "({}) IPv6 instances always use VRRP version 3",
                self.name
            ));
            self.version = VrrpVersion::V3;
        }
        for v in &self.virtual_ipaddress {
            if Family::of(v.addr) != self.family {
                return Err(bad(format!(
                    "virtual address {} is not of the instance's address family",
                    v.addr
                )));
            }
        }
        match self.version {
            VrrpVersion::V2 => {
                let ms = self.advert_int.as_millis();
                if !ms.is_multiple_of(1000) || !(1000..=255_000).contains(&ms) {
                    let secs = ((ms + 500) / 1000).clamp(1, 255) as u64;
                    w.push(format!(
                        "({}) VRRPv2 advert_int must be an integer 1..255, using {secs}",
                        self.name
                    ));
                    self.advert_int = Duration::from_secs(secs);
                }
            }
            VrrpVersion::V3 => {
                let cs = (self.advert_int.as_millis() / 10).clamp(1, 4095) as u64;
                self.advert_int = Duration::from_millis(cs * 10);
                if self.authentication != AuthCfg::None {
                    w.push(format!(
                        "({}) authentication is not supported with VRRPv3 - ignoring",
                        self.name
                    ));
                    self.authentication = AuthCfg::None;
                }
            }
        }
        if let AuthCfg::Pass(p) = &self.authentication {
            if p.len() > 8 {
                w.push(format!(
                    "({}) truncating auth_pass to 8 characters",
                    self.name
                ));
                self.authentication = AuthCfg::Pass(p.chars().take(8).collect());
            }
        }
        if self.garp_master_repeat == 0 {
            self.garp_master_repeat = 1;
        }
        self.down_timer_adverts = self.down_timer_adverts.clamp(1, 100);
        if self.nopreempt && (self.state_master || self.priority == 255) {
            w.push(format!(
                "({}) nopreempt is incompatible with state MASTER / priority 255 - clearing",
                self.name
            ));
            self.nopreempt = false;
        }
        if !self.preempt_delay.is_zero() && (self.nopreempt || self.state_master) {
            w.push(format!(
                "({}) preempt_delay is incompatible with nopreempt / state MASTER - clearing",
                self.name
            ));
            self.preempt_delay = Duration::ZERO;
        }
        if self
            .unicast_peer
            .iter()
            .any(|p| p.min_ttl.is_some() || p.max_ttl.is_some())
        {
            self.check_unicast_src = true;
        }
        if self.strict_mode {
            self.apply_strict(&mut w)?;
        }
        if self.virtual_ipaddress.is_empty() {
            w.push(format!(
                "({}) No VIP specified; at least one is required",
                self.name
            ));
        }
        Ok(w)
    }

    /// `vrrp_strict` / `strict_mode` (keepalived.md §3.11).
    fn apply_strict(&mut self, w: &mut Vec<Warning>) -> Result<(), Error> {
        let bad = |msg: &str| Error::Config {
            instance: self.name.clone(),
            msg: format!("strict mode: {msg}"),
        };
        if self.virtual_ipaddress.is_empty() {
            return Err(bad("at least one virtual address is required"));
        }
        if self.is_unicast() {
            return Err(bad("unicast peers are not allowed"));
        }
        if self.state_master != (self.priority == 255) {
            return Err(bad("state MASTER requires priority 255 and vice versa"));
        }
        if self.family == Family::Inet6 {
            if let Some(IpAddr::V6(a)) = self.virtual_ipaddress.first().map(|v| v.addr) {
                if a.segments()[0] & 0xffc0 != 0xfe80 {
                    return Err(bad("the first IPv6 virtual address must be link-local"));
                }
            }
        }
        if self.authentication != AuthCfg::None {
            w.push(format!(
                "({}) strict mode does not support authentication - ignoring",
                self.name
            ));
            self.authentication = AuthCfg::None;
        }
        if !self.preempt_delay.is_zero() {
            w.push(format!(
                "({}) strict mode does not support preempt_delay - clearing",
                self.name
            ));
            self.preempt_delay = Duration::ZERO;
        }
        self.down_timer_adverts = 3;
        self.garp_lower_prio_repeat = 0;
        self.lower_prio_no_advert = true;
        self.higher_prio_send_advert = false;
        if self.priority == 255 {
            self.owner_ignore_adverts = true;
        }
        Ok(())
    }
}

/// Durations as integer milliseconds in JSON.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> InstanceCfg {
        InstanceCfg {
            name: "VI_1".into(),
            interface: "eth0".into(),
            virtual_router_id: 51,
            virtual_ipaddress: vec![Vip::host("10.0.0.100".parse().unwrap())],
            ..Default::default()
        }
    }

    #[test]
    fn v2_advert_int_is_rounded() {
        let mut c = base();
        c.advert_int = Duration::from_millis(1500);
        let w = c.complete().unwrap();
        assert_eq!(c.advert_int, Duration::from_secs(2));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn v3_advert_int_centiseconds_and_auth_dropped() {
        let mut c = base();
        c.version = VrrpVersion::V3;
        c.advert_int = Duration::from_millis(105);
        c.authentication = AuthCfg::Pass("x".into());
        c.complete().unwrap();
        assert_eq!(c.advert_int_cs(), 10);
        assert_eq!(c.authentication, AuthCfg::None);
    }

    #[test]
    fn strict_mode_effects() {
        let mut c = base();
        c.strict_mode = true;
        c.preempt_delay = Duration::from_secs(5);
        c.authentication = AuthCfg::Pass("secret".into());
        c.down_timer_adverts = 7;
        c.complete().unwrap();
        assert_eq!(
            (
                c.preempt_delay,
                c.down_timer_adverts,
                c.garp_lower_prio_repeat
            ),
            (Duration::ZERO, 3, 0)
        );
        assert!(c.lower_prio_no_advert);
        assert_eq!(c.authentication, AuthCfg::None);
        let mut u = base();
        u.strict_mode = true;
        u.unicast_peer = vec![UnicastPeer {
            addr: "10.0.0.2".parse().unwrap(),
            min_ttl: None,
            max_ttl: None,
        }];
        assert!(u.complete().is_err());
    }

    #[test]
    fn nopreempt_cleared_for_owner_and_password_truncated() {
        let mut c = base();
        c.priority = 255;
        c.nopreempt = true;
        c.authentication = AuthCfg::Pass("0123456789".into());
        c.complete().unwrap();
        assert!(!c.nopreempt);
        assert_eq!(c.authentication, AuthCfg::Pass("01234567".into()));
    }

    #[test]
    fn vrid_required() {
        let mut c = base();
        c.virtual_router_id = 0;
        assert!(c.complete().is_err());
    }
}
