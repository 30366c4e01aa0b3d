//! `export`, `schema` and `report stacking`: thin shells over the pure `desired::export`,
//! `desired::schema` and `plan::stacking`.

use super::{Backend, CommandError, Output, exit, write_stdout};
use crate::backend::BackendConfig;
use crate::backend::snapshot::{render_snapshot, write_atomically};
use crate::cli::{ExportArgs, StackingArgs, StackingFormat};
use crate::desired::Config;
use crate::desired::export::{ExportOptions, TENANT_FILE, to_toml};
use crate::diag::{Diagnostic, Diagnostics};
use crate::input::config_files;
use crate::tenant::Tenant;
use std::path::{Component, Path, PathBuf};

/// The JSON Schema file every exported file's `#:schema` line names.
const SCHEMA_FILE: &str = "m365ctl.schema.json";

/// Runs `export`: today's tenant as a config directory (`licensing.toml` with profiles and
/// rules, `users.toml`, `groups.toml`, the JSON schema, and `m365ctl.toml` with `[tenant]`
/// when the directory has none), and optionally as a snapshot.
///
/// Never overwrites a file without `--force`, never rewrites `[tenant]`, and writes nothing
/// unless the directory as it will be (exported files merged with the `.toml` files already
/// there) loads and plans empty against the tenant it was read from.
pub fn run(args: &ExportArgs, output: &Output) -> Result<u8, CommandError> {
    let config = super::load_config(output, &args.config.config)?;
    let live = Backend::from_config(&config)?.read_blocking()?;
    let out = &args.out;
    let has_tenant_file = out.join(TENANT_FILE).is_file() || same_dir(&args.config.config, out);
    let tenant_table = if has_tenant_file {
        None
    } else {
        Some(tenant_table(&config, out)?)
    };
    let mut files: Vec<(PathBuf, String)> = to_toml(&live, ExportOptions { tenant_table })
        .into_iter()
        .map(|(name, text)| (out.join(name), text))
        .collect();
    let schema = out.join(SCHEMA_FILE);
    if std::fs::read_to_string(&schema).ok() != Some(schema_text()) {
        files.push((schema, schema_text()));
    }
    if let Some(snapshot) = &args.snapshot {
        files.push((snapshot.clone(), render_snapshot(&live)));
    }
    let existing: Vec<String> = files
        .iter()
        .filter(|(path, _)| path.exists())
        .map(|(path, _)| path.display().to_string())
        .collect();
    if !existing.is_empty() && !args.force {
        return Err(CommandError::Diagnostics(Diagnostics(vec![
            Diagnostic::error(
                format!(
                    "export would overwrite {}; nothing was written",
                    existing.join(", ")
                ),
                None,
            )
            .with_hint(
                "export into another directory (--out DIR), or pass --force to replace these files \
                 (an existing m365ctl.toml and its [tenant] are never rewritten)",
            ),
        ])));
    }
    check_plans_empty(out, &files, &live)?;
    for (path, text) in &files {
        write(path, text)?;
    }
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    output.eprintln(&format!(
        "Exported {} users, {} groups, {} SKUs: {}",
        live.users.len(),
        live.groups.len(),
        live.skus.len(),
        names.join(", ")
    ));
    output.eprintln(&format!("Planning {} now changes nothing.", out.display()));
    Ok(exit::OK)
}

/// Writes a file atomically, creating its directory.
fn write(path: &Path, text: &str) -> Result<(), CommandError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| CommandError::msg(format!("cannot create {}: {e}", parent.display())))?;
    }
    write_atomically(path, text)
        .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", path.display())))
}

/// Whether the config at `config` lives in the directory `out` (so `out` already has the
/// `[tenant]` table, wherever it is).
fn same_dir(config: &Path, out: &Path) -> bool {
    let dir = if config.is_dir() {
        config
    } else {
        config.parent().unwrap_or(Path::new("."))
    };
    let canonical = |p: &Path| {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        p.canonicalize().ok()
    };
    canonical(dir).is_some_and(|d| canonical(out) == Some(d))
}

/// The `[tenant]` table for a new directory: the source's table exactly as written (auth,
/// cloud, hosts, comments), except that a snapshot path is re-written relative to `out` so
/// the export reads the same file.
fn tenant_table(config: &Config, out: &Path) -> Result<String, CommandError> {
    match (&config.backend, &config.tenant_table) {
        (BackendConfig::Graph(_), Some(table)) => Ok(table.clone()),
        (BackendConfig::Snapshot { path }, _) => Ok(format!(
            "[tenant]\nbackend = \"snapshot\"\nsnapshot = {}",
            toml::Value::String(relative_to(path, out)?)
        )),
        (BackendConfig::Graph(_), None) => Err(CommandError::msg(
            "the config reads Microsoft Graph but has no [tenant] table to copy",
        )),
    }
}

/// Refuses (before writing anything) an export whose directory would not load, or would
/// not plan empty against the tenant it was read from: e.g. `--out` a directory whose
/// config already declares `[scope]` or the same profiles.
fn check_plans_empty(
    out: &Path,
    files: &[(PathBuf, String)],
    live: &Tenant,
) -> Result<(), CommandError> {
    let mut sources: Vec<(String, String)> = Vec::new();
    if out.is_dir()
        && let Ok(existing) = config_files(out)
    {
        for path in existing {
            if files.iter().any(|(p, _)| *p == path) {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CommandError::msg(format!("cannot read {}: {e}", path.display())))?;
            sources.push((path.display().to_string(), text));
        }
    }
    for (path, text) in files {
        if path.parent() == Some(out) && path.extension().is_some_and(|e| e == "toml") {
            sources.push((path.display().to_string(), text.clone()));
        }
    }
    sources.sort();
    let refuse = |diagnostics: Vec<Diagnostic>| {
        let mut all = vec![
            Diagnostic::error(
                format!(
                    "the exported config would not plan empty together with the files already in {}; nothing was written",
                    out.display()
                ),
                None,
            )
            .with_hint("export into an empty directory (--out DIR), or move the files named below out of the way"),
        ];
        all.extend(diagnostics);
        CommandError::Diagnostics(Diagnostics(all))
    };
    let config = crate::desired::from_sources(&sources, out).map_err(|d| refuse(d.0))?;
    let (state, _) = crate::desired::resolve(&config, live).map_err(|d| refuse(d.0))?;
    let plan = crate::plan::plan(&state, live);
    let errors: Vec<Diagnostic> = plan
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(refuse(errors));
    }
    if let Some(first) = plan.operations.first() {
        return Err(refuse(vec![Diagnostic::error(
            format!(
                "{} operations would be planned, e.g. {} {}",
                plan.operations.len(),
                first.kind.name(),
                first.kind.target()
            ),
            None,
        )]));
    }
    Ok(())
}

/// Runs `schema`.
pub fn schema(out: &Output) -> Result<u8, CommandError> {
    write_stdout(out, &schema_text())?;
    Ok(exit::OK)
}

/// The config language's JSON Schema, pretty-printed with a final newline (the committed
/// `m365ctl.schema.json` files are exactly this text).
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::desired::schema::json_schema())
        .expect("a JSON value serializes");
    text.push('\n');
    text
}

/// Runs `report stacking`: exit 0 when nobody holds redundant Exchange licences, 2 when some
/// do (so a nightly job can act on it), 1 on error.
pub fn stacking(args: &StackingArgs, out: &Output) -> Result<u8, CommandError> {
    let config = super::load_config(out, &args.config.config)?;
    let live = Backend::from_config(&config)?.read_blocking()?;
    let report = crate::plan::stacking::report(&live);
    let text = match args.format {
        StackingFormat::Human => crate::render::stacking::human(&report),
        StackingFormat::Json => crate::render::stacking::json(&report),
    };
    write_stdout(out, &text)?;
    Ok(if report.users.is_empty() {
        exit::OK
    } else {
        exit::CHANGES
    })
}

/// `path` written relative to `base` (both made absolute first), with `/` separators, so the
/// exported config finds its snapshot wherever the repository is checked out.
fn relative_to(path: &Path, base: &Path) -> Result<String, CommandError> {
    let absolute = |p: &Path| -> Result<PathBuf, CommandError> {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| CommandError::msg(format!("cannot read the current directory: {e}")))?
                .join(p)
        };
        Ok(normalize(&p))
    };
    let (path, base) = (absolute(path)?, absolute(base)?);
    let common = path
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common <= 1 {
        // Nothing in common but the root: an absolute path says more than a row of `..`.
        return Ok(path.to_string_lossy().replace('\\', "/"));
    }
    let ups = base.components().count() - common;
    let parts: Vec<String> = std::iter::repeat_n("..".to_string(), ups)
        .chain(
            path.components()
                .skip(common)
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        )
        .collect();
    Ok(parts.join("/"))
}

/// Removes `.` and folds `..` lexically (the paths may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::relative_to;
    use std::path::Path;

    #[test]
    fn snapshot_paths_are_written_relative_to_the_export_directory() {
        let rel = |p: &str, b: &str| relative_to(Path::new(p), Path::new(b)).unwrap();
        assert_eq!(rel("/r/export/tenant.json", "/r/export"), "tenant.json");
        assert_eq!(
            rel("/r/snap/tenant.json", "/r/export"),
            "../snap/tenant.json"
        );
        assert_eq!(rel("/r/tenant.json", "/r/a/./b/../c"), "../../tenant.json");
        assert_eq!(rel("/s/tenant.json", "/r/export"), "/s/tenant.json");
    }
}
