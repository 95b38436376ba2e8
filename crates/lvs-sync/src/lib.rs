//! lvs-sync — the IPVS connection synchronisation protocol (`ip_vs_sync.c`),
//! sans-IO and interoperable with the kernel's sync daemons.
//!
//! - [`wire`]: the version 0 and 1 message codecs (a zero-copy [`wire::Packet`]
//!   view that walks datagrams exactly as the kernel backup does, and the
//!   validated [`wire::SyncMessage`] value that encodes byte-exactly as the
//!   kernel master lays messages out).
//! - [`master`]: what to send and when (`sync_threshold`, `sync_period`,
//!   `sync_refresh_period`, `sync_retries`, `sync_persist_mode`), packed into
//!   `maxlen`-sized messages stamped with the `syncid`.
//! - [`backup`]: turn received entries into plain install actions for an
//!   IPVS connection table, with the kernel backup's rules.
//! - [`daemon`]: `lvs_sync_daemon` configuration semantics (keepalived's
//!   defaults, roles following a VRRP instance).
//!
//! No sockets, no clock: time is passed in as `now` (a [`std::time::Duration`]
//! since an arbitrary origin). The multicast socket lives in `lvs-sys::sync`.
//!
//! Evidence: `tests/codec.rs` (byte-exact fixtures built from the kernel
//! struct layouts by `tests/fixtures/gen.py`), `tests/kernel_captures.rs`
//! (datagrams of a real 6.1 kernel master, re-encoded byte-exact; a real
//! kernel backup's table after lvs-sync's datagrams; re-record with
//! `tests/vm/record.sh`), `tests/netns_multicast.rs` (root: master and
//! backup over a veth pair, IPv4 and IPv6 groups), `tests/proptest.rs`,
//! the `fuzz/` target `sync_decode`, and `benches/` (docs/PERFORMANCE.md).

pub mod backup;
pub mod conn;
pub mod consts;
pub mod daemon;
pub mod master;
pub mod wire;

pub use backup::{BackupAction, BackupCfg, BackupTable, ConnInstall, SyncBackup};
pub use conn::{ConnKey, IpVsSeq, SeqOpts, SyncConn};
pub use daemon::{Roles, SyncDaemonCfg, SyncdAction, SyncdRole, VrrpRoleState};
pub use master::{ChainLink, ConnSyncState, SyncMaster, SyncParams};
pub use wire::{ConnView, MessageBuf, Packet, SyncMessage, Version};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Datagram shorter than a v0 header.
    #[error("sync message header too short ({0} bytes)")]
    HeaderTooShort(usize),
    /// Header size field disagrees with the datagram length.
    #[error("bogus sync message size {size} (datagram is {len} bytes)")]
    SizeMismatch {
        /// The header's size field.
        size: usize,
        /// The datagram length.
        len: usize,
    },
    /// An entry does not fit in the datagram.
    #[error("sync entry {index} truncated")]
    EntryTruncated {
        /// Entry index (0-based).
        index: usize,
    },
    /// A v1 entry's size runs past the end of the datagram.
    #[error("sync entry {index}: size {size} runs past the message")]
    EntryBeyondMessage {
        /// Entry index.
        index: usize,
        /// The entry's size field.
        size: usize,
    },
    /// A v1 entry's size is smaller than its fixed part.
    #[error("sync entry {index}: size {size} smaller than the entry")]
    EntryTooSmall {
        /// Entry index.
        index: usize,
        /// The entry's size field.
        size: usize,
    },
    /// A v1 entry with a non-zero entry version.
    #[error("sync entry {index}: unknown entry version {version}")]
    EntryVersion {
        /// Entry index.
        index: usize,
        /// The version nibble.
        version: u8,
    },
    /// A v1 entry type other than IPv4 (0) or IPv6 (bit 0).
    #[error("sync entry {index}: unknown type {ty:#x}")]
    EntryType {
        /// Entry index.
        index: usize,
        /// The type byte.
        ty: u8,
    },
    /// An option header runs past the entry.
    #[error("sync entry {index}: option header truncated")]
    OptionTruncated {
        /// Entry index.
        index: usize,
    },
    /// Option with a bad length (0, past the entry, or wrong for its type).
    #[error("sync entry {index}: option {ptype} has bad length {plen}")]
    OptionLength {
        /// Entry index.
        index: usize,
        /// Option type.
        ptype: u8,
        /// Option length.
        plen: usize,
    },
    /// The same option twice in one entry.
    #[error("sync entry {index}: option {ptype} found twice")]
    DuplicateOption {
        /// Entry index.
        index: usize,
        /// Option type.
        ptype: u8,
    },
    /// An unknown option without the optional bit: the entry is dropped.
    #[error("sync entry {index}: unknown mandatory option {ptype}")]
    UnknownMandatoryOption {
        /// Entry index.
        index: usize,
        /// Option type.
        ptype: u8,
    },
    /// Addresses of one entry are of different families.
    #[error("entry addresses mix IPv4 and IPv6")]
    MixedFamilies,
    /// Version 0 carries IPv4 only.
    #[error("sync version 0 cannot carry IPv6 entries")]
    V0Ipv6,
    /// Version 0 carries 16 flag bits.
    #[error("sync version 0 carries 16 flag bits, got {0:#x}")]
    V0FlagsTooWide(u32),
    /// v0 sequence data is present exactly when the flags ask for it.
    #[error("sync version 0: sequence data must be present exactly when IN_SEQ/OUT_SEQ is set")]
    V0SeqMismatch,
    /// Version 0 has no PE options.
    #[error("sync version 0 cannot carry persistence-engine data")]
    V0PeData,
    /// PE data must be 1..=255 bytes.
    #[error("PE data length {0} out of 1..=255")]
    PeDataLength(usize),
    /// PE name must be 1..=16 bytes.
    #[error("PE name length {0} out of 1..=16")]
    PeNameLength(usize),
    /// A message holds at most 255 entries.
    #[error("more than 255 entries in one sync message")]
    TooManyConns,
    /// A message is at most 65535 bytes.
    #[error("sync message of {0} bytes exceeds 65535")]
    MessageTooLong(usize),
    /// `lvs_sync_daemon` names a vrrp_instance that does not exist.
    #[error("{at}: lvs_sync_daemon: unknown vrrp_instance {name}")]
    UnknownInstance {
        /// `file:line` of the keyword.
        at: String,
        /// The instance name.
        name: String,
    },
    /// An `lvs_sync_daemon` value out of range.
    #[error("{at}: lvs_sync_daemon: {what}")]
    BadDaemonValue {
        /// `file:line` of the keyword.
        at: String,
        /// What is wrong.
        what: String,
    },
}

impl Error {
    /// For decode errors: does the kernel backup drop the rest of the
    /// datagram (true), or only this entry (false)?
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Error::UnknownMandatoryOption { .. })
    }
}
