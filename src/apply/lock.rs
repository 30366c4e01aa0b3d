//! One apply at a time per config: an exclusive lock file `<config dir>/.m365ctl/apply.lock`
//! created with `create_new`, holding the pid and start time. A lock left by a dead process is
//! reported with instructions, never silently removed (unless `--force-unlock`): the
//! interrupted apply may need a look at the journal first.
//!
//! For the Graph backend this only guards one machine; in CI the workflow's concurrency group
//! is the primary guard, and the live fingerprint (stale-plan check) detects concurrent
//! changes made by anyone else.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the lock lives: `<config dir>/.m365ctl/apply.lock`.
pub fn default_path(config_dir: &Path) -> PathBuf {
    config_dir.join(".m365ctl").join("apply.lock")
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another apply holds it and its process is running (or cannot be checked).
    #[error(
        "another apply is running on this config (pid {pid}, started {started}; lock {path}); wait for it to finish"
    )]
    Held {
        /// Lock file.
        path: PathBuf,
        /// Holder's pid.
        pid: String,
        /// Holder's start time.
        started: String,
    },
    /// The holder is gone: a crashed or killed apply.
    #[error(
        "stale apply lock {path} from pid {pid} (started {started}), which is no longer running: the previous apply was interrupted. Check the journal, then re-run with --force-unlock; apply re-plans and converges"
    )]
    Stale {
        /// Lock file.
        path: PathBuf,
        /// Dead holder's pid.
        pid: String,
        /// Its start time.
        started: String,
    },
    /// The lock file could not be created or read.
    #[error("apply lock {path}: {source}")]
    Io {
        /// Lock file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// A held lock; dropping it removes the file.
#[derive(Debug)]
pub struct ApplyLock {
    path: PathBuf,
}

impl ApplyLock {
    /// Takes the lock at `path`. With `force`, an existing lock is removed first.
    pub fn acquire(path: &Path, force: bool) -> Result<ApplyLock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        if force {
            match std::fs::remove_file(path) {
                Ok(()) => tracing::warn!("removed apply lock {} (--force-unlock)", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(mut file) => {
                let body = format!(
                    "pid={}\nstarted={}\n",
                    std::process::id(),
                    super::clock::now_rfc3339()
                );
                file.write_all(body.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                Ok(ApplyLock {
                    path: path.to_path_buf(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let field = |name: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                        .unwrap_or("unknown")
                        .to_string()
                };
                let (pid, started) = (field("pid"), field("started"));
                if process_is_gone(&pid) {
                    Err(LockError::Stale {
                        path: path.to_path_buf(),
                        pid,
                        started,
                    })
                } else {
                    Err(LockError::Held {
                        path: path.to_path_buf(),
                        pid,
                        started,
                    })
                }
            }
            Err(e) => Err(io(e)),
        }
    }
}

impl Drop for ApplyLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether the lock holder certainly no longer runs (Linux `/proc`; elsewhere we cannot tell
/// and assume it runs).
fn process_is_gone(pid: &str) -> bool {
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    cfg!(target_os = "linux")
        && Path::new("/proc/self").exists()
        && !Path::new(&format!("/proc/{pid}")).exists()
}
