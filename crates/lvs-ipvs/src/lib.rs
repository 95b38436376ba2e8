//! lvs-ipvs (being built).
