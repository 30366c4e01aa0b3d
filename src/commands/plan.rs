//! `plan`: compute and show the changes; optionally save the plan document.

use super::{CommandError, Output, compute_plan, effective_format, emit_plan, exit, repo_paths};
use crate::backend::TenantBackend;
use crate::cli::PlanArgs;
use crate::planfile::{PlanContext, PlanFile};
use crate::render::Wording;
use crate::render::comment::{CommentContext, error_comment};
use crate::render::github::repo_relative;
use std::path::Path;

/// Runs `plan`. Exit 1 when the plan has blocking errors (it is still shown, so reviewers see
/// why), 2 with `--detailed-exitcode` when there are changes, else 0.
pub fn run(args: &PlanArgs, out: &Output) -> Result<u8, CommandError> {
    let config_path = match super::multi::targets(&args.config.config)? {
        super::multi::Targets::One(config) => config,
        super::multi::Targets::Many(tenants) => return super::multi::plan(&tenants, args, out),
    };
    if let Some(out) = &args.out {
        // A plan file left by an earlier run must not pass for this run's plan.
        remove_if_present(out)?;
    }
    let config = repo_relative(&config_path.to_string_lossy(), &repo_paths());
    let (_, backend, live, _, plan) = match compute_plan(out, &config_path) {
        Ok(computed) => computed,
        Err(error) => {
            if let Some(path) = &args.error_comment {
                write_error_comment(path, &error, &config, args.commit.as_deref())?;
            }
            return Err(error);
        }
    };
    let format = effective_format(args.format);
    if format == crate::render::Format::Human {
        super::print_located_diagnostics(out, &plan.diagnostics, out.term.stderr_color);
    }
    let context = PlanContext {
        config,
        tenant: backend.describe(),
    };
    // The plan document (canonical operations, their checksum, the live digest: 2 s of CPU
    // at 1,000,000 users) is built on a second thread while the plan is rendered and shown.
    let doc = std::thread::scope(|scope| {
        let doc = args.out.is_some().then(|| {
            scope.spawn(|| {
                PlanFile::from_plan(&plan)
                    .with_live_digest(&live)
                    .with_context(context)
            })
        });
        emit_plan(&plan, format, Wording::Plan, out)?;
        Ok::<_, CommandError>(doc.map(|doc| {
            doc.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }))
    })?;
    if let (Some(out), Some(doc)) = (&args.out, doc) {
        crate::backend::snapshot::write_plan_file(out, &doc)
            .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", out.display())))?;
        tracing::info!(path = %out.display(), "plan written");
    }
    Ok(if plan.has_errors() {
        exit::ERROR
    } else if args.detailed_exitcode && !plan.in_sync() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

fn remove_if_present(path: &Path) -> Result<(), CommandError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CommandError::msg(format!(
            "cannot remove the old {}: {e}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// The pull-request comment when there is no plan: the diagnostics with repository-relative
/// places, or the error's one line.
fn write_error_comment(
    path: &Path,
    error: &CommandError,
    config: &str,
    commit: Option<&str>,
) -> Result<(), CommandError> {
    let paths = repo_paths();
    let (diagnostics, message) = match error {
        CommandError::Diagnostics(diags) => (
            diags
                .0
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    if let Some(origin) = &mut d.origin {
                        origin.file = repo_relative(&origin.file, &paths).into();
                    }
                    d
                })
                .collect(),
            None,
        ),
        other => (Vec::new(), Some(other.to_string())),
    };
    let context = CommentContext {
        commit,
        config,
        tenant: None,
    };
    let text = error_comment(&diagnostics, message.as_deref(), &context);
    std::fs::write(path, text)
        .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", path.display())))
}
