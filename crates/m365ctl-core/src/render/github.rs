//! GitHub Actions workflow commands: `::error file=…,line=…,col=…::message` annotations put
//! each diagnostic on the TOML line at fault in the pull request's "Files changed" view.
//!
//! GitHub attaches an annotation to the diff only when `file=` is the path relative to the
//! repository root (`m365ctl.toml`, never `./m365ctl.toml` or an absolute path), so every path
//! goes through `repo_relative` whatever `-c` was.

use super::escape::{escape_data, terminal, workflow_property};
use crate::diag::{Diagnostic, Severity};
use std::path::{Component, Path, PathBuf};

/// The working directory and the repository root, found by the shell (GITHUB_WORKSPACE or
/// the nearest `.git`), so this module can rewrite paths without touching the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoPaths {
    /// Directory relative paths in diagnostics are relative to (the process's cwd).
    pub cwd: PathBuf,
    /// The repository root; `None` outside a repository (paths are only cleaned then).
    pub root: Option<PathBuf>,
}

/// `file` as GitHub names it: relative to the repository root, `/`-separated, without `.`
/// or `..` components; `.` for the root itself. Outside the root (or without one) the path
/// is only cleaned lexically.
pub fn repo_relative(file: &str, paths: &RepoPaths) -> String {
    let given = Path::new(file);
    let absolute = clean(&paths.cwd.join(given));
    if let Some(root) = &paths.root
        && let Ok(inside) = absolute.strip_prefix(clean(&paths.cwd.join(root)))
    {
        return slash_joined(inside);
    }
    if given.is_absolute() {
        slash_joined(&absolute)
    } else {
        slash_joined(&clean(given))
    }
}

/// Lexical normalisation: drops `.`, resolves `..` against the previous component.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn slash_joined(path: &Path) -> String {
    let absolute = path.has_root();
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect();
    match (absolute, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_string(),
        (false, false) => parts.join("/"),
    }
}

/// One workflow-command line per diagnostic, in the order given; files repository-relative.
pub fn annotations(diagnostics: &[Diagnostic], paths: &RepoPaths) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(origin) = &d.origin {
            let file = repo_relative(&origin.file, paths);
            properties.push(format!("file={}", workflow_property(&file)));
            properties.push(format!("line={}", origin.line));
            properties.push(format!("col={}", origin.column));
        }
        properties.push("title=m365ctl".to_string());
        let mut message = terminal(&d.message).into_owned();
        if let Some(hint) = &d.hint {
            message.push_str("\nhint: ");
            message.push_str(&terminal(hint));
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Origin;

    #[test]
    fn names_file_line_and_column() {
        let source = "[users.\"ann@contoso.com\"]\nlicenses = [\"E7\"]\n";
        let origin = Origin::from_span("state/users.toml", source, 38..42);
        let diags = vec![
            Diagnostic::error("unknown SKU alias \"E7\"", Some(origin))
                .with_hint("declare it under [skus], e.g. E7 = \"SKU_PART_NUMBER\""),
            Diagnostic::warning("50% of seats, 100% done", None),
        ];
        insta::assert_snapshot!(annotations(&diags, &RepoPaths::default()));
    }

    fn in_repo(cwd: &str) -> RepoPaths {
        RepoPaths {
            cwd: PathBuf::from(cwd),
            root: Some(PathBuf::from("/work/repo")),
        }
    }

    #[test]
    fn config_paths_become_repository_relative() {
        let root = in_repo("/work/repo");
        assert_eq!(repo_relative("./m365ctl.toml", &root), "m365ctl.toml");
        assert_eq!(repo_relative("sub/dir/./a.toml", &root), "sub/dir/a.toml");
        assert_eq!(
            repo_relative("/work/repo/x/../m365ctl.toml", &root),
            "m365ctl.toml"
        );
        assert_eq!(repo_relative(".", &root), ".");
        let below = in_repo("/work/repo/sub");
        assert_eq!(repo_relative("./dir/a.toml", &below), "sub/dir/a.toml");
        assert_eq!(repo_relative("../m365ctl.toml", &below), "m365ctl.toml");
        assert_eq!(
            repo_relative("/elsewhere/a.toml", &below),
            "/elsewhere/a.toml"
        );
        let no_repo = RepoPaths::default();
        assert_eq!(repo_relative("./state/a.toml", &no_repo), "state/a.toml");
    }

    proptest::proptest! {
        /// Whatever the cwd inside the repository and however the path is spelled (`.`
        /// components, a detour through `..`), the annotation names the same file.
        #[test]
        fn every_spelling_of_a_file_names_it_the_same_way(
            cwd_depth in 0usize..3,
            dirs in proptest::collection::vec("[a-z]{1,4}", 0..3),
            dots in proptest::collection::vec(0u8..3, 0..4),
        ) {
            let cwd_parts: Vec<&str> = ["a", "b", "c"][..cwd_depth].to_vec();
            let cwd = format!("/work/repo/{}", cwd_parts.join("/"));
            let mut target: Vec<String> = dirs.clone();
            target.push("m365ctl.toml".to_string());
            // From the cwd: up to the root, then down, with noise components.
            let mut spelled: Vec<String> = vec!["..".to_string(); cwd_depth];
            for (i, part) in target.iter().enumerate() {
                match dots.get(i) {
                    Some(1) => spelled.push(".".to_string()),
                    Some(2) => { spelled.push("zz".to_string()); spelled.push("..".to_string()); }
                    _ => {}
                }
                spelled.push(part.clone());
            }
            let paths = in_repo(&cwd);
            let got = repo_relative(&format!("./{}", spelled.join("/")), &paths);
            proptest::prop_assert_eq!(got, target.join("/"));
        }
    }
}
