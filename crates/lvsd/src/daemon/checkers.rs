//! Driver: checkers (being built).
