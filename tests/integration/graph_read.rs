//! The Graph backend reads exactly the tenant the fake serves, at the documented page cost.

use crate::fx;

use m365ctl::backend::TenantBackend;
use m365ctl::sim::SimOptions;

#[tokio::test]
async fn read_equals_the_served_snapshot_with_sizes_unknown_not_zero() {
    let tenant = fx::tenant(40);
    let fake = fx::start(tenant.clone(), SimOptions::default()).await;
    let live = fx::backend(&fake).read().await.expect("read succeeds");
    let mut expected = tenant;
    // Sizes cost one Exchange call per mailbox: `read` leaves them unknown (never 0);
    // archive and hold come with Get-Mailbox and are known.
    for u in &mut expected.users {
        if let Some(m) = u.mailbox.as_mut() {
            m.size_bytes = None;
        }
    }
    assert_eq!(live, expected);
    assert!(
        live.users
            .iter()
            .filter_map(|u| u.mailbox.as_ref())
            .all(|m| m.archive_enabled.is_some() && m.litigation_hold.is_some())
    );
}

#[tokio::test]
async fn read_mailbox_facts_reads_exactly_the_mailboxes_asked_for_every_kind() {
    let tenant = fx::tenant(40);
    let fake = fx::start(tenant.clone(), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let mut live = backend.read().await.expect("read succeeds");
    // One user of every kind the fixture has: enabled, shared mailbox, synced, no mailbox.
    let asked: Vec<String> = [0usize, 3, 8, 9, 17, 25]
        .iter()
        .map(|&i| fx::id(1, i))
        .collect();
    fake.clear_requests();
    backend
        .read_mailbox_facts(&mut live, &asked)
        .await
        .expect("facts read");
    let stats: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("#Get-MailboxStatistics:"))
        .map(|r| r.path.rsplit(':').next().unwrap_or_default().to_string())
        .collect();
    let mut expected_upns: Vec<String> = asked
        .iter()
        .filter_map(|id| tenant.user(id))
        .filter(|u| u.mailbox.is_some())
        .map(|u| u.user_principal_name.clone())
        .collect();
    let mut stats_sorted = stats.clone();
    stats_sorted.sort();
    expected_upns.sort();
    assert_eq!(
        stats_sorted, expected_upns,
        "one statistics call per asked mailbox"
    );
    for user in &live.users {
        let served = tenant.user(&user.id).and_then(|u| u.mailbox.clone());
        if asked.contains(&user.id) {
            assert_eq!(
                user.mailbox, served,
                "{} read in full",
                user.user_principal_name
            );
        } else if let Some(m) = &user.mailbox {
            assert_eq!(m.size_bytes, None, "{} not read", user.user_principal_name);
        }
    }
}

#[tokio::test]
async fn a_size_exchange_does_not_report_is_an_error_not_zero() {
    let mut tenant = fx::tenant(20);
    let i = tenant
        .user_position(&fx::id(1, 8))
        .expect("shared mailbox user");
    tenant.users[i]
        .mailbox
        .as_mut()
        .expect("mailbox")
        .size_bytes = None;
    let fake = fx::start(tenant, SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let mut live = backend.read().await.expect("read succeeds");
    let error = backend
        .read_mailbox_facts(&mut live, &[fx::id(1, 8)])
        .await
        .expect_err("an unreadable size is an error");
    assert!(error.to_string().contains("TotalItemSize"), "{error}");
}

#[tokio::test]
async fn reading_5000_users_costs_six_user_pages() {
    let fake = fx::start(fx::tenant(5000), SimOptions::default()).await;
    let live = fx::backend(&fake).read().await.expect("read succeeds");
    assert_eq!(live.users.len(), 5000);
    let log = fake.requests();
    let count = |prefix: &str| log.iter().filter(|r| r.path.starts_with(prefix)).count();
    assert_eq!(count("/v1.0/users?"), 5000usize.div_ceil(999));
    assert_eq!(count("/v1.0/users/$count"), 1, "the count sizes the read");
    assert_eq!(count("/v1.0/subscribedSkus"), 1);
    // One licensed-groups page + one by-name lookup, then member pages of 999 per group.
    assert_eq!(count("/v1.0/groups?"), 2);
    let member_pages: usize = live
        .groups
        .iter()
        .map(|g| g.members.len().div_ceil(999).max(1))
        .sum();
    assert_eq!(member_pages, 3, "the E5 group has 1,000 members: two pages");
    assert_eq!(
        log.iter()
            .filter(|r| r.path.contains("/members/microsoft.graph.user"))
            .count(),
        member_pages
    );
    // Get-Mailbox pages of 1,000 and no statistics call: sizes are read only for the
    // mailboxes a plan depends on (`read_mailbox_facts`).
    let mailboxes = live.users.iter().filter(|u| u.mailbox.is_some()).count();
    assert_eq!(count("/exo/"), mailboxes.div_ceil(1000));
    assert_eq!(fake.token_requests(), 2, "one Graph and one Exchange token");
    assert!(log.iter().all(|r| r.status == 200), "no failed request");
}

/// Entra allows several groups with one display name: reading a named group returns every
/// group holding the name (so the resolver can refuse the ambiguity), and a config key that
/// is an object id is read by id.
#[tokio::test]
async fn named_groups_are_read_by_name_with_every_duplicate_or_by_object_id() {
    let mut tenant = fx::tenant(20);
    for (n, name) in [(3, "Team X"), (4, "Team X"), (5, "Other")] {
        tenant.groups.push(m365ctl::tenant::Group {
            id: fx::id(2, n),
            display_name: name.to_string(),
            licenses: vec![],
            members: vec![fx::id(1, n)],
        });
    }
    tenant.normalize();
    let fake = fx::start(tenant.clone(), SimOptions::default()).await;
    let backend = m365ctl::backend::graph::GraphBackend::with_retry_policy(
        &fake.settings(fx::secret_auth()),
        fx::fast_retries(),
    )
    .expect("backend builds")
    .with_groups(["Team X".to_string(), fx::id(2, 5).to_uppercase()]);
    let live = backend.read().await.expect("read succeeds");
    let mut ids: Vec<&str> = live.groups.iter().map(|g| g.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![fx::e5_group_id(), fx::id(2, 3), fx::id(2, 4), fx::id(2, 5)];
    expected.sort_unstable();
    assert_eq!(
        ids, expected,
        "both Team X groups and Other (by id); not the unnamed plain group"
    );
    let other = live.groups.iter().find(|g| g.id == fx::id(2, 5)).unwrap();
    assert_eq!(other.members, [fx::id(1, 5)]);
    let log = fake.requests();
    assert!(
        log.iter()
            .any(|r| r.path.contains("id%20eq%20") || r.path.contains("id+eq+")),
        "{:#?}",
        log.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}
