//! `validate`: the config alone, offline; with a snapshot backend also resolved against it.

use super::{Backend, CommandError, Terminal, exit, print_diagnostics};
use crate::backend::{BackendConfig, TenantBackend};
use crate::desired;
use std::path::Path;

/// Runs `validate`; warnings are printed, errors fail with exit 1.
pub fn run(config_path: &Path, term: Terminal) -> Result<u8, CommandError> {
    let config = desired::load(config_path)?;
    if matches!(config.backend, BackendConfig::Snapshot { .. }) {
        let backend = Backend::from_config(&config)?;
        let live = backend.read_blocking()?;
        let (_, warnings) = desired::resolve(&config, &live)?;
        print_diagnostics(&warnings, term.stderr_color);
        if super::effective_format(None) == crate::render::Format::Github {
            super::write_stdout(&crate::render::github::annotations(
                &warnings,
                &super::repo_paths(),
            ))?;
        }
        eprintln!(
            "{}: valid ({} warnings; checked against {})",
            config_path.display(),
            warnings.len(),
            backend.describe()
        );
    } else {
        eprintln!(
            "{}: valid (offline; the tenant is checked by `plan`)",
            config_path.display()
        );
    }
    Ok(exit::OK)
}
