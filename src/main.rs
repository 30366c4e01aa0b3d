//! m365ctl entry point: parse, run, map errors to exit codes. Behaviour lives in the library.

use clap::Parser;
use m365ctl::cli::{Cli, ColorChoice};
use m365ctl::commands::{self, Terminal, exit};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap would exit 2 on usage errors, which means "changes present" here.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    init_logging(cli.verbose, cli.color);
    let color = Terminal::detect(cli.color).stderr_color;
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            commands::report_error(&e, color);
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Logs go to stderr (stdout carries only the plan); RUST_LOG overrides `-v`.
fn init_logging(verbose: u8, color: ColorChoice) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(Terminal::detect(color).stderr_color)
        .without_time()
        .init();
}
