//! Progress of a tenant read through the binary against the fake: plain lines on stderr
//! when stderr is not a terminal (CI), users n/N from `/users/$count`; nothing on stdout;
//! nothing with `--quiet`.

use assert_cmd::Command;
use m365ctl::backend::snapshot::parse_snapshot;
use m365ctl::sim::{FakeTenant, SimOptions};
use std::path::Path;

const SECRET: &str = "cli-progress-test-secret";

/// `plan` through the binary, pointed at the fake's `hosts` through the environment (a
/// config names only Microsoft's hosts).
async fn plan(
    config: String,
    hosts: Vec<(&'static str, String)>,
    extra: &[&str],
) -> std::process::Output {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("m365ctl")
            .unwrap()
            .env_remove("GITHUB_ACTIONS")
            .envs(hosts)
            .env("NO_COLOR", "1")
            .env("M365CTL_TEST_SECRET", SECRET)
            .env("M365CTL_PROGRESS_INTERVAL_MS", "1")
            .args(["plan", "-c", &config])
            .args(extra)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_reports_progress_on_stderr_only_and_quiet_silences_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/quickstart/tenant.json")).unwrap();
    let tenant = parse_snapshot(&text).unwrap();
    let users = tenant.users.len();
    let options = SimOptions {
        client_secret: Some(SECRET.to_string()),
        ..SimOptions::default()
    };
    let fake = FakeTenant::start(tenant, options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let quickstart =
        std::fs::read_to_string(root.join("examples/quickstart/m365ctl.toml")).unwrap();
    let table = format!(
        "[tenant]\nbackend = \"graph\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nauth = \"secret\"\nclient_secret_env = \"M365CTL_TEST_SECRET\"\n",
        fake.tenant_id(),
        SimOptions::default().client_id,
    );
    let hosts = vec![
        ("M365CTL_AUTHORITY_HOST", fake.authority_host()),
        ("M365CTL_GRAPH_HOST", fake.graph_host()),
        ("M365CTL_EXCHANGE_HOST", fake.exchange_host()),
    ];
    let config = quickstart.replace(
        "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n",
        &table,
    );
    std::fs::write(dir.path().join("m365ctl.toml"), config).unwrap();
    let config = dir.path().display().to_string();

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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/quickstart/tenant.json")).unwrap();
    let tenant = parse_snapshot(&text).unwrap();
    let users = tenant.users.len();
    let fake = FakeTenant::start(tenant, SimOptions::default())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            fake.authority_host(),
            fake.tenant_id()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SimOptions::default().client_id.as_str()),
            ("client_secret", "sim-client-secret"),
            ("scope", &format!("{}/.default", fake.graph_host())),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
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
