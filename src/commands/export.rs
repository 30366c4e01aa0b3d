//! `export`, `schema` and `report stacking`: thin shells over the pure `desired::export`,
//! `desired::schema` and `plan::stacking`.

use super::{Backend, CommandError, exit, write_stdout};
use crate::backend::BackendConfig;
use crate::backend::snapshot::{render_snapshot, write_atomically};
use crate::cli::{ExportArgs, StackingArgs, StackingFormat};
use crate::desired::export::{ExportOptions, ExportTenant, to_toml};
use std::path::{Component, Path, PathBuf};

/// Runs `export`: today's tenant as a config directory (`m365ctl.toml`, `users.toml`,
/// `groups.toml`, the JSON schema for editors), and optionally as a snapshot. Planning the
/// exported directory against the same tenant changes nothing.
pub fn run(args: &ExportArgs) -> Result<u8, CommandError> {
    let config = crate::desired::load(&args.config.config)?;
    let live = Backend::from_config(&config)?.read_blocking()?;
    let write = |path: &Path, text: &str| {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                CommandError::msg(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        write_atomically(path, text)
            .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", path.display())))
    };
    if let Some(snapshot) = &args.snapshot {
        write(snapshot, &render_snapshot(&live))?;
    }
    let tenant = match (&config.backend, &args.snapshot) {
        // A snapshot written now is what the exported config should read.
        (_, Some(snapshot)) => ExportTenant::Snapshot {
            path: relative_to(snapshot, &args.out)?,
        },
        (BackendConfig::Snapshot { path }, None) => ExportTenant::Snapshot {
            path: relative_to(path, &args.out)?,
        },
        (BackendConfig::Graph(settings), None) => ExportTenant::Graph {
            tenant_id: settings.tenant_id.clone(),
            client_id: settings.client_id.clone(),
        },
    };
    let files = to_toml(
        &live,
        ExportOptions {
            tenant,
            split_files: true,
        },
    );
    for (name, text) in &files {
        write(&args.out.join(name), text)?;
    }
    write(&args.out.join("m365ctl.schema.json"), &schema_text())?;
    eprintln!(
        "Exported {} users, {} groups, {} SKUs to {} ({} files){}",
        live.users.len(),
        live.groups.len(),
        live.skus.len(),
        args.out.display(),
        files.len() + 1,
        args.snapshot
            .as_ref()
            .map(|s| format!(" and the snapshot {}", s.display()))
            .unwrap_or_default()
    );
    Ok(exit::OK)
}

/// Runs `schema`.
pub fn schema() -> Result<u8, CommandError> {
    write_stdout(&schema_text())?;
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
pub fn stacking(args: &StackingArgs) -> Result<u8, CommandError> {
    let config = crate::desired::load(&args.config.config)?;
    let live = Backend::from_config(&config)?.read_blocking()?;
    let report = crate::plan::stacking::report(&live);
    let text = match args.format {
        StackingFormat::Human => crate::render::stacking::human(&report),
        StackingFormat::Json => crate::render::stacking::json(&report),
    };
    write_stdout(&text)?;
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
    }
}
