//! Issue 5's proof over real HTTP: N seeded random scenarios (env `M365CTL_FAULT_SEEDS`,
//! default 200), each served by the fake Graph/Exchange server on loopback with 429s, 503/504s
//! and lost answers (the write lands, the answer arrives after the client's timeout), and a
//! crash: the apply task is aborted, mid-flight, once the fake has seen a random number of
//! writes (in-flight requests are dropped like a killed process). A fresh backend then
//! re-reads, re-plans and re-applies until the plan is empty. Half the scenarios have a
//! licensing group, and the fake processes group licensing asynchronously (20 or 100 ms
//! after each group write, as Graph's 202 does later): the executor must wait for it.
//!
//! Fails on any safety violation the fake records after a write (a user mailbox without an
//! Exchange licence, a SKU over its enabled seats, a write to an out-of-scope user), on a
//! scenario that does not converge, and on any write request to a user the desired state does
//! not declare (read from the request log). Prints the counts.

mod common;
#[path = "common/graph.rs"]
mod fx;

use common::{Rng, scenario};
use fx::{SECRET, SECRET_ENV};
use m365ctl::apply::{ExecOptions, execute};
use m365ctl::backend::graph::GraphBackend;
use m365ctl::backend::{AuthMode, TenantBackend};
use m365ctl::graph::RetryPolicy;
use m365ctl::plan::ops::{AssignLicenses, ConvertMailbox};
use m365ctl::sim::{FakeTenant, FakeTenantHandle, SimOptions};
use std::time::Duration;

const MAX_ROUNDS: usize = 8;

/// Adds a licensing group to half the scenarios: it gives E3 or Exchange Plan 1 (or nothing)
/// today, gives one of them in the desired state, and its members are the declared users
/// whose desired licences include what it gives (so the config is consistent), drawn from a
/// random set of live members. Group licence changes, joins and leaves then go through the
/// fake's asynchronous group licensing.
fn with_group(rng: &mut Rng, mut scenario: common::Scenario) -> common::Scenario {
    use m365ctl::desired::{DesiredGroup, DesiredLicense, LicenseSet};
    if !rng.chance(50) {
        return scenario;
    }
    let skus = [
        (common::E3_ID, "ENTERPRISEPACK"),
        (common::EXO1_ID, "EXCHANGESTANDARD"),
    ];
    let (_, want_part) = skus[rng.below(2) as usize];
    let live_licence = match rng.below(3) {
        0 => None,
        i => Some(skus[i as usize - 1].0),
    };
    let group_id = "00000000-0000-4000-8000-00000000900d".to_string();
    let declared: Vec<usize> = (0..scenario.live.users.len())
        .filter(|&i| !scenario.out_of_scope.contains(&scenario.live.users[i].id))
        .collect();
    let mut live_members = Vec::new();
    for &i in &declared {
        if rng.chance(40) {
            live_members.push(scenario.live.users[i].id.clone());
            if let Some(sku) = live_licence {
                scenario.live.users[i].licenses.push(
                    serde_json::from_value(
                        serde_json::json!({"sku_id": sku, "assigned_by_group": group_id}),
                    )
                    .expect("licence"),
                );
            }
        }
    }
    let members = declared
        .iter()
        .map(|&i| scenario.live.users[i].user_principal_name.to_lowercase())
        .filter(|upn| {
            scenario.desired.users.get(upn).is_some_and(|u| {
                u.licenses
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|d| d.sku_part_number == want_part))
            })
        })
        .collect();
    scenario.live.groups.push(
        serde_json::from_value(serde_json::json!({
            "id": group_id, "display_name": "LIC-SOAK", "members": live_members,
            "licenses": live_licence.map(|sku| vec![serde_json::json!({"sku_id": sku})]).unwrap_or_default(),
        }))
        .expect("group"),
    );
    let mut licenses = LicenseSet::default();
    licenses.insert(DesiredLicense {
        sku_part_number: want_part.into(),
        disabled_plans: None,
        origin: None,
    });
    scenario.desired.groups.insert(
        "LIC-SOAK".into(),
        DesiredGroup {
            id: group_id.clone(),
            name: "LIC-SOAK".into(),
            origin: None,
            licenses: Some(licenses),
            members: Some(members),
            member_origins: Default::default(),
        },
    );
    // Seats for direct and inherited holders alike.
    let n = scenario.live.users.len() as u32;
    for sku in &mut scenario.live.skus {
        if sku.sku_id != common::OTHER_ID {
            sku.enabled = 2 * n;
        }
    }
    scenario.live.recount_consumed();
    scenario.live.normalize();
    scenario
}

/// Re-reads until group licensing has processed every member the plan would change (a
/// crash may leave a group write accepted but not processed): the plan refuses those users
/// until then, as it should. Returns the plan.
async fn plan_when_processed(
    backend: &GraphBackend,
    desired: &m365ctl::desired::DesiredState,
    seed: u64,
) -> m365ctl::plan::Plan {
    for _ in 0..50 {
        let mut live = backend.read().await.expect("read after crash");
        m365ctl::backend::read_needed_facts(backend, desired, &mut live)
            .await
            .expect("facts read");
        let plan = m365ctl::plan::plan(desired, &live);
        let unprocessed = |d: &m365ctl::diag::Diagnostic| {
            d.is_error() && d.message.contains("has not reached this user yet")
        };
        if plan.diagnostics.iter().any(unprocessed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        return plan;
    }
    panic!("seed {seed}: group licensing never finished processing");
}

fn backend(fake: &FakeTenantHandle) -> GraphBackend {
    // SAFETY: every test in this binary writes the same value.
    unsafe { std::env::set_var(SECRET_ENV, SECRET) };
    let auth = AuthMode::Secret {
        env: SECRET_ENV.to_string(),
    };
    let retry = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(200),
        max_total: Duration::from_secs(30),
    };
    GraphBackend::with_timeout(&fake.settings(auth), retry, Duration::from_millis(400))
        .expect("backend builds")
        .with_groups(["LIC-SOAK".to_string()])
}

/// A write to Graph or Exchange (Exchange reads are POSTed `Get-*` cmdlets; tokens are not
/// tenant writes; a `$batch` envelope is counted through its items).
fn is_tenant_write(method: &str, path: &str) -> bool {
    matches!(method, "POST" | "PATCH" | "DELETE")
        && !path.contains("#Get-")
        && !path.contains("/oauth2/")
        && !path.ends_with("/$batch")
}

/// Writes that reached the tenant so far: Graph/Exchange write requests and `$batch` items,
/// not the envelope and not the token endpoint, answered 2xx.
fn landed_writes(fake: &FakeTenantHandle) -> usize {
    fake.requests()
        .iter()
        .filter(|r| is_tenant_write(&r.method, &r.path) && (200..300).contains(&r.status))
        .count()
}

#[derive(Debug, Default)]
struct Counts {
    scenarios: u64,
    /// Scenarios with a licensing group (asynchronous group licensing).
    with_group: u64,
    /// Group licensing writes answered 202 (processed later).
    group_writes: usize,
    unaffordable: u64,
    operations: usize,
    crashes: usize,
    rounds: usize,
    throttled: usize,
    transient: usize,
    /// Consecutive identical writes in the log: a lost answer retried after the timeout.
    timeouts_retried: usize,
    writes: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_scenarios_converge_safely_over_http_under_faults_and_crashes() {
    let seeds: u64 = std::env::var("M365CTL_FAULT_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut counts = Counts::default();
    for seed in 0..seeds {
        let mut rng = Rng::new(seed ^ 0xfa17);
        let generated = scenario(&mut rng);
        let scenario = with_group(&mut rng, generated);
        let first = m365ctl::plan::plan(&scenario.desired, &scenario.live);
        counts.scenarios += 1;
        counts.with_group += u64::from(!scenario.live.groups.is_empty());
        if first.has_errors() {
            counts.unaffordable += 1;
            continue;
        }
        counts.operations += first.operations.len();
        let declared: std::collections::HashSet<String> = scenario
            .live
            .users
            .iter()
            .filter(|u| !scenario.out_of_scope.contains(&u.id))
            .map(|u| u.id.clone())
            .collect();
        let options = SimOptions {
            client_secret: Some(SECRET.to_string()),
            seed,
            fault_rate: [0.0, 0.1, 0.2, 0.3][rng.below(4) as usize],
            retry_after_secs: 0,
            lost_answer_rate: if rng.chance(30) { 0.15 } else { 0.0 },
            lost_answer_delay: Duration::from_millis(600),
            write_scope: Some(declared),
            group_licensing_delay: Duration::from_millis([20, 100][rng.below(2) as usize]),
            ..SimOptions::default()
        };
        let fake = FakeTenant::start(scenario.live.clone(), options)
            .await
            .expect("fake starts");

        // Round 0: crash after K landed writes (K may exceed the plan: then no crash).
        let crash_after = 1 + rng.below(first.operations.len() as u64 + 1) as usize;
        let crasher = backend(&fake);
        let options = ExecOptions {
            concurrency: 4,
            batch_size: 20,
            ..ExecOptions::default()
        };
        let apply = execute(&crasher, first.operations.clone(), options);
        let watcher = async {
            while landed_writes(&fake) < crash_after {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        // Whichever ends first: the apply, or the crash (dropping the apply future mid-flight
        // drops its in-flight requests, as a killed process would).
        tokio::select! {
            _ = apply => {}
            _ = watcher => counts.crashes += 1,
        }
        drop(crasher);

        // Restart: a new process re-reads, re-plans and re-applies until nothing is left.
        let mut converged = false;
        for _ in 0..MAX_ROUNDS {
            let resumed = backend(&fake);
            let plan = plan_when_processed(&resumed, &scenario.desired, seed).await;
            assert!(
                !plan.has_errors(),
                "seed {seed}: a resumed plan has errors: {:?}",
                plan.diagnostics
            );
            if plan.is_empty() {
                converged = true;
                break;
            }
            counts.rounds += 1;
            let _ = execute(&resumed, plan.operations, ExecOptions::default())
                .await
                .expect("operations form a DAG");
        }
        assert!(
            converged,
            "seed {seed}: not converged in {MAX_ROUNDS} rounds"
        );
        let violations = fake.violations();
        assert!(violations.is_empty(), "seed {seed}: {violations:#?}");
        let log = fake.requests();
        counts.throttled += log.iter().filter(|r| r.status == 429).count();
        counts.transient += log
            .iter()
            .filter(|r| r.status == 503 || r.status == 504)
            .count();
        counts.writes += landed_writes(&fake);
        counts.group_writes += log.iter().filter(|r| r.status == 202).count();
        // A lost answer shows as the same write twice in the log: the retry after the timeout.
        let writes: Vec<&str> = log
            .iter()
            .filter(|r| is_tenant_write(&r.method, &r.path))
            .map(|r| r.path.as_str())
            .collect();
        counts.timeouts_retried += writes.windows(2).filter(|w| w[0] == w[1]).count();
        fake.shutdown().await;
    }
    println!("HTTP fault suite: {counts:?}");
    assert!(
        counts.scenarios - counts.unaffordable >= seeds * 3 / 4,
        "too few applicable scenarios: {counts:?}"
    );
    assert!(counts.crashes > 0 && counts.throttled > 0 && counts.transient > 0);
    assert!(
        counts.with_group >= seeds / 4 && counts.group_writes > 0,
        "asynchronous group licensing is exercised: {counts:?}"
    );
}

/// A scenario with at least three operations, served by a fault-free fake.
async fn served_scenario(seed: u64) -> (common::Scenario, m365ctl::plan::Plan, FakeTenantHandle) {
    served_scenario_where(seed, |_, _| true).await
}

/// The first scenario of `seed`'s stream with at least three operations that `wanted`
/// accepts, served by a fault-free fake.
async fn served_scenario_where(
    seed: u64,
    wanted: impl Fn(&common::Scenario, &m365ctl::plan::Plan) -> bool,
) -> (common::Scenario, m365ctl::plan::Plan, FakeTenantHandle) {
    let mut rng = Rng::new(seed);
    loop {
        let scenario = scenario(&mut rng);
        let plan = m365ctl::plan::plan(&scenario.desired, &scenario.live);
        if plan.has_errors() || plan.operations.len() < 3 || !wanted(&scenario, &plan) {
            continue;
        }
        let options = SimOptions {
            client_secret: Some(SECRET.to_string()),
            ..SimOptions::default()
        };
        let fake = FakeTenant::start(scenario.live.clone(), options)
            .await
            .expect("fake starts");
        return (scenario, plan, fake);
    }
}

fn request<'a>(
    desired: &'a m365ctl::desired::DesiredState,
    live: &'a m365ctl::tenant::Tenant,
    plan: &'a m365ctl::plan::Plan,
    dir: &std::path::Path,
) -> m365ctl::apply::ApplyRequest<'a> {
    m365ctl::apply::ApplyRequest {
        desired,
        live,
        plan,
        reviewed: None,
        lock: m365ctl::apply::lock::ApplyLock::acquire(
            &m365ctl::apply::lock::default_path(dir),
            false,
        )
        .unwrap(),
        allow_mass_change: false,
        journal_path: m365ctl::apply::journal::default_path(dir),
        progress: false,
        options: ExecOptions::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_sends_zero_write_requests() {
    let (scenario, plan, fake) = served_scenario(11).await;
    let dir = tempfile::tempdir().unwrap();
    let graph = backend(&fake);
    let report = m365ctl::apply::run(
        &graph,
        request(&scenario.desired, &scenario.live, &plan, dir.path()),
    )
    .await
    .unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    let first_writes = landed_writes(&fake);
    assert!(first_writes >= plan.operations.len());

    // The same reviewed operations again (e.g. the apply job re-run): every one is found
    // already in effect by the pre-write check and nothing is sent.
    fake.clear_requests();
    let report = m365ctl::apply::run(
        &graph,
        request(&scenario.desired, &scenario.live, &plan, dir.path()),
    )
    .await
    .unwrap();
    let (done, already, failed, skipped) = report.counts();
    assert_eq!((done, failed, skipped), (0, 0, 0), "{}", report.render());
    assert_eq!(already, plan.operations.len());
    let writes: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| is_tenant_write(&r.method, &r.path))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "second apply wrote: {writes:#?}");
    assert!(
        fake.requests().iter().any(|r| r.method == "GET"),
        "the pre-write check reads the targets"
    );
    // And a fresh plan is empty.
    let mut live = graph.read().await.unwrap();
    m365ctl::backend::read_needed_facts(&graph, &scenario.desired, &mut live)
        .await
        .unwrap();
    assert!(m365ctl::plan::plan(&scenario.desired, &live).is_empty());
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_made_stale_by_a_licence_change_is_refused_naming_the_user() {
    // Between review and apply, someone licenses a user the plan does not touch in the portal.
    fn untouched<'a>(
        live: &'a m365ctl::tenant::Tenant,
        plan: &m365ctl::plan::Plan,
    ) -> Option<&'a m365ctl::tenant::User> {
        let touched: std::collections::BTreeSet<&str> =
            plan.operations.iter().map(|o| o.kind.target()).collect();
        live.users.iter().find(|u| {
            !touched.contains(u.user_principal_name.as_str()) && u.usage_location.is_some()
        })
    }
    let (scenario, plan, fake) =
        served_scenario_where(12, |s, p| untouched(&s.live, p).is_some()).await;
    let graph = backend(&fake);
    let live = graph.read().await.unwrap();
    let saved = m365ctl::planfile::PlanFile::from_plan(&plan).with_live_digest(&live);
    let victim = untouched(&live, &plan).expect("an untouched user");
    let sku = live
        .skus
        .iter()
        .find(|s| s.sku_part_number == "POWER_BI_STANDARD")
        .unwrap();
    let portal = m365ctl::plan::Operation {
        id: "portal".into(),
        kind: m365ctl::plan::OpKind::AssignLicenses(AssignLicenses {
            user_id: victim.id.clone(),
            upn: victim.user_principal_name.clone(),
            add: vec![common::grant(&sku.sku_id, &sku.sku_part_number)],
            remove: vec![],
        }),
        depends_on: vec![],
        reasons: vec![],
    };
    let results = graph.execute(&[portal]).await;
    assert!(results[0].is_ok(), "{results:?}");
    fake.clear_requests();

    let dir = tempfile::tempdir().unwrap();
    // Apply reads once and plans once; the saved plan is checked against that plan.
    let mut now = graph.read().await.unwrap();
    m365ctl::backend::read_needed_facts(&graph, &scenario.desired, &mut now)
        .await
        .unwrap();
    let fresh = m365ctl::plan::plan(&scenario.desired, &now);
    let mut checked = request(&scenario.desired, &now, &fresh, dir.path());
    checked.reviewed = Some(&saved);
    let err = m365ctl::apply::run(&graph, checked).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("stale"), "{text}");
    assert!(text.contains(&victim.user_principal_name), "{text}");
    let writes = fake
        .requests()
        .iter()
        .filter(|r| is_tenant_write(&r.method, &r.path))
        .count();
    assert_eq!(writes, 0, "a refused plan writes nothing");
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_licence_removal_trips_the_default_guard_and_passes_with_the_override() {
    use m365ctl::desired::{DesiredState, DesiredUser, Guards, Scope, UserScope};
    let mut live = common::tenant(30, 30, 0);
    for user in &mut live.users {
        user.licenses
            .push(serde_json::from_value(serde_json::json!({"sku_id": common::E3_ID})).unwrap());
    }
    live.recount_consumed();
    let users = live
        .users
        .iter()
        .map(|u| {
            let upn = u.user_principal_name.clone();
            let user = DesiredUser::without_managed_licenses(upn.clone());
            (upn, user)
        })
        .collect();
    let desired = DesiredState {
        scope: Scope {
            managed_skus: ["ENTERPRISEPACK".to_string()].into(),
            users: UserScope::Declared,
        },
        users,
        groups: Default::default(),
        guards: Guards::default(),
    };
    let options = SimOptions {
        client_secret: Some(SECRET.to_string()),
        ..SimOptions::default()
    };
    let fake = FakeTenant::start(live.clone(), options).await.unwrap();
    let graph = backend(&fake);
    let plan = m365ctl::plan::plan(&desired, &live);
    assert_eq!(plan.operations.len(), 30);
    let dir = tempfile::tempdir().unwrap();
    let err = m365ctl::apply::run(&graph, request(&desired, &live, &plan, dir.path()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("30") && text.contains("--allow-mass-change"),
        "{text}"
    );
    assert_eq!(landed_writes(&fake), 0);

    let mut allowed = request(&desired, &live, &plan, dir.path());
    allowed.allow_mass_change = true;
    let report = m365ctl::apply::run(&graph, allowed).await.unwrap();
    assert_eq!(report.counts(), (30, 0, 0, 0), "{}", report.render());
    assert_eq!(fake.tenant().skus[0].consumed, 0);
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pre_write_check_reads_only_the_targets() {
    let mut seed = 13;
    let (scenario, plan, fake) = loop {
        let (scenario, plan, fake) = served_scenario(seed).await;
        if plan
            .operations
            .iter()
            .any(|o| o.kind.name() == "convert_mailbox")
        {
            break (scenario, plan, fake);
        }
        fake.shutdown().await;
        seed += 1;
    };
    let graph = backend(&fake);
    let report = execute(&graph, plan.operations.clone(), ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    let targeted = plan.operations.clone();
    let converted: std::collections::BTreeSet<String> = targeted
        .iter()
        .filter_map(|o| match &o.kind {
            m365ctl::plan::OpKind::ConvertMailbox(ConvertMailbox { upn, .. }) => Some(upn.clone()),
            _ => None,
        })
        .collect();
    assert!(!converted.is_empty(), "the scenario converts a mailbox");
    fake.clear_requests();
    let done = graph.already_done(&targeted).await.unwrap();
    assert!(done.iter().all(|d| *d), "{done:?}");
    let log = fake.requests();
    let listing = log
        .iter()
        .filter(|r| {
            r.path.starts_with("/v1.0/users?") || r.path.starts_with("/v1.0/subscribedSkus")
        })
        .count();
    assert_eq!(listing, 0, "no whole-tenant read: {log:#?}");
    // Exchange is asked for exactly the converted mailboxes, one `Get-Mailbox -Identity` each,
    // never for the whole mailbox list (which would log an empty identity).
    let mailbox_reads: Vec<String> = log
        .iter()
        .filter_map(|r| r.path.split_once("#Get-Mailbox:"))
        .map(|(_, identity)| identity.to_string())
        .collect();
    assert_eq!(
        mailbox_reads
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        converted,
        "{log:#?}"
    );
    assert_eq!(mailbox_reads.len(), converted.len());
    let item_gets = log
        .iter()
        .filter(|r| r.is_batch_item() && r.method == "GET")
        .count();
    let targets: std::collections::BTreeSet<&str> =
        targeted.iter().map(|o| o.kind.target()).collect();
    assert!(item_gets >= 1 && item_gets <= targets.len() + 4, "{log:#?}");
    drop(scenario);
    fake.shutdown().await;
}
