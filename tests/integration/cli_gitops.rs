//! What reviewers see in pull requests: the Markdown comment and the GitHub Actions output of
//! `plan` on the quickstart, and the annotation of a config error. Snapshots are reviewed;
//! the explicit assertions keep the tests able to fail if a snapshot is blindly accepted.

use assert_cmd::Command;
use std::path::Path;

fn m365ctl(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
    cmd.current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1");
    cmd
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn markdown_plan_of_the_quickstart() {
    let out = m365ctl(repo())
        .args(["plan", "--format", "markdown", "-c", "examples/quickstart"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("<!-- m365ctl-plan -->"), "{text}");
    assert!(text.contains("<details>"), "collapsible per-user sections");
    assert!(
        text.contains("| <code>ENTERPRISEPACK</code> | 10 | 6 | 5 | 5 |"),
        "licence table: {text}"
    );
    assert!(text.contains("grace@contoso.com"), "{text}");
    insta::assert_snapshot!("markdown_quickstart", text);
}

#[test]
fn github_plan_of_the_quickstart_writes_plan_and_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let out = m365ctl(repo())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "-c", "examples/quickstart"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Plan: 4 to add, 4 to change, 3 to remove."),
        "{text}"
    );
    insta::assert_snapshot!("github_quickstart_stdout", text);
    let body = std::fs::read_to_string(&summary).unwrap();
    assert!(body.starts_with("<!-- m365ctl-plan -->"), "{body}");
}

#[test]
fn github_annotation_names_the_broken_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["m365ctl.toml", "tenant.json"] {
        std::fs::copy(
            repo().join("examples/quickstart").join(file),
            dir.path().join(file),
        )
        .unwrap();
    }
    let config = dir.path().join("m365ctl.toml");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "usage_location = \"GB\"",
        "usage_location = \"UK\"",
        1,
    );
    std::fs::write(&config, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("usage_location = \"UK\""))
        .unwrap()
        + 1;
    let out = m365ctl(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["plan", "-c", "m365ctl.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!("::error file=m365ctl.toml,line={line},col=18")),
        "{stdout}"
    );
    insta::assert_snapshot!("github_config_error_annotation", stdout);
}

#[test]
fn the_readme_shows_the_quickstart_plan_as_it_really_prints() {
    let out = m365ctl(repo())
        .args(["plan", "-c", "examples/quickstart"])
        .output()
        .unwrap();
    let plan = String::from_utf8(out.stdout).unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains(plan.trim_end()),
        "README.md's sample plan is out of date; paste the output of \
         `cargo run -- plan -c examples/quickstart` into it"
    );
}
