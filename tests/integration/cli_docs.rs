//! The docs match the behaviour: every config key the README and docs/ name exists in the
//! schema; statements the README makes about the CLI hold.

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::Path;

fn doc_texts() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// Every property name anywhere in the schema.
fn schema_keys(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    if let Some(props) = value.get("properties").and_then(|p| p.as_object()) {
        out.extend(props.keys().cloned());
    }
    match value {
        serde_json::Value::Object(map) => map.values().for_each(|v| schema_keys(v, out)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| schema_keys(v, out)),
        _ => {}
    }
}

fn is_key_word(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Keys the docs name: `key =` lines in ```toml blocks (commented ones too) and table
/// headers, every one a claim; and backticked snake_case words or `key = value` snippets in
/// prose, a claim when each of their `_` parts is a part of some config key (`token_file`
/// is; a workflow's `pull_request_target` or OAuth's `offline_access` are not).
fn named_keys(text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let parts: BTreeSet<&str> = known.iter().flat_map(|k| k.split('_')).collect();
    let config_like = |word: &str| word.split('_').all(|p| parts.contains(p));
    let mut keys = BTreeSet::new();
    let mut in_toml = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_toml = line.trim_start() == "```toml";
            continue;
        }
        if in_toml {
            let code = line.trim_start().trim_start_matches('#').trim_start();
            if let Some(header) = code.strip_prefix('[') {
                let name = header.trim_start_matches('[');
                let first = name.split(['.', ']']).next().unwrap_or("");
                if is_key_word(first) {
                    keys.insert(first.to_string());
                }
            } else if let Some((key, _)) = code.split_once('=') {
                for key in key.split('/') {
                    let key = key.trim();
                    if is_key_word(key) {
                        keys.insert(key.to_string());
                    }
                }
            }
            continue;
        }
        for (i, quoted) in line.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            let word = quoted.split('=').next().unwrap_or("").trim();
            let snippet = quoted.contains('=');
            if is_key_word(word) && (word.contains('_') || snippet) && config_like(word) {
                keys.insert(word.to_string());
            }
        }
    }
    keys
}

fn schema() -> BTreeSet<String> {
    let mut known = BTreeSet::new();
    schema_keys(&m365ctl::desired::schema::json_schema(), &mut known);
    known
}

#[test]
fn every_config_key_the_docs_name_exists_in_the_schema() {
    let known = schema();
    assert!(known.contains("federated_token_file"));
    let mut unknown = Vec::new();
    let mut checked = 0;
    for (file, text) in doc_texts() {
        for key in named_keys(&text, &known) {
            checked += 1;
            if !known.contains(&key) {
                unknown.push(format!("{file}: `{key}`"));
            }
        }
    }
    assert!(checked > 30, "the scan found only {checked} keys");
    assert!(
        unknown.is_empty(),
        "not in the schema:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn the_key_scan_finds_a_wrong_key() {
    let keys = named_keys(
        "Set `token_file` here, on `pull_request_target`.\n```toml\n[tenant]\n# federated_token = \"x\"\n```\n",
        &schema(),
    );
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        ["federated_token", "tenant", "token_file"]
    );
}

fn m365ctl() -> Command {
    let mut cmd = Command::cargo_bin("m365ctl").unwrap();
    cmd.env_remove("GITHUB_ACTIONS").env("NO_COLOR", "1");
    cmd
}

/// `drift` names no directory of its own: `-c` can be anything.
#[test]
fn drift_does_not_name_a_directory_it_was_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for file in ["m365ctl.toml", "tenant.json"] {
        std::fs::copy(quickstart.join(file), dir.path().join(file)).unwrap();
    }
    let out = m365ctl()
        .args(["drift", "-c"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("Drift detected"), "{stdout}");
    assert!(!stdout.contains("state/"), "{stdout}");
}

/// README: a saved plan was reviewed; applying it needs no `--auto-approve` and no terminal.
#[test]
fn applying_a_saved_plan_needs_no_auto_approve() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for file in ["m365ctl.toml", "tenant.json"] {
        std::fs::copy(quickstart.join(file), dir.path().join(file)).unwrap();
    }
    let plan = dir.path().join("plan.json");
    m365ctl()
        .args(["plan", "-c"])
        .arg(dir.path())
        .arg("--out")
        .arg(&plan)
        .assert()
        .success();
    let apply = m365ctl()
        .args(["apply", "-c"])
        .arg(dir.path())
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let after = m365ctl()
        .args(["plan", "-c"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&after.stdout).contains("No changes."));
}

/// The docs list exactly the clouds and mailbox values the code defines (`Cloud::ALL`,
/// `MailboxIntent::names()`), with each cloud's hosts: one list, the docs follow it.
#[test]
fn the_docs_list_every_cloud_with_its_hosts_and_every_mailbox_value() {
    use m365ctl::desired::MailboxIntent;
    use m365ctl::desired::cloud::Cloud;
    let config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config.md"))
            .unwrap();
    let quoted = |names: Vec<&str>| {
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let clouds = quoted(Cloud::names());
    assert!(
        config.contains(&format!("# {clouds}")),
        "docs/config.md lacks {clouds}"
    );
    for cloud in Cloud::ALL {
        let hosts = cloud.hosts();
        let line = config
            .lines()
            .find(|l| l.starts_with(&format!("#   {}:", cloud.name())))
            .unwrap_or_else(|| panic!("docs/config.md lists no hosts for {}", cloud.name()));
        for host in [hosts.authority, hosts.graph, hosts.exchange] {
            assert!(line.contains(host), "{line} lacks {host}");
        }
    }
    let mailbox = quoted(MailboxIntent::names());
    assert!(
        config.contains(&format!("# {mailbox};")),
        "docs/config.md lacks {mailbox}"
    );
}
