//! (ipvs: being built)
