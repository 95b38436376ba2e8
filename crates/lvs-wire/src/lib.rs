//! lvs-wire (being built).
