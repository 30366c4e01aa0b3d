//! The editor schema accepts every config the project ships and rejects unknown keys.

use m365ctl::desired::schema::json_schema;
use std::path::{Path, PathBuf};

/// `*.toml` under `dir`, recursively (missing directories yield nothing).
fn toml_files(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && recursive {
            toml_files(&path, true, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

fn as_json(text: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(text).expect("valid TOML");
    serde_json::to_value(value).expect("TOML converts to JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft7::new(&json_schema()).expect("schema compiles")
}

#[test]
fn every_shipped_config_validates() {
    let mut files = Vec::new();
    toml_files(Path::new("examples"), true, &mut files);
    toml_files(Path::new("state"), false, &mut files);
    toml_files(Path::new("tests/fixtures/configs"), true, &mut files);
    toml_files(Path::new("tests/scenarios"), true, &mut files);
    files.sort();
    let fixtures = files
        .iter()
        .filter(|f| f.starts_with("tests/fixtures/configs"))
        .count();
    assert!(fixtures >= 5, "fixtures found: {files:?}");
    let validator = validator();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let instance = as_json(&text);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}

#[test]
fn unknown_keys_and_bad_values_are_rejected() {
    let validator = validator();
    for bad in [
        "[profiles.staff]\nlicences = [\"E3\"]\n",
        "[tenant]\nclient_secret = \"x\"\n",
        "[profile.staff]\n",
        "[profiles.staff]\nmailbox = \"shard\"\n",
        "[profiles.staff]\nlicenses = \"none\"\n",
        "[[rules]]\nmatch = { department = \"x\" }\n",
    ] {
        assert!(
            !validator.is_valid(&as_json(bad)),
            "schema accepted {bad:?}"
        );
    }
    assert!(validator.is_valid(&as_json("[profiles.staff]\nlicenses = \"keep\"\n")));
}

#[test]
fn the_committed_schema_file_is_up_to_date() {
    let mut expected = serde_json::to_string_pretty(&json_schema()).unwrap();
    expected.push('\n');
    let committed = std::fs::read_to_string("m365ctl.schema.json").unwrap_or_default();
    assert!(
        committed == expected,
        "m365ctl.schema.json is out of date: run `cargo run -- schema > m365ctl.schema.json`"
    );
    // The shipped configs point editors at it.
    for (config, reference) in [
        ("state/m365ctl.toml", "#:schema ../m365ctl.schema.json"),
        (
            "examples/quickstart/m365ctl.toml",
            "#:schema ../../m365ctl.schema.json",
        ),
    ] {
        let text = std::fs::read_to_string(config).unwrap();
        assert!(text.starts_with(reference), "{config} lacks {reference}");
    }
}
