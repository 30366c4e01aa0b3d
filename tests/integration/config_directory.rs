//! Which files of a config directory are config: `*.toml` directly in it, except hidden
//! files and other tools' well-known files; sub-directories holding `.toml` files are
//! reported, not read.

use assert_cmd::Command;
use m365ctl::input::load;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Names another tool owns or that are hidden: never read (their content is not m365ctl's).
const NOT_CONFIG: [&str; 7] = [
    ".taplo.toml",
    "taplo.toml",
    "Cargo.toml",
    "rustfmt.toml",
    ".hidden.toml",
    "pyproject.toml",
    "notes.txt",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Whatever mix of files a directory holds, exactly the m365ctl config files are read
    /// (each declares one profile; the others hold TOML m365ctl would reject).
    #[test]
    fn only_config_files_are_read(
        config in proptest::collection::btree_set("[a-z][a-z0-9_-]{0,8}", 1..5),
        others in proptest::collection::btree_set(0..NOT_CONFIG.len(), 0..NOT_CONFIG.len()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for name in &config {
            std::fs::write(
                dir.path().join(format!("{name}.toml")),
                format!("[profiles.\"{name}\"]\nlicenses = []\n"),
            )
            .unwrap();
        }
        for i in &others {
            std::fs::write(dir.path().join(NOT_CONFIG[*i]), "[formatting]\nalign_entries = true\n").unwrap();
        }
        let loaded = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let profiles: BTreeSet<String> = loaded.profiles.keys().cloned().collect();
        prop_assert_eq!(profiles, config.clone());
        prop_assert_eq!(loaded.files.len(), config.len());
        prop_assert!(loaded.warnings.is_empty());
    }
}

#[test]
fn a_subdirectory_holding_toml_files_is_a_warning_and_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m365ctl.toml"),
        "[profiles.staff]\nlicenses = []\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("users")).unwrap();
    std::fs::write(
        dir.path().join("users/sales.toml"),
        "[profiles.sales]\nlicenses = []\n",
    )
    .unwrap();
    // Hidden directories (.github, .m365ctl) are nobody's config.
    std::fs::create_dir(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/x.toml"), "").unwrap();
    let config = load(dir.path()).unwrap();
    assert_eq!(config.profiles.keys().collect::<Vec<_>>(), ["staff"]);
    assert_eq!(config.warnings.len(), 1, "{:#?}", config.warnings);
    assert!(
        config.warnings[0].message.contains("users"),
        "{:?}",
        config.warnings
    );

    let out = Command::cargo_bin("m365ctl")
        .unwrap()
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .args(["validate", "-c"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning:") && stderr.contains("not read"),
        "{stderr}"
    );
}
