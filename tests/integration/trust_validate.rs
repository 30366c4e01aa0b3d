//! Issue 14, item 10: `validate` refuses everything `plan` refuses. Every user of the
//! quickstart gets each kind of entry `plan` may reject (a resource mailbox kind for a user
//! mailbox, licences beyond the seats, licences without a usage location); whenever `plan`
//! fails, `validate` fails too, naming the same problem.

use assert_cmd::Command;
use std::path::Path;

fn run(dir: &Path, command: &str) -> (i32, String) {
    let out = Command::cargo_bin("m365ctl")
        .unwrap()
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .args([command, "-c"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_refuses_whatever_plan_refuses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let base = std::fs::read_to_string(root.join("m365ctl.toml")).unwrap();
    let users = ["alice", "carol", "frank", "henry", "info", "judy"];
    let entries = [
        "mailbox = \"room\"",
        "mailbox = \"equipment\"",
        "profile = \"staff\"\nlicenses = [\"E5\", \"EXO_P1\", \"E3\"]",
        "usage_location = \"GB\"\nlicenses = [\"EXO_P1\"]\nmailbox = \"shared\"",
    ];
    let mut refused = 0;
    for user in users {
        for entry in entries {
            let upn = format!("{user}@contoso.com");
            let table = format!("[users.\"{upn}\"]");
            // Replace an existing table for the user, or add one.
            let config = if base.contains(&table) {
                let start = base.find(&table).unwrap();
                let end = base[start + table.len()..]
                    .find("\n[")
                    .map_or(base.len(), |i| start + table.len() + i);
                format!("{}{table}\n{entry}\n{}", &base[..start], &base[end..])
            } else {
                format!("{base}\n{table}\n{entry}\n")
            };
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("m365ctl.toml"), &config).unwrap();
            std::fs::copy(root.join("tenant.json"), dir.path().join("tenant.json")).unwrap();
            let (plan, plan_err) = run(dir.path(), "plan");
            let (validate, validate_err) = run(dir.path(), "validate");
            if plan == 1 {
                refused += 1;
                assert_eq!(
                    validate, 1,
                    "{upn} {entry}: plan refused but validate accepted\nplan: {plan_err}\nvalidate: {validate_err}"
                );
                let first = plan_err.lines().next().unwrap_or_default();
                assert!(
                    validate_err.contains(first),
                    "{upn} {entry}: validate does not name {first:?}:\n{validate_err}"
                );
            } else {
                assert_eq!(validate, 0, "{upn} {entry}: {validate_err}");
            }
        }
    }
    assert!(refused >= 6, "only {refused} cases were refused by plan");
}

/// Offline (graph backend, no tenant): an entry that `plan` refuses whatever the tenant holds
/// (a resource mailbox with licences) is refused by `validate`, in a user or a profile.
#[test]
fn offline_validate_refuses_licences_for_a_resource_mailbox() {
    let graph = "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"00000000-0000-0000-0000-000000000000\"\n\n[skus]\nE3 = \"ENTERPRISEPACK\"\n";
    for kind in ["room", "equipment"] {
        for table in [
            "[users.\"board@contoso.com\"]".to_string(),
            "[profiles.resource]".to_string(),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let config = format!("{graph}\n{table}\nmailbox = \"{kind}\"\nlicenses = [\"E3\"]\n");
            std::fs::write(dir.path().join("m365ctl.toml"), config).unwrap();
            let (code, stderr) = run(dir.path(), "validate");
            assert_eq!(code, 1, "{table} {kind}: {stderr}");
            assert!(
                stderr.contains(&format!("a {kind} mailbox never gets user licences")),
                "{stderr}"
            );
            assert!(stderr.contains("m365ctl.toml:"), "{stderr}");
            // The same table without licences is fine.
            let config = format!("{graph}\n{table}\nmailbox = \"{kind}\"\nlicenses = []\n");
            std::fs::write(dir.path().join("m365ctl.toml"), config).unwrap();
            let (code, stderr) = run(dir.path(), "validate");
            assert_eq!(code, 0, "{stderr}");
        }
    }
}
