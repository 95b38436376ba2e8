//! The director daemon's async plumbing (being built).

pub(crate) mod checkers;
pub(crate) mod dataplane;
pub(crate) mod vrrp;
