//! The desired-state language: TOML files -> validated `Config` -> resolved `DesiredState`.

pub mod model;

pub use model::*;

use crate::diag::{Diagnostic, Diagnostics};
use crate::tenant::Tenant;
use std::path::Path;

/// A parsed, validated config (one file or a directory of `*.toml` merged).
#[derive(Debug, Clone)]
pub struct Config {
    /// Which backend to use.
    pub backend: crate::backend::BackendConfig,
}

/// Reads and validates a config file or directory. Errors carry file:line:column.
pub fn load(path: &Path) -> Result<Config, Diagnostics> {
    let _ = path;
    todo!("desired::load")
}

/// Expands profiles, rules and defaults against the live users and checks the config against
/// the tenant (SKUs owned, plans that exist). Returns the desired state and warnings.
pub fn resolve(
    config: &Config,
    live: &Tenant,
) -> Result<(DesiredState, Vec<Diagnostic>), Diagnostics> {
    let _ = (config, live);
    todo!("desired::resolve")
}
