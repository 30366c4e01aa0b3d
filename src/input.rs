//! Reading config files safely: the shell half of `desired`. `load` finds a config's files
//! (one file, or a directory's `*.toml` in sorted order), reads them and hands the texts to
//! the pure `desired::from_sources`.
//!
//! Nothing is skipped silently (a dangling or looping `*.toml` symlink used to be skipped, so
//! `validate` said valid and `plan` removed licences), nothing blocks or exhausts memory (only
//! regular files of bounded size are read, never a FIFO or device), a UTF-8 byte-order mark
//! is accepted, and invalid UTF-8 is reported with its byte offset and line:column.

use crate::desired::input::{InputError, decode};
use crate::desired::{Config, from_sources};
use crate::diag::{Diagnostic, Diagnostics};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest config file read: an exported 100,000-user `users.toml` is about 10 MB.
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// Reads and validates a config file or directory. Errors carry file:line:column.
pub fn load(path: &Path) -> Result<Config, Diagnostics> {
    let files = config_files(path)?;
    let mut sources = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for file in &files {
        match read_text(file) {
            Ok(text) => sources.push((file.display().to_string(), text)),
            Err(e) => errors.push(Diagnostic::error(e.message, None).with_hint(e.hint)),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let base = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let mut config = from_sources(&sources, &base)?;
    config.files = files;
    if path.is_dir() {
        config.warnings.extend(subdirectory_warnings(path));
    }
    Ok(config)
}

/// The file itself, or the directory's config files sorted by name (see `is_config_name`).
pub fn config_files(path: &Path) -> Result<Vec<PathBuf>, Diagnostics> {
    let fail = |message: String, hint: &str| {
        Diagnostics(vec![Diagnostic::error(message, None).with_hint(hint)])
    };
    if !path.is_dir() {
        if !path.exists() {
            return Err(fail(
                format!("config {} does not exist", path.display()),
                "pass a .toml file or a directory of .toml files",
            ));
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let files = toml_entries(path).map_err(|errors| {
        Diagnostics(
            errors
                .into_iter()
                .map(|e| Diagnostic::error(e.message, None).with_hint(e.hint))
                .collect(),
        )
    })?;
    // Hidden files and other tools' well-known TOML are not config (`is_config_name`).
    let mut files = files;
    files.retain(|p| is_config_name(p));
    if files.is_empty() {
        return Err(fail(
            format!("no *.toml files in {}", path.display()),
            "a config directory holds one or more .toml files that are merged",
        ));
    }
    Ok(files)
}

/// Other tools' TOML files that live in repositories beside a config and are never m365ctl
/// config (editor, formatter, linter and build settings).
const OTHER_TOOLS: [&str; 16] = [
    "Cargo.toml",
    "Cross.toml",
    "Makefile.toml",
    "book.toml",
    "cliff.toml",
    "clippy.toml",
    "committed.toml",
    "deny.toml",
    "_typos.toml",
    "typos.toml",
    "mise.toml",
    "netlify.toml",
    "pyproject.toml",
    "rust-toolchain.toml",
    "rustfmt.toml",
    "taplo.toml",
];

/// Whether a file found in a config directory is m365ctl config: a `*.toml` name that is
/// not hidden (`.taplo.toml`, editor backups) and not another tool's well-known file.
fn is_config_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".toml") && !name.starts_with('.') && !OTHER_TOOLS.contains(&name)
}

/// Warnings for sub-directories of a config directory that hold `.toml` files: they are not
/// read, which is a surprise when someone files users under `users/`.
fn subdirectory_warnings(dir: &Path) -> Vec<Diagnostic> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut holding: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .filter(|sub| {
            std::fs::read_dir(sub).is_ok_and(|inner| {
                inner
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .any(|p| p.is_file() && is_config_name(&p))
            })
        })
        .collect();
    holding.sort();
    holding
        .into_iter()
        .map(|sub| {
            Diagnostic::warning(
                format!(
                    "{} holds .toml files that are not read: m365ctl reads only the *.toml files directly in {}",
                    sub.display(),
                    dir.display()
                ),
                None,
            )
            .with_hint(format!(
                "move them into {}, or pass -c {} to use them on their own",
                dir.display(),
                sub.display()
            ))
        })
        .collect()
}

/// The `*.toml` entries of a directory, sorted by name, every one a readable regular file
/// (through symlinks); every entry that is not is an error.
pub fn toml_entries(dir: &Path) -> Result<Vec<PathBuf>, Vec<InputError>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![InputError {
            message: format!("cannot read {}: {e}", dir.display()),
            hint: "check permissions",
        }]
    })?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                errors.push(InputError {
                    message: format!("cannot read an entry of {}: {e}", dir.display()),
                    hint: "check permissions",
                });
                continue;
            }
        };
        if path.extension().is_some_and(|x| x == "toml") {
            match regular_file(&path) {
                Ok(()) => files.push(path),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        files.sort();
        Ok(files)
    } else {
        Err(errors)
    }
}

/// Checks that `path` is (or links to) a regular file, without opening it (opening a FIFO
/// blocks until a writer appears).
pub fn regular_file(path: &Path) -> Result<(), InputError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(InputError {
            message: format!(
                "{} is not a regular file (a directory, FIFO or device)",
                path.display()
            ),
            hint: "config inputs must be regular .toml files",
        }),
        Err(e) => {
            let dangling =
                std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            Err(InputError {
                message: if dangling {
                    format!("{} is a dangling or looping symlink: {e}", path.display())
                } else {
                    format!("cannot read {}: {e}", path.display())
                },
                hint: if dangling {
                    "fix or remove the link: every *.toml file in the config directory is part of the config"
                } else {
                    "check the path and permissions"
                },
            })
        }
    }
}

/// Reads a config file: a regular file of at most `MAX_CONFIG_BYTES`, UTF-8 (a leading
/// byte-order mark is dropped).
pub fn read_text(path: &Path) -> Result<String, InputError> {
    regular_file(path)?;
    let io = |e: std::io::Error| InputError {
        message: format!("cannot read {}: {e}", path.display()),
        hint: "check the path and permissions",
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // Sized from the file, not grown by doubling (a 10 MB users.toml held 16 MB).
    let size = file
        .metadata()
        .map_or(0, |m| m.len())
        .min(MAX_CONFIG_BYTES + 1);
    let mut bytes = Vec::with_capacity(size as usize + 1);
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(InputError {
            message: format!(
                "{} is larger than {} MB",
                path.display(),
                MAX_CONFIG_BYTES >> 20
            ),
            hint: "split the config into several .toml files in one directory",
        });
    }
    decode(path, bytes)
}
