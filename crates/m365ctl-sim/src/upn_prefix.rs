//! `startswith(userPrincipalName,'p')` counted as a range of the user list instead of a scan.
//!
//! Graph answers such a count from its directory index; a fake that scans 100,000 users for
//! each of the hundreds of prefix counts a segmented read asks would measure its own CPU, not
//! the client. The fake's users are kept in UPN order (ASCII case-insensitive, as the tenant
//! model normalises them), so the users holding a prefix are one contiguous run found by two
//! binary searches. When the order is not known to hold (a test changed the tenant), the
//! caller scans as before: same answers either way.

use crate::tenant::User;
use std::cmp::Ordering;

/// Whether `users` are in ASCII case-insensitive UPN order, the order `count` needs.
pub(super) fn sorted(users: &[User]) -> bool {
    users.is_sorted_by(|a, b| {
        compare(&a.user_principal_name, &b.user_principal_name) != Ordering::Greater
    })
}

/// The users of `users` (sorted: `sorted(users)`) whose UPN starts with `prefix`, ASCII
/// letters compared ignoring case as Graph does on directory objects.
pub(super) fn count(users: &[User], prefix: &str) -> usize {
    let first =
        users.partition_point(|u| compare(&u.user_principal_name, prefix) == Ordering::Less);
    users[first..].partition_point(|u| starts_with(&u.user_principal_name, prefix))
}

/// UPNs compared byte by byte with ASCII letters folded to lower case.
fn compare(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Whether `upn` starts with `prefix`, ASCII letters folded.
fn starts_with(upn: &str, prefix: &str) -> bool {
    upn.len() >= prefix.len()
        && upn.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{CollectionQuery, USER};
    use proptest::prelude::*;

    fn user(upn: String) -> User {
        User {
            id: String::new(),
            user_principal_name: upn,
            display_name: None,
            account_enabled: true,
            usage_location: None,
            on_premises_sync_enabled: false,
            attributes: Default::default(),
            licenses: Vec::new(),
            mailbox: None,
        }
    }

    /// The scan the fake runs for any `$filter`: the answer the range must equal.
    fn scanned(users: &[User], prefix: &str) -> usize {
        let filter = format!(
            "startswith(userPrincipalName,'{}')",
            prefix.replace('\'', "''")
        );
        let query = [
            ("$filter".to_string(), filter),
            ("$count".into(), "true".into()),
        ];
        CollectionQuery::parse(&USER, &query, true)
            .expect("a startswith filter parses")
            .apply(users)
            .len()
    }

    /// Local parts over a small alphabet (so prefixes collide), both cases, a quote, a dot,
    /// a digit and a non-ASCII letter.
    fn upn() -> impl Strategy<Value = String> {
        "[abAB'.0é]{0,5}".prop_map(|local| format!("{local}@contoso.com"))
    }

    proptest! {
        #[test]
        fn the_range_counts_what_the_scan_counts(
            upns in proptest::collection::vec(upn(), 0..40),
            prefix in "[abAB'.0é@]{0,4}",
        ) {
            let mut users: Vec<User> = upns.into_iter().map(user).collect();
            users.sort_by(|a, b| compare(&a.user_principal_name, &b.user_principal_name));
            prop_assert!(sorted(&users));
            prop_assert_eq!(count(&users, &prefix), scanned(&users, &prefix));
        }
    }
}
