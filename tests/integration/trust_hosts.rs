//! Issue 14, item 2: credentials go only to Microsoft over https. A config (possibly from an
//! unreviewed pull request) that points the token endpoint, Graph or Exchange anywhere else is
//! refused with file:line:column before any request; only the environment may override.

use crate::common::{cli, fake, quickstart};
use std::path::Path;

const SECRET: &str = "trust-hosts-test-secret";

async fn m365ctl(args: Vec<String>, env: Vec<(&'static str, String)>) -> std::process::Output {
    let mut cmd = cli::m365ctl();
    cmd.env_remove("M365CTL_AUTHORITY_HOST")
        .env_remove("M365CTL_GRAPH_HOST")
        .env_remove("M365CTL_EXCHANGE_HOST")
        .env("M365CTL_TRUST_SECRET", SECRET)
        .envs(env)
        .args(args);
    cli::output(cmd).await
}

/// Every host key, pointed at the fake over http, at a non-Microsoft https host, or at a
/// Microsoft host with a port or path: refused by plan, validate and apply, before any request
/// (the fake sees none), naming the line of the offending key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_pointing_credentials_elsewhere_is_refused_before_any_request() {
    let fake = fake::serving(quickstart::tenant(), fake::accepting(SECRET)).await;
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
            let auth = fake::secret_auth("M365CTL_TRUST_SECRET");
            let table = fake::graph_table(&fake, &format!("{auth}{key} = \"{host}\"\n"));
            let config = quickstart::config_with(dir.path(), &table);
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
    let table = fake::graph_table(&fake, &fake::secret_auth("M365CTL_TRUST_SECRET"));
    let config = quickstart::config_with(dir.path(), &table);
    let env = fake::host_env(&fake).to_vec();
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
