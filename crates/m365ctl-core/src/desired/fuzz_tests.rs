//! Fuzzing the two input parsers (issue 14, item 12): the config loader (bytes -> UTF-8 ->
//! TOML -> `Config`, then resolved and planned) and the snapshot loader (bytes -> validated
//! `Tenant`, then planned), with arbitrary bytes and with structure-aware mutations of the
//! quickstart's files (spliced tokens, deleted or duplicated spans, JSON nodes replaced by
//! hostile values). Bounded to a few seconds per `cargo test` (`cases`); the property is "no panic":
//! every input is either accepted or refused with diagnostics.

use crate::tenant::snapshot::parse_snapshot;
use proptest::prelude::*;
use std::path::Path;

const CONFIG: &str = include_str!("../../../../examples/quickstart/m365ctl.toml");
const SNAPSHOT: &str = include_str!("../../../../examples/quickstart/tenant.json");
const STATE: &str = include_str!("../../../../state/m365ctl.toml");

/// Tokens that steer a parser into its less travelled paths.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    "\"",
    "'",
    "\"\"\"",
    ",",
    "\n",
    "#",
    ".",
    "\\",
    "\\u0000",
    "\u{feff}",
    "\u{0}",
    "\u{202e}",
    "users",
    "groups",
    "licenses",
    "profile",
    "mailbox",
    "disabled_plans",
    "usage_location",
    "[tenant]",
    "[[rules]]",
    "match",
    "backend = \"graph\"",
    "cloud = \"china\"",
    "1e999",
    "-0",
    "9999999999999999999999",
    "true",
    "null",
    "[]",
    "{}",
    "\"room\"",
    "\"shared\"",
    "\"all\"",
    "E5",
    "ENTERPRISEPACK",
    "@",
    "::",
    "##[",
];

/// One edit of a text: splice a token, delete a span, duplicate a span, or flip a byte.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Flip(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Edit::Insert(at, t)),
        (any::<usize>(), 0usize..64).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), 0usize..256).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Flip(at, b)),
    ]
}

fn mutate(text: &str, edits: &[Edit]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for e in edits {
        let len = bytes.len().max(1);
        match *e {
            Edit::Insert(at, t) => {
                let at = at % len;
                bytes.splice(at..at, TOKENS[t].bytes());
            }
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            Edit::Duplicate(at, n) => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                let span: Vec<u8> = bytes[at.min(end)..end].to_vec();
                bytes.splice(end..end, span);
            }
            Edit::Flip(at, b) => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = b;
                }
            }
        }
    }
    bytes
}

/// The config path end to end, as far as the input allows: decode, load, resolve, plan.
fn config_pipeline(bytes: Vec<u8>) {
    let Ok(text) = super::input::decode(Path::new("c.toml"), bytes) else {
        return;
    };
    let Ok(config) = super::from_sources(&[("c.toml".into(), text)], Path::new(".")) else {
        return;
    };
    let live = parse_snapshot(SNAPSHOT).expect("the quickstart snapshot is valid");
    if let Ok((desired, _)) = super::resolve(&config, &live) {
        let _ = crate::plan::plan(&desired, &live);
    }
}

/// The snapshot path end to end: decode, parse and validate, plan the quickstart against it.
fn snapshot_pipeline(bytes: Vec<u8>) {
    let Ok(text) = String::from_utf8(bytes) else {
        return;
    };
    let Ok(live) = parse_snapshot(&text) else {
        return;
    };
    let config = super::from_sources(&[("c.toml".into(), CONFIG.into())], Path::new("."))
        .expect("the quickstart config is valid");
    if let Ok((desired, _)) = super::resolve(&config, &live) {
        let plan = crate::plan::plan(&desired, &live);
        let _ = crate::render::human::render(
            &plan,
            crate::render::human::HumanOptions {
                color: false,
                wording: crate::render::Wording::Plan,
            },
        );
    }
}

/// A hostile JSON value for structure-aware snapshot mutation.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(json!(null)),
        Just(json!(-1)),
        Just(json!(4_294_967_296u64)),
        Just(json!(1.5)),
        Just(json!("")),
        Just(json!("XX")),
        Just(json!([])),
        Just(json!({})),
        Just(json!(["a", "a"])),
        "\\PC{0,12}".prop_map(serde_json::Value::String),
    ]
}

/// Every node of a JSON document, as pointers.
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Cases per target: 1,024 by default (about 3 s for all five), more with
/// `M365CTL_FUZZ_CASES=100000 cargo test --lib fuzz` for a longer soak.
#[allow(
    clippy::disallowed_methods,
    reason = "a test-only soak knob, never part of the shipped core"
)]
fn cases() -> u32 {
    std::env::var("M365CTL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn config_loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        config_pipeline(bytes);
    }

    #[test]
    fn config_loader_never_panics_on_mutated_configs(state in any::<bool>(), edits in proptest::collection::vec(edit(), 1..8)) {
        config_pipeline(mutate(if state { STATE } else { CONFIG }, &edits));
    }

    #[test]
    fn snapshot_loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        snapshot_pipeline(bytes);
    }

    #[test]
    fn snapshot_loader_never_panics_on_mutated_text(edits in proptest::collection::vec(edit(), 1..8)) {
        snapshot_pipeline(mutate(SNAPSHOT, &edits));
    }

    #[test]
    fn snapshot_loader_never_panics_on_mutated_values(picks in proptest::collection::vec((any::<usize>(), json_value()), 1..6)) {
        let mut doc: serde_json::Value = serde_json::from_str(SNAPSHOT).unwrap();
        for (pick, value) in picks {
            let mut all = Vec::new();
            pointers(&doc, String::new(), &mut all);
            let at = &all[pick % all.len()];
            if let Some(node) = doc.pointer_mut(at) {
                *node = value;
            }
        }
        snapshot_pipeline(serde_json::to_vec(&doc).unwrap());
    }
}
