//! End-to-end CLI tests on the quickstart example and the demo state (snapshot backend).
//! They exercise the real loader, resolver, planner and executor.

use crate::common::cli::{apply_plan, m365ctl, save_plan};
use crate::common::quickstart;
use m365ctl::planfile::PlanFile;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A writable copy of the quickstart (apply changes the snapshot).
#[test]
fn quickstart_plan_shows_every_operation_kind() {
    let out = m365ctl()
        .args(["plan", "-c"])
        .arg(repo("examples/quickstart"))
        .arg("--detailed-exitcode")
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "usage location: (none) -> GB",
        "~ ENTERPRISEPACK disabled plans: (none) -> YAMMER_ENTERPRISE",
        "# group LIC-E5",
        "+ member of group LIC-E5",
        "- member of group LIC-E5",
        "mailbox: user -> shared",
        "ENTERPRISEPACK",
        "Plan: ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn plan_without_detailed_exitcode_exits_zero_and_writes_the_plan_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.json");
    save_plan(&repo("examples/quickstart"), &out);
    let doc = PlanFile::parse(&std::fs::read_to_string(&out).unwrap()).expect("valid plan file");
    let kinds: std::collections::BTreeSet<_> =
        doc.operations.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(kinds.len(), 7, "all seven kinds: {kinds:?}");
}

#[test]
fn json_format_is_the_plan_file() {
    let out = m365ctl()
        .args(["plan", "--format", "json", "-c"])
        .arg(repo("examples/quickstart"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let plan = PlanFile::parse(&text).expect("stdout is a plan file");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format_version"], 2);
    assert!(doc["fingerprint"].as_str().unwrap().starts_with("sha256:"));
    // Version 2 names each dependency by its position, always an earlier operation.
    for (i, op) in doc["operations"].as_array().unwrap().iter().enumerate() {
        for dep in op["depends_on"].as_array().into_iter().flatten() {
            let at = dep.as_u64().expect("a position") as usize;
            assert!(at < i, "operation {i} listed before its dependency {at}");
        }
    }
    let ops = &plan.operations;
    let position = |id: &str| ops.iter().position(|o| o.id == id);
    // Ordering rules, read off the document a reviewer sees.
    let depends = |id: &str, on: &str| {
        ops[position(id).unwrap()]
            .depends_on
            .iter()
            .any(|d| d == on)
    };
    assert!(depends(
        "assign_licenses:henry@contoso.com",
        "set_usage_location:henry@contoso.com"
    ));
    assert!(depends(
        "assign_licenses:grace@contoso.com",
        "convert_mailbox:grace@contoso.com"
    ));
}

#[test]
fn a_second_apply_changes_nothing_byte_for_byte() {
    let dir = quickstart::copy();
    let apply = || {
        m365ctl()
            .args(["apply", "--auto-approve", "-c"])
            .arg(dir.path())
            .assert()
            .code(0)
    };
    apply();
    let snapshot = dir.path().join("tenant.json");
    let after_first = std::fs::read(&snapshot).unwrap();
    apply().stdout(predicate::str::contains("Apply").not());
    assert_eq!(std::fs::read(&snapshot).unwrap(), after_first);
    let journal = std::fs::read_to_string(dir.path().join(".m365ctl/journal.jsonl")).unwrap();
    assert_eq!(
        journal
            .lines()
            .filter(|l| !l.contains("\"outcome\":\"started\""))
            .count(),
        11,
        "one outcome line per operation of the first apply (after its write-ahead line)"
    );
}

#[test]
fn broken_configs_exit_one_naming_file_line_and_column() {
    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "bad country",
            "usage_location = \"GB\"",
            "usage_location = \"UK\"",
            "UK",
        ),
        (
            "unknown SKU",
            "EXO_P1 = \"EXCHANGESTANDARD\"",
            "EXO_P1 = \"EXCHANGESTANDARDX\"",
            "EXCHANGESTANDARDX",
        ),
        (
            "duplicate user",
            "[users.\"ken@contoso.com\"]",
            "[users.\"Grace@Contoso.com\"]\nprofile = \"staff\"\n\n[users.\"ken@contoso.com\"]",
            "grace@contoso.com",
        ),
        (
            "unknown key",
            "mailbox = \"shared\"",
            "mailbox = \"shared\"\nmailbx = 1",
            "mailbx",
        ),
        ("TOML syntax", "[scope]", "[scope", "scope"),
    ];
    for (name, from, to, needle) in cases {
        let dir = quickstart::copy();
        let config = dir.path().join("m365ctl.toml");
        let original = std::fs::read_to_string(&config).unwrap();
        assert!(original.contains(from), "{name}: fixture drifted");
        let text = original.replacen(from, to, 1);
        std::fs::write(&config, &text).unwrap();
        let out = m365ctl()
            .current_dir(dir.path())
            .args(["plan", "-c", "m365ctl.toml"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{name}: {stderr}"
        );
        let located = stderr.match_indices("m365ctl.toml:").any(|(at, m)| {
            let mut parts = stderr[at + m.len()..].splitn(3, ':');
            let number = |p: Option<&str>| p.is_some_and(|n| n.parse::<u32>().is_ok());
            let line = parts.next();
            let col = parts.next().map(|c| {
                c.split(|ch: char| !ch.is_ascii_digit())
                    .next()
                    .unwrap_or("")
            });
            number(line) && number(col)
        });
        assert!(located, "{name}: no file:line:col in {stderr}");
        assert!(
            stderr.to_lowercase().contains(&needle.to_lowercase()),
            "{name}: {needle} not named in {stderr}"
        );
    }
}

#[test]
fn github_format_writes_the_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    m365ctl()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "-c"])
        .arg(repo("examples/quickstart"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Plan: "));
    let body = std::fs::read_to_string(&summary).unwrap();
    assert!(body.starts_with("<!-- m365ctl-plan -->"), "{body}");
}

#[test]
fn demo_state_has_no_drift() {
    m365ctl()
        .args(["drift", "-c"])
        .arg(repo("state"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No drift"));
}

#[test]
fn validate_accepts_the_examples() {
    for dir in ["examples/quickstart", "state"] {
        m365ctl()
            .args(["validate", "-c"])
            .arg(repo(dir))
            .assert()
            .code(0);
    }
}

#[test]
fn config_error_names_file_line_and_column_with_a_snippet() {
    let dir = quickstart::copy();
    let config = dir.path().join("m365ctl.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "licenses = [\"E5\"]\n\n[groups",
        "licenses = [\"E7\"]\n\n[groups",
    );
    std::fs::write(&config, &text).unwrap();
    let line = text.lines().position(|l| l.contains("\"E7\"")).unwrap() + 1;
    let assert = m365ctl()
        .current_dir(dir.path())
        .args(["validate", "-c", "m365ctl.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("panicked").not());
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!("m365ctl.toml:{line}:")),
        "{stderr}"
    );
    assert!(stderr.contains("^"), "underline: {stderr}");
    assert!(stderr.contains("= hint:"), "hint: {stderr}");

    let out = m365ctl()
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["plan", "-c", "m365ctl.toml"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains(&format!("::error file=m365ctl.toml,line={line},")),
        "{all}"
    );
}

#[test]
fn apply_refuses_without_a_terminal_or_auto_approve() {
    let dir = quickstart::copy();
    let before = std::fs::read_to_string(dir.path().join("tenant.json")).unwrap();
    m365ctl()
        .args(["apply", "-c"])
        .arg(dir.path())
        .write_stdin("yes\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--auto-approve"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tenant.json")).unwrap(),
        before
    );
}

#[test]
fn apply_then_plan_is_empty() {
    let dir = quickstart::copy();
    m365ctl()
        .args(["apply", "--auto-approve", "-c"])
        .arg(dir.path())
        .assert()
        .code(0);
    m365ctl()
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes."));
}

#[test]
fn apply_refuses_a_stale_plan_file() {
    let dir = quickstart::copy();
    let planfile = dir.path().join("plan.json");
    save_plan(dir.path(), &planfile);
    // The tenant changes after review: ken's usage location is edited by hand.
    let tenant = dir.path().join("tenant.json");
    let text = std::fs::read_to_string(&tenant)
        .unwrap()
        .replace("\"usage_location\": \"US\"", "\"usage_location\": \"FR\"");
    std::fs::write(&tenant, text).unwrap();
    apply_plan(dir.path(), &planfile)
        .code(1)
        .stderr(predicate::str::contains("stale").and(predicate::str::contains("ken@contoso.com")));
}

#[test]
fn missing_config_is_an_error_not_a_panic() {
    m365ctl()
        .args(["plan", "-c", "/nonexistent/m365ctl.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("panicked").not());
}
