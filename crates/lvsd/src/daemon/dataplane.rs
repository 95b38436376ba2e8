//! Driver: dataplane (being built).
