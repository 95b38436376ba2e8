//! Which keywords open which kind of block, per context: the knowledge
//! keepalived's parser uses to scope blocks. Used by `cascade` (lint d) to
//! replay keepalived's reading of a file.

/// A parsing context (the block a line is in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Top,
    GlobalDefs,
    VrrpScript,
    VrrpSyncGroup,
    VrrpInstance,
    VirtualServer,
    RealServer,
    Checker,
    /// A known block with keyword contents lvsd keeps as written or reads
    /// itself (authentication, url, track_file, bfd_instance…).
    Opaque,
}

/// What a block keyword opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opens {
    Block(Ctx),
    /// A value block: lines up to the next `}` are values, not keywords.
    Values,
}

/// The block opened by `kw` in `ctx`, or None if keepalived would not
/// treat `kw {` as a block there (unknown or plain keyword).
pub(crate) fn opens(ctx: Ctx, kw: &str) -> Option<Opens> {
    use Ctx::*;
    use Opens::*;
    Some(match (ctx, kw) {
        (Top, "global_defs") => Block(GlobalDefs),
        (Top, "vrrp_script") => Block(VrrpScript),
        (Top, "vrrp_sync_group") => Block(VrrpSyncGroup),
        (Top, "vrrp_instance") => Block(VrrpInstance),
        (Top, "virtual_server") => Block(VirtualServer),
        (
            Top,
            "virtual_server_group"
            | "static_ipaddress"
            | "static_routes"
            | "static_rules"
            | "linkbeat_interfaces"
            | "interface_up_down_delays",
        ) => Values,
        (
            Top,
            "track_file" | "vrrp_track_file" | "vrrp_track_process" | "bfd_instance" | "garp_group"
            | "track_group" | "SSL",
        ) => Block(Opaque),
        (GlobalDefs, "notification_email") => Values,
        (
            VrrpSyncGroup,
            "group" | "track_interface" | "track_script" | "track_file" | "track_process"
            | "track_bfd",
        ) => Values,
        (VrrpInstance, "authentication" | "auth_hmac") => Block(Opaque),
        (
            VrrpInstance,
            "virtual_ipaddress"
            | "virtual_ipaddress_excluded"
            | "virtual_routes"
            | "virtual_rules"
            | "unicast_peer"
            | "track_interface"
            | "track_script"
            | "track_file"
            | "track_process"
            | "track_bfd",
        ) => Values,
        (VirtualServer, "real_server") => Block(RealServer),
        (
            RealServer,
            "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" | "SMTP_CHECK" | "DNS_CHECK"
            | "UDP_CHECK" | "PING_CHECK" | "FILE_CHECK" | "BFD_CHECK",
        ) => Block(Checker),
        (Checker, "url" | "host") => Block(Opaque),
        (Opaque, "group" | "interfaces" | "interface") => Values,
        _ => return None,
    })
}

/// keepalived.conf keywords that were removed or renamed, with the advice.
pub(crate) fn obsolete(kw: &str) -> Option<&'static str> {
    Some(match kw {
        "nat_mask" => {
            "removed from keepalived; it has no effect (IPVS takes no netmask per service)"
        }
        "lvs_id" => "removed from keepalived; use router_id",
        "nb_get_retry" => "deprecated; use 'retry'",
        "nb_sock_pool" => "removed from keepalived",
        "lvs_sync_daemon_interface" => "deprecated; use the global 'lvs_sync_daemon IF INSTANCE'",
        "vrrp_sync_group_tracking" | "global_tracking" => {
            "deprecated; use sync_group_tracking_weight"
        }
        "lvs_flush_onstop" => "deprecated spelling of lvs_flush_on_stop",
        "native_ipv6" => "deprecated; it has no effect",
        "linkbeat_use_polling" => "deprecated inside vrrp_instance; use the top-level keyword",
        "debug" => "has no effect",
        "vrrp_vmac_garp_intvl" => "deprecated; use vrrp_garp_extra_if",
        "delay" => "deprecated; use delay_loop",
        "dont_release_vrrp" | "dont_release_ipvs" => "removed; use the command-line option",
        _ => return None,
    })
}
