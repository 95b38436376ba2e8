//! Admin API types (ip_vs.h user structs) and the IpvsBackend trait (being built).
