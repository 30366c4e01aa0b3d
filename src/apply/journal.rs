//! The apply journal: JSON lines, written ahead. Before a batch is sent, one `started` line
//! per operation is appended and fsynced; when an operation ends, its outcome line is
//! written before progress or the report shows it (and fsynced at the end of its wave). So
//! after a SIGKILL or a crash (a power loss too, for the `started` lines), every operation
//! that may have reached the tenant is in the journal (as `started` at least). Resuming does not replay it: `apply` re-plans and converges, and the
//! journal is the audit trail.

use super::Outcome;
use crate::plan::Operation;
use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the journal goes when `--journal` is not given: `<config dir>/.m365ctl/journal.jsonl`.
pub fn default_path(config_dir: &Path) -> PathBuf {
    config_dir.join(".m365ctl").join("journal.jsonl")
}

/// One journal line.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    /// RFC 3339 UTC.
    pub time: String,
    /// Operation id.
    pub op: &'a str,
    /// snake_case kind.
    pub kind: &'a str,
    /// UPN or group.
    pub target: &'a str,
    /// `started` (written ahead), then `done`, `already_done`, `failed`, `skipped` or
    /// `not_started`.
    pub outcome: &'static str,
    /// The backend's reason, or the failed dependency of a skipped op.
    pub error: Option<String>,
    /// Graph request id.
    pub request_id: Option<&'a str>,
}

/// An open, append-only journal file.
#[derive(Debug)]
pub struct Journal {
    file: File,
}

impl Journal {
    /// Opens (creating directories and the file as needed) for appending.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Journal { file })
    }

    /// Records, durably, that `ops` are about to be sent: called before any of them can reach
    /// the tenant.
    pub fn record_started(&mut self, ops: &[Operation]) -> std::io::Result<()> {
        let mut lines = Vec::new();
        for op in ops {
            let entry = Entry {
                time: super::clock::now_rfc3339(),
                op: &op.id,
                kind: op.kind.name(),
                target: op.kind.target(),
                outcome: "started",
                error: None,
                request_id: None,
            };
            serde_json::to_writer(&mut lines, &entry).map_err(std::io::Error::other)?;
            lines.push(b'\n');
        }
        self.file.write_all(&lines)?;
        self.file.sync_data()
    }

    /// Appends one line for `op` (written to the OS before anyone is told it is done, so it
    /// survives the process being killed; fsynced at the end of the wave by `sync`).
    pub fn record(&mut self, op: &Operation, outcome: &Outcome) -> std::io::Result<()> {
        let entry = Entry {
            time: super::clock::now_rfc3339(),
            op: &op.id,
            kind: op.kind.name(),
            target: op.kind.target(),
            outcome: outcome.label(),
            error: outcome.reason(),
            request_id: match outcome {
                Outcome::Done { request_id } => request_id.as_deref(),
                _ => None,
            },
        };
        let mut line = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.flush()
    }

    /// Forces what was written to disk (end of a wave).
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}
