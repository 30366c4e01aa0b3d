//! How a large tenant's users and mailboxes are split into segments read side by side: by
//! prefixes of the user principal name, refined from counts until each segment holds about
//! the number of users wanted, so that a directory where most names share a prefix
//! (`user00042…`, `ext_…`, one company's naming scheme) is split as evenly as one with a
//! natural spread of initials.
//!
//! - Graph: `startsWith` on `userPrincipalName` works by default, without `ConsistencyLevel:
//!   eventual` (https://learn.microsoft.com/en-us/graph/aad-advanced-queries, "Support for
//!   filter by properties of Microsoft Entra ID (directory) objects"), `or` joins expressions
//!   by default and comparisons ignore case (https://learn.microsoft.com/en-us/graph/filter-query-parameter,
//!   "Get all users with the name Mary across multiple properties").
//! - Exchange: `Get-Mailbox -Filter "UserPrincipalName -like 'us*'"`, joined by `-or`
//!   (https://learn.microsoft.com/en-us/powershell/exchange/filter-properties,
//!   https://learn.microsoft.com/en-us/powershell/exchange/recipient-filters).
//! - Counts: `GET /users/$count?$filter=startswith(userPrincipalName,'us')` with
//!   `ConsistencyLevel: eventual` (aad-advanced-queries; user-list, "Get only a count of
//!   users"). They are eventually consistent, so they only size the segments: which prefixes
//!   exist is decided by the alphabet below, never by a count (a prefix counted 0 is still in
//!   a segment), and the reader checks the result anyway (the collection count, duplicates,
//!   each object in its segment) and reads sequentially when anything disagrees.
//!
//! The pure part lives here (`Partition`: which prefixes to count next, how counts refine the
//! prefixes, how the prefixes are packed into segments); the backend sends the counts.

/// Every first character of a user principal name: "Characters allowed: A – Z, a - z, 0 – 9,
/// ' . - _ ! # ^ ~" and "The @ character can't be the first character"
/// ("Prepare for directory synchronization to Microsoft 365",
/// https://learn.microsoft.com/en-us/microsoft-365/enterprise/prepare-for-directory-synchronization).
/// Letters in lower case (both services compare ignoring case). The same characters may
/// follow in the local part, which ends at `@`.
pub const UPN_INITIALS: [char; 44] = [
    's', 'j', 'm', 'a', 'd', 'k', 'c', 'r', 'l', 'b', 't', 'e', 'p', 'g', 'n', 'h', 'v', 'f', 'w',
    'i', 'o', 'y', 'z', 'u', 'q', 'x', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '\'', '.',
    '-', '_', '!', '#', '^', '~',
];

/// Tenants up to this many users are read as one chain of pages: below it the extra requests
/// of the segments (one partial last page each, and the counts) cost more than the
/// parallelism saves.
pub const SEGMENTED_ABOVE: u64 = 5_000;

/// Graph's page size for users (`$top` 1..999).
const PAGE: u64 = 999;

/// At most this many expressions per filter: Graph's documented cap for `in` ("limited to 15
/// expressions in the filter clause by default", https://learn.microsoft.com/en-us/graph/known-issues),
/// kept for `or` too.
const MAX_TERMS: usize = 15;

/// About this many segments for a large tenant: the user and mailbox segments (twice this
/// many chains) keep the client's 16 requests in flight busy, and a segment's chain takes at
/// most about half the time all pages take spread over 16 (2N items over 16 in flight against
/// N/24 items in one chain). Fewer, larger prefixes also keep the counts cheap (45 per prefix
/// split) and the partial last pages (at most one per chain) within the request budget
/// (issue 17: twice the page floor).
const SEGMENTS_WANTED: u64 = 24;

/// A prefix this long is not split further: the local part of a principal name has at most
/// 64 characters (https://learn.microsoft.com/en-us/entra/identity/authentication/concept-password-policies,
/// "Username policies"). Only a bound on the counting: such a prefix stays one leaf, which
/// still covers every name under it.
const LONGEST_PREFIX: usize = 64;

/// The prefixes a prefix is split into: the root (`""`) into `UPN_INITIALS`; any other
/// prefix into itself followed by each character of `UPN_INITIALS` or by `@` (the local
/// part may end there). Together they cover every principal name the parent covers, each
/// exactly once (a principal name always goes on after the prefix: the `@` and the domain
/// follow the local part). A prefix holding `@` is never split (the domain's characters are
/// another alphabet), nor one of `LONGEST_PREFIX` characters.
pub fn children(prefix: &str) -> Vec<String> {
    if prefix.is_empty() {
        return UPN_INITIALS.iter().map(char::to_string).collect();
    }
    if !splittable(prefix) {
        return Vec::new();
    }
    UPN_INITIALS
        .iter()
        .chain(['@'].iter())
        .map(|c| format!("{prefix}{c}"))
        .collect()
}

fn splittable(prefix: &str) -> bool {
    !prefix.contains('@') && prefix.chars().count() < LONGEST_PREFIX
}

/// A prefix with the number of users Graph counted under it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counted {
    prefix: String,
    users: u64,
}

/// The directory's prefixes, refined round by round from counts: `to_count` says which
/// prefixes to count, `refine` takes the counts, and once `settled` the prefixes are packed
/// into `segments`.
#[derive(Debug, Clone)]
pub struct Partition {
    /// The users a segment should hold.
    target: u64,
    /// A prefix counted above this is split (when it can be).
    leaf_limit: u64,
    /// Prefixes final: light enough, or not splittable.
    leaves: Vec<Counted>,
    /// Prefixes to split in the next round.
    heavy: Vec<Counted>,
}

impl Partition {
    /// The partition of a tenant of `total` users, or `None` to read it as one chain.
    /// Segments of about `total / SEGMENTS_WANTED` users and at least one page (one full page
    /// and a short one is the quickest chain there is). Prefixes are split until each holds at
    /// most three quarters of `total / SEGMENTS_WANTED` or one and a half pages, whichever is
    /// more, so that packing can balance the segments, but no finer: each split costs a round
    /// of 45 counts, and a limit of a page or less would cost another round for names
    /// numbered by the thousand.
    pub fn start(total: u64) -> Option<Partition> {
        let share = total.div_ceil(SEGMENTS_WANTED);
        (total > SEGMENTED_ABOVE).then(|| Partition {
            target: share.max(PAGE),
            leaf_limit: share.max(2 * PAGE) * 3 / 4,
            leaves: Vec::new(),
            heavy: vec![Counted {
                prefix: String::new(),
                users: total,
            }],
        })
    }

    /// Whether every prefix is final (no more counts to send).
    pub fn settled(&self) -> bool {
        self.heavy.is_empty()
    }

    /// The prefixes to count next: every child of every prefix still too heavy.
    pub fn to_count(&self) -> Vec<String> {
        self.heavy
            .iter()
            .flat_map(|h| children(&h.prefix))
            .collect()
    }

    /// Takes the counts of `to_count`'s prefixes (a prefix missing from `count`: Graph did
    /// not answer it). A prefix whose children were all counted is replaced by them; one
    /// with a child missing stays whole (it still covers its names, only less evenly). The
    /// root cannot stay whole (there is no filter for "every name"): `Err` then, and the read
    /// is one chain.
    pub fn refine(&mut self, count: impl Fn(&str) -> Option<u64>) -> Result<(), String> {
        let leaf_limit = self.leaf_limit;
        for parent in std::mem::take(&mut self.heavy) {
            let kids: Option<Vec<Counted>> = children(&parent.prefix)
                .into_iter()
                .map(|prefix| {
                    let users = count(&prefix)?;
                    Some(Counted { prefix, users })
                })
                .collect();
            match kids {
                Some(kids) => {
                    for kid in kids {
                        if kid.users > leaf_limit && splittable(&kid.prefix) {
                            self.heavy.push(kid);
                        } else {
                            self.leaves.push(kid);
                        }
                    }
                }
                None if parent.prefix.is_empty() => {
                    return Err("Graph did not count the users of every initial".into());
                }
                None => self.leaves.push(parent),
            }
        }
        Ok(())
    }

    /// The most users a segment is packed with: the target plus one prefix.
    fn cap(&self) -> u64 {
        self.target + self.leaf_limit
    }

    /// The prefixes packed into segments (once settled), heaviest first, each into the
    /// lightest segment that has room for another expression (`MAX_TERMS`) and stays within
    /// `cap`, or else a new segment: a segment then holds at most `cap` users (it goes over
    /// the target only by the last prefix put in it, which is at most `leaf_limit`), or one
    /// prefix that cannot be split, so the longest chain of pages is bounded. There are as many segments
    /// as the users or the expressions need, whichever is more: a prefix shared by the whole
    /// directory leaves 44 prefixes counted 0 per character, which must still be read (counts
    /// are eventually consistent), so the heavy prefixes are spread over every segment those
    /// need rather than some segments reading only empty pages.
    pub fn segments(self) -> Vec<Segment> {
        let cap = self.cap();
        let mut leaves = self.leaves;
        leaves.sort_by(|a, b| b.users.cmp(&a.users).then_with(|| a.prefix.cmp(&b.prefix)));
        let counted: u64 = leaves.iter().map(|l| l.users).sum();
        let by_users = usize::try_from(counted.div_ceil(self.target)).unwrap_or(usize::MAX);
        let wanted = by_users.max(leaves.len().div_ceil(MAX_TERMS)).max(1);
        let mut segments = vec![Segment::default(); wanted];
        for leaf in leaves {
            let room = segments
                .iter_mut()
                .filter(|s| {
                    s.prefixes.is_empty()
                        || (s.prefixes.len() < MAX_TERMS && s.users + leaf.users <= cap)
                })
                .min_by_key(|s| s.users);
            let segment = match room {
                Some(segment) => segment,
                None => {
                    segments.push(Segment::default());
                    segments.last_mut().expect("just pushed")
                }
            };
            segment.users += leaf.users;
            segment.prefixes.push(leaf.prefix);
        }
        segments.retain(|s| !s.prefixes.is_empty());
        segments
    }
}

/// One segment: the users whose principal name starts with one of `prefixes` (any case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    prefixes: Vec<String>,
    /// The users counted under the prefixes (a size, not a promise).
    users: u64,
}

impl Segment {
    /// `startswith(userPrincipalName,'us') or …` for Graph's `$filter` (quotes doubled, as
    /// OData string literals escape them).
    pub fn graph_filter(&self) -> String {
        self.terms(graph_term, " or ")
    }

    /// `(UserPrincipalName -like 'us*') -or …` for Exchange's `-Filter` (quotes doubled, as
    /// OPATH text values escape them).
    pub fn exchange_filter(&self) -> String {
        self.terms(
            |prefix| {
                format!(
                    "(UserPrincipalName -like '{}*')",
                    prefix.replace('\'', "''")
                )
            },
            " -or ",
        )
    }

    fn terms(&self, term: impl Fn(&str) -> String, join: &str) -> String {
        self.prefixes
            .iter()
            .map(|p| term(p))
            .collect::<Vec<_>>()
            .join(join)
    }

    /// Whether `upn` belongs to this segment: what the filter must have returned.
    pub fn holds(&self, upn: &str) -> bool {
        self.prefixes
            .iter()
            .any(|p| starts_with_ignoring_case(upn, p))
    }
}

/// `startswith(userPrincipalName,'us')`: one prefix's expression, also what a count filters by.
pub fn graph_term(prefix: &str) -> String {
    format!(
        "startswith(userPrincipalName,'{}')",
        prefix.replace('\'', "''")
    )
}

/// Whether `upn` starts with `prefix` (lower case), ASCII letters compared ignoring case as
/// both services do.
fn starts_with_ignoring_case(upn: &str, prefix: &str) -> bool {
    upn.len() >= prefix.len()
        && upn.is_char_boundary(prefix.len())
        && upn[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A character Microsoft allows in the local part, either case.
    fn local_char() -> impl Strategy<Value = char> {
        prop_oneof![
            proptest::sample::select(UPN_INITIALS.to_vec()),
            proptest::char::range('A', 'Z'),
        ]
    }

    /// Principal names of the documented shape: a local part of allowed characters, `@`, a
    /// domain.
    fn upn() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(local_char(), 1..8),
            "[a-z]{1,4}\\.com",
        )
            .prop_map(|(local, domain)| {
                format!("{}@{domain}", local.into_iter().collect::<String>())
            })
    }

    /// Directories where many names share a long prefix (one naming scheme, heavy initials,
    /// the same local part in several domains) beside scattered ones.
    fn lopsided_directory() -> impl Strategy<Value = Vec<String>> {
        (
            "[a-z][a-z0-9._'-]{0,6}",
            5_001usize..12_000,
            proptest::collection::vec(upn(), 0..300),
            0usize..50,
        )
            .prop_map(|(shared, n, scattered, same_local)| {
                let mut names: Vec<String> = (0..n)
                    .map(|i| format!("{shared}{i:06}@contoso.com"))
                    .collect();
                names.extend((0..same_local).map(|d| format!("{shared}000042@d{d}.com")));
                names.extend(scattered);
                names.sort_unstable_by_key(|n| n.to_ascii_lowercase());
                names.dedup_by_key(|n| n.to_ascii_lowercase());
                names
            })
    }

    /// Runs the partition with exact counts of `names`, as Graph would answer.
    fn partition_of(names: &[String]) -> (Vec<Segment>, usize) {
        let mut partition = Partition::start(names.len() as u64).expect("large enough");
        let mut counted = 0;
        while !partition.settled() {
            let asked = partition.to_count();
            counted += asked.len();
            let counts: BTreeMap<String, u64> = asked
                .into_iter()
                .map(|p| {
                    let n = names
                        .iter()
                        .filter(|u| starts_with_ignoring_case(u, &p))
                        .count();
                    (p, n as u64)
                })
                .collect();
            partition
                .refine(|p| counts.get(p).copied())
                .expect("every count answered");
        }
        (partition.segments(), counted)
    }

    #[test]
    fn small_tenants_are_read_as_one_chain() {
        assert!(Partition::start(0).is_none());
        assert!(Partition::start(SEGMENTED_ABOVE).is_none());
        assert!(Partition::start(SEGMENTED_ABOVE + 1).is_some());
    }

    #[test]
    fn filters_name_every_prefix_of_the_segment_with_quotes_escaped() {
        let segment = Segment {
            prefixes: vec!["o'b".into(), "a".into()],
            users: 0,
        };
        assert_eq!(
            segment.graph_filter(),
            "startswith(userPrincipalName,'o''b') or startswith(userPrincipalName,'a')"
        );
        assert_eq!(
            segment.exchange_filter(),
            "(UserPrincipalName -like 'o''b*') -or (UserPrincipalName -like 'a*')"
        );
    }

    #[test]
    fn a_root_without_counts_sends_the_read_back_to_one_chain_and_a_prefix_stays_whole() {
        let mut partition = Partition::start(100_000).unwrap();
        assert!(partition.refine(|_| None).is_err());
        let mut partition = Partition::start(100_000).unwrap();
        partition
            .refine(|p| Some(if p == "u" { 100_000 } else { 0 }))
            .unwrap();
        assert_eq!(partition.to_count().len(), 45);
        partition.refine(|_| None).unwrap();
        assert!(partition.settled());
        let segments = partition.segments();
        assert_eq!(segments.iter().map(|s| s.prefixes.len()).sum::<usize>(), 44);
        assert!(
            segments
                .iter()
                .any(|s| s.prefixes.contains(&"u".to_string()))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Splitting never loses or doubles a name: for any chain of splits below an initial,
        /// each principal name of the documented shape under the parent is under exactly one
        /// leaf, and under none when it is not under the parent.
        #[test]
        fn leaves_cover_what_their_parent_covers_exactly_once(
            name in upn(),
            path in proptest::collection::vec(0usize..45, 0..6),
        ) {
            let mut parent = String::new();
            let mut leaves = Vec::new();
            for step in path {
                let kids = children(&parent);
                if kids.is_empty() {
                    break;
                }
                let next = kids[step % kids.len()].clone();
                leaves.extend(kids.into_iter().filter(|k| *k != next));
                parent = next;
            }
            leaves.extend(children(&parent));
            if children(&parent).is_empty() {
                leaves.push(parent.clone());
            }
            let holding = leaves.iter().filter(|l| starts_with_ignoring_case(&name, l)).count();
            prop_assert_eq!(holding, 1, "{} under {:?}", name, leaves);
        }

        /// A child is its parent plus one character; the children of one prefix are distinct.
        #[test]
        fn children_extend_their_parent_by_one_character(prefix in "[a-z0-9._'-]{0,10}@?") {
            let kids = children(&prefix);
            let distinct: std::collections::BTreeSet<&String> = kids.iter().collect();
            prop_assert_eq!(distinct.len(), kids.len());
            for kid in &kids {
                prop_assert!(kid.starts_with(&prefix) && kid.chars().count() == prefix.chars().count() + 1);
            }
            prop_assert_eq!(kids.is_empty(), prefix.contains('@'));
        }

        /// On lopsided directories the segments cover every name exactly once, stay within
        /// Graph's expression cap, hold at most `cap` (the target plus the leaf limit) each or one
        /// prefix that cannot be split (the same local part in many domains), and so split a
        /// heavy initial into several segments; the counts cost about one `$batch` per page
        /// plus a few per character of the prefix the whole directory shares (at most 8 here).
        #[test]
        fn segments_of_lopsided_directories_are_balanced_and_cover_each_name_once(names in lopsided_directory()) {
            let (segments, counted) = partition_of(&names);
            for name in &names {
                prop_assert_eq!(segments.iter().filter(|s| s.holds(name)).count(), 1, "{}", name);
            }
            prop_assert!(segments.iter().all(|s| !s.prefixes.is_empty() && s.prefixes.len() <= MAX_TERMS));
            let total = names.len() as u64;
            let cap = Partition::start(total).unwrap().cap();
            for s in &segments {
                let users = names.iter().filter(|n| s.holds(n)).count() as u64;
                prop_assert!(
                    users <= cap || s.prefixes.len() == 1,
                    "{} users in {:?}, cap {}", users, s.prefixes, cap
                );
            }
            let initial = names[names.len() / 2].chars().next().unwrap().to_ascii_lowercase();
            let heavy = names.iter().filter(|n| n.to_ascii_lowercase().starts_with(initial)).count() as u64;
            let holding = segments
                .iter()
                .filter(|s| s.prefixes.iter().any(|p| p.starts_with(initial)))
                .count() as u64;
            prop_assert!(holding >= heavy / cap, "{} names under {} in {} segments", heavy, initial, holding);
            let pages = total.div_ceil(PAGE) as usize;
            prop_assert!(counted.div_ceil(20) <= pages + 3 * 9, "{} counts for {} pages", counted, pages);
        }
    }
}
