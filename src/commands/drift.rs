//! `drift`: a plan with the detailed exit code and drift wording, for the nightly job.

use super::{CommandError, Terminal, compute_plan, effective_format, emit_plan, exit};
use crate::cli::DriftArgs;
use crate::render::Wording;

/// Runs `drift`: exit 0 in sync, 2 drift (changes, or licences in an error state), 1 error.
pub fn run(args: &DriftArgs, term: Terminal) -> Result<u8, CommandError> {
    let config = match super::multi::targets(&args.config.config)? {
        super::multi::Targets::One(config) => config,
        super::multi::Targets::Many(tenants) => return super::multi::drift(&tenants, args, term),
    };
    let (_, _, _, _, plan) = compute_plan(&config)?;
    let format = effective_format(args.format);
    if format == crate::render::Format::Human {
        super::print_located_diagnostics(&plan.diagnostics, term.stderr_color);
    }
    emit_plan(&plan, format, Wording::Drift, term)?;
    Ok(if plan.has_errors() {
        exit::ERROR
    } else if plan.in_sync() {
        exit::OK
    } else {
        exit::CHANGES
    })
}
