//! lvs-ipvs-nl (being built).
