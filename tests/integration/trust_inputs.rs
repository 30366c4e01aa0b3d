//! Issue 14, items 7 and 11: no config input is silently skipped or accepted. Dangling and
//! looping `*.toml` symlinks, directories and FIFOs named `*.toml` are errors; a byte-order
//! mark is accepted with correct positions; invalid UTF-8 names its byte offset; a 1 MB bad
//! value is cut in the error; a secret pasted into `client_secret_env` is refused.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;
use std::time::Duration;

fn validate(dir: &Path) -> assert_cmd::assert::Assert {
    Command::cargo_bin("m365ctl")
        .unwrap()
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .args(["validate", "-c"])
        .arg(dir)
        .timeout(Duration::from_secs(30))
        .assert()
}

/// A valid quickstart copy in a fresh directory.
fn quickstart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for file in ["m365ctl.toml", "tenant.json"] {
        std::fs::copy(root.join(file), dir.path().join(file)).unwrap();
    }
    dir
}

#[cfg(unix)]
#[test]
fn unreadable_toml_entries_are_errors_not_skipped() {
    use std::os::unix::fs::symlink;
    type Setup = fn(&Path);
    // dangling, looping, a directory, a FIFO
    let cases: [(Setup, &str); 4] = [
        (
            |d| symlink(d.join("missing.toml"), d.join("users.toml")).unwrap(),
            "dangling or looping symlink",
        ),
        (
            |d| {
                symlink(d.join("b.toml"), d.join("a.toml")).unwrap();
                symlink(d.join("a.toml"), d.join("b.toml")).unwrap();
            },
            "dangling or looping symlink",
        ),
        (
            |d| std::fs::create_dir(d.join("users.toml")).unwrap(),
            "not a regular file",
        ),
        (
            |d| {
                let ok = std::process::Command::new("mkfifo")
                    .arg(d.join("users.toml"))
                    .status()
                    .unwrap();
                assert!(ok.success());
            },
            "not a regular file",
        ),
    ];
    for (setup, expected) in cases {
        let dir = quickstart();
        validate(dir.path()).code(0);
        setup(dir.path());
        validate(dir.path())
            .code(1)
            .stderr(predicate::str::contains(expected).and(predicate::str::contains(".toml")))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn a_byte_order_mark_is_accepted_and_positions_stay_right() {
    let dir = quickstart();
    let path = dir.path().join("m365ctl.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("\u{feff}{text}")).unwrap();
    validate(dir.path()).code(0);
    // An error after the mark: same line and column as without it, and the snippet underlines
    // the value itself.
    let bad = text.replace("usage_location = \"GB\"", "usage_location = \"XX\"");
    assert_ne!(bad, text);
    let line = 1 + bad.lines().position(|l| l.contains("\"XX\"")).unwrap();
    std::fs::write(&path, format!("\u{feff}{bad}")).unwrap();
    validate(dir.path())
        .code(1)
        .stderr(predicate::str::contains(format!("m365ctl.toml:{line}:18")))
        .stderr(
            predicate::str::contains("usage_location = \"XX\"\n")
                .and(predicate::str::contains("^^^^")),
        );
}

#[test]
fn invalid_utf8_names_the_byte_offset() {
    let dir = quickstart();
    let path = dir.path().join("m365ctl.toml");
    let mut bytes = std::fs::read(&path).unwrap();
    let offset = bytes.len();
    bytes.extend_from_slice(b"# caf\xe9\n");
    std::fs::write(&path, &bytes).unwrap();
    validate(dir.path())
        .code(1)
        .stderr(predicate::str::contains(format!(
            "byte offset {}",
            offset + 5
        )));
}

#[test]
fn a_one_megabyte_bad_value_is_cut_in_the_error() {
    for field in ["usage_location", "mailbox"] {
        let dir = quickstart();
        let path = dir.path().join("m365ctl.toml");
        let huge = "A".repeat(1 << 20);
        let text = format!(
            "{}\n[users.\"zed@contoso.com\"]\nprofile = \"staff\"\n{field} = \"{huge}\"\n",
            std::fs::read_to_string(&path).unwrap()
        );
        std::fs::write(&path, text).unwrap();
        let out = validate(dir.path()).code(1).get_output().clone();
        assert!(
            out.stderr.len() < 8_000,
            "{field}: {} bytes of error",
            out.stderr.len()
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("m365ctl.toml:"));
    }
}

#[test]
fn a_secret_pasted_into_client_secret_env_is_refused() {
    let sources = |value: &str| {
        vec![(
            "c.toml".to_string(),
            format!(
                "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\nauth = \"secret\"\nclient_secret_env = \"{value}\"\n"
            ),
        )]
    };
    for secret in [
        "Xy7Q8dKp2LmN4vB6cR9sT1wZ3aE5fG0hJ2kU8",
        "abc8Q~Zx.y1-Secret_Value",
        "q9w8e7r6t5y4u3i2o1p0a9s8d7f6g5h4j3k2",
    ] {
        let errors =
            m365ctl::desired::from_sources(&sources(secret), Path::new(".")).expect_err(secret);
        let text = format!("{errors:?}");
        assert!(text.contains("looks like a secret"), "{text}");
    }
    for name in [
        "M365CTL_CLIENT_SECRET",
        "AZURE_CLIENT_SECRET_2",
        "my_secret",
    ] {
        m365ctl::desired::from_sources(&sources(name), Path::new(".")).expect(name);
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_as_plan_file_is_refused_without_hanging() {
    let dir = quickstart();
    let fifo = dir.path().join("plan.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    Command::cargo_bin("m365ctl")
        .unwrap()
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .args(["apply", "--auto-approve", "-c"])
        .arg(dir.path())
        .arg(&fifo)
        .timeout(Duration::from_secs(30))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a regular file"));
}
