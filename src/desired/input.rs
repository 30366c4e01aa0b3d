//! Reading config files safely: the shell part of `load`, kept apart from validation.
//!
//! Nothing is skipped silently (a dangling or looping `*.toml` symlink used to be skipped, so
//! `validate` said valid and `plan` removed licences), nothing blocks or exhausts memory (only
//! regular files of bounded size are read, never a FIFO or device), a UTF-8 byte-order mark
//! is accepted, and invalid UTF-8 is reported with its byte offset and line:column.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest config file read: an exported 100,000-user `users.toml` is about 10 MB.
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// The UTF-8 byte-order mark some Windows editors write.
const BOM: &str = "\u{feff}";

/// Why an input could not be read, with a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// What is wrong, naming the file.
    pub message: String,
    /// How to fix it.
    pub hint: &'static str,
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
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_CONFIG_BYTES + 1)
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

/// UTF-8 text without a byte-order mark, or the offset of the first invalid byte.
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(match text.strip_prefix(BOM) {
            Some(rest) => rest.to_string(),
            None => text,
        }),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..offset];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            Err(InputError {
                message: format!(
                    "{}:{line}:{column}: not UTF-8: invalid byte 0x{:02x} at byte offset {offset}",
                    path.display(),
                    e.as_bytes()[offset]
                ),
                hint: "save the file as UTF-8",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_is_dropped_and_invalid_utf8_is_located() {
        let p = Path::new("c.toml");
        assert_eq!(
            decode(p, b"\xef\xbb\xbfa = 1\n".to_vec()).unwrap(),
            "a = 1\n"
        );
        let e = decode(p, b"a = 1\nb = \"\xff\"\n".to_vec()).unwrap_err();
        assert!(e.message.contains("c.toml:2:6"), "{}", e.message);
        assert!(e.message.contains("byte offset 11"), "{}", e.message);
    }
}
