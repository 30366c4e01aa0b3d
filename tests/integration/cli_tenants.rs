//! The many-tenants layout through the binary on snapshot backends: `init --tenants`,
//! `matrix`, `drift` and `apply` over every tenant with per-tenant locks and journals, and
//! the refusals that keep one tenant's flags from being applied to all.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn m365ctl() -> Command {
    let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
    cmd.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1");
    cmd
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `tenants/<name>/` copies of the quickstart (config + snapshot), for each name.
fn layout(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        let t = dir.path().join("tenants").join(name);
        std::fs::create_dir_all(&t).unwrap();
        for file in ["m365ctl.toml", "tenant.json"] {
            std::fs::copy(repo("examples/quickstart").join(file), t.join(file)).unwrap();
        }
    }
    dir
}

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn init_tenants_writes_a_layout_that_plans_and_lists_as_a_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(m365ctl()
        .arg("init")
        .arg(dir.path())
        .args(["--tenants", "contoso,fabrikam"]));
    assert_eq!(code, Some(0), "{err}");
    for file in [
        "tenants/contoso/m365ctl.toml",
        "tenants/fabrikam/m365ctl.toml",
        "m365ctl.schema.json",
        ".gitignore",
        ".github/workflows/m365ctl-tenants.yml",
        ".github/m365ctl-install.sh",
    ] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
    let workflow =
        std::fs::read_to_string(dir.path().join(".github/workflows/m365ctl-tenants.yml")).unwrap();
    assert!(
        workflow.contains(&format!(
            "M365CTL_VERSION: \"{}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "the workflow pins the release that wrote it"
    );
    for name in ["contoso", "fabrikam"] {
        std::fs::copy(
            repo("examples/quickstart/tenant.json"),
            dir.path().join("tenants").join(name).join("tenant.json"),
        )
        .unwrap();
    }
    let (code, out, err) = run(m365ctl()
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(dir.path()));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("2 tenants: 0 with changes, 2 in sync, 0 failed."),
        "{out}"
    );

    let (code, out, _) = run(m365ctl()
        .current_dir(dir.path())
        .args(["matrix", "-c", "tenants/"]));
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 1, "one line for $GITHUB_OUTPUT");
    let matrix: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        matrix,
        serde_json::json!({"include": [
            {"tenant": "contoso", "config": "tenants/contoso"},
            {"tenant": "fabrikam", "config": "tenants/fabrikam"}
        ]})
    );

    let (code, _, err) = run(m365ctl()
        .arg("init")
        .arg(dir.path())
        .args(["--tenants", "contoso"]));
    assert_eq!(code, Some(1), "never overwrites");
    assert!(err.contains("already contains"), "{err}");
    let (code, _, err) = run(m365ctl()
        .arg("init")
        .arg(dir.path())
        .args(["--tenants", "../evil"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("is not a tenant name"), "{err}");
}

#[test]
fn drift_then_apply_every_tenant_with_its_own_journal_then_no_drift() {
    let dir = layout(&["a", "b", "c"]);
    let (code, out, err) = run(m365ctl()
        .args(["drift", "--jobs", "2", "-c"])
        .arg(dir.path()));
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        out.contains("3 tenants: 3 drifted, 0 in sync, 0 failed."),
        "{out}"
    );

    let summary = dir.path().join("step-summary.md");
    let (code, out, err) = run(m365ctl()
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "--format", "github", "-c"])
        .arg(dir.path()));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("3 tenants: 3 with changes"), "{out}");
    let step = std::fs::read_to_string(&summary).unwrap();
    assert!(
        step.starts_with("<!-- m365ctl-plan -->\n### m365ctl plan: 3 tenants"),
        "{step}"
    );

    let (code, _, err) = run(m365ctl().args(["apply", "-c"]).arg(dir.path()));
    assert_eq!(code, Some(1), "several tenants need --auto-approve");
    assert!(err.contains("--auto-approve"), "{err}");
    let (code, _, err) = run(m365ctl()
        .args(["apply", "--auto-approve", "--journal", "j.jsonl", "-c"])
        .arg(dir.path()));
    assert_eq!(code, Some(1));
    assert!(err.contains("belongs to one tenant"), "{err}");
    let (code, _, err) = run(m365ctl()
        .args(["apply", "--auto-approve", "--force-unlock", "-c"])
        .arg(dir.path()));
    assert_eq!(code, Some(1), "never unlocks every tenant at once");
    assert!(err.contains("belongs to one tenant"), "{err}");

    let (code, out, err) = run(m365ctl()
        .args(["apply", "--auto-approve", "-c"])
        .arg(dir.path()));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.matches("Apply: 11 done, 0 already done, 0 failed, 0 skipped.")
            .count(),
        3,
        "{out}"
    );
    for t in ["a", "b", "c"] {
        let tenant = dir.path().join("tenants").join(t);
        assert!(
            tenant.join(".m365ctl/journal.jsonl").is_file(),
            "{t} journals to its own directory"
        );
        assert!(
            !tenant.join(".m365ctl/apply.lock").exists(),
            "{t}'s lock is released"
        );
    }
    let (code, out, _) = run(m365ctl().args(["drift", "-c"]).arg(dir.path()));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("3 tenants: 0 drifted, 3 in sync, 0 failed."),
        "{out}"
    );
}

#[test]
fn a_locked_tenant_fails_alone_and_the_others_are_applied() {
    let dir = layout(&["a", "b"]);
    let locked = dir.path().join("tenants/a/.m365ctl");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::write(locked.join("apply.lock"), "pid 1 on another machine\n").unwrap();
    let (code, out, err) = run(m365ctl()
        .args(["apply", "--auto-approve", "-c"])
        .arg(dir.path()));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("2 tenants: 1 with changes, 0 in sync, 1 failed."),
        "{out}"
    );
    assert!(out.contains("Apply: 11 done"), "b was applied: {out}");
    let (code, out, _) = run(m365ctl()
        .args(["plan", "--detailed-exitcode", "-c"])
        .arg(dir.path().join("tenants/b")));
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn report_licences_over_every_tenant_keeps_a_broken_one_beside_the_others() {
    let dir = layout(&["a", "b", "broken"]);
    std::fs::write(dir.path().join("tenants/broken/m365ctl.toml"), "[skus\n").unwrap();
    let report = |format: &str| {
        run(m365ctl()
            .args(["report", "licences", "--format", format, "-c"])
            .arg(dir.path()))
    };
    let (code, out, err) = report("json");
    assert_eq!(code, Some(1), "a tenant could not be read: {err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tenants = doc["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 3);
    assert!(
        !tenants[0]["report"]["holdings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        tenants[0]["report"], tenants[1]["report"],
        "same tenant, same report"
    );
    assert!(tenants[2]["report"].is_null());
    assert!(err.contains("tenant broken"), "{err}");

    let (_, csv, _) = report("csv");
    assert!(csv.starts_with("tenant,record,kind,upn,"), "{csv}");
    let holdings = tenants[0]["report"]["holdings"].as_array().unwrap().len();
    let waste = tenants[0]["report"]["waste"].as_array().unwrap().len();
    assert_eq!(csv.matches("\r\na,").count(), holdings + waste, "{csv}");
    assert_eq!(csv.matches("\r\nbroken,error,").count(), 1, "{csv}");

    let (_, human, _) = report("human");
    let seats = 2 * tenants[0]["report"]["total"]["seats"].as_u64().unwrap();
    assert!(
        human.contains(&format!(
            "Waste across 3 tenants: {seats} seat(s) (1 tenant(s) could not be read)"
        )),
        "{human}"
    );
}
