//! The settings a profile and a user entry share, as a class: every combination of what a
//! profile sets and what the entry naming it sets over, for every setting there is.

use m365ctl::desired::{Setting, from_sources};
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
