//! Progress of a long tenant read, on stderr: a live line on a terminal, a plain line every
//! few seconds in CI (no terminal), nothing with `--quiet`. Never on stdout, which carries
//! only the plan.
//!
//! A 20,000-user tenant takes a minute to read when mailbox sizes are needed; against a real
//! tenant it can be several. A blank terminal for that long reads as "hung". The Graph
//! backend's concurrent read streams bump shared atomic counters; one display thread turns
//! them into text, so no read ever waits for the display.

use crate::output::ErrStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often CI gets a plain progress line (overridable for tests with
/// `M365CTL_PROGRESS_INTERVAL_MS`).
const CI_INTERVAL: Duration = Duration::from_secs(10);

/// `--quiet`, set once by the command dispatcher.
static QUIET: AtomicBool = AtomicBool::new(false);

/// The command's stderr (`output::Output::stderr`), set once by the command dispatcher;
/// the process's stderr for library callers that set none.
static STDERR: std::sync::Mutex<Option<ErrStream>> = std::sync::Mutex::new(None);

/// Where progress and messages go.
fn stderr() -> ErrStream {
    STDERR
        .lock()
        .ok()
        .and_then(|s| s.clone())
        .unwrap_or_else(ErrStream::process)
}

/// The live line while one is drawn, so a message (a sign-in code) is printed above it
/// instead of being overdrawn.
static LIVE: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Prints a line on stderr for the user to read now, above the live progress line if one is
/// drawn (a device sign-in code must not be drawn over).
pub fn message(text: &str) {
    let live = LIVE.lock().ok().and_then(|live| live.clone());
    let err = stderr();
    match live {
        Some(bar) => bar.suspend(|| err.line(text)),
        None => err.line(text),
    }
}

/// Sends progress and messages to the command's stderr for the rest of the process, or
/// silences progress (`--quiet`).
pub fn set_output(quiet: bool, err: ErrStream) {
    QUIET.store(quiet, Ordering::Relaxed);
    if let Ok(mut stderr) = STDERR.lock() {
        *stderr = Some(err);
    }
}

/// What the read has done so far; every field is bumped by the stream that owns it.
#[derive(Debug, Default)]
pub struct ReadCounters {
    users: AtomicU64,
    /// `/users/$count`, 0 while unknown.
    users_total: AtomicU64,
    groups: AtomicU64,
    groups_total: AtomicU64,
    member_pages: AtomicU64,
    mailboxes: AtomicU64,
    mailboxes_read: AtomicBool,
    sizes: AtomicU64,
    sizes_total: AtomicU64,
}

impl ReadCounters {
    /// A page of users arrived.
    pub fn add_users(&self, n: usize) {
        self.users.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The users read so far are discarded (a segmented read abandoned for a sequential one).
    pub fn reset_users(&self) {
        self.users.store(0, Ordering::Relaxed);
    }

    /// The tenant's user count (`/users/$count`), known before the pages are.
    pub fn set_users_total(&self, n: u64) {
        self.users_total.store(n, Ordering::Relaxed);
    }

    /// How many licence groups there are to read members of.
    pub fn set_groups_total(&self, n: usize) {
        self.groups_total.store(n as u64, Ordering::Relaxed);
    }

    /// One group's members are read.
    pub fn add_group(&self) {
        self.groups.fetch_add(1, Ordering::Relaxed);
    }

    /// A page of group members arrived.
    pub fn add_member_page(&self) {
        self.member_pages.fetch_add(1, Ordering::Relaxed);
    }

    /// The mailbox list is read.
    pub fn set_mailboxes(&self, n: usize) {
        self.mailboxes.store(n as u64, Ordering::Relaxed);
        self.mailboxes_read.store(true, Ordering::Relaxed);
    }

    /// How many mailbox sizes will be read.
    pub fn set_sizes_total(&self, n: usize) {
        self.sizes_total.store(n as u64, Ordering::Relaxed);
    }

    /// One mailbox size is read.
    pub fn add_size(&self) {
        self.sizes.fetch_add(1, Ordering::Relaxed);
    }

    /// One line: `users 12,000/20,000 · licence groups 3/20 · member pages 41 · mailboxes
    /// reading · sizes 30/120`.
    pub fn summary(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let of = |done: u64, total: u64| {
            if total == 0 {
                thousands(done)
            } else {
                format!("{}/{}", thousands(done), thousands(total))
            }
        };
        let mut parts = vec![format!(
            "users {}",
            of(get(&self.users), get(&self.users_total))
        )];
        if get(&self.groups_total) > 0 {
            parts.push(format!(
                "licence groups {}",
                of(get(&self.groups), get(&self.groups_total))
            ));
        }
        if get(&self.member_pages) > 0 {
            parts.push(format!("member pages {}", get(&self.member_pages)));
        }
        parts.push(if self.mailboxes_read.load(Ordering::Relaxed) {
            format!("mailboxes {}", thousands(get(&self.mailboxes)))
        } else {
            "mailboxes reading".to_string()
        });
        if get(&self.sizes_total) > 0 {
            parts.push(format!(
                "sizes {}",
                of(get(&self.sizes), get(&self.sizes_total))
            ));
        }
        parts.join(" · ")
    }
}

/// `20000` -> `20,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A live line redrawn in place (stderr is a terminal).
    Live,
    /// A plain line every `every` (CI logs).
    Lines {
        /// Interval between lines.
        every: Duration,
    },
    /// Nothing (`--quiet`).
    Quiet,
}

impl Mode {
    /// From `--quiet` and whether stderr is a terminal.
    pub fn detect() -> Mode {
        if QUIET.load(Ordering::Relaxed) {
            Mode::Quiet
        } else if crate::output::stderr_is_terminal() {
            Mode::Live
        } else {
            let every = std::env::var("M365CTL_PROGRESS_INTERVAL_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis)
                .unwrap_or(CI_INTERVAL);
            Mode::Lines { every }
        }
    }
}

/// A running display of `ReadCounters`; stopped (with a closing line) by `finish` or drop.
pub struct ReadProgress {
    stop: Arc<AtomicBool>,
    display: Option<std::thread::JoinHandle<()>>,
}

impl ReadProgress {
    /// Starts displaying `counters` in `mode` (`what` names the read, e.g. "graph contoso").
    pub fn start(counters: Arc<ReadCounters>, mode: Mode, what: String) -> ReadProgress {
        let stop = Arc::new(AtomicBool::new(false));
        let display = match mode {
            Mode::Quiet => None,
            Mode::Live => {
                let stop = stop.clone();
                Some(std::thread::spawn(move || live(&counters, &stop, &what)))
            }
            Mode::Lines { every } => {
                let stop = stop.clone();
                Some(std::thread::spawn(move || {
                    lines(&counters, &stop, every, &what)
                }))
            }
        };
        ReadProgress { stop, display }
    }

    /// Stops the display and waits for its closing line.
    pub fn finish(mut self) {
        self.stop_display();
    }

    fn stop_display(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(display) = self.display.take() {
            let _ = display.join();
        }
    }
}

impl Drop for ReadProgress {
    fn drop(&mut self) {
        self.stop_display();
    }
}

/// How often the display thread looks at the counters.
const TICK: Duration = Duration::from_millis(100);

fn live(counters: &ReadCounters, stop: &AtomicBool, what: &str) {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} reading {prefix}: {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_prefix(what.to_string());
    if let Ok(mut live) = LIVE.lock() {
        *live = Some(bar.clone());
    }
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        bar.set_message(counters.summary());
        bar.tick();
        std::thread::sleep(TICK);
    }
    if let Ok(mut live) = LIVE.lock() {
        *live = None;
    }
    bar.finish_and_clear();
    stderr().line(&format!(
        "read {what} in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        counters.summary()
    ));
}

fn lines(counters: &ReadCounters, stop: &AtomicBool, every: Duration, what: &str) {
    let started = Instant::now();
    let mut next = started + every;
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next {
            stderr().line(&format!(
                "reading {what} ({:.0} s): {}",
                started.elapsed().as_secs_f64(),
                counters.summary()
            ));
            next += every;
        }
        std::thread::sleep(TICK.min(every));
    }
    stderr().line(&format!(
        "read {what} in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        counters.summary()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_shows_what_is_known() {
        let c = ReadCounters::default();
        assert_eq!(c.summary(), "users 0 · mailboxes reading");
        c.set_users_total(20_000);
        c.add_users(999);
        c.add_users(999);
        c.set_groups_total(20);
        c.add_group();
        c.add_member_page();
        c.add_member_page();
        c.set_mailboxes(19_950);
        c.set_sizes_total(120);
        c.add_size();
        assert_eq!(
            c.summary(),
            "users 1,998/20,000 · licence groups 1/20 · member pages 2 · mailboxes 19,950 · sizes 1/120"
        );
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
