//! Guards, stale-plan refusal, lock and journal (no planner needed).

use crate::common;
use m365ctl::plan::ops::{AssignLicenses, ConvertMailbox};

use common::*;
use m365ctl::apply::guards::{self, GuardTrip};
use m365ctl::apply::lock::{ApplyLock, LockError};
use m365ctl::apply::{ExecOptions, Observer, Outcome, execute_observed, journal, stale};
use m365ctl::desired::Guards;
use m365ctl::plan::{Fingerprint, OpKind, Operation, Plan};
use m365ctl::planfile::PlanFile;
use m365ctl::tenant::MailboxType;
use std::collections::BTreeSet;

fn managed() -> BTreeSet<String> {
    ["ENTERPRISEPACK".to_string()].into()
}

fn remove_e3(i: usize) -> Operation {
    Operation {
        id: format!("assign_licenses:u{i}@contoso.com"),
        kind: OpKind::AssignLicenses(AssignLicenses {
            user_id: user_id(i),
            upn: format!("u{i}@contoso.com"),
            add: vec![],
            remove: vec![removal(E3_ID, "ENTERPRISEPACK")],
        }),
        depends_on: vec![],
        reasons: vec![],
    }
}

/// 100 users, each holding E3.
fn licensed_tenant() -> m365ctl::tenant::Tenant {
    let mut live = tenant(100, 100, 0);
    for user in &mut live.users {
        user.licenses
            .push(serde_json::from_value(serde_json::json!({"sku_id": E3_ID})).unwrap());
    }
    live.recount_consumed();
    live
}

#[test]
fn mass_removal_guard_trips_at_default_and_passes_with_override() {
    let live = licensed_tenant();
    let ops: Vec<Operation> = (0..40).map(remove_e3).collect();
    let trip = guards::check(&ops, &live, 100, &managed(), &Guards::default(), false).unwrap_err();
    assert_eq!(
        trip,
        GuardTrip::LicenseRemovals {
            users: 40,
            managed: 100,
            percent: 40,
            max_users: 10,
            max_percent: 30
        }
    );
    let message = trip.to_string();
    assert!(
        message.contains("40 of 100") && message.contains("--allow-mass-change"),
        "{message}"
    );
    guards::check(&ops, &live, 100, &managed(), &Guards::default(), true).unwrap();
}

#[test]
fn removal_guard_needs_both_count_and_percentage() {
    let live = licensed_tenant();
    // 25 users: over the count (10) but 25% of 100 is under 30%.
    let ops: Vec<Operation> = (0..25).map(remove_e3).collect();
    guards::check(&ops, &live, 100, &managed(), &Guards::default(), false).unwrap();
    // 11 of 20 managed users: over both.
    assert!(guards::check(&ops[..11], &live, 20, &managed(), &Guards::default(), false).is_err());
    // Exactly at the count limit is allowed even at 100%; one more trips.
    let all = Guards {
        max_license_removal_percent: 0,
        ..Guards::default()
    };
    guards::check(&ops[..10], &live, 10, &managed(), &all, false).unwrap();
    assert!(guards::check(&ops[..11], &live, 11, &managed(), &all, false).is_err());
}

#[test]
fn prune_to_empty_is_refused_even_under_thresholds() {
    let mut live = tenant(5, 5, 0);
    for user in &mut live.users[..3] {
        user.licenses
            .push(serde_json::from_value(serde_json::json!({"sku_id": E3_ID})).unwrap());
    }
    live.recount_consumed();
    let ops: Vec<Operation> = (0..3).map(remove_e3).collect();
    let loose = Guards {
        max_license_removals: 100,
        max_license_removal_percent: 100,
        max_mailbox_conversions: 100,
        approve_mass_change: None,
    };
    assert_eq!(
        guards::check(&ops, &live, 5, &managed(), &loose, false),
        Err(GuardTrip::PruneToEmpty { before: 3 })
    );
    guards::check(&ops[..2], &live, 5, &managed(), &loose, false).unwrap();
    guards::check(&ops, &live, 5, &managed(), &loose, true).unwrap();
}

#[test]
fn mailbox_conversion_guard_counts_conversions() {
    let live = tenant(20, 0, 0);
    let ops: Vec<Operation> = (0..11)
        .map(|i| Operation {
            id: format!("convert_mailbox:u{i}@contoso.com"),
            kind: OpKind::ConvertMailbox(ConvertMailbox {
                user_id: user_id(i),
                upn: format!("u{i}@contoso.com"),
                from: MailboxType::User,
                to: MailboxType::Shared,
            }),
            depends_on: vec![],
            reasons: vec![],
        })
        .collect();
    assert_eq!(
        guards::check(&ops, &live, 20, &managed(), &Guards::default(), false),
        Err(GuardTrip::MailboxConversions { count: 11, max: 10 })
    );
    guards::check(&ops[..10], &live, 20, &managed(), &Guards::default(), false).unwrap();
}

fn saved_plan(live: &m365ctl::tenant::Tenant) -> PlanFile {
    let plan = Plan {
        operations: vec![assign_e3(0, &[])],
        diagnostics: vec![],
        seats: vec![],
        exchange_changes: vec![],
        license_errors: vec![],
        fingerprint: Fingerprint {
            desired: "sha256:desired".into(),
            live: "sha256:live-at-plan-time".into(),
        },
        cost: None,
    };
    PlanFile::from_plan(&plan).with_live_digest(live)
}

#[test]
fn stale_plan_names_the_user_and_the_seats_that_changed() {
    let live = licensed_tenant();
    let saved = PlanFile::parse(&saved_plan(&live).to_json()).expect("round trip");
    let mut now = live.clone();
    let index = now
        .users
        .iter()
        .position(|u| u.user_principal_name == "u7@contoso.com")
        .unwrap();
    now.users[index].licenses.clear();
    now.recount_consumed();
    let fresh = Fingerprint {
        desired: "sha256:desired".into(),
        live: "sha256:live-now".into(),
    };
    let stale = stale::check(&saved, &fresh, &now).unwrap_err();
    let message = stale.to_string();
    assert!(
        message.contains("u7@contoso.com: changed (now no licences"),
        "{message}"
    );
    assert!(
        message.contains("ENTERPRISEPACK: consumed 100 -> 99"),
        "{message}"
    );
    assert_eq!(stale.changes.len(), 2, "{message}");
    // Same inputs: not stale.
    let same = Fingerprint {
        desired: "sha256:desired".into(),
        live: "sha256:live-at-plan-time".into(),
    };
    stale::check(&saved, &same, &now).unwrap();
    // Desired changed.
    let edited = Fingerprint {
        desired: "sha256:other".into(),
        live: "sha256:live-at-plan-time".into(),
    };
    assert!(
        stale::check(&saved, &edited, &live)
            .unwrap_err()
            .to_string()
            .contains("desired state")
    );
}

#[test]
fn second_lock_is_refused_and_released_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".m365ctl/apply.lock");
    let held = ApplyLock::acquire(&path, false).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("pid={}", std::process::id())),
        "{text}"
    );
    let err = ApplyLock::acquire(&path, false).unwrap_err();
    assert!(matches!(err, LockError::Held { .. }), "{err}");
    assert!(err.to_string().contains("another apply is running"));
    drop(held);
    assert!(!path.exists());
    ApplyLock::acquire(&path, false).unwrap();
}

#[test]
fn lock_of_a_dead_process_is_reported_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apply.lock");
    // pid_max on Linux is at most 2^22: this pid cannot exist.
    std::fs::write(&path, "pid=99999999\nstarted=2026-01-01T00:00:00Z\n").unwrap();
    let err = ApplyLock::acquire(&path, false).unwrap_err();
    if cfg!(target_os = "linux") {
        assert!(matches!(err, LockError::Stale { .. }), "{err}");
        assert!(err.to_string().contains("--force-unlock"), "{err}");
    }
    assert!(path.exists(), "never removed silently");
    let _lock = ApplyLock::acquire(&path, true).unwrap();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains(&std::process::id().to_string())
    );
}

/// Journal observer used to check the line format.
struct JournalOnly(journal::Journal);

impl Observer for JournalOnly {
    fn finished(&mut self, op: &Operation, outcome: &Outcome) {
        self.0.record(op, outcome).unwrap();
    }
    fn wave_done(&mut self) {
        self.0.sync().unwrap();
    }
}

#[tokio::test]
async fn journal_has_one_json_line_per_operation() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal::default_path(dir.path());
    let faults = Faults {
        always_fail: ["set_usage_location:u0@contoso.com".to_string()].into(),
        ..Faults::default()
    };
    let backend = MemoryBackend::new(tenant(2, 5, 0), faults);
    let ops = vec![
        set_location(0, "US", &[]),
        assign_e3(0, &["set_usage_location:u0@contoso.com"]),
        assign_e3(1, &[]),
    ];
    let mut observer = JournalOnly(journal::Journal::open(&path).unwrap());
    execute_observed(&backend, ops, ExecOptions::default(), &mut observer)
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let by_op = |id: &str| lines.iter().find(|l| l["op"] == id).expect(id);
    let done = by_op("assign_licenses:u1@contoso.com");
    assert_eq!(done["outcome"], "done");
    assert_eq!(done["kind"], "assign_licenses");
    assert_eq!(done["target"], "u1@contoso.com");
    assert!(done["request_id"].as_str().unwrap().starts_with("req-"));
    assert!(done["time"].as_str().unwrap().ends_with('Z'));
    let failed = by_op("set_usage_location:u0@contoso.com");
    assert_eq!(failed["outcome"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("injected"));
    assert_eq!(
        by_op("assign_licenses:u0@contoso.com")["outcome"],
        "skipped"
    );
}
