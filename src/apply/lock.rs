//! One apply at a time per config: `<config dir>/.m365ctl/apply.lock`, held with an exclusive
//! OS lock (`flock`, via `File::try_lock`) for the whole apply, and holding the holder's pid,
//! host and start time for the messages.
//!
//! Whether a holder is alive is decided by the OS lock, not by the file's content: the OS
//! releases it when the process dies, so a reused pid, an empty or a garbage file cannot make
//! a dead holder look alive (or a live one dead). A live holder is never broken, not even by
//! `--force-unlock`. A file left by a dead holder is reported with what it says about the
//! holder and `--force-unlock`, never silently taken over: the interrupted apply may need a
//! look at the journal first. (An empty file carries no record of an apply: it is taken.)
//!
//! For the Graph backend this only guards one machine; in CI the workflow's concurrency group
//! is the primary guard, and the live fingerprint (stale-plan check) detects concurrent
//! changes made by anyone else. The snapshot backend also locks the snapshot file itself.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Where the lock lives: `<config dir>/.m365ctl/apply.lock`.
pub fn default_path(config_dir: &Path) -> PathBuf {
    config_dir.join(".m365ctl").join("apply.lock")
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another apply holds the OS lock: it is running.
    #[error(
        "another apply is running on this config ({holder}; lock {path}); wait for it to finish (--force-unlock does not break the lock of a running apply)"
    )]
    Held {
        /// Lock file.
        path: PathBuf,
        /// What the lock file says about the holder.
        holder: Holder,
    },
    /// The file is left by a holder that is gone: a crashed or killed apply.
    #[error(
        "stale apply lock {path} ({holder}), whose process no longer holds it: the previous apply was interrupted. Check the journal, then re-run with --force-unlock; apply re-plans and converges"
    )]
    Stale {
        /// Lock file.
        path: PathBuf,
        /// What the lock file says about the dead holder.
        holder: Holder,
    },
    /// The lock file could not be created, locked, read or written.
    #[error("apply lock {path}: {source}")]
    Io {
        /// Lock file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// What a lock file says about its holder; `None` where it says nothing readable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    /// Process id.
    pub pid: Option<String>,
    /// Host name.
    pub host: Option<String>,
    /// Start time (RFC 3339).
    pub started: Option<String>,
    /// The content when it is not a lock record (cut), for the message.
    pub unreadable: Option<String>,
}

impl Holder {
    /// Parses `pid=…`, `host=…`, `started=…` lines.
    fn parse(text: &str) -> Holder {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .map(|v| crate::render::escape::shorten(v.trim(), 64).into_owned())
                .filter(|v| !v.is_empty())
        };
        let mut holder = Holder {
            pid: field("pid"),
            host: field("host"),
            started: field("started"),
            unreadable: None,
        };
        if holder.pid.is_none() && holder.started.is_none() {
            holder.unreadable = Some(crate::render::escape::shorten(text.trim(), 64).into_owned());
        }
        holder
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(content) = &self.unreadable {
            return if content.is_empty() {
                write!(f, "holder unknown: the lock file is empty")
            } else {
                write!(f, "holder unknown: the lock file holds {content:?}")
            };
        }
        let unknown = "unknown";
        write!(
            f,
            "pid {} on host {}, started {}",
            self.pid.as_deref().unwrap_or(unknown),
            self.host.as_deref().unwrap_or(unknown),
            self.started.as_deref().unwrap_or(unknown)
        )
    }
}

/// A held lock; dropping it removes the file, then releases the OS lock.
#[derive(Debug)]
pub struct ApplyLock {
    path: PathBuf,
    _file: File,
}

impl ApplyLock {
    /// Takes the lock at `path`. With `force`, a file left by a dead holder is taken over;
    /// a live holder is never broken.
    pub fn acquire(path: &Path, force: bool) -> Result<ApplyLock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        loop {
            let mut file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(io)?;
            let mut text = String::new();
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let _ = file.read_to_string(&mut text);
                    return Err(LockError::Held {
                        path: path.to_path_buf(),
                        holder: Holder::parse(&text),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
            // A holder that finished removed the file we opened: lock the current one.
            if !is_current(&file, path) {
                continue;
            }
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(io)?;
            let text = String::from_utf8_lossy(&bytes);
            if !text.trim().is_empty() {
                let holder = Holder::parse(&text);
                if !force {
                    return Err(LockError::Stale {
                        path: path.to_path_buf(),
                        holder,
                    });
                }
                tracing::warn!(
                    "taking over apply lock {} left by an interrupted apply ({holder}) (--force-unlock)",
                    path.display()
                );
            }
            let body = format!(
                "pid={}\nhost={}\nstarted={}\n",
                std::process::id(),
                host_name(),
                super::clock::now_rfc3339()
            );
            file.set_len(0).map_err(io)?;
            file.rewind().map_err(io)?;
            file.write_all(body.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            return Ok(ApplyLock {
                path: path.to_path_buf(),
                _file: file,
            });
        }
    }
}

impl Drop for ApplyLock {
    fn drop(&mut self) {
        // Removed while still locked: whoever opened it meanwhile sees it is no longer
        // the current file and starts over.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether `file` is still the file at `path` (not removed or replaced since it was opened).
#[cfg(unix)]
fn is_current(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_current(_: &File, path: &Path) -> bool {
    path.exists()
}

/// This machine's name, for the lock record (`gethostname(2)`, `GetComputerNameExW`).
fn host_name() -> String {
    let name = gethostname::gethostname();
    let name = name.to_string_lossy();
    if name.trim().is_empty() {
        "unknown".to_string()
    } else {
        name.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_records_this_process_host_and_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path());
        let lock = ApplyLock::acquire(&path, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let holder = Holder::parse(&text);
        assert_eq!(holder.pid, Some(std::process::id().to_string()), "{text}");
        let host = holder.host.expect("a host line");
        assert!(
            !host.is_empty() && !host.contains(char::is_whitespace),
            "{text}"
        );
        let started = holder.started.expect("a start time");
        assert!(started.len() == 20 && started.ends_with('Z'), "{text}");
        // A second taker in the same process sees the live holder, named as recorded.
        match ApplyLock::acquire(&path, true) {
            Err(LockError::Held { holder: seen, .. }) => assert_eq!(seen, Holder::parse(&text)),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(lock);
        assert!(!path.exists(), "released and removed");
    }

    #[test]
    fn holder_messages_say_what_is_known() {
        let h = Holder::parse("pid=12\nhost=ci-7\nstarted=2026-01-01T00:00:00Z\n");
        assert_eq!(
            h.to_string(),
            "pid 12 on host ci-7, started 2026-01-01T00:00:00Z"
        );
        assert_eq!(
            Holder::parse("pid=12\n").to_string(),
            "pid 12 on host unknown, started unknown"
        );
        assert!(
            Holder::parse("\u{0}garbage")
                .to_string()
                .contains("holder unknown")
        );
    }
}
