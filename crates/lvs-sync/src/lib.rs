//! lvs-sync (being built).
