//! `versus`: gort against tokio, smol and Go on tokio's scheduler
//! benchmarks, and gort's channels against Go's and the Rust channel crates
//! (`--filter chan`): every suite of [`workload::suites`], measured.
//!
//! `cargo bench -p gort-bench --bench versus [-- --quick] [--filter NAME] [--runs N]`
//!
//! The tables go to stdout, progress to stderr. Exit codes: 0 done,
//! 1 a wrong result or a runtime that failed to build, 2 bad flags,
//! 3 a run that hung (watchdog).

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use gort_bench::cli::{self, USAGE};
use gort_bench::contender::{Params, WORKERS};
use gort_bench::counting_alloc::CountingAlloc;
use gort_bench::gobench::{GoBench, GO};
use gort_bench::report;
use gort_bench::results::{self, Results};
use gort_bench::runner::{self, Config, Progress, Watchdog};
use gort_bench::suite::{Env, Suite};
use gort_bench::workload;

/// Counts allocations per thread for `alloc_per_empty_task`; otherwise `System`.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Pause between runs (see [`Config::settle`]).
const SETTLE: Duration = Duration::from_millis(5);
/// A single run taking longer than this is taken for a hang (a scale point
/// of 10,000,000 timers took up to 70 s on this machine under load).
const RUN_LIMIT: Duration = Duration::from_secs(180);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        // One run of a fresh-process cell (`gort_bench::suite::fresh`).
        return match workload::child(&args[1..]) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = match cli::parse(args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if opts.help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if opts.test_mode {
        eprintln!(
            "test mode (no --bench flag, e.g. `cargo test --benches`): quick sizes, {} run(s); \
             use `cargo bench -p gort-bench --bench versus` to measure",
            opts.runs
        );
    }
    // Before the suites are made: the C10K points fit the limit there is.
    if let Err(e) = workload::scale::raise_fd_limit() {
        eprintln!("warning: {e}");
    }
    let filter = opts.filter.as_deref();
    let mut suites: Vec<Suite> = workload::suites(opts.quick)
        .into_iter()
        .map(|s| s.select(filter))
        .filter(|s| !s.rows.is_empty())
        .collect();
    if opts.list || suites.is_empty() {
        if suites.is_empty() {
            eprintln!(
                "error: no workload name contains {:?}; the workloads are:",
                filter.unwrap_or_default()
            );
        }
        for row in workload::suites(opts.quick).iter().flat_map(|s| &s.rows) {
            println!("{:<28} {}", row.name, row.description);
        }
        return ExitCode::from(if suites.is_empty() { 2 } else { 0 });
    }

    let mut results = Results {
        machine: gort_bench::machine::describe(),
        date: humantime::format_rfc3339_seconds(SystemTime::now()).to_string()[..10].to_string(),
        args: std::env::args().skip(1).collect(),
        method: report::method(&opts),
        tables: Vec::new(),
    };
    println!("# gort-bench versus");
    println!("{}", results.machine);
    println!("date: {} (UTC)", results.date);
    println!("method: {}", results.method);

    let mut env = match Env::build(WORKERS) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if suites.iter().any(|s| s.uses(GO)) {
        env.go = GoBench::setup_or_leave_out();
    }
    let cfg = Config {
        runs: opts.runs,
        params: Params {
            workers: WORKERS,
            quick: opts.quick,
        },
        settle: SETTLE,
        run_target: opts.run_target,
    };
    let watchdog = Watchdog::start(RUN_LIMIT);
    let started = Instant::now();
    let mut progress = Progress::new(suites.iter().map(|s| s.rows.len()).sum());
    for s in &mut suites {
        if env.go.is_none() {
            s.remove_column(GO);
        }
        let mut table = match runner::run_suite(s, &env, &cfg, &watchdog, &mut progress) {
            Ok(table) => table,
            Err(e) => {
                eprintln!("error: {e}");
                eprintln!("aborted: a wrong result is not a measurement; no table printed");
                return ExitCode::FAILURE;
            }
        };
        table.notes = s.about.clone();
        if let (Some(go), Some(_)) = (&env.go, s.column(GO)) {
            table.notes.push(format!("Go: {}.", go.version()));
        }
        println!("\n## {}\n", table.title);
        for line in &table.notes {
            println!("{line}");
        }
        println!("\n{}", report::render(&table));
        let legend = s.legend();
        for line in &legend {
            println!("{line}");
        }
        table.notes.push(String::new());
        table.notes.extend(legend);
        results.tables.push(table);
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    let dir = results::output_dir();
    let (json, svg) = (dir.join("results.json"), dir.join("ratios.svg"));
    let curves = report::scale_svgs(&results);
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&json, results.to_json()))
        .and_then(|()| std::fs::write(&svg, report::svg(&results)))
        .and_then(|()| {
            curves.iter().try_for_each(|(curve, chart)| {
                std::fs::write(dir.join(format!("scale-{curve}.svg")), chart)
            })
        });
    match written {
        Ok(()) => {
            println!("\nresults: {} and {}", json.display(), svg.display());
            if !curves.is_empty() {
                println!("scale curves: {}", dir.join("scale-<curve>.svg").display());
            }
            println!(
                "BENCHMARKS.md from them: cargo run --release -p gort-bench --bin gort-bench-md"
            );
        }
        Err(e) => eprintln!(
            "warning: writing the results under {} failed: {e}",
            dir.display()
        ),
    }
    ExitCode::SUCCESS
}
