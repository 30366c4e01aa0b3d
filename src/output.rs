//! The one output type (cargo's `Shell`): every byte m365ctl writes for a person goes through
//! an `Output`, which holds the stdout and stderr writers, the colour choice and `--quiet`.
//! Only this module and `main.rs` touch the process's streams; `lib.rs` denies the
//! `print!` family everywhere else, so it stays that way, and tests can capture both streams.

// The one module allowed to open the process's streams (see clippy.toml).
#![allow(clippy::disallowed_methods)]

use crate::cli::ColorChoice;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

/// Colour per stream, decided once from `--color`, `NO_COLOR` and whether each stream is a
/// terminal.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// Colour on stdout.
    pub stdout_color: bool,
    /// Colour on stderr.
    pub stderr_color: bool,
}

impl Terminal {
    /// `--color` plus NO_COLOR plus whether each stream is a terminal.
    pub fn detect(choice: ColorChoice) -> Terminal {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let auto = |tty: bool| tty && !no_color;
        match choice {
            ColorChoice::Always => Terminal {
                stdout_color: true,
                stderr_color: true,
            },
            ColorChoice::Never => Terminal {
                stdout_color: false,
                stderr_color: false,
            },
            ColorChoice::Auto => Terminal {
                stdout_color: auto(std::io::stdout().is_terminal()),
                stderr_color: auto(stderr_is_terminal()),
            },
        }
    }
}

/// Whether the process's stderr is a terminal (live progress instead of log lines).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

type Stream = Arc<Mutex<Box<dyn Write + Send>>>;

/// A shareable handle on the stderr of an `Output`, for the progress displays' threads.
#[derive(Clone)]
pub struct ErrStream(Stream);

impl ErrStream {
    /// The process's stderr.
    pub fn process() -> ErrStream {
        ErrStream(Arc::new(Mutex::new(Box::new(std::io::stderr()))))
    }

    /// Writes `text` as it is and flushes (best effort: a closed stderr is not an error
    /// worth failing a command for).
    pub fn write(&self, text: &str) {
        if let Ok(mut err) = self.0.lock() {
            let _ = err.write_all(text.as_bytes()).and_then(|_| err.flush());
        }
    }

    /// Writes `text` and a newline.
    pub fn line(&self, text: &str) {
        self.write(&format!("{text}\n"));
    }
}

impl std::fmt::Debug for ErrStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErrStream")
    }
}

/// Where a command writes: the plan or document on stdout, everything else on stderr.
pub struct Output {
    stdout: Stream,
    stderr: ErrStream,
    /// Colour per stream.
    pub term: Terminal,
    /// `--quiet`: no progress.
    pub quiet: bool,
}

impl Output {
    /// The process's streams.
    pub fn process(choice: ColorChoice, quiet: bool) -> Output {
        Output {
            stdout: Arc::new(Mutex::new(Box::new(std::io::stdout()))),
            stderr: ErrStream::process(),
            term: Terminal::detect(choice),
            quiet,
        }
    }

    /// Writers of the caller's choosing (tests capture what a command writes).
    pub fn to_writers(
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
        term: Terminal,
    ) -> Output {
        Output {
            stdout: Arc::new(Mutex::new(stdout)),
            stderr: ErrStream(Arc::new(Mutex::new(stderr))),
            term,
            quiet: false,
        }
    }

    /// Writes to stdout and flushes; a closed pipe (`| head`) is not an error worth a message.
    pub fn print(&self, text: &str) -> Result<(), std::io::Error> {
        let mut out = self
            .stdout
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }

    /// Writes to stderr as it is.
    pub fn eprint(&self, text: &str) {
        self.stderr.write(text);
    }

    /// Writes a line to stderr.
    pub fn eprintln(&self, text: &str) {
        self.stderr.line(text);
    }

    /// A handle on stderr for threads that outlive a borrow (progress displays).
    pub fn stderr(&self) -> ErrStream {
        self.stderr.clone()
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("term", &self.term)
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const PLAIN: Terminal = Terminal {
        stdout_color: false,
        stderr_color: false,
    };

    #[test]
    fn each_stream_gets_exactly_its_bytes() {
        let (out, err) = (Captured::default(), Captured::default());
        let output = Output::to_writers(Box::new(out.clone()), Box::new(err.clone()), PLAIN);
        output.print("plan\n").unwrap();
        output.eprint("warn");
        output.eprintln("ing");
        output.stderr().line("progress");
        assert_eq!(&*out.0.lock().unwrap(), b"plan\n");
        assert_eq!(&*err.0.lock().unwrap(), b"warning\nprogress\n");
    }

    #[test]
    fn a_closed_stdout_pipe_is_not_an_error() {
        let output = Output::to_writers(Box::new(ClosedPipe), Box::new(Captured::default()), PLAIN);
        assert!(output.print("x").is_ok());
    }
}
