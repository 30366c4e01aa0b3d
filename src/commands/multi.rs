//! Several tenants in one command: `plan`, `drift` and `apply` with several `-c` configs, or
//! a directory holding `tenants/<name>/` (or the `tenants/` directory itself). Tenants run
//! concurrently, at most `--jobs` at a time, each exactly as it would run alone (its own
//! backend, lock and journal under its own directory); a failing tenant becomes a result
//! beside the others, never an early return. One combined summary, one aggregated exit code.

use super::{
    Backend, CommandError, Output, compute_plan, compute_plan_with, effective_format, exit,
    print_diagnostics,
};
use crate::apply::{self, ApplyRequest, ExecOptions};
use crate::cli::{ApplyArgs, ConfigsArg, DriftArgs, PlanArgs};
use crate::diag::Diagnostic;
use crate::render::tenants::{self, TenantResult};
use crate::render::{self, Format, Wording};
use std::path::{Path, PathBuf};

/// One tenant: a name (its directory) and its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The directory name (or the path, when names collide).
    pub name: String,
    /// Config file or directory.
    pub path: PathBuf,
}

/// What the `-c` arguments name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// One config given directly: the single-tenant commands, output unchanged.
    One(PathBuf),
    /// Several tenants.
    Many(Vec<Target>),
}

/// Expands the `-c` arguments: a directory without `*.toml` of its own that holds
/// `tenants/<name>/` (or `<name>/`) directories with configs is a set of tenants.
pub fn targets(configs: &[PathBuf]) -> Result<Targets, CommandError> {
    let mut found = Vec::new();
    let mut expanded = false;
    for path in configs {
        match tenants_under(path)? {
            Some(tenants) => {
                expanded = true;
                found.extend(tenants);
            }
            None => found.push(Target {
                name: name_of(path),
                path: path.clone(),
            }),
        }
    }
    if !expanded && found.len() == 1 {
        return Ok(Targets::One(found.remove(0).path));
    }
    let mut names: Vec<&str> = found.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        for t in &mut found {
            t.name = t.path.display().to_string();
        }
    }
    Ok(Targets::Many(found))
}

/// The tenant directories under `path`, when it is a parent of tenants.
fn tenants_under(path: &Path) -> Result<Option<Vec<Target>>, CommandError> {
    if !path.is_dir() || has_toml(path)? {
        return Ok(None);
    }
    // `-c .` gives `tenants/contoso`, not `./tenants/contoso`.
    let path: PathBuf = path
        .components()
        .skip_while(|c| matches!(c, std::path::Component::CurDir))
        .collect();
    let root = if path.join("tenants").is_dir() {
        path.join("tenants")
    } else if path.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        path.clone()
    };
    let entries = std::fs::read_dir(&root)
        .map_err(|e| CommandError::msg(format!("cannot read {}: {e}", root.display())))?;
    let mut tenants = Vec::new();
    for entry in entries {
        let dir = entry
            .map_err(|e| CommandError::msg(format!("cannot read {}: {e}", root.display())))?
            .path();
        if dir.is_dir() && has_toml(&dir)? {
            tenants.push(Target {
                name: name_of(&dir),
                path: dir,
            });
        }
    }
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((!tenants.is_empty()).then_some(tenants))
}

fn has_toml(dir: &Path) -> Result<bool, CommandError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CommandError::msg(format!("cannot read {}: {e}", dir.display())))?;
    Ok(entries
        .filter_map(Result::ok)
        .any(|e| e.path().is_file() && e.path().extension().is_some_and(|x| x == "toml")))
}

/// A tenant's name: its directory (a config file's parent directory).
fn name_of(path: &Path) -> String {
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    };
    std::fs::canonicalize(dir)
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
}

/// Runs `work` for every target on at most `jobs` threads; results in target order.
pub fn run_bounded<T: Send>(
    targets: &[Target],
    jobs: usize,
    work: impl Fn(&Target) -> T + Sync,
) -> Vec<T> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..targets.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, targets.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(i) else { break };
                    let started = std::time::Instant::now();
                    let result = work(target);
                    tracing::info!(tenant = %target.name, elapsed = ?started.elapsed(), "tenant finished");
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every target ran"))
        .collect()
}

/// A command error as diagnostics.
pub(super) fn diagnostics_of(error: CommandError) -> Vec<Diagnostic> {
    match error {
        CommandError::Diagnostics(d) => d.0,
        other => vec![Diagnostic::error(other.to_string(), None)],
    }
}

fn failed(target: &Target, plan: Option<crate::plan::Plan>, error: CommandError) -> TenantResult {
    TenantResult {
        name: target.name.clone(),
        config: target.path.display().to_string(),
        plan,
        apply_report: None,
        errors: diagnostics_of(error),
        exit_code: exit::ERROR,
    }
}

fn planned(target: &Target, plan: crate::plan::Plan, exit_code: u8) -> TenantResult {
    TenantResult {
        name: target.name.clone(),
        config: target.path.display().to_string(),
        plan: Some(plan),
        apply_report: None,
        errors: Vec::new(),
        exit_code,
    }
}

/// Plans one tenant; `detailed`: changes exit 2, as `--detailed-exitcode` and `drift` do.
fn plan_one(out: &Output, target: &Target, detailed: bool) -> TenantResult {
    match compute_plan(out, &target.path) {
        Ok((_, _, _, _, plan)) => {
            let exit_code = if plan.has_errors() {
                exit::ERROR
            } else if detailed && !plan.is_empty() {
                exit::CHANGES
            } else {
                exit::OK
            };
            planned(target, plan, exit_code)
        }
        Err(e) => failed(target, None, e),
    }
}

/// Plans, then applies one tenant (fresh plan, no prompt), with its own lock and journal.
fn apply_one(out: &Output, target: &Target, args: &ApplyArgs) -> TenantResult {
    let dir = super::apply::config_dir(&target.path);
    let lock = match apply::lock::ApplyLock::acquire(
        &apply::lock::default_path(&dir),
        args.force_unlock,
    ) {
        Ok(lock) => lock,
        Err(e) => return failed(target, None, CommandError::msg(e.to_string())),
    };
    let (_, backend, live, desired, plan) =
        match compute_plan_with(out, &target.path, Backend::for_apply) {
            Ok(planned) => planned,
            Err(e) => return failed(target, None, e),
        };
    if plan.has_errors() || plan.is_empty() {
        let exit_code = if plan.has_errors() {
            exit::ERROR
        } else {
            exit::OK
        };
        return planned(target, plan, exit_code);
    }
    let request = ApplyRequest {
        desired: &desired,
        live: &live,
        plan: &plan,
        reviewed: None,
        lock,
        allow_mass_change: args.allow_mass_change,
        journal_path: apply::journal::default_path(&dir),
        progress: false,
        options: ExecOptions {
            concurrency: usize::from(args.concurrency),
            ..ExecOptions::default()
        },
    };
    let outcome = super::runtime().and_then(|rt| {
        rt.block_on(apply::run(&backend, request))
            .map_err(|e| CommandError::msg(e.to_string()))
    });
    match outcome {
        Ok(report) => TenantResult {
            apply_report: Some(report.render()),
            ..planned(
                target,
                plan,
                if report.exit_code() == 0 {
                    exit::OK
                } else {
                    exit::ERROR
                },
            )
        },
        Err(e) => failed(target, Some(plan), e),
    }
}

/// Prints every tenant's combined output in `format` and returns the aggregated exit code;
/// each failed tenant's errors also go to stderr as snippets.
fn emit(
    results: &[TenantResult],
    format: Format,
    wording: Wording,
    out: &Output,
) -> Result<u8, CommandError> {
    for r in results.iter().filter(|r| !r.errors.is_empty()) {
        out.eprintln(&format!("tenant {} ({}):", r.name, r.config));
        print_diagnostics(out, &r.errors, out.term.stderr_color);
    }
    let markdown = || tenants::markdown(results, wording, render::markdown::DEFAULT_MAX_CHARS);
    let text = match format {
        Format::Human => tenants::human(results, wording, out.term.stdout_color),
        Format::Markdown => markdown(),
        Format::Json => tenants::json(results),
        Format::Github => {
            if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                super::append(Path::new(&summary), &markdown())?;
            }
            let mut text = tenants::annotations(results, &super::repo_paths());
            text.push_str(&tenants::human(results, wording, false));
            text
        }
    };
    super::write_stdout(out, &text)?;
    Ok(tenants::aggregate_exit(results))
}

fn jobs(configs: &ConfigsArg) -> usize {
    usize::from(configs.jobs)
}

/// `plan` over several tenants.
pub fn plan(targets: &[Target], args: &PlanArgs, out: &Output) -> Result<u8, CommandError> {
    if args.out.is_some() || args.error_comment.is_some() {
        return Err(CommandError::msg(
            "--out and --error-comment belong to one tenant's pull-request job: with several tenants, plan each one (`m365ctl matrix` lists them for a CI matrix)",
        ));
    }
    let results = run_bounded(targets, jobs(&args.config), |t| {
        plan_one(out, t, args.detailed_exitcode)
    });
    emit(&results, effective_format(args.format), Wording::Plan, out)
}

/// `drift` over several tenants.
pub fn drift(targets: &[Target], args: &DriftArgs, out: &Output) -> Result<u8, CommandError> {
    let results = run_bounded(targets, jobs(&args.config), |t| plan_one(out, t, true));
    emit(&results, effective_format(args.format), Wording::Drift, out)
}

/// `apply` over several tenants: fresh plans only, and only with `--auto-approve` (one prompt
/// per tenant cannot be answered while they run at once).
pub fn apply(targets: &[Target], args: &ApplyArgs, out: &Output) -> Result<u8, CommandError> {
    if args.planfile.is_some() || args.journal.is_some() || args.force_unlock {
        return Err(CommandError::msg(
            "a PLANFILE, --journal or --force-unlock belongs to one tenant: with several tenants each plans afresh and keeps its lock and journal in <tenant>/.m365ctl/ (unlock one with `apply -c tenants/<name> --force-unlock`)",
        ));
    }
    if !args.auto_approve {
        return Err(CommandError::msg(
            "applying several tenants needs --auto-approve (review their plans with `m365ctl plan` first)",
        ));
    }
    let results = run_bounded(targets, jobs(&args.config), |t| apply_one(out, t, args));
    emit(&results, Format::Human, Wording::Plan, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_dirs(root: &Path, names: &[&str]) {
        for n in names {
            std::fs::create_dir_all(root.join(n)).unwrap();
            std::fs::write(root.join(n).join("m365ctl.toml"), "").unwrap();
        }
    }

    #[test]
    fn a_parent_of_tenants_expands_in_name_order_and_one_config_stays_single() {
        let dir = tempfile::tempdir().unwrap();
        tenant_dirs(&dir.path().join("tenants"), &["fabrikam", "contoso"]);
        std::fs::create_dir_all(dir.path().join("tenants/empty")).unwrap();
        let names = |t: Targets| match t {
            Targets::Many(v) => v.into_iter().map(|t| t.name).collect::<Vec<_>>(),
            Targets::One(p) => vec![format!("ONE {}", p.display())],
        };
        let parent = vec![dir.path().to_path_buf()];
        assert_eq!(names(targets(&parent).unwrap()), ["contoso", "fabrikam"]);
        let tenants_dir = vec![dir.path().join("tenants")];
        assert_eq!(
            names(targets(&tenants_dir).unwrap()),
            ["contoso", "fabrikam"]
        );
        let one = vec![dir.path().join("tenants/contoso")];
        assert_eq!(targets(&one).unwrap(), Targets::One(one[0].clone()));
        let two = vec![
            dir.path().join("tenants/contoso"),
            dir.path().join("tenants/fabrikam/m365ctl.toml"),
        ];
        assert_eq!(names(targets(&two).unwrap()), ["contoso", "fabrikam"]);
    }

    #[test]
    fn at_most_jobs_run_at_once_and_results_keep_target_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let targets: Vec<Target> = (0..20)
            .map(|i| Target {
                name: format!("t{i:02}"),
                path: PathBuf::from(format!("t{i:02}")),
            })
            .collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let names = run_bounded(&targets, 3, |t| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            t.name.clone()
        });
        assert_eq!(
            names,
            targets.iter().map(|t| t.name.clone()).collect::<Vec<_>>()
        );
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(peak.load(Ordering::SeqCst) >= 2, "ran concurrently");
    }
}
