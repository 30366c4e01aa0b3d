//! Guards at plan time (issue 12 point 11): when `apply` would refuse a plan (blast-radius
//! guards), `plan` says so in every format, so the pull request shows it before merge; and
//! the plan says so exactly when `apply` refuses.

use assert_cmd::Command;

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

/// `leaving + keeping` users holding E3; the config takes E3 away from the first `leaving`
/// (and, with `convert`, makes their user mailboxes shared) and keeps it for the others.
fn config(leaving: usize, keeping: usize, convert: bool) -> tempfile::TempDir {
    let users = leaving + keeping;
    let dir = tempfile::tempdir().unwrap();
    // Leavers have a mailbox only when it is converted: losing the last Exchange licence of a
    // user mailbox is an error of its own.
    let list: Vec<serde_json::Value> = (0..users)
        .map(|i| {
            let mut user = serde_json::json!({
                "id": format!("id-{i:03}"), "user_principal_name": format!("u{i}@contoso.com"),
                "usage_location": "GB", "licenses": [{"sku_id": E3}],
            });
            if convert || i >= leaving {
                user["mailbox"] = serde_json::json!({"type": "user", "size_bytes": 1000});
            }
            user
        })
        .collect();
    let tenant = serde_json::json!({
        "skus": [{"sku_id": E3, "sku_part_number": "ENTERPRISEPACK", "enabled": users, "consumed": users,
                  "service_plans": [{"service_plan_id": "efb87545-963c-4e0d-99df-69c6916d9eb0", "service_plan_name": "EXCHANGE_S_ENTERPRISE"}]}],
        "users": list,
    });
    std::fs::write(dir.path().join("tenant.json"), tenant.to_string()).unwrap();
    let mut toml = String::from(
        "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n[skus]\nE3 = \"ENTERPRISEPACK\"\n\
         [scope]\nmanage_skus = [\"E3\"]\nusers = \"declared\"\n",
    );
    for i in 0..users {
        let (licenses, mailbox) = match (i < leaving, convert) {
            (true, true) => ("[]", "\nmailbox = \"shared\""),
            (true, false) => ("[]", ""),
            (false, _) => ("[\"E3\"]", ""),
        };
        toml.push_str(&format!(
            "[users.\"u{i}@contoso.com\"]\nlicenses = {licenses}{mailbox}\n"
        ));
    }
    std::fs::write(dir.path().join("m365ctl.toml"), toml).unwrap();
    dir
}

fn m365ctl() -> Command {
    let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
    cmd.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1");
    cmd
}

/// `plan --format F` stdout, plus the step summary for `github`.
fn plan(dir: &std::path::Path, format: &str) -> String {
    let summary = dir.join("summary.md");
    let out = m365ctl()
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "--format", format, "-c"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    if format == "github" {
        text.push_str(&std::fs::read_to_string(&summary).unwrap());
    }
    text
}

#[test]
fn every_format_says_when_apply_would_refuse_and_only_then() {
    // One case per guard, and two below every limit.
    for (leaving, keeping, convert, trips) in [
        (
            30,
            1,
            false,
            Some("refusing to remove licences from 30 of 31 managed users"),
        ),
        (
            12,
            40,
            true,
            Some("refusing to convert 12 mailboxes: the limit is 10"),
        ),
        (
            5,
            0,
            false,
            Some("refusing to remove every managed licence (5 assignments)"),
        ),
        (5, 1, true, None),
        (10, 20, false, None),
    ] {
        let case = format!("{leaving} leaving, {keeping} keeping, convert {convert}");
        let dir = config(leaving, keeping, convert);
        for format in ["human", "markdown", "json", "github"] {
            let text = plan(dir.path(), format);
            match trips {
                Some(why) => {
                    assert!(
                        text.contains("apply will refuse this plan") && text.contains(why),
                        "{case}, {format}: {text}"
                    );
                    assert!(
                        text.contains("--allow-mass-change"),
                        "{case}, {format}: {text}"
                    );
                }
                None => assert!(
                    !text.contains("apply will refuse"),
                    "{case}, {format}: {text}"
                ),
            }
        }
        // On GitHub the warning is also an annotation on the workflow run.
        let github = plan(dir.path(), "github");
        assert_eq!(
            github
                .lines()
                .any(|l| l.starts_with("::warning") && l.contains("apply will refuse this plan")),
            trips.is_some(),
            "{case}: {github}"
        );
        // apply agrees with the plan: it refuses exactly the plans that said so.
        let applied = m365ctl()
            .args(["apply", "--auto-approve", "-c"])
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&applied.stderr);
        match trips {
            Some(why) => {
                assert_eq!(applied.status.code(), Some(1), "{case}: {stderr}");
                assert!(stderr.contains(why), "{case}: {stderr}");
            }
            None => assert_eq!(applied.status.code(), Some(0), "{case}: {stderr}"),
        }
    }
}
