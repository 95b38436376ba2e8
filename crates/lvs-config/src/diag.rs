//! Diagnostics: what the front end tells the operator.
//!
//! Architecture Invariant: file names and config text are only ever
//! *arguments* of formatting, never the format string itself.

use std::fmt;

use serde::Serialize;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational: something surprising but as intended by keepalived.
    Note,
    /// Suspicious or ignored input; the config still loads.
    Warning,
    /// Invalid input; the value or block is dropped or defaulted.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Note => "note",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One message about the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Severity.
    pub severity: Severity,
    /// Stable machine-readable code (e.g. `unknown-keyword`, `persistence-default`).
    pub code: &'static str,
    /// File name (None for cross-file or whole-config findings).
    pub file: Option<String>,
    /// 1-based line (0 = none).
    pub line: u32,
    /// 1-based column (0 = none).
    pub col: u32,
    /// The keyword concerned, if any.
    pub keyword: Option<String>,
    /// One-line message.
    pub message: String,
    /// How to fix it, where that helps.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// `file:line:col` (or the parts that are known).
    pub fn location(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), 0) => f.clone(),
            (Some(f), l) => format!("{f}:{l}:{}", self.col.max(1)),
            (None, 0) => String::new(),
            (None, l) => format!("{l}:{}", self.col.max(1)),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: severity: 'keyword': message` and an indented hint line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = self.location();
        if !loc.is_empty() {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}", self.severity)?;
        if let Some(k) = &self.keyword {
            write!(f, ": '{}'", k.escape_debug())?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}
