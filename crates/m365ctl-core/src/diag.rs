//! Diagnostics: user-facing errors and warnings that point at a place in the config.
//!
//! Every problem with the desired state is reported as a `Diagnostic` carrying the file, the
//! 1-based line and column, and a hint, so CI can annotate the exact TOML line and a human can
//! fix it without guessing. The planner uses the same type for plan-time errors (unaffordable
//! seats, conflicts), with or without a location.

use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Shown, but does not stop plan or apply.
    Warning,
    /// Stops validate / plan / apply with exit code 1.
    Error,
}

/// A place in a config file: path as given, 1-based line and column, and the byte span.
///
/// 24 bytes: an exported 100,000-entry users.toml holds about ten origins per entry (the
/// key, each setting, each SKU), loaded and then again in the desired state. Positions are
/// `u32`: `desired::from_sources` refuses a source over `MAX_SOURCE_BYTES`, so none is cut.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Origin {
    /// File path as the user wrote it (relative paths stay relative: CI annotations need that).
    pub file: FileName,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
    /// Byte range in the file, for snippet rendering (`byte_span`).
    #[serde(skip)]
    pub span: std::ops::Range<u32>,
}

/// The largest config text positions are kept for: every offset, line and column of it fits
/// a `u32` (a line or column is at most the length + 1). `from_sources` refuses a larger one
/// (the shell already refuses files over 64 MiB).
pub const MAX_SOURCE_BYTES: usize = u32::MAX as usize - 1;

/// A file name shared by every origin in that file (a 100,000-entry users.toml has 100,000
/// origins naming it): one pointer, half an `Arc<str>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName(Arc<String>);

impl std::ops::Deref for FileName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for FileName {
    fn from(name: &str) -> FileName {
        FileName(Arc::new(name.to_string()))
    }
}

impl From<String> for FileName {
    fn from(name: String) -> FileName {
        FileName(Arc::new(name))
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for FileName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl Origin {
    /// Computes line and column from a byte span in `source` (one-off; for many positions in
    /// one file use `SourceMap`).
    pub fn from_span(file: &str, source: &str, span: std::ops::Range<usize>) -> Origin {
        SourceMap::new(file, source).origin(span)
    }

    /// The byte range in the file, to index its text with.
    pub fn byte_span(&self) -> std::ops::Range<usize> {
        widen(self.span.start)..widen(self.span.end)
    }
}

/// A position as stored: sources are at most `MAX_SOURCE_BYTES`, so it fits.
fn narrow(position: usize) -> u32 {
    u32::try_from(position).unwrap_or(u32::MAX)
}

/// A stored position as an index (`u32` always fits in a 64- or 32-bit `usize`).
fn widen(position: u32) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

/// One source file's name and line starts: positions resolve in O(log lines) instead of a
/// scan from the top of the file per position (quadratic on an exported 100,000-user file).
#[derive(Debug, Clone)]
pub struct SourceMap<'a> {
    file: FileName,
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    /// Indexes `source`, named `file` in every origin it makes.
    pub fn new(file: &str, source: &'a str) -> SourceMap<'a> {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceMap {
            file: FileName::from(file),
            source,
            line_starts,
        }
    }

    /// The file name as given.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The text the positions are in.
    pub fn source(&self) -> &'a str {
        self.source
    }

    /// The whole lines `span` touches, without the final newline: a table copied as written.
    pub fn lines(&self, span: std::ops::Range<usize>) -> &'a str {
        let start = span.start.min(self.source.len());
        let end = span.end.clamp(start, self.source.len());
        let line_start = self.line_starts[self.line_starts.partition_point(|&s| s <= start) - 1];
        let line_end = self.source[end..]
            .find('\n')
            .map(|i| end + i)
            .unwrap_or(self.source.len());
        &self.source[line_start..line_end]
    }

    /// The origin of a byte span: 1-based line and column (in characters).
    pub fn origin(&self, span: std::ops::Range<usize>) -> Origin {
        let start = span.start.min(self.source.len());
        let line = self.line_starts.partition_point(|&s| s <= start);
        let line_start = self.line_starts[line - 1];
        let column = self.source[line_start..start].chars().count() + 1;
        Origin {
            file: self.file.clone(),
            line: narrow(line),
            column: narrow(column),
            span: narrow(span.start)..narrow(span.end),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, when it comes from the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at an optional place.
    pub fn error(message: impl Into<String>, origin: Option<Origin>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            origin,
            hint: None,
        }
    }

    /// A warning at an optional place.
    pub fn warning(message: impl Into<String>, origin: Option<Origin>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            origin,
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Whether this stops the run.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// One-line form: `file:line:col: error: message (hint: ...)`; the CLI renders snippets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "{origin}: ")?;
        }
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{level}: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A non-empty list of diagnostics with at least one error: the error type of config loading,
/// resolution and planning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct Diagnostics(pub Vec<Diagnostic>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_counts_lines_and_columns_from_one() {
        let src = "a = 1\nbb = \"x\"\n";
        let o = Origin::from_span("c.toml", src, 11..14);
        assert_eq!((o.line, o.column), (2, 6));
        assert_eq!(o.to_string(), "c.toml:2:6");
        assert_eq!(o.byte_span(), 11..14);
    }

    /// A regression guard: origins are the most numerous values of a loaded config (about ten
    /// per exported user entry), so growing one grows a 100,000-entry config by ~1 MB per byte.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn an_origin_is_three_words() {
        assert_eq!(std::mem::size_of::<Origin>(), 24);
    }
}
