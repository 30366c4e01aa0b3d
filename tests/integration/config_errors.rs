//! The error messages a newcomer meets, exactly as the CLI renders them (snippet, place,
//! hint), reviewed as insta snapshots: syntax errors at the right line with the parser's
//! message, types in plain words, every shape error of a run, secrets starred out with a
//! rotate-it hint, did-you-mean for plans, attributes, UPNs and groups, and planner errors at
//! the line that caused them.

use m365ctl::desired::{from_sources, resolve};
use m365ctl::diag::Diagnostic;
use m365ctl::render::diagnostic::render;
use m365ctl::tenant::Tenant;
use std::path::Path;

fn tenant() -> Tenant {
    let text = std::fs::read_to_string("tests/fixtures/configs/tenant.json").expect("fixture");
    serde_json::from_str(&text).expect("tenant fixture parses")
}

const HEAD: &str = "[skus]\nE3 = \"ENTERPRISEPACK\"\nE5 = \"ENTERPRISEPREMIUM\"\n\n[scope]\nmanage_skus = [\"E3\", \"E5\"]\n\n[profiles.staff]\nlicenses = [\"E3\"]\n";

/// Every diagnostic of loading, resolving and planning `files`, rendered as the CLI does.
fn rendered(files: &[(&str, &str)]) -> String {
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let diagnostics: Vec<Diagnostic> = match from_sources(&sources, Path::new(".")) {
        Err(e) => e.0,
        Ok(config) => {
            let loaded = config.warnings.clone();
            match resolve(&config, &tenant()) {
                Err(e) => loaded.into_iter().chain(e.0).collect(),
                Ok((state, warnings)) => {
                    let plan = m365ctl::plan::plan(&state, &tenant());
                    loaded
                        .into_iter()
                        .chain(warnings)
                        .chain(plan.diagnostics)
                        .collect()
                }
            }
        }
    };
    assert!(!diagnostics.is_empty(), "no diagnostics for {files:?}");
    diagnostics
        .iter()
        .map(|d| {
            let file = d.origin.as_ref().map(|o| o.file.to_string());
            let source = sources.iter().find(|(n, _)| Some(n) == file.as_ref());
            render(d, source.map(|(_, t)| t.as_str()), false)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn syntax_error_is_on_the_line_with_the_parsers_message() {
    let text = rendered(&[("m365ctl.toml", "[skus]\nE3 = \"ENTERPRISEPACK\n\n[scope]\n")]);
    assert!(text.contains("m365ctl.toml:2:"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn every_shape_error_of_every_file_in_one_run_in_plain_words() {
    let text = rendered(&[
        (
            "m365ctl.toml",
            "[guards]\nmax_license_removals = -3\nmax_mailbox_conversions = \"ten\"\n",
        ),
        (
            "users.toml",
            "[users.\"ann@contoso.com\"]\nlicences = [\"E3\"]\nmailbox = 1\n",
        ),
    ]);
    assert!(!text.contains("usize") && !text.contains("i64"), "{text}");
    assert_eq!(text.matches("error:").count(), 4, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_secret_in_the_file_is_redacted_and_must_be_rotated() {
    let text = rendered(&[(
        "m365ctl.toml",
        "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"00000000-0000-0000-0000-000000000001\"\nauth = \"secret\"\nclient_secret = \"Zx8Q~abcdefghijklmnopqrstuvwxyz0123456\"\n",
    )]);
    assert!(!text.contains("Zx8Q"), "{text}");
    assert!(text.contains("rotate"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn did_you_mean_for_plans_attributes_upns_and_groups() {
    let config = format!(
        "{HEAD}disabled_plans = {{ E3 = [\"YAMMER_ENTERPRSE\"] }}\n\n[[rules]]\nmatch = {{ departmnt = \"Sales\" }}\nprofile = \"staff\"\n\n\
         [users.\"anne@contoso.com\"]\nprofile = \"staff\"\n\n[groups.\"LIC-E6\"]\nlicenses = [\"E5\"]\n\n[groups.\"LIC-E5\"]\nlicenses = [\"E5\"]\nmembers = [\"evee@contoso.com\"]\n"
    );
    // The attribute is an offline (load) error; the rest need the tenant.
    let load = rendered(&[("m365ctl.toml", &config)]);
    assert!(load.contains("did you mean `department`?"), "{load}");
    let config = config.replace("departmnt", "department");
    let text = rendered(&[("m365ctl.toml", &config)]);
    for close in [
        "did you mean `YAMMER_ENTERPRISE`?",
        "did you mean `ann@contoso.com`?",
        "did you mean `LIC-E5`?",
        "did you mean `eve@contoso.com`?",
    ] {
        assert!(text.contains(close), "{close}\n{text}");
    }
    insta::assert_snapshot!(format!("{load}\n{text}"));
}

#[test]
fn a_planner_error_points_at_the_members_line_that_caused_it() {
    let config = format!(
        "{HEAD}\n[users.\"ann@contoso.com\"]\nprofile = \"staff\"\n\n[groups.\"LIC-E5\"]\nmembers = [\n    \"eve@contoso.com\",\n    \"ann@contoso.com\",\n]\n"
    );
    let text = rendered(&[("m365ctl.toml", &config)]);
    assert!(text.contains("m365ctl.toml:17:5"), "{text}");
    insta::assert_snapshot!(text);
}

/// `profile = "leaver"` added to an entry that lists its own licences and mailbox would do
/// nothing: a warning at the profile line says so.
#[test]
fn a_profile_the_entry_overrides_entirely_is_a_warning() {
    let config = format!(
        "{HEAD}\n[profiles.leaver]\nlicenses = []\nmailbox = \"shared\"\n\n[users.\"ann@contoso.com\"]\nprofile = \"leaver\"\nlicenses = [\"E3\"]\nmailbox = \"user\"\n"
    );
    let text = rendered(&[("m365ctl.toml", &config)]);
    assert!(
        text.contains("warning: profile `leaver` changes nothing"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}
