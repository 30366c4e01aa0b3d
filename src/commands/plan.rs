//! `plan`: compute and show the changes; optionally save the plan document.

use super::{CommandError, Terminal, compute_plan, effective_format, emit_plan, exit};
use crate::cli::PlanArgs;
use crate::planfile::PlanFile;
use crate::render::Wording;

/// Runs `plan`. Exit 1 when the plan has blocking errors (it is still shown, so reviewers see
/// why), 2 with `--detailed-exitcode` when there are changes, else 0.
pub fn run(args: &PlanArgs, term: Terminal) -> Result<u8, CommandError> {
    let (_, _, live, _, plan) = compute_plan(&args.config.config)?;
    emit_plan(&plan, effective_format(args.format), Wording::Plan, term)?;
    if let Some(out) = &args.out {
        crate::backend::snapshot::write_atomically(
            out,
            &PlanFile::from_plan(&plan).with_live_digest(&live).to_json(),
        )
        .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", out.display())))?;
        tracing::info!(path = %out.display(), "plan written");
    }
    Ok(if plan.has_errors() {
        exit::ERROR
    } else if args.detailed_exitcode && !plan.is_empty() {
        exit::CHANGES
    } else {
        exit::OK
    })
}
