//! lvs-vrrp (being built).
