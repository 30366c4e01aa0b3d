//! `export`, `schema` and `report stacking`: thin wrappers over pure functions written in
//! `desired::export`, `desired::schema` and `plan::stacking`.

use super::{Backend, CommandError, exit};
use crate::cli::ExportArgs;
use std::path::Path;

/// Runs `export`: today's tenant as TOML (and as a snapshot).
pub fn run(args: &ExportArgs) -> Result<u8, CommandError> {
    let config = crate::desired::load(&args.config.config)?;
    let live = Backend::from_config(&config)?.read()?;
    if let Some(snapshot) = &args.snapshot {
        crate::backend::snapshot::write_atomically(
            snapshot,
            &crate::backend::snapshot::render_snapshot(&live),
        )
        .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", snapshot.display())))?;
    }
    // Seam: `desired::export::to_toml(&live)` writes the TOML into `args.out` (wired at merge).
    let _ = &args.out;
    Err(CommandError::msg(
        "TOML export is not available in this build",
    ))
}

/// Runs `schema`.
pub fn schema() -> Result<u8, CommandError> {
    // Seam: prints `desired::schema::json_schema()` (wired at merge).
    Err(CommandError::msg("schema is not available in this build"))
}

/// Runs `report stacking`.
pub fn stacking(config: &Path) -> Result<u8, CommandError> {
    // Seam: renders `plan::stacking::report(&live)` (wired at merge).
    let _ = config;
    let _ = exit::OK;
    Err(CommandError::msg(
        "report stacking is not available in this build",
    ))
}
