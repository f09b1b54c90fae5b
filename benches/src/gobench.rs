//! Go's column: builds `benches/go` (Go's own channel benchmarks, see
//! `benches/go/chan_test.go`, and the seed's table, `seed_test.go`) with
//! `go test -c` once per process and runs one benchmark per measured run
//! with a fixed `b.N`, parsing the `ns/op` line (or one test, for the
//! memory row, parsing what it prints).
//!
//! Go is optional: without `go` on `PATH` the harness prints [`NOT_FOUND`]
//! once and leaves the column out.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::stats::Measurement;

/// The name of Go's column in every table that has one.
pub const GO: &str = "Go";

/// The one line printed when `go` is not on `PATH`.
pub const NOT_FOUND: &str =
    "go not found: install Debian's golang-go (apt-get install golang-go) to add Go's column";

/// The Go package with the benchmarks (`benches/go`).
pub fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("go")
}

/// A built Go test binary of [`source_dir`], ready to run benchmarks.
/// Dropping it removes the binary.
#[derive(Debug)]
pub struct GoBench {
    dir: PathBuf,
    binary: PathBuf,
    version: String,
}

/// What [`GoBench::setup`] found.
#[derive(Debug)]
pub enum GoSetup {
    /// `go` is there and the package built.
    Ready(GoBench),
    /// No `go` on `PATH`.
    NotFound,
    /// `go` is there but `go version` or `go test -c` failed.
    Failed(String),
}

impl GoBench {
    /// Finds `go`, asks its version and builds the test binary into a
    /// fresh directory under the system temp directory.
    pub fn setup() -> GoSetup {
        let version = match Command::new("go").arg("version").output() {
            Err(e) if e.kind() == ErrorKind::NotFound => return GoSetup::NotFound,
            Err(e) => return GoSetup::Failed(format!("go version: {e}")),
            Ok(out) if !out.status.success() => {
                return GoSetup::Failed(format!(
                    "go version: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
            Ok(out) => parse_version(&String::from_utf8_lossy(&out.stdout))
                .unwrap_or_else(|| "go (unknown version)".to_string()),
        };
        static BUILDS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gort-bench-go-{}-{}",
            std::process::id(),
            BUILDS.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return GoSetup::Failed(format!("creating {}: {e}", dir.display()));
        }
        let binary = dir.join("gortbench.test");
        let bench = GoBench {
            dir,
            binary,
            version,
        };
        let built = Command::new("go")
            .args(["test", "-c", "-o"])
            .arg(&bench.binary)
            .current_dir(source_dir())
            .output();
        match built {
            Err(e) => GoSetup::Failed(format!("go test -c: {e}")),
            Ok(out) if !out.status.success() => GoSetup::Failed(format!(
                "go test -c in {}: {}",
                source_dir().display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Ok(_) => GoSetup::Ready(bench),
        }
    }

    /// Builds Go's benchmarks. Without `go` (or when it fails to build the
    /// package), prints one line and returns `None`: the column is left out,
    /// the run goes on.
    pub fn setup_or_leave_out() -> Option<GoBench> {
        match GoBench::setup() {
            GoSetup::Ready(go) => {
                let dir = source_dir();
                eprintln!("Go: built {} with {}", dir.display(), go.version());
                Some(go)
            }
            GoSetup::NotFound => {
                println!("\n{}", NOT_FOUND);
                None
            }
            GoSetup::Failed(e) => {
                eprintln!("{e}");
                println!(
                    "\ngo is installed but building benches/go failed (message on stderr): \
                     Go's column is left out"
                );
                None
            }
        }
    }

    /// Go's version as `go version` says it, e.g. `go1.19.8`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The command that starts Go's echo server (`TestEchoServer` in
    /// `benches/go/runtime_test.go`) with `procs` Ps: on TCP, where it
    /// prints `port=<port>`, or with `unix` on a Unix socket at that path,
    /// where it prints `path=<path>`; it serves until its stdin closes.
    pub fn echo_server(&self, procs: usize, unix: Option<&std::path::Path>) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(["-test.count", "1", "-test.run", "^TestEchoServer$"])
            .env("GORT_BENCH_ECHO_SERVER", "1")
            .env("GOMAXPROCS", procs.to_string())
            .current_dir(source_dir());
        if let Some(path) = unix {
            cmd.env("GORT_BENCH_ECHO_UNIX", path);
        }
        cmd
    }

    /// Runs the test `Test<name>` alone (verbose) with the environment
    /// `env` and returns what it printed. A failing test is an error.
    pub fn run_test(&self, name: &str, env: &[(&str, String)]) -> Result<String, String> {
        let out = Command::new(&self.binary)
            .args(["-test.v", "-test.count", "1", "-test.run"])
            .arg(format!("^Test{name}$"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(source_dir())
            .output()
            .map_err(|e| format!("Go Test{name}: running {}: {e}", self.binary.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "Go Test{name} failed ({}):\n{}{}",
                out.status,
                stdout.trim_end(),
                String::from_utf8_lossy(&out.stderr).trim_end()
            ));
        }
        Ok(stdout)
    }

    /// Runs `Benchmark<name>` once with `b.N = ops` and GOMAXPROCS `procs`
    /// (`-test.benchtime <ops>x -test.cpu <procs>`). The benchmark checks
    /// what it received and fails the binary when it is wrong.
    pub fn run(&self, name: &str, ops: u64, procs: usize) -> Result<Measurement, String> {
        self.run_with(name, ops, procs, &[])
    }

    /// [`GoBench::run`] with extra flags for the test binary (the
    /// package's own, such as `-gort.quick`).
    pub fn run_with(
        &self,
        name: &str,
        ops: u64,
        procs: usize,
        flags: &[&str],
    ) -> Result<Measurement, String> {
        let out = Command::new(&self.binary)
            .args([
                "-test.run",
                "^$",
                "-test.count",
                "1",
                "-test.benchmem=false",
            ])
            .arg("-test.bench")
            .arg(format!("^Benchmark{name}$"))
            .arg("-test.benchtime")
            .arg(format!("{ops}x"))
            .arg("-test.cpu")
            .arg(procs.to_string())
            .args(flags)
            .current_dir(source_dir())
            .output()
            .map_err(|e| format!("Go {name}: running {}: {e}", self.binary.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "Go {name} failed ({}):\n{}{}",
                out.status,
                stdout.trim_end(),
                String::from_utf8_lossy(&out.stderr).trim_end()
            ));
        }
        let result = parse_results(&stdout)
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| format!("Go {name}: no ns/op line in its output:\n{stdout}"))?;
        if result.iterations != ops {
            return Err(format!(
                "Go {name}: ran b.N = {}, asked for {ops}",
                result.iterations
            ));
        }
        Ok(Measurement::PerOp {
            elapsed: Duration::from_secs_f64(result.ns_per_op * ops as f64 / 1e9),
            ops,
        })
    }
}

impl Drop for GoBench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `go1.19.8` from `go version go1.19.8 linux/amd64`.
pub fn parse_version(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with("go1") || w.starts_with("devel"))
        .map(str::to_string)
}

/// One `ns/op` line of `go test -bench` output.
#[derive(Debug, Clone, PartialEq)]
pub struct GoResult {
    /// Benchmark name without `Benchmark` and without the `-N` GOMAXPROCS suffix.
    pub name: String,
    /// GOMAXPROCS of the run (the `-N` suffix; 1 when there is none).
    pub procs: usize,
    /// `b.N` of the reported run.
    pub iterations: u64,
    /// Nanoseconds per operation.
    pub ns_per_op: f64,
}

/// Every benchmark result line (`BenchmarkName-2  1000000  104.5 ns/op ...`)
/// in `go test -bench` output; other lines are skipped.
///
/// ```
/// let r = gort_bench::gobench::parse_results("BenchmarkChanSync-2   \t 100000\t  106.7 ns/op\nPASS\n");
/// assert_eq!(r[0].name, "ChanSync");
/// assert_eq!((r[0].procs, r[0].iterations, r[0].ns_per_op), (2, 100000, 106.7));
/// ```
pub fn parse_results(text: &str) -> Vec<GoResult> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<GoResult> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let full = fields.first()?.strip_prefix("Benchmark")?;
    let unit = fields.iter().position(|f| *f == "ns/op")?;
    if unit < 3 {
        return None;
    }
    let ns_per_op: f64 = fields[unit - 1].parse().ok()?;
    let iterations: u64 = fields[1].parse().ok()?;
    let (name, procs) = match full.rsplit_once('-') {
        Some((name, n)) if !name.is_empty() && n.parse::<usize>().is_ok() => {
            (name, n.parse().ok()?)
        }
        _ => (full, 1),
    };
    Some(GoResult {
        name: name.to_string(),
        procs,
        iterations,
        ns_per_op,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "goos: linux
goarch: amd64
pkg: gortbench
cpu: AMD EPYC
BenchmarkChanSync-2          	  100000	       106.7 ns/op
BenchmarkChanProdCons0-2     	  100000	       127.7 ns/op
BenchmarkChanUncontended-2   	  100000	      1556 ns/op	       0 B/op	       0 allocs/op
BenchmarkChanContended       	   20000	      3442 ns/op
--- FAIL: BenchmarkOther-2
PASS
ok  	gortbench	0.539s
";

    #[test]
    fn parses_ns_per_op_lines_and_skips_others() {
        let r = parse_results(OUTPUT);
        assert_eq!(r.len(), 4, "{r:?}");
        assert_eq!(
            r[0],
            GoResult {
                name: "ChanSync".into(),
                procs: 2,
                iterations: 100_000,
                ns_per_op: 106.7
            }
        );
        assert_eq!(r[1].name, "ChanProdCons0");
        assert_eq!(r[2].name, "ChanUncontended");
        assert_eq!(r[2].ns_per_op, 1556.0);
        assert_eq!((r[3].name.as_str(), r[3].procs), ("ChanContended", 1));
        assert_eq!(r[3].iterations, 20_000);
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(parse_results("BenchmarkX-2 abc 12 ns/op").is_empty());
        assert!(parse_results("BenchmarkX-2 100 twelve ns/op").is_empty());
        assert!(parse_results("Benchmark 100 ns/op").is_empty());
        assert!(parse_results("ChanSync-2 100 12 ns/op").is_empty());
    }

    #[test]
    fn version_word() {
        assert_eq!(
            parse_version("go version go1.19.8 linux/amd64\n").as_deref(),
            Some("go1.19.8")
        );
        assert_eq!(parse_version("nonsense"), None);
    }

    /// With `go` installed, the real package builds and one benchmark runs
    /// with the asked `b.N`; without it, setup says so (nothing to check).
    #[test]
    fn runs_a_real_benchmark_when_go_is_installed() {
        match GoBench::setup() {
            GoSetup::NotFound => eprintln!("{NOT_FOUND} (test skipped)"),
            GoSetup::Failed(e) => panic!("go is installed but the package failed: {e}"),
            GoSetup::Ready(go) => {
                let m = go.run("ChanProdCons100", 2_000, 2).unwrap();
                assert!(matches!(m, Measurement::PerOp { ops: 2_000, .. }), "{m:?}");
                assert!(m.value() > 0.0);
                assert!(go.run("NoSuchBenchmark", 1_000, 2).is_err());
            }
        }
    }
}
