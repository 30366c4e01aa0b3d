//! Export round trip: the exported config, loaded and resolved against the same tenant,
//! asks for exactly what the tenant already has, for every generated tenant; and it is a
//! config people can maintain (profiles, rules, entries only for what differs).

use m365ctl::desired::export::{ExportOptions, to_toml};
use m365ctl::desired::{from_sources, resolve};
use m365ctl::synth::{SynthSpec, generate};
use m365ctl::tenant::{GroupLicense, LicenseAssignment, Mailbox, MailboxType, Tenant};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use std::path::Path;

fn fixture() -> Tenant {
    let text = std::fs::read_to_string("tests/fixtures/configs/tenant.json").expect("fixture");
    serde_json::from_str(&text).expect("tenant fixture parses")
}

fn export(live: &Tenant) -> Vec<(String, String)> {
    to_toml(
        live,
        ExportOptions {
            tenant_table: Some(
                "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"".into(),
            ),
        },
    )
}

/// Loads the exported files, resolves and plans them against `live`: the plan must be empty
/// and free of errors. Returns the files for further checks.
fn assert_round_trip(live: &Tenant) -> Vec<(String, String)> {
    let files = export(live);
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(name, text)| (format!("export/{name}"), text.clone()))
        .collect();
    let config = from_sources(&sources, Path::new("export"))
        .unwrap_or_else(|e| panic!("exported config loads: {e}\n{}", dump(&files)));
    let (state, _) =
        resolve(&config, live).unwrap_or_else(|e| panic!("resolves: {e}\n{}", dump(&files)));
    let plan = m365ctl::plan::plan(&state, live);
    assert!(
        plan.is_empty(),
        "{:#?}\n{}",
        plan.operations.first(),
        dump(&files)
    );
    let errors: Vec<_> = plan.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", dump(&files));
    for (name, text) in &files {
        assert!(
            text.starts_with("#:schema ./m365ctl.schema.json\n"),
            "{name}"
        );
    }
    files
}

fn dump(files: &[(String, String)]) -> String {
    files
        .iter()
        .map(|(n, t)| format!("--- {n}\n{t}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn text<'a>(files: &'a [(String, String)], name: &str) -> &'a str {
    files
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t.as_str())
        .unwrap_or_else(|| panic!("{name} exported"))
}

/// A generated tenant made messier than `synth` makes it: disabled plans on direct
/// assignments, shared, room and mailbox-less users, a group licence for a SKU others hold
/// directly, attribute values in mixed case and with spaces, job titles.
fn messy_tenant(spec: &SynthSpec, seed: u64) -> Tenant {
    let mut live = generate(spec).tenant;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let e3 = live
        .skus
        .iter()
        .find(|s| s.sku_part_number == "ENTERPRISEPACK")
        .expect("synthetic E3")
        .clone();
    let titles = ["Engineer", "engineer ", "Manager", "Clerk"];
    for user in &mut live.users {
        if rng.random_bool(0.2) {
            let title = titles[rng.random_range(0..titles.len())];
            user.attributes.insert("jobTitle", title);
        }
        if rng.random_bool(0.1)
            && let Some(department) = user.attributes.get("department").map(str::to_uppercase)
        {
            user.attributes
                .insert("department", format!(" {department} "));
        }
        if rng.random_bool(0.15)
            && let Some(direct) = user
                .licenses
                .iter_mut()
                .find(|l| l.sku_id == e3.sku_id && l.assigned_by_group.is_none())
        {
            let plan = &e3.service_plans[rng.random_range(0..e3.service_plans.len())];
            direct.disabled_plans = vec![plan.service_plan_id.clone()];
        }
        match rng.random_range(0..12) {
            0 => user.mailbox = None,
            1 => {
                user.mailbox = Some(Mailbox {
                    kind: MailboxType::Shared,
                    size_bytes: Some(1 << 30),
                    archive_enabled: Some(false),
                    litigation_hold: Some(false),
                })
            }
            2 => {
                user.licenses.clear();
                user.mailbox = Some(Mailbox {
                    kind: MailboxType::Room,
                    size_bytes: Some(0),
                    archive_enabled: Some(false),
                    litigation_hold: Some(false),
                });
            }
            _ => {}
        }
        // Blocked accounts (leavers, shared mailboxes' accounts): exported as sign_in.
        if rng.random_bool(0.1) {
            user.account_enabled = false;
        }
    }
    // A group giving E3, which others hold directly: members must list E3 too.
    if let Some(group) = live.groups.first_mut() {
        group.licenses.push(GroupLicense {
            sku_id: e3.sku_id.clone(),
            disabled_plans: Vec::new(),
        });
        let group_id = group.id.clone();
        let members = group.members.clone();
        for user in &mut live.users {
            if members.contains(&user.id) {
                user.licenses.push(LicenseAssignment {
                    sku_id: e3.sku_id.clone(),
                    disabled_plans: Vec::new(),
                    assigned_by_group: Some(group_id.clone()),
                    state: "Active".to_string(),
                    error: None,
                });
            }
        }
    }
    live.recount_consumed();
    for sku in &mut live.skus {
        sku.enabled = sku.enabled.max(sku.consumed);
    }
    live.normalize();
    live
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The safety property of export: whatever the tenant, planning its export against it
    /// changes nothing and reports no error.
    #[test]
    fn planning_the_export_of_any_generated_tenant_is_empty(
        users in 1usize..160,
        groups in 0usize..5,
        licensed in 0usize..5,
        change_rate in 0.0f64..0.4,
        seed in any::<u64>(),
        mess in any::<u64>(),
    ) {
        let spec = SynthSpec {
            users,
            groups,
            licensed_groups: licensed.min(groups),
            change_rate,
            seed,
        };
        assert_round_trip(&messy_tenant(&spec, mess));
    }
}

/// A blocked account is stated (`sign_in = "blocked"`, in its profile), an allowed one is
/// left unmanaged, and the export still plans to nothing.
#[test]
fn blocked_sign_in_is_exported_and_plans_empty() {
    let mut live = fixture();
    let before = dump(&assert_round_trip(&live));
    assert!(!before.contains("sign_in"), "{before}");
    for user in live.users.iter_mut().filter(|u| {
        u.mailbox
            .as_ref()
            .is_some_and(|m| m.kind == MailboxType::Shared)
    }) {
        user.account_enabled = false;
    }
    let after = dump(&assert_round_trip(&live));
    assert!(after.contains("sign_in = \"blocked\""), "{after}");
}

/// A disabled plan the SKU does not list cannot be named: that SKU's disabled plans are left
/// unmanaged rather than written without it (which would ask to enable it).
#[test]
fn a_disabled_plan_that_cannot_be_named_leaves_the_skus_plans_unmanaged() {
    let mut live = fixture();
    let e3 = live
        .skus
        .iter()
        .find(|s| s.sku_part_number == "ENTERPRISEPACK")
        .unwrap()
        .clone();
    let ann = live
        .users
        .iter_mut()
        .find(|u| u.user_principal_name == "ann@contoso.com")
        .unwrap();
    let direct = ann
        .licenses
        .iter_mut()
        .find(|l| l.sku_id == e3.sku_id)
        .unwrap();
    direct.disabled_plans = vec![
        e3.service_plans[0].service_plan_id.clone(),
        "00000000-dead-beef-0000-000000000000".to_string(),
    ];
    live.normalize();
    let files = assert_round_trip(&live);
    assert!(
        !text(&files, "users.toml").contains("disabled_plans.E3"),
        "{}",
        dump(&files)
    );
}

#[test]
fn export_is_deterministic() {
    assert_eq!(export(&fixture()), export(&fixture()));
}

#[test]
fn the_fixture_round_trips_with_profiles_and_one_member_per_line() {
    let files = assert_round_trip(&fixture());
    let licensing = text(&files, "licensing.toml");
    assert!(
        licensing.contains("E3 = \"ENTERPRISEPACK\"\n"),
        "{licensing}"
    );
    assert!(
        licensing.contains("EXO_P1 = \"EXCHANGESTANDARD\"\n"),
        "{licensing}"
    );
    assert!(
        licensing.contains("[profiles.leaver]\nlicenses = []\nmailbox = \"shared\"\n"),
        "{licensing}"
    );
    let tenant = text(&files, "m365ctl.toml");
    assert!(
        tenant.ends_with("[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n"),
        "{tenant}"
    );
    let users = text(&files, "users.toml");
    assert!(
        users.contains("[users.\"ann@contoso.com\"]\nlicenses = [\"E3\"]\ndisabled_plans.E3 = [\"YAMMER_ENTERPRISE\"]\n"),
        "{users}"
    );
}

/// On a synthetic tenant the rules carry everyone who follows them: users.toml holds only
/// the users whose licences differ from their kind's (the synthetic change rate), and a
/// 20,000-user export is under a tenth of the 113,499 lines the per-user export wrote.
#[test]
fn a_generated_20k_tenant_exports_to_rules_and_exceptions_and_plans_empty() {
    let synth = generate(&SynthSpec::benchmark(20_000));
    let files = assert_round_trip(&synth.tenant);
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    assert!(lines <= 113_499 / 10, "{lines} lines");
    let licensing = text(&files, "licensing.toml");
    for kind in ["FTE", "Manager", "Frontline", "Contractor"] {
        assert!(
            licensing.contains(&format!("match = {{ extensionAttribute1 = \"{kind}\" }}")),
            "{licensing}"
        );
    }
    let entries = text(&files, "users.toml").matches("[users.").count();
    assert!(
        entries <= synth.changed_users,
        "{entries} entries for {} changed users",
        synth.changed_users
    );
    // Membership lists are one UPN per line: the longest line stays short.
    let longest = files
        .iter()
        .flat_map(|(_, t)| t.lines())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest < 200, "longest line {longest}");
    eprintln!("20,000 users: {lines} lines, {entries} user entries");
}

#[test]
fn groups_sharing_a_display_name_are_exported_by_object_id_and_plan_to_nothing() {
    let mut live = fixture();
    let (first, second) = (
        "3f2b6c1e-8d4a-4c5e-9b7f-0a1d2e3f4a5b",
        "0c9e1d2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
    );
    live.groups[0].id = first.to_string();
    let mut twin = live.groups[0].clone();
    twin.id = second.to_string();
    twin.members = vec!["u-cat".to_string()];
    live.groups.push(twin);
    let inherited = live.users[4].licenses.clone();
    for user in &mut live.users {
        for l in &mut user.licenses {
            if l.assigned_by_group.as_deref() == Some("g-e5") {
                l.assigned_by_group = Some(first.to_string());
            }
        }
        if user.id == "u-cat" {
            user.licenses = inherited.clone();
            user.licenses[0].assigned_by_group = Some(second.to_string());
        }
    }
    live.recount_consumed();
    live.normalize();

    let files = assert_round_trip(&live);
    let groups = text(&files, "groups.toml");
    assert!(
        groups.contains(&format!("\n# LIC-E5\n[groups.{first}]\n")),
        "{groups}"
    );
    assert!(
        groups.contains(&format!("\n# LIC-E5\n[groups.{second}]\n")),
        "{groups}"
    );
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(name, text)| (format!("export/{name}"), text.clone()))
        .collect();
    let config = from_sources(&sources, Path::new("export")).expect("loads");
    let (state, _) = resolve(&config, &live).unwrap_or_else(|e| panic!("resolves: {e}"));
    assert_eq!(state.groups[first].id, first);
    let cat: std::collections::BTreeSet<String> = ["cat@contoso.com".to_string()].into();
    assert_eq!(state.groups[second].members, Some(cat));
}
