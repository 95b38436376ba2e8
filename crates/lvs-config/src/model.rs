//! The typed configuration model: what a keepalived.conf means after lowering.
//!
//! Field names are keepalived.conf(5) keywords. Values carry keepalived's
//! defaults already applied (e.g. `persistence_timeout` given without a value
//! is `Some(360)`, a missing `lb_algo` is `wlc`), so consumers never re-derive
//! them. Every block and list item keeps the [`Span`] of its keyword.
//!
//! Architecture Invariant: this module is plain data. It is produced only by
//! `lower`, never by the daemon, and engines map it into their own types.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::Serialize;

/// A position in a source file: `file` indexes [`crate::Loaded::files`]
/// (0 is the main file), `line` and `col` are 1-based (col counts chars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct Span {
    /// Index into the file table of the load ([`crate::Loaded::files`]).
    pub file: u32,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column (in characters).
    pub col: u32,
}

/// Serialize a [`Duration`] as fractional seconds (JSON-friendly).
pub(crate) mod secs {
    use std::time::Duration;

    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(crate) mod opt {
        use std::time::Duration;

        use serde::Serializer;

        pub(crate) fn serialize<S: Serializer>(
            d: &Option<Duration>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_some(&d.as_secs_f64()),
                None => s.serialize_none(),
            }
        }
    }
}

/// A whole keepalived configuration (one main file plus its includes).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Config {
    /// `global_defs { … }` (defaults if absent).
    pub global_defs: GlobalDefs,
    /// `vrrp_script NAME { … }` blocks.
    pub vrrp_scripts: Vec<VrrpScript>,
    /// `vrrp_sync_group NAME { … }` blocks.
    pub vrrp_sync_groups: Vec<VrrpSyncGroup>,
    /// `vrrp_instance NAME { … }` blocks.
    pub vrrp_instances: Vec<VrrpInstance>,
    /// `virtual_server_group NAME { … }` blocks.
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    /// `virtual_server … { … }` blocks.
    pub virtual_servers: Vec<VirtualServer>,
    /// `static_ipaddress { … }` entries (never moved by VRRP).
    pub static_ipaddress: Vec<VirtualIpAddress>,
    /// `static_routes { … }` entries, as written.
    pub static_routes: Vec<RawLine>,
    /// `static_rules { … }` entries, as written.
    pub static_rules: Vec<RawLine>,
    /// `track_file NAME { … }` (and the deprecated `vrrp_track_file`).
    pub track_files: Vec<TrackFileDef>,
    /// `vrrp_track_process NAME { … }` blocks.
    pub vrrp_track_processes: Vec<TrackProcessDef>,
    /// Top-level keywords keepalived knows but lvsd does not model
    /// (e.g. `net_namespace`, `bfd_instance`, `garp_group`), kept as written.
    pub other: Vec<RawBlock>,
}

/// A keyword line (or value-block line) kept as written: its words after
/// quote removal and substitution.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RawLine {
    /// The words of the line.
    pub words: Vec<String>,
    /// Where the line starts.
    pub span: Span,
}

/// A keyword with its arguments and, if it opened a block, the block's body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RawBlock {
    /// The keyword.
    pub keyword: String,
    /// The words after the keyword.
    pub args: Vec<String>,
    /// The body, if the keyword opened a `{ … }` block.
    pub body: Option<Vec<RawBlock>>,
    /// Where the keyword is.
    pub span: Span,
}

/// `script_user USER [[:]GROUP]` and similar `user`/`group` pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ScriptUser {
    /// User name (or numeric id as written).
    pub user: String,
    /// Optional group.
    pub group: Option<String>,
}

/// A script invocation (`script`, `notify_*`, `misc_path`, `quorum_up`, …):
/// the command line (quotes and keepalived escapes resolved) and the optional
/// user/group it runs as.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Script {
    /// The command as one string, escapes resolved (e.g. `/etc/k/notify.sh master`).
    pub command: String,
    /// The command split into argv (first element is the program).
    pub args: Vec<String>,
    /// `user [group]` given after the command, if any.
    pub user: Option<ScriptUser>,
    /// Where the keyword is.
    pub span: Span,
}

/// `lvs_timeouts [tcp S] [tcpfin S] [udp S]`; `None` = leave the kernel value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LvsTimeouts {
    /// ESTABLISHED timeout in seconds (kernel default 900).
    pub tcp: Option<u32>,
    /// FIN_WAIT timeout in seconds (kernel default 120).
    pub tcpfin: Option<u32>,
    /// UDP timeout in seconds (kernel default 300).
    pub udp: Option<u32>,
    /// Where the keyword is.
    pub span: Span,
}

impl LvsTimeouts {
    /// Kernel default ESTABLISHED timeout (s).
    pub const KERNEL_TCP: u32 = 900;
    /// Kernel default FIN_WAIT timeout (s).
    pub const KERNEL_TCPFIN: u32 = 120;
    /// Kernel default UDP timeout (s).
    pub const KERNEL_UDP: u32 = 300;
}

/// `lvs_sync_daemon IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LvsSyncDaemon {
    /// Interface the sync daemon sends/receives on.
    pub interface: String,
    /// The vrrp_instance whose state drives master/backup sync.
    pub vrrp_instance: Option<String>,
    /// syncid (default: the VRID of `vrrp_instance`, or 0).
    pub id: Option<u8>,
    /// Maximum sync message length.
    pub maxlen: Option<u16>,
    /// UDP port (default 8848).
    pub port: Option<u16>,
    /// Multicast TTL.
    pub ttl: Option<u8>,
    /// Multicast group (default 224.0.0.81).
    pub group: Option<IpAddr>,
    /// Where the keyword is.
    pub span: Span,
}

/// `global_defs { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalDefs {
    /// `router_id` (default: hostname, resolved by the daemon).
    pub router_id: Option<String>,
    /// `notification_email { … }` addresses.
    pub notification_email: Vec<String>,
    /// `notification_email_from`.
    pub notification_email_from: Option<String>,
    /// `smtp_server IP|name [PORT]` (host as written).
    pub smtp_server: Option<String>,
    /// SMTP port (default 25).
    pub smtp_port: u16,
    /// `smtp_helo_name`.
    pub smtp_helo_name: Option<String>,
    /// `smtp_connect_timeout` (default 30 s).
    #[serde(with = "secs")]
    pub smtp_connect_timeout: Duration,
    /// `smtp_alert` (unset = None).
    pub smtp_alert: Option<bool>,
    /// `default_interface` (default eth0 when used).
    pub default_interface: Option<String>,
    /// `script_user USER [GROUP]`.
    pub script_user: Option<ScriptUser>,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `vrrp_strict`.
    pub vrrp_strict: bool,
    /// `vrrp_version` (default 2).
    pub vrrp_version: u8,
    /// `vrrp_mcast_group4` (default 224.0.0.18).
    pub vrrp_mcast_group4: Ipv4Addr,
    /// `vrrp_mcast_group6` (default ff02::12).
    pub vrrp_mcast_group6: Ipv6Addr,
    /// `vrrp_garp_master_delay` (default 5 s; 0 = no second burst).
    #[serde(with = "secs")]
    pub vrrp_garp_master_delay: Duration,
    /// `vrrp_garp_master_repeat` (default 5).
    pub vrrp_garp_master_repeat: u32,
    /// `vrrp_garp_master_refresh` (default 0 = none).
    #[serde(with = "secs")]
    pub vrrp_garp_master_refresh: Duration,
    /// `vrrp_garp_master_refresh_repeat` (default 1).
    pub vrrp_garp_master_refresh_repeat: u32,
    /// `vrrp_garp_lower_prio_delay` (None = inherit garp_master_delay).
    #[serde(with = "secs::opt")]
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    /// `vrrp_garp_lower_prio_repeat` (None = inherit garp_master_repeat).
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    /// `vrrp_garp_interval` (default 0).
    #[serde(with = "secs")]
    pub vrrp_garp_interval: Duration,
    /// `vrrp_gna_interval` (default 0).
    #[serde(with = "secs")]
    pub vrrp_gna_interval: Duration,
    /// `vrrp_min_garp`.
    pub vrrp_min_garp: bool,
    /// `vrrp_down_timer_adverts` (default 3).
    pub vrrp_down_timer_adverts: u32,
    /// `vrrp_lower_prio_no_advert` (None = default: false, true under strict).
    pub vrrp_lower_prio_no_advert: Option<bool>,
    /// `vrrp_higher_prio_send_advert`.
    pub vrrp_higher_prio_send_advert: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub vrrp_skip_check_adv_addr: bool,
    /// `vrrp_check_unicast_src`.
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_owner_ignore_adverts`.
    pub vrrp_owner_ignore_adverts: bool,
    /// `v3_checksum_as_v2`.
    pub v3_checksum_as_v2: bool,
    /// `vrrp_startup_delay` (default 0).
    #[serde(with = "secs")]
    pub vrrp_startup_delay: Duration,
    /// `lvs_timeouts`.
    pub lvs_timeouts: Option<LvsTimeouts>,
    /// `lvs_sync_daemon`.
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    /// `lvs_flush`.
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop` (or deprecated `lvs_flush_onstop`).
    pub lvs_flush_on_stop: bool,
    /// `max_auto_priority` (None = not given).
    pub max_auto_priority: Option<i32>,
    /// `dynamic_interfaces`.
    pub dynamic_interfaces: bool,
    /// `checker_log_all_failures`.
    pub checker_log_all_failures: bool,
    /// `vrrp_notify_fifo` / `notify_fifo` / `lvs_notify_fifo` paths.
    pub notify_fifo: Option<String>,
    /// `vrrp_notify_fifo`.
    pub vrrp_notify_fifo: Option<String>,
    /// `lvs_notify_fifo`.
    pub lvs_notify_fifo: Option<String>,
    /// Owner of the `notify_fifo` FIFO when lvsd creates it (`notify_fifo PATH USER [GROUP]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fifo_owner: Option<ScriptUser>,
    /// Owner of the `vrrp_notify_fifo` FIFO when lvsd creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_notify_fifo_owner: Option<ScriptUser>,
    /// Owner of the `lvs_notify_fifo` FIFO when lvsd creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_notify_fifo_owner: Option<ScriptUser>,
    /// Other known `global_defs` keywords lvsd does not model, as written.
    pub other: Vec<RawBlock>,
    /// Where the block starts (default span if absent).
    pub span: Span,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        Self {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_port: 25,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            default_interface: None,
            script_user: None,
            enable_script_security: false,
            vrrp_strict: false,
            vrrp_version: 2,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: Duration::ZERO,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_min_garp: false,
            vrrp_down_timer_adverts: 3,
            vrrp_lower_prio_no_advert: None,
            vrrp_higher_prio_send_advert: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_owner_ignore_adverts: false,
            v3_checksum_as_v2: false,
            vrrp_startup_delay: Duration::ZERO,
            lvs_timeouts: None,
            lvs_sync_daemon: None,
            lvs_flush: false,
            lvs_flush_on_stop: false,
            max_auto_priority: None,
            dynamic_interfaces: false,
            checker_log_all_failures: false,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            lvs_notify_fifo: None,
            notify_fifo_owner: None,
            vrrp_notify_fifo_owner: None,
            lvs_notify_fifo_owner: None,
            other: Vec::new(),
            span: Span::default(),
        }
    }
}

/// `vrrp_script NAME { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpScript {
    /// Block name.
    pub name: String,
    /// `script "cmd args"` (None if missing: keepalived removes the script).
    pub script: Option<Script>,
    /// `interval` (default 1 s).
    #[serde(with = "secs")]
    pub interval: Duration,
    /// `timeout` (default = interval).
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// `weight -253..253` (default 0 = FAULT after `fall` failures).
    pub weight: i32,
    /// `weight N reverse`.
    pub weight_reverse: bool,
    /// `rise` (default 1).
    pub rise: u32,
    /// `fall` (default 1).
    pub fall: u32,
    /// `user USER [GROUP]` (default: global script_user).
    pub user: Option<ScriptUser>,
    /// `init_fail`.
    pub init_fail: bool,
    /// Where the block keyword is.
    pub span: Span,
}

/// A `track_interface` / `track_script` / `track_file` / `track_process` /
/// `track_bfd` entry: `NAME [weight W] [reverse|noreverse]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TrackRef {
    /// Interface, script, file, process or BFD name.
    pub name: String,
    /// `weight W` if given (for scripts: None = the script's own weight).
    pub weight: Option<i32>,
    /// `reverse` given.
    pub reverse: bool,
    /// Where the entry is.
    pub span: Span,
}

/// `vrrp_sync_group NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VrrpSyncGroup {
    /// Block name.
    pub name: String,
    /// `group { VI… }` member instance names.
    pub group: Vec<String>,
    /// `track_interface { … }`.
    pub track_interface: Vec<TrackRef>,
    /// `track_script { … }`.
    pub track_script: Vec<TrackRef>,
    /// `track_file { … }`.
    pub track_file: Vec<TrackRef>,
    /// `track_process { … }`.
    pub track_process: Vec<TrackRef>,
    /// `notify_master`.
    pub notify_master: Option<Script>,
    /// `notify_backup`.
    pub notify_backup: Option<Script>,
    /// `notify_fault`.
    pub notify_fault: Option<Script>,
    /// `notify_stop`.
    pub notify_stop: Option<Script>,
    /// `notify`.
    pub notify: Option<Script>,
    /// `smtp_alert`.
    pub smtp_alert: Option<bool>,
    /// `sync_group_tracking_weight`.
    pub sync_group_tracking_weight: bool,
    /// Where the block keyword is.
    pub span: Span,
}

/// VRRP initial state (`state MASTER|BACKUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpState {
    /// `MASTER`.
    Master,
    /// `BACKUP`.
    Backup,
}

/// `auth_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthType {
    /// Cleartext password (`PASS`).
    Pass,
    /// IPsec AH (`AH`).
    Ah,
}

/// `authentication { auth_type …; auth_pass … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    /// `auth_type` (default PASS).
    pub auth_type: AuthType,
    /// `auth_pass` truncated to 8 bytes, as keepalived does.
    pub auth_pass: String,
    /// Where the block keyword is.
    pub span: Span,
}

/// `brd` of a VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Broadcast {
    /// `brd IP`.
    Addr(Ipv4Addr),
    /// `brd +`: host bits set.
    Plus,
    /// `brd -`: host bits cleared.
    Minus,
}

/// One entry of `virtual_ipaddress` / `virtual_ipaddress_excluded` /
/// `static_ipaddress` (the extended `ip addr` syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualIpAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (default /32 or /128).
    pub prefix: u8,
    /// The address as written (`192.168.56.49/24`), for exact comparisons.
    pub text: String,
    /// `brd`.
    pub brd: Option<Broadcast>,
    /// `dev IF`.
    pub dev: Option<String>,
    /// `scope site|link|host|nowhere|global` (or a number).
    pub scope: Option<String>,
    /// `label LABEL`.
    pub label: Option<String>,
    /// `peer IP`.
    pub peer: Option<IpAddr>,
    /// `use_vmac`.
    pub use_vmac: bool,
    /// `no_track`.
    pub no_track: bool,
    /// `preferred_lft N|forever` as written.
    pub preferred_lft: Option<String>,
    /// Other flags as written: `home`, `-nodad`, `mngtmpaddr`, `noprefixroute`, `autojoin`.
    pub flags: Vec<String>,
    /// Where the entry is.
    pub span: Span,
}

/// `unicast_peer { IP [min_ttl N] [max_ttl N] }` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    /// Peer address.
    pub addr: IpAddr,
    /// `min_ttl`.
    pub min_ttl: Option<u8>,
    /// `max_ttl`.
    pub max_ttl: Option<u8>,
    /// Where the entry is.
    pub span: Span,
}

/// `use_vmac [NAME] [MAC]` options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UseVmac {
    /// Interface name (default `vrrp.<VRID>`).
    pub name: Option<String>,
    /// MAC address as written.
    pub mac: Option<String>,
}

/// `vrrp_instance NAME { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpInstance {
    /// Block name.
    pub name: String,
    /// Initial state (keepalived: unknown → BACKUP; unset: MASTER iff priority 255).
    pub state: VrrpState,
    /// `state` as written (None if absent).
    pub state_text: Option<String>,
    /// `interface`.
    pub interface: Option<String>,
    /// `virtual_router_id` 1..255 (0 if missing: an error was reported).
    pub virtual_router_id: u8,
    /// Effective `priority` (default 100; `state MASTER` without priority = 255).
    pub priority: u8,
    /// `advert_int` (default 1 s; v3 resolution 10 ms).
    #[serde(with = "secs")]
    pub advert_int: Duration,
    /// Effective VRRP `version` (2 or 3; IPv6 forces 3).
    pub version: u8,
    /// `authentication { … }` (None for v3, where it is ignored).
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress { … }`.
    pub virtual_ipaddress: Vec<VirtualIpAddress>,
    /// `virtual_ipaddress_excluded { … }`.
    pub virtual_ipaddress_excluded: Vec<VirtualIpAddress>,
    /// `no_virtual_ipaddress`.
    pub no_virtual_ipaddress: bool,
    /// `virtual_routes { … }` lines as written.
    pub virtual_routes: Vec<RawLine>,
    /// `virtual_rules { … }` lines as written.
    pub virtual_rules: Vec<RawLine>,
    /// `unicast_src_ip`.
    pub unicast_src_ip: Option<IpAddr>,
    /// `mcast_src_ip`.
    pub mcast_src_ip: Option<IpAddr>,
    /// `mcast_dst_ip`.
    pub mcast_dst_ip: Option<IpAddr>,
    /// `unicast_peer { … }` (non-empty = unicast mode).
    pub unicast_peer: Vec<UnicastPeer>,
    /// `unicast_ttl`.
    pub unicast_ttl: Option<u8>,
    /// `check_unicast_src`.
    pub check_unicast_src: bool,
    /// `track_interface { … }`.
    pub track_interface: Vec<TrackRef>,
    /// `track_script { … }`.
    pub track_script: Vec<TrackRef>,
    /// `track_file { … }`.
    pub track_file: Vec<TrackRef>,
    /// `track_process { … }`.
    pub track_process: Vec<TrackRef>,
    /// `track_bfd { … }`.
    pub track_bfd: Vec<TrackRef>,
    /// `dont_track_primary`.
    pub dont_track_primary: bool,
    /// `nopreempt` (cleared when `state MASTER` or priority 255, as keepalived does).
    pub nopreempt: bool,
    /// `preempt_delay` (default 0).
    #[serde(with = "secs")]
    pub preempt_delay: Duration,
    /// `accept` (true) / `no_accept` (false); None = default (accept unless strict and not owner).
    pub accept: Option<bool>,
    /// `strict_mode` (None = global vrrp_strict).
    pub strict_mode: Option<bool>,
    /// `notify_master`.
    pub notify_master: Option<Script>,
    /// `notify_backup`.
    pub notify_backup: Option<Script>,
    /// `notify_fault`.
    pub notify_fault: Option<Script>,
    /// `notify_stop`.
    pub notify_stop: Option<Script>,
    /// `notify_deleted`.
    pub notify_deleted: Option<Script>,
    /// `notify`.
    pub notify: Option<Script>,
    /// `notify_master_rx_lower_pri`.
    pub notify_master_rx_lower_pri: Option<Script>,
    /// `smtp_alert`.
    pub smtp_alert: Option<bool>,
    /// `garp_master_delay` (None = global).
    #[serde(with = "secs::opt")]
    pub garp_master_delay: Option<Duration>,
    /// `garp_master_repeat` (None = global).
    pub garp_master_repeat: Option<u32>,
    /// `garp_master_refresh` (None = global).
    #[serde(with = "secs::opt")]
    pub garp_master_refresh: Option<Duration>,
    /// `garp_master_refresh_repeat` (None = global).
    pub garp_master_refresh_repeat: Option<u32>,
    /// `garp_lower_prio_delay` (None = global).
    #[serde(with = "secs::opt")]
    pub garp_lower_prio_delay: Option<Duration>,
    /// `garp_lower_prio_repeat` (None = global).
    pub garp_lower_prio_repeat: Option<u32>,
    /// `down_timer_adverts` (None = global).
    pub down_timer_adverts: Option<u32>,
    /// `lower_prio_no_advert`.
    pub lower_prio_no_advert: Option<bool>,
    /// `higher_prio_send_advert`.
    pub higher_prio_send_advert: Option<bool>,
    /// `use_vmac`.
    pub use_vmac: Option<UseVmac>,
    /// `vmac_xmit_base`.
    pub vmac_xmit_base: bool,
    /// `skip_check_adv_addr`.
    pub skip_check_adv_addr: Option<bool>,
    /// `promote_secondaries`.
    pub promote_secondaries: bool,
    /// Deprecated `lvs_sync_daemon_interface`.
    pub lvs_sync_daemon_interface: Option<String>,
    /// Name of the `vrrp_sync_group` this instance belongs to (derived).
    pub sync_group: Option<String>,
    /// Where the block keyword is.
    pub span: Span,
}

/// Address family (`inet` / `inet6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

/// One entry of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VsgEntry {
    /// `IP [PORT]`, `IP-LAST [PORT]` (range, `last` inclusive) or `IP/nn [PORT]`
    /// (expanded to its first and last address).
    Range {
        /// First address.
        first: IpAddr,
        /// Last address (inclusive; == first for a single IP).
        last: IpAddr,
        /// Port (0 if not given).
        port: u16,
        /// Where the entry is.
        span: Span,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark {
        /// The mark.
        fwmark: u32,
        /// Family if given.
        family: Option<Family>,
        /// Where the entry is.
        span: Span,
    },
}

/// `virtual_server_group NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VirtualServerGroup {
    /// Block name.
    pub name: String,
    /// Entries.
    pub entries: Vec<VsgEntry>,
    /// Where the block keyword is.
    pub span: Span,
}

/// What a `virtual_server` line addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VsAddress {
    /// `virtual_server IP PORT`.
    Ip {
        /// Virtual address.
        ip: IpAddr,
        /// Virtual port (0 if not given).
        port: u16,
    },
    /// `virtual_server fwmark N`.
    Fwmark {
        /// The mark.
        fwmark: u32,
    },
    /// `virtual_server group NAME`.
    Group {
        /// The `virtual_server_group` name.
        group: String,
    },
}

/// `protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP (keepalived's default when `protocol` is missing).
    Udp,
    /// SCTP.
    Sctp,
}

/// IPVS scheduler (`lb_algo` / `lvs_sched`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LbAlgo {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connection.
    Lc,
    /// Weighted least connection (default).
    Wlc,
    /// Locality-based least connection.
    Lblc,
    /// LBLC with replication.
    Lblcr,
    /// Destination hashing.
    Dh,
    /// Source hashing.
    Sh,
    /// Maglev hashing.
    Mh,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Weighted random twos.
    Twos,
}

impl LbAlgo {
    /// The kernel scheduler name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rr => "rr",
            Self::Wrr => "wrr",
            Self::Lc => "lc",
            Self::Wlc => "wlc",
            Self::Lblc => "lblc",
            Self::Lblcr => "lblcr",
            Self::Dh => "dh",
            Self::Sh => "sh",
            Self::Mh => "mh",
            Self::Sed => "sed",
            Self::Nq => "nq",
            Self::Fo => "fo",
            Self::Ovf => "ovf",
            Self::Twos => "twos",
        }
    }

    /// Parse a scheduler name (case-sensitive, as keepalived).
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "rr" => Self::Rr,
            "wrr" => Self::Wrr,
            "lc" => Self::Lc,
            "wlc" => Self::Wlc,
            "lblc" => Self::Lblc,
            "lblcr" => Self::Lblcr,
            "dh" => Self::Dh,
            "sh" => Self::Sh,
            "mh" => Self::Mh,
            "sed" => Self::Sed,
            "nq" => Self::Nq,
            "fo" => Self::Fo,
            "ovf" => Self::Ovf,
            "twos" => Self::Twos,
            _ => return None,
        })
    }
}

/// Tunnel encapsulation of `lb_kind TUN type …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TunType {
    /// IP-in-IP (default).
    Ipip,
    /// GUE on a UDP port.
    Gue {
        /// UDP port.
        port: u16,
    },
    /// GRE.
    Gre,
}

/// Tunnel checksum option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunCsum {
    /// `nocsum`.
    Nocsum,
    /// `csum`.
    Csum,
    /// `remcsum`.
    Remcsum,
}

/// Forwarding method (`lb_kind` / `lvs_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "method", rename_all = "UPPERCASE")]
pub enum LbKind {
    /// Masquerading (default).
    Nat,
    /// Direct routing.
    Dr,
    /// Tunnelling.
    Tun {
        /// Encapsulation (default ipip).
        tun_type: TunType,
        /// Checksum option.
        csum: Option<TunCsum>,
    },
}

/// `persistence_granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersistenceGranularity {
    /// IPv4 dotted netmask.
    Netmask(Ipv4Addr),
    /// IPv6 prefix length (1..128).
    PrefixLen(u8),
}

/// IPVS service flags set by keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ServiceFlags {
    /// `hashed`.
    pub hashed: bool,
    /// `flag-1` (= sh-fallback / mh-fallback bit).
    pub flag_1: bool,
    /// `flag-2` (= sh-port / mh-port bit).
    pub flag_2: bool,
    /// `flag-3`.
    pub flag_3: bool,
    /// `sh-port`.
    pub sh_port: bool,
    /// `sh-fallback`.
    pub sh_fallback: bool,
    /// `mh-port`.
    pub mh_port: bool,
    /// `mh-fallback`.
    pub mh_fallback: bool,
    /// `ops` (one-packet scheduling; UDP only).
    pub ops: bool,
}

/// `sorry_server IP [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServer {
    /// Address.
    pub ip: IpAddr,
    /// Port (0 = the VS port).
    pub port: u16,
    /// `sorry_server_inhibit`.
    pub inhibit: bool,
    /// `sorry_server_lvs_method`.
    pub lb_kind: Option<LbKind>,
    /// Where the keyword is.
    pub span: Span,
}

/// `virtual_server … { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServer {
    /// `IP PORT` / `fwmark N` / `group NAME`.
    pub address: VsAddress,
    /// `protocol` (default UDP, with an error, as keepalived).
    pub protocol: Protocol,
    /// `lb_algo` / `lvs_sched` (default wlc).
    pub lb_algo: LbAlgo,
    /// `lb_kind` / `lvs_method` (default NAT).
    pub lb_kind: LbKind,
    /// `persistence_timeout` in seconds (None = not persistent; an empty
    /// value, or `persistence_granularity` alone, means 360).
    pub persistence_timeout: Option<u32>,
    /// `persistence_granularity`.
    pub persistence_granularity: Option<PersistenceGranularity>,
    /// `persistence_engine`.
    pub persistence_engine: Option<String>,
    /// Scheduler flags.
    pub flags: ServiceFlags,
    /// `ip_family` (fwmark services).
    pub ip_family: Option<Family>,
    /// `delay_loop` (default 60 s).
    #[serde(with = "secs")]
    pub delay_loop: Duration,
    /// `connect_timeout` (default 5 s).
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// `retry` (None = checker default).
    pub retry: Option<u32>,
    /// `delay_before_retry` (None = checker default).
    #[serde(with = "secs::opt")]
    pub delay_before_retry: Option<Duration>,
    /// `warmup` (None = delay_loop).
    #[serde(with = "secs::opt")]
    pub warmup: Option<Duration>,
    /// `weight` (default RS weight, default 1).
    pub weight: u32,
    /// `quorum` (default 1).
    pub quorum: u32,
    /// `hysteresis` (default 0).
    pub hysteresis: u32,
    /// `quorum_up`.
    pub quorum_up: Option<Script>,
    /// `quorum_down`.
    pub quorum_down: Option<Script>,
    /// `alpha`.
    pub alpha: bool,
    /// `omega`.
    pub omega: bool,
    /// `inhibit_on_failure` (inherited by real servers).
    pub inhibit_on_failure: bool,
    /// `ha_suspend`.
    pub ha_suspend: bool,
    /// `virtualhost`.
    pub virtualhost: Option<String>,
    /// `smtp_alert`.
    pub smtp_alert: Option<bool>,
    /// `sorry_server`.
    pub sorry_server: Option<SorryServer>,
    /// `real_server` blocks.
    pub real_servers: Vec<RealServer>,
    /// Where the block keyword is.
    pub span: Span,
}

impl VirtualServer {
    /// The VS port (0 for fwmark and group services).
    pub fn port(&self) -> u16 {
        match self.address {
            VsAddress::Ip { port, .. } => port,
            _ => 0,
        }
    }
}

/// `real_server IP [PORT] { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealServer {
    /// Address.
    pub ip: IpAddr,
    /// Port (defaults to the VS port).
    pub port: u16,
    /// `weight` (default: the VS `weight`, 1).
    pub weight: u32,
    /// `lvs_method` override (None = the VS method).
    pub lb_kind: Option<LbKind>,
    /// `uthreshold` (0 = none).
    pub uthreshold: u32,
    /// `lthreshold` (0 = none).
    pub lthreshold: u32,
    /// `inhibit_on_failure` (inherited from the VS).
    pub inhibit_on_failure: bool,
    /// `alpha` (inherited).
    pub alpha: bool,
    /// `notify_up`.
    pub notify_up: Option<Script>,
    /// `notify_down`.
    pub notify_down: Option<Script>,
    /// `smtp_alert` (keepalived default on unless a global smtp_alert is set).
    pub smtp_alert: Option<bool>,
    /// `virtualhost` (inherited).
    pub virtualhost: Option<String>,
    /// Health checkers; all must pass.
    pub checkers: Vec<Checker>,
    /// Where the block keyword is.
    pub span: Span,
}

/// Options common to most checkers, with VS → RS → checker inheritance and
/// the checker-type defaults already applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckCommon {
    /// `connect_ip` (default: RS address).
    pub connect_ip: IpAddr,
    /// `connect_port` (default: RS port).
    pub connect_port: u16,
    /// `bindto`.
    pub bindto: Option<IpAddr>,
    /// `bind_port`.
    pub bind_port: Option<u16>,
    /// `bind_if`.
    pub bind_if: Option<String>,
    /// `fwmark` (SO_MARK).
    pub fwmark: Option<u32>,
    /// `connect_timeout` (default 5 s).
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// `retry` (default: 1; MISC 0; DNS 3).
    pub retry: u32,
    /// `delay_before_retry` (default: 1 s; HTTP/SSL 3 s; DNS delay_loop).
    #[serde(with = "secs")]
    pub delay_before_retry: Duration,
    /// `warmup` (default: delay_loop).
    #[serde(with = "secs")]
    pub warmup: Duration,
    /// `delay_loop` (default: the VS delay_loop).
    #[serde(with = "secs")]
    pub delay_loop: Duration,
    /// `alpha`.
    pub alpha: bool,
    /// `log_all_failures`.
    pub log_all_failures: bool,
}

/// `TCP_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpCheck {
    /// Common options.
    #[serde(flatten)]
    pub common: CheckCommon,
    /// Where the block keyword is.
    pub span: Span,
}

/// A `status_code` range `N` or `N-M` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct StatusRange {
    /// Lowest accepted code.
    pub min: u16,
    /// Highest accepted code.
    pub max: u16,
}

/// `url { … }` of HTTP_GET / SSL_GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Url {
    /// `path`.
    pub path: String,
    /// `digest` (lower-case hex MD5).
    pub digest: Option<String>,
    /// `status_code` ranges (default 200-299 when empty).
    pub status_code: Vec<StatusRange>,
    /// `virtualhost`.
    pub virtualhost: Option<String>,
    /// `regex`.
    pub regex: Option<String>,
    /// `regex_no_match`.
    pub regex_no_match: bool,
    /// Where the block keyword is.
    pub span: Span,
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum HttpProtocol {
    /// `1.0` (default).
    #[serde(rename = "1.0")]
    Http10,
    /// `1.0C` (1.0 with `Connection: close`).
    #[serde(rename = "1.0C")]
    Http10C,
    /// `1.1`.
    #[serde(rename = "1.1")]
    Http11,
}

/// `HTTP_GET { … }` / `SSL_GET { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheck {
    /// Common options.
    #[serde(flatten)]
    pub common: CheckCommon,
    /// `url { … }` blocks (a url without `path` is dropped).
    pub urls: Vec<Url>,
    /// `http_protocol` (default 1.0).
    pub http_protocol: HttpProtocol,
    /// `virtualhost`.
    pub virtualhost: Option<String>,
    /// `fast_recovery`.
    pub fast_recovery: bool,
    /// `enable_sni` (SSL_GET).
    pub enable_sni: bool,
    /// `sni_name` (SSL_GET).
    pub sni_name: Option<String>,
    /// `tls_compliant` (SSL_GET).
    pub tls_compliant: bool,
    /// Where the block keyword is.
    pub span: Span,
}

/// `MISC_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MiscCheck {
    /// Common options (only the timing ones apply).
    #[serde(flatten)]
    pub common: CheckCommon,
    /// `misc_path` (required).
    pub misc_path: Option<Script>,
    /// `misc_timeout` (default: delay_loop).
    #[serde(with = "secs")]
    pub misc_timeout: Duration,
    /// `misc_dynamic`.
    pub misc_dynamic: bool,
    /// `user`.
    pub user: Option<ScriptUser>,
    /// Where the block keyword is.
    pub span: Span,
}

/// `SMTP_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpCheck {
    /// Common options.
    #[serde(flatten)]
    pub common: CheckCommon,
    /// `helo_name` (default: hostname).
    pub helo_name: Option<String>,
    /// Where the block keyword is.
    pub span: Span,
}

/// DNS query type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsType {
    /// A.
    A,
    /// NS.
    Ns,
    /// CNAME.
    Cname,
    /// SOA (default).
    Soa,
    /// MX.
    Mx,
    /// TXT.
    Txt,
    /// AAAA.
    Aaaa,
}

/// `DNS_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsCheck {
    /// Common options.
    #[serde(flatten)]
    pub common: CheckCommon,
    /// `type` (default SOA).
    #[serde(rename = "type")]
    pub qtype: DnsType,
    /// `name` (default `.`).
    pub name: String,
    /// Where the block keyword is.
    pub span: Span,
}

/// `UDP_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdpCheck {
    /// Common options.
    #[serde(flatten)]
    pub common: CheckCommon,
    /// `payload` (decoded from hex).
    pub payload: Option<Vec<u8>>,
    /// `require_reply` hex pattern as written (`X` = wildcard nibble).
    pub require_reply: Option<String>,
    /// `min_reply_length` (default 0).
    pub min_reply_length: u32,
    /// `max_reply_length` (default 255).
    pub max_reply_length: u32,
    /// Where the block keyword is.
    pub span: Span,
}

/// `PING_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PingCheck {
    /// Common options.
    #[serde(flatten)]
    pub common: CheckCommon,
    /// Where the block keyword is.
    pub span: Span,
}

/// `FILE_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    /// `track_file NAME`.
    pub track_file: String,
    /// `weight N`.
    pub weight: Option<i32>,
    /// `weight N reverse`.
    pub reverse: bool,
    /// `dynamic`.
    pub dynamic: bool,
    /// Where the block keyword is.
    pub span: Span,
}

/// `BFD_CHECK { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BfdCheck {
    /// `name`.
    pub name: String,
    /// `alpha`.
    pub alpha: bool,
    /// Where the block keyword is.
    pub span: Span,
}

/// A health checker of a real server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum Checker {
    /// `TCP_CHECK`.
    #[serde(rename = "TCP_CHECK")]
    TcpCheck(TcpCheck),
    /// `HTTP_GET`.
    #[serde(rename = "HTTP_GET")]
    HttpGet(HttpCheck),
    /// `SSL_GET`.
    #[serde(rename = "SSL_GET")]
    SslGet(HttpCheck),
    /// `MISC_CHECK`.
    #[serde(rename = "MISC_CHECK")]
    MiscCheck(MiscCheck),
    /// `SMTP_CHECK`.
    #[serde(rename = "SMTP_CHECK")]
    SmtpCheck(SmtpCheck),
    /// `DNS_CHECK`.
    #[serde(rename = "DNS_CHECK")]
    DnsCheck(DnsCheck),
    /// `UDP_CHECK`.
    #[serde(rename = "UDP_CHECK")]
    UdpCheck(UdpCheck),
    /// `PING_CHECK`.
    #[serde(rename = "PING_CHECK")]
    PingCheck(PingCheck),
    /// `FILE_CHECK`.
    #[serde(rename = "FILE_CHECK")]
    FileCheck(FileCheck),
    /// `BFD_CHECK`.
    #[serde(rename = "BFD_CHECK")]
    BfdCheck(BfdCheck),
}

impl Checker {
    /// The checker keyword (`TCP_CHECK`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::TcpCheck(_) => "TCP_CHECK",
            Self::HttpGet(_) => "HTTP_GET",
            Self::SslGet(_) => "SSL_GET",
            Self::MiscCheck(_) => "MISC_CHECK",
            Self::SmtpCheck(_) => "SMTP_CHECK",
            Self::DnsCheck(_) => "DNS_CHECK",
            Self::UdpCheck(_) => "UDP_CHECK",
            Self::PingCheck(_) => "PING_CHECK",
            Self::FileCheck(_) => "FILE_CHECK",
            Self::BfdCheck(_) => "BFD_CHECK",
        }
    }

    /// Common options (None for FILE_CHECK and BFD_CHECK).
    pub fn common(&self) -> Option<&CheckCommon> {
        match self {
            Self::TcpCheck(c) => Some(&c.common),
            Self::HttpGet(c) | Self::SslGet(c) => Some(&c.common),
            Self::MiscCheck(c) => Some(&c.common),
            Self::SmtpCheck(c) => Some(&c.common),
            Self::DnsCheck(c) => Some(&c.common),
            Self::UdpCheck(c) => Some(&c.common),
            Self::PingCheck(c) => Some(&c.common),
            Self::FileCheck(_) | Self::BfdCheck(_) => None,
        }
    }

    /// Where the checker block starts.
    pub fn span(&self) -> Span {
        match self {
            Self::TcpCheck(c) => c.span,
            Self::HttpGet(c) | Self::SslGet(c) => c.span,
            Self::MiscCheck(c) => c.span,
            Self::SmtpCheck(c) => c.span,
            Self::DnsCheck(c) => c.span,
            Self::UdpCheck(c) => c.span,
            Self::PingCheck(c) => c.span,
            Self::FileCheck(c) => c.span,
            Self::BfdCheck(c) => c.span,
        }
    }
}

/// `track_file NAME { file "…"; weight N [reverse]; init_file [V] [overwrite] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TrackFileDef {
    /// Block name.
    pub name: String,
    /// `file`.
    pub file: Option<String>,
    /// `weight` (default 1).
    pub weight: i32,
    /// `reverse`.
    pub reverse: bool,
    /// `init_file [V]`.
    pub init_file: Option<i64>,
    /// Where the block keyword is.
    pub span: Span,
}

/// `vrrp_track_process NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TrackProcessDef {
    /// Block name.
    pub name: String,
    /// `process NAME [ARGS…]`.
    pub process: Vec<String>,
    /// `weight`.
    pub weight: i32,
    /// `reverse`.
    pub reverse: bool,
    /// `quorum` (default 1).
    pub quorum: u32,
    /// `quorum_max`.
    pub quorum_max: Option<u32>,
    /// Where the block keyword is.
    pub span: Span,
}
