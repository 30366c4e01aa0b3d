//! Issue 14, item 5: a snapshot is validated like a config. Every class of corruption the
//! issue found accepted (duplicate ids or UPNs, dangling group/SKU references, members that
//! are not users, invalid usage locations) is refused with its JSON path and line:column, at
//! any position in the file.

use assert_cmd::Command;
use m365ctl::backend::snapshot::parse_snapshot;
use predicates::prelude::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::Path;

fn quickstart() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/tenant.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Applies corruption `class` at positions picked by `a` and `b`; returns the JSON path the
/// error must name.
fn corrupt(t: &mut Value, class: usize, a: usize, b: usize) -> String {
    let users = t["users"].as_array().unwrap().len();
    let (i, j) = (a % users, (a % users + 1 + b % (users - 1)) % users);
    match class {
        0 => {
            t["users"][j]["id"] = t["users"][i]["id"].clone();
            format!("$.users[{}].id", i.max(j))
        }
        1 => {
            let upn = t["users"][i]["user_principal_name"]
                .as_str()
                .unwrap()
                .to_uppercase();
            t["users"][j]["user_principal_name"] = upn.into();
            format!("$.users[{}].user_principal_name", i.max(j))
        }
        2 => {
            t["users"][i]["licenses"] =
                json!([{"sku_id": "00000000-dead-4000-8000-000000000000", "state": "Active"}]);
            format!("$.users[{i}].licenses[0].sku_id")
        }
        3 => {
            let sku = t["skus"][0]["sku_id"].clone();
            t["users"][i]["licenses"] =
                json!([{"sku_id": sku, "assigned_by_group": "no-such-group", "state": "Active"}]);
            format!("$.users[{i}].licenses[0].assigned_by_group")
        }
        4 => {
            let group = t["groups"][0]["id"].clone();
            t["groups"][0]["members"]
                .as_array_mut()
                .unwrap()
                .push(group);
            let n = t["groups"][0]["members"].as_array().unwrap().len() - 1;
            format!("$.groups[0].members[{n}]")
        }
        5 => {
            t["groups"][0]["members"]
                .as_array_mut()
                .unwrap()
                .push(format!("not-a-user-{b}").into());
            let n = t["groups"][0]["members"].as_array().unwrap().len() - 1;
            format!("$.groups[0].members[{n}]")
        }
        6 => {
            t["users"][i]["usage_location"] = ["XX", "gb", "GBR", "", "U1"][b % 5].into();
            format!("$.users[{i}].usage_location")
        }
        7 => {
            let mut copy = t["groups"][0].clone();
            copy["display_name"] = format!("other-{b}").into();
            t["groups"].as_array_mut().unwrap().push(copy);
            let n = t["groups"].as_array().unwrap().len() - 1;
            format!("$.groups[{n}].id")
        }
        _ => {
            let skus = t["skus"].as_array().unwrap().len();
            let mut copy = t["skus"][a % skus].clone();
            copy["sku_part_number"] = format!("OTHER{b}").into();
            t["skus"].as_array_mut().unwrap().push(copy);
            format!("$.skus[{skus}].sku_id")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_corruption_is_refused_naming_path_and_line(class in 0usize..9, a in 0usize..1000, b in 0usize..1000) {
        let mut tenant = quickstart();
        let path = corrupt(&mut tenant, class, a, b);
        let text = serde_json::to_string_pretty(&tenant).unwrap();
        let error = parse_snapshot(&text).expect_err("a corrupt snapshot was accepted");
        let named = error.lines().find(|l| l.contains(&format!("({path})")));
        prop_assert!(named.is_some(), "{path} not named in: {error}");
        let named = named.unwrap();
        // The line:column points at the value.
        let (line, column) = named
            .trim()
            .strip_prefix("line ")
            .and_then(|r| r.split_once(" column "))
            .and_then(|(l, r)| Some((l.parse::<usize>().ok()?, r.split(' ').next()?.parse::<usize>().ok()?)))
            .expect("line and column");
        let at_line = text.lines().nth(line - 1).unwrap();
        prop_assert!(column >= 1 && column <= at_line.chars().count(), "{named}: {at_line}");
    }
}

#[test]
fn the_examples_are_valid() {
    for path in ["examples/quickstart/tenant.json", "state/tenant.json"] {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if let Ok(text) = std::fs::read_to_string(&full) {
            parse_snapshot(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
}

#[test]
fn validate_and_apply_refuse_a_snapshot_with_a_duplicate_id() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    std::fs::copy(root.join("m365ctl.toml"), dir.path().join("m365ctl.toml")).unwrap();
    let mut tenant = quickstart();
    corrupt(&mut tenant, 0, 0, 0);
    let text = serde_json::to_string_pretty(&tenant).unwrap();
    std::fs::write(dir.path().join("tenant.json"), &text).unwrap();
    for args in [vec!["validate"], vec!["apply", "--auto-approve"]] {
        Command::cargo_bin("m365ctl")
            .unwrap()
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .args(&args)
            .arg("-c")
            .arg(dir.path())
            .assert()
            .code(1)
            .stderr(
                predicate::str::contains("duplicate object id")
                    .and(predicate::str::contains("$.users[1].id")),
            );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tenant.json")).unwrap(),
        text
    );
}
