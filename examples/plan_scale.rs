//! Measures the planner's local costs at scale (issue 17), without any network:
//! `cargo run --release --locked --example plan_scale -- [--render] [--sizes 10000,100000]
//! [--write DIR N]`.
//!
//! - `--render`: human and markdown rendering of generated plans of 10k, 100k and 1M
//!   operations, each waiting for an operation of another principal (the worst case for the
//!   dependency lookup). Time per operation stays flat when rendering is linear.
//! - `--sizes`: for each user count, the synthetic benchmark tenant (`synth`, 2 % changed)
//!   is resolved and planned, then the plan document (`plan --out`, with its live digest) is
//!   written to a temporary file. It prints the planner core (wall and CPU seconds) and
//!   plan-file times and bytes.
//! - `--write DIR N`: writes the N-user config and `tenant.json` snapshot to DIR, for
//!   measuring the CLI itself: `/usr/bin/time -v m365ctl plan -c DIR [--out plan.json]`.
//! - `--write-entries DIR N`: the same tenant with the config a per-user export writes: one
//!   `[users."upn"]` entry per user in `users.toml` (about 10 MB at 100k users), the input
//!   whose parse memory the loader bounds.
//! - `--stages DIR [--out]`: runs what `m365ctl plan -c DIR [--out]` runs on a snapshot config,
//!   stage by stage (load, read, resolve, mailbox facts, plan, render, plan file; not the
//!   shell's mass-change review), and prints per stage the
//!   CPU seconds, the live heap after it, the heap's peak during it and the process's RSS and
//!   peak RSS: where the bytes and the CPU go.

use m365ctl::plan::ops::AddGroupMember;
use m365ctl::plan::{Fingerprint, OpKind, Operation, Plan};
use m365ctl::planfile::PlanFile;
use m365ctl::render::Wording;
use m365ctl::render::{human, markdown};
use m365ctl::synth::{SynthSpec, generate};
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--stages") {
        let Some(dir) = args.get(i + 1) else {
            panic!("--stages DIR [--out]");
        };
        stages::run(Path::new(dir), args.iter().any(|a| a == "--out"));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let (Some(dir), Some(n)) = (
            args.get(i + 1),
            args.get(i + 2).and_then(|n| n.parse().ok()),
        ) else {
            panic!("--write DIR USERS");
        };
        write_config(Path::new(dir), n);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--write-entries") {
        let (Some(dir), Some(n)) = (
            args.get(i + 1),
            args.get(i + 2).and_then(|n| n.parse().ok()),
        ) else {
            panic!("--write-entries DIR USERS");
        };
        write_entries(Path::new(dir), n);
        return;
    }
    if args.iter().any(|a| a == "--render") {
        println!("operations  human_s  ns_per_op  markdown_s  ns_per_op");
        for n in [10_000, 100_000, 1_000_000] {
            measure_render(n);
        }
    }
    if let Some(i) = args.iter().position(|a| a == "--sizes") {
        println!("users  operations  planner_core_s  core_cpu_s  planfile_s  planfile_bytes");
        for n in args[i + 1].split(',').filter_map(|n| n.trim().parse().ok()) {
            measure_planfile(n);
        }
    }
}

/// A plan of `n` operations over `n / 2` users, each operation waiting for the previous
/// user's: every rendered line looks one dependency up.
fn chained_plan(n: usize) -> Plan {
    let operations = (0..n)
        .map(|i| Operation {
            id: format!("add_group_member:staff:user{i}@contoso.com"),
            kind: OpKind::AddGroupMember(AddGroupMember {
                group_id: "g-staff".into(),
                group: "staff".into(),
                user_id: format!("u{i}"),
                upn: format!("user{}@contoso.com", i / 2),
            }),
            depends_on: i
                .checked_sub(2)
                .map(|d| vec![format!("add_group_member:staff:user{d}@contoso.com")])
                .unwrap_or_default(),
            reasons: vec![],
        })
        .collect();
    Plan {
        operations,
        diagnostics: vec![],
        license_errors: vec![],
        seats: vec![],
        exchange_changes: vec![],
        fingerprint: Fingerprint {
            desired: "sha256:00".into(),
            live: "sha256:00".into(),
        },
        cost: None,
    }
}

fn measure_render(n: usize) {
    let plan = chained_plan(n);
    let started = Instant::now();
    let text = human::render(
        &plan,
        human::HumanOptions {
            color: false,
            wording: Wording::Plan,
        },
    );
    let human_s = started.elapsed().as_secs_f64();
    assert!(text.contains("after user0@contoso.com (add group member)"));
    let started = Instant::now();
    let text = markdown::render(
        &plan,
        markdown::MarkdownOptions {
            wording: Wording::Plan,
            max_chars: usize::MAX,
        },
    );
    let markdown_s = started.elapsed().as_secs_f64();
    assert!(text.contains("after user0@contoso.com (add group member)"));
    let per_op = |s: f64| s * 1e9 / n as f64;
    println!(
        "{n:>10}  {human_s:7.3}  {:9.0}  {markdown_s:10.3}  {:9.0}",
        per_op(human_s),
        per_op(markdown_s)
    );
}

fn measure_planfile(n: usize) {
    let synth = generate(&SynthSpec::benchmark(n));
    let dir = tempfile::tempdir().expect("tempdir");
    write_synth(dir.path(), &synth);
    let config = m365ctl::input::load(dir.path()).expect("config loads");
    let (desired, _) = m365ctl::desired::resolve(&config, &synth.tenant).expect("resolves");
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let plan = m365ctl::plan::plan(&desired, &synth.tenant);
    let core_s = started.elapsed().as_secs_f64();
    let core_cpu_s = cpu_seconds() - cpu_started;
    let out = dir.path().join("plan.json");
    let started = Instant::now();
    let doc = PlanFile::from_plan(&plan).with_live_digest(&synth.tenant);
    m365ctl::backend::snapshot::write_plan_file(&out, &doc).expect("plan file written");
    let planfile_s = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&out).expect("plan file").len();
    println!(
        "{n:>7}  {:>10}  {core_s:14.3}  {core_cpu_s:12.2}  {planfile_s:10.3}  {bytes:>14}",
        plan.operations.len()
    );
}

/// CPU seconds this process has used (user + system, all threads), from /proc/self/stat:
/// on a shared machine wall time measures the neighbours, CPU time the planner.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn write_config(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).expect("directory");
    write_synth(dir, &generate(&SynthSpec::benchmark(n)));
}

fn write_synth(dir: &Path, synth: &m365ctl::synth::Synth) {
    std::fs::write(dir.join("m365ctl.toml"), &synth.config_toml).expect("config");
    std::fs::write(
        dir.join("tenant.json"),
        m365ctl::backend::snapshot::render_snapshot(&synth.tenant),
    )
    .expect("snapshot");
}

/// The benchmark tenant with one `[users]` entry per user, as a per-user export writes it: the
/// licences the user's rule gives, their country as usage location, their mailbox type.
fn write_entries(dir: &Path, n: usize) {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir).expect("directory");
    let synth = generate(&SynthSpec::benchmark(n));
    write_synth(dir, &synth);
    let header = synth
        .config_toml
        .split("[[rules]]")
        .next()
        .expect("config text");
    std::fs::write(dir.join("m365ctl.toml"), header).expect("config");
    let mut users = String::with_capacity(n * 100);
    for user in &synth.tenant.users {
        let licences = match user.attributes.get("extensionAttribute1") {
            Some("Manager") => r#"["E5", "EMS"]"#,
            Some("Frontline") => r#"["F3"]"#,
            Some("Contractor") => r#"["EXO_P1"]"#,
            _ => r#"["E3", "EMS"]"#,
        };
        let country = user.attributes.get("country").unwrap_or("GB");
        writeln!(
            users,
            "[users.\"{}\"]\nlicenses = {licences}\nusage_location = \"{country}\"\nmailbox = \"user\"\n",
            user.user_principal_name
        )
        .expect("string write");
    }
    std::fs::write(dir.join("users.toml"), users).expect("users.toml");
}

/// `--stages`: the CLI's plan pipeline, measured stage by stage.
mod stages {
    use super::cpu_seconds;
    use m365ctl::backend::TenantBackend;
    use m365ctl::backend::snapshot::SnapshotBackend;
    use mimalloc::MiMalloc;
    use std::alloc::{GlobalAlloc, Layout};
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

    /// The binary's allocator (mimalloc, `src/main.rs`), counting live and peak heap bytes
    /// once `COUNTING` is on (the other modes pay one relaxed load per allocation).
    struct Counting;

    static COUNTING: AtomicBool = AtomicBool::new(false);
    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    // SAFETY: every call forwards to mimalloc unchanged; only counters are added.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let ptr = unsafe { MiMalloc.alloc(layout) };
            if !ptr.is_null() && COUNTING.load(Relaxed) {
                grew(layout.size());
            }
            ptr
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if COUNTING.load(Relaxed) {
                LIVE.fetch_sub(layout.size(), Relaxed);
            }
            unsafe { MiMalloc.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let new = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
            if !new.is_null() && COUNTING.load(Relaxed) {
                LIVE.fetch_sub(layout.size(), Relaxed);
                grew(new_size);
            }
            new
        }
    }

    fn grew(size: usize) {
        let live = LIVE.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(live, Relaxed);
    }

    /// VmRSS and VmHWM of this process, in MB.
    fn rss_mb() -> (u64, u64) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .map_or(0, |kb| kb / 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Runs `stage`, then prints its CPU seconds, the heap after it and at its peak, and RSS.
    fn stage<T>(name: &str, stage: impl FnOnce() -> T) -> T {
        PEAK.store(LIVE.load(Relaxed), Relaxed);
        let cpu = cpu_seconds();
        let value = stage();
        let cpu = cpu_seconds() - cpu;
        let mb = |bytes: usize| bytes / (1 << 20);
        let (rss, hwm) = rss_mb();
        println!(
            "{name:<14} {cpu:7.2} {:>9} {:>9} {rss:>8} {hwm:>9}",
            mb(LIVE.load(Relaxed)),
            mb(PEAK.load(Relaxed))
        );
        value
    }

    pub fn run(dir: &Path, out: bool) {
        COUNTING.store(true, Relaxed);
        println!("stage          cpu_s   heap_mb  peak_mb   rss_mb  hwm_mb");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let config = stage("load config", || {
            m365ctl::input::load(dir).expect("config loads")
        });
        let m365ctl::desired::connection::BackendConfig::Snapshot { path } = &config.backend else {
            panic!("--stages measures a snapshot config");
        };
        let backend = SnapshotBackend::new(path);
        let mut live = stage("read snapshot", || {
            runtime.block_on(backend.read()).expect("snapshot reads")
        });
        // As `compute_plan` does: nothing after resolve reads the `[users]` entries.
        let mut config = config;
        let desired = stage("resolve", || {
            m365ctl::desired::resolve_taking_users(&mut config, &live)
                .expect("resolves")
                .0
        });
        stage("facts", || {
            runtime
                .block_on(m365ctl::backend::read_needed_facts(
                    &backend, &desired, &mut live,
                ))
                .expect("facts")
        });
        let plan = stage("plan", || m365ctl::plan::plan(&desired, &live));
        stage("drop desired", || drop(desired));
        stage("render human", || {
            m365ctl::render::human::render(
                &plan,
                m365ctl::render::human::HumanOptions {
                    color: false,
                    wording: m365ctl::render::Wording::Plan,
                },
            )
            .len()
        });
        if out {
            stage("plan file", || {
                let doc = m365ctl::planfile::PlanFile::from_plan(&plan).with_live_digest(&live);
                let file = tempfile::NamedTempFile::new().expect("temp file");
                m365ctl::backend::snapshot::write_plan_file(file.path(), &doc)
                    .expect("plan file written");
            });
        }
        println!("operations: {}", plan.operations.len());
    }
}
