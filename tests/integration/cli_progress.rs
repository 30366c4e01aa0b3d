//! Progress of a tenant read through the binary against the fake: plain lines on stderr
//! when stderr is not a terminal (CI), users n/N from `/users/$count`; nothing on stdout;
//! nothing with `--quiet`.

use crate::common::{cli, fake, quickstart};
use m365ctl::sim::SimOptions;

const SECRET: &str = "cli-progress-test-secret";

/// `plan` through the binary, pointed at the fake's `hosts` through the environment (a
/// config names only Microsoft's hosts).
async fn plan(
    config: String,
    hosts: Vec<(&'static str, String)>,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = cli::m365ctl();
    cmd.envs(hosts)
        .env("M365CTL_TEST_SECRET", SECRET)
        .env("M365CTL_PROGRESS_INTERVAL_MS", "1")
        .args(["plan", "-c", &config])
        .args(extra);
    cli::output(cmd).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_reports_progress_on_stderr_only_and_quiet_silences_it() {
    let tenant = quickstart::tenant();
    let users = tenant.users.len();
    let fake = fake::serving(tenant, fake::accepting(SECRET)).await;
    let dir = tempfile::tempdir().unwrap();
    let table = fake::graph_table(&fake, &fake::secret_auth("M365CTL_TEST_SECRET"));
    let hosts = fake::host_env(&fake).to_vec();
    let config = quickstart::config_with(dir.path(), &table);

    let out = plan(config.clone(), hosts.clone(), &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let last = stderr
        .lines()
        .find(|l| l.starts_with("read graph "))
        .unwrap_or_else(|| panic!("a closing progress line in {stderr}"));
    assert!(last.contains(&format!("users {users}/{users}")), "{last}");
    assert!(last.contains("licence groups 1/1"), "{last}");
    assert!(last.contains("mailboxes "), "{last}");
    assert!(
        last.contains("sizes "),
        "the mailbox the plan converts has its facts read inside the same display: {last}"
    );
    assert!(
        !stdout.contains("reading") && !stdout.contains("read graph"),
        "{stdout}"
    );

    let quiet = plan(config, hosts, &["--quiet"]).await;
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert_eq!(quiet.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("read graph") && !stderr.contains("reading graph"),
        "{stderr}"
    );
}

/// The fake answers `GET /users/$count` as Graph documents it: a plain number, and only as
/// an advanced query (`ConsistencyLevel: eventual`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_counts_users_only_with_consistency_level_eventual() {
    let tenant = quickstart::tenant();
    let users = tenant.users.len();
    let fake = fake::serving(tenant, SimOptions::default()).await;
    let http = reqwest::Client::new();
    let token = fake::graph_token(&fake).await;
    let token = token.as_str();
    let url = format!("{}/v1.0/users/$count", fake.graph_host());
    let plain = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(plain.status().as_u16(), 400);
    let eventual = http
        .get(&url)
        .bearer_auth(token)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(eventual.status().as_u16(), 200);
    assert_eq!(eventual.text().await.unwrap().trim(), users.to_string());
}
