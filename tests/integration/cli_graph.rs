//! The `m365ctl` binary itself against the fake Graph/Exchange server over loopback HTTP:
//! plan (exit 2), apply, plan again (exit 0), with the quickstart config pointed at the fake
//! and 20% of requests answered with 429/5xx. Proves the CLI's graph wiring end to end and
//! that it reaches the same state as the snapshot backend on the same scenario.

use crate::common::{cli, fake, quickstart};
use m365ctl::backend::snapshot::parse_snapshot;
use m365ctl::sim::{FakeTenantHandle, SimOptions};

const SECRET: &str = "cli-graph-test-secret";

/// Runs the binary on a blocking thread (the fake lives on this test's runtime), pointed at
/// the fake through the environment (a config may only name Microsoft's hosts).
async fn m365ctl(fake: &FakeTenantHandle, args: Vec<String>) -> std::process::Output {
    m365ctl_with(fake, args, &[]).await
}

/// `m365ctl` with extra environment variables.
async fn m365ctl_with(
    fake: &FakeTenantHandle,
    args: Vec<String>,
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = cli::m365ctl();
    cmd.env("M365CTL_TEST_SECRET", SECRET)
        .envs(fake::host_env(fake))
        .envs(env.iter().copied())
        .args(args);
    cli::output(cmd).await
}

/// The quickstart config in `dir` naming the fake's tenant, signing in with `SECRET`.
fn graph_config(fake: &FakeTenantHandle, dir: &std::path::Path) -> String {
    let table = fake::graph_table(fake, &fake::secret_auth("M365CTL_TEST_SECRET"));
    quickstart::config_with(dir, &table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_apply_plan_through_the_graph_backend_converges_like_the_snapshot() {
    let options = SimOptions {
        fault_rate: 0.2,
        retry_after_secs: 0,
        ..fake::accepting(SECRET)
    };
    let fake = fake::serving(quickstart::tenant(), options).await;
    let dir = tempfile::tempdir().unwrap();
    let config = graph_config(&fake, dir.path());

    let plan = m365ctl(
        &fake,
        cli::args(&["plan", "-c", &config, "--detailed-exitcode"]),
    )
    .await;
    let stdout = cli::exited(&plan, 2);
    assert!(
        stdout.contains("Plan: 4 to add, 4 to change, 3 to remove."),
        "{stdout}"
    );

    let apply = m365ctl(
        &fake,
        cli::args(&["apply", "-c", &config, "--auto-approve"]),
    )
    .await;
    let report = cli::exited(&apply, 0);
    assert!(report.contains("0 failed, 0 skipped"), "{report}");

    let again = m365ctl(
        &fake,
        cli::args(&["plan", "-c", &config, "--detailed-exitcode"]),
    )
    .await;
    cli::exited(&again, 0);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let faults = fake
        .requests()
        .iter()
        .filter(|r| r.status == 429 || r.status >= 500)
        .count();
    assert!(faults > 0, "the fake injected no faults");

    // Same end state as the snapshot backend on the same scenario.
    let snap_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        quickstart::file("tenant.json"),
        snap_dir.path().join("tenant.json"),
    )
    .unwrap();
    let snap_config = quickstart::config_with(snap_dir.path(), quickstart::SNAPSHOT_TABLE);
    let snap_apply = m365ctl(
        &fake,
        cli::args(&["apply", "-c", &snap_config, "--auto-approve"]),
    )
    .await;
    assert_eq!(snap_apply.status.code(), Some(0));
    let via_snapshot =
        parse_snapshot(&std::fs::read_to_string(snap_dir.path().join("tenant.json")).unwrap())
            .unwrap();
    let via_graph = fake.tenant();
    let digest = |t: &m365ctl::tenant::Tenant| m365ctl::planfile::LiveDigest::of(t);
    assert_eq!(digest(&via_graph), digest(&via_snapshot));
    fake.shutdown().await;
}

/// Whole-tenant reads in the fake's log: first pages of `GET /users` and `GET /subscribedSkus`
/// (a read pages on with `$skiptoken`; the pre-write check GETs single users, not the list).
fn whole_tenant_reads(fake: &FakeTenantHandle) -> (usize, usize) {
    let log = fake.requests();
    let first_pages = |collection: &str| {
        log.iter()
            .filter(|r| r.method == "GET")
            .filter(|r| {
                let path = r.path.split('?').next().unwrap_or_default();
                path.ends_with(collection) && !r.path.contains("skiptoken")
            })
            .count()
    };
    (
        first_pages("/v1.0/users"),
        first_pages("/v1.0/subscribedSkus"),
    )
}

/// `apply` reads the tenant once and plans once (issue 18): the stale check, the guards and
/// the executor all use that one plan, with a reviewed plan file and with `--auto-approve`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_reads_the_tenant_once() {
    let tenant = quickstart::tenant();
    for reviewed in [true, false] {
        let fake = fake::serving(tenant.clone(), fake::accepting(SECRET)).await;
        let dir = tempfile::tempdir().unwrap();
        let config = graph_config(&fake, dir.path());
        let planfile = dir.path().join("plan.json").display().to_string();
        let mut apply = cli::args(&["apply", "-c", &config]);
        if reviewed {
            let plan = m365ctl(
                &fake,
                cli::args(&["plan", "-c", &config, "--out", &planfile]),
            )
            .await;
            assert_eq!(plan.status.code(), Some(0), "{plan:?}");
            assert_eq!(whole_tenant_reads(&fake), (1, 1), "plan reads once too");
            apply.push(planfile);
        } else {
            apply.push("--auto-approve".into());
        }
        fake.clear_requests();
        let applied = m365ctl(&fake, apply).await;
        cli::exited(&applied, 0);
        assert!(fake.tenant() != tenant, "the apply wrote");
        assert_eq!(
            whole_tenant_reads(&fake),
            (1, 1),
            "reviewed plan: {reviewed}; {:#?}",
            fake.requests()
        );
        fake.shutdown().await;
    }
}

/// The lock comes before the read: an apply refused because another holds the lock has not
/// read the tenant (so a read can never be older than the lock that protects it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_takes_the_lock_before_it_reads() {
    let fake = fake::serving(quickstart::tenant(), fake::accepting(SECRET)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = graph_config(&fake, dir.path());
    let _held = m365ctl::apply::lock::ApplyLock::acquire(
        &m365ctl::apply::lock::default_path(dir.path()),
        false,
    )
    .unwrap();
    let args = ["apply", "-c", &config, "--auto-approve"]
        .map(String::from)
        .to_vec();
    let refused = m365ctl(&fake, args).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("lock"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(whole_tenant_reads(&fake), (0, 0));
    fake.shutdown().await;
}

/// `M365CTL_WRITE_QUOTA` paces apply's writes to another quota than Microsoft's published one;
/// a value that is not WRITES/SECONDS is refused before anything is read or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_quota_can_be_stated_and_a_bad_one_is_refused() {
    let fake = fake::serving(quickstart::tenant(), fake::accepting(SECRET)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = graph_config(&fake, dir.path());
    let apply = || -> Vec<String> {
        ["apply", "-c", &config, "--auto-approve"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };

    let refused = m365ctl_with(&fake, apply(), &[("M365CTL_WRITE_QUOTA", "lots")]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("M365CTL_WRITE_QUOTA") && stderr.contains("3000/150"),
        "{stderr}"
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.method == "GET" || r.path.contains("/oauth2/")),
        "nothing is written"
    );
    fake.clear_requests();

    // Two writes a second from a bucket of two: the writes spread over (W - 2) / 2 seconds.
    let paced = m365ctl_with(&fake, apply(), &[("M365CTL_WRITE_QUOTA", "2/1")]).await;
    cli::exited(&paced, 0);
    // Measured from the run's first request: the bucket exists from before it.
    let log = fake.requests();
    let writes: Vec<_> = log
        .iter()
        .filter(|r| r.is_batch_item() && !r.is_exchange() && r.method != "GET")
        .collect();
    assert!(writes.len() >= 5, "{} writes", writes.len());
    let spread = writes.last().unwrap().at - log.first().unwrap().at;
    let least = (writes.len() - 2) as f64 / 2.0;
    assert!(
        spread.as_secs_f64() >= least,
        "{} writes within {spread:?}",
        writes.len()
    );
}
