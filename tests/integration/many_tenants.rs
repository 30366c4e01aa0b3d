//! Many tenants in one command against the fake Graph/Exchange server with latency: fifty
//! tenant configs, every one planned, at once (the wall time is close to one tenant's, not
//! the sum), the combined summary and the aggregated exit code are right, and failing tenants
//! (an app the tenant does not know, a broken config) are reported without hiding anybody's
//! plan. A config may only name Microsoft's hosts, and the environment's host overrides hold
//! for the whole process, so the fifty configs sign in to one fake (its throttling model off:
//! fifty apps would each have their own budget at Microsoft).

use assert_cmd::Command;
use m365ctl::backend::snapshot::parse_snapshot;
use m365ctl::sim::{FakeTenant, SimOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SECRET: &str = "many-tenants-test-secret";
const TENANTS: usize = 50;
/// Added by every fake before every answer: a plan makes several rounds of requests, so one
/// tenant takes a noticeable time and fifty in a row take long.
const LATENCY: Duration = Duration::from_millis(100);
/// The tenant whose config names an app the fake does not know (its sign-in is refused).
const REVOKED: usize = 13;
/// The tenant whose config does not parse.
const BROKEN: usize = 21;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs the binary on a blocking thread (the fake lives on this test's runtime), pointed at
/// the fake through the environment; returns its output and wall time.
async fn m365ctl(
    hosts: [(&'static str, String); 3],
    args: Vec<String>,
) -> (std::process::Output, Duration) {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let out = Command::cargo_bin("m365ctl")
            .expect("binary built")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("NO_COLOR", "1")
            .env("M365CTL_TEST_SECRET", SECRET)
            .envs(hosts)
            .args(args)
            .output()
            .expect("runs");
        (out, started.elapsed())
    })
    .await
    .expect("joined")
}

fn name(i: usize) -> String {
    format!("t{i:02}")
}

/// The quickstart config for the fake's tenant, signing in as `client_id` (every tenant plans
/// 4 adds, 3 changes, 3 removals).
fn write_config(dir: &Path, tenant_id: &str, client_id: &str) {
    let quickstart = std::fs::read_to_string(repo("examples/quickstart/m365ctl.toml")).unwrap();
    let snapshot_table = "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n";
    assert!(quickstart.contains(snapshot_table));
    let table = format!(
        "[tenant]\nbackend = \"graph\"\ntenant_id = \"{tenant_id}\"\nclient_id = \"{client_id}\"\nauth = \"secret\"\nclient_secret_env = \"M365CTL_TEST_SECRET\"\n"
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("m365ctl.toml"),
        quickstart.replace(snapshot_table, &table),
    )
    .unwrap();
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_plan_at_once_and_failures_hide_nothing() {
    let text = std::fs::read_to_string(repo("examples/quickstart/tenant.json")).unwrap();
    let tenant = parse_snapshot(&text).unwrap();
    let root = tempfile::tempdir().unwrap();
    let fake = FakeTenant::start(
        tenant,
        SimOptions {
            client_secret: Some(SECRET.to_string()),
            latency: LATENCY,
            throttle_model: None,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let hosts = || {
        [
            ("M365CTL_AUTHORITY_HOST", fake.authority_host()),
            ("M365CTL_GRAPH_HOST", fake.graph_host()),
            ("M365CTL_EXCHANGE_HOST", fake.exchange_host()),
        ]
    };
    for i in 0..TENANTS {
        let client_id = if i == REVOKED {
            "99999999-9999-4999-8999-999999999999".to_string()
        } else {
            SimOptions::default().client_id
        };
        write_config(
            &root.path().join("tenants").join(name(i)),
            fake.tenant_id(),
            &client_id,
        );
    }
    let broken = root
        .path()
        .join("tenants")
        .join(name(BROKEN))
        .join("m365ctl.toml");
    std::fs::write(&broken, "[skus\n").unwrap();
    let root_arg = root.path().display().to_string();

    // One tenant alone: the unit of the sum.
    let solo_dir = root
        .path()
        .join("tenants")
        .join(name(0))
        .display()
        .to_string();
    let (solo, solo_time) = m365ctl(
        hosts(),
        args(&["plan", "-c", &solo_dir, "--detailed-exitcode"]),
    )
    .await;
    assert_eq!(solo.status.code(), Some(2), "{solo:?}");

    // All fifty in one command.
    let (all, wall) = m365ctl(
        hosts(),
        args(&[
            "plan",
            "-c",
            &root_arg,
            "--jobs",
            "50",
            "--format",
            "json",
            "--detailed-exitcode",
        ]),
    )
    .await;
    let stderr = String::from_utf8_lossy(&all.stderr);
    assert_eq!(all.status.code(), Some(1), "any error exits 1\n{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&all.stdout).expect("one JSON document");
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["summary"]["tenants"], TENANTS);
    assert_eq!(doc["summary"]["with_changes"], TENANTS - 2);
    assert_eq!(doc["summary"]["failed"], 2);
    let tenants = doc["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), TENANTS);
    for (i, t) in tenants.iter().enumerate() {
        assert_eq!(t["name"], name(i), "tenants in name order");
        match i {
            REVOKED | BROKEN => {
                assert_eq!(t["status"], "failed", "{t}");
                assert_eq!(t["exit_code"], 1);
                assert!(t["plan"].is_null());
                assert!(!t["errors"].as_array().unwrap().is_empty(), "{t}");
            }
            _ => {
                assert_eq!(t["status"], "changes", "{t}");
                assert_eq!(t["exit_code"], 2);
                let summary = &t["plan"]["summary"];
                assert_eq!(
                    (&summary["add"], &summary["change"], &summary["remove"]),
                    (&4.into(), &4.into(), &3.into()),
                    "{t}"
                );
            }
        }
    }
    let broken_error = tenants[BROKEN]["errors"][0]["location"].as_str().unwrap();
    assert!(broken_error.ends_with("m365ctl.toml:1:6"), "{broken_error}");
    assert!(
        stderr.contains(&format!("tenant {}", name(REVOKED))),
        "{stderr}"
    );

    let sum = solo_time * TENANTS as u32;
    eprintln!(
        "{TENANTS} tenants with {LATENCY:?} latency: one tenant alone {solo_time:?}, all at once {wall:?} ({:.1}% of the sum {sum:?})",
        100.0 * wall.as_secs_f64() / sum.as_secs_f64()
    );
    assert!(
        wall.as_secs_f64() < 0.4 * sum.as_secs_f64(),
        "{TENANTS} tenants took {wall:?}; one alone takes {solo_time:?}"
    );

    // The human summary names every tenant; without the failing ones the exit code is 2.
    let (human, _) = m365ctl(hosts(), args(&["plan", "-c", &root_arg, "--jobs", "50"])).await;
    let out = String::from_utf8_lossy(&human.stdout);
    assert!(
        out.contains(&format!(
            "{TENANTS} tenants: 48 with changes, 0 in sync, 2 failed."
        )),
        "{out}"
    );
    for i in 0..TENANTS {
        assert!(
            out.contains(&format!("=== tenant {} (", name(i))),
            "{}",
            name(i)
        );
    }
    let healthy: Vec<String> = [0, 1, 2]
        .iter()
        .flat_map(|&i| {
            [
                "-c".to_string(),
                root.path()
                    .join("tenants")
                    .join(name(i))
                    .display()
                    .to_string(),
            ]
        })
        .chain(["--detailed-exitcode".to_string()])
        .collect();
    let (three, _) = m365ctl(hosts(), [vec!["plan".to_string()], healthy].concat()).await;
    assert_eq!(three.status.code(), Some(2), "{three:?}");

    fake.shutdown().await;
}
