//! Exit codes (Terraform's convention): shared by the commands and by the renderer that
//! aggregates many tenants' results, so they live in the core.

/// Success, no changes.
pub const OK: u8 = 0;
/// Error (bad config, backend failure, refused apply, usage error).
pub const ERROR: u8 = 1;
/// Success with changes present (`--detailed-exitcode`, `drift`).
pub const CHANGES: u8 = 2;
