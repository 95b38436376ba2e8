//! lvs-dataplane (being built).
