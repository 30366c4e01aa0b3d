//! The Graph backend reads exactly the tenant the fake serves, at the documented page cost.

use crate::fx;

use m365ctl::backend::TenantBackend;
use m365ctl::sim::SimOptions;

#[tokio::test]
async fn read_equals_the_served_snapshot() {
    let tenant = fx::tenant(40);
    let fake = fx::start(tenant.clone(), SimOptions::default()).await;
    let live = fx::backend(&fake).read().await.expect("read succeeds");
    let mut expected = tenant;
    // Sizes are read only where they can matter (shared mailboxes, disabled accounts).
    for u in &mut expected.users {
        if let Some(m) = u.mailbox.as_mut()
            && m.kind != m365ctl::tenant::MailboxType::Shared
            && u.account_enabled
        {
            m.size_bytes = 0;
        }
    }
    assert_eq!(live, expected);
    assert!(
        live.users
            .iter()
            .any(|u| u.mailbox.as_ref().is_some_and(|m| m.size_bytes > 0))
    );
}

#[tokio::test]
async fn reading_5000_users_costs_six_user_pages() {
    let fake = fx::start(fx::tenant(5000), SimOptions::default()).await;
    let live = fx::backend(&fake).read().await.expect("read succeeds");
    assert_eq!(live.users.len(), 5000);
    let log = fake.requests();
    let count = |prefix: &str| log.iter().filter(|r| r.path.starts_with(prefix)).count();
    assert_eq!(count("/v1.0/users"), 5000usize.div_ceil(999));
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
    // Get-Mailbox pages of 1,000 plus one statistics call per shared mailbox
    // (every shared mailbox in the fixture belongs to a disabled account).
    let mailboxes = live.users.iter().filter(|u| u.mailbox.is_some()).count();
    let shared = live
        .users
        .iter()
        .filter(|u| {
            u.mailbox
                .as_ref()
                .is_some_and(|m| m.kind == m365ctl::tenant::MailboxType::Shared)
        })
        .count();
    assert_eq!(count("/exo/"), mailboxes.div_ceil(1000) + shared);
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
