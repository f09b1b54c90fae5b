//! Command-line flags of the `versus` bench binary.

use std::time::Duration;

/// Runs per contender and workload by default.
pub const DEFAULT_RUNS: usize = 15;
/// Runs per contender and workload under `--quick`.
pub const QUICK_RUNS: usize = 3;
/// Default wanted length of one timed run, in milliseconds (`--quick`: 0,
/// i.e. one iteration per run).
pub const DEFAULT_RUN_MS: u64 = 50;

/// Usage text for `--help` and errors.
pub const USAGE: &str = "\
usage: cargo bench -p gort-bench --bench versus [-- FLAGS]

flags:
  --quick         few runs (3) and smaller sizes: a smoke test, well under a minute
  --runs N        measured runs per contender and workload (default 15, quick 3)
  --run-ms MS     repeat a workload back to back within one run until the run
                  lasts about MS milliseconds, keep the mean (default 50, quick 0 = once)
  --filter NAME   only workloads whose name contains NAME (or any of NAME,NAME2,...;
                  a part written =NAME matches that whole name only);
                  `--filter chan` runs the channel suites (chan/go/*, chan/*, chan/blocking/*)
  --list          list the workloads and exit
  --help          print this and exit

without --bench (which `cargo bench` passes), e.g. under `cargo test --benches`,
the binary runs in test mode: --quick with 1 run, as a smoke test.";

/// Parsed flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// No `--bench` flag: not run by `cargo bench`; implies `--quick` and 1 run.
    pub test_mode: bool,
    /// `--quick`: few runs, smaller sizes.
    pub quick: bool,
    /// Measured runs per contender and workload.
    pub runs: usize,
    /// `--run-ms MS`: wanted length of one timed run (see `runner::Config::run_target`).
    pub run_target: Duration,
    /// `--filter NAME`: substring of the workload names to run.
    pub filter: Option<String>,
    /// `--list`: print the workloads and exit.
    pub list: bool,
    /// `--help`: print usage and exit.
    pub help: bool,
}

/// Parses the flags (without the program name).
///
/// `cargo bench` passes `--bench` to every bench binary. Without it (run by
/// `cargo test --benches` / `--all-targets`, or by hand) the binary is in
/// test mode, as criterion does: `--quick` with 1 run unless flags say otherwise.
///
/// ```
/// let o = gort_bench::cli::parse(["--bench", "--quick", "--filter", "spawn"].map(String::from)).unwrap();
/// assert!(o.quick);
/// assert_eq!(o.runs, 3);
/// assert_eq!(o.filter.as_deref(), Some("spawn"));
/// ```
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut quick = false;
    let mut runs = None;
    let mut run_ms = None;
    let mut filter = None;
    let mut list = false;
    let mut help = false;
    let mut bench = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--list" => list = true,
            "--help" | "-h" => help = true,
            "--bench" => bench = true,
            "--runs" => {
                let v = args.next().ok_or("--runs needs a number")?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("--runs needs a positive number, got {v:?}"))?;
                if n == 0 {
                    return Err("--runs needs a positive number, got 0".into());
                }
                runs = Some(n);
            }
            "--run-ms" => {
                let v = args
                    .next()
                    .ok_or("--run-ms needs a number of milliseconds")?;
                let ms: u64 = v
                    .parse()
                    .map_err(|_| format!("--run-ms needs a number of milliseconds, got {v:?}"))?;
                run_ms = Some(ms);
            }
            "--filter" => {
                filter = Some(args.next().ok_or("--filter needs a workload name")?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let test_mode = !bench;
    let quick = quick || test_mode;
    if test_mode && runs.is_none() {
        runs = Some(1);
    }
    Ok(Options {
        test_mode,
        quick,
        runs: runs.unwrap_or(if quick { QUICK_RUNS } else { DEFAULT_RUNS }),
        run_target: Duration::from_millis(run_ms.unwrap_or(if quick { 0 } else { DEFAULT_RUN_MS })),
        filter,
        list,
        help,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses as `cargo bench` calls it: `--bench` first.
    fn p(args: &[&str]) -> Result<Options, String> {
        parse(
            std::iter::once("--bench")
                .chain(args.iter().copied())
                .map(String::from),
        )
    }

    #[test]
    fn defaults() {
        let o = p(&[]).unwrap();
        assert_eq!(
            o,
            Options {
                test_mode: false,
                quick: false,
                runs: DEFAULT_RUNS,
                run_target: Duration::from_millis(DEFAULT_RUN_MS),
                filter: None,
                list: false,
                help: false
            }
        );
        // `--bench` may come anywhere, also twice.
        assert_eq!(p(&["--bench"]).unwrap(), o);
    }

    #[test]
    fn without_bench_flag_is_test_mode() {
        let o = parse(Vec::new()).unwrap();
        assert!(o.test_mode && o.quick);
        assert_eq!(o.runs, 1);
        assert_eq!(o.run_target, Duration::ZERO);
        let o = parse(["--runs", "2"].map(String::from)).unwrap();
        assert!(o.test_mode && o.quick);
        assert_eq!(o.runs, 2);
    }

    #[test]
    fn quick_runs_and_filter() {
        let o = p(&["--quick"]).unwrap();
        assert!(o.quick);
        assert_eq!(o.runs, QUICK_RUNS);
        assert_eq!(o.run_target, Duration::ZERO);
        assert_eq!(
            p(&["--run-ms", "20"]).unwrap().run_target,
            Duration::from_millis(20)
        );
        let o = p(&["--quick", "--runs", "7", "--filter", "ping"]).unwrap();
        assert_eq!(o.runs, 7);
        assert_eq!(o.filter.as_deref(), Some("ping"));
    }

    #[test]
    fn errors() {
        assert!(p(&["--runs"]).is_err());
        assert!(p(&["--runs", "0"]).is_err());
        assert!(p(&["--runs", "x"]).is_err());
        assert!(p(&["--filter"]).is_err());
        assert!(p(&["--run-ms", "-1"]).is_err());
        assert!(p(&["--fast"]).is_err());
    }
}
