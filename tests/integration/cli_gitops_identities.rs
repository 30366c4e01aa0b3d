//! Two identities: `plan` and `drift` sign in as `[tenant] client_id` (the read-only app),
//! `apply` as `apply_client_id` (the write app), and `M365CTL_CLIENT_ID` overrides either for
//! one job. Played with the binary against the fake Entra token endpoint, which knows one
//! application: a command signing in as the other app is refused (AADSTS700016), so each
//! command's success or refusal shows which identity it used.

use crate::common::{cli, fake, quickstart};
use m365ctl::sim::FakeTenantHandle;
use std::path::Path;

const SECRET: &str = "cli-identities-test-secret";
const UNKNOWN_APP: &str = "99999999-0000-0000-0000-000000000000";

/// Runs the binary, pointed at the fake through the environment (a config names only
/// Microsoft's hosts).
async fn m365ctl(
    fake: &FakeTenantHandle,
    args: &[&str],
    client_id_env: Option<&str>,
) -> std::process::Output {
    let mut cmd = cli::m365ctl();
    cmd.env_remove("M365CTL_CLIENT_ID")
        .env("M365CTL_TEST_SECRET", SECRET)
        .envs(fake::host_env(fake))
        .args(args);
    if let Some(id) = client_id_env {
        cmd.env("M365CTL_CLIENT_ID", id);
    }
    cli::output(cmd).await
}

/// The quickstart config pointed at the fake, with these two client ids.
fn config(dir: &Path, fake: &FakeTenantHandle, client_id: &str, apply_client_id: &str) -> String {
    let table = format!(
        "[tenant]\nbackend = \"graph\"\ntenant_id = \"{}\"\nclient_id = \"{client_id}\"\napply_client_id = \"{apply_client_id}\"\n{}",
        fake.tenant_id(),
        fake::secret_auth("M365CTL_TEST_SECRET"),
    );
    let config = quickstart::config_with(dir, &table);
    let written = std::fs::read_to_string(dir.join("m365ctl.toml")).unwrap();
    assert!(written.contains("apply_client_id"));
    config
}

fn refused_sign_in(out: &std::process::Output) -> bool {
    out.status.code() == Some(1) && String::from_utf8_lossy(&out.stderr).contains("AADSTS700016")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_as_client_id_and_apply_writes_as_apply_client_id() {
    let options = fake::accepting(SECRET);
    let known = options.client_id.clone();
    let fake = fake::serving(quickstart::tenant(), options).await;

    // The fake knows only the write app: plan (read identity) is refused, apply is not.
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &fake, UNKNOWN_APP, &known);
    let plan = m365ctl(&fake, &["plan", "-c", &c], None).await;
    assert!(refused_sign_in(&plan), "{plan:?}");
    let plan = m365ctl(
        &fake,
        &["plan", "-c", &c, "--detailed-exitcode"],
        Some(&known),
    )
    .await;
    assert_eq!(
        plan.status.code(),
        Some(2),
        "M365CTL_CLIENT_ID overrides: {plan:?}"
    );

    // The fake knows only the read app: apply (write identity) is refused before any write.
    let dir2 = tempfile::tempdir().unwrap();
    let c2 = config(dir2.path(), &fake, &known, UNKNOWN_APP);
    let drift = m365ctl(&fake, &["drift", "-c", &c2], None).await;
    assert_eq!(
        drift.status.code(),
        Some(2),
        "drift reads as client_id: {drift:?}"
    );
    let before = fake.requests().len();
    let apply = m365ctl(&fake, &["apply", "-c", &c2, "--auto-approve"], None).await;
    assert!(refused_sign_in(&apply), "{apply:?}");
    let after: Vec<_> = fake.requests()[before..].to_vec();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|r| r.path.contains("token")),
        "nothing but the refused sign-in: {after:?}"
    );

    // With the write app as apply_client_id, apply signs in and converges.
    let apply = m365ctl(&fake, &["apply", "-c", &c, "--auto-approve"], None).await;
    assert_eq!(apply.status.code(), Some(0), "{apply:?}");
    let again = m365ctl(&fake, &["plan", "-c", &c2, "--detailed-exitcode"], None).await;
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    fake.shutdown().await;
}

/// The pull-request job reads the tenant once: `plan --out` reads it, `show` renders the
/// comment and the annotations from the file without a single request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pull_request_job_reads_the_tenant_once() {
    let options = fake::accepting(SECRET);
    let known = options.client_id.clone();
    let fake = fake::serving(quickstart::tenant(), options).await;
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &fake, &known, &known);
    let plan_file = dir.path().join("plan.json").display().to_string();
    let plan = m365ctl(&fake, &["plan", "-c", &c, "--out", &plan_file], None).await;
    assert_eq!(plan.status.code(), Some(0), "{plan:?}");
    let after_plan = fake.requests().len();
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.starts_with("/v1.0/users")),
        "the plan read users: {:?}",
        fake.requests()
    );
    for format in ["markdown", "github", "human", "json"] {
        let show = m365ctl(&fake, &["show", &plan_file, "--format", format], None).await;
        assert_eq!(show.status.code(), Some(0), "{show:?}");
    }
    assert_eq!(fake.requests().len(), after_plan, "show sent requests");
    fake.shutdown().await;
}
