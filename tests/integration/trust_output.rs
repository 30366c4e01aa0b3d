//! Issue 14, item 3 end to end: a tenant whose strings are hostile (a UPN and a SKU status
//! carrying workflow commands, ANSI escapes and markdown) planned through the binary in every
//! format. No output may carry a workflow command but m365ctl's own annotations, an escape or
//! control byte (with `--color always`: none but SGR colour codes), or markdown that closes the
//! diff block or adds a heading.

use assert_cmd::Command;
use std::path::Path;

const HOSTILE_UPN: &str = "x\u{1b}[2J\n::add-mask::\r##[error]boom\u{202e}```\n# Approved @admins <img src=x>@contoso.com";
const HOSTILE_STATUS: &str = "Warning\n::stop-commands::tok\u{9b}31m";

fn hostile_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let config = std::fs::read_to_string(root.join("m365ctl.toml"))
        .unwrap()
        .replace("users = \"declared\"", "users = \"all\"");
    std::fs::write(dir.path().join("m365ctl.toml"), config).unwrap();
    let mut tenant: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tenant.json")).unwrap()).unwrap();
    tenant["skus"][0]["capability_status"] = HOSTILE_STATUS.into();
    let e3 = tenant["skus"][0]["sku_id"].clone();
    tenant["users"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "id": "00000099-7e57-4c1d-9a2b-000000009999",
            "user_principal_name": HOSTILE_UPN,
            "usage_location": "GB",
            "licenses": [{"sku_id": e3, "state": "Active"}],
            "mailbox": {"type": "user", "size_bytes": 1}
        }));
    std::fs::write(
        dir.path().join("tenant.json"),
        serde_json::to_string_pretty(&tenant).unwrap(),
    )
    .unwrap();
    dir
}

fn plan(dir: &Path, args: &[&str], summary: Option<&Path>) -> (String, String) {
    let mut cmd = Command::cargo_bin("m365ctl").unwrap();
    cmd.env_remove("GITHUB_ACTIONS").env_remove("NO_COLOR");
    match summary {
        Some(path) => cmd.env("GITHUB_STEP_SUMMARY", path),
        None => cmd.env_remove("GITHUB_STEP_SUMMARY"),
    };
    let out = cmd
        .arg("plan")
        .args(args)
        .arg("-c")
        .arg(dir)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_inert(name: &str, text: &str, colour: bool) {
    for line in text.lines() {
        let trimmed = line.trim_start();
        assert!(
            !trimmed.starts_with("::")
                || trimmed.starts_with("::warning ")
                || trimmed.starts_with("::error "),
            "{name}: workflow command {line:?}"
        );
        assert!(
            !line.contains("##["),
            "{name}: legacy workflow command {line:?}"
        );
    }
    let mut rest = text;
    while let Some(at) = rest.find('\u{1b}') {
        let sgr = rest[at..]
            .strip_prefix("\u{1b}[")
            .and_then(|r| r.find('m').map(|m| &r[..m]))
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit() || b == b';'));
        assert!(colour && sgr, "{name}: escape byte in {:?}", &rest[at..]);
        rest = &rest[at + 1..];
    }
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\u{1b}') || c == '\u{202e}'),
        "{name}: control character"
    );
}

#[test]
fn hostile_tenant_strings_are_inert_in_every_format() {
    let dir = hostile_copy();
    let summary = dir.path().join("summary.md");
    let (human, human_err) = plan(dir.path(), &["--color", "always"], None);
    assert!(
        human.contains("@contoso.com"),
        "the hostile user is in the plan:\n{human}{human_err}"
    );
    assert_inert("human", &human, true);
    assert_inert("human stderr", &human_err, true);
    let (github, github_err) = plan(dir.path(), &["--format", "github"], Some(&summary));
    assert!(
        github.starts_with("::warning "),
        "the hostile status is annotated:\n{github}"
    );
    assert_inert("github", &github, false);
    assert_inert("github stderr", &github_err, false);
    let (json, _) = plan(dir.path(), &["--format", "json"], None);
    assert_inert("json", &json, false);
    let (markdown, _) = plan(dir.path(), &["--format", "markdown"], None);
    let step_summary = std::fs::read_to_string(&summary).unwrap();
    for (name, md) in [("markdown", markdown), ("step summary", step_summary)] {
        assert_inert(name, &md, false);
        // Only our own fences, headings and tags.
        let fences = md.lines().filter(|l| l.starts_with("```")).count();
        let sections = md.matches("<details>").count();
        assert_eq!(fences, 2 * sections, "{name}: {md}");
        // Outside code blocks (which GitHub shows literally): no heading, HTML or @mention
        // but ours.
        let mut in_code = false;
        let prose: Vec<&str> = md
            .lines()
            .filter(|l| {
                if l.starts_with("```") {
                    in_code = !in_code;
                    return false;
                }
                !in_code
            })
            .collect();
        let headings: Vec<&&str> = prose.iter().filter(|l| l.starts_with('#')).collect();
        assert_eq!(headings, [&"### m365ctl plan"], "{name}");
        for line in &prose {
            let raw_html = line
                .match_indices("<img")
                .any(|(i, _)| !line[..i].ends_with('\\'));
            assert!(!raw_html, "{name}: raw HTML in {line:?}");
            assert!(
                !line.contains(" @admins"),
                "{name}: a live @mention in {line:?}"
            );
        }
        assert!(
            md.contains("<img"),
            "{name}: the hostile UPN is shown (in a code block)"
        );
    }
}
