//! Measures a full Graph backend read against the fake tenant over loopback, read as one chain
//! of pages per collection and read in segments side by side, in the same run:
//!
//! `cargo run --release --example graph_read_bench -- 100000 [latency_ms] [--latency-per-item-us N]
//! [--numbered] [--segmented-only]`
//!
//! `latency_ms` is added to every answer; `--latency-per-item-us` adds that much per object
//! in an answer, so a 999-user page costs what the service's big pages cost (1,500 µs: about
//! 1.5 s a page). Microsoft's throttling model is on. Principal names start the way people's
//! names do (a skewed spread of initials), or with `--numbered` the way the scale benchmark
//! names them (`user000042@…`: one prefix for everyone), with 1 licence group per 50 users.
//! `--segmented-only` skips the read as one chain. Prints users,
//! requests by family and wall time per mode, and the request floor
//! `ceil(N/999) + ceil(M/1000) + member pages` the issue bounds requests by (2x).

use m365ctl::backend::graph::GraphBackend;
use m365ctl::backend::{AuthMode, TenantBackend};
use m365ctl::catalog::sku_from_catalog;
use m365ctl::sim::{FakeTenant, SimOptions};
use m365ctl::tenant::{Group, GroupLicense, LicenseAssignment, Mailbox, MailboxType, Tenant, User};
use std::time::{Duration, Instant};

/// First names whose initials roughly follow how often names start with each letter.
const FIRST_NAMES: [&str; 40] = [
    "james",
    "john",
    "jennifer",
    "jessica",
    "joseph",
    "mary",
    "michael",
    "maria",
    "mark",
    "sarah",
    "susan",
    "steven",
    "sophie",
    "david",
    "daniel",
    "anna",
    "andrew",
    "amy",
    "robert",
    "richard",
    "karen",
    "kevin",
    "lisa",
    "linda",
    "christopher",
    "charles",
    "brian",
    "barbara",
    "thomas",
    "emily",
    "paul",
    "george",
    "nancy",
    "helen",
    "victor",
    "frank",
    "william",
    "olivia",
    "ian",
    "zoe",
];

fn tenant(n: usize, numbered: bool) -> Tenant {
    let e3 = sku_from_catalog("ENTERPRISEPACK", n as u32).expect("E3 in catalog");
    let groups = (n / 50).max(1);
    let group_id = |g: usize| format!("00000002-0000-4000-8000-{g:012}");
    let mut members = vec![Vec::new(); groups];
    let users = (0..n)
        .map(|i| {
            let id = format!("00000001-0000-4000-8000-{i:012}");
            let inherited = i % 2 == 0;
            if inherited {
                members[i % groups].push(id.clone());
            }
            User {
                id,
                user_principal_name: if numbered {
                    format!("user{i:06}@contoso.example")
                } else {
                    format!("{}.{i}@contoso.com", FIRST_NAMES[(i * 7) % 40])
                },
                display_name: Some(format!("User {i}")),
                account_enabled: i % 50 != 0,
                usage_location: Some("GB".into()),
                on_premises_sync_enabled: false,
                attributes: [("department".to_string(), format!("Dept {}", i % 40))].into(),
                licenses: vec![LicenseAssignment {
                    sku_id: e3.sku_id.clone(),
                    disabled_plans: Vec::new(),
                    assigned_by_group: inherited.then(|| group_id(i % groups)),
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
            }
        })
        .collect();
    let groups = members
        .into_iter()
        .enumerate()
        .map(|(g, members)| Group {
            id: group_id(g),
            display_name: format!("LIC-E3-{g:04}"),
            licenses: vec![GroupLicense {
                sku_id: e3.sku_id.clone(),
                disabled_plans: Vec::new(),
            }],
            members,
        })
        .collect();
    let mut t = Tenant::new(None, vec![e3], users, groups);
    t.recount_consumed();
    t.normalize();
    t
}

/// One read of the fake in one mode: requests by family, the request floor, wall time.
async fn measure(
    n: usize,
    numbered: bool,
    options: &SimOptions,
    segmented: bool,
) -> (Vec<(&'static str, usize)>, usize, Duration) {
    let fake = FakeTenant::start(tenant(n, numbered), options.clone())
        .await
        .expect("fake starts");
    let settings = fake.settings(AuthMode::Secret {
        env: "M365CTL_BENCH_SECRET".into(),
    });
    let backend = GraphBackend::new(&settings)
        .expect("backend")
        .with_segmented_reads(segmented);
    let start = Instant::now();
    let live = backend.read().await.expect("read");
    let elapsed = start.elapsed();
    assert_eq!(live.users.len(), n, "every user read");
    let mailboxes = live.users.iter().filter(|u| u.mailbox.is_some()).count();
    let member_pages: usize = live
        .groups
        .iter()
        .map(|g| g.members.len().div_ceil(999).max(1))
        .sum();
    let floor = n.div_ceil(999) + mailboxes.div_ceil(1000) + member_pages;
    let log = fake.requests();
    let count = |p: &str| log.iter().filter(|r| r.path.contains(p)).count();
    let last = |p: &str| {
        log.iter()
            .filter(|r| r.path.contains(p))
            .map(|r| r.at)
            .max()
            .unwrap_or_default()
            .saturating_sub(log.first().map(|r| r.at).unwrap_or_default())
    };
    println!(
        "    last answer after the first request: prefix counts {:.2?}, users {:.2?}, mailboxes {:.2?}, members {:.2?}",
        last("$batch:/users/$count"),
        last("/v1.0/users?"),
        last("#Get-Mailbox:"),
        last("/members/microsoft.graph.user")
    );
    let families = vec![
        ("user pages", count("/v1.0/users?")),
        ("user counts", count("/v1.0/users/$count")),
        ("count $batches", count("/v1.0/$batch")),
        ("prefix counts (in $batch)", count("$batch:/users/$count")),
        ("mailbox pages", count("#Get-Mailbox:")),
        ("member pages", count("/members/microsoft.graph.user")),
        (
            "requests (no tokens, $batch items apart)",
            log.len() - count("/oauth2/") - count("$batch:"),
        ),
        (
            "answered 429",
            log.iter().filter(|r| r.status == 429).count(),
        ),
    ];
    (families, floor, elapsed)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let mut positional = args
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .filter_map(|a| a.parse::<u64>().ok());
    let n = positional.next().unwrap_or(50_000) as usize;
    let latency = Duration::from_millis(positional.next().unwrap_or(0));
    let per_item = Duration::from_micros(flag("--latency-per-item-us").unwrap_or(0));
    // SAFETY: single-threaded at this point; nothing else reads the environment.
    unsafe { std::env::set_var("M365CTL_BENCH_SECRET", "sim-client-secret") };
    let options = SimOptions {
        latency,
        latency_per_item: per_item,
        ..SimOptions::default()
    };
    println!(
        "{n} users, {} licence groups, latency {latency:?} + {per_item:?} per object",
        (n / 50).max(1)
    );
    let numbered = args.iter().any(|a| a == "--numbered");
    let modes = [("one chain each", false), ("segmented", true)];
    let skip = usize::from(args.iter().any(|a| a == "--segmented-only"));
    for (mode, segmented) in modes.into_iter().skip(skip) {
        let (families, floor, elapsed) = measure(n, numbered, &options, segmented).await;
        let counts: Vec<String> = families.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{mode:>15}: {elapsed:>9.2?}  {}; floor {floor} (2x = {})",
            counts.join(", "),
            2 * floor
        );
    }
}
