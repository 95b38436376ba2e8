//! The only door to the outside world: reading files through [`Source`].
//!
//! Architecture Invariant: lvs-config performs no I/O except through this
//! trait, so tests feed configurations from memory ([`MemSource`]).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// What the front end needs to know about a file besides its bytes
/// (for lint c: keepalived skips executable or non-regular files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileMeta {
    /// A regular file (after following symlinks).
    pub is_file: bool,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// Where configuration text comes from.
pub trait Source {
    /// Read a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Read a whole file into `buf` (replacing what it held), reusing its memory where the
    /// source can: a reload reads into the buffer the previous reload freed.
    fn read_into(&self, path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
        let bytes = self.read(path)?;
        buf.clear();
        buf.extend_from_slice(&bytes);
        Ok(())
    }
    /// File type and permissions.
    fn metadata(&self, path: &Path) -> io::Result<FileMeta>;
    /// Expand a glob pattern (`*`, `?`, `[…]`; braces are expanded by the
    /// caller) to the existing paths it matches, sorted.
    fn glob(&self, pattern: &str) -> io::Result<Vec<PathBuf>>;
    /// The host name (for the default config-id of `@name` lines).
    fn hostname(&self) -> Option<String> {
        None
    }
    /// An environment variable (for `${_ENV NAME}`).
    fn env_var(&self, _name: &str) -> Option<String> {
        None
    }
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsSource;

impl Source for FsSource {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_into(&self, path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
        use std::io::Read;
        buf.clear();
        std::fs::File::open(path)?.read_to_end(buf)?;
        Ok(())
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        let m = std::fs::metadata(path)?;
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            m.permissions().mode() & 0o7777
        };
        #[cfg(not(unix))]
        let mode = 0o644;
        Ok(FileMeta {
            is_file: m.is_file(),
            mode,
        })
    }

    fn glob(&self, pattern: &str) -> io::Result<Vec<PathBuf>> {
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let paths = glob::glob_with(pattern, opts)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let mut out: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        out.sort();
        Ok(out)
    }

    fn hostname(&self) -> Option<String> {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// An in-memory file system for tests and fuzzing.
#[derive(Debug, Clone, Default)]
pub struct MemSource {
    files: BTreeMap<PathBuf, (Vec<u8>, FileMeta)>,
    /// Host name returned by [`Source::hostname`].
    pub hostname: Option<String>,
    /// Environment returned by [`Source::env_var`].
    pub env: BTreeMap<String, String>,
}

impl MemSource {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a regular file with mode 0644.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<Vec<u8>>) -> &mut Self {
        self.add_with_meta(
            path,
            text,
            FileMeta {
                is_file: true,
                mode: 0o644,
            },
        )
    }

    /// Add a file with explicit metadata.
    pub fn add_with_meta(
        &mut self,
        path: impl Into<PathBuf>,
        text: impl Into<Vec<u8>>,
        meta: FileMeta,
    ) -> &mut Self {
        self.files.insert(path.into(), (text.into(), meta));
        self
    }
}

impl Source for MemSource {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .map(|(b, _)| b.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        self.files
            .get(path)
            .map(|(_, m)| *m)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn glob(&self, pattern: &str) -> io::Result<Vec<PathBuf>> {
        Ok(self
            .files
            .keys()
            .filter(|p| {
                p.to_str()
                    .is_some_and(|s| glob_match(pattern.as_bytes(), s.as_bytes()))
            })
            .cloned()
            .collect())
    }

    fn hostname(&self) -> Option<String> {
        self.hostname.clone()
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

/// Shell-style wildcard match (`*` and `?` do not cross `/`; `[…]` classes
/// with `!`/`^` negation and ranges). Iterative, no recursion blow-up.
pub(crate) fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                b'?' if s[i] != b'/' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(&pat[p..], s[i]) {
                        if matched && s[i] != b'/' {
                            p += next;
                            i += 1;
                            continue;
                        }
                    } else if s[i] == b'[' {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pat.len() && pat[p + 1] == s[i] => {
                    p += 2;
                    i += 1;
                    continue;
                }
                c if c == s[i] => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, si)) if s[si] != b'/' => {
                star = Some((sp, si + 1));
                p = sp + 1;
                i = si + 1;
            }
            _ => return false,
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

/// Match a `[…]` class at the start of `pat`; returns (matched, class length).
fn class_match(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut j = 1;
    let neg = matches!(pat.get(j), Some(b'!') | Some(b'^'));
    if neg {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    while j < pat.len() {
        if pat[j] == b']' && !first {
            return Some((matched != neg, j + 1));
        }
        first = false;
        if j + 2 < pat.len() && pat[j + 1] == b'-' && pat[j + 2] != b']' {
            if pat[j] <= c && c <= pat[j + 2] {
                matched = true;
            }
            j += 3;
        } else {
            if pat[j] == c {
                matched = true;
            }
            j += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globbing() {
        assert!(glob_match(b"/etc/k/*.conf", b"/etc/k/a.conf"));
        assert!(!glob_match(b"/etc/k/*.conf", b"/etc/k/sub/a.conf"));
        assert!(glob_match(b"/a/?.c[a-z]nf", b"/a/x.conf"));
        assert!(!glob_match(b"/a/[!x].conf", b"/a/x.conf"));
        assert!(glob_match(b"*", b"abc"));
        assert!(!glob_match(b"a*b", b"acc"));
    }
}
