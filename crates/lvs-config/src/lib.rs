//! lvs-config (being built).
