//! Issue 14, items 4, 7 and 11 on the snapshot backend: two applies on two configs sharing one
//! snapshot lose no update (an OS lock on the snapshot file itself), a symlinked snapshot stays
//! a symlink, temporary files of killed writers are cleaned up, and a FIFO is refused.

use crate::common;
use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn m365ctl() -> Command {
    let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
    cmd.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1");
    cmd
}

/// A config managing E3 for users `range`, on the snapshot at `snapshot` (relative path).
fn config(dir: &Path, snapshot: &str, range: std::ops::Range<usize>) {
    let mut text = format!(
        "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"{snapshot}\"\n\n[skus]\nE3 = \"ENTERPRISEPACK\"\n\n[scope]\nmanage_skus = [\"E3\"]\nusers = \"declared\"\n\n[profiles.staff]\nlicenses = [\"E3\"]\n"
    );
    for i in range {
        text.push_str(&format!(
            "\n[users.\"u{i}@contoso.com\"]\nprofile = \"staff\"\n"
        ));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("m365ctl.toml"), text).unwrap();
}

fn write_tenant(path: &Path, users: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text = m365ctl::backend::snapshot::render_snapshot(&common::tenant(users, 1000, 0));
    std::fs::write(path, text).unwrap();
}

fn licensed(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let tenant = m365ctl::backend::snapshot::parse_snapshot(&text).unwrap();
    tenant
        .users
        .iter()
        .filter(|u| !u.licenses.is_empty())
        .count()
}

#[test]
fn two_applies_on_two_configs_sharing_one_snapshot_lose_nothing() {
    const PER_CONFIG: usize = 40;
    let root = tempfile::tempdir().unwrap();
    let snapshot = root.path().join("shared/tenant.json");
    write_tenant(&snapshot, 2 * PER_CONFIG);
    config(
        &root.path().join("a"),
        "../shared/tenant.json",
        0..PER_CONFIG,
    );
    config(
        &root.path().join("b"),
        "../shared/tenant.json",
        PER_CONFIG..2 * PER_CONFIG,
    );
    // One operation per write, both at once: every write is a read-modify-write of the file.
    let spawn = |name: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin!("m365ctl"))
            .args(["apply", "--auto-approve", "--concurrency", "1", "-c"])
            .arg(root.path().join(name))
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(licensed(&snapshot), 2 * PER_CONFIG, "an update was lost");
    for name in ["a", "b"] {
        m365ctl()
            .args(["plan", "--detailed-exitcode", "-c"])
            .arg(root.path().join(name))
            .assert()
            .code(0);
    }
    let leftovers: Vec<_> = std::fs::read_dir(root.path().join("shared"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "tenant.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn a_symlinked_snapshot_stays_a_symlink_and_stale_temp_files_go() {
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("data/tenant.json");
    write_tenant(&target, 3);
    let dir = root.path().join("conf");
    config(&dir, "tenant.json", 0..3);
    std::os::unix::fs::symlink(&target, dir.join("tenant.json")).unwrap();
    // A writer killed before its rename left its temporary file (pid 999999999 is not ours).
    let stale = root.path().join("data/.tenant.json.tmp-999999999");
    std::fs::write(&stale, "{half").unwrap();
    m365ctl()
        .args(["apply", "--auto-approve", "-c"])
        .arg(&dir)
        .assert()
        .code(0);
    let link = std::fs::symlink_metadata(dir.join("tenant.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the symlink was replaced");
    assert_eq!(licensed(&target), 3, "the target was written through");
    assert!(!stale.exists(), "the stale temporary file is still there");
}

#[cfg(unix)]
#[test]
fn a_fifo_as_snapshot_is_refused_without_hanging() {
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("tenant.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    config(root.path(), "tenant.json", 0..1);
    let started = Instant::now();
    for command in ["plan", "validate"] {
        m365ctl()
            .args([command, "-c"])
            .arg(root.path())
            .timeout(Duration::from_secs(20))
            .assert()
            .code(1)
            .stderr(predicate::str::contains("not a regular file"));
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Issue 14, item 8: SIGKILL `apply` at moments spread over a whole run (seeded): the journal
/// lists every operation whose effect is in the snapshot (written ahead), the snapshot always
/// parses, and the next apply cleans up and converges.
#[cfg(unix)]
#[test]
fn sigkill_at_random_moments_leaves_every_applied_operation_in_the_journal() {
    const USERS: usize = 30;
    const KILLS: u64 = 12;
    let setup = || {
        let root = tempfile::tempdir().unwrap();
        write_tenant(&root.path().join("tenant.json"), USERS);
        config(root.path(), "tenant.json", 0..USERS);
        root
    };
    let apply = |dir: &Path| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin!("m365ctl"))
            // Batches of 8 operations: one `execute` writes several before it returns.
            .args(["apply", "--auto-approve", "-c"])
            .arg(dir)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long a whole run takes here, so the kills spread over it.
    let full = {
        let root = setup();
        let started = Instant::now();
        assert!(apply(root.path()).wait().unwrap().success());
        started.elapsed()
    };
    let mut rng = common::Rng::new(14);
    let mut mid_run = 0;
    for k in 0..KILLS {
        let root = setup();
        let mut child = apply(root.path());
        let fraction = (k * 100 + rng.below(100)) as f64 / (KILLS * 100) as f64;
        std::thread::sleep(full.mul_f64(fraction * 1.2));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        let text = std::fs::read_to_string(root.path().join("tenant.json")).unwrap();
        let tenant = m365ctl::backend::snapshot::parse_snapshot(&text).expect("never torn");
        let applied: Vec<&str> = tenant
            .users
            .iter()
            .filter(|u| !u.licenses.is_empty())
            .map(|u| u.user_principal_name.as_str())
            .collect();
        let journal =
            std::fs::read_to_string(root.path().join(".m365ctl/journal.jsonl")).unwrap_or_default();
        let journaled: std::collections::BTreeSet<String> = journal
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|e| e["target"].as_str().map(str::to_string))
            .collect();
        for upn in &applied {
            assert!(
                journaled.contains(*upn),
                "kill {k}: {upn} was applied but is not in the journal:\n{journal}"
            );
        }
        if !applied.is_empty() && applied.len() < USERS {
            mid_run += 1;
        }
        // The interrupted apply's lock is reported; after --force-unlock the next apply
        // converges and leaves no temporary file.
        let rerun = m365ctl()
            .args(["apply", "--auto-approve", "--force-unlock", "-c"])
            .arg(root.path())
            .assert()
            .code(0);
        drop(rerun);
        m365ctl()
            .args(["plan", "--detailed-exitcode", "-c"])
            .arg(root.path())
            .assert()
            .code(0);
        let temps: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .map(|e| e.file_name())
            .collect();
        assert!(temps.is_empty(), "kill {k}: {temps:?}");
    }
    assert!(
        mid_run > 0,
        "no kill landed during the writes (run took {full:?})"
    );
}
