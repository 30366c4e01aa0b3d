//! Issue 14, items 4 and 9: the apply lock's liveness is the OS lock, not the file's content.
//! An empty, garbage or reused-pid lock file never blocks forever: it is taken (empty) or
//! reported naming `--force-unlock` and what is known about the holder; a live holder, in this
//! process or another, is never broken, not even by `--force-unlock`.

use m365ctl::apply::lock::{ApplyLock, LockError};

#[test]
fn an_empty_lock_file_without_a_holder_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apply.lock");
    std::fs::write(&path, "").unwrap();
    let _lock = ApplyLock::acquire(&path, false).expect("an empty file records no apply");
}

#[test]
fn garbage_or_a_reused_pid_is_reported_with_force_unlock_and_the_holder() {
    let me = std::process::id();
    for (content, expected) in [
        (
            "\u{1b}[2Jgarbage\n".to_string(),
            "holder unknown".to_string(),
        ),
        (
            // Our own pid is alive: a pid check would wait forever on a reused pid.
            format!("pid={me}\nhost=old-runner\nstarted=2026-01-01T00:00:00Z\n"),
            format!("pid {me} on host old-runner, started 2026-01-01T00:00:00Z"),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("apply.lock");
        std::fs::write(&path, &content).unwrap();
        let err = ApplyLock::acquire(&path, false).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LockError::Stale { .. }), "{text}");
        assert!(text.contains("--force-unlock"), "{text}");
        assert!(text.contains(&expected), "{text}");
        assert!(path.exists(), "never removed silently");
        let _lock = ApplyLock::acquire(&path, true).expect("--force-unlock takes it over");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains(&format!("pid={me}\nhost="))
        );
    }
}

#[test]
fn force_unlock_never_breaks_a_live_holder_in_this_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apply.lock");
    let held = ApplyLock::acquire(&path, false).unwrap();
    let err = ApplyLock::acquire(&path, true).unwrap_err();
    assert!(matches!(err, LockError::Held { .. }), "{err}");
    assert!(err.to_string().contains("does not break"), "{err}");
    drop(held);
    assert!(!path.exists());
    ApplyLock::acquire(&path, false).unwrap();
}

/// Another process holds the lock (util-linux `flock(1)` takes the same `flock(2)` lock).
#[cfg(target_os = "linux")]
#[test]
fn force_unlock_never_breaks_a_live_holder_in_another_process() {
    if std::process::Command::new("flock")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("flock(1) not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apply.lock");
    std::fs::write(
        &path,
        "pid=1\nhost=elsewhere\nstarted=2026-01-01T00:00:00Z\n",
    )
    .unwrap();
    // --no-fork: the lock belongs to the process we kill (not to a forked `sleep`).
    let mut holder = std::process::Command::new("flock")
        .args(["--no-fork"])
        .arg(&path)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let probe = std::fs::File::open(&path).unwrap();
        match probe.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) => break,
            _ => assert!(
                std::time::Instant::now() < deadline,
                "flock never took the lock"
            ),
        }
        drop(probe);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let err = ApplyLock::acquire(&path, true).unwrap_err();
    assert!(matches!(err, LockError::Held { .. }), "{err}");
    assert!(err.to_string().contains("pid 1 on host elsewhere"), "{err}");
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Its process is gone: the record it left is stale, and --force-unlock takes it.
    let stale = ApplyLock::acquire(&path, false).unwrap_err();
    assert!(matches!(stale, LockError::Stale { .. }), "{stale}");
    ApplyLock::acquire(&path, true).unwrap();
}
