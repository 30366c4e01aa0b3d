//! `report licences`: a thin shell over the pure `report::licences` and its renderers.

use super::{Backend, CommandError, exit, write_stdout};
use crate::cli::{LicencesArgs, LicencesFormat};
use crate::report::{licences, render};

/// Runs `report licences`: reads the tenant the config points at and prices the waste with
/// the config's `[skus]` prices. Exit 0 (an inventory, not a check), 1 on error.
pub fn run(args: &LicencesArgs) -> Result<u8, CommandError> {
    let config = crate::desired::load(&args.config.config)?;
    let live = Backend::from_config(&config)?.read_blocking()?;
    let report = licences::report(&live, config.prices.as_ref());
    let text = match args.format {
        LicencesFormat::Human => render::human(&report),
        LicencesFormat::Csv => render::csv(&report),
        LicencesFormat::Json => render::json(&report),
    };
    write_stdout(&text)?;
    Ok(exit::OK)
}
