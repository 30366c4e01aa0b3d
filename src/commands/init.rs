//! `init`: scaffold a config repository — a commented `m365ctl.toml`, the plan/apply/drift
//! workflows and a `.gitignore` — without overwriting anything that exists.

use super::{CommandError, exit};
use std::path::Path;

const CONFIG: &str = r#"#:schema ./m365ctl.schema.json
# m365ctl desired state. Reference: docs/config.md. Omitted fields are *not managed*.

[tenant]
backend = "snapshot"                  # start offline; switch to "graph" when ready
snapshot = "tenant.json"              # `m365ctl export --snapshot tenant.json` writes one
# backend = "graph"
# tenant_id = "contoso.onmicrosoft.com"
# client_id = "00000000-0000-0000-0000-000000000000"        # read-only app: plan, drift
# apply_client_id = "00000000-0000-0000-0000-000000000000"  # read-write app: apply only
# auth = "federated"                  # GitHub Actions OIDC: no secret stored anywhere

[skus]
E3 = "ENTERPRISEPACK"

[scope]
manage_skus = ["E3"]
users = "declared"

[defaults]
usage_location = "GB"

[profiles.staff]
licenses = ["E3"]
mailbox = "user"

[profiles.leaver]
licenses = []
mailbox = "shared"
"#;

const GITIGNORE: &str = "# m365ctl: plans, journals, the apply lock and exported snapshots of the live tenant\n.m365ctl/\nplan.json\n*.journal\n*.jsonl\nsnapshots/\ndrift.md\nplan.md\n";

/// Files written by `init`, relative to the target directory. The workflows install the
/// release pinned below with the vendored install script (checksum verified).
const FILES: [(&str, &str); 6] = [
    ("m365ctl.toml", CONFIG),
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
pub fn run(dir: &Path) -> Result<u8, CommandError> {
    let schema = super::export::schema_text();
    let files: Vec<(&str, String)> = FILES
        .iter()
        .map(|(name, text)| {
            let text = text.replace(VERSION_PLACEHOLDER, env!("CARGO_PKG_VERSION"));
            (*name, text)
        })
        .chain([(SCHEMA_FILE, schema)])
        .collect();
    let existing: Vec<String> = files
        .iter()
        .filter(|(name, _)| dir.join(name).exists())
        .map(|(name, _)| name.to_string())
        .collect();
    if !existing.is_empty() {
        return Err(CommandError::msg(format!(
            "{} already contains {}; nothing was written",
            dir.display(),
            existing.join(", ")
        )));
    }
    for (name, contents) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CommandError::msg(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("created {}", path.display());
    }
    eprintln!(
        "\nNext: `m365ctl export -c {dir} --out {dir} --snapshot {dir}/tenant.json`, then `m365ctl plan -c {dir}`.",
        dir = dir.display()
    );
    Ok(exit::OK)
}
