//! The snapshot backend: the live state is a JSON file shaped like `Tenant`.
//!
//! It is the embedded default that makes the quickstart work with no tenant, the format of
//! `export --snapshot`, and the fixture format of the tests. Writes go through
//! `tenant::apply_operation` (Graph's rules) and are persisted atomically after every
//! operation (write a temporary file beside it, then rename), so a crash never leaves a
//! half-written snapshot.

use super::{BackendError, ExecReport, TenantBackend};
use crate::plan::Operation;
use crate::tenant::{Tenant, apply_operation};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A tenant stored in a JSON file.
#[derive(Debug)]
pub struct SnapshotBackend {
    path: PathBuf,
    /// Serialises writers within this process; cross-process locking is the executor's job.
    state: Mutex<()>,
}

impl SnapshotBackend {
    /// A backend over the snapshot at `path` (not read until `read`/`execute`).
    pub fn new(path: impl Into<PathBuf>) -> SnapshotBackend {
        SnapshotBackend {
            path: path.into(),
            state: Mutex::new(()),
        }
    }

    /// The snapshot file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, message: impl Into<String>) -> BackendError {
        BackendError::Snapshot {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    fn load(&self) -> Result<Tenant, BackendError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.error(e.to_string()))?;
        parse_snapshot(&text).map_err(|e| self.error(e))
    }
}

/// Parses snapshot JSON into a normalised tenant (seat counts recomputed from assignments).
pub fn parse_snapshot(text: &str) -> Result<Tenant, String> {
    let mut tenant: Tenant = serde_json::from_str(text).map_err(|e| {
        format!(
            "invalid snapshot JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    tenant.recount_consumed();
    tenant.normalize();
    Ok(tenant)
}

/// Serialises a tenant as canonical, pretty snapshot JSON (trailing newline included).
pub fn render_snapshot(tenant: &Tenant) -> String {
    let mut tenant = tenant.clone();
    tenant.normalize();
    let mut text = serde_json::to_string_pretty(&tenant).expect("tenant serialises");
    text.push('\n');
    text
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, fsync,
/// then rename over the target.
pub fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    write_atomically_with(path, |file| file.write_all(contents.as_bytes()))
}

/// Like `write_atomically`, but `write` streams the contents into a buffered file, so a
/// large document (a 1,000,000-user plan file) is never held whole in memory.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("snapshot");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut file = std::io::BufWriter::with_capacity(64 * 1024, std::fs::File::create(&tmp)?);
        write(&mut file)?;
        file.flush()?;
        file.get_ref().sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

impl TenantBackend for SnapshotBackend {
    fn describe(&self) -> String {
        format!("snapshot {}", self.path.display())
    }

    async fn read(&self) -> Result<Tenant, BackendError> {
        self.load()
    }

    async fn execute(&self, ops: &[Operation]) -> Vec<Result<ExecReport, BackendError>> {
        let _guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let outcome = self.load().and_then(|mut tenant| {
                apply_operation(&mut tenant, &op.kind).map_err(|violation| {
                    BackendError::Rejected {
                        target: op.kind.target().to_string(),
                        violation,
                    }
                })?;
                write_atomically(&self.path, &render_snapshot(&tenant))
                    .map_err(|e| self.error(e.to_string()))?;
                Ok(ExecReport::default())
            });
            results.push(outcome);
        }
        results
    }
}
