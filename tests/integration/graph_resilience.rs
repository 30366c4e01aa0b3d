//! Throttling, transient failures and token expiry: writes converge, `Retry-After` is
//! honoured, and a rejected token is refreshed once, never in a loop.

use crate::fx;
use m365ctl::plan::ops::SetUsageLocation;

use m365ctl::backend::{BackendError, TenantBackend};
use m365ctl::plan::Operation;
use m365ctl::plan::ops::OpKind;
use m365ctl::sim::SimOptions;
use m365ctl::tenant::apply_operation;
use std::time::Duration;

fn usage_location(n: usize, to: &str) -> Operation {
    let kind = OpKind::SetUsageLocation(SetUsageLocation {
        user_id: fx::id(1, n),
        upn: fx::upn(n),
        from: None,
        to: to.into(),
    });
    Operation {
        id: format!("u{n}"),
        kind,
        depends_on: Vec::new(),
        reasons: Vec::new(),
    }
}

#[tokio::test]
async fn writes_converge_under_twenty_percent_faults_and_wait_for_retry_after() {
    let tenant = fx::tenant(60);
    let options = SimOptions {
        fault_rate: 0.2,
        seed: 42,
        retry_after_secs: 1,
        ..SimOptions::default()
    };
    let fake = fx::start(tenant.clone(), options).await;
    let backend = fx::backend(&fake);
    let mut expected = tenant;
    for round in 0..3 {
        let ops: Vec<Operation> = (round * 15..round * 15 + 15)
            .map(|n| usage_location(n, "FR"))
            .collect();
        let results = backend.execute(&ops).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        for op in &ops {
            apply_operation(&mut expected, &op.kind).unwrap();
        }
    }
    let live = backend.read().await.expect("read converges too");
    expected.normalize();
    assert_eq!(fake.tenant(), expected);
    assert_eq!(
        live.users
            .iter()
            .filter(|u| u.usage_location.as_deref() == Some("FR"))
            .count(),
        45
    );

    let log = fake.requests();
    let throttled: Vec<_> = log.iter().filter(|r| r.status == 429).collect();
    assert!(!throttled.is_empty(), "the schedule injected 429s");
    assert!(
        log.iter().any(|r| r.status == 503 || r.status == 504),
        "and transient 5xx"
    );
    for t in throttled {
        let wait = Duration::from_secs(t.retry_after.expect("429 carries Retry-After"));
        let retry = log
            .iter()
            .find(|r| r.at > t.at && r.path == t.path && r.method == t.method)
            .unwrap_or_else(|| panic!("{} {} was retried", t.method, t.path));
        assert!(
            retry.at - t.at >= wait,
            "{} retried after {:?}, before Retry-After {:?}",
            t.path,
            retry.at - t.at,
            wait
        );
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once() {
    let fake = fx::start(fx::tenant(20), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    backend.read().await.expect("first read");
    assert_eq!(fake.token_requests(), 2);
    fake.expire_tokens();
    backend.read().await.expect("read after expiry");
    assert_eq!(fake.token_requests(), 4, "one new token per audience");
    let results = backend.execute(&[usage_location(1, "DE")]).await;
    assert!(results[0].is_ok());
    assert_eq!(fake.token_requests(), 4, "valid tokens are reused");
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_then_fails() {
    let fake = fx::start(fx::tenant(20), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    fake.reject_tokens(true);
    let results = backend.execute(&[usage_location(1, "DE")]).await;
    assert!(
        matches!(&results[0], Err(BackendError::Auth(_))),
        "{:?}",
        results[0]
    );
    assert_eq!(
        fake.token_requests(),
        2,
        "initial token + exactly one refresh"
    );
    let unauthorised = fake.requests().iter().filter(|r| r.status == 401).count();
    assert_eq!(unauthorised, 2);
}

#[tokio::test]
async fn a_throttle_budget_slows_but_does_not_break_a_read() {
    let options = SimOptions {
        throttle: Some((10, Duration::from_secs(1))),
        ..SimOptions::default()
    };
    let fake = fx::start(fx::tenant(400), options).await;
    let backend = fx::backend(&fake);
    let mut tenant = backend
        .read()
        .await
        .expect("read completes under throttling");
    assert_eq!(tenant.users.len(), 400);
    // Then the facts of 40 mailboxes, one Exchange call each: over the budget of 10 a second.
    let all: Vec<String> = tenant.users.iter().take(40).map(|u| u.id.clone()).collect();
    backend
        .read_mailbox_facts(&mut tenant, &all)
        .await
        .expect("facts read under throttling");
    assert!(
        tenant
            .users
            .iter()
            .take(40)
            .filter_map(|u| u.mailbox.as_ref())
            .all(|m| m.facts_known())
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.status == 429 && r.retry_after.is_some())
    );
}

#[tokio::test]
async fn wrong_secret_is_an_auth_error_not_a_retry_loop() {
    let fake = fx::start(
        fx::tenant(10),
        SimOptions {
            client_secret: Some("other".into()),
            ..SimOptions::default()
        },
    )
    .await;
    let err = fx::backend(&fake).read().await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Auth(m) if m.contains("invalid_client")),
        "{err:?}"
    );
    assert!(!err.to_string().contains(fx::SECRET));
    assert!(fake.token_requests() <= 2, "one attempt per audience");
}
