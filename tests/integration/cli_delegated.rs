//! Delegated, read-only sign-in through the binary against the fake: the device
//! authorization grant (pending polls, `slow_down`, `expired_token`), the Azure CLI's token
//! reused, tokens never printed, and `apply` refused before anyone is asked to sign in.

use crate::common::cli::{self, args};
use crate::common::{fake, quickstart};
use m365ctl::sim::{DeviceCodeOptions, FakeTenantHandle, SimOptions};
use std::path::Path;
use std::time::Duration;

async fn fake(device_code: DeviceCodeOptions) -> FakeTenantHandle {
    let options = SimOptions {
        device_code,
        ..SimOptions::default()
    };
    fake::serving(quickstart::tenant(), options).await
}

/// The quickstart config pointed at the fake with `auth`.
fn config(fake: &FakeTenantHandle, auth: &str, dir: &Path) -> String {
    let table = fake::graph_table(fake, &format!("auth = \"{auth}\"\n"));
    quickstart::config_with(dir, &table)
}

/// Runs the binary pointed at the fake through the environment (a config names only
/// Microsoft's hosts).
async fn m365ctl(
    fake: &FakeTenantHandle,
    args: Vec<String>,
    path: Option<String>,
) -> (Option<i32>, String, String) {
    let mut cmd = cli::m365ctl();
    cmd.envs(fake::host_env(fake)).args(&args);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let out = cli::output(cmd).await;
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn no_token_printed(text: &str) {
    for secret in ["simtoken.", "simrefresh.", "simdevicecode."] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_sign_in_plans_read_only_and_apply_is_refused() {
    let fake = fake(DeviceCodeOptions {
        pending_polls: 2,
        interval_secs: 0,
        ..DeviceCodeOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&fake, "device-code", dir.path());
    let (code, stdout, stderr) = m365ctl(&fake, args(&["plan", "-c", &config]), None).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("https://microsoft.com/devicelogin"),
        "{stderr}"
    );
    assert!(stderr.contains("enter the code SIM"), "{stderr}");
    assert!(
        stdout.contains("Plan: 4 to add, 4 to change, 3 to remove."),
        "{stdout}"
    );
    no_token_printed(&stdout);
    no_token_printed(&stderr);
    let log = fake.requests();
    let device = log
        .iter()
        .filter(|r| r.path.ends_with("/devicecode"))
        .count();
    assert_eq!(device, 1, "one sign-in for Graph and Exchange");
    let pending = log
        .iter()
        .filter(|r| r.path.ends_with("/token") && r.status == 400)
        .count();
    assert_eq!(pending, 2, "two authorization_pending polls");
    assert!(fake.violations().is_empty());

    fake.clear_requests();
    let (code, _, stderr) = m365ctl(
        &fake,
        args(&["apply", "-c", &config, "--auto-approve"]),
        None,
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("apply needs an app registration"),
        "{stderr}"
    );
    assert!(fake.requests().is_empty(), "refused before any request");
}

/// A client that polls at the announced interval 0 meets `slow_down` (the fake enforces one
/// second) and must wait five seconds more before it polls again (RFC 8628 §3.5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_makes_the_client_wait_longer() {
    let fake = fake(DeviceCodeOptions {
        pending_polls: 1,
        interval_secs: 1,
        announced_interval_secs: Some(0),
        ..DeviceCodeOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&fake, "device-code", dir.path());
    let (code, stdout, stderr) = m365ctl(&fake, args(&["plan", "-c", &config]), None).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let polls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/token"))
        .collect();
    // pending, slow_down, then the token (and the Exchange token by refresh).
    assert!(polls.len() >= 3, "{polls:#?}");
    let gap = polls[2].at - polls[1].at;
    assert!(
        gap >= Duration::from_secs(5),
        "waited {gap:?} after slow_down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_is_an_error_that_says_what_to_do() {
    let fake = fake(DeviceCodeOptions {
        interval_secs: 0,
        expires_in: Duration::ZERO,
        ..DeviceCodeOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&fake, "device-code", dir.path());
    let (code, _, stderr) = m365ctl(&fake, args(&["plan", "-c", &config]), None).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("expired before it was used"), "{stderr}");
}

/// `auth = "azure-cli"` runs `az account get-access-token --resource R --tenant T` (a
/// stand-in `az` here, answering with tokens the fake issued) and never prints the token.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_cli_token_is_reused_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let fake = fake(DeviceCodeOptions::default()).await;
    let mut tokens = Vec::new();
    for host in [fake.graph_host(), fake.exchange_host()] {
        tokens.push(fake::app_token(&fake, &format!("{host}/.default")).await);
    }
    let bin = tempfile::tempdir().unwrap();
    let script = format!(
        "#!/bin/sh\ncase \"$*\" in\n  *get-access-token*--resource\\ *exo*) echo '{{\"accessToken\":\"{exo}\",\"expires_on\":\"4102444800\"}}';;\n  *get-access-token*) echo '{{\"accessToken\":\"{graph}\",\"expires_on\":4102444800}}';;\n  *) echo 'unexpected' >&2; exit 2;;\nesac\n",
        graph = tokens[0],
        exo = tokens[1]
    );
    let az = bin.path().join("az");
    std::fs::write(&az, script).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config(&fake, "azure-cli", dir.path());
    let (code, stdout, stderr) = m365ctl(&fake, args(&["plan", "-c", &config]), Some(path)).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("Plan: 4 to add"), "{stdout}");
    no_token_printed(&stdout);
    no_token_printed(&stderr);
    assert_eq!(fake.token_requests(), 2, "only the two the test asked for");
}
