//! The GitOps loop played locally with the binary and the snapshot backend, step for step as
//! the workflows run it: the pull-request job plans once (`plan --out`) and renders the
//! comment and the annotations from the saved file (`show`); the merge job applies that
//! reviewed plan, which is refused, naming the difference, when the tenant moved since
//! review, and otherwise applies and leaves an empty plan. The same for a mass change, which
//! apply refuses until the pull request approves its exact operations checksum.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

const HEAD_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// A config repository: a copy of the quickstart in a temporary directory with a `.git`.
pub(crate) struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub(crate) fn quickstart() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        for name in ["m365ctl.toml", "tenant.json"] {
            std::fs::copy(example.join(name), dir.path().join(name)).unwrap();
        }
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        Repo { dir }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// The binary in the repository, as a workflow step runs it (outside Actions unless
    /// `github` is set: then with GITHUB_ACTIONS, the workspace and a step summary file).
    pub(crate) fn m365ctl(&self, github: bool) -> Command {
        let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
        cmd.current_dir(self.dir.path())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_WORKSPACE")
            .env_remove("M365CTL_CLIENT_ID")
            .env("NO_COLOR", "1");
        if github {
            cmd.env("GITHUB_ACTIONS", "true")
                .env("GITHUB_WORKSPACE", self.dir.path())
                .env("GITHUB_STEP_SUMMARY", self.path("summary.md"));
        }
        cmd
    }

    /// Appends TOML to the config (a commit on the pull request's branch).
    pub(crate) fn append_config(&self, toml: &str) {
        let mut text = self.read("m365ctl.toml");
        text.push_str(toml);
        std::fs::write(self.path("m365ctl.toml"), text).unwrap();
    }

    /// Someone changes the tenant by hand: henry gets a usage location, so the reviewed
    /// "set usage location" operation is no longer in a fresh plan.
    pub(crate) fn change_tenant_by_hand(&self) {
        let mut tenant: serde_json::Value =
            serde_json::from_str(&self.read("tenant.json")).unwrap();
        let henry = tenant["users"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|u| u["user_principal_name"] == "henry@contoso.com")
            .unwrap();
        henry["usage_location"] = "US".into();
        std::fs::write(
            self.path("tenant.json"),
            serde_json::to_string_pretty(&tenant).unwrap(),
        )
        .unwrap();
    }
}

/// What the pull-request job leaves behind.
pub(crate) struct PullRequestRun {
    pub exit_code: i32,
    pub github_stdout: String,
    pub comment: String,
}

/// The plan step of `m365ctl-plan.yml`: plan once, then render the comment from the file.
pub(crate) fn pull_request_job(repo: &Repo) -> PullRequestRun {
    let plan = repo
        .m365ctl(true)
        .args([
            "plan",
            "-c",
            ".",
            "--format",
            "github",
            "--out",
            "plan.json",
        ])
        .args(["--detailed-exitcode", "--commit", HEAD_SHA])
        .args(["--error-comment", "comment.md"])
        .output()
        .unwrap();
    let exit_code = plan.status.code().unwrap();
    if repo.path("plan.json").exists() {
        let show = repo
            .m365ctl(false)
            .args([
                "show",
                "plan.json",
                "--format",
                "markdown",
                "--commit",
                HEAD_SHA,
            ])
            .output()
            .unwrap();
        assert_eq!(show.status.code(), Some(0), "{show:?}");
        std::fs::write(repo.path("comment.md"), &show.stdout).unwrap();
    }
    PullRequestRun {
        exit_code,
        github_stdout: String::from_utf8(plan.stdout).unwrap(),
        comment: repo.read("comment.md"),
    }
}

/// The apply step of `m365ctl-apply.yml`: the reviewed plan file, auto-approved.
fn merge_job(repo: &Repo) -> (i32, String) {
    let out = repo
        .m365ctl(false)
        .args(["apply", "-c", ".", "plan.json", "--auto-approve"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn next_plan_is_empty(repo: &Repo) {
    let out = repo
        .m365ctl(false)
        .args(["plan", "-c", ".", "--detailed-exitcode"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("No changes."), "{text}");
}

/// The saved plan renders in every format exactly as `plan` rendered it, without the
/// tenant: the comment and the annotations are the reviewed plan, byte for byte.
fn renders_from_the_file_as_planned(repo: &Repo, run: &PullRequestRun) {
    let saved = repo.read("plan.json");
    let show = |format: &str, github: bool| {
        let out = repo
            .m365ctl(github)
            .args(["show", "plan.json", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // Unreadable tenant: show must not need it.
    std::fs::rename(repo.path("tenant.json"), repo.path("tenant.json.away")).unwrap();
    assert_eq!(show("github", true), run.github_stdout);
    assert_eq!(show("json", false), saved);
    let human = show("human", false);
    std::fs::rename(repo.path("tenant.json.away"), repo.path("tenant.json")).unwrap();
    let planned = repo
        .m365ctl(false)
        .args(["plan", "-c", ".", "--format", "human"])
        .output()
        .unwrap();
    assert_eq!(human, String::from_utf8(planned.stdout).unwrap());
    let comment = &run.comment;
    assert!(comment.starts_with("<!-- m365ctl-plan -->\n"), "{comment}");
    assert!(
        comment.contains(&format!(
            "Commit `{HEAD_SHA}` · config `.` · tenant `snapshot ./tenant.json`"
        )),
        "{comment}"
    );
}

fn operations_checksum(comment: &str) -> String {
    let start = comment
        .find("Operations checksum: `")
        .expect("the comment names the operations checksum")
        + "Operations checksum: `".len();
    comment[start..start + 71].to_string()
}

#[test]
fn a_reviewed_plan_is_applied_only_while_it_is_still_the_plan() {
    let repo = Repo::quickstart();

    // Pull request: one plan, the rest rendered from the file.
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 2, "changes present");
    renders_from_the_file_as_planned(&repo, &run);
    assert!(
        run.comment
            .contains("Plan: 4 to add, 4 to change, 3 to remove.")
    );
    assert!(
        !run.comment.contains("apply will refuse"),
        "{}",
        run.comment
    );

    // The tenant changes between review and merge: the merge step refuses, names what
    // differs, and applies nothing.
    let reviewed_tenant = repo.read("tenant.json");
    repo.change_tenant_by_hand();
    let changed_tenant = repo.read("tenant.json");
    let (code, stderr) = merge_job(&repo);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("henry@contoso.com"),
        "names the difference: {stderr}"
    );
    assert_eq!(repo.read("tenant.json"), changed_tenant, "nothing applied");

    // Without the change, the reviewed plan applies and the next plan is empty.
    std::fs::write(repo.path("tenant.json"), reviewed_tenant).unwrap();
    let (code, stderr) = merge_job(&repo);
    assert_eq!(code, 0, "{stderr}");
    next_plan_is_empty(&repo);
}

#[test]
fn a_mass_change_applies_once_the_pull_request_approves_its_checksum() {
    let repo = Repo::quickstart();
    // Thresholds every removal trips: the quickstart's three users losing a licence are a
    // "mass change" here.
    repo.append_config("\n[guards]\nmax_license_removals = 0\nmax_license_removal_percent = 0\n");

    // Pull request without approval: the plan says apply will refuse, and how to approve.
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 2);
    let checksum = operations_checksum(&run.comment);
    assert!(checksum.starts_with("sha256:"), "{checksum}");
    assert!(
        run.comment.contains("apply will refuse this plan"),
        "{}",
        run.comment
    );
    assert!(
        run.comment
            .contains(&format!("approve_mass_change = \"{checksum}\"")),
        "{}",
        run.comment
    );
    assert!(
        run.github_stdout
            .contains("::warning title=m365ctl::apply will refuse this plan"),
        "{}",
        run.github_stdout
    );

    // Merged like that, apply refuses and changes nothing.
    let before = repo.read("tenant.json");
    let (code, stderr) = merge_job(&repo);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("refusing to remove licences"), "{stderr}");
    assert_eq!(repo.read("tenant.json"), before);

    // The pull request approves exactly this change: a line in the diff, re-planned.
    let text = repo.read("m365ctl.toml");
    let approved = text.replace(
        "max_license_removal_percent = 0\n",
        &format!("max_license_removal_percent = 0\napprove_mass_change = \"{checksum}\"\n"),
    );
    std::fs::write(repo.path("m365ctl.toml"), approved).unwrap();
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 2);
    assert_eq!(
        operations_checksum(&run.comment),
        checksum,
        "same operations"
    );
    assert!(
        run.comment.contains("mass change approved in review"),
        "{}",
        run.comment
    );
    assert!(
        run.github_stdout
            .contains("::warning file=m365ctl.toml,line="),
        "the approval line is annotated: {}",
        run.github_stdout
    );

    // The approval covers only these operations: after a tenant change, refused.
    let reviewed_tenant = repo.read("tenant.json");
    repo.change_tenant_by_hand();
    let (code, stderr) = merge_job(&repo);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("henry@contoso.com"), "{stderr}");

    // Unchanged, it applies; the next plan is empty (and says the approval can go).
    std::fs::write(repo.path("tenant.json"), reviewed_tenant).unwrap();
    let (code, stderr) = merge_job(&repo);
    assert_eq!(code, 0, "{stderr}");
    next_plan_is_empty(&repo);
    let out = repo
        .m365ctl(false)
        .args(["plan", "-c", "."])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("remove approve_mass_change"),
        "{out:?}"
    );
}

#[test]
fn a_config_error_replaces_the_comment_and_leaves_no_plan_file() {
    let repo = Repo::quickstart();
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 2);
    assert!(repo.path("plan.json").exists());

    repo.append_config("\n[users.\"zed@contoso.com\"]\nlicenses = [\"E7\"]\n");
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 1);
    assert!(!repo.path("plan.json").exists(), "the old plan is gone");
    assert!(run.comment.starts_with("<!-- m365ctl-plan -->\n"));
    assert!(run.comment.contains(HEAD_SHA), "{}", run.comment);
    assert!(
        run.comment.contains("`m365ctl.toml:"),
        "repository-relative place: {}",
        run.comment
    );
    assert!(
        run.github_stdout
            .contains("::error file=m365ctl.toml,line="),
        "annotation on the repository path, not ./m365ctl.toml: {}",
        run.github_stdout
    );
}

/// Whatever `-c` is and wherever the job runs inside the repository, annotations and the
/// comment name the config file by its path from the repository root.
#[test]
fn annotations_name_the_repository_path_whatever_c_is() {
    let repo = Repo::quickstart();
    let sub = repo.path("cfg");
    std::fs::create_dir(&sub).unwrap();
    for name in ["m365ctl.toml", "tenant.json"] {
        std::fs::rename(repo.path(name), sub.join(name)).unwrap();
    }
    let mut config = std::fs::read_to_string(sub.join("m365ctl.toml")).unwrap();
    config.push_str("\n[users.\"zed@contoso.com\"]\nlicenses = [\"E7\"]\n");
    std::fs::write(sub.join("m365ctl.toml"), config).unwrap();
    let absolute = sub.display().to_string();
    let spellings: [(&str, &str); 8] = [
        (".", "cfg"),
        (".", "./cfg"),
        (".", "cfg/"),
        (".", "./cfg/../cfg/"),
        (".", &absolute),
        ("cfg", "."),
        ("cfg", "./"),
        ("cfg", &absolute),
    ];
    for (cwd, c) in spellings {
        for workspace in [true, false] {
            let mut cmd = repo.m365ctl(true);
            if !workspace {
                // Outside Actions' workspace variable the root is found from `.git`.
                cmd.env_remove("GITHUB_WORKSPACE");
            }
            let out = cmd
                .current_dir(repo.path(cwd))
                .args(["plan", "-c", c, "--error-comment"])
                .arg(repo.path("comment.md"))
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1));
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.contains("::error file=cfg/m365ctl.toml,line="),
                "cwd {cwd}, -c {c}: {stdout}"
            );
            let comment = repo.read("comment.md");
            assert!(
                comment.contains("config `cfg`"),
                "cwd {cwd}, -c {c}: {comment}"
            );
            assert!(comment.contains("`cfg/m365ctl.toml:"), "{comment}");
        }
    }
}

#[test]
fn show_refuses_what_is_not_an_intact_plan_file() {
    let repo = Repo::quickstart();
    let run = pull_request_job(&repo);
    assert_eq!(run.exit_code, 2);
    let edited = repo
        .read("plan.json")
        .replace("henry@contoso.com", "mallory@contoso.com");
    std::fs::write(repo.path("edited.json"), edited).unwrap();
    for (file, why) in [
        ("edited.json", "checksum mismatch"),
        ("missing.json", "cannot read"),
        ("m365ctl.toml", "not a m365ctl plan file"),
    ] {
        let out = repo
            .m365ctl(false)
            .args(["show", file, "--format", "markdown"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(out.stdout.is_empty(), "{file}: nothing rendered");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{file}: {stderr}");
    }
}
