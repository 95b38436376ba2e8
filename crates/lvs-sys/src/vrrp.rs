//! (vrrp: being built)
