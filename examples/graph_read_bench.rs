//! Measures a full Graph backend read against the fake tenant over loopback:
//! `cargo run --release --example graph_read_bench -- 50000 [latency_ms]`.
//! Prints users, requests by family and wall time, so request-count regressions and client
//! overhead are visible without a real tenant.

use m365ctl::backend::graph::GraphBackend;
use m365ctl::backend::{AuthMode, TenantBackend};
use m365ctl::catalog::sku_from_catalog;
use m365ctl::sim::{FakeTenant, SimOptions};
use m365ctl::tenant::{LicenseAssignment, Mailbox, MailboxType, Tenant, User};
use std::time::{Duration, Instant};

fn tenant(n: usize) -> Tenant {
    let e3 = sku_from_catalog("ENTERPRISEPACK", n as u32).expect("E3 in catalog");
    let users = (0..n)
        .map(|i| User {
            id: format!("00000001-0000-4000-8000-{i:012}"),
            user_principal_name: format!("user{i:06}@contoso.com"),
            display_name: Some(format!("User {i}")),
            account_enabled: i % 50 != 0,
            usage_location: Some("GB".into()),
            on_premises_sync_enabled: false,
            attributes: [("department".to_string(), format!("Dept {}", i % 40))].into(),
            licenses: vec![LicenseAssignment {
                sku_id: e3.sku_id.clone(),
                disabled_plans: Vec::new(),
                assigned_by_group: None,
                state: "Active".into(),
                error: None,
            }],
            mailbox: Some(Mailbox {
                kind: if i % 100 == 0 {
                    MailboxType::Shared
                } else {
                    MailboxType::User
                },
                size_bytes: Some(1 << 30),
                archive_enabled: Some(false),
                litigation_hold: Some(false),
            }),
        })
        .collect();
    let mut t = Tenant::new(None, vec![e3], users, Vec::new());
    t.recount_consumed();
    t
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let latency = Duration::from_millis(args.next().and_then(|a| a.parse().ok()).unwrap_or(0));
    let fake = FakeTenant::start(
        tenant(n),
        SimOptions {
            latency,
            ..SimOptions::default()
        },
    )
    .await
    .expect("fake starts");
    // SAFETY: single-threaded at this point; nothing else reads the environment.
    unsafe { std::env::set_var("M365CTL_BENCH_SECRET", "sim-client-secret") };
    let settings = fake.settings(AuthMode::Secret {
        env: "M365CTL_BENCH_SECRET".into(),
    });
    let backend = GraphBackend::new(&settings).expect("backend");
    let start = Instant::now();
    let live = backend.read().await.expect("read");
    let elapsed = start.elapsed();
    let log = fake.requests();
    let count = |p: &str| log.iter().filter(|r| r.path.starts_with(p)).count();
    println!("users read:            {}", live.users.len());
    println!("user pages:            {}", count("/v1.0/users"));
    println!("Exchange calls:        {}", count("/exo/"));
    println!("all requests:          {}", log.len());
    println!("wall time:             {elapsed:.2?} (latency {latency:?} per request)");
}
