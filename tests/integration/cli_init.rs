//! `init` as a newcomer meets it: every "Next:" command it prints runs as printed, the demo
//! path offline and the tenant path against the fake Graph/Exchange server.

use crate::common::{cli, fake};
use std::path::Path;

const SECRET: &str = "cli-init-test-secret";

fn m365ctl(cwd: &Path, args: &[String], hosts: &[(&str, String)]) -> std::process::Output {
    cli::m365ctl()
        .envs(hosts.iter().map(|(k, v)| (*k, v.as_str())))
        .env("M365CTL_TEST_SECRET", SECRET)
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("runs")
}

/// The commands of one "Next" block: the indented `m365ctl ...` lines after `heading`.
fn commands(printed: &str, heading: &str) -> Vec<Vec<String>> {
    let block = printed
        .split_once(heading)
        .unwrap_or_else(|| panic!("{heading:?} in {printed}"))
        .1;
    block
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with("  m365ctl "))
        .take_while(|l| l.starts_with("  m365ctl "))
        .map(|l| l.split_whitespace().skip(1).map(str::to_string).collect())
        .collect()
}

fn run_all(cwd: &Path, commands: &[Vec<String>], hosts: &[(&str, String)]) -> String {
    let mut last = String::new();
    for args in commands {
        let out = m365ctl(cwd, args, hosts);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "m365ctl {args:?}\n{stdout}{stderr}"
        );
        last = stdout.into_owned();
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_next_command_init_prints_runs_on_the_demo_and_on_a_tenant() {
    let root = tempfile::tempdir().unwrap();
    let cwd = root.path().to_path_buf();
    let init = {
        let cwd = cwd.clone();
        tokio::task::spawn_blocking(move || {
            m365ctl(&cwd, &["init".into(), "my-tenant".into()], &[])
        })
        .await
        .unwrap()
    };
    let printed = String::from_utf8_lossy(&init.stderr).into_owned();
    assert!(init.status.success(), "{printed}");

    let demo = commands(&printed, "Next, offline with the demo tenant");
    assert_eq!(demo.len(), 3, "{printed}");
    assert_eq!(demo[0][0], "export");
    let plan = {
        let cwd = cwd.clone();
        tokio::task::spawn_blocking(move || run_all(&cwd, &demo, &[]))
            .await
            .unwrap()
    };
    assert!(plan.contains("No changes."), "{plan}");

    // The tenant path, with the fake standing in for the tenant: the edit the text asks for.
    let text = std::fs::read_to_string(cwd.join("my-tenant/demo-tenant.json")).unwrap();
    let tenant = m365ctl::backend::snapshot::parse_snapshot(&text).unwrap();
    let fake = fake::serving(tenant, fake::accepting(SECRET)).await;
    let config_path = cwd.join("my-tenant/m365ctl.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let demo_lines = "backend = \"snapshot\"\nsnapshot = \"demo-tenant.json\"\n";
    assert!(config.contains(demo_lines), "{config}");
    let graph = fake::graph_keys(&fake, &fake::secret_auth("M365CTL_TEST_SECRET"));
    // The fake's hosts come from the environment: a config names only Microsoft's.
    let hosts = fake::host_env(&fake);
    std::fs::write(&config_path, config.replace(demo_lines, &graph)).unwrap();
    let tenant_path = commands(&printed, "For your tenant");
    assert_eq!(tenant_path.len(), 2, "{printed}");
    let plan = tokio::task::spawn_blocking(move || run_all(&cwd, &tenant_path, &hosts))
        .await
        .unwrap();
    assert!(plan.contains("No changes."), "{plan}");
    // The edited [tenant] survived the forced re-export.
    let after = std::fs::read_to_string(&config_path).unwrap();
    assert!(after.contains(&graph), "{after}");
}

/// `validate -c .` in `dir`, with no host in the environment: its exit code and stderr.
fn validate_offline(dir: &Path) -> (Option<i32>, String) {
    let out = m365ctl(dir, &["validate".into(), "-c".into(), ".".into()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr)
}

#[test]
fn validate_is_offline_and_a_missing_snapshot_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m365ctl.toml"),
        "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"not-yet.json\"\n\n[profiles.staff]\nlicenses = []\n",
    )
    .unwrap();
    let (code, stderr) = validate_offline(dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("not-yet.json does not exist yet"),
        "{stderr}"
    );
    // References are still checked offline.
    std::fs::write(
        dir.path().join("users.toml"),
        "[users.\"ann@contoso.com\"]\nprofile = \"staf\"\n",
    )
    .unwrap();
    let (code, stderr) = validate_offline(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("did you mean `staff`"), "{stderr}");
}
