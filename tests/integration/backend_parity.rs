//! The same tenant gives the same plan through both backends (issue 12 point 1): every
//! scenario of tests/scenarios/ and seeded generated tenants are planned through the snapshot
//! backend and through the Graph backend against the fake over HTTP, and the plan documents
//! (`plan --format json`, fingerprints included) must be byte-identical. The Graph side reads
//! mailbox facts only for the mailboxes the plan needs: the test also checks that it asked
//! Exchange for exactly those.

use crate::common::{Rng, scenario};
use crate::fx;
use m365ctl::backend::TenantBackend;
use m365ctl::backend::snapshot::{SnapshotBackend, render_snapshot};
use m365ctl::desired::DesiredState;
use m365ctl::diag::Diagnostic;
use m365ctl::sim::SimOptions;
use m365ctl::tenant::Tenant;
use std::path::Path;

/// How a desired state is made from the live tenant (a config resolved against it, or a
/// generated one), with the resolver's warnings, or the resolver's error.
type Resolve<'a> = &'a dyn Fn(&Tenant) -> Result<(DesiredState, Vec<Diagnostic>), String>;

/// `compute_plan`'s steps on any backend: read, resolve, read the facts the plan needs, plan,
/// render the JSON document (or the resolver's error, which must be the same too).
async fn plan_json<B: TenantBackend>(backend: &B, resolve: Resolve<'_>) -> Result<String, String> {
    let mut live = backend.read().await.expect("read");
    let (desired, warnings) = resolve(&live)?;
    m365ctl::backend::read_needed_facts(backend, &desired, &mut live)
        .await
        .expect("facts read");
    let mut plan = m365ctl::plan::plan(&desired, &live);
    let mut diagnostics = warnings;
    diagnostics.append(&mut plan.diagnostics);
    plan.diagnostics = diagnostics;
    Ok(m365ctl::render::json::render(&plan))
}

/// Plans `snapshot` (a snapshot file) through both backends and asserts the documents are
/// byte-identical and that Exchange statistics were read for exactly the needed mailboxes.
async fn assert_same_plan(name: &str, snapshot: &Path, groups: Vec<String>, resolve: Resolve<'_>) {
    let through_snapshot = plan_json(&SnapshotBackend::new(snapshot), resolve).await;
    let tenant = m365ctl::backend::snapshot::parse_snapshot(
        &std::fs::read_to_string(snapshot).expect("snapshot readable"),
    )
    .expect("snapshot parses");
    let fake = fx::start(tenant.clone(), SimOptions::default()).await;
    let graph = fx::backend(&fake).with_groups(groups);
    let through_graph = plan_json(&graph, resolve).await;
    assert_eq!(
        through_graph, through_snapshot,
        "{name}: the Graph backend's plan differs from the snapshot backend's"
    );
    let Ok((desired, _)) = resolve(&tenant) else {
        fake.shutdown().await;
        return;
    };
    let needed: Vec<String> = m365ctl::plan::facts_needed(&desired, &tenant)
        .iter()
        .filter_map(|id| tenant.user(id))
        .map(|u| u.user_principal_name.clone())
        .collect();
    let mut asked: Vec<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r.path.split_once("#Get-MailboxStatistics:"))
        .map(|(_, upn)| upn.to_string())
        .collect();
    asked.sort();
    let mut needed_sorted = needed.clone();
    needed_sorted.sort();
    assert_eq!(
        asked, needed_sorted,
        "{name}: statistics read for exactly the needed mailboxes"
    );
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_plans_byte_identically_through_both_backends() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("scenarios")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("m365ctl.toml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 7, "every scenario directory is found");
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let config = m365ctl::input::load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let m365ctl::backend::BackendConfig::Snapshot { path } = &config.backend else {
            panic!("{name}: scenarios use the snapshot backend")
        };
        let resolve =
            |live: &Tenant| m365ctl::desired::resolve(&config, live).map_err(|e| e.to_string());
        let groups = config.groups.keys().cloned().collect();
        assert_same_plan(&name, path, groups, &resolve).await;
    }
}

/// A random scenario whose mailboxes carry random facts (sizes up to 80 GB, archives,
/// holds) on enabled and disabled accounts alike: the leaver whose account is still enabled
/// is exactly the case a size guess got wrong.
fn generated(seed: u64) -> (Tenant, DesiredState) {
    let mut rng = Rng::new(seed ^ 0x9a71);
    let mut s = scenario(&mut rng);
    s.live.tenant_id = Some("4a1b2c3d-2222-4e5f-8a9b-0c1d2e3f4a5b".into());
    for user in &mut s.live.users {
        user.account_enabled = rng.chance(70);
        if let Some(m) = user.mailbox.as_mut() {
            m.size_bytes = Some(rng.below(80 << 30));
            m.archive_enabled = Some(rng.chance(10));
            m.litigation_hold = Some(rng.chance(10));
        }
    }
    (s.live, s.desired)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_tenants_plan_byte_identically_through_both_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut conversions, mut enabled_keeps) = (0, 0);
    for seed in 0..40 {
        let (live, desired) = generated(seed);
        let path = dir.path().join(format!("tenant-{seed}.json"));
        std::fs::write(&path, render_snapshot(&live)).expect("snapshot written");
        let resolve = |_: &Tenant| Ok((desired.clone(), Vec::new()));
        let plan = m365ctl::plan::plan(&desired, &live);
        conversions += plan
            .operations
            .iter()
            .filter(|o| o.kind.name() == "convert_mailbox")
            .count();
        // A licence kept for a shared mailbox's facts, on an account that is still enabled.
        enabled_keeps +=
            plan.diagnostics
                .iter()
                .filter(|d| {
                    d.message.contains(" keeps ")
                        && live.users.iter().any(|u| {
                            u.account_enabled && d.message.starts_with(&u.user_principal_name)
                        })
                })
                .count();
        assert_same_plan(&format!("seed {seed}"), &path, Vec::new(), &resolve).await;
    }
    assert!(
        conversions >= 10,
        "the generated tenants convert mailboxes: {conversions}"
    );
    assert!(
        enabled_keeps >= 1,
        "an enabled leaver keeps a licence for its facts"
    );
}
