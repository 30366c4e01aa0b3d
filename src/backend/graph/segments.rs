//! How a large tenant's users and mailboxes are split into segments read side by side: by the
//! first character of the user principal name, a filter Graph and Exchange both serve
//! without advanced queries.
//!
//! - Graph: `startsWith` on `userPrincipalName` works by default, without `ConsistencyLevel:
//!   eventual` (https://learn.microsoft.com/en-us/graph/aad-advanced-queries, "Support for
//!   filter by properties of Microsoft Entra ID (directory) objects"), `or` joins expressions
//!   by default and comparisons ignore case (https://learn.microsoft.com/en-us/graph/filter-query-parameter,
//!   "Get all users with the name Mary across multiple properties").
//! - Exchange: `Get-Mailbox -Filter "UserPrincipalName -like 'a*'"`, joined by `-or`
//!   (https://learn.microsoft.com/en-us/powershell/exchange/filter-properties,
//!   https://learn.microsoft.com/en-us/powershell/exchange/recipient-filters).
//!
//! The segments cover every first character a user principal name may have (`UPN_INITIALS`).
//! That is Microsoft's documented rule, not a proof about a live directory, so the reader
//! checks the result anyway (the collection count, duplicates, each object in its segment)
//! and reads sequentially when anything disagrees.

/// Every first character of a user principal name: "Characters allowed: A – Z, a - z, 0 – 9,
/// ' . - _ ! # ^ ~" and "The @ character can't be the first character"
/// ("Prepare for directory synchronization to Microsoft 365",
/// https://learn.microsoft.com/en-us/microsoft-365/enterprise/prepare-for-directory-synchronization).
/// Letters in lower case (both services compare ignoring case), the common initials of names
/// first so that dealing them out in turn spreads the large segments apart.
pub const UPN_INITIALS: [char; 44] = [
    's', 'j', 'm', 'a', 'd', 'k', 'c', 'r', 'l', 'b', 't', 'e', 'p', 'g', 'n', 'h', 'v', 'f', 'w',
    'i', 'o', 'y', 'z', 'u', 'q', 'x', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '\'', '.',
    '-', '_', '!', '#', '^', '~',
];

/// Tenants up to this many users are read as one chain of pages: below it the extra requests
/// of the segments (one partial last page each) cost more than the parallelism saves.
pub const SEGMENTED_ABOVE: u64 = 5_000;

/// Graph's page size for users (`$top` 1..999).
const PAGE: u64 = 999;

/// At most this many expressions per filter: Graph's documented cap for `in` ("limited to 15
/// expressions in the filter clause by default", https://learn.microsoft.com/en-us/graph/known-issues),
/// kept for `or` too.
const MAX_TERMS: usize = 15;

/// One segment: the users whose principal name starts with one of `initials` (any case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    initials: Vec<char>,
}

/// The segments for a tenant of `total` users, or `None` to read it as one chain. About one
/// segment per two pages, so the partial last page of each segment adds at most half the
/// sequential page count in requests; at least three (15 initials each), at most one per
/// initial.
pub fn plan(total: u64) -> Option<Vec<Segment>> {
    if total <= SEGMENTED_ABOVE {
        return None;
    }
    let least = UPN_INITIALS.len().div_ceil(MAX_TERMS);
    let count = usize::try_from(total.div_ceil(PAGE) / 2)
        .unwrap_or(usize::MAX)
        .clamp(least, UPN_INITIALS.len());
    let mut segments = vec![Segment::default(); count];
    for (i, initial) in UPN_INITIALS.into_iter().enumerate() {
        segments[i % count].initials.push(initial);
    }
    Some(segments)
}

/// The first character, ASCII letters in lower case (both services ignore case).
fn first(upn: &str) -> Option<char> {
    upn.chars().next().map(|c| c.to_ascii_lowercase())
}

impl Segment {
    /// `startswith(userPrincipalName,'a') or …` for Graph's `$filter` (quotes doubled, as
    /// OData string literals escape them).
    pub fn graph_filter(&self) -> String {
        self.terms(
            |quoted| format!("startswith(userPrincipalName,'{quoted}')"),
            " or ",
        )
    }

    /// `(UserPrincipalName -like 'a*') -or …` for Exchange's `-Filter` (quotes doubled, as
    /// OPATH text values escape them).
    pub fn exchange_filter(&self) -> String {
        self.terms(
            |quoted| format!("(UserPrincipalName -like '{quoted}*')"),
            " -or ",
        )
    }

    fn terms(&self, term: impl Fn(&str) -> String, join: &str) -> String {
        self.initials
            .iter()
            .map(|c| term(&c.to_string().replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(join)
    }

    /// Whether `upn` belongs to this segment: what the filter must have returned.
    pub fn holds(&self, upn: &str) -> bool {
        first(upn).is_some_and(|c| self.initials.contains(&c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_tenants_are_read_as_one_chain() {
        assert_eq!(plan(0), None);
        assert_eq!(plan(SEGMENTED_ABOVE), None);
        assert!(plan(SEGMENTED_ABOVE + 1).is_some());
    }

    #[test]
    fn filters_name_every_initial_of_the_segment_with_quotes_escaped() {
        let segment = Segment {
            initials: vec!['a', '\''],
        };
        assert_eq!(
            segment.graph_filter(),
            "startswith(userPrincipalName,'a') or startswith(userPrincipalName,'''')"
        );
        assert_eq!(
            segment.exchange_filter(),
            "(UserPrincipalName -like 'a*') -or (UserPrincipalName -like '''*')"
        );
    }

    proptest! {
        /// Whatever the tenant size, the segments split the documented initials exactly (each
        /// in one segment), each filter stays within Graph's expression cap, and the number
        /// of segments adds at most half the sequential page count in requests.
        #[test]
        fn segments_partition_the_initials_within_the_request_budget(total in 0u64..3_000_000) {
            let Some(segments) = plan(total) else {
                prop_assert!(total <= SEGMENTED_ABOVE);
                return Ok(());
            };
            let mut seen: Vec<char> = segments.iter().flat_map(|s| s.initials.clone()).collect();
            seen.sort_unstable();
            let mut all = UPN_INITIALS.to_vec();
            all.sort_unstable();
            prop_assert_eq!(seen, all);
            prop_assert!(segments.iter().all(|s| !s.initials.is_empty() && s.initials.len() <= MAX_TERMS));
            let pages = total.div_ceil(PAGE) as usize;
            prop_assert!(segments.len() <= (pages / 2).max(3));
        }

        /// A principal name belongs to exactly one segment when its first character is one
        /// Microsoft allows (in either case), and to none otherwise (the count check then
        /// sends the read back to one chain).
        #[test]
        fn every_name_is_in_exactly_one_segment_or_not_covered(upn in "[a-zA-Z0-9'._!#^~+é€@-]{1,3}@x", total in 5_001u64..200_000) {
            let segments = plan(total).expect("segmented above the threshold");
            let holding = segments.iter().filter(|s| s.holds(&upn)).count();
            let allowed = upn.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c));
            prop_assert_eq!(holding, usize::from(allowed));
        }
    }
}
