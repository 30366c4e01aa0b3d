//! The pull-request comment as reviewers see it, for each kind of run: a clean plan, a plan
//! with changes, a plan over the guards, and a config error. Rendered by the binary exactly
//! as the plan workflow does (`plan --out … --error-comment`, then `show --format markdown`).
//! Snapshots are reviewed; the assertions keep each test able to fail on its own.

use super::cli_gitops_loop::{Repo, pull_request_job};

const MARKER: &str = "<!-- m365ctl-plan -->\n### m365ctl plan\n\nCommit `0123456789abcdef0123456789abcdef01234567` · config `.`";

#[test]
fn comment_for_a_clean_plan() {
    let repo = Repo::quickstart();
    let applied = repo
        .m365ctl(false)
        .args(["apply", "-c", ".", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(applied.status.code(), Some(0), "{applied:?}");
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 0);
    assert!(run.comment.starts_with(MARKER), "{}", run.comment);
    assert!(run.comment.contains("No changes."), "{}", run.comment);
    assert!(!run.comment.contains("Operations checksum"));
    insta::assert_snapshot!("comment_clean_plan", run.comment);
}

#[test]
fn comment_for_a_plan_with_changes() {
    let repo = Repo::quickstart();
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 2);
    assert!(run.comment.starts_with(MARKER), "{}", run.comment);
    assert!(
        run.comment
            .contains("Plan: 4 to add, 4 to change, 3 to remove.")
    );
    assert!(run.comment.contains("Operations checksum: `sha256:"));
    insta::assert_snapshot!("comment_plan_with_changes", run.comment);
}

#[test]
fn comment_for_a_plan_with_guard_trips() {
    let repo = Repo::quickstart();
    repo.append_config("\n[guards]\nmax_license_removals = 1\nmax_license_removal_percent = 10\nmax_mailbox_conversions = 0\n");
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 2);
    assert!(run.comment.starts_with(MARKER), "{}", run.comment);
    assert!(
        run.comment
            .contains("> [!WARNING]\n> apply will refuse this plan"),
        "{}",
        run.comment
    );
    assert!(
        run.comment.contains("approve_mass_change = \"sha256:"),
        "{}",
        run.comment
    );
    insta::assert_snapshot!("comment_plan_with_guard_trips", run.comment);
}

#[test]
fn comment_for_a_config_error() {
    let repo = Repo::quickstart();
    repo.append_config(
        "\n[users.\"zed@contoso.com\"]\nprofile = \"stafff\"\nlicenses = [\"E7\"]\n",
    );
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 1);
    assert!(run.comment.starts_with(MARKER), "{}", run.comment);
    assert!(
        run.comment
            .contains("**No plan: the configuration has errors."),
        "{}",
        run.comment
    );
    assert_eq!(
        run.comment.matches("> [!CAUTION]").count(),
        2,
        "both errors: {}",
        run.comment
    );
    insta::assert_snapshot!("comment_config_error", run.comment);
}
