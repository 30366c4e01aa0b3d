//! Offline config errors: every one names file:line:column and carries a hint.

use m365ctl::backend::{AuthMode, BackendConfig};
use m365ctl::desired::{LicenseList, UserScope, from_sources};
use m365ctl::diag::Diagnostic;
use m365ctl::input::load;
use std::path::{Path, PathBuf};

fn errors(text: &str) -> Vec<Diagnostic> {
    from_sources(&[("c.toml".into(), text.into())], Path::new("cfg"))
        .expect_err("config should be rejected")
        .0
}

fn one(text: &str) -> Diagnostic {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "expected one diagnostic, got {all:#?}");
    all.remove(0)
}

fn at(d: &Diagnostic) -> String {
    d.origin
        .as_ref()
        .expect("diagnostic has a place")
        .to_string()
}

fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().expect("diagnostic has a hint")
}

#[test]
fn toml_syntax_error_names_the_place() {
    let d = one("[skus]\nE3 = \"ENTERPRISEPACK\n");
    assert_eq!(at(&d), "c.toml:2:21");
    assert!(!hint(&d).is_empty());
}

#[test]
fn unknown_key_lists_valid_keys_and_suggests_the_close_one() {
    let d = one("[profiles.staff]\nlicences = [\"E3\"]\n");
    assert_eq!(at(&d), "c.toml:2:1");
    assert!(
        d.message.contains("unknown key `licences`"),
        "{}",
        d.message
    );
    assert!(
        hint(&d).starts_with("did you mean `licenses`?"),
        "{}",
        hint(&d)
    );
    assert!(hint(&d).contains("mailbox"), "{}", hint(&d));
}

#[test]
fn unknown_top_level_table_is_an_error() {
    let d = one("[profile.staff]\nlicenses = []\n");
    assert_eq!(at(&d), "c.toml:1:2");
    assert!(
        hint(&d).contains("did you mean `profiles`?"),
        "{}",
        hint(&d)
    );
}

#[test]
fn unknown_sku_alias_lists_defined_aliases() {
    let d =
        one("[skus]\nE3 = \"ENTERPRISEPACK\"\n[profiles.staff]\nlicenses = [\"e3\", \"SPE_E5\"]\n");
    assert_eq!(at(&d), "c.toml:4:13");
    assert_eq!(d.message, "unknown SKU alias `e3`");
    assert!(
        hint(&d).starts_with("did you mean `E3`? valid aliases: E3"),
        "{}",
        hint(&d)
    );
}

#[test]
fn part_numbers_are_accepted_without_alias() {
    let config = from_sources(
        &[(
            "c.toml".into(),
            "[profiles.p]\nlicenses = [\"SPE_E3\", \"EMS\"]\n".into(),
        )],
        Path::new("."),
    )
    .expect("part numbers are valid");
    let Some(LicenseList::Exactly(list)) = &config.profiles["p"].settings.licenses else {
        panic!("licenses parsed")
    };
    let parts: Vec<&str> = list.iter().map(|s| &*s.part_number).collect();
    assert_eq!(parts, ["SPE_E3", "EMS"]);
}

#[test]
fn usage_location_lower_case_is_fixed_in_the_hint() {
    let d = one("[defaults]\nusage_location = \"gb\"\n");
    assert_eq!(at(&d), "c.toml:2:18");
    assert_eq!(d.message, "`gb` is not an ISO 3166-1 alpha-2 country code");
    assert!(hint(&d).starts_with("did you mean \"GB\"?"), "{}", hint(&d));
}

#[test]
fn usage_location_uk_suggests_gb() {
    let d = one("[users.\"a@x.com\"]\nusage_location = \"UK\"\n");
    assert_eq!(at(&d), "c.toml:2:18");
    assert!(hint(&d).starts_with("did you mean \"GB\"?"), "{}", hint(&d));
}

#[test]
fn unknown_usage_location_gets_examples() {
    let d = one("[profiles.p]\nusage_location = \"XX\"\n");
    assert!(hint(&d).contains("ISO 3166-1 alpha-2"), "{}", hint(&d));
}

#[test]
fn all_errors_are_collected() {
    let all = errors(
        "[profiles.p]\nmailbox = \"shard\"\nusage_location = \"uk\"\nlicenses = [\"X\"]\n[users.\"a@x.com\"]\nprofile = \"q\"\n",
    );
    let places: Vec<String> = all.iter().map(at).collect();
    assert_eq!(
        places,
        ["c.toml:4:13", "c.toml:2:11", "c.toml:3:18", "c.toml:6:11"]
    );
}

#[test]
fn invalid_sign_in_value_is_located_with_a_hint_on_profiles_and_users() {
    for (text, place) in [
        ("[profiles.p]\nsign_in = \"blokced\"\n", "c.toml:2:11"),
        (
            "[users.\"a@x.com\"]\nsign_in = \"blokced\"\n",
            "c.toml:2:11",
        ),
    ] {
        let d = one(text);
        assert_eq!(at(&d), place);
        assert_eq!(d.message, "invalid sign_in `blokced`");
        assert!(
            hint(&d).starts_with("did you mean `blocked`? valid sign-in states: blocked, allowed"),
            "{}",
            hint(&d)
        );
    }
}

#[test]
fn invalid_mailbox_value_suggests() {
    let d = one("[profiles.p]\nmailbox = \"shard\"\n");
    assert_eq!(at(&d), "c.toml:2:11");
    assert_eq!(d.message, "invalid mailbox type `shard`");
    assert!(
        hint(&d).starts_with("did you mean `shared`?"),
        "{}",
        hint(&d)
    );
}

#[test]
fn unknown_profile_in_user_and_rule() {
    let all = errors(
        "[profiles.staff]\n[users.\"a@x.com\"]\nprofile = \"staf\"\n[[rules]]\nmatch = { department = \"x\" }\nprofile = \"nope\"\n",
    );
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(at(&all[0]), "c.toml:6:11");
    assert_eq!(all[0].message, "unknown profile `nope`");
    assert_eq!(hint(&all[0]), "valid profiles: staff");
    assert_eq!(at(&all[1]), "c.toml:3:11");
    assert!(hint(&all[1]).starts_with("did you mean `staff`?"));
}

#[test]
fn rule_with_empty_match() {
    let d = one("[profiles.p]\n[[rules]]\nmatch = {}\nprofile = \"p\"\n");
    assert_eq!(at(&d), "c.toml:3:9");
    assert_eq!(d.message, "rule has an empty `match`");
}

#[test]
fn rule_with_unknown_attribute() {
    let d = one("[profiles.p]\n[[rules]]\nmatch = { departmnt = \"x\" }\nprofile = \"p\"\n");
    assert_eq!(at(&d), "c.toml:3:11");
    assert_eq!(d.message, "unknown rule attribute `departmnt`");
    assert!(
        hint(&d).starts_with("did you mean `department`?"),
        "{}",
        hint(&d)
    );
    assert!(hint(&d).contains("extensionAttribute15"));
}

#[test]
fn licenses_neither_list_nor_keep() {
    let d = one("[profiles.p]\nlicenses = \"none\"\n");
    assert_eq!(at(&d), "c.toml:2:12");
    assert!(
        d.message.contains("neither a list nor \"keep\""),
        "{}",
        d.message
    );
    assert!(hint(&d).contains("licenses = \"keep\""));
}

#[test]
fn licenses_keep_and_empty_are_distinct() {
    let config = from_sources(
        &[(
            "c.toml".into(),
            "[profiles.a]\nlicenses = \"keep\"\n[profiles.b]\nlicenses = []\n[profiles.c]\nmailbox = \"user\"\n".into(),
        )],
        Path::new("."),
    )
    .expect("valid");
    assert!(matches!(
        config.profiles["a"].settings.licenses,
        Some(LicenseList::Keep(_))
    ));
    assert_eq!(
        config.profiles["b"].settings.licenses,
        Some(LicenseList::Exactly(vec![]))
    );
    assert_eq!(config.profiles["c"].settings.licenses, None);
}

#[test]
fn graph_backend_needs_tenant_and_client_id() {
    let all = errors("[tenant]\nbackend = \"graph\"\n");
    let messages: Vec<&str> = all.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "the graph backend needs tenant_id",
            "the graph backend needs client_id"
        ]
    );
    assert_eq!(at(&all[0]), "c.toml:1:1");
}

#[test]
fn secret_in_config_is_refused_without_echoing_it() {
    let d = one(
        "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\nauth = \"secret\"\nclient_secret = \"s3cr3t~value\"\n",
    );
    assert_eq!(at(&d), "c.toml:6:17");
    assert!(hint(&d).contains("client_secret_env"));
    assert!(!d.to_string().contains("s3cr3t"), "secret leaked: {d}");
}

#[test]
fn secret_in_client_secret_env_is_refused_without_echoing_it() {
    let d = one(
        "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\nauth = \"secret\"\nclient_secret_env = \"Abc~8Q~xyz.secret\"\n",
    );
    assert_eq!(at(&d), "c.toml:6:21");
    assert!(!d.to_string().contains("Abc~8Q"), "secret leaked: {d}");
}

#[test]
fn unknown_secret_like_keys_get_the_secret_hint() {
    let d = one("[tenant]\npassword = \"x\"\n");
    assert!(hint(&d).contains("client_secret_env"), "{}", hint(&d));
}

#[test]
fn graph_backend_maps_clouds_and_overrides() {
    let config = from_sources(
        &[(
            "dir/c.toml".into(),
            "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\ncloud = \"usgov-dod\"\nexchange_host = \"https://webmail.apps.mil/\"\nauth = \"certificate\"\ncertificate = \"app.pem\"\n".into(),
        )],
        Path::new("dir"),
    )
    .expect("valid");
    let BackendConfig::Graph(g) = config.backend else {
        panic!("graph")
    };
    assert_eq!(g.authority_host, "https://login.microsoftonline.us");
    assert_eq!(g.graph_host, "https://dod-graph.microsoft.us");
    assert_eq!(g.exchange_host, "https://webmail.apps.mil");
    assert_eq!(
        g.auth,
        AuthMode::Certificate {
            path: PathBuf::from("dir/app.pem")
        }
    );
}

#[test]
fn graph_backend_defaults_to_global_federated() {
    let config = from_sources(
        &[(
            "c.toml".into(),
            "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\n".into(),
        )],
        Path::new("."),
    )
    .expect("valid");
    let BackendConfig::Graph(g) = config.backend else {
        panic!("graph")
    };
    assert_eq!(g.graph_host, "https://graph.microsoft.com");
    assert_eq!(g.exchange_host, "https://outlook.office365.com");
    assert!(matches!(
        g.auth,
        AuthMode::Federated {
            token_file: None,
            ..
        }
    ));
}

#[test]
fn china_cloud_hosts() {
    let config = from_sources(
        &[("c.toml".into(), "[tenant]\nbackend = \"graph\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\ncloud = \"china\"\n".into())],
        Path::new("."),
    )
    .expect("valid");
    let BackendConfig::Graph(g) = config.backend else {
        panic!("graph")
    };
    assert_eq!(g.authority_host, "https://login.chinacloudapi.cn");
    assert_eq!(g.graph_host, "https://microsoftgraph.chinacloudapi.cn");
    assert_eq!(g.exchange_host, "https://partner.outlook.cn");
}

#[test]
fn full_fixture_loads_with_snapshot_relative_to_the_file() {
    let config = load(Path::new("tests/fixtures/configs/full.toml")).expect("valid");
    assert_eq!(
        config.backend,
        BackendConfig::Snapshot {
            path: PathBuf::from("tests/fixtures/configs/tenant.json")
        }
    );
    assert_eq!(
        config.files,
        [PathBuf::from("tests/fixtures/configs/full.toml")]
    );
    assert_eq!(config.rules.len(), 3);
    assert_eq!(config.guards.max_license_removals, 5);
    assert_eq!(config.guards.max_license_removal_percent, 30);
    assert_eq!(config.scope.users, UserScope::Declared);
}

#[test]
fn directory_is_merged_in_sorted_order() {
    let config = load(Path::new("tests/fixtures/configs/split")).expect("valid");
    let names: Vec<String> = config
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["00-base.toml", "10-users.toml", "20-rules.toml"]);
    assert_eq!(
        config.backend,
        BackendConfig::Snapshot {
            path: PathBuf::from("tests/fixtures/configs/split/../tenant.json")
        }
    );
    assert_eq!(
        config.users.keys().collect::<Vec<_>>(),
        ["ann@contoso.com", "bob@contoso.com"]
    );
    assert_eq!(
        config.rules[0].origin.to_string(),
        "tests/fixtures/configs/split/20-rules.toml:2:9"
    );
}

#[test]
fn user_declared_in_two_files_names_both() {
    let all = load(Path::new("tests/fixtures/configs/dup"))
        .expect_err("duplicate")
        .0;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(at(&all[0]), "tests/fixtures/configs/dup/20-b.toml:2:8");
    assert_eq!(all[0].message, "user `Ann@Contoso.com` is declared twice");
    assert_eq!(
        hint(&all[0]),
        "first declared at tests/fixtures/configs/dup/10-a.toml:1:8; keep one entry per user"
    );
}

#[test]
fn table_defined_in_two_files_names_both() {
    let all = from_sources(
        &[
            ("a.toml".into(), "[scope]\nusers = \"all\"\n".into()),
            ("b.toml".into(), "\n[scope]\n".into()),
        ],
        Path::new("."),
    )
    .expect_err("duplicate")
    .0;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(at(&all[0]), "b.toml:2:1");
    assert!(
        hint(&all[0]).starts_with("first defined at a.toml:1:1"),
        "{}",
        hint(&all[0])
    );
}

#[test]
fn missing_path_is_an_error_not_a_panic() {
    let all = load(Path::new("tests/fixtures/configs/does-not-exist.toml"))
        .expect_err("missing")
        .0;
    assert!(all[0].message.contains("does not exist"));
}

proptest::proptest! {
    /// Whatever SKU names the user entries write (aliases, part numbers, padded), each
    /// reference keeps its own text, part number and place, and references written alike
    /// share one copy of each text (an exported users.toml names a few SKUs 150,000 times).
    #[test]
    fn sku_references_written_alike_share_their_text(
        picks in proptest::collection::vec((0usize..5, 0usize..5), 1..12),
    ) {
        // (as written in the file, as the reference keeps it, its part number)
        const NAMES: [(&str, &str, &str); 5] = [
            ("E3", "E3", "ENTERPRISEPACK"),
            (" E3", "E3", "ENTERPRISEPACK"),
            ("EMS", "EMS", "EMS"),
            ("E5", "E5", "ENTERPRISEPREMIUM"),
            ("ENTERPRISEPACK", "ENTERPRISEPACK", "ENTERPRISEPACK"),
        ];
        let mut text = "[skus]\nE3 = \"ENTERPRISEPACK\"\nE5 = \"ENTERPRISEPREMIUM\"\n".to_string();
        for (user, (a, b)) in picks.iter().enumerate() {
            text.push_str(&format!(
                "[users.\"u{user:02}@x.com\"]\nlicenses = [{:?}, {:?}]\n",
                NAMES[*a].0, NAMES[*b].0
            ));
        }
        let config = from_sources(&[("c.toml".into(), text.clone())], Path::new("."))
            .map_err(|d| proptest::test_runner::TestCaseError::fail(format!("{text}\n{d}")))?;
        let mut refs = Vec::new();
        for (user, (a, b)) in picks.iter().enumerate() {
            let entry = &config.users[&format!("u{user:02}@x.com")];
            let Some(LicenseList::Exactly(list)) = &entry.settings.licenses else {
                panic!("licenses parsed")
            };
            proptest::prop_assert_eq!(list.len(), 2);
            for (sku, (pick, column)) in list.iter().zip([(*a, 13), (*b, 15 + NAMES[*a].0.len() + 2)]) {
                let (_, written, part) = NAMES[pick];
                proptest::prop_assert_eq!((&*sku.written, &*sku.part_number), (written, part));
                let line = u32::try_from(5 + 2 * user).expect("small");
                proptest::prop_assert_eq!((sku.origin.line, sku.origin.column), (line, u32::try_from(column).expect("small")));
                refs.push(sku);
            }
        }
        for x in &refs {
            for y in &refs {
                if x.written == y.written {
                    proptest::prop_assert!(std::sync::Arc::ptr_eq(&x.written, &y.written));
                    proptest::prop_assert!(std::sync::Arc::ptr_eq(&x.part_number, &y.part_number));
                }
            }
        }
    }
}
