//! lvs-check (being built).
