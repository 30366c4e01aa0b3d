//! One refusal taxonomy for both backends (issue 18, point 3): every write rule Graph or
//! Exchange enforces, broken through the Graph backend against the fake over HTTP and through
//! the snapshot backend, is the same `Refusal`; and the Graph backend classifies by code and
//! status only: with every English message of the fake garbled, nothing changes.

use crate::fx;

use m365ctl::backend::snapshot::{SnapshotBackend, render_snapshot};
use m365ctl::backend::{Refusal, TenantBackend};
use m365ctl::plan::Operation;
use m365ctl::plan::ops::{
    AssignLicenses, ConvertMailbox, LicenseGrant, LicenseRemoval, OpKind, SetUsageLocation,
};
use m365ctl::sim::SimOptions;
use m365ctl::tenant::{MailboxType, Tenant};

fn op(kind: OpKind) -> Operation {
    Operation {
        id: format!("{}:{}", kind.name(), kind.target()),
        kind,
        depends_on: Vec::new(),
        reasons: Vec::new(),
    }
}

fn grant(tenant: &Tenant, sku: &str, disabled_plans: Vec<String>) -> LicenseGrant {
    LicenseGrant {
        sku_id: sku.to_string(),
        sku_part_number: tenant
            .sku(sku)
            .map_or("UNKNOWN".into(), |s| s.sku_part_number.clone()),
        disabled_plan_names: disabled_plans.clone(),
        disabled_plans,
        replaces_disabled: None,
    }
}

fn assign(n: usize, add: Vec<LicenseGrant>, remove: Vec<LicenseRemoval>) -> OpKind {
    OpKind::AssignLicenses(AssignLicenses {
        user_id: fx::id(1, n),
        upn: fx::upn(n),
        add,
        remove,
    })
}

fn removal(tenant: &Tenant, sku: &str) -> LicenseRemoval {
    LicenseRemoval {
        sku_id: sku.to_string(),
        sku_part_number: tenant.sku(sku).unwrap().sku_part_number.clone(),
    }
}

fn locate(n: usize, to: &str) -> OpKind {
    OpKind::SetUsageLocation(SetUsageLocation {
        user_id: fx::id(1, n),
        upn: fx::upn(n),
        from: Some("GB".into()),
        to: to.into(),
    })
}

fn convert(n: usize, from: MailboxType, to: MailboxType) -> OpKind {
    OpKind::ConvertMailbox(ConvertMailbox {
        user_id: fx::id(1, n),
        upn: fx::upn(n),
        from,
        to,
    })
}

/// Every write rule, broken once, in order, with the refusal both backends must give
/// (`None`: the step succeeds and sets up the next). Users of `fx::tenant(40)`: 19 has no
/// usage location and no mailbox, 5 inherits E5, 3 is synced, 8 has an unlicensed shared
/// mailbox, Exchange Plan 1 has one free seat, only 0 and 3 are in the plain group.
fn cases(t: &Tenant) -> Vec<(&'static str, OpKind, Option<Refusal>)> {
    let (e3, e5, exo1) = (fx::e3(), fx::e5(), fx::exo1());
    let bad = Some(Refusal::BadRequest);
    let missing = Some(Refusal::NotFound);
    vec![
        (
            "no usage location",
            assign(19, vec![grant(t, &e3, vec![])], vec![]),
            bad.clone(),
        ),
        (
            "inherited licence",
            assign(5, vec![], vec![removal(t, &e5)]),
            bad.clone(),
        ),
        (
            "licence not held",
            assign(1, vec![], vec![removal(t, &exo1)]),
            bad.clone(),
        ),
        (
            "unknown SKU",
            assign(
                1,
                vec![grant(t, "0badc0de-0000-4000-8000-000000000000", vec![])],
                vec![],
            ),
            bad.clone(),
        ),
        (
            "plan not in the SKU",
            assign(
                8,
                vec![grant(
                    t,
                    &e3,
                    vec!["0badc0de-0000-4000-8000-000000000001".into()],
                )],
                vec![],
            ),
            bad.clone(),
        ),
        ("usage location not ISO 3166", locate(1, "ZZ"), bad.clone()),
        (
            "the last free seat",
            assign(1, vec![grant(t, &exo1, vec![])], vec![]),
            None,
        ),
        (
            "no free seat",
            assign(11, vec![grant(t, &exo1, vec![])], vec![]),
            bad.clone(),
        ),
        (
            "user not found",
            OpKind::SetUsageLocation(SetUsageLocation {
                user_id: "0badc0de-0000-4000-8000-000000000002".into(),
                upn: "ghost@contoso.example".into(),
                from: None,
                to: "GB".into(),
            }),
            missing.clone(),
        ),
        (
            "not a member",
            OpKind::group_membership(
                false,
                fx::plain_group_id(),
                "Sales O'Brien Team".into(),
                fx::id(1, 1),
                fx::upn(1),
            ),
            missing.clone(),
        ),
        (
            "no mailbox",
            convert(19, MailboxType::User, MailboxType::Shared),
            missing,
        ),
        (
            "synced user",
            convert(3, MailboxType::User, MailboxType::Shared),
            bad.clone(),
        ),
        (
            "user mailbox without a licence",
            convert(8, MailboxType::Shared, MailboxType::User),
            bad,
        ),
    ]
}

/// The refusal (or success) of each case through `backend`, one `execute` per case.
async fn outcomes(
    backend: &impl TenantBackend,
    t: &Tenant,
) -> Vec<(&'static str, Option<Refusal>)> {
    let mut seen = Vec::new();
    for (name, kind, _) in cases(t) {
        let result = backend.execute(&[op(kind)]).await.remove(0);
        let refusal = match result {
            Ok(_) => None,
            Err(e) => Some(
                e.refusal()
                    .unwrap_or_else(|| panic!("{name}: not a refusal: {e}"))
                    .clone(),
            ),
        };
        seen.push((name, refusal));
    }
    seen
}

/// The fake's defaults, with its English error messages garbled (`garble`) or as written:
/// what the backend may not classify by.
fn garbling(garble: bool) -> SimOptions {
    SimOptions {
        garble_error_messages: garble,
        ..SimOptions::default()
    }
}

async fn through_the_fake(t: &Tenant, garble: bool) -> Vec<(&'static str, Option<Refusal>)> {
    let fake = fx::start(t.clone(), garbling(garble)).await;
    let seen = outcomes(&fx::backend(&fake), t).await;
    assert_eq!(fake.violations(), Vec::<String>::new());
    seen
}

#[tokio::test]
async fn each_refusal_is_the_same_variant_through_graph_and_the_snapshot() {
    let t = fx::tenant(40);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.json");
    std::fs::write(&path, render_snapshot(&t)).unwrap();
    let snapshot = outcomes(&SnapshotBackend::new(&path), &t).await;
    let graph = through_the_fake(&t, false).await;
    let expected: Vec<_> = cases(&t).into_iter().map(|(n, _, r)| (n, r)).collect();
    assert_eq!(snapshot, expected, "snapshot backend");
    assert_eq!(graph, expected, "Graph backend over HTTP");
}

#[tokio::test]
async fn garbled_messages_change_no_classification() {
    let t = fx::tenant(40);
    let plain = through_the_fake(&t, false).await;
    let garbled = through_the_fake(&t, true).await;
    assert_eq!(garbled, plain);
}

#[tokio::test]
async fn the_garbled_fake_really_says_nothing_in_english() {
    let t = fx::tenant(40);
    let fake = fx::start(t.clone(), garbling(true)).await;
    let backend = fx::backend(&fake);
    let result = backend
        .execute(&[op(assign(19, vec![grant(&t, &fx::e3(), vec![])], vec![]))])
        .await
        .remove(0);
    let error = result.expect_err("no usage location").to_string();
    assert!(error.contains("Lorem ipsum"), "{error}");
    assert!(!error.contains("usage location"), "{error}");
}

#[tokio::test]
async fn a_member_already_added_is_done_because_a_read_says_so_not_the_message() {
    let t = fx::tenant(40);
    let fake = fx::start(t.clone(), garbling(true)).await;
    let backend = fx::backend(&fake);
    let add = |n| {
        op(OpKind::group_membership(
            true,
            fx::plain_group_id(),
            "Sales O'Brien Team".into(),
            fx::id(1, n),
            fx::upn(n),
        ))
    };
    // User 0 is a member (a retried add whose first answer was lost looks like this);
    // user 19 with a user id Graph does not know is a refusal that stays one.
    let results = backend.execute(&[add(0)]).await;
    assert!(results[0].is_ok(), "{results:?}");
    let ghost = op(OpKind::group_membership(
        true,
        fx::plain_group_id(),
        "Sales O'Brien Team".into(),
        "0badc0de-0000-4000-8000-000000000003".into(),
        "ghost@contoso.example".into(),
    ));
    let results = backend.execute(&[ghost]).await;
    assert!(results[0].is_err(), "{results:?}");
}

/// A write still throttled after the client's retries is `Throttled` with the `Retry-After`
/// Graph sent (https://learn.microsoft.com/en-us/graph/throttling), not a generic failure.
#[tokio::test]
async fn a_write_still_throttled_says_how_long_to_wait() {
    let t = fx::tenant(40);
    let fake = fx::start(
        t.clone(),
        SimOptions {
            throttle: Some((1, std::time::Duration::from_secs(120))),
            ..garbling(true)
        },
    )
    .await;
    // No retries: the first answer after the one request the window allows is final.
    let no_retries = m365ctl::graph::RetryPolicy {
        max_attempts: 1,
        ..fx::fast_retries()
    };
    let backend = m365ctl::backend::graph::GraphBackend::with_retry_policy(
        &fake.settings(fx::secret_auth()),
        no_retries,
    )
    .unwrap();
    let first = backend.execute(&[op(locate(1, "FR"))]).await;
    assert!(first[0].is_ok(), "{first:?}");
    let results = backend.execute(&[op(locate(2, "FR"))]).await;
    let refusal = results[0].as_ref().err().and_then(|e| e.refusal().cloned());
    match refusal {
        Some(Refusal::Throttled {
            retry_after: Some(wait),
        }) => assert!(wait.as_secs() > 0, "{wait:?}"),
        other => {
            panic!("expected a throttled refusal with Retry-After, got {other:?}: {results:?}")
        }
    }
}
