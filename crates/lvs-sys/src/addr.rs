//! (addr: being built)
