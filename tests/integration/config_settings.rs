//! The settings a profile and a user entry share, as a class: every combination of what a
//! profile sets and what the entry naming it sets over, for every setting there is.

use m365ctl::desired::{DesiredUser, Setting, from_sources, resolve};
use m365ctl::tenant::Tenant;
use std::path::Path;

/// A valid line for each setting (the match makes a new setting a compile error here).
fn line(setting: Setting) -> &'static str {
    match setting {
        Setting::Licenses => "licenses = []",
        Setting::Mailbox => "mailbox = \"shared\"",
        Setting::UsageLocation => "usage_location = \"GB\"",
        Setting::SignIn => "sign_in = \"blocked\"",
        Setting::DisabledPlans => "disabled_plans = { ENTERPRISEPACK = [\"YAMMER_ENTERPRISE\"] }",
    }
}

fn subset(bits: usize) -> Vec<Setting> {
    Setting::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, s)| *s)
        .collect()
}

/// The profile changes nothing (a warning at its name) exactly when it sets something and
/// the entry sets every setting it sets, for every pair of subsets of the settings.
#[test]
fn a_profile_is_ineffective_exactly_when_the_entry_sets_everything_it_sets() {
    let n = Setting::ALL.len();
    for profile_bits in 0..1usize << n {
        for entry_bits in 0..1usize << n {
            let (profile, entry) = (subset(profile_bits), subset(entry_bits));
            let mut text = String::from("[profiles.p]\n");
            for s in &profile {
                text.push_str(line(*s));
                text.push('\n');
            }
            text.push_str("\n[users.\"a@x.com\"]\nprofile = \"p\"\n");
            for s in &entry {
                text.push_str(line(*s));
                text.push('\n');
            }
            let config = from_sources(&[("c.toml".into(), text.clone())], Path::new("cfg"))
                .unwrap_or_else(|e| panic!("{text}\n{e:?}"));
            let ineffective = !profile.is_empty() && profile.iter().all(|s| entry.contains(s));
            let warned = config.warnings.iter().any(|w| {
                w.message
                    .starts_with("profile `p` changes nothing for a@x.com")
            });
            assert_eq!(warned, ineffective, "{text}");
        }
    }
}

/// Two different values of a setting (the profile's, the entry's) and how the resolved user
/// shows it; `None` for `disabled_plans`, which merge per SKU instead
/// (`config_resolve::disabled_plans_resolve_only_when_they_take_effect`).
type Resolved = fn(&DesiredUser) -> String;

fn values(setting: Setting) -> Option<(&'static str, &'static str, Resolved)> {
    match setting {
        Setting::Licenses => Some(("licenses = [\"E3\"]", "licenses = []", |u| {
            format!(
                "{:?}",
                u.licenses.as_ref().map(|l| l
                    .iter()
                    .map(|d| d.sku_part_number.clone())
                    .collect::<Vec<_>>())
            )
        })),
        Setting::Mailbox => Some(("mailbox = \"shared\"", "mailbox = \"user\"", |u| {
            format!("{:?}", u.mailbox)
        })),
        Setting::UsageLocation => {
            Some(("usage_location = \"GB\"", "usage_location = \"US\"", |u| {
                format!("{:?}", u.usage_location)
            }))
        }
        Setting::SignIn => Some(("sign_in = \"blocked\"", "sign_in = \"allowed\"", |u| {
            format!("{:?}", u.sign_in)
        })),
        Setting::DisabledPlans => None,
    }
}

/// Inheritance, per setting: the entry's value when it sets one, else its profile's, else
/// not managed — the resolved user equals one resolved from the winning line alone.
#[test]
fn each_setting_is_the_entrys_else_the_profiles() {
    let tenant: Tenant = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/configs/tenant.json").expect("fixture"),
    )
    .expect("tenant fixture parses");
    let resolved = |profile: &str, entry: &str| {
        let text = format!(
            "[skus]\nE3 = \"ENTERPRISEPACK\"\n[scope]\nmanage_skus = [\"E3\"]\n\
             [profiles.p]\n{profile}\n[users.\"ann@contoso.com\"]\nprofile = \"p\"\n{entry}\n"
        );
        let config = from_sources(&[("c.toml".into(), text.clone())], Path::new("."))
            .unwrap_or_else(|e| panic!("{text}\n{e:?}"));
        let (state, _) = resolve(&config, &tenant).unwrap_or_else(|e| panic!("{text}\n{e:?}"));
        state.users["ann@contoso.com"].clone()
    };
    for &setting in Setting::ALL {
        let Some((a, b, show)) = values(setting) else {
            continue;
        };
        for (profile, entry, winner) in [("", "", ""), (a, "", a), ("", b, b), (a, b, b)] {
            let got = show(&resolved(profile, entry));
            let want = show(&resolved("", winner));
            assert_eq!(
                got,
                want,
                "{} with profile {profile:?}, entry {entry:?}",
                setting.key()
            );
        }
        assert_ne!(
            show(&resolved(a, "")),
            show(&resolved(b, "")),
            "{} values differ",
            setting.key()
        );
    }
}
