//! Commands: each module orchestrates load -> backend -> resolve -> plan -> render/apply for
//! one subcommand and returns an exit code. Errors come back as `CommandError`, which `main`
//! prints (diagnostics as snippets) and maps to exit code 1.

mod apply;
mod drift;
mod export;
mod init;
mod init_tenants;
mod mass_change;
mod matrix;
mod multi;
mod plan;
mod report_licences;
mod show;
mod validate;

use crate::backend::graph::GraphBackend;
use crate::backend::snapshot::SnapshotBackend;
use crate::backend::{BackendConfig, BackendError, ExecReport, TenantBackend};
use crate::cli::{Cli, Command, ReportCommand};
#[cfg(feature = "sim")]
use crate::cli::{SimCommand, SimServeArgs};
use crate::desired::{self, Config, DesiredState};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::Operation;
use crate::render;
use crate::tenant::Tenant;
use clap::CommandFactory;
use std::path::Path;

pub use crate::exit;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The config (or the plan) has errors with locations.
    #[error("{0}")]
    Diagnostics(#[from] Diagnostics),
    /// The backend could not read or write.
    #[error("{0}")]
    Backend(#[from] BackendError),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Message(String),
}

impl CommandError {
    /// An error phrased for the user.
    pub fn msg(text: impl Into<String>) -> CommandError {
        CommandError::Message(text.into())
    }
}

pub use crate::output::{Output, Terminal};

/// Runs the parsed command line, writing through `out`; returns the exit code on success.
pub fn run(cli: Cli, out: &Output) -> Result<u8, CommandError> {
    crate::progress::set_output(out.quiet, out.stderr());
    let annotate = match &cli.command {
        Command::Plan(args) => effective_format(args.format) == render::Format::Github,
        Command::Drift(args) => effective_format(args.format) == render::Format::Github,
        Command::Validate(_) | Command::Apply(_) => {
            effective_format(None) == render::Format::Github
        }
        _ => false,
    };
    let result = dispatch(cli.command, out);
    if let (true, Err(CommandError::Diagnostics(diags))) = (annotate, &result) {
        // Config errors become annotations on the TOML line in the pull request.
        write_stdout(out, &render::github::annotations(&diags.0, &repo_paths()))?;
    }
    result
}

fn dispatch(command: Command, out: &Output) -> Result<u8, CommandError> {
    match command {
        Command::Validate(args) => validate::run(&args.config, out),
        Command::Plan(args) => plan::run(&args, out),
        Command::Apply(args) => apply::run(&args, out),
        Command::Show(args) => show::run(&args, out),
        Command::Drift(args) => drift::run(&args, out),
        Command::Export(args) => export::run(&args, out),
        Command::Schema => export::schema(out),
        Command::Report(ReportCommand::Stacking(args)) => export::stacking(&args, out),
        Command::Report(ReportCommand::Licences(args)) => report_licences::run(&args, out),
        #[cfg(feature = "sim")]
        Command::Sim(SimCommand::Serve(args)) => sim_serve(&args, out),
        Command::Init(args) if !args.tenants.is_empty() => {
            init_tenants::run(&args.dir, &args.tenants, out)
        }
        Command::Init(args) => init::run(&args.dir, out),
        Command::Matrix(args) => matrix::run(&args, out),
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "m365ctl", &mut text);
            write_stdout(out, &String::from_utf8_lossy(&text))?;
            Ok(exit::OK)
        }
        Command::Man => {
            let mut text = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut text)
                .map_err(|e| CommandError::msg(format!("cannot render the man page: {e}")))?;
            write_stdout(out, &String::from_utf8_lossy(&text))?;
            Ok(exit::OK)
        }
    }
}

/// Prints a command error to stderr: diagnostics as snippets (reading each file now), other
/// errors as one line.
pub fn report_error(out: &Output, error: &CommandError) {
    let color = out.term.stderr_color;
    match error {
        CommandError::Diagnostics(diags) => print_diagnostics(out, &diags.0, color),
        other => {
            let d = Diagnostic::error(other.to_string(), None);
            out.eprint(&render::diagnostic::render(&d, None, color));
        }
    }
}

/// Runs `sim serve` until Ctrl-C.
#[cfg(feature = "sim")]
fn sim_serve(args: &SimServeArgs, out: &Output) -> Result<u8, CommandError> {
    use crate::sim::{SimOptions, TenantSource, ThrottleModel};
    let source = match (&args.snapshot, args.generate) {
        (Some(path), _) => TenantSource::Snapshot(path.clone()),
        (None, Some(users)) => TenantSource::Generated {
            users,
            seed: args.seed,
        },
        (None, None) => return Err(CommandError::msg("give --snapshot FILE or --generate N")),
    };
    let model = (args.throttle == crate::cli::ThrottleArg::Microsoft).then(|| {
        let model = ThrottleModel::microsoft();
        match args.throttle_scale {
            Some(factor) => model.scaled(factor),
            None => model,
        }
    });
    let options = SimOptions {
        seed: args.seed,
        fault_rate: args.fault_rate,
        latency: std::time::Duration::from_millis(args.latency_ms),
        latency_per_item: std::time::Duration::from_micros(args.latency_per_item_us),
        throttle_model: model,
        group_licensing_delay: std::time::Duration::from_millis(args.group_licensing_delay_ms),
        ..SimOptions::default()
    };
    runtime()?
        .block_on(crate::sim::serve(&source, args.port, options, |text| {
            let _ = out.print(text);
        }))
        .map_err(CommandError::msg)?;
    Ok(exit::OK)
}

/// Prints the diagnostics that point into the config to stderr with their snippets (the
/// plan on stdout lists every diagnostic in one line each; a snippet shows the line at fault).
pub fn print_located_diagnostics(out: &Output, diagnostics: &[Diagnostic], color: bool) {
    let located: Vec<Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.origin.is_some())
        .cloned()
        .collect();
    print_diagnostics(out, &located, color);
}

/// Prints diagnostics (warnings too) to stderr with source snippets.
pub fn print_diagnostics(out: &Output, diagnostics: &[Diagnostic], color: bool) {
    for d in diagnostics {
        let source = d
            .origin
            .as_ref()
            .and_then(|o| std::fs::read_to_string(&*o.file).ok())
            .map(|text| match text.strip_prefix('\u{feff}') {
                // Spans index the text the loader parsed, which had its byte-order mark dropped.
                Some(rest) => rest.to_string(),
                None => text,
            });
        out.eprint(&render::diagnostic::render(d, source.as_deref(), color));
    }
}

/// The CLI's runtime: reads run concurrently and large pages are parsed while other requests
/// wait, on every core; the executor brings its own concurrency limit.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::msg(format!("cannot start the async runtime: {e}")))
}

/// The backend a config selects. Snapshot paths were made relative to the config by `load`.
pub(crate) enum Backend {
    /// A snapshot file.
    Snapshot(SnapshotBackend),
    /// Microsoft Graph + Exchange Online.
    Graph(Box<GraphBackend>),
}

impl Backend {
    /// Builds the backend; the Graph one also reads the groups the config names, so that a
    /// group without a licence is still part of the live state.
    pub(crate) fn from_config(config: &Config) -> Result<Backend, CommandError> {
        Backend::build(config, None)
    }

    /// The backend `apply` writes through: with `[tenant] apply_client_id` when set.
    pub(crate) fn for_apply(config: &Config) -> Result<Backend, CommandError> {
        refuse_delegated_writes(config)?;
        Backend::build(config, config.apply_client_id.clone())
    }

    fn build(config: &Config, client_id: Option<String>) -> Result<Backend, CommandError> {
        match &config.backend {
            BackendConfig::Snapshot { path } => Ok(Backend::Snapshot(SnapshotBackend::new(path))),
            BackendConfig::Graph(settings) => {
                let from_env = std::env::var(CLIENT_ID_ENV).ok().filter(|v| !v.is_empty());
                let settings = with_client_id_override(settings, from_env.or(client_id));
                let settings = crate::graph::auth::with_host_overrides(settings, |name| {
                    std::env::var(name).ok()
                });
                Ok(Backend::Graph(Box::new(
                    GraphBackend::new(&settings)?
                        .with_groups(config.groups.keys().cloned())
                        .with_progress(Default::default())
                        .with_write_quota(write_quota()?),
                )))
            }
        }
    }

    /// Reads the live state on a fresh runtime (plan, drift, export).
    pub(crate) fn read_blocking(&self) -> Result<Tenant, CommandError> {
        let progress = self.read_progress();
        let read = runtime()?.block_on(self.read());
        drop(progress);
        Ok(read?)
    }

    /// The progress display of a Graph read (`None` for a snapshot), kept alive by the caller
    /// for as long as the read lasts: the tenant and then the mailbox facts the plan needs.
    pub(crate) fn read_progress(&self) -> Option<crate::progress::ReadProgress> {
        tracing::info!(backend = %self.describe(), "reading live state");
        match self {
            Backend::Graph(b) => b.progress_counters().map(|counters| {
                crate::progress::ReadProgress::start(
                    counters,
                    crate::progress::Mode::detect(),
                    self.describe(),
                )
            }),
            Backend::Snapshot(_) => None,
        }
    }
}

/// Overrides `[tenant] client_id` and `apply_client_id` for any command (one config, an
/// identity chosen by the job). Which app a job may use is enforced by Entra, not by this
/// variable: each app's federated credential trusts only its own workflow subject.
pub const CLIENT_ID_ENV: &str = "M365CTL_CLIENT_ID";

fn with_client_id_override(
    settings: &crate::backend::GraphSettings,
    client_id: Option<String>,
) -> crate::backend::GraphSettings {
    let mut settings = settings.clone();
    if let Some(client_id) = client_id {
        tracing::info!(%client_id, "client_id for this command");
        settings.client_id = client_id;
    }
    settings
}

impl TenantBackend for Backend {
    fn describe(&self) -> String {
        match self {
            Backend::Snapshot(b) => b.describe(),
            Backend::Graph(b) => b.describe(),
        }
    }

    async fn read(&self) -> Result<Tenant, BackendError> {
        match self {
            Backend::Snapshot(b) => b.read().await,
            Backend::Graph(b) => b.read().await,
        }
    }

    async fn execute(&self, ops: &[Operation]) -> Vec<Result<ExecReport, BackendError>> {
        match self {
            Backend::Snapshot(b) => b.execute(ops).await,
            Backend::Graph(b) => b.execute(ops).await,
        }
    }

    async fn already_done(&self, ops: &[Operation]) -> Result<Vec<bool>, BackendError> {
        match self {
            Backend::Snapshot(b) => b.already_done(ops).await,
            Backend::Graph(b) => b.already_done(ops).await,
        }
    }

    async fn read_group_licensing(&self, ops: &[Operation]) -> Result<Tenant, BackendError> {
        match self {
            Backend::Snapshot(b) => b.read_group_licensing(ops).await,
            Backend::Graph(b) => b.read_group_licensing(ops).await,
        }
    }

    async fn read_mailbox_facts(
        &self,
        live: &mut Tenant,
        user_ids: &[String],
    ) -> Result<(), BackendError> {
        match self {
            Backend::Snapshot(b) => b.read_mailbox_facts(live, user_ids).await,
            Backend::Graph(b) => b.read_mailbox_facts(live, user_ids).await,
        }
    }
}

/// Refuses a delegated (read-only) sign-in for a command that writes, before anyone is asked
/// to sign in.
pub(crate) fn refuse_delegated_writes(config: &Config) -> Result<(), CommandError> {
    match &config.backend {
        BackendConfig::Graph(settings) if settings.auth.is_delegated() => Err(CommandError::msg(
            "apply needs an app registration: auth = \"device-code\" and \"azure-cli\" are read-only \
             sign-ins for plan, drift and export (README \"App registration\")",
        )),
        _ => Ok(()),
    }
}

/// Loads the config and prints its warnings (sub-directories not read) to stderr.
pub(crate) fn load_config(out: &Output, path: &Path) -> Result<Config, CommandError> {
    let config = crate::input::load(path)?;
    print_diagnostics(out, &config.warnings, out.term.stderr_color);
    Ok(config)
}

/// Loads the config, reads the tenant, resolves, and plans. Resolution warnings are put in
/// front of the plan's own diagnostics so every format shows them first. The returned config
/// has no `users`: resolve turns them into the desired state, and nothing after it reads them,
/// so each is freed as soon as it is resolved (they were the largest thing alive at the peak).
pub(crate) fn compute_plan(
    out: &Output,
    config_path: &Path,
) -> Result<(Config, Backend, Tenant, DesiredState, crate::plan::Plan), CommandError> {
    compute_plan_with(out, config_path, Backend::from_config)
}

/// `compute_plan` through the backend `make` builds (`Backend::for_apply` for `apply`).
pub(crate) fn compute_plan_with(
    out: &Output,
    config_path: &Path,
    make: fn(&Config) -> Result<Backend, CommandError>,
) -> Result<(Config, Backend, Tenant, DesiredState, crate::plan::Plan), CommandError> {
    let mut config = load_config(out, config_path)?;
    let backend = make(&config)?;
    // One progress display for the tenant and the mailbox facts its plan needs.
    let progress = backend.read_progress();
    let mut live = runtime()?.block_on(backend.read())?;
    let (desired, warnings) = desired::resolve_taking_users(&mut config, &live)?;
    runtime()?.block_on(crate::backend::read_needed_facts(
        &backend, &desired, &mut live,
    ))?;
    drop(progress);
    let mut plan = crate::plan::plan(&desired, &live);
    let mut diagnostics = warnings;
    diagnostics.append(&mut plan.diagnostics);
    diagnostics.extend(mass_change::review(&plan, &desired, &live));
    plan.diagnostics = diagnostics;
    plan.cost = config
        .prices
        .as_ref()
        .map(|prices| crate::cost::plan_cost(&plan.seats, prices));
    Ok((config, backend, live, desired, plan))
}

/// The cwd and the repository root (GITHUB_WORKSPACE in Actions, else the nearest directory
/// holding `.git`), for repository-relative paths in annotations and comments.
pub(crate) fn repo_paths() -> render::github::RepoPaths {
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = std::env::var_os("GITHUB_WORKSPACE")
        .filter(|w| !w.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            cwd.ancestors()
                .find(|dir| dir.join(".git").exists())
                .map(Path::to_path_buf)
        });
    render::github::RepoPaths { cwd, root }
}

/// `--format` or the CI default.
pub(crate) fn effective_format(format: Option<render::Format>) -> render::Format {
    format.unwrap_or_else(|| {
        if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
            render::Format::Github
        } else {
            render::Format::Human
        }
    })
}

/// Renders a plan in `format` to stdout (and the step summary for `github`).
pub(crate) fn emit_plan(
    plan: &crate::plan::Plan,
    format: render::Format,
    wording: render::Wording,
    out: &Output,
) -> Result<(), CommandError> {
    use render::{Format, human, markdown};
    let human_text = |color| human::render(plan, human::HumanOptions { color, wording });
    let text = match format {
        Format::Human => human_text(out.term.stdout_color),
        Format::Markdown => markdown::render(
            plan,
            markdown::MarkdownOptions {
                wording,
                ..Default::default()
            },
        ),
        Format::Json => render::json::render(plan),
        Format::Github => {
            if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let body = markdown::render(
                    plan,
                    markdown::MarkdownOptions {
                        wording,
                        ..Default::default()
                    },
                );
                append(Path::new(&summary), &body)?;
            }
            let mut text = render::github::annotations(&plan.diagnostics, &repo_paths());
            text.push_str(&human_text(false));
            text
        }
    };
    write_stdout(out, &text)
}

fn append(path: &Path, text: &str) -> Result<(), CommandError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| CommandError::msg(format!("cannot write {}: {e}", path.display())))
}

/// Writes to stdout through `out`; a closed pipe (`| head`) is not an error worth a message.
pub(crate) fn write_stdout(out: &Output, text: &str) -> Result<(), CommandError> {
    out.print(text)
        .map_err(|e| CommandError::msg(format!("cannot write to stdout: {e}")))
}

/// Environment variable stating the Graph write quota writes are paced to (`WRITES/SECONDS`).
pub(crate) const WRITE_QUOTA_ENV: &str = "M365CTL_WRITE_QUOTA";

/// The write quota from `M365CTL_WRITE_QUOTA`, or Microsoft's published one when it is unset.
fn write_quota() -> Result<crate::graph::pacing::WriteQuota, CommandError> {
    use crate::graph::pacing::WriteQuota;
    match std::env::var(WRITE_QUOTA_ENV).ok().filter(|v| !v.is_empty()) {
        None => Ok(WriteQuota::MICROSOFT),
        Some(value) => WriteQuota::parse(&value).map_err(|e| {
            CommandError::msg(format!(
                "{WRITE_QUOTA_ENV}: {e}\n  = hint: Microsoft's published quota is 3000/150 (writes per 150 s per app and tenant); unset it to use that"
            ))
        }),
    }
}
