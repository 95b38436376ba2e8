//! (probe: being built)
