//! Per-instance counters (keepalived's `vrrp_stats` plus one counter per
//! receive-drop reason of keepalived.md §3.7).

use serde::{Deserialize, Serialize};

/// Why a received advert was dropped, in the order the checks run
/// (keepalived.md §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Length does not match `IP hdr + 8 + n×addrlen (+8 auth)`, or shorter
    /// than a header ("too long/short").
    PacketLength,
    /// TTL / hop limit not 255 on a multicast instance (or outside a unicast
    /// peer's `min_ttl`..`max_ttl`).
    IpTtl,
    /// Version differs from the configured one.
    Version,
    /// v2 auth type outside {0,1,2}.
    InvalidAuthType,
    /// v2 auth type differs from the configured one (includes IP AH / auth
    /// type 2, which lvsd refuses).
    AuthTypeMismatch,
    /// v2 password differs.
    AuthFailure,
    /// v2 advert interval differs from ours.
    AdvertInterval,
    /// Type is not ADVERTISEMENT.
    InvalidType,
    /// Checksum does not verify.
    Checksum,
    /// Multicast advert to a unicast instance or vice versa.
    DestinationMode,
    /// `owner_ignore_adverts` on an address owner.
    OwnerIgnore,
    /// Unicast source not among `unicast_peer` (`check_unicast_src`).
    UnicastSource,
}

impl DropReason {
    /// All reasons.
    pub const ALL: [Self; 12] = [
        Self::PacketLength,
        Self::IpTtl,
        Self::Version,
        Self::InvalidAuthType,
        Self::AuthTypeMismatch,
        Self::AuthFailure,
        Self::AdvertInterval,
        Self::InvalidType,
        Self::Checksum,
        Self::DestinationMode,
        Self::OwnerIgnore,
        Self::UnicastSource,
    ];

    /// Stable name (for logs and metrics labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PacketLength => "packet_length",
            Self::IpTtl => "ip_ttl",
            Self::Version => "version",
            Self::InvalidAuthType => "invalid_auth_type",
            Self::AuthTypeMismatch => "auth_type_mismatch",
            Self::AuthFailure => "auth_failure",
            Self::AdvertInterval => "advert_interval",
            Self::InvalidType => "invalid_type",
            Self::Checksum => "checksum",
            Self::DestinationMode => "destination_mode",
            Self::OwnerIgnore => "owner_ignore",
            Self::UnicastSource => "unicast_source",
        }
    }
}

/// Counters of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Valid adverts received.
    pub advert_rcvd: u64,
    /// Adverts sent.
    pub advert_sent: u64,
    /// Transitions to MASTER.
    pub become_master: u64,
    /// Transitions out of MASTER.
    pub release_master: u64,
    /// Priority-0 adverts received.
    pub pri_zero_rcvd: u64,
    /// Priority-0 adverts sent.
    pub pri_zero_sent: u64,
    /// Adverts whose address list differs from ours (accepted, as
    /// keepalived ≥ 2.3.3 / RFC 9568).
    pub addr_list_err: u64,
    /// VRRPv3 adverts with another interval (accepted; the backup adopts it).
    pub v3_interval_differs: u64,
    /// Drops, one counter per [`DropReason`], in [`DropReason::ALL`] order.
    pub dropped: Drops,
}

/// Drop counters by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drops {
    /// [`DropReason::PacketLength`]
    pub packet_length: u64,
    /// [`DropReason::IpTtl`]
    pub ip_ttl: u64,
    /// [`DropReason::Version`]
    pub version: u64,
    /// [`DropReason::InvalidAuthType`]
    pub invalid_auth_type: u64,
    /// [`DropReason::AuthTypeMismatch`]
    pub auth_type_mismatch: u64,
    /// [`DropReason::AuthFailure`]
    pub auth_failure: u64,
    /// [`DropReason::AdvertInterval`]
    pub advert_interval: u64,
    /// [`DropReason::InvalidType`]
    pub invalid_type: u64,
    /// [`DropReason::Checksum`]
    pub checksum: u64,
    /// [`DropReason::DestinationMode`]
    pub destination_mode: u64,
    /// [`DropReason::OwnerIgnore`]
    pub owner_ignore: u64,
    /// [`DropReason::UnicastSource`]
    pub unicast_source: u64,
}

impl Drops {
    /// Count one drop.
    pub fn bump(&mut self, r: DropReason) {
        *self.get_mut(r) += 1;
    }

    /// The counter of a reason.
    pub fn get(&self, r: DropReason) -> u64 {
        match r {
            DropReason::PacketLength => self.packet_length,
            DropReason::IpTtl => self.ip_ttl,
            DropReason::Version => self.version,
            DropReason::InvalidAuthType => self.invalid_auth_type,
            DropReason::AuthTypeMismatch => self.auth_type_mismatch,
            DropReason::AuthFailure => self.auth_failure,
            DropReason::AdvertInterval => self.advert_interval,
            DropReason::InvalidType => self.invalid_type,
            DropReason::Checksum => self.checksum,
            DropReason::DestinationMode => self.destination_mode,
            DropReason::OwnerIgnore => self.owner_ignore,
            DropReason::UnicastSource => self.unicast_source,
        }
    }

    fn get_mut(&mut self, r: DropReason) -> &mut u64 {
        match r {
            DropReason::PacketLength => &mut self.packet_length,
            DropReason::IpTtl => &mut self.ip_ttl,
            DropReason::Version => &mut self.version,
            DropReason::InvalidAuthType => &mut self.invalid_auth_type,
            DropReason::AuthTypeMismatch => &mut self.auth_type_mismatch,
            DropReason::AuthFailure => &mut self.auth_failure,
            DropReason::AdvertInterval => &mut self.advert_interval,
            DropReason::InvalidType => &mut self.invalid_type,
            DropReason::Checksum => &mut self.checksum,
            DropReason::DestinationMode => &mut self.destination_mode,
            DropReason::OwnerIgnore => &mut self.owner_ignore,
            DropReason::UnicastSource => &mut self.unicast_source,
        }
    }

    /// Total drops.
    pub fn total(&self) -> u64 {
        DropReason::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// Counters for packets that could not be attributed to an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Valid-looking adverts for a VRID no instance has on that interface
    /// and family (keepalived drops them silently unless `log_unknown_vrids`).
    pub unknown_vrid: u64,
    /// Too short to read a VRID, or a malformed IP header.
    pub malformed: u64,
    /// IPv4 protocol 51 (AH) adverts: refused, lvsd does not implement
    /// `auth_type AH`.
    pub ah_refused: u64,
}
