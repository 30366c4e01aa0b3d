//! Issue 14, item 2: credentials go only to Microsoft over https. A config (possibly from an
//! unreviewed pull request) that points the token endpoint, Graph or Exchange anywhere else is
//! refused with file:line:column before any request; only the environment may override.

use assert_cmd::Command;
use m365ctl::sim::{FakeTenant, SimOptions};
use std::path::Path;

const SECRET: &str = "trust-hosts-test-secret";

async fn m365ctl(args: Vec<String>, env: Vec<(&'static str, String)>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("m365ctl")
            .expect("binary built")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("M365CTL_AUTHORITY_HOST")
            .env_remove("M365CTL_GRAPH_HOST")
            .env_remove("M365CTL_EXCHANGE_HOST")
            .env("NO_COLOR", "1")
            .env("M365CTL_TRUST_SECRET", SECRET)
            .envs(env)
            .args(args)
            .output()
            .expect("runs")
    })
    .await
    .expect("joined")
}

fn quickstart_with(dir: &Path, tenant_table: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let quickstart = std::fs::read_to_string(root.join("m365ctl.toml")).unwrap();
    let snapshot_table = "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n";
    assert!(quickstart.contains(snapshot_table));
    std::fs::write(
        dir.join("m365ctl.toml"),
        quickstart.replace(snapshot_table, tenant_table),
    )
    .unwrap();
    dir.display().to_string()
}

/// Every host key, pointed at the fake over http, at a non-Microsoft https host, or at a
/// Microsoft host with a port or path: refused by plan, validate and apply, before any request
/// (the fake sees none), naming the line of the offending key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_pointing_credentials_elsewhere_is_refused_before_any_request() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/tenant.json"),
    )
    .unwrap();
    let tenant = m365ctl::backend::snapshot::parse_snapshot(&text).unwrap();
    let options = SimOptions {
        client_secret: Some(SECRET.to_string()),
        ..SimOptions::default()
    };
    let fake = FakeTenant::start(tenant, options).await.unwrap();
    let fake_url = fake.authority_host();
    let evil = [
        fake_url.clone(),
        fake_url.replace("http://", "https://"),
        "https://attacker.example".to_string(),
        "login.microsoftonline.com.attacker.example".to_string(),
        "https://graph.microsoft.com@attacker.example".to_string(),
        "https://graph.microsoft.com:8443".to_string(),
        "https://graph.microsoft.com/../x".to_string(),
    ];
    for key in ["authority_host", "graph_host", "exchange_host"] {
        for (n, host) in evil.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let table = format!(
                "[tenant]\nbackend = \"graph\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nauth = \"secret\"\nclient_secret_env = \"M365CTL_TRUST_SECRET\"\n{key} = \"{host}\"\n",
                fake.tenant_id(),
                SimOptions::default().client_id,
            );
            let config = quickstart_with(dir.path(), &table);
            let written = std::fs::read_to_string(dir.path().join("m365ctl.toml")).unwrap();
            let line = 1 + written
                .lines()
                .position(|l| l.starts_with(key))
                .expect("key written");
            let command = ["plan", "validate", "apply"][n % 3];
            let mut args = vec![command.to_string(), "-c".into(), config];
            if command == "apply" {
                args.push("--auto-approve".into());
            }
            let out = m365ctl(args, vec![]).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{key} = {host}: {stderr}");
            assert!(
                stderr.contains(&format!("m365ctl.toml:{line}:")),
                "{key} = {host}: {stderr}"
            );
            assert!(stderr.contains(key), "{stderr}");
            assert!(!stderr.contains(SECRET), "{stderr}");
        }
    }
    assert!(
        fake.requests().is_empty(),
        "requests reached the fake: {:?}",
        fake.requests()
    );

    // The same fake is reachable through the environment (tests, `sim serve`).
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        "[tenant]\nbackend = \"graph\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nauth = \"secret\"\nclient_secret_env = \"M365CTL_TRUST_SECRET\"\n",
        fake.tenant_id(),
        SimOptions::default().client_id,
    );
    let config = quickstart_with(dir.path(), &table);
    let env = vec![
        ("M365CTL_AUTHORITY_HOST", fake.authority_host()),
        ("M365CTL_GRAPH_HOST", fake.graph_host()),
        ("M365CTL_EXCHANGE_HOST", fake.exchange_host()),
    ];
    let out = m365ctl(vec!["plan".into(), "-c".into(), config], env).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!fake.requests().is_empty());
    fake.shutdown().await;
}

/// A tenant id is a GUID or a domain: path tricks are refused by the loader.
#[test]
fn tenant_ids_that_are_not_a_guid_or_domain_are_refused() {
    for bad in [
        "contoso",
        "../../attacker.example/x",
        "contoso.onmicrosoft.com/oauth2?x=",
        "contoso.onmicrosoft.com#",
        "..",
        "a b.com",
    ] {
        let source =
            format!("[tenant]\nbackend = \"graph\"\ntenant_id = \"{bad}\"\nclient_id = \"c\"\n");
        let errors = m365ctl::desired::from_sources(&[("c.toml".into(), source)], Path::new("."))
            .expect_err(bad);
        let text = format!("{errors:?}");
        assert!(text.contains("tenant_id must be"), "{bad}: {text}");
    }
}
