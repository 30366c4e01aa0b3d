//! `init`: scaffold a config repository — an `m365ctl.toml` that reaches the tenant (a demo
//! snapshot it writes, or Graph once edited), the plan/apply/drift workflows and a
//! `.gitignore` — without overwriting anything that exists.

use super::{CommandError, Output, exit};
use std::path::Path;

const CONFIG: &str = r#"#:schema ./m365ctl.schema.json
# m365ctl: this file says how to reach the tenant. `m365ctl export` writes the rest of the
# desired state (licensing.toml, users.toml, groups.toml) from the tenant as it is today;
# every *.toml file of this directory is merged. Reference: docs/config.md.

[tenant]
# Offline demo: a 12-person company in a snapshot file; `apply` updates that file.
backend = "snapshot"
snapshot = "demo-tenant.json"
# Your tenant (README "App registration"): replace the two lines above with
# backend = "graph"
# tenant_id = "contoso.onmicrosoft.com"
# client_id = "00000000-0000-0000-0000-000000000000"        # read-only app: plan, drift
# apply_client_id = "00000000-0000-0000-0000-000000000000"  # read-write app: apply only
# auth = "federated"                  # GitHub Actions OIDC: no secret stored anywhere
# No app registration yet? auth = "device-code" (or "azure-cli") signs you in yourself, read-only:
# plan, drift and export work, apply does not (README "Trying it with your own admin account").
"#;

/// The demo tenant `init` writes: the quickstart's 12-person company.
const DEMO_TENANT: &str = include_str!("../../examples/quickstart/tenant.json");

const GITIGNORE: &str = "# m365ctl: plans, journals, the apply lock and exported snapshots of the live tenant\n.m365ctl/\nplan.json\n*.journal\n*.jsonl\nsnapshots/\ndrift.md\nplan.md\n";

/// Files written by `init`, relative to the target directory. The workflows install the
/// release pinned below with the vendored install script (checksum verified).
const FILES: [(&str, &str); 7] = [
    ("m365ctl.toml", CONFIG),
    ("demo-tenant.json", DEMO_TENANT),
    (".gitignore", GITIGNORE),
    (
        ".github/workflows/m365ctl-plan.yml",
        include_str!("templates/plan.yml"),
    ),
    (
        ".github/workflows/m365ctl-apply.yml",
        include_str!("templates/apply.yml"),
    ),
    (
        ".github/workflows/m365ctl-drift.yml",
        include_str!("templates/drift.yml"),
    ),
    (
        ".github/m365ctl-install.sh",
        include_str!("../../install.sh"),
    ),
];

/// The workflows pin the release of the binary that wrote them.
const VERSION_PLACEHOLDER: &str = "@M365CTL_VERSION@";

/// The JSON Schema the config's `#:schema` line points at (editors validate and complete).
const SCHEMA_FILE: &str = "m365ctl.schema.json";

/// Runs `init`; refuses to overwrite existing files (all or nothing).
pub fn run(dir: &Path, out: &Output) -> Result<u8, CommandError> {
    let schema = super::export::schema_text();
    let files: Vec<(&str, String)> = FILES
        .iter()
        .map(|(name, text)| {
            let text = text.replace(VERSION_PLACEHOLDER, env!("CARGO_PKG_VERSION"));
            (*name, text)
        })
        .chain([(SCHEMA_FILE, schema)])
        .collect();
    write_new_files(out, dir, &files)?;
    out.eprint(&next_steps(dir));
    Ok(exit::OK)
}

/// What to run next, as commands that work exactly as printed (a test runs them): the
/// offline demo first, then the switch to the real tenant.
fn next_steps(dir: &Path) -> String {
    let d = shell_word(&dir.display().to_string());
    format!(
        "\nNext, offline with the demo tenant (demo-tenant.json):\n\
         \x20 m365ctl export -c {d} --out {d}\n\
         \x20 m365ctl validate -c {d}\n\
         \x20 m365ctl plan -c {d}\n\
         Then edit users.toml (e.g. profile = \"leaver\") or groups.toml and plan again.\n\
         \nFor your tenant: set backend = \"graph\", tenant_id and client_id in {d}/m365ctl.toml, then\n\
         \x20 m365ctl export -c {d} --out {d} --force\n\
         \x20 m365ctl plan -c {d}\n"
    )
}

/// `word` quoted for a POSIX shell when it needs it, so a printed command runs when pasted.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@+=".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Writes `files` under `dir`, creating directories, only when none of them exists yet: all or
/// nothing, so `init` never clobbers (shared by `init` and `init --tenants`).
pub(crate) fn write_new_files<N: AsRef<str>>(
    out: &Output,
    dir: &Path,
    files: &[(N, String)],
) -> Result<(), CommandError> {
    let existing: Vec<&str> = files
        .iter()
        .map(|(name, _)| name.as_ref())
        .filter(|name| dir.join(name).exists())
        .collect();
    if !existing.is_empty() {
        return Err(CommandError::msg(format!(
            "{} already contains {}; nothing was written",
            dir.display(),
            existing.join(", ")
        )));
    }
    for (name, contents) in files {
        let path = dir.join(name.as_ref());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CommandError::msg(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", path.display())))?;
        out.eprintln(&format!("created {}", path.display()));
    }
    Ok(())
}
