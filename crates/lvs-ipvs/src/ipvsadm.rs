//! ipvsadm-compatible listing formats (being built).
