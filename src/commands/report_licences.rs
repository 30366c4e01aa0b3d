//! `report licences`: a thin shell over the pure `report::licences` and its renderers, for
//! one tenant or several (`-c` repeated, or a directory holding `tenants/<name>/`).

use super::multi::{Target, Targets, run_bounded, targets};
use super::{Backend, CommandError, Output, exit, print_diagnostics, write_stdout};
use crate::cli::{LicencesArgs, LicencesFormat};
use crate::report::licences::{self, LicenceReport};
use crate::report::many::{self, TenantReport};
use crate::report::render;
use std::path::Path;

/// Runs `report licences`: reads each tenant its config points at and prices the waste with
/// that config's `[skus]` prices. Exit 0 (an inventory, not a check), 1 when a tenant could
/// not be read (the others are still reported).
pub fn run(args: &LicencesArgs, out: &Output) -> Result<u8, CommandError> {
    let tenants = match targets(&args.config.config)? {
        Targets::One(path) => {
            let report = read(&path)?;
            write_stdout(
                out,
                &match args.format {
                    LicencesFormat::Human => render::human(&report),
                    LicencesFormat::Csv => render::csv(&report),
                    LicencesFormat::Json => render::json(&report),
                },
            )?;
            return Ok(exit::OK);
        }
        Targets::Many(tenants) => tenants,
    };
    let reports = run_bounded(&tenants, usize::from(args.config.jobs), |t: &Target| {
        let (report, errors) = match read(&t.path) {
            Ok(report) => (Some(report), Vec::new()),
            Err(e) => (None, super::multi::diagnostics_of(e)),
        };
        TenantReport {
            name: t.name.clone(),
            config: t.path.display().to_string(),
            report,
            errors,
        }
    });
    for r in reports.iter().filter(|r| !r.errors.is_empty()) {
        out.eprintln(&format!("tenant {} ({}):", r.name, r.config));
        print_diagnostics(out, &r.errors, false);
    }
    write_stdout(
        out,
        &match args.format {
            LicencesFormat::Human => many::human(&reports),
            LicencesFormat::Csv => many::csv(&reports),
            LicencesFormat::Json => many::json(&reports),
        },
    )?;
    Ok(if reports.iter().any(|r| r.report.is_none()) {
        exit::ERROR
    } else {
        exit::OK
    })
}

/// One tenant's report.
fn read(path: &Path) -> Result<LicenceReport, CommandError> {
    let config = crate::input::load(path)?;
    let live = Backend::from_config(&config)?.read_blocking()?;
    Ok(licences::report(&live, config.prices.as_ref()))
}
