//! `apply`: re-plan (or load a reviewed plan file and refuse it when stale), show the plan,
//! confirm, then hand the operations to the executor.

use super::{CommandError, Terminal, compute_plan, emit_plan, exit};
use crate::cli::ApplyArgs;
use crate::plan::{Operation, Plan};
use crate::planfile::PlanFile;
use crate::render::{Format, Wording};
use std::io::{BufRead, IsTerminal, Write};

/// Runs `apply`.
pub fn run(args: &ApplyArgs, term: Terminal) -> Result<u8, CommandError> {
    let (_, backend, _, _, plan) = compute_plan(&args.config.config)?;
    emit_plan(&plan, Format::Human, Wording::Plan, term)?;
    if plan.has_errors() {
        return Err(CommandError::msg(
            "the plan has errors (above): nothing was applied",
        ));
    }
    let operations = match &args.planfile {
        Some(path) => reviewed_operations(path, &plan)?,
        None => plan.operations.clone(),
    };
    if operations.is_empty() {
        return Ok(exit::OK);
    }
    if !args.auto_approve && !confirm(&backend.describe())? {
        eprintln!("Apply cancelled.");
        return Err(CommandError::msg("apply cancelled: nothing was changed"));
    }
    // Seam: the executor (`apply` module) walks the DAG with `args.concurrency`, the journal
    // `args.journal` and the mass-change guards (`args.allow_mass_change`); wired at merge.
    let _ = (
        &backend,
        args.concurrency,
        &args.journal,
        args.allow_mass_change,
    );
    Err(CommandError::msg(
        "the executor is not available in this build: nothing was changed",
    ))
}

/// The operations of a saved plan, refused when the tenant or config changed since it was
/// written (its input fingerprints differ from a fresh plan's).
fn reviewed_operations(
    path: &std::path::Path,
    fresh: &Plan,
) -> Result<Vec<Operation>, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::msg(format!("cannot read {}: {e}", path.display())))?;
    let doc = PlanFile::parse(&text)
        .map_err(|e| CommandError::msg(format!("{}: {e}", path.display())))?;
    if doc.inputs != fresh.fingerprint {
        return Err(CommandError::msg(format!(
            "{} is stale: the tenant or the config changed since it was planned; run `m365ctl plan --out` again and review the new plan",
            path.display()
        )));
    }
    doc.to_operations()
        .map_err(|e| CommandError::msg(format!("{}: {e}", path.display())))
}

/// Asks "Type 'yes' to apply" on a terminal; refuses without one.
fn confirm(target: &str) -> Result<bool, CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::msg(
            "stdin is not a terminal: pass --auto-approve to apply without confirmation",
        ));
    }
    eprint!("\nApply these changes to {target}?\n  Type 'yes' to apply: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CommandError::msg(format!("cannot read the answer: {e}")))?;
    Ok(answer.trim() == "yes")
}
