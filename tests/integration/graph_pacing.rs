//! Adaptive concurrency over HTTP: once Graph answers 429, no new request goes out until the
//! `Retry-After` has passed (parallel requests would only spend budget on more 429s), and the
//! work still completes.
//!
//! Timed on tokio's paused clock, not the wall: the fake (its throttle window, its request log)
//! and the client (its pause) read the same clock, which moves only when every task waits, so
//! a loaded machine cannot make a request sent before the 429 look as if it were sent during
//! the pause.

use crate::fx;

use m365ctl::backend::TenantBackend;
use m365ctl::sim::SimOptions;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn after_a_429_every_request_waits_for_retry_after() {
    let tenant = fx::tenant(300);
    let fake = fx::start(
        tenant.clone(),
        SimOptions {
            throttle: Some((30, Duration::from_secs(1))),
            ..SimOptions::default()
        },
    )
    .await;
    let backend = Arc::new(fx::backend(&fake));
    // Eight readers share one client, as the read's parallel streams and the executor's
    // batches do, starting one after the other: a reader that starts while another has been
    // told to wait must wait too.
    let mut readers = tokio::task::JoinSet::new();
    for i in 0..8u64 {
        let backend = backend.clone();
        readers.spawn(async move {
            tokio::time::sleep(Duration::from_millis(150 * i)).await;
            backend.read().await.map(|t| t.users.len())
        });
    }
    while let Some(read) = readers.join_next().await {
        assert_eq!(read.unwrap().expect("every read completes"), 300);
    }

    let log = fake.requests();
    let throttled: Vec<_> = log.iter().filter(|r| r.status == 429).collect();
    assert!(
        !throttled.is_empty(),
        "the budget is small enough to throttle"
    );
    // Requests already on the wire when the 429 came back arrive at the same instant of the
    // paused clock; anything later inside the pause was sent during it.
    for t in &throttled {
        let pause = Duration::from_secs(t.retry_after.expect("a 429 says how long"));
        let sent_during_pause: Vec<_> = log
            .iter()
            .filter(|r| !r.path.contains("/oauth2/"))
            .filter(|r| r.at > t.at && r.at < t.at + pause)
            .collect();
        assert!(
            sent_during_pause.is_empty(),
            "429 at {:?} (Retry-After {pause:?}) but requests kept coming: {sent_during_pause:#?}",
            t.at
        );
    }
    fake.shutdown().await;
}
