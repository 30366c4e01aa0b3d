//! Property tests over random tenants whose licensing groups share display names and whose
//! inherited assignments are in random error states: the planner acts on exactly the groups
//! the desired state names (by object id), shows two groups as two, and reports every failing
//! assignment the desired state wants (and nothing else) as drift.

use super::testkit::*;
use super::*;
use crate::desired::DesiredState;
use crate::plan::ops::{AddGroupMember, AssignGroupLicenses, RemoveGroupMember};
use crate::tenant::Tenant;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

const USERS: usize = 5;
const NAMES: [&str; 2] = ["LIC-A", "LIC-B"];
const STATES: [(&str, Option<&str>); 4] = [
    ("Active", None),
    ("Error", Some("CountViolation")),
    ("ActiveWithError", Some("UniquenessViolation")),
    ("Error", Some("MutuallyExclusiveViolation")),
];

#[derive(Debug, Clone)]
struct GroupCase {
    name: usize,
    e3: bool,
    want_e3: bool,
    members: u8,
    /// 0 = not declared, 1 = licences declared, 2 = members declared, 3 = both.
    declared: u8,
    want_members: u8,
}

fn group_case() -> impl Strategy<Value = GroupCase> {
    (
        0..NAMES.len(),
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
        0u8..4,
        any::<u8>(),
    )
        .prop_map(
            |(name, e3, want_e3, members, declared, want_members)| GroupCase {
                name,
                e3,
                want_e3,
                members,
                declared,
                want_members,
            },
        )
}

fn members(mask: u8) -> Vec<String> {
    (0..USERS)
        .filter(|i| mask & (1 << i) != 0)
        .map(generated_upn)
        .collect()
}

/// A tenant with groups `G{i}` renamed to shared names, inherited states from `states`
/// (one per user and group), and the desired state declaring groups by object id.
fn build(groups: &[GroupCase], states: &[usize]) -> (Tenant, DesiredState) {
    let mut b = TenantBuilder::new().sku("ENTERPRISEPACK", 50);
    for i in 0..USERS {
        // No mailboxes: Exchange rules are not what this property is about.
        b = b.user(&generated_upn(i), &[]).mailbox(None, 0);
    }
    for (gi, g) in groups.iter().enumerate() {
        let m = members(g.members);
        let m: Vec<&str> = m.iter().map(String::as_str).collect();
        let skus: &[&str] = if g.e3 { &["ENTERPRISEPACK"] } else { &[] };
        b = b.group(&format!("G{gi}"), skus, &m);
    }
    let mut live = b.build();
    for g in &mut live.groups {
        let gi: usize = g.display_name[1..].parse().expect("G{i}");
        g.display_name = NAMES[groups[gi].name].to_string();
    }
    for (ui, user) in live.users.iter_mut().enumerate() {
        for l in &mut user.licenses {
            let gi: usize = l.assigned_by_group.as_deref().unwrap()["gid-G".len()..]
                .parse()
                .unwrap();
            let (state, error) = STATES[states[(ui * 7 + gi) % states.len()]];
            l.state = state.to_string();
            l.error = error.map(str::to_string);
        }
    }
    live.recount_consumed();
    live.normalize();
    let mut d = desired(&["ENTERPRISEPACK"]);
    for (gi, g) in groups.iter().enumerate().filter(|(_, g)| g.declared > 0) {
        let wanted = members(g.want_members);
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let skus: &[&str] = if g.want_e3 { &["ENTERPRISEPACK"] } else { &[] };
        let key = format!("G{gi}");
        want_group(&mut d, &key, skus, (g.declared >= 2).then_some(&wanted[..]));
        if g.declared == 2 {
            d.groups.get_mut(&key).expect("declared").licenses = None;
        }
    }
    (live, d)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn groups_are_acted_on_by_id_and_failing_assignments_are_drift(
        groups in proptest::collection::vec(group_case(), 1..5),
        states in proptest::collection::vec(0..STATES.len(), 1..8),
    ) {
        let (live, d) = build(&groups, &states);
        let p = plan(&d, &live);
        let declared: BTreeSet<&str> = d.groups.values().map(|g| g.id.as_str()).collect();
        let mut labels: HashMap<&str, &str> = HashMap::new();
        for op in &p.operations {
            let (group_id, label) = match &op.kind {
                OpKind::AssignGroupLicenses(AssignGroupLicenses { group_id, group, .. })
                | OpKind::AddGroupMember(AddGroupMember { group_id, group, .. })
                | OpKind::RemoveGroupMember(RemoveGroupMember { group_id, group, .. }) => (group_id.as_str(), group.as_str()),
                _ => continue,
            };
            prop_assert!(declared.contains(group_id), "{} acts on undeclared {group_id}", op.id);
            // One label per group, and two groups never share one.
            prop_assert_eq!(*labels.entry(group_id).or_insert(label), label);
            prop_assert_eq!(labels.values().filter(|l| **l == label).count(), 1, "{}", label);
        }
        prop_assert!(!p.has_errors(), "{:#?}", p.diagnostics);
        // Drift: exactly the failing assignments of declared group licences whose member stays.
        let mut expected = BTreeSet::new();
        for (gi, g) in groups.iter().enumerate() {
            let keeps_e3 = g.e3 && (g.declared % 2 == 0 || g.want_e3);
            let wants_e3 = g.declared % 2 == 1 && g.want_e3;
            if !(keeps_e3 && wants_e3) {
                continue;
            }
            let group_id = gid(&format!("G{gi}"));
            for ui in (0..USERS).filter(|u| g.members & (1 << u) != 0) {
                let stays = g.declared < 2 || g.want_members & (1 << ui) != 0;
                let user = live.user(&uid(&generated_upn(ui))).expect("user");
                let l = user
                    .licenses
                    .iter()
                    .find(|l| l.assigned_by_group.as_deref() == Some(group_id.as_str()))
                    .expect("inherited");
                if (l.state != "Active" || l.error.is_some()) && stays {
                    expected.insert((generated_upn(ui), group_id.clone()));
                }
            }
        }
        let reported: BTreeSet<(String, String)> = p
            .license_errors
            .iter()
            .map(|e| {
                let id = live.groups.iter().find(|g| e.group == g.display_name || e.group == format!("{} ({})", g.display_name, g.id)).map(|g| g.id.clone()).unwrap_or_default();
                (e.upn.clone(), id)
            })
            .collect();
        prop_assert_eq!(&reported, &expected);
        prop_assert_eq!(p.in_sync(), p.operations.is_empty() && expected.is_empty());
    }
}
