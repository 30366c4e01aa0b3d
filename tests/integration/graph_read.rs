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
