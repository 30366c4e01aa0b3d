//! `drift`: a plan with the detailed exit code and drift wording, for the nightly job.

use super::{CommandError, Output, compute_plan, effective_format, emit_plan, exit};
use crate::cli::DriftArgs;
use crate::render::Wording;

/// Runs `drift`: exit 0 in sync, 2 drift (changes, or licences in an error state), 1 error.
pub fn run(args: &DriftArgs, out: &Output) -> Result<u8, CommandError> {
    let config = match super::multi::targets(&args.config.config)? {
        super::multi::Targets::One(config) => config,
        super::multi::Targets::Many(tenants) => return super::multi::drift(&tenants, args, out),
    };
    let (_, _, _, _, plan) = compute_plan(out, &config)?;
    let format = effective_format(args.format);
    if format == crate::render::Format::Human {
        super::print_located_diagnostics(out, &plan.diagnostics, out.term.stderr_color);
    }
    emit_plan(&plan, format, Wording::Drift, out)?;
    Ok(if plan.has_errors() {
        exit::ERROR
    } else if plan.in_sync() {
        exit::OK
    } else {
        exit::CHANGES
    })
}
