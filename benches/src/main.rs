//! `versus`: gort against tokio on tokio's scheduler benchmarks, and gort's
//! channels against Go's and the Rust channel crates (`--filter chan`).
//!
//! `cargo bench -p gort-bench --bench versus [-- --quick] [--filter NAME] [--runs N]`
//!
//! The tables go to stdout, progress to stderr. Exit codes: 0 done,
//! 1 a wrong result or a runtime that failed to build, 2 bad flags,
//! 3 a run that hung (watchdog).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use gort_bench::cli::{self, USAGE};
use gort_bench::contender::AnyContender;
use gort_bench::counting_alloc::CountingAlloc;
use gort_bench::gobench::{self, GoBench, GoSetup};
use gort_bench::report::Table;
use gort_bench::results::{self, Results, Section};
use gort_bench::runner::{self, Config, Progress, Watchdog};
use gort_bench::suite::{self, Env, Suite};
use gort_bench::workload::{self, go_chan, Params};

/// Counts allocations per thread for `alloc_per_empty_task`; otherwise `System`.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Worker threads of every runtime.
const WORKERS: usize = 2;
/// Pause between runs (see [`Config::settle`]).
const SETTLE: Duration = Duration::from_millis(5);
/// A single run taking longer than this is taken for a hang.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
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
    let filter = opts.filter.as_deref();
    let workloads = workload::select(workload::registry(), filter);
    let suites: Vec<Suite> = suite::suites()
        .into_iter()
        .map(|s| s.select(filter))
        .filter(|s| !s.rows.is_empty())
        .collect();
    let nothing = workloads.is_empty() && suites.is_empty();
    if opts.list || nothing {
        if nothing {
            eprintln!(
                "error: no workload name contains {:?}; the workloads are:",
                filter.unwrap_or_default()
            );
        }
        for w in workload::registry() {
            println!("{:<28} {}", w.name, w.description);
        }
        for s in suite::suites() {
            for row in &s.rows {
                println!("{:<28} {}", row.name, row.description);
            }
        }
        return if nothing {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }

    let names = AnyContender::NAMES;
    let order = format!("{} {} ...", names.join(" "), names.join(" "));
    let sizes = if opts.quick {
        "--quick sizes (smaller; not comparable with a full run)"
    } else {
        "full sizes"
    };
    let per_run = if opts.run_target.is_zero() {
        "one iteration per run".to_string()
    } else {
        format!(
            "a timed run repeats the workload back to back for ~{} ms (same count on every \
             runtime) and keeps the mean",
            opts.run_target.as_millis()
        )
    };
    let method = format!(
        "{} built once each with {WORKERS} worker threads; per workload 1 warm-up run \
         each, then {} runs each interleaved ({order}); {per_run}; median (min–max) of the runs; \
         {sizes}",
        names.join(", "),
        opts.runs,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut results = Results {
        machine: gort_bench::machine::describe(),
        date: results::utc_date(now),
        args: std::env::args().skip(1).collect(),
        method: method.clone(),
        sections: Vec::new(),
    };
    println!("# gort-bench versus");
    println!("{}", results.machine);
    println!("date: {} (UTC)", results.date);
    println!("method: {method}");
    println!();

    let mut contenders = Vec::new();
    for name in names {
        match AnyContender::build(name, WORKERS) {
            Ok(rt) => contenders.push(rt),
            Err(e) => {
                eprintln!("error: building the {name} runtime failed: {e}");
                return ExitCode::FAILURE;
            }
        }
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
    let wants_go = workloads.iter().any(|w| w.go.is_some())
        || suites.iter().any(|s| s.column(go_chan::GO).is_some());
    let go = if wants_go { setup_go() } else { None };
    let watchdog = Watchdog::start(RUN_LIMIT);
    let started = Instant::now();
    let mut progress =
        Progress::new(workloads.len() + suites.iter().map(|s| s.rows.len()).sum::<usize>());
    let mut rows = Vec::new();
    for w in &workloads {
        progress.start(w.name);
        match runner::run_workload(w, &contenders, go.as_ref(), &cfg, &watchdog) {
            Ok(row) => rows.push(row),
            Err(e) => return wrong_result(&e),
        }
    }

    if !rows.is_empty() {
        let position = |n: &str| names.iter().position(|c| *c == n).expect("named contender");
        let mut columns: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        if go.is_some() {
            columns.push(go_chan::GO.to_string());
        }
        let table = Table {
            contenders: columns,
            subject: position(AnyContender::SUBJECT),
            baseline: position(AnyContender::BASELINE),
            rows,
        };
        print!("{}", table.render());
        let mut notes = vec![format!(
            "ratio = {} median / {} median (lower is better); goal = the issues' floor, {} <= {:.2}x {} \
             (the fastest column is the aim); `{0} vs best` = {0}'s median / the lowest other \
             median of the row. alloc_* rows are in bytes per task, not time.",
            AnyContender::SUBJECT,
            AnyContender::BASELINE,
            AnyContender::SUBJECT,
            workload::FLOOR,
            AnyContender::BASELINE,
        )];
        notes.push(format!(
            "- gort: `gort::runtime::Builder::new().worker_threads({WORKERS})`; tokio: \
             `new_multi_thread().worker_threads({WORKERS}).enable_all()`; smol: one \
             `async_executor::Executor` run by {WORKERS} threads under `async_io::block_on` \
             (smol's multi-threaded setup), async-io timers and sockets (the servers of the tcp rows accept in \
             `block_on` on the main thread on every runtime; async-io's also turns its reactor there \
             when idle)."
        ));
        if let Some(go) = &go {
            notes.push(format!(
                "- Go ({}): benches/go/runtime_test.go, GOMAXPROCS {WORKERS}, one process per run \
                 (b.N = max(the run's iterations, 2), after Go's own b.N = 1 run, whose result is \
                 discarded); its TCP server is TestEchoServer there.",
                go.version()
            ));
        }
        println!();
        for line in &notes {
            println!("{line}");
        }
        results
            .sections
            .push(Section::from_table(&runtimes_title(&table), &table).with_notes(notes));
    }

    let env = match Env::new(&contenders, go.as_ref()) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for mut s in suites {
        if go.is_none() {
            if let Some(i) = s.column(go_chan::GO) {
                s.remove_column(i);
            }
        }
        let table = match s.run(&env, &cfg, &watchdog, &mut progress) {
            Ok(table) => table,
            Err(e) => return wrong_result(&e),
        };
        let mut notes = s.about.clone();
        if let Some(go) = &go {
            if s.column(go_chan::GO).is_some() {
                notes.push(format!("Go: {}.", go.version()));
            }
        }
        println!();
        println!("## {}", s.title);
        println!();
        for line in &notes {
            println!("{line}");
        }
        println!();
        print!("{}", table.render());
        println!();
        let legend = s.legend();
        for line in &legend {
            println!("{line}");
        }
        notes.push(String::new());
        notes.extend(legend);
        results
            .sections
            .push(Section::from_compare(&s.title, &table).with_notes(notes));
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    match results.write(&results::output_dir()) {
        Ok((json, svg)) => {
            println!();
            println!("results: {} and {}", json.display(), svg.display());
            println!(
                "BENCHMARKS.md from them: cargo run --release -p gort-bench --bin gort-bench-md"
            );
        }
        Err(e) => eprintln!("warning: writing the results under target/gort-bench failed: {e}"),
    }

    drop(contenders);
    ExitCode::SUCCESS
}

/// The runtime table's title: `runtimes: gort vs tokio, smol and Go`.
fn runtimes_title(table: &Table) -> String {
    let subject = &table.contenders[table.subject];
    let others: Vec<&str> = table
        .contenders
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != table.subject)
        .map(|(_, c)| c.as_str())
        .collect();
    let others = match others.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => String::new(),
    };
    format!("runtimes: {subject} vs {others}")
}

/// Ends the run on a wrong result: no table is printed for it.
fn wrong_result(e: &str) -> ExitCode {
    eprintln!("error: {e}");
    eprintln!("aborted: a wrong result is not a measurement; no table printed");
    ExitCode::FAILURE
}

/// Builds Go's benchmarks. Without `go` (or when it fails to build the
/// package), prints one line and returns `None`: the column is left out,
/// the run goes on.
fn setup_go() -> Option<GoBench> {
    match GoBench::setup() {
        GoSetup::Ready(go) => {
            eprintln!(
                "Go: built {} with {}",
                gobench::source_dir().display(),
                go.version()
            );
            Some(go)
        }
        GoSetup::NotFound => {
            println!();
            println!("{}", gobench::NOT_FOUND);
            None
        }
        GoSetup::Failed(e) => {
            eprintln!("{e}");
            println!();
            println!(
                "go is installed but building benches/go failed (message on stderr): \
                 Go's column is left out"
            );
            None
        }
    }
}
