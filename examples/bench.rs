//! The scale benchmark: `cargo run --release --locked --example bench` (`-- --quick` for 1k and
//! 10k only, `-- --sizes 2000,50000` for other sizes, `-- --latency-ms N` and
//! `-- --latency-per-item-us N` for the fake's latency model, `-- --throttle off` to run without
//! Microsoft's throttling model, `-- --apply-only` to skip the plan measurement, `-- --plan-only`
//! to skip the apply measurement).
//!
//! For each size it generates a tenant (`synth`: 2% of users with changes, 2,000 groups of
//! which 20 carry licences, 20 SKUs) and serves it from the fake Graph/Exchange server on
//! loopback under the *realistic model*: every answer delayed by a fixed latency plus a latency
//! per object in it (a 999-user page takes seconds, a single object a fraction of one), and
//! Microsoft's throttling model (resource units per 10 s, 3,000 writes per 150 s per app +
//! tenant, Exchange's budget; `ThrottleModel::microsoft()`).
//!
//! Plan: `plan` runs against it in a *child process* (so peak RSS is the client's own), reading
//! through the Graph backend, resolving, planning and rendering; beside it the same reads the
//! way per-user scripts do them (one `GET /users/{id}` + one licence read per user, 8 in flight,
//! on a sample of 1,000 users, extrapolated). The floor printed beside the plan is the read's
//! page latency spread over the client's parallelism: (ceil(N/999) user pages + ceil(M/1000)
//! mailbox pages + the licence groups' member pages) x their latency / 16 in flight.
//!
//! Apply: the plan's operations are applied by the executor against a fresh fake with the same
//! model; beside it, against another fresh fake, what a per-user script does: for each changed
//! user (or group) one GET, then each of its writes as its own request, 8 users in flight,
//! waiting out every 429's `Retry-After`. The floor printed beside both is the write quota's:
//! the time 3,000 writes per 150 s needs for the W Graph writes made, the bucket starting full
//! (max(0, W - 3,000) / 20 writes per second), or the dependency chain's round trips if longer.

use m365ctl::apply::{ExecOptions, execute};
use m365ctl::backend::graph::GraphBackend;
use m365ctl::backend::{AuthMode, GraphSettings, TenantBackend};
use m365ctl::graph::client::MAX_IN_FLIGHT;
use m365ctl::graph::pacing::WriteQuota;
use m365ctl::graph::{Authenticator, HttpCore, Request, Resource, RetryPolicy};
use m365ctl::plan::Operation;
use m365ctl::plan::ops::OpKind;
use m365ctl::sim::{FakeTenant, FakeTenantHandle, LoggedRequest, SimOptions, ThrottleModel};
use m365ctl::synth::{Synth, SynthSpec, generate};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET_ENV: &str = "M365CTL_BENCH_SECRET";
const SECRET: &str = "sim-client-secret";
/// Per-user read baseline sample (users), run at a script's usual concurrency.
const BASELINE_SAMPLE: usize = 1_000;
/// Users a per-user script works on at once.
const SCRIPT_CONCURRENCY: usize = 8;
/// The realistic model's fixed latency per answer (ms) and per object in it (µs).
const DEFAULT_LATENCY_MS: u64 = 150;
const DEFAULT_LATENCY_PER_ITEM_US: u64 = 2_000;

/// The fake's latency model: a fixed part and a part per object in the answer.
#[derive(Debug, Clone, Copy)]
struct Latency {
    base: Duration,
    per_item: Duration,
}

impl Latency {
    fn of(&self, items: usize) -> Duration {
        self.base + self.per_item * items as u32
    }
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let apply_only = args.iter().any(|a| a == "--apply-only");
    let plan_only = args.iter().any(|a| a == "--plan-only");
    let latency = Latency {
        base: Duration::from_millis(flag(&args, "--latency-ms").unwrap_or(DEFAULT_LATENCY_MS)),
        per_item: Duration::from_micros(
            flag(&args, "--latency-per-item-us").unwrap_or(DEFAULT_LATENCY_PER_ITEM_US),
        ),
    };
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
    let mut plans = Vec::new();
    let mut applies = Vec::new();
    for &n in &sizes {
        let synth = generate(&SynthSpec::benchmark(n));
        if !apply_only {
            plans.push(runtime.block_on(measure_plan(&synth, latency, &model)));
            eprintln!("{n} users: plan measured");
        }
        if !plan_only {
            applies.push(runtime.block_on(measure_apply(&synth, latency, &model)));
            eprintln!("{n} users: apply measured");
        }
    }
    print_report(&plans, &applies, latency, model.is_some());
}

fn settings(fake: &FakeTenantHandle) -> GraphSettings {
    fake.settings(AuthMode::Secret {
        env: SECRET_ENV.into(),
    })
}

async fn start_fake(
    synth: &Synth,
    latency: Latency,
    model: &Option<ThrottleModel>,
) -> FakeTenantHandle {
    FakeTenant::start(
        synth.tenant.clone(),
        SimOptions {
            latency: latency.base,
            latency_per_item: latency.per_item,
            client_secret: Some(SECRET.into()),
            throttle_model: model.clone(),
            ..SimOptions::default()
        },
    )
    .await
    .expect("fake starts")
}

fn kind(r: &LoggedRequest) -> &'static str {
    let p = r.path.as_str();
    if p.contains("/oauth2/") {
        "token"
    } else if p.starts_with("$batch:") && p.contains("/$count") {
        "prefix counts (in $batch)"
    } else if p.starts_with("$batch:") && p.contains("#Get-MailboxStatistics") {
        "mailbox sizes (in $batch)"
    } else if p.starts_with("$batch:") {
        "other $batch items"
    } else if p == "/v1.0/$batch" {
        "count $batches"
    } else if p.starts_with("/v1.0/subscribedSkus") {
        "skus"
    } else if p.starts_with("/v1.0/users/$count") {
        "user count"
    } else if p.starts_with("/v1.0/users?") || p == "/v1.0/users" {
        "user pages"
    } else if p.contains("/members") {
        "group member pages"
    } else if p.starts_with("/v1.0/groups") {
        "group pages"
    } else if p.starts_with("/exo/") && p.contains("#Get-MailboxStatistics") {
        "mailbox sizes"
    } else if p.starts_with("/exo/") && p.ends_with("/$batch") {
        "mailbox size $batches"
    } else if p.starts_with("/exo/") {
        "mailbox pages"
    } else {
        "other"
    }
}

/// Every kind `kind` reports, in report order.
const KINDS: [&str; 14] = [
    "token",
    "skus",
    "user count",
    "count $batches",
    "prefix counts (in $batch)",
    "other $batch items",
    "user pages",
    "group pages",
    "group member pages",
    "mailbox pages",
    "mailbox size $batches",
    "mailbox sizes (in $batch)",
    "mailbox sizes",
    "other",
];

/// Kinds that are not HTTP requests of their own (tokens, and the items inside a `$batch`,
/// which Graph's throttling charges one by one): left out of the requests compared with the
/// reference pages.
const IN_BATCH: [&str; 4] = [
    "token",
    "prefix counts (in $batch)",
    "mailbox sizes (in $batch)",
    "other $batch items",
];

/// Kinds that are requests for mailbox facts: Exchange `$batch` envelopes of
/// `Get-MailboxStatistics`, and lone calls where the service has no `$batch`.
const FACTS: [&str; 2] = ["mailbox size $batches", "mailbox sizes"];

fn count_by_kind(log: &[LoggedRequest]) -> Vec<(&'static str, usize)> {
    KINDS
        .iter()
        .map(|k| (*k, log.iter().filter(|r| kind(r) == *k).count()))
        .filter(|(_, c)| *c > 0)
        .collect()
}

/// The pages a read cannot do without: ceil(N/999) user pages, ceil(M/1000) mailbox pages and
/// the member pages (999 a page) of the groups the plan reads members of (licence groups and
/// groups the config names). Returns (pages, objects in them).
fn reference_pages(synth: &Synth, named: &[String]) -> (usize, usize) {
    let users = synth.tenant.users.len();
    let mailboxes = synth
        .tenant
        .users
        .iter()
        .filter(|u| u.mailbox.is_some())
        .count();
    let members: Vec<usize> = synth
        .tenant
        .groups
        .iter()
        .filter(|g| !g.licenses.is_empty() || named.contains(&g.display_name))
        .map(|g| g.members.len())
        .collect();
    let pages = users.div_ceil(999)
        + mailboxes.div_ceil(1000)
        + members
            .iter()
            .map(|m| m.div_ceil(999).max(1))
            .sum::<usize>();
    (pages, users + mailboxes + members.iter().sum::<usize>())
}

/// One size's plan figures.
struct PlanRow {
    users: usize,
    requests: Vec<(&'static str, usize)>,
    total_requests: usize,
    reference_requests: usize,
    read_floor: Duration,
    plan_wall: Duration,
    read: Duration,
    planner_core: Duration,
    peak_rss_mb: f64,
    operations: usize,
    baseline_requests: usize,
    baseline_wall_estimate: Duration,
}

async fn measure_plan(synth: &Synth, latency: Latency, model: &Option<ThrottleModel>) -> PlanRow {
    let n = synth.tenant.users.len();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("m365ctl.toml"), &synth.config_toml).expect("config");
    let named: Vec<String> = m365ctl::input::load(dir.path())
        .expect("config loads")
        .groups
        .keys()
        .cloned()
        .collect();
    let (reference_requests, reference_objects) = reference_pages(synth, &named);
    let read_floor = (latency.base * reference_requests as u32
        + latency.per_item * reference_objects as u32)
        / MAX_IN_FLIGHT as u32;
    let fake = start_fake(synth, latency, model).await;
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
    let limit = Arc::new(tokio::sync::Semaphore::new(SCRIPT_CONCURRENCY));
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
    PlanRow {
        users: n,
        total_requests: requests
            .iter()
            .filter(|(k, _)| !IN_BATCH.contains(k))
            .map(|(_, c)| c)
            .sum(),
        requests,
        reference_requests,
        read_floor,
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

/// What one way of applying did against a fresh fake.
struct ApplyRun {
    wall: Duration,
    /// Graph writes the fake accepted (`$batch` items and direct requests that are not GETs).
    writes: usize,
    /// Answers that were 429 (items and requests).
    throttled: usize,
    failed: usize,
}

/// One size's apply figures.
struct ApplyRow {
    users: usize,
    operations: usize,
    /// Longest dependency chain (operations).
    depth: usize,
    m365ctl: ApplyRun,
    script: ApplyRun,
}

impl ApplyRow {
    /// The write quota's floor for the writes made, or the dependency chain's round trips
    /// (a check and a write per link, the smallest answer's latency each) if longer.
    fn floor(&self, run: &ApplyRun, latency: Latency) -> Duration {
        let chain = latency.of(1) * (2 * self.depth) as u32;
        WriteQuota::MICROSOFT.floor(run.writes).max(chain)
    }
}

fn tally(log: &[LoggedRequest]) -> (usize, usize) {
    let graph_write = |r: &&LoggedRequest| {
        r.method != "GET"
            && !r.is_exchange()
            && (r.is_batch_item() || (r.path.starts_with("/v1.0/") && !r.path.contains("$batch")))
    };
    let writes = log
        .iter()
        .filter(graph_write)
        .filter(|r| (200..300).contains(&r.status))
        .count();
    let throttled = log.iter().filter(|r| r.status == 429).count();
    (writes, throttled)
}

/// When each kind of apply request ran (`BENCH_TIMELINE=1`), and every 429.
fn timeline(log: &[LoggedRequest]) {
    let mut kinds: std::collections::BTreeMap<String, (usize, f64, f64)> = Default::default();
    for r in log {
        let path = r.path.split('?').next().unwrap_or_default();
        let shape: Vec<&str> = path
            .split('/')
            .map(|seg| if seg.len() == 36 { "{id}" } else { seg })
            .collect();
        let key = format!("{} {}", r.method, shape.join("/"));
        let at = r.at.as_secs_f64();
        let entry = kinds.entry(key).or_insert((0, at, at));
        entry.0 += 1;
        entry.2 = at;
        if r.status == 429 {
            eprintln!(
                "429 at {at:.2}: {} {} retry-after {:?}",
                r.method, r.path, r.retry_after
            );
        }
    }
    for (k, (n, first, last)) in kinds {
        eprintln!("{k}: {n} from {first:.2} to {last:.2}");
    }
}

/// Longest chain of `depends_on` edges, counted in operations.
fn depth(ops: &[Operation]) -> usize {
    let index: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| (op.id.as_str(), i))
        .collect();
    let mut memo: Vec<Option<usize>> = vec![None; ops.len()];
    fn visit(
        i: usize,
        ops: &[Operation],
        index: &HashMap<&str, usize>,
        memo: &mut [Option<usize>],
    ) -> usize {
        if let Some(d) = memo[i] {
            return d;
        }
        let d = 1 + ops[i]
            .depends_on
            .iter()
            .filter_map(|dep| index.get(dep.as_str()))
            .map(|&j| visit(j, ops, index, memo))
            .max()
            .unwrap_or(0);
        memo[i] = Some(d);
        d
    }
    (0..ops.len())
        .map(|i| visit(i, ops, &index, &mut memo))
        .max()
        .unwrap_or(0)
}

/// Applies the size's plan (2% of users change) twice, each against a fresh fake under the
/// same model: by the executor, then as a per-user script would.
async fn measure_apply(synth: &Synth, latency: Latency, model: &Option<ThrottleModel>) -> ApplyRow {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("m365ctl.toml"), &synth.config_toml).expect("config");
    let config = m365ctl::input::load(dir.path()).expect("config loads");
    let (desired, _) = m365ctl::desired::resolve(&config, &synth.tenant).expect("resolves");
    let plan = m365ctl::plan::plan(&desired, &synth.tenant);
    assert!(!plan.has_errors(), "the benchmark plan has errors");

    let fake = start_fake(synth, latency, model).await;
    let backend = GraphBackend::new(&settings(&fake)).expect("backend");
    fake.clear_requests();
    let started = Instant::now();
    let report = execute(&backend, plan.operations.clone(), ExecOptions::default())
        .await
        .expect("a DAG");
    let wall = started.elapsed();
    let log = fake.requests();
    if std::env::var_os("BENCH_TIMELINE").is_some() {
        timeline(&log);
    }
    let (writes, throttled) = tally(&log);
    let (_, _, failed, skipped) = report.counts();
    for reason in report
        .with_label("failed")
        .filter_map(|r| r.outcome.reason())
        .take(5)
    {
        eprintln!("m365ctl apply failure: {reason}");
    }
    fake.shutdown().await;
    let m365ctl = ApplyRun {
        wall,
        writes,
        throttled,
        failed: failed + skipped,
    };

    let fake = start_fake(synth, latency, model).await;
    let script = per_user_script(&fake, &plan.operations).await;
    fake.shutdown().await;
    ApplyRow {
        users: synth.tenant.users.len(),
        operations: plan.operations.len(),
        depth: depth(&plan.operations),
        m365ctl,
        script,
    }
}

/// A per-user script: for each changed user (or group), in plan order, one GET of it, then each
/// of its operations as its own request (a one-item `$batch`, which the fake charges and delays
/// as the direct request: one item, one answer), `SCRIPT_CONCURRENCY` users at once, every 429
/// waited out as `Retry-After` says (the same HTTP client as m365ctl's, without its write pacing).
async fn per_user_script(fake: &FakeTenantHandle, ops: &[Operation]) -> ApplyRun {
    let s = settings(fake);
    let backend = Arc::new(
        GraphBackend::new(&s)
            .expect("backend")
            .with_write_quota(WriteQuota {
                writes: u32::MAX,
                window: Duration::from_secs(1),
            }),
    );
    let core = http_core(&s);
    // Each changed user or group, in the order the plan first names it, with its operations.
    let mut principals: Vec<(&'static str, String, Vec<Operation>)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for op in ops {
        let (collection, id) = match (&op.kind, op.kind.user_id()) {
            (_, Some(user)) => ("users", user.to_string()),
            (OpKind::AssignGroupLicenses(group), None) => ("groups", group.group_id.clone()),
            (other, None) => unreachable!("{} names no user and no group", other.name()),
        };
        let at = *position.entry(id.clone()).or_insert_with(|| {
            principals.push((collection, id, Vec::new()));
            principals.len() - 1
        });
        principals[at].2.push(op.clone());
    }
    fake.clear_requests();
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(SCRIPT_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for (collection, id, ops) in principals {
        let (core, backend, limit) = (core.clone(), backend.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let url = format!("{}/{collection}/{id}", core.graph_root());
            let _ = core.send(Resource::Graph, &Request::get(url)).await;
            let mut failed = 0;
            for op in ops {
                let result = backend.execute(std::slice::from_ref(&op)).await;
                failed += result.iter().filter(|r| r.is_err()).count();
            }
            failed
        });
    }
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        failed += done.expect("script task");
    }
    let wall = started.elapsed();
    let (writes, throttled) = tally(&fake.requests());
    ApplyRun {
        wall,
        writes,
        throttled,
        failed,
    }
}

fn print_report(plans: &[PlanRow], applies: &[ApplyRow], latency: Latency, modelled: bool) {
    let model = if modelled {
        "Microsoft's throttling model on (resource units per 10 s, 3,000 writes per 150 s)"
    } else {
        "no throttling model"
    };
    println!(
        "## m365ctl scale benchmark (fake Graph + Exchange on loopback, {} ms + {} µs per object in each answer, {model})\n",
        latency.base.as_millis(),
        latency.per_item.as_micros(),
    );
    if !plans.is_empty() {
        println!(
            "| Users | Plan end-to-end | Read | Read floor | Planner core | Peak RSS | Requests (mailbox facts) | Reference pages | Requests without facts / reference | Requests with facts / reference | Operations | Per-user script: requests | Per-user script: time (extrapolated) |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in plans {
            let facts: usize = r
                .requests
                .iter()
                .filter(|(k, _)| FACTS.contains(k))
                .map(|(_, c)| c)
                .sum();
            println!(
                "| {} | {:.1} s | {:.1} s | {:.1} s | {:.3} s | {:.0} MB | {} ({facts}) | {} | {:.2}x | {:.2}x | {} | {} | {:.0} s |",
                r.users,
                r.plan_wall.as_secs_f64(),
                r.read.as_secs_f64(),
                r.read_floor.as_secs_f64(),
                r.planner_core.as_secs_f64(),
                r.peak_rss_mb,
                r.total_requests,
                r.reference_requests,
                (r.total_requests - facts) as f64 / r.reference_requests.max(1) as f64,
                r.total_requests as f64 / r.reference_requests.max(1) as f64,
                r.operations,
                r.baseline_requests,
                r.baseline_wall_estimate.as_secs_f64(),
            );
        }
        println!("\nRequests by kind:");
        for r in plans {
            let kinds: Vec<String> = r.requests.iter().map(|(k, c)| format!("{k} {c}")).collect();
            println!("- {} users: {}", r.users, kinds.join(", "));
        }
    }
    println!(
        "\n| Users | Operations | Graph writes | Apply | Floor | Apply / floor | 429s | Failed | Per-user script | Script / floor | Script 429s | Script failed |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for a in applies {
        let floor = a.floor(&a.m365ctl, latency);
        let script_floor = a.floor(&a.script, latency);
        println!(
            "| {} | {} | {} | {:.1} s | {:.1} s | {:.2} | {} | {} | {:.1} s | {:.2} | {} | {} |",
            a.users,
            a.operations,
            a.m365ctl.writes,
            a.m365ctl.wall.as_secs_f64(),
            floor.as_secs_f64(),
            a.m365ctl.wall.as_secs_f64() / floor.as_secs_f64().max(1e-9),
            a.m365ctl.throttled,
            a.m365ctl.failed,
            a.script.wall.as_secs_f64(),
            a.script.wall.as_secs_f64() / script_floor.as_secs_f64().max(1e-9),
            a.script.throttled,
            a.script.failed,
        );
    }
    println!(
        "\nReference pages: ceil(N/999) user pages + ceil(M/1000) mailbox pages + the licence groups' member pages; mailbox facts are one Exchange `$batch` per 10 mailboxes the plan depends on (its items listed apart; one call each where `$batch` is refused).\nFloors: read = (reference pages x {} ms + objects in them x {} µs) / {MAX_IN_FLIGHT} in flight; apply = max(write quota: max(0, W - 3,000) / 20 per second, dependency chain: 2 round trips per link).",
        latency.base.as_millis(),
        latency.per_item.as_micros(),
    );
}
