//! Command-line definitions (clap derive). Only definitions live here: behaviour is in
//! `commands`, so each flag is defined once and every command reads it the same way.

use crate::render::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Declarative Microsoft 365 licences and Exchange Online mailboxes.
#[derive(Debug, Parser)]
#[command(name = "m365ctl", version, about, propagate_version = true)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour output; NO_COLOR is honoured in `auto`.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// No progress display while reading the tenant (stderr).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The config to read.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Config file, or a directory of *.toml files (m365ctl.toml first).
    #[arg(short, long = "config", value_name = "PATH", default_value = ".")]
    pub config: PathBuf,
}

/// One or more configs: `plan`, `drift` and `apply` work on several tenants at once.
#[derive(Debug, Clone, Args)]
pub struct ConfigsArg {
    /// Config file or directory; repeat it for several tenants, or name a directory holding
    /// tenants/<name>/ (or the tenants/ directory itself).
    #[arg(short, long = "config", value_name = "PATH", default_value = ".", action = clap::ArgAction::Append)]
    pub config: Vec<PathBuf>,
    /// With several tenants: how many are worked on at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the config offline (and against the snapshot when the backend is a snapshot).
    Validate(ConfigArg),
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make the tenant match the config.
    Apply(ApplyArgs),
    /// Render a saved plan (`plan --out`) without reading the tenant or the config.
    Show(ShowArgs),
    /// Report differences between the config and the tenant (exit 2 when there are any).
    Drift(DriftArgs),
    /// Write today's tenant as TOML (and optionally as a snapshot).
    Export(ExportArgs),
    /// Print the JSON Schema of the config language (for Taplo / editors).
    Schema,
    /// Reports about the tenant.
    #[command(subcommand)]
    Report(ReportCommand),
    /// A fake Graph/Exchange server for trying the graph backend offline.
    #[cfg(feature = "sim")]
    #[command(subcommand)]
    Sim(SimCommand),
    /// Scaffold a config repository (config, workflows, .gitignore).
    Init(InitArgs),
    /// Print the tenants under a directory as the JSON GitHub Actions `strategy.matrix` takes.
    Matrix(MatrixArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    #[command(hide = true)]
    Man,
}

/// `plan`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigsArg,
    /// Output format; defaults to `github` when GITHUB_ACTIONS=true, else `human`.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Also write the plan document (JSON) for `apply PLANFILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when there are changes (0 = none, 1 = error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// When no plan can be computed (config errors, unreadable tenant), write the errors as
    /// the pull-request comment (markdown) to FILE, so the comment never keeps an old plan.
    #[arg(long, value_name = "FILE")]
    pub error_comment: Option<PathBuf>,
    /// The commit being planned, named in the comment (the pull request's head SHA).
    #[arg(long, value_name = "SHA", value_parser = commit_sha)]
    pub commit: Option<String>,
}

/// `show`.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// A plan written by `plan --out`.
    #[arg(value_name = "PLANFILE")]
    pub planfile: PathBuf,
    /// Output format; defaults to `github` when GITHUB_ACTIONS=true, else `human`. `markdown`
    /// is the pull-request comment (commit, config, tenant, operations checksum).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The commit the plan is for, named in the comment (the pull request's head SHA).
    #[arg(long, value_name = "SHA", value_parser = commit_sha)]
    pub commit: Option<String>,
}

/// A git commit id: 4 to 64 hex digits (it is printed into comments, so nothing else).
fn commit_sha(text: &str) -> Result<String, String> {
    if (4..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err("expected a commit SHA (4 to 64 hex digits)".to_string())
    }
}

/// `apply`.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub config: ConfigsArg,
    /// A plan written by `plan --out`; refused when the tenant or config changed since.
    #[arg(value_name = "PLANFILE")]
    pub planfile: Option<PathBuf>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow changes above the [guards] thresholds.
    #[arg(long)]
    pub allow_mass_change: bool,
    /// Remove a lock left by an apply that died (read its journal first).
    #[arg(long)]
    pub force_unlock: bool,
    /// Journal file recording each operation's outcome, for resuming.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Write batches (Graph `$batch` envelopes of up to 20 operations) in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// `drift`.
#[derive(Debug, Clone, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub config: ConfigsArg,
    /// Output format; defaults to `github` when GITHUB_ACTIONS=true, else `human`.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Directory to write the TOML into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also write the live state as a snapshot JSON file.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Replace files the export would write that exist already (never m365ctl.toml's [tenant]).
    #[arg(long)]
    pub force: bool,
}

/// `report`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Users holding several Exchange-bearing licences (licence stacking); exit 2 when any.
    Stacking(StackingArgs),
    /// Who holds which licence (per SKU and department) and the waste, with its monthly price.
    Licences(LicencesArgs),
}

/// `report stacking`.
#[derive(Debug, Clone, Args)]
pub struct StackingArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StackingFormat::Human)]
    pub format: StackingFormat,
}

/// Formats of `report stacking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StackingFormat {
    /// A table for people.
    Human,
    /// JSON for scripts.
    Json,
}

/// `report licences`.
#[derive(Debug, Clone, Args)]
pub struct LicencesArgs {
    #[command(flatten)]
    pub config: ConfigsArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LicencesFormat::Human)]
    pub format: LicencesFormat,
}

/// Formats of `report licences`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LicencesFormat {
    /// A summary for people.
    Human,
    /// One record per holding and per finding, for spreadsheets.
    Csv,
    /// JSON for scripts.
    Json,
}

/// `sim`.
#[cfg(feature = "sim")]
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a snapshot as a fake Microsoft Graph + Exchange Online on loopback, to try
    /// `plan`/`apply` with the graph backend without a tenant.
    Serve(SimServeArgs),
}

/// `sim serve`.
#[cfg(feature = "sim")]
#[derive(Debug, Clone, Args)]
pub struct SimServeArgs {
    /// The tenant snapshot (JSON) to serve.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "generate",
        conflicts_with = "generate"
    )]
    pub snapshot: Option<PathBuf>,
    /// Serve a generated tenant of N users instead of a snapshot.
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,
    /// Seed of the generated tenant and of the fault schedule.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Loopback port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Delay before every answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Added delay per object in an answer, in microseconds (latency grows with page size).
    #[arg(long, value_name = "US", default_value_t = 0)]
    pub latency_per_item_us: u64,
    /// Share of requests (and $batch items) answered with 429/503/504 (0.0..=1.0).
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Microsoft's throttling model: resource units, write quotas, Exchange's budget.
    #[arg(long, value_enum, default_value_t = ThrottleArg::Microsoft)]
    pub throttle: ThrottleArg,
    /// Multiplies every budget of the throttling model (e.g. 0.01 to meet it with a few requests).
    #[arg(long, value_name = "FACTOR")]
    pub throttle_scale: Option<f64>,
    /// Milliseconds before group licensing reaches the members of a group (Graph processes
    /// group `assignLicense` and membership changes asynchronously); 0 = at once.
    #[arg(long, value_name = "MS", default_value_t = crate::sim::DEFAULT_GROUP_LICENSING_DELAY.as_millis() as u64)]
    pub group_licensing_delay_ms: u64,
}

/// `sim serve --throttle`.
#[cfg(feature = "sim")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ThrottleArg {
    /// No throttling model (only injected faults).
    Off,
    /// Microsoft's published limits.
    Microsoft,
}

/// `init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Directory to create the config repository in.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Write the many-tenants layout instead: tenants/<name>/m365ctl.toml per name, and a
    /// workflow that plans each tenant in its own job of a matrix.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',', num_args = 1..)]
    pub tenants: Vec<String>,
}

/// `matrix`.
#[derive(Debug, Clone, Args)]
pub struct MatrixArgs {
    /// A directory holding tenants/<name>/ (or the tenants/ directory), or several configs.
    #[arg(short, long = "config", value_name = "PATH", default_value = ".", action = clap::ArgAction::Append)]
    pub config: Vec<PathBuf>,
}
