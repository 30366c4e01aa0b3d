//! CLI behaviour that needs no tenant: exit codes of clap, `init` scaffolding.

use assert_cmd::Command;
use predicates::prelude::*;

fn m365ctl() -> Command {
    let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
    cmd.env_remove("GITHUB_ACTIONS").env("NO_COLOR", "1");
    cmd
}

#[test]
fn help_and_version_exit_zero() {
    m365ctl()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("plan"));
    m365ctl()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("m365ctl "));
}

#[test]
fn usage_errors_exit_one_not_two() {
    m365ctl()
        .arg("--no-such-flag")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unexpected argument"));
    m365ctl()
        .args(["plan", "--format", "yaml"])
        .assert()
        .code(1);
}

#[test]
fn init_scaffolds_a_config_repository_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    m365ctl().arg("init").arg(dir.path()).assert().code(0);
    for file in [
        "m365ctl.toml",
        ".gitignore",
        ".github/workflows/m365ctl-plan.yml",
        ".github/workflows/m365ctl-apply.yml",
        ".github/workflows/m365ctl-drift.yml",
        "m365ctl.schema.json",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
    let config = std::fs::read_to_string(dir.path().join("m365ctl.toml")).unwrap();
    assert!(config.starts_with("#:schema ./m365ctl.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("m365ctl.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schema["additionalProperties"], false);
    let ignore = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == ".m365ctl/"),
        "lock and journal ignored"
    );
    let plan =
        std::fs::read_to_string(dir.path().join(".github/workflows/m365ctl-plan.yml")).unwrap();
    assert!(plan.contains("<!-- m365ctl-plan -->"));
    assert!(plan.contains("id-token: write"));

    std::fs::write(dir.path().join("m365ctl.toml"), "# mine\n").unwrap();
    m365ctl()
        .arg("init")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already contains"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("m365ctl.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn completions_and_man_page() {
    m365ctl()
        .args(["completions", "bash"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("m365ctl"));
    m365ctl()
        .arg("man")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(".TH m365ctl"));
}
