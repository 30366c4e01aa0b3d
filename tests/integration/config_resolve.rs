//! Resolution against a live tenant: expansion rules, precedence, tenant errors and warnings.

use m365ctl::desired::{
    DesiredState, LicenseIntent, LicenseSet, UserScope, from_sources, resolve, resolve_taking_users,
};
use m365ctl::diag::{Diagnostic, Severity};
use m365ctl::input::load;
use m365ctl::tenant::{MailboxType, Tenant};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

fn tenant() -> Tenant {
    let text = std::fs::read_to_string("tests/fixtures/configs/tenant.json").expect("fixture");
    serde_json::from_str(&text).expect("tenant fixture parses")
}

const BASE: &str = "[skus]\nE3 = \"ENTERPRISEPACK\"\nE5 = \"ENTERPRISEPREMIUM\"\n[scope]\nmanage_skus = [\"E3\", \"E5\"]\n";

/// Resolves BASE + `extra` (one file, `c.toml`; BASE is 5 lines).
fn run(extra: &str) -> Result<(DesiredState, Vec<Diagnostic>), Vec<Diagnostic>> {
    let config = from_sources(
        &[("c.toml".into(), format!("{BASE}{extra}"))],
        Path::new("."),
    )
    .map_err(|d| panic!("config should load: {d}"))
    .unwrap();
    resolve(&config, &tenant()).map_err(|d| d.0)
}

fn one_error(extra: &str) -> Diagnostic {
    let mut all: Vec<Diagnostic> = run(extra)
        .expect_err("resolve should fail")
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

fn at(d: &Diagnostic) -> String {
    d.origin.as_ref().expect("place").to_string()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn full_fixture_expands_profiles_rules_and_defaults() {
    let config = load(Path::new("tests/fixtures/configs/full.toml")).expect("valid");
    let (state, warnings) = resolve(&config, &tenant()).expect("resolves");
    assert_eq!(warnings, []);
    assert_eq!(
        state.scope.managed_skus,
        set(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"])
    );
    assert_eq!(state.scope.users, UserScope::Declared);
    assert_eq!(state.guards.max_license_removals, 5);
    assert_eq!(
        state.users.keys().collect::<Vec<_>>(),
        [
            "ann@contoso.com",
            "bob@contoso.com",
            "cat@contoso.com",
            "dan@contoso.com"
        ]
    );

    let ann = &state.users["ann@contoso.com"];
    assert_eq!(ann.profile.as_deref(), Some("staff"));
    assert_eq!(
        ann.origin.as_ref().unwrap().to_string(),
        "tests/fixtures/configs/full.toml:37:9"
    );
    let lic = &ann.licenses.as_ref().unwrap()["ENTERPRISEPACK"];
    assert_eq!(lic.disabled_plans, Some(set(&["YAMMER_ENTERPRISE"])));
    // `[defaults] usage_location` fills gaps only: ann already has one in the tenant.
    assert_eq!(ann.usage_location, None);
    assert_eq!(ann.mailbox, Some(MailboxType::User));

    // Higher priority wins; case-insensitive values; list = any of.
    let bob = &state.users["bob@contoso.com"];
    assert_eq!(
        bob.usage_location.as_deref(),
        Some("GB"),
        "bob has no usage location in the tenant: the default fills it"
    );
    assert_eq!(bob.upn, "Bob@contoso.com");
    assert_eq!(bob.profile.as_deref(), Some("manager"));
    let bob_licenses = bob.licenses.as_ref().unwrap();
    assert_eq!(
        bob_licenses.part_numbers().collect::<Vec<_>>(),
        ["ENTERPRISEPREMIUM"]
    );
    assert_eq!(bob_licenses["ENTERPRISEPREMIUM"].disabled_plans, None);
    assert_eq!(bob.mailbox, None);

    let cat = &state.users["cat@contoso.com"];
    assert_eq!(cat.license_intent, LicenseIntent::Keep);
    assert_eq!(cat.licenses, None);
    assert_eq!(cat.mailbox, Some(MailboxType::Shared));

    // Entry overrides the profile's licences, keeps its mailbox.
    let dan = &state.users["dan@contoso.com"];
    assert_eq!(dan.profile.as_deref(), Some("leaver"));
    assert_eq!(
        dan.licenses
            .as_ref()
            .unwrap()
            .part_numbers()
            .collect::<Vec<_>>(),
        ["ENTERPRISEPACK"]
    );
    assert_eq!(dan.mailbox, Some(MailboxType::Shared));

    let group = &state.groups["LIC-E5"];
    assert_eq!(group.members, Some(set(&["eve@contoso.com"])));
    let e5 = &group.licenses.as_ref().unwrap()["ENTERPRISEPREMIUM"];
    assert_eq!(e5.disabled_plans, Some(set(&["YAMMER_ENTERPRISE"])));
}

#[test]
fn omitted_fields_are_not_managed_and_empty_means_none() {
    let (state, _) = run("[profiles.p]\nmailbox = \"user\"\n[profiles.none]\nlicenses = []\n[users.\"ann@contoso.com\"]\nprofile = \"p\"\n[users.\"bob@contoso.com\"]\nprofile = \"none\"\n").expect("ok");
    let ann = &state.users["ann@contoso.com"];
    assert_eq!(ann.licenses, None);
    assert_eq!(ann.usage_location, None);
    assert_eq!(ann.license_intent, LicenseIntent::Exactly);
    let bob = &state.users["bob@contoso.com"];
    assert_eq!(bob.licenses.as_deref(), Some(&LicenseSet::default()));
    assert_eq!(bob.mailbox, None);
}

#[test]
fn user_disabled_plans_merge_over_the_profile_per_sku() {
    let (state, _) = run(
        "[profiles.p]\nlicenses = [\"E3\", \"E5\"]\ndisabled_plans = { E3 = [\"TEAMS1\"], E5 = [\"YAMMER_ENTERPRISE\"] }\n[users.\"ann@contoso.com\"]\nprofile = \"p\"\ndisabled_plans = { E5 = [] }\nusage_location = \"US\"\n",
    )
    .expect("ok");
    let l = state.users["ann@contoso.com"].licenses.clone().unwrap();
    assert_eq!(l["ENTERPRISEPACK"].disabled_plans, Some(set(&["TEAMS1"])));
    assert_eq!(l["ENTERPRISEPREMIUM"].disabled_plans, Some(set(&[])));
    assert_eq!(
        state.users["ann@contoso.com"].usage_location.as_deref(),
        Some("US")
    );
}

#[test]
fn explicit_entry_wins_over_rules() {
    let (state, _) = run("[profiles.a]\nlicenses = [\"E3\"]\n[profiles.b]\nlicenses = [\"E5\"]\n[[rules]]\nmatch = { department = \"sales\" }\nprofile = \"a\"\n[users.\"ann@contoso.com\"]\nprofile = \"b\"\n").expect("ok");
    assert_eq!(state.users["ann@contoso.com"].profile.as_deref(), Some("b"));
    assert_eq!(state.users["bob@contoso.com"].profile.as_deref(), Some("a"));
}

#[test]
fn scope_all_puts_unmatched_users_in_scope_without_licences() {
    let (state, _) =
        run("[profiles.a]\nlicenses = [\"E3\"]\n[users.\"ann@contoso.com\"]\nprofile = \"a\"\n")
            .expect("ok");
    assert_eq!(state.users.len(), 1);
    let config = from_sources(
        &[(
            "c.toml".into(),
            "[skus]\nE3 = \"ENTERPRISEPACK\"\n[scope]\nmanage_skus = [\"E3\"]\nusers = \"all\"\nexclude = [\"CAT@contoso.com\"]\n".into(),
        )],
        Path::new("."),
    )
    .expect("valid");
    let (state, _) = resolve(&config, &tenant()).expect("ok");
    assert_eq!(state.scope.users, UserScope::All);
    assert_eq!(
        state.users.keys().collect::<Vec<_>>(),
        [
            "ann@contoso.com",
            "bob@contoso.com",
            "dan@contoso.com",
            "eve@contoso.com"
        ]
    );
    assert!(
        state
            .users
            .values()
            .all(|u| u.licenses.as_deref() == Some(&LicenseSet::default()) && u.mailbox.is_none())
    );
}

#[test]
fn sku_not_owned_lists_the_tenant_part_numbers() {
    let d = one_error("[profiles.p]\nlicenses = [\"SPE_E5\"]\n");
    assert_eq!(at(&d), "c.toml:7:13");
    assert_eq!(d.message, "the tenant does not own SKU `SPE_E5`");
    assert_eq!(
        d.hint.as_deref(),
        Some("the tenant has: ENTERPRISEPACK, ENTERPRISEPREMIUM, EXCHANGESTANDARD")
    );
}

#[test]
fn licence_outside_manage_skus_is_an_error() {
    let d = one_error("[profiles.p]\nlicenses = [\"EXCHANGESTANDARD\"]\n");
    assert_eq!(at(&d), "c.toml:7:13");
    assert_eq!(
        d.message,
        "licence `EXCHANGESTANDARD` is not in scope.manage_skus"
    );
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .starts_with("add \"EXCHANGESTANDARD\" to scope.manage_skus")
    );
}

#[test]
fn sku_not_enabled_is_a_warning() {
    let config = from_sources(
        &[(
            "c.toml".into(),
            "[scope]\nmanage_skus = [\"EXCHANGESTANDARD\"]\n".into(),
        )],
        Path::new("."),
    )
    .expect("valid");
    let (_, warnings) = resolve(&config, &tenant()).expect("only a warning");
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert_eq!(
        warnings[0].message,
        "SKU `EXCHANGESTANDARD` is Warning in the tenant"
    );
    assert_eq!(at(&warnings[0]), "c.toml:2:16");
}

#[test]
fn disabled_plan_not_in_sku_lists_real_plans() {
    let d =
        one_error("[profiles.p]\nlicenses = [\"E5\"]\ndisabled_plans = { E5 = [\"TEAMS1\"] }\n");
    assert_eq!(at(&d), "c.toml:8:26");
    assert_eq!(
        d.message,
        "service plan `TEAMS1` is not part of ENTERPRISEPREMIUM"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("ENTERPRISEPREMIUM contains: EXCHANGE_S_ENTERPRISE, YAMMER_ENTERPRISE")
    );
}

#[test]
fn disabled_plans_for_an_unlicensed_sku_is_an_error() {
    let d = one_error("[profiles.p]\nlicenses = [\"E3\"]\ndisabled_plans = { E5 = [] }\n");
    assert_eq!(at(&d), "c.toml:8:20");
    assert!(d.message.contains("does not license"), "{}", d.message);
}

#[test]
fn declared_user_missing_from_tenant() {
    let d = one_error("\n[users.\"zed@contoso.com\"]\nmailbox = \"user\"\n");
    assert_eq!(at(&d), "c.toml:7:8");
    assert_eq!(
        d.message,
        "user `zed@contoso.com` does not exist in the tenant"
    );
    assert!(d.hint.as_deref().unwrap().contains("does not create users"));
}

#[test]
fn group_and_member_missing_from_tenant() {
    let all = run("[groups.\"LIC-NOPE\"]\nmembers = []\n[groups.\"LIC-E5\"]\nmembers = [\"eve@contoso.com\", \"ghost@contoso.com\"]\n").expect_err("fails");
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(at(&all[0]), "c.toml:9:31");
    assert_eq!(
        all[0].message,
        "member `ghost@contoso.com` of group `LIC-E5` does not exist in the tenant"
    );
    assert_eq!(at(&all[1]), "c.toml:6:9");
    assert_eq!(
        all[1].message,
        "group `LIC-NOPE` does not exist in the tenant"
    );
}

#[test]
fn equal_priority_rules_naming_different_profiles_conflict() {
    let d = one_error(
        "[profiles.a]\n[profiles.b]\n[[rules]]\nmatch = { department = \"Sales\" }\nprofile = \"a\"\n[[rules]]\nmatch = { department = \"SALES\" }\nprofile = \"b\"\n",
    );
    assert_eq!(at(&d), "c.toml:12:9");
    assert_eq!(
        d.message,
        "rules at c.toml:9:9 (profile `a`) and c.toml:12:9 (profile `b`) both match ann@contoso.com, Bob@contoso.com with priority 0"
    );
}

#[test]
fn equal_priority_rules_naming_the_same_profile_agree() {
    let (state, _) = run("[profiles.a]\n[[rules]]\nmatch = { department = \"Sales\" }\nprofile = \"a\"\n[[rules]]\nmatch = { jobTitle = \"Manager\" }\nprofile = \"a\"\n").expect("ok");
    assert_eq!(state.users["bob@contoso.com"].profile.as_deref(), Some("a"));
}

#[test]
fn rule_matching_nobody_is_a_warning() {
    let (state, warnings) =
        run("[profiles.a]\n[[rules]]\nmatch = { companyName = \"Fabrikam\" }\nprofile = \"a\"\n")
            .expect("ok");
    assert!(state.users.is_empty());
    assert_eq!(warnings.len(), 1);
    assert_eq!(at(&warnings[0]), "c.toml:8:9");
    assert_eq!(warnings[0].message, "rule for profile `a` matches no user");
}

proptest! {
    /// Whatever the directory holds, resolution returns (never panics) and is deterministic.
    #[test]
    fn resolve_never_panics_on_arbitrary_attributes(
        values in proptest::collection::vec(("(department|jobTitle|country|extensionAttribute[0-9]{1,2}|[a-zA-Z]{0,6})", "\\PC{0,12}"), 0..12),
        rule_value in "\\PC{0,8}",
    ) {
        let mut live = tenant();
        for (i, (key, value)) in values.iter().enumerate() {
            let user = &mut live.users[i % 5];
            user.attributes.insert(key.clone(), value.clone());
        }
        let extra = format!(
            "[profiles.a]\nlicenses = [\"E3\"]\n[profiles.b]\n[[rules]]\nmatch = {{ department = {rv} }}\nprofile = \"a\"\n[[rules]]\nmatch = {{ jobTitle = [{rv}, \"x\"] }}\nprofile = \"b\"\npriority = 1\n",
            rv = toml::Value::String(rule_value.clone()),
        );
        let config = from_sources(&[("c.toml".into(), format!("{BASE}{extra}"))], Path::new(".")).expect("valid");
        let first = resolve(&config, &live);
        let second = resolve(&config, &live);
        prop_assert_eq!(first, second);
    }
}

#[test]
fn the_default_usage_location_fills_gaps_and_never_relocates() {
    let (state, _) = run(
        "[defaults]\nusage_location = \"GB\"\n[profiles.p]\nlicenses = [\"E3\"]\n[profiles.in_us]\nlicenses = [\"E3\"]\nusage_location = \"US\"\n[users.\"bob@contoso.com\"]\nprofile = \"p\"\n[users.\"eve@contoso.com\"]\nprofile = \"p\"\n[users.\"ann@contoso.com\"]\nprofile = \"in_us\"\n[users.\"dan@contoso.com\"]\nprofile = \"p\"\nusage_location = \"FR\"\n",
    )
    .expect("ok");
    let location = |upn: &str| state.users[upn].usage_location.clone();
    // bob has none in the tenant: the default fills it.
    assert_eq!(location("bob@contoso.com").as_deref(), Some("GB"));
    // eve is in FR: the default leaves her there.
    assert_eq!(location("eve@contoso.com"), None);
    // A profile's or an entry's location is an instruction and is enforced (ann GB -> US, dan GB -> FR).
    assert_eq!(location("ann@contoso.com").as_deref(), Some("US"));
    assert_eq!(location("dan@contoso.com").as_deref(), Some("FR"));
}

/// Groups named `names[i]` with object ids `00000000-0000-0000-0000-00000000000{i}`.
fn with_groups(names: &[&str]) -> Tenant {
    let mut live = tenant();
    live.groups = names
        .iter()
        .enumerate()
        .map(|(i, name)| m365ctl::tenant::Group {
            id: group_id(i),
            display_name: name.to_string(),
            licenses: vec![],
            members: vec![],
        })
        .collect();
    live.normalize();
    live
}

fn group_id(i: usize) -> String {
    format!("00000000-0000-0000-0000-{i:012}")
}

fn resolve_groups(
    live: &Tenant,
    extra: &str,
) -> Result<(DesiredState, Vec<Diagnostic>), Vec<Diagnostic>> {
    let config = from_sources(
        &[("c.toml".into(), format!("{BASE}{extra}"))],
        Path::new("."),
    )
    .unwrap_or_else(|d| panic!("config should load: {d}"));
    resolve(&config, live).map_err(|d| d.0)
}

#[test]
fn a_display_name_held_by_two_groups_is_an_error_naming_both_ids() {
    let live = with_groups(&["LIC-E5", "Other", "lic-e5"]);
    let all = resolve_groups(&live, "[groups.\"LIC-E5\"]\nmembers = []\n").expect_err("ambiguous");
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(at(&all[0]), "c.toml:6:9");
    assert_eq!(
        all[0].message,
        format!(
            "2 groups are named `LIC-E5` in the tenant (object ids {}, {}): the entry could mean any of them",
            group_id(0),
            group_id(2)
        )
    );
    let hint = all[0].hint.as_deref().expect("hint");
    assert!(
        hint.contains(&format!("id = \"{}\"", group_id(0))),
        "{hint}"
    );
}

#[test]
fn a_group_is_named_by_object_id_or_pinned_by_id() {
    let live = with_groups(&["LIC-E5", "LIC-E5", "Other"]);
    let (state, warnings) = resolve_groups(
        &live,
        &format!(
            "[groups.\"{}\"]\nmembers = []\n[groups.\"LIC-E5\"]\nid = \"{}\"\nmembers = [\"ann@contoso.com\"]\n",
            group_id(0).to_uppercase(),
            group_id(1)
        ),
    )
    .expect("both duplicates are named unambiguously");
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(state.groups[&group_id(0).to_uppercase()].id, group_id(0));
    assert_eq!(state.groups["LIC-E5"].id, group_id(1));
    assert_eq!(
        state.groups["LIC-E5"].members,
        Some(set(&["ann@contoso.com"]))
    );
}

#[test]
fn a_pinned_id_must_exist_belong_to_the_named_group_and_be_declared_once() {
    let live = with_groups(&["LIC-E5", "Other"]);
    let wrong_name = format!("[groups.\"LIC-E5\"]\nid = \"{}\"\n", group_id(1));
    let d = one_error_in(&live, &wrong_name);
    assert_eq!(at(&d), "c.toml:7:6");
    assert_eq!(
        d.message,
        format!("group {} is named `Other`, not `LIC-E5`", group_id(1))
    );

    let missing = format!("[groups.\"{}\"]\n", group_id(7));
    let d = one_error_in(&live, &missing);
    assert_eq!(
        d.message,
        format!("no group in the tenant has object id {}", group_id(7))
    );

    let twice = format!("[groups.\"LIC-E5\"]\n[groups.\"{}\"]\n", group_id(0));
    let d = one_error_in(&live, &twice);
    assert_eq!(
        d.message,
        format!("group `LIC-E5` ({}) is declared twice", group_id(0))
    );
}

#[test]
fn a_group_id_that_is_not_a_guid_is_a_load_error() {
    let e = from_sources(
        &[(
            "c.toml".into(),
            format!("{BASE}[groups.\"LIC-E5\"]\nid = \"g-e5\"\n"),
        )],
        Path::new("."),
    )
    .expect_err("not a GUID");
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(at(&e.0[0]), "c.toml:7:6");
    assert_eq!(e.0[0].message, "`g-e5` is not a group object id");
}

fn one_error_in(live: &Tenant, extra: &str) -> Diagnostic {
    let all = resolve_groups(live, extra).expect_err("resolve should fail");
    assert_eq!(all.len(), 1, "{all:#?}");
    all.into_iter().next().expect("one")
}

/// How one generated `[groups]` entry names its group.
#[derive(Debug, Clone)]
enum Named {
    Name(usize),
    Id(usize),
    NameWithId(usize, usize),
}

proptest! {
    /// Over random tenants whose groups share display names: a name resolves only when
    /// exactly one group holds it; an ambiguous name is an error listing every id holding it;
    /// an id (or a name pinned to an id of a group with that name) resolves to exactly that
    /// group. Nothing is ever resolved to a group the entry did not unambiguously name.
    #[test]
    fn groups_resolve_only_when_the_config_names_exactly_one(
        names in proptest::collection::vec(0usize..3, 1..7),
        entries in proptest::collection::vec(
            prop_oneof![
                (0usize..4).prop_map(Named::Name),
                (0usize..8).prop_map(Named::Id),
                ((0usize..4), (0usize..8)).prop_map(|(n, i)| Named::NameWithId(n, i)),
            ],
            1..4,
        ),
    ) {
        let pool = ["LIC-A", "LIC-B", "LIC-C", "LIC-NONE"];
        let group_names: Vec<&str> = names.iter().map(|&n| pool[n]).collect();
        let live = with_groups(&group_names);
        let holders = |n: usize| -> Vec<String> {
            (0..group_names.len()).filter(|&g| group_names[g] == pool[n]).map(group_id).collect()
        };
        let mut toml = String::new();
        let mut keys = BTreeSet::new();
        let mut expected: Vec<(String, Result<String, String>)> = Vec::new();
        for entry in &entries {
            let (key, body, outcome) = match *entry {
                Named::Name(n) => {
                    let ids = holders(n);
                    let outcome = match ids.as_slice() {
                        [] => Err("does not exist".to_string()),
                        [one] => Ok(one.clone()),
                        several => Err(several.join(", ")),
                    };
                    (pool[n].to_string(), String::new(), outcome)
                }
                Named::Id(i) => {
                    let outcome = if i < group_names.len() { Ok(group_id(i)) } else { Err("no group".to_string()) };
                    (group_id(i), String::new(), outcome)
                }
                Named::NameWithId(n, i) => {
                    let outcome = match group_names.get(i) {
                        None => Err("no group".to_string()),
                        Some(name) if *name == pool[n] => Ok(group_id(i)),
                        Some(_) => Err("is named".to_string()),
                    };
                    (pool[n].to_string(), format!("id = \"{}\"\n", group_id(i)), outcome)
                }
            };
            if !keys.insert(key.clone()) {
                continue; // one TOML table per key
            }
            toml.push_str(&format!("[groups.\"{key}\"]\n{body}"));
            expected.push((key, outcome));
        }
        let mut resolved_ids = BTreeSet::new();
        let twice = expected.iter().filter_map(|(_, o)| o.as_ref().ok()).any(|id| !resolved_ids.insert(id.clone()));
        match resolve_groups(&live, &toml) {
            Ok((state, _)) => {
                prop_assert!(!twice);
                for (key, outcome) in &expected {
                    let id = outcome.as_ref().map_err(|e| TestCaseError::fail(format!("{key} resolved although {e}")))?;
                    prop_assert_eq!(&state.groups[key].id, id);
                }
            }
            Err(diags) => {
                let failing: Vec<&String> = expected.iter().filter_map(|(_, o)| o.as_ref().err()).collect();
                prop_assert!(twice || !failing.is_empty(), "{diags:#?}");
                for why in failing {
                    prop_assert!(diags.iter().any(|d| d.message.contains(why.as_str())), "{why} not in {diags:#?}");
                }
            }
        }
    }
}

#[test]
fn an_entrys_disabled_plans_for_a_sku_the_user_does_not_get_is_an_error() {
    for (licenses, why) in [
        ("", "their licences are not managed"),
        ("licenses = \"keep\"\n", "their licences are \"keep\""),
        ("profile = \"e5\"\n", "their licences do not include `E3`"),
    ] {
        let d = one_error(&format!(
            "[profiles.e5]\nlicenses = [\"E5\"]\n[users.\"ann@contoso.com\"]\n{licenses}disabled_plans = {{ E3 = [\"YAMMER_ENTERPRISE\"] }}\n"
        ));
        assert_eq!(
            d.message,
            format!(
                "disabled_plans for `E3` would have no effect on user `ann@contoso.com`: {why}"
            ) + if why.ends_with("managed") {
                " (no `licenses` in the entry or its profile)"
            } else {
                ""
            }
        );
        let line = if licenses.is_empty() { 9 } else { 10 };
        assert_eq!(at(&d), format!("c.toml:{line}:20"), "{licenses}");
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .contains("add \"E3\" to licenses")
        );
    }
}

#[test]
fn a_profiles_disabled_plans_must_apply_to_at_least_one_of_its_users() {
    // ann overrides the licences, bob (by rule) holds E3: the profile's entry applies to bob.
    let (state, _) = run(
        "[profiles.staff]\nlicenses = [\"E3\"]\ndisabled_plans = { E3 = [\"YAMMER_ENTERPRISE\"] }\n[[rules]]\nmatch = { department = \"Sales\" }\nprofile = \"staff\"\n[users.\"ann@contoso.com\"]\nprofile = \"staff\"\nlicenses = [\"E5\"]\n",
    )
    .expect("applies to the rule's users");
    assert!(
        state.users["ann@contoso.com"]
            .licenses
            .as_ref()
            .unwrap()
            .get("ENTERPRISEPACK")
            .is_none()
    );
    // Without licences in the profile, neither ann nor the rule's users get E3.
    let d = one_error(
        "[profiles.staff]\ndisabled_plans = { E3 = [\"YAMMER_ENTERPRISE\"] }\n[[rules]]\nmatch = { department = \"Sales\" }\nprofile = \"staff\"\n[users.\"ann@contoso.com\"]\nprofile = \"staff\"\nlicenses = [\"E5\"]\n",
    );
    assert_eq!(at(&d), "c.toml:7:20");
    assert!(
        d.message.starts_with(
            "disabled_plans for `E3` would have no effect on no user of the profile gets it ("
        ),
        "{}",
        d.message
    );
}

#[test]
fn a_groups_disabled_plans_for_a_sku_it_does_not_license_is_an_error() {
    for (licenses, why) in [
        ("", "its licences are not managed (no `licenses`)"),
        ("licenses = [\"E3\"]\n", "its licences do not include `E5`"),
    ] {
        let d = one_error(&format!(
            "[groups.\"LIC-E5\"]\n{licenses}disabled_plans = {{ E5 = [\"YAMMER_ENTERPRISE\"] }}\n"
        ));
        assert_eq!(
            d.message,
            format!("disabled_plans for `E5` would have no effect on group `LIC-E5`: {why}")
        );
        assert!(at(&d).ends_with(":20"), "{}", at(&d));
    }
}

/// A generated profile/entry field: not set, a list, or "keep".
fn licenses_field(choice: u8) -> &'static str {
    [
        "",
        "licenses = [\"E3\"]\n",
        "licenses = [\"E5\"]\n",
        "licenses = [\"E3\", \"E5\"]\n",
        "licenses = \"keep\"\n",
    ][usize::from(choice)]
}

fn disabled_field(choice: u8) -> &'static str {
    [
        "",
        "disabled_plans = { E3 = [\"YAMMER_ENTERPRISE\"] }\n",
        "disabled_plans = { E5 = [\"YAMMER_ENTERPRISE\"] }\n",
    ][usize::from(choice)]
}

/// The SKUs a licences field lists (`None` = not managed or "keep").
fn listed(choice: u8) -> Option<Vec<&'static str>> {
    match choice {
        1 => Some(vec!["E3"]),
        2 => Some(vec!["E5"]),
        3 => Some(vec!["E3", "E5"]),
        _ => None,
    }
}

proptest! {
    /// Over every combination of a profile's and a user entry's `licenses` and
    /// `disabled_plans` (one user of the profile): resolution reports a disabled_plans error
    /// exactly when some declared disabled plans cannot apply: the table that declares them
    /// lists licences without the SKU, or the user's resulting licences lack it.
    #[test]
    fn disabled_plans_resolve_only_when_they_take_effect(
        profile_lic in 0u8..5, profile_dis in 0u8..3, entry_lic in 0u8..5, entry_dis in 0u8..3,
    ) {
        let extra = format!(
            "[profiles.p]\n{}{}[users.\"ann@contoso.com\"]\nprofile = \"p\"\n{}{}",
            licenses_field(profile_lic), disabled_field(profile_dis),
            licenses_field(entry_lic), disabled_field(entry_dis),
        );
        let sku = |d: u8| ["", "E3", "E5"][usize::from(d)];
        let effective = if entry_lic == 0 { listed(profile_lic) } else { listed(entry_lic) };
        let gets = |d: u8| effective.as_ref().is_some_and(|l| l.contains(&sku(d)));
        let own_table_lacks = |lic: u8, d: u8| listed(lic).is_some_and(|l| !l.contains(&sku(d)));
        let entry_bad = entry_dis > 0 && (own_table_lacks(entry_lic, entry_dis) || !gets(entry_dis));
        let profile_bad = profile_dis > 0
            && (own_table_lacks(profile_lic, profile_dis) || (profile_dis != entry_dis && !gets(profile_dis)));
        let diagnostics = match run(&extra) {
            Ok((_, warnings)) => warnings,
            Err(errors) => errors,
        };
        let reported = diagnostics
            .iter()
            .filter(|d| d.is_error() && d.message.contains("disabled_plans"))
            .count();
        prop_assert_eq!(reported > 0, entry_bad || profile_bad, "{}\n{:#?}", extra, diagnostics);
        prop_assert!(reported <= usize::from(entry_bad) + usize::from(profile_bad), "{:#?}", diagnostics);
    }
}

/// A `[users]` entry for the equivalence below: a live user (any case) or an unknown one,
/// with a profile, licences (one of them unowned or unmanaged) or nothing.
fn user_entry(upn: u8, settings: u8) -> String {
    let upn = [
        "ann@contoso.com",
        "bob@contoso.com",
        "Cat@Contoso.com",
        "dan@contoso.com",
        "eve@contoso.com",
        "zed@contoso.com",
        "ann@fabrikam.com",
    ][usize::from(upn % 7)];
    let settings = [
        "",
        "profile = \"a\"\n",
        "licenses = [\"E5\"]\nusage_location = \"FR\"\n",
        "licenses = [\"ENTERPRISEPACK\", \"E5\"]\nmailbox = \"shared\"\n",
        "licenses = \"keep\"\n",
        "licenses = [\"EXCHANGESTANDARD\"]\n",
    ][usize::from(settings % 6)];
    format!("[users.{upn:?}]\n{settings}")
}

proptest! {
    /// Over configs with declared users (live, unknown, excluded, repeated in other case),
    /// rules and either user scope: resolving while taking the `[users]` entries (what `plan`
    /// does, to free them as they are resolved) gives exactly `resolve`'s desired state and
    /// diagnostics, and leaves the config without entries.
    #[test]
    fn taking_the_entries_resolves_as_borrowing_them(
        entries in proptest::collection::vec((any::<u8>(), any::<u8>()), 0..8),
        all_users in any::<bool>(),
        exclude in proptest::option::of(0u8..5),
        rule in any::<bool>(),
    ) {
        let excluded = exclude.map_or(String::new(), |i| {
            format!("exclude = [\"{}\"]\n", ["ann", "bob", "cat", "dan", "eve"][usize::from(i)])
                .replace("\"]", "@contoso.com\"]")
        });
        let mut extra = format!(
            "users = {:?}\n{excluded}[profiles.a]\nlicenses = [\"E3\"]\n",
            if all_users { "all" } else { "declared" },
        );
        if rule {
            extra.push_str("[[rules]]\nmatch = { department = \"sales\" }\nprofile = \"a\"\n");
        }
        let mut seen = BTreeSet::new();
        for (upn, settings) in entries {
            let entry = user_entry(upn, settings);
            // A key declared twice is a load error, tested elsewhere; here each once.
            if seen.insert(entry.lines().next().map(str::to_lowercase)) {
                extra.push_str(&entry);
            }
        }
        let mut config = from_sources(&[("c.toml".into(), format!("{BASE}{extra}"))], Path::new("."))
            .map_err(|d| TestCaseError::fail(format!("{extra}\n{d}")))?;
        let live = tenant();
        let declared: Vec<(String, m365ctl::diag::Origin)> = config
            .users
            .iter()
            .map(|(key, entry)| (key.clone(), entry.origin.clone()))
            .collect();
        let borrowed = resolve(&config, &live);
        let taken = resolve_taking_users(&mut config, &live);
        prop_assert_eq!(&taken, &borrowed, "{}", extra);
        prop_assert!(config.users.is_empty());
        // A declared user is resolved from their entry, never from a rule that also matches.
        if let Ok((state, _)) = &taken {
            for (key, origin) in &declared {
                if let Some(user) = state.users.get(key) {
                    prop_assert_eq!(user.origin.as_ref(), Some(origin), "{}", key);
                }
            }
        }
    }
}
