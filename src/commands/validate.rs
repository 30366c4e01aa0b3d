//! `validate`: the config alone, offline (syntax, shape, references between tables); with a
//! snapshot backend whose file exists, also resolved and planned against it, so it refuses
//! everything `plan` refuses.

use super::{Backend, CommandError, Output, exit, print_diagnostics};
use crate::backend::{BackendConfig, TenantBackend};
use crate::desired;
use std::path::Path;

/// Runs `validate`; warnings are printed, errors fail with exit 1.
pub fn run(config_path: &Path, out: &Output) -> Result<u8, CommandError> {
    let config = super::load_config(out, config_path)?;
    let snapshot = match &config.backend {
        BackendConfig::Snapshot { path } => Some(path),
        BackendConfig::Graph(_) => None,
    };
    if let Some(path) = snapshot.filter(|p| !p.exists()) {
        // Validate is the offline check: a snapshot not written yet is not a config error.
        out.eprintln(&format!(
            "{}: valid (offline; the snapshot {} does not exist yet, so the tenant is checked by `plan`)",
            config_path.display(),
            path.display()
        ));
    } else if snapshot.is_some() {
        let backend = Backend::from_config(&config)?;
        let live = backend.read_blocking()?;
        let (desired, mut diagnostics) = desired::resolve(&config, &live)?;
        // Everything `plan` would refuse is refused here too: the planner is pure and cheap,
        // and some config errors only show against the tenant (a `mailbox = "room"` for a
        // user mailbox, a licence for a resource mailbox).
        diagnostics.append(&mut crate::plan::plan(&desired, &live).diagnostics);
        print_diagnostics(out, &diagnostics, out.term.stderr_color);
        if super::effective_format(None) == crate::render::Format::Github {
            super::write_stdout(
                out,
                &crate::render::github::annotations(&diagnostics, &super::repo_paths()),
            )?;
        }
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            return Err(CommandError::msg(format!(
                "{}: {errors} error(s) found against {} (the errors `plan` would report)",
                config_path.display(),
                backend.describe()
            )));
        }
        out.eprintln(&format!(
            "{}: valid ({} warnings; checked against {})",
            config_path.display(),
            diagnostics.len(),
            backend.describe()
        ));
    } else {
        out.eprintln(&format!(
            "{}: valid (offline; the tenant is checked by `plan`)",
            config_path.display()
        ));
    }
    Ok(exit::OK)
}
