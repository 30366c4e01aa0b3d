//! `apply`: plan (or load a reviewed plan file and refuse it when stale), show the plan,
//! confirm, then hand over to `apply::run` (lock, guards, executor, journal, progress).

use super::{CommandError, Output, compute_plan_with, emit_plan, exit, runtime};
use crate::apply::{self, ApplyRequest, ExecOptions};
use crate::backend::TenantBackend;
use crate::cli::ApplyArgs;
use crate::planfile::PlanFile;
use crate::render::{Format, Wording};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

/// Runs `apply`: exit 0 when every operation is done (or already was), 1 otherwise.
///
/// Takes the lock, then reads the tenant once and plans once; the stale check, the guards and
/// the executor use that plan. Only a confirmation prompt re-reads: a person may answer it
/// much later, so what was shown is applied only if a fresh plan still has exactly its
/// operations.
pub fn run(args: &ApplyArgs, out: &Output) -> Result<u8, CommandError> {
    let config = match super::multi::targets(&args.config.config)? {
        super::multi::Targets::One(config) => config,
        super::multi::Targets::Many(tenants) => return super::multi::apply(&tenants, args, out),
    };
    let dir = config_dir(&config);
    let lock = apply::lock::ApplyLock::acquire(&apply::lock::default_path(&dir), args.force_unlock)
        .map_err(|e| CommandError::msg(e.to_string()))?;
    let (_, backend, live, desired, plan) =
        compute_plan_with(out, &config, super::Backend::for_apply)?;
    let saved = match &args.planfile {
        Some(path) => {
            let saved = read_planfile(path)?;
            // Refuse before showing anything: a stale plan's operations are not what the
            // reviewer approved.
            apply::stale::check(&saved, &plan.fingerprint, &live)
                .map_err(|e| CommandError::msg(format!("{}: {e}", path.display())))?;
            saved
                .check_operations(&plan)
                .map_err(|e| CommandError::msg(format!("{}: {e}", path.display())))?;
            Some(saved)
        }
        None => None,
    };
    emit_plan(&plan, Format::Human, Wording::Plan, out)?;
    if plan.has_errors() {
        return Err(CommandError::msg(
            "the plan has errors (above): nothing was applied",
        ));
    }
    if plan.is_empty() {
        return Ok(exit::OK);
    }
    // A mass change approved in review (`[guards] approve_mass_change`) is allowed only when
    // it names exactly these operations.
    let approved_in_review = super::mass_change::approved(&plan, &desired);
    let confirmed = if saved.is_some() || args.auto_approve {
        None
    } else {
        if !confirm(out, &backend.describe())? {
            out.eprintln("Apply cancelled.");
            return Err(CommandError::msg("apply cancelled: nothing was changed"));
        }
        // The tenant may have changed while the prompt waited: apply what was shown only if
        // it still holds (the same stale check as a saved plan).
        let shown = PlanFile::from_plan(&plan).with_live_digest(&live);
        Some((
            shown,
            compute_plan_with(out, &config, super::Backend::for_apply)?,
        ))
    };
    let (reviewed, live, desired, plan) = match &confirmed {
        Some((shown, (_, _, live, desired, plan))) => (Some(shown), live, desired, plan),
        None => (saved.as_ref(), &live, &desired, &plan),
    };
    let request = ApplyRequest {
        desired,
        live,
        plan,
        reviewed,
        lock,
        allow_mass_change: args.allow_mass_change || approved_in_review,
        journal_path: args
            .journal
            .clone()
            .unwrap_or_else(|| apply::journal::default_path(&dir)),
        progress: true,
        options: ExecOptions {
            concurrency: usize::from(args.concurrency),
            ..ExecOptions::default()
        },
    };
    let report = runtime()?
        .block_on(apply::run(&backend, request))
        .map_err(|e| CommandError::msg(e.to_string()))?;
    super::write_stdout(out, &report.render())?;
    Ok(if report.exit_code() == 0 {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// The directory holding the config (the config itself when it is a directory): the lock
/// and the default journal live under it, in `.m365ctl/`.
pub(crate) fn config_dir(config: &Path) -> PathBuf {
    if config.is_dir() {
        config.to_path_buf()
    } else {
        config
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }
}

/// Reads a plan written by `plan --out`.
fn read_planfile(path: &Path) -> Result<PlanFile, CommandError> {
    // A regular file of bounded size: a FIFO or device would hang or exhaust memory.
    let text = crate::input::read_text(path)
        .map_err(|e| CommandError::msg(format!("{} ({})", e.message, e.hint)))?;
    PlanFile::parse(&text).map_err(|e| CommandError::msg(format!("{}: {e}", path.display())))
}

/// Asks "Type 'yes' to apply" on a terminal; refuses without one.
fn confirm(out: &Output, target: &str) -> Result<bool, CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::msg(
            "stdin is not a terminal: pass --auto-approve to apply without confirmation",
        ));
    }
    out.eprint(&format!(
        "\nApply these changes to {target}?\n  Type 'yes' to apply: "
    ));
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CommandError::msg(format!("cannot read the answer: {e}")))?;
    Ok(answer.trim() == "yes")
}

#[cfg(test)]
mod tests {
    use super::config_dir;
    use std::path::{Path, PathBuf};

    #[test]
    fn a_config_file_in_the_current_directory_keeps_its_state_here() {
        assert_eq!(config_dir(Path::new("m365ctl.toml")), PathBuf::from("."));
        assert_eq!(
            config_dir(Path::new("conf/m365ctl.toml")),
            PathBuf::from("conf")
        );
    }
}
