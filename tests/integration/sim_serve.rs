//! `m365ctl sim serve` as a process: a generated tenant of N users from a seed (no snapshot
//! written by hand), the throttling model switched on and off from the command line, and
//! usage errors for a missing or doubled tenant source.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `sim serve` and the values it printed.
struct Served {
    child: Child,
    base: String,
    tenant_id: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("m365ctl"))
        .args(["sim", "serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let (mut base, mut tenant_id) = (String::new(), String::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        if let Some(url) = line.strip_prefix("Fake Microsoft Graph + Exchange Online listening on ")
        {
            base = url.trim().to_string();
        }
        if let Some(id) = line.strip_prefix("tenant_id = ") {
            tenant_id = id.trim_matches('"').to_string();
        }
        if line.starts_with("export M365CTL_EXCHANGE_HOST=") {
            break;
        }
    }
    assert!(!base.is_empty() && !tenant_id.is_empty());
    Served {
        child,
        base,
        tenant_id,
    }
}

async fn token(served: &Served) -> String {
    let endpoint = format!("{}/{}/oauth2/v2.0/token", served.base, served.tenant_id);
    let scope = format!("{}/.default", served.base);
    crate::common::fake::token_from(
        &endpoint,
        "11111111-2222-3333-4444-555555555555",
        "sim-client-secret",
        &scope,
    )
    .await
}

/// `GET /users/$count` `times` times: the statuses, and the last body.
async fn counts(served: &Served, times: usize) -> (Vec<u16>, String) {
    let bearer = token(served).await;
    let http = reqwest::Client::new();
    let (mut statuses, mut body) = (Vec::new(), String::new());
    for _ in 0..times {
        let reply = http
            .get(format!("{}/v1.0/users/$count", served.base))
            .header("ConsistencyLevel", "eventual")
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        statuses.push(reply.status().as_u16());
        body = reply.text().await.unwrap();
    }
    (statuses, body)
}

#[tokio::test]
async fn a_generated_tenant_of_n_users_is_served() {
    let served = serve(&["--generate", "37", "--seed", "9"]);
    let (statuses, body) = counts(&served, 1).await;
    assert_eq!((statuses, body.as_str()), (vec![200], "37"));
}

#[tokio::test]
async fn the_throttle_model_is_switched_from_the_command_line() {
    // 3,500 RU x 0.001 = 4 RU per 10 s: the fifth `$count` (1 RU each) is refused.
    let modelled = serve(&["--generate", "5", "--throttle-scale", "0.001"]);
    assert!(counts(&modelled, 6).await.0.contains(&429));
    let off = serve(&[
        "--generate",
        "5",
        "--throttle",
        "off",
        "--throttle-scale",
        "0.001",
    ]);
    assert!(counts(&off, 6).await.0.iter().all(|s| *s == 200));
}

#[test]
fn a_tenant_source_is_required_and_unique() {
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("m365ctl")
            .unwrap()
            .args(["sim", "serve"])
            .args(args)
            .output()
            .unwrap()
    };
    let none = run(&[]);
    assert_eq!(none.status.code(), Some(1));
    let both = run(&["--snapshot", "tenant.json", "--generate", "5"]);
    assert_eq!(both.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&both.stderr).contains("--generate"));
}
