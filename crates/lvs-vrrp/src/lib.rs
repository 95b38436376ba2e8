//! lvs-vrrp — the VRRP engine (RFC 3768 VRRPv2, RFC 5798 VRRPv3), sans-IO and
//! behaviourally compatible with keepalived 2.2.7.
//!
//! Layer: plain data and logic. Time comes in as [`Instant`] arguments,
//! outputs are [`Action`]s pulled with [`Engine::poll_action`], and the next
//! deadline is [`Engine::poll_timeout`]. No sockets, no clock, no tokio. The
//! daemon (`lvsd`) maps keepalived.conf onto [`EngineCfg`] and turns actions
//! into `lvs-sys` calls.
//!
//! Inputs ([`Input`]) and actions ([`Action`]) are serde enums: the golden
//! conformance tests under `tests/conformance/` replay recorded inputs on a
//! virtual clock and compare the actions (`UPDATE_EXPECT=1` regenerates).
#![warn(missing_docs)]

pub mod config;
pub mod engine;
pub mod io;
pub mod stats;
pub mod time;

pub use config::{EngineCfg, InstanceCfg, ScriptCfg, SyncGroupCfg, Vip};
pub use engine::{Engine, InstanceStatus};
pub use io::{Action, Input, NotifyKind, RxPacket, State};
pub use stats::{DropReason, EngineStats, Stats};
pub use time::Instant;

/// Errors of this crate (configuration that cannot run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An instance's configuration is unusable.
    #[error("vrrp_instance {instance}: {msg}")]
    Config {
        /// Instance (or sync-group member) name.
        instance: String,
        /// What is wrong.
        msg: String,
    },
}
