//! `export`, `report stacking` and `schema` through the binary.

use assert_cmd::Command;
use std::path::Path;

fn m365ctl() -> Command {
    let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
    cmd.env_remove("GITHUB_ACTIONS").env("NO_COLOR", "1");
    cmd
}

fn quickstart() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart")
}

#[test]
fn export_then_plan_is_empty_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("config");
    let snapshot = dir.path().join("snapshots/tenant.json");
    m365ctl()
        .args(["export", "-c"])
        .arg(quickstart())
        .arg("--out")
        .arg(&out)
        .arg("--snapshot")
        .arg(&snapshot)
        .assert()
        .success();
    for file in [
        "m365ctl.toml",
        "users.toml",
        "groups.toml",
        "m365ctl.schema.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let main = std::fs::read_to_string(out.join("m365ctl.toml")).unwrap();
    assert!(
        main.contains("snapshot = \"../snapshots/tenant.json\""),
        "{main}"
    );
    let plan = m365ctl()
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&plan.stdout);
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(plan.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("No changes."), "{stdout}");
    assert!(
        !stdout.contains("error") && !stderr.contains("warning"),
        "{stdout}{stderr}"
    );
}

#[test]
fn stacking_report_names_the_redundant_licence_and_exits_two() {
    let out = m365ctl()
        .args(["report", "stacking", "-c"])
        .arg(quickstart())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("frank@contoso.com"), "{stdout}");
    assert!(stdout.contains("EXCHANGESTANDARD: 1"), "{stdout}");
    let json = m365ctl()
        .args(["report", "stacking", "--format", "json", "-c"])
        .arg(quickstart())
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["users"][0]["upn"], "frank@contoso.com");
    assert_eq!(
        value["users"][0]["redundant"][0]["sku_part_number"],
        "EXCHANGESTANDARD"
    );
}

#[test]
fn schema_prints_the_config_json_schema() {
    let out = m365ctl().arg("schema").output().unwrap();
    assert!(out.status.success());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["additionalProperties"], false);
    assert!(value["properties"]["tenant"].is_object(), "{value}");
}
