//! The workflows `init` writes and this repository runs are hardened the same way: every
//! action pinned by a full commit SHA with its version in a comment, checkouts without
//! persisted credentials, a timeout and least permissions on every job (none at the top),
//! superseded pull-request runs cancelled; the repository's own plan/apply/drift are the
//! templates with only the install step and the config directory changed.

use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn workflows() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [".github/workflows", "src/commands/templates"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    files
}

fn is_pinned(uses: &str) -> bool {
    let Some((_, rest)) = uses.split_once('@') else {
        return false;
    };
    let (sha, comment) = rest.split_once(" # v").unwrap_or((rest, ""));
    sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) && !comment.is_empty()
}

#[test]
fn every_workflow_is_hardened() {
    for path in workflows() {
        let name = path.display();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.contains(&"permissions: {}"),
            "{name}: no default permissions"
        );
        let jobs = lines
            .iter()
            .filter(|l| l.starts_with("    runs-on:"))
            .count();
        let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
        assert!(jobs > 0, "{name}");
        assert_eq!(
            count("    timeout-minutes:"),
            jobs,
            "{name}: a timeout per job"
        );
        assert_eq!(
            count("    permissions:"),
            jobs,
            "{name}: permissions per job"
        );
        for (i, line) in lines.iter().enumerate() {
            let Some(uses) = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses: ")
            else {
                continue;
            };
            if uses.starts_with("./") {
                continue;
            }
            assert!(
                is_pinned(uses),
                "{name}:{}: not pinned by SHA: {uses}",
                i + 1
            );
            if uses.starts_with("actions/checkout@") {
                let next = lines[i + 1..].iter().take(3).copied().collect::<Vec<_>>();
                assert!(
                    next.iter()
                        .any(|l| l.trim() == "persist-credentials: false"),
                    "{name}:{}: checkout persists credentials",
                    i + 1
                );
            }
        }
        if text.contains("\n  pull_request:") {
            assert!(
                text.contains("cancel-in-progress: true"),
                "{name}: superseded runs not cancelled"
            );
        }
    }
}

#[test]
fn pinned_versions_are_the_same_everywhere() {
    let mut pins: std::collections::BTreeMap<String, String> = Default::default();
    for path in workflows() {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(uses) = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses: ")
            {
                let (action, pin) = uses.split_once('@').unwrap();
                let previous = pins.insert(action.to_string(), pin.to_string());
                if let Some(previous) = previous {
                    assert_eq!(previous, pin, "{action} pinned twice differently");
                }
            }
        }
    }
    assert!(pins.contains_key("actions/checkout"), "{pins:?}");
}

#[test]
fn the_repository_runs_the_workflows_init_writes() {
    let install = "      - name: Install m365ctl (pinned, checksum verified)\n        run: sh .github/m365ctl-install.sh\n";
    for name in ["plan", "apply", "drift"] {
        let template =
            std::fs::read_to_string(repo().join(format!("src/commands/templates/{name}.yml")))
                .unwrap();
        let own =
            std::fs::read_to_string(repo().join(format!(".github/workflows/{name}.yml"))).unwrap();
        assert!(
            template.contains(install),
            "{name}: the template installs the pinned release"
        );
        assert!(template.contains("  M365CTL_VERSION: \"@M365CTL_VERSION@\"\n"));
        // Body from the first `on:`: the header comments differ by design.
        let body = |text: &str| text[text.find("\non:").unwrap()..].to_string();
        let expected = body(&template)
            .replace("  M365CTL_VERSION: \"@M365CTL_VERSION@\"\n", "")
            .replace("M365CTL_CONFIG: \".\"", "M365CTL_CONFIG: state")
            .replace("--workflow m365ctl-plan.yml", "--workflow plan.yml")
            .replace(
                install,
                "      - uses: Swatinem/rust-cache@9d47c6ad4b02e050fd481d890b2ea34778fd09d6 # v2.7.8\n      - name: Build m365ctl from this commit\n        run: |\n          cargo build --release --locked\n          echo \"$PWD/target/release\" >> \"$GITHUB_PATH\"\n",
            );
        assert_eq!(body(&own), expected, "{name}.yml drifted from its template");
    }
}

#[test]
fn init_pins_its_own_version_and_vendors_the_install_script() {
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("m365ctl")
        .unwrap()
        .arg("init")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let script = std::fs::read_to_string(dir.path().join(".github/m365ctl-install.sh")).unwrap();
    assert_eq!(
        script,
        std::fs::read_to_string(repo().join("install.sh")).unwrap()
    );
    for name in ["plan", "apply", "drift"] {
        let text = std::fs::read_to_string(
            dir.path()
                .join(format!(".github/workflows/m365ctl-{name}.yml")),
        )
        .unwrap();
        assert!(
            text.contains(&format!(
                "M365CTL_VERSION: \"{}\"",
                env!("CARGO_PKG_VERSION")
            )),
            "{name}: {text}"
        );
        assert!(!text.contains("@M365CTL_VERSION@"));
        assert!(!text.contains("cargo install"), "{name}");
    }
}
