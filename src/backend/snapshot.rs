//! The snapshot backend: the live state is a JSON file shaped like `Tenant`.
//!
//! It is the embedded default that makes the quickstart work with no tenant, the format of
//! `export --snapshot`, and the fixture format of the tests. Writes go through
//! `tenant::apply_operation` (Graph's rules) and are persisted atomically after every
//! operation (write a temporary file beside it, then rename), so a crash never leaves a
//! half-written snapshot.
//!
//! Several processes may write one snapshot (two configs sharing it, an apply next to a
//! forced unlock). Each write batch holds an exclusive OS lock (`flock`, via `File::lock`) on
//! the snapshot file itself, so every read-modify-write sees the previous one and no update
//! is lost. Because a write replaces the file by rename, the writer locks the new file before
//! it becomes visible and keeps holding the lock across the rename; a waiter that wakes up
//! holding the lock of a replaced file moves on to the current one. The OS releases the lock
//! when its holder dies, so `--force-unlock` can never break a live writer's lock, and a
//! killed writer never leaves one behind. A symlinked snapshot is written through to its
//! target (the link stays a link), and only a regular file of bounded size is read.

use super::{BackendError, ExecReport, TenantBackend};
use crate::plan::Operation;
pub use crate::tenant::snapshot::{parse_snapshot, render_snapshot};
use crate::tenant::{Tenant, apply_operation};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The largest snapshot read (a 100,000-user tenant is about 65 MB): a device or a runaway
/// file is refused instead of exhausting memory.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// A tenant stored in a JSON file.
#[derive(Debug)]
pub struct SnapshotBackend {
    path: PathBuf,
    /// Serialises writers within this process (the OS lock serialises processes).
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
        if let Some(tenant) = stream_valid_snapshot(&self.path) {
            return Ok(tenant);
        }
        let text = read_snapshot_file(&self.path).map_err(|e| self.error(e))?;
        parse_snapshot(&text).map_err(|e| self.error(e))
    }

    /// Applies `ops` one by one under the snapshot's OS lock, persisting after each.
    fn execute_locked(&self, ops: &[Operation]) -> Vec<Result<ExecReport, BackendError>> {
        let target = match std::fs::canonicalize(&self.path) {
            Ok(target) => target,
            Err(e) => return ops.iter().map(|_| Err(self.error(e.to_string()))).collect(),
        };
        let mut held = match lock_current(&target) {
            Ok(file) => file,
            Err(e) => {
                let message = format!("cannot lock the snapshot: {e}");
                return ops
                    .iter()
                    .map(|_| Err(self.error(message.clone())))
                    .collect();
            }
        };
        remove_stale_temp_files(&target);
        ops.iter()
            .map(|op| {
                let mut tenant = self.load()?;
                apply_operation(&mut tenant, &op.kind)
                    .map_err(|violation| BackendError::broke_rule(op.kind.target(), &violation))?;
                replace_locked(&target, &mut held, &render_snapshot(&tenant))
                    .map_err(|e| self.error(e.to_string()))?;
                Ok(ExecReport::default())
            })
            .collect()
    }
}

/// Reads a snapshot: a regular file (a symlink to one is fine) of at most
/// `MAX_SNAPSHOT_BYTES`, as UTF-8. A FIFO or device is refused before it is opened (opening a
/// FIFO would block until a writer appears).
pub fn read_snapshot_file(path: &Path) -> Result<String, String> {
    let regular = |meta: &std::fs::Metadata| {
        if meta.is_file() {
            Ok(())
        } else {
            Err("not a regular file (a snapshot must be a JSON file, not a FIFO, device or directory)".to_string())
        }
    };
    regular(&std::fs::metadata(path).map_err(|e| e.to_string())?)?;
    let file = File::open(path).map_err(|e| e.to_string())?;
    regular(&file.metadata().map_err(|e| e.to_string())?)?;
    let mut bytes = Vec::new();
    file.take(MAX_SNAPSHOT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(format!(
            "larger than {} MB: refused",
            MAX_SNAPSHOT_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8: invalid byte at offset {}",
            e.utf8_error().valid_up_to()
        )
    })
}

/// An exclusive OS lock on the file currently at `path`, waiting for the holder. A file
/// replaced while we waited (the holder renamed a new version over it) is not the snapshot
/// any more: lock the current one instead.
fn lock_current(path: &Path) -> std::io::Result<File> {
    loop {
        let file = File::open(path)?;
        file.lock()?;
        if same_file(&file.metadata()?, &std::fs::metadata(path)?) {
            return Ok(file);
        }
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

/// Replaces the locked snapshot at `path` with `contents`: the new file is locked before the
/// rename makes it visible, so the lock is never let go between two versions. `held` becomes
/// the new file (holding the lock); the old one is closed, which wakes its waiters.
fn replace_locked(path: &Path, held: &mut File, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = temp_path(path);
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    file.lock()?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(path);
    *held = file;
    Ok(())
}

/// `.<name>.tmp-<pid>` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("snapshot");
    dir_of(path).join(format!(".{name}.tmp-{}", std::process::id()))
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes a rename durable (best effort: not every platform can open a directory).
fn sync_dir(path: &Path) {
    if let Ok(dir) = File::open(dir_of(path)) {
        let _ = dir.sync_all();
    }
}

/// Removes temporary files a killed writer left beside the snapshot. Called with the
/// snapshot's lock held: every writer holds it while its temporary file exists, so any
/// temporary file seen now belongs to a dead writer.
fn remove_stale_temp_files(path: &Path) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir_of(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let is_ours = file_name
            .strip_prefix(&prefix)
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if is_ours {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!("removed {} left by an interrupted write", file_name),
                Err(e) => tracing::warn!("cannot remove {}: {e}", file_name),
            }
        }
    }
}
/// A valid snapshot parsed straight from the file, never holding its text (650 MB at
/// 1,000,000 users, more than the tenant it describes); `None` for anything else (too large,
/// not JSON, invalid), which `read_snapshot_file` + `parse_snapshot` then read again to
/// report exactly as before: the streamed read only ever accepts what they accept.
fn stream_valid_snapshot(path: &Path) -> Option<Tenant> {
    // Never open what is not a regular file: opening a FIFO blocks until a writer appears.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_SNAPSHOT_BYTES {
        return None;
    }
    let reader = std::io::BufReader::with_capacity(1 << 20, file.take(MAX_SNAPSHOT_BYTES));
    let mut tenant: Tenant = serde_json::from_reader(reader).ok()?;
    if crate::tenant::snapshot::has_problems(&tenant) {
        return None;
    }
    crate::tenant::snapshot::tighten(&mut tenant);
    tenant.recount_consumed();
    tenant.normalize();
    Some(tenant)
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, fsync,
/// then rename over the target. A symlink at `path` is written through (its target is
/// replaced, the link stays).
pub fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    write_atomically_with(path, |file| file.write_all(contents.as_bytes()))
}

/// Writes a plan file (`plan --out`) atomically, streamed: the document is never held whole
/// in memory (133 MB at 1,000,000 users).
pub fn write_plan_file(path: &Path, doc: &crate::planfile::PlanFile) -> std::io::Result<()> {
    write_atomically_with(path, |out| doc.write_json(out))
}

/// Like `write_atomically`, but `write` streams the contents into a buffered file, so a
/// large document (a 1,000,000-user plan file) is never held whole in memory.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write;
    let path = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let tmp = temp_path(&path);
    {
        let mut file = std::io::BufWriter::with_capacity(64 * 1024, File::create(&tmp)?);
        write(&mut file)?;
        file.flush()?;
        file.get_ref().sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    sync_dir(&path);
    Ok(())
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
        self.execute_locked(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planfile::PlanFile;

    #[test]
    fn a_plan_file_is_written_exactly_as_the_document_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        for plan in [
            crate::render::fixtures::every_kind(),
            crate::render::fixtures::empty(),
        ] {
            let doc = PlanFile::from_plan(&plan);
            super::write_plan_file(&path, &doc).unwrap();
            let written = std::fs::read_to_string(&path).unwrap();
            assert_eq!(written, doc.to_json());
            assert_eq!(PlanFile::parse(&written).unwrap(), doc);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
        /// The streamed read accepts a valid snapshot as exactly the tenant the text read
        /// gives, and leaves every invalid one (a problem, a cut file) to the text read.
        #[test]
        fn the_streamed_read_is_the_text_read_or_nothing(
            users in 0usize..80,
            seed in 0u64..1_000,
            cut in 0usize..10_000,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tenant.json");
            let tenant = crate::synth::generate(&crate::synth::SynthSpec::served(users, seed)).tenant;
            let text = render_snapshot(&tenant);
            std::fs::write(&path, &text).unwrap();
            proptest::prop_assert_eq!(stream_valid_snapshot(&path), Some(parse_snapshot(&text).unwrap()));

            let mut broken = tenant.clone();
            if let Some(user) = broken.users.first_mut() {
                user.id = String::new();
                std::fs::write(&path, render_snapshot(&broken)).unwrap();
                proptest::prop_assert!(parse_snapshot(&render_snapshot(&broken)).is_err());
                proptest::prop_assert_eq!(stream_valid_snapshot(&path), None);
            }
            let cut = cut % text.len();
            std::fs::write(&path, &text[..cut]).unwrap();
            proptest::prop_assert_eq!(stream_valid_snapshot(&path), None);
        }
    }
}
