//! Driver: vrrp (being built).
