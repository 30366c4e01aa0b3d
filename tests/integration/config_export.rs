//! Export round trip: the exported config, loaded and resolved against the same tenant,
//! asks for exactly what the tenant already has.

use m365ctl::desired::export::{ExportOptions, ExportTenant, to_toml};
use m365ctl::desired::{LicenseIntent, load, resolve};
use m365ctl::tenant::{MailboxType, Tenant};
use std::collections::BTreeSet;

fn tenant() -> Tenant {
    let text = std::fs::read_to_string("tests/fixtures/configs/tenant.json").expect("fixture");
    serde_json::from_str(&text).expect("tenant fixture parses")
}

fn options(split_files: bool) -> ExportOptions {
    ExportOptions {
        tenant: ExportTenant::Snapshot {
            path: "tenant.json".into(),
        },
        split_files,
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn export_is_deterministic() {
    assert_eq!(
        to_toml(&tenant(), options(false)),
        to_toml(&tenant(), options(false))
    );
}

#[test]
fn exported_config_resolves_to_the_live_state() {
    for split in [false, true] {
        let live = tenant();
        let files = to_toml(&live, options(split));
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in &files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let config =
            load(dir.path()).unwrap_or_else(|e| panic!("exported config loads: {e}\n{files:#?}"));
        let (state, warnings) = resolve(&config, &live).unwrap_or_else(|e| panic!("resolves: {e}"));
        assert_eq!(warnings, []);
        assert_eq!(
            state.scope.managed_skus,
            set(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"])
        );

        // Every holder is declared; eve's E5 is inherited, so it is listed on her (what she
        // should hold) while the assignment itself stays with the group.
        assert_eq!(
            state.users.keys().collect::<Vec<_>>(),
            ["ann@contoso.com", "dan@contoso.com", "eve@contoso.com"]
        );
        let eve = &state.users["eve@contoso.com"];
        let eve_e5 = &eve.licenses.as_ref().unwrap()["ENTERPRISEPREMIUM"];
        assert_eq!(eve_e5.disabled_plans, None);

        // The point of export: planning it against the same tenant changes nothing and
        // reports nothing.
        let plan = m365ctl::plan::plan(&state, &live);
        assert!(plan.is_empty(), "{:#?}", plan.operations);
        assert!(plan.diagnostics.is_empty(), "{:#?}", plan.diagnostics);
        let ann = &state.users["ann@contoso.com"];
        let ann_e3 = &ann.licenses.as_ref().unwrap()["ENTERPRISEPACK"];
        assert_eq!(ann_e3.disabled_plans, Some(set(&["YAMMER_ENTERPRISE"])));
        assert_eq!(ann.usage_location.as_deref(), Some("GB"));
        assert_eq!(ann.mailbox, Some(MailboxType::User));
        assert_eq!(ann.license_intent, LicenseIntent::Exactly);
        let dan = &state.users["dan@contoso.com"];
        assert_eq!(dan.mailbox, Some(MailboxType::Shared));
        assert_eq!(
            dan.licenses.as_ref().unwrap()["ENTERPRISEPACK"].disabled_plans,
            None
        );

        assert_eq!(state.groups.keys().collect::<Vec<_>>(), ["LIC-E5"]);
        let group = &state.groups["LIC-E5"];
        assert_eq!(group.members, Some(set(&["eve@contoso.com"])));
        let e5 = &group.licenses.as_ref().unwrap()["ENTERPRISEPREMIUM"];
        assert_eq!(e5.disabled_plans, Some(set(&["YAMMER_ENTERPRISE"])));
    }
}

#[test]
fn export_uses_friendly_aliases_and_quotes_keys() {
    let files = to_toml(&tenant(), options(false));
    assert_eq!(files.len(), 1);
    let text = &files[0].1;
    assert!(text.contains("E3 = \"ENTERPRISEPACK\"\n"), "{text}");
    assert!(text.contains("EXO_P1 = \"EXCHANGESTANDARD\"\n"), "{text}");
    assert!(text.contains("manage_skus = [\"E3\", \"E5\"]\n"), "{text}");
    assert!(text.contains("[users.\"ann@contoso.com\"]\nlicenses = [\"E3\"]\ndisabled_plans = { E3 = [\"YAMMER_ENTERPRISE\"] }\n"), "{text}");
}

#[test]
fn groups_sharing_a_display_name_are_exported_by_object_id_and_plan_to_nothing() {
    let mut live = tenant();
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

    let files = to_toml(&live, options(false));
    let text = &files[0].1;
    assert!(
        text.contains(&format!("\n# LIC-E5\n[groups.{first}]\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("\n# LIC-E5\n[groups.{second}]\n")),
        "{text}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("m365ctl.toml"), text).expect("write");
    let config = load(dir.path()).unwrap_or_else(|e| panic!("exported config loads: {e}\n{text}"));
    let (state, _) = resolve(&config, &live).unwrap_or_else(|e| panic!("resolves: {e}"));
    assert_eq!(state.groups[first].id, first);
    assert_eq!(
        state.groups[second].members,
        Some(set(&["cat@contoso.com"]))
    );
    let plan = m365ctl::plan::plan(&state, &live);
    assert!(plan.is_empty(), "{:#?}", plan.operations);
}
