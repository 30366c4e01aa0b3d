//! `init --tenants a,b`: scaffold a repository for many tenants — `tenants/<name>/` with a
//! config each, one JSON Schema at the root, and a workflow that plans (and nightly checks
//! drift for) every tenant in its own matrix job. Nothing is overwritten (all or nothing).

use super::{CommandError, Output, exit};
use std::path::Path;

/// A tenant's starting config; `{name}` is replaced by the tenant's name.
const TENANT_CONFIG: &str = r#"#:schema ../../m365ctl.schema.json
# m365ctl desired state of tenant {name}. Reference: docs/config.md. Omitted fields are *not managed*.

[tenant]
backend = "snapshot"                  # start offline; switch to "graph" when ready
snapshot = "tenant.json"              # `m365ctl export -c tenants/{name} --out tenants/{name} --snapshot tenants/{name}/tenant.json`
# backend = "graph"
# tenant_id = "{name}.onmicrosoft.com"
# client_id = "00000000-0000-0000-0000-000000000000"
# auth = "federated"

[skus]
E3 = "ENTERPRISEPACK"                 # or { part = "ENTERPRISEPACK", monthly_price = "36.00" } with [defaults] currency

[scope]
manage_skus = ["E3"]
users = "declared"

[defaults]
usage_location = "GB"
"#;

const GITIGNORE: &str = "# m365ctl: plans, journals and apply locks (each tenant keeps them in tenants/<name>/.m365ctl/)\n.m365ctl/\nplan.json\n*.jsonl\nsnapshots/\n";

/// Whether a tenant name is safe as one directory name.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Runs `init --tenants`.
pub fn run(dir: &Path, names: &[String], out: &Output) -> Result<u8, CommandError> {
    if let Some(bad) = names.iter().find(|n| !valid_name(n)) {
        return Err(CommandError::msg(format!(
            "`{bad}` is not a tenant name: use letters, digits, '-', '_' or '.' (it becomes tenants/{bad}/)"
        )));
    }
    let mut files: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            (
                format!("tenants/{n}/m365ctl.toml"),
                TENANT_CONFIG.replace("{name}", n),
            )
        })
        .collect();
    files.push((".gitignore".into(), GITIGNORE.into()));
    files.push(("m365ctl.schema.json".into(), super::export::schema_text()));
    // The workflow pins the release of the binary that wrote it, installed by the vendored
    // install script (checksum verified), as `init` does.
    files.push((
        ".github/workflows/m365ctl-tenants.yml".into(),
        include_str!("templates/tenants.yml")
            .replace("@M365CTL_VERSION@", env!("CARGO_PKG_VERSION")),
    ));
    files.push((
        ".github/m365ctl-install.sh".into(),
        include_str!("../../install.sh").into(),
    ));
    super::init::write_new_files(out, dir, &files)?;
    out.eprintln(&format!(
        "\nNext: export each tenant's snapshot, then `m365ctl plan -c {}` plans them all; `m365ctl matrix -c {}/tenants` lists them for CI.",
        dir.display(),
        dir.display()
    ));
    Ok(exit::OK)
}
