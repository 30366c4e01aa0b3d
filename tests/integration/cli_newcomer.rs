//! The README's newcomer path, performed with the binary and the fake exactly as the README
//! prints it: init, sim serve, export, validate, edit a leaver and a group member, plan,
//! plan --out, apply, plan — ending with an empty plan. The commands are read from the
//! README's `<!-- newcomer-path -->` block, so the README cannot drift from what works.

use assert_cmd::cargo::cargo_bin;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The shell block after the `<!-- newcomer-path -->` marker, one command per line without
/// its comment.
fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split_once("<!-- newcomer-path -->\n```sh\n")
        .expect("README has the newcomer-path block")
        .1
        .split_once("```")
        .unwrap()
        .0;
    block
        .lines()
        .map(|l| l.split_once(" #").map(|(c, _)| c).unwrap_or(l).trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `sim serve`, stopped when dropped (by its own id: it is a process this test started).
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `m365ctl sim serve ...` and reads what it prints: the `[tenant]` table's lines
/// below `[tenant]`, and the `export NAME=VALUE` lines (the secret and the fake's hosts).
fn serve(cwd: &Path, args: &[&str]) -> (Served, String, Vec<(String, String)>) {
    let mut child = Command::new(cargo_bin("m365ctl"))
        .args(args)
        .arg("--port")
        .arg("0")
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let stdout = child.stdout.take().unwrap();
    let served = Served(child);
    let mut table = String::new();
    let mut exports = Vec::new();
    let mut in_table = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((name, value)) = line.strip_prefix("export ").and_then(|e| e.split_once('=')) {
            exports.push((name.to_string(), value.to_string()));
            if name == "M365CTL_EXCHANGE_HOST" {
                break;
            }
            continue;
        }
        if line == "[tenant]" {
            in_table = true;
        } else if in_table {
            if line.trim().is_empty() {
                in_table = false;
                continue;
            }
            table.push_str(&line);
            table.push('\n');
        }
    }
    assert!(table.contains("backend = \"graph\""), "{table}");
    assert!(
        exports.iter().any(|(n, _)| n == "M365CTL_CLIENT_SECRET"),
        "sim serve names the secret to export: {exports:?}"
    );
    (served, table, exports)
}

fn run(cwd: &Path, command: &str, exports: &[(String, String)]) -> (i32, String, String) {
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = Command::new(cargo_bin("m365ctl"))
        .args(&args)
        .current_dir(cwd)
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .envs(exports.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_readme_newcomer_path_ends_with_an_empty_plan() {
    let root = tempfile::tempdir().unwrap();
    let mut cwd: PathBuf = root.path().to_path_buf();
    let mut exports: Vec<(String, String)> = Vec::new();
    let mut server = None;
    let mut plans = Vec::new();
    for command in readme_commands() {
        if let Some(dir) = command.strip_prefix("cd ") {
            cwd = cwd.join(dir);
            continue;
        }
        if command.starts_with("$EDITOR users.toml") {
            // "a leaver: add [users."grace@contoso.com"] with profile = "leaver""
            let path = cwd.join("users.toml");
            let mut text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(!text.contains("grace@contoso.com"), "{text}");
            text.push_str("\n[users.\"grace@contoso.com\"]\nprofile = \"leaver\"\n");
            std::fs::write(path, text).unwrap();
            continue;
        }
        if command.starts_with("$EDITOR groups.toml") {
            // "add "eve@contoso.com" to LIC-E5's members" (one member a line)
            let path = cwd.join("groups.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let edited = text.replacen(
                "members = [\n",
                "members = [\n    \"eve@contoso.com\",\n",
                1,
            );
            assert_ne!(edited, text, "{text}");
            std::fs::write(path, edited).unwrap();
            continue;
        }
        if command.starts_with("m365ctl sim serve") {
            let args: Vec<&str> = command.split_whitespace().skip(1).collect();
            let (served, table, printed) = serve(&cwd, &args);
            // "replace the two lines backend = "snapshot" / snapshot = "demo-tenant.json"
            // with the printed lines below [tenant]"
            let path = cwd.join("m365ctl.toml");
            let config = std::fs::read_to_string(&path).unwrap();
            let demo = "backend = \"snapshot\"\nsnapshot = \"demo-tenant.json\"\n";
            assert!(config.contains(demo), "{config}");
            std::fs::write(&path, config.replace(demo, &table)).unwrap();
            exports = printed;
            server = Some(served);
            continue;
        }
        assert!(
            command.starts_with("m365ctl "),
            "unexpected README line {command:?}"
        );
        let (code, stdout, stderr) = run(&cwd, &command, &exports);
        assert_eq!(code, 0, "{command}\n{stdout}{stderr}");
        if command.starts_with("m365ctl plan") {
            plans.push(stdout);
        }
    }
    assert!(server.is_some(), "the path runs against the fake");
    let first = &plans[0];
    assert!(first.contains("# grace@contoso.com"), "{first}");
    assert!(first.contains("mailbox: user -> shared"), "{first}");
    assert!(first.contains("+ member of group LIC-E5"), "{first}");
    let last = plans.last().unwrap();
    assert!(last.contains("No changes."), "{last}");
    assert_eq!(plans.len(), 3);
}
