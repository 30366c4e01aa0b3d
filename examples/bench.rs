//! The scale benchmark (issue 7): `cargo run --release --locked --example bench`
//! (`-- --quick` for 1k and 10k only, `-- --sizes 2000,50000` for other sizes, `-- --latency-ms N`
//! to change the fake's per-request latency, default 30, `-- --latency-per-item-us N` to add
//! latency per object in an answer (page-size-dependent latency, default 0), `-- --throttle off`
//! to run without Microsoft's throttling model, which the fake enforces by default).
//!
//! For each size it generates a tenant (`synth`: 2% of users with changes, 2,000 groups of
//! which 20 carry licences, 20 SKUs), serves it from the fake Graph/Exchange server on
//! loopback with the given latency, and runs `plan` against it in a *child process* (so peak
//! RSS is the client's own: `VmHWM` of the child, which reads through the Graph backend,
//! resolves, plans and renders). It reports Graph requests by kind (from the fake's log),
//! end-to-end plan time, planner-core time and peak RSS; then the same reads done the way
//! per-user scripts do them (one `GET /users/{id}` + one licence read per user — `licenseDetails`
//! is not open to application permissions, so an app-only script reads
//! `GET /users/{id}?$select=assignedLicenses,licenseAssignmentStates` — through the same HTTP
//! client and fake, on a sample, extrapolated); and at the
//! largest size it applies the plan (2% of users) with the fake enforcing a throttle budget
//! and reports the budget used and any 429 that surfaced as a failed operation.

use m365ctl::apply::{ExecOptions, execute};
use m365ctl::backend::graph::GraphBackend;
use m365ctl::backend::{AuthMode, GraphSettings, TenantBackend};
use m365ctl::graph::{Authenticator, HttpCore, Request, Resource, RetryPolicy};
use m365ctl::sim::{FakeTenant, FakeTenantHandle, LoggedRequest, SimOptions, ThrottleModel};
use m365ctl::synth::{SynthSpec, generate};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET_ENV: &str = "M365CTL_BENCH_SECRET";
const SECRET: &str = "sim-client-secret";
/// Per-user baseline sample (users), run at the client's usual concurrency.
const BASELINE_SAMPLE: usize = 1_000;
const BASELINE_CONCURRENCY: usize = 8;
/// The fake's throttle budget during the apply measurement: requests per window.
const BUDGET: (u32, Duration) = (1_000, Duration::from_secs(1));

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let latency_ms: u64 = args
        .iter()
        .position(|a| a == "--latency-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let sizes: Vec<usize> = match args.iter().position(|a| a == "--sizes") {
        Some(i) => args
            .get(i + 1)
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_default(),
        None if quick => vec![1_000, 10_000],
        None => vec![1_000, 10_000, 100_000],
    };
    assert!(
        !sizes.is_empty(),
        "--sizes takes a comma-separated list of user counts"
    );
    let per_item = Duration::from_micros(
        args.iter()
            .position(|a| a == "--latency-per-item-us")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let model = match args.iter().position(|a| a == "--throttle") {
        Some(i) if args.get(i + 1).map(String::as_str) == Some("off") => None,
        _ => Some(ThrottleModel::microsoft()),
    };
    // SAFETY: set once before any thread starts.
    unsafe { std::env::set_var(SECRET_ENV, SECRET) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    for &n in &sizes {
        let latency = (Duration::from_millis(latency_ms), per_item);
        let row = runtime.block_on(measure(n, latency, &model));
        eprintln!("{n} users done");
        rows.push(row);
    }
    let apply = runtime.block_on(measure_apply(*sizes.last().expect("a size"), &model));
    print_report(&rows, &apply, latency_ms, model.is_some());
}

/// One size's figures.
struct Row {
    users: usize,
    requests: Vec<(&'static str, usize)>,
    total_requests: usize,
    plan_wall: Duration,
    read: Duration,
    planner_core: Duration,
    peak_rss_mb: f64,
    operations: usize,
    baseline_requests: usize,
    baseline_wall_estimate: Duration,
}

fn settings(fake: &FakeTenantHandle) -> GraphSettings {
    fake.settings(AuthMode::Secret {
        env: SECRET_ENV.into(),
    })
}

fn kind(r: &LoggedRequest) -> &'static str {
    let p = r.path.as_str();
    if p.contains("/oauth2/") {
        "token"
    } else if p.starts_with("/v1.0/subscribedSkus") {
        "skus"
    } else if p.starts_with("/v1.0/users?") || p == "/v1.0/users" {
        "user pages"
    } else if p.contains("/members") {
        "group member pages"
    } else if p.starts_with("/v1.0/groups") {
        "group pages"
    } else if p.starts_with("/exo/") && p.contains("#Get-MailboxStatistics") {
        "mailbox sizes"
    } else if p.starts_with("/exo/") {
        "mailbox pages"
    } else {
        "other"
    }
}

/// Every kind `kind` reports, in report order.
const KINDS: [&str; 8] = [
    "token",
    "skus",
    "user pages",
    "group pages",
    "group member pages",
    "mailbox pages",
    "mailbox sizes",
    "other",
];

fn count_by_kind(log: &[LoggedRequest]) -> Vec<(&'static str, usize)> {
    KINDS
        .iter()
        .map(|k| (*k, log.iter().filter(|r| kind(r) == *k).count()))
        .filter(|(_, c)| *c > 0)
        .collect()
}

/// `latency`: per request and per object in an answer.
async fn measure(n: usize, latency: (Duration, Duration), model: &Option<ThrottleModel>) -> Row {
    let synth = generate(&SynthSpec::benchmark(n));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("m365ctl.toml"), &synth.config_toml).expect("config");
    let fake = FakeTenant::start(
        synth.tenant.clone(),
        SimOptions {
            latency: latency.0,
            latency_per_item: latency.1,
            client_secret: Some(SECRET.into()),
            throttle_model: model.clone(),
            ..SimOptions::default()
        },
    )
    .await
    .expect("fake starts");
    let s = settings(&fake);
    let exe = std::env::current_exe().expect("own path");
    let child_args: Vec<String> = vec![
        "--child".into(),
        dir.path().display().to_string(),
        s.tenant_id.clone(),
        s.client_id.clone(),
        s.authority_host.clone(),
        s.graph_host.clone(),
        s.exchange_host.clone(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args(child_args)
            .env(SECRET_ENV, SECRET)
            .output()
    })
    .await
    .expect("joined")
    .expect("child runs");
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("child prints JSON");
    let log = fake.requests();
    let requests = count_by_kind(&log);
    if std::env::var_os("BENCH_TIMELINE").is_some() {
        for k in KINDS {
            let at: Vec<f64> = log
                .iter()
                .filter(|r| kind(r) == k)
                .map(|r| r.at.as_secs_f64())
                .collect();
            if let (Some(first), Some(last)) = (at.first(), at.last()) {
                eprintln!("{k}: {} from {first:.2} to {last:.2}", at.len());
            }
        }
    }

    // Per-user baseline: GET user + a licence read per user, same client and fake.
    fake.clear_requests();
    let sample = n.min(BASELINE_SAMPLE);
    let core = http_core(&s);
    let ids: Vec<String> = synth.tenant.users[..sample]
        .iter()
        .map(|u| u.id.clone())
        .collect();
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(BASELINE_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let (core, limit) = (core.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let root = core.graph_root().to_string();
            for url in [
                format!("{root}/users/{id}"),
                format!("{root}/users/{id}?$select=assignedLicenses,licenseAssignmentStates"),
            ] {
                let reply = core
                    .send(Resource::Graph, &Request::get(url))
                    .await
                    .expect("baseline GET");
                assert!(reply.is_success(), "baseline GET failed: {}", reply.status);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let sampled = started.elapsed();
    let baseline_requests = fake
        .requests()
        .iter()
        .filter(|r| kind(r) != "token")
        .count();
    assert_eq!(baseline_requests, 2 * sample);
    let baseline_wall_estimate = sampled.mul_f64(n as f64 / sample as f64);
    fake.shutdown().await;

    let secs = |k: &str| Duration::from_secs_f64(report[k].as_f64().unwrap_or_default());
    Row {
        users: n,
        total_requests: requests
            .iter()
            .filter(|(k, _)| *k != "token")
            .map(|(_, c)| c)
            .sum(),
        requests,
        plan_wall: secs("plan_wall_s"),
        read: secs("read_s"),
        planner_core: secs("planner_core_s"),
        peak_rss_mb: report["peak_rss_kb"].as_f64().unwrap_or_default() / 1024.0,
        operations: report["operations"].as_u64().unwrap_or_default() as usize,
        baseline_requests: 2 * n,
        baseline_wall_estimate,
    }
}

fn http_core(s: &GraphSettings) -> HttpCore {
    let http = reqwest::Client::new();
    let auth = Arc::new(Authenticator::new(s, http.clone()).expect("auth"));
    HttpCore::new(http, auth, RetryPolicy::default(), &s.graph_host)
}

/// The child: what `m365ctl plan` does against the Graph backend, timed, and its peak RSS.
fn child(args: &[String]) {
    let [dir, tenant_id, client_id, authority, graph, exchange] = args else {
        panic!("--child DIR TENANT CLIENT AUTHORITY GRAPH EXCHANGE");
    };
    let settings = GraphSettings {
        tenant_id: tenant_id.clone(),
        client_id: client_id.clone(),
        auth: AuthMode::Secret {
            env: SECRET_ENV.into(),
        },
        authority_host: authority.clone(),
        graph_host: graph.clone(),
        exchange_host: exchange.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let config = m365ctl::input::load(std::path::Path::new(dir)).expect("config loads");
    let backend = GraphBackend::new(&settings)
        .expect("backend")
        .with_groups(config.groups.keys().cloned());
    let mut live = runtime.block_on(backend.read()).expect("read");
    let (desired, _) = m365ctl::desired::resolve(&config, &live).expect("resolves");
    // As `plan` does: the mailbox facts the plan depends on are part of the read.
    runtime
        .block_on(m365ctl::backend::read_needed_facts(
            &backend, &desired, &mut live,
        ))
        .expect("facts read");
    let read = started.elapsed();
    let core_started = Instant::now();
    let plan = m365ctl::plan::plan(&desired, &live);
    let planner_core = core_started.elapsed();
    let rendered = m365ctl::render::human::render(
        &plan,
        m365ctl::render::human::HumanOptions {
            color: false,
            wording: m365ctl::render::Wording::Plan,
        },
    );
    let plan_wall = started.elapsed();
    assert!(!plan.has_errors(), "the benchmark plan has errors");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "users": live.users.len(),
            "operations": plan.operations.len(),
            "read_s": read.as_secs_f64(),
            "planner_core_s": planner_core.as_secs_f64(),
            "plan_wall_s": plan_wall.as_secs_f64(),
            "rendered_bytes": rendered.len(),
            "peak_rss_kb": peak_rss_kb,
        })
    );
}

/// The apply measurement's figures.
struct ApplyRow {
    users: usize,
    operations: usize,
    wall: Duration,
    accepted: usize,
    throttled: usize,
    budget_available: usize,
    failed: usize,
    failed_throttled: usize,
}

/// Applies the plan of the largest size (2% of users change) against a fake that enforces
/// `BUDGET`, with no per-request latency (the budget, not the network, is the limit).
async fn measure_apply(n: usize, model: &Option<ThrottleModel>) -> ApplyRow {
    let synth = generate(&SynthSpec::benchmark(n));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("m365ctl.toml"), &synth.config_toml).expect("config");
    std::fs::write(
        dir.path().join("tenant.json"),
        m365ctl::backend::snapshot::render_snapshot(&synth.tenant),
    )
    .expect("snapshot");
    let config = m365ctl::input::load(dir.path()).expect("config loads");
    let (desired, _) = m365ctl::desired::resolve(&config, &synth.tenant).expect("resolves");
    let plan = m365ctl::plan::plan(&desired, &synth.tenant);
    let fake = FakeTenant::start(
        synth.tenant.clone(),
        SimOptions {
            client_secret: Some(SECRET.into()),
            throttle: Some(BUDGET),
            throttle_model: model.clone(),
            ..SimOptions::default()
        },
    )
    .await
    .expect("fake starts");
    let backend = GraphBackend::new(&settings(&fake)).expect("backend");
    // Warm the token outside the measurement.
    let _ = backend.already_done(&[]).await;
    fake.clear_requests();
    let started = Instant::now();
    let report = execute(
        &backend,
        plan.operations.clone(),
        ExecOptions {
            concurrency: 16,
            batch_size: 20,
            ..ExecOptions::default()
        },
    )
    .await
    .expect("a DAG");
    let wall = started.elapsed();
    let log = fake.requests();
    // The budget counts every HTTP request and every `$batch` item, as the fake charges it.
    let accepted = log.iter().filter(|r| r.status != 429).count();
    let throttled = log.iter().filter(|r| r.status == 429).count();
    let windows = (wall.as_secs_f64() / BUDGET.1.as_secs_f64())
        .ceil()
        .max(1.0) as usize;
    let failed: Vec<String> = report
        .with_label("failed")
        .filter_map(|r| r.outcome.reason())
        .collect();
    let failed_throttled = failed
        .iter()
        .filter(|r| r.contains("429") || r.contains("TooManyRequests"))
        .count();
    fake.shutdown().await;
    ApplyRow {
        users: n,
        operations: plan.operations.len(),
        wall,
        accepted,
        throttled,
        budget_available: BUDGET.0 as usize * windows,
        failed: failed.len(),
        failed_throttled,
    }
}

fn print_report(rows: &[Row], apply: &ApplyRow, latency_ms: u64, modelled: bool) {
    let model = if modelled {
        ", Microsoft's throttling model on"
    } else {
        ""
    };
    println!(
        "## m365ctl scale benchmark (fake Graph on loopback, {latency_ms} ms per request{model})\n"
    );
    println!(
        "| Users | Graph requests (plan) | User pages (ceil(N/999)) | Plan end-to-end | of which Graph read | Planner core | Peak RSS | Operations | Per-user baseline requests | Ratio | Baseline time (extrapolated) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let pages = r
            .requests
            .iter()
            .find(|(k, _)| *k == "user pages")
            .map_or(0, |(_, c)| *c);
        println!(
            "| {} | {} | {} ({}) | {:.2} s | {:.2} s | {:.3} s | {:.0} MB | {} | {} | {:.0}x | {:.0} s |",
            r.users,
            r.total_requests,
            pages,
            r.users.div_ceil(999),
            r.plan_wall.as_secs_f64(),
            r.read.as_secs_f64(),
            r.planner_core.as_secs_f64(),
            r.peak_rss_mb,
            r.operations,
            r.baseline_requests,
            r.baseline_requests as f64 / r.total_requests.max(1) as f64,
            r.baseline_wall_estimate.as_secs_f64(),
        );
    }
    println!("\nRequests by kind:");
    for r in rows {
        let kinds: Vec<String> = r.requests.iter().map(|(k, c)| format!("{k} {c}")).collect();
        println!("- {} users: {}", r.users, kinds.join(", "));
    }
    if let [.., a, b] = rows {
        println!(
            "\nScaling {}→{} users: plan time x{:.1}, planner core x{:.1}",
            a.users,
            b.users,
            b.plan_wall.as_secs_f64() / a.plan_wall.as_secs_f64(),
            b.planner_core.as_secs_f64() / a.planner_core.as_secs_f64().max(1e-9),
        );
    }
    println!(
        "\nApply at {} users: {} operations in {:.1} s ({:.0} ops/s) under a budget of {} requests per {:?}: {} requests accepted of {} available ({:.0}% of the budget used), {} answered 429 and retried, {} failed operations ({} of them throttling).",
        apply.users,
        apply.operations,
        apply.wall.as_secs_f64(),
        apply.operations as f64 / apply.wall.as_secs_f64(),
        BUDGET.0,
        BUDGET.1,
        apply.accepted,
        apply.budget_available,
        100.0 * apply.accepted as f64 / apply.budget_available as f64,
        apply.throttled,
        apply.failed,
        apply.failed_throttled,
    );
}
