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

fn plan_is_empty(config: &Path) {
    let plan = m365ctl()
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(config)
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
        "licensing.toml",
        "users.toml",
        "groups.toml",
        "m365ctl.schema.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    assert!(snapshot.is_file());
    // The new directory reads the same snapshot the source config reads.
    let main = std::fs::read_to_string(out.join("m365ctl.toml")).unwrap();
    assert!(main.contains("backend = \"snapshot\""), "{main}");
    assert!(main.contains("examples/quickstart/tenant.json\""), "{main}");
    plan_is_empty(&out);
}

/// Export never clobbers: every file it would write that exists is named, nothing is
/// written; `--force` replaces the exported files but never `m365ctl.toml` and its
/// `[tenant]` (auth, cloud and hosts stay as the admin wrote them).
#[test]
fn export_refuses_to_overwrite_and_force_keeps_the_tenant_table() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::copy(quickstart().join("tenant.json"), repo.join("tenant.json")).unwrap();
    let tenant = "[tenant]\nbackend = \"snapshot\"   # the admin's own comment\nsnapshot = \"tenant.json\"\n";
    std::fs::write(repo.join("m365ctl.toml"), tenant).unwrap();
    let export = |force: bool| {
        let mut cmd = m365ctl();
        cmd.args(["export", "-c"]).arg(repo).arg("--out").arg(repo);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let first = export(false);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("m365ctl.toml")).unwrap(),
        tenant
    );
    plan_is_empty(repo);

    std::fs::write(repo.join("users.toml"), "# my edits\n").unwrap();
    let second = export(false);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    for name in ["licensing.toml", "users.toml", "groups.toml"] {
        assert!(stderr.contains(name), "{stderr}");
    }
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(repo.join("users.toml")).unwrap(),
        "# my edits\n"
    );

    let forced = export(true);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("m365ctl.toml")).unwrap(),
        tenant
    );
    assert_ne!(
        std::fs::read_to_string(repo.join("users.toml")).unwrap(),
        "# my edits\n"
    );
    plan_is_empty(repo);
}

/// Exporting into a directory whose config already says what the export says would make
/// a broken config (a second [scope], profiles defined twice): refused, nothing written.
#[test]
fn export_into_a_full_config_directory_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["m365ctl.toml", "tenant.json"] {
        std::fs::copy(quickstart().join(file), dir.path().join(file)).unwrap();
    }
    let out = m365ctl()
        .args(["export", "-c"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("would not plan empty"), "{stderr}");
    assert!(
        stderr.contains("[scope] is defined in two places"),
        "{stderr}"
    );
    assert!(!dir.path().join("licensing.toml").exists());
}

/// A Graph config's `[tenant]` is copied into a new directory as written: auth, cloud and
/// host overrides survive (a US Government tenant stays in its cloud).
#[test]
fn export_copies_a_graph_tenant_table_verbatim() {
    use m365ctl::desired::export::{ExportOptions, to_toml};
    let table = "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.us\"\nclient_id = \"00000000-0000-0000-0000-000000000001\"\nauth = \"certificate\"   # app.pem\ncertificate = \"app.pem\"\ncloud = \"usgov\"\ngraph_host = \"graph.microsoft.us\"";
    let source = format!("{table}\n\n[skus]\nE3 = \"ENTERPRISEPACK\"\n");
    let config =
        m365ctl::desired::from_sources(&[("c/m365ctl.toml".to_string(), source)], Path::new("c"))
            .unwrap();
    assert_eq!(config.tenant_table.as_deref(), Some(table));
    let files = to_toml(
        &m365ctl::tenant::Tenant::default(),
        ExportOptions {
            tenant_table: config.tenant_table.clone(),
        },
    );
    assert!(
        files[0].1.ends_with(&format!("{table}\n")),
        "{}",
        files[0].1
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
