//! m365ctl entry point: parse, run, map errors to exit codes. Behaviour lives in the library.
//! With `output.rs`, the only place that opens the process's streams (logs, the panic line).

#![allow(clippy::disallowed_methods)]

use clap::Parser;
use m365ctl::cli::{Cli, ColorChoice};
use m365ctl::commands::{self, Output, Terminal, exit};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a large tenant's model is millions of small strings and
/// vectors, and glibc's per-block headers, 32-byte minimum and retained free blocks made a
/// 1,000,000-user `plan` peak at 1.54 GB RSS (README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    install_panic_hook();
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
    let out = Output::process(cli.color, cli.quiet);
    match commands::run(cli, &out) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            commands::report_error(&out, &e);
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

/// A panic is a bug in m365ctl: say so in one line, point at the issue tracker, and exit 1
/// (Rust's default hook would print a backtrace hint and exit 101).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        eprintln!(
            "error: internal error in m365ctl{location}: {message}\n  = hint: this is a bug; please report it with the command you ran"
        );
        std::process::exit(i32::from(exit::ERROR));
    }));
}
