//! Mailbox facts are read through the Exchange admin API's `$batch`, ten
//! `Get-MailboxStatistics` calls per envelope, against the fake over HTTP: the same facts as
//! one call per mailbox, the same errors, retried items, and a fall back to one call per
//! mailbox where the service does not serve `$batch`.

use crate::fx;

use m365ctl::backend::graph::GraphBackend;
use m365ctl::backend::{BackendError, TenantBackend};
use m365ctl::sim::{FakeTenantHandle, LoggedRequest, SimOptions};
use m365ctl::tenant::Tenant;
use std::time::Duration;

/// The mailbox counts every test runs over: none, one, around one envelope, several.
const COUNTS: [usize; 7] = [0, 1, 9, 10, 11, 25, 43];

fn is_envelope(r: &LoggedRequest) -> bool {
    r.path.starts_with("/exo/") && r.path.ends_with("/$batch")
}

fn is_statistics_item(r: &LoggedRequest) -> bool {
    r.is_batch_item() && r.path.contains("#Get-MailboxStatistics:")
}

fn is_lone_statistics(r: &LoggedRequest) -> bool {
    !r.is_batch_item() && r.path.contains("/InvokeCommand#Get-MailboxStatistics:")
}

/// The ids of the first `n` users with a mailbox.
fn with_mailbox(tenant: &Tenant, n: usize) -> Vec<String> {
    tenant
        .users
        .iter()
        .filter(|u| u.mailbox.is_some())
        .take(n)
        .map(|u| u.id.clone())
        .collect()
}

/// Reads the facts of `ids` into a copy of `live` and checks them against what the fake serves.
async fn read_and_check(
    backend: &GraphBackend,
    fake: &FakeTenantHandle,
    live: &Tenant,
    ids: &[String],
) {
    let mut read = live.clone();
    backend
        .read_mailbox_facts(&mut read, ids)
        .await
        .expect("facts read");
    let served = fake.tenant();
    for id in ids {
        let got = read.user(id).and_then(|u| u.mailbox.clone());
        let want = served.user(id).and_then(|u| u.mailbox.clone());
        assert!(got.as_ref().is_some_and(|m| m.facts_known()), "{id}");
        assert_eq!(got, want, "{id}");
    }
}

#[tokio::test]
async fn facts_of_n_mailboxes_take_ceil_n_over_10_envelopes_and_no_lone_call() {
    let fake = fx::start(fx::tenant(60), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let live = backend.read().await.expect("read succeeds");
    for n in COUNTS {
        let ids = with_mailbox(&live, n);
        assert_eq!(ids.len(), n, "the fixture has {n} mailboxes");
        fake.clear_requests();
        read_and_check(&backend, &fake, &live, &ids).await;
        let log = fake.requests();
        let envelopes = log.iter().filter(|r| is_envelope(r)).count();
        let items = log.iter().filter(|r| is_statistics_item(r)).count();
        assert_eq!(envelopes, n.div_ceil(10), "{n} mailboxes");
        assert_eq!(items, n, "{n} mailboxes: one item each");
        assert_eq!(log.iter().filter(|r| is_lone_statistics(r)).count(), 0);
        assert!(log.iter().all(|r| r.status == 200), "{n}: {log:?}");
    }
}

/// `live` with the UPN of the `k`-th mailbox user renamed to one Exchange does not know.
fn with_ghost(live: &Tenant, k: usize) -> (Tenant, String) {
    let mut live = live.clone();
    let i = live
        .users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.mailbox.is_some())
        .nth(k)
        .map(|(i, _)| i)
        .expect("fixture mailbox");
    live.users[i].user_principal_name = format!("ghost{k}@contoso.com");
    let id = live.users[i].id.clone();
    (live, id)
}

/// The error of reading `ids` with `$batch` served or not, its request id dropped.
async fn error_of(exchange_batch: bool, k: usize, ids_count: usize) -> BackendError {
    let options = SimOptions {
        exchange_batch,
        ..SimOptions::default()
    };
    let fake = fx::start(fx::tenant(40), options).await;
    let backend = fx::backend(&fake);
    let live = backend.read().await.expect("read succeeds");
    let ids = with_mailbox(&live, ids_count);
    let (mut live, _) = with_ghost(&live, k);
    let error = backend
        .read_mailbox_facts(&mut live, &ids)
        .await
        .expect_err("an unknown mailbox is an error, never a guessed size");
    match error {
        BackendError::Refused {
            target,
            refusal,
            message,
            ..
        } => BackendError::Refused {
            // The endpoint named differs only by the fake's port.
            target: target.replace(fake.base_url(), "{fake}"),
            refusal,
            message,
            request_id: None,
        },
        other => panic!("not a refusal: {other:?}"),
    }
}

#[tokio::test]
async fn an_item_not_found_is_the_error_a_lone_call_gives() {
    // The unknown mailbox first, amid others and last of its envelope.
    for (k, count) in [(0, 1), (4, 11), (9, 10), (13, 25)] {
        let batched = error_of(true, k, count).await;
        let lone = error_of(false, k, count).await;
        assert_eq!(batched, lone, "mailbox {k} of {count}");
        assert!(
            matches!(&batched, BackendError::Refused { refusal, .. } if *refusal == m365ctl::backend::Refusal::NotFound),
            "{batched:?}"
        );
    }
}

#[tokio::test]
async fn items_answered_429_or_5xx_are_retried_after_retry_after_until_every_fact_is_read() {
    for seed in [3, 11] {
        let options = SimOptions {
            seed,
            fault_rate: 0.3,
            retry_after_secs: 1,
            ..SimOptions::default()
        };
        let fake = fx::start(fx::tenant(40), options).await;
        let backend = fx::backend(&fake);
        let live = backend.read().await.expect("read succeeds under faults");
        let ids = with_mailbox(&live, 25);
        fake.clear_requests();
        read_and_check(&backend, &fake, &live, &ids).await;
        let log = fake.requests();
        let items: Vec<&LoggedRequest> = log.iter().filter(|r| is_statistics_item(r)).collect();
        assert!(
            items.iter().any(|r| r.status == 429),
            "seed {seed}: the schedule throttled an item"
        );
        assert_eq!(items.iter().filter(|r| r.status == 200).count(), 25);
        // A throttled item is sent again only after its Retry-After.
        for (k, throttled) in items.iter().enumerate().filter(|(_, r)| r.status == 429) {
            let again = items[k + 1..]
                .iter()
                .find(|r| r.path == throttled.path)
                .expect("a throttled item is sent again");
            assert!(
                again.at >= throttled.at + Duration::from_secs(1),
                "{} again after {:?}",
                throttled.path,
                again.at - throttled.at
            );
        }
        assert_eq!(log.iter().filter(|r| is_lone_statistics(r)).count(), 0);
    }
}

#[tokio::test]
async fn without_exchange_batch_the_same_facts_are_read_one_call_per_mailbox() {
    let options = SimOptions {
        exchange_batch: false,
        ..SimOptions::default()
    };
    let fake = fx::start(fx::tenant(60), options).await;
    let backend = fx::backend(&fake);
    let live = backend.read().await.expect("read succeeds");
    fake.clear_requests();
    let mut refused_envelopes = 0;
    for n in COUNTS {
        let ids = with_mailbox(&live, n);
        fake.clear_requests();
        read_and_check(&backend, &fake, &live, &ids).await;
        let log = fake.requests();
        assert_eq!(log.iter().filter(|r| is_lone_statistics(r)).count(), n);
        assert_eq!(log.iter().filter(|r| is_statistics_item(r)).count(), 0);
        let envelopes: Vec<&LoggedRequest> = log.iter().filter(|r| is_envelope(r)).collect();
        assert!(envelopes.iter().all(|r| r.status == 404));
        refused_envelopes += envelopes.len();
    }
    // The first refusal turns batching off for the rest of the run: only the envelopes
    // already in flight then (at most 8) were sent.
    assert!((1..=8).contains(&refused_envelopes), "{refused_envelopes}");
}
