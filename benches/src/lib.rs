//! `gort-bench`: the benchmark harness that measures gort against its peers.
//!
//! Run it with `cargo bench -p gort-bench --bench versus` (flags after `--`:
//! `--quick`, `--filter NAME`, `--runs N`, `--run-ms MS`, `--list`, `--help`).
//!
//! Modules, each depending only on those listed before it:
//!
//! - [`stats`]: units, measurements, median/min/max, ratio.
//! - [`cli`], [`machine`], [`counting_alloc`]: flags, the machine line, the
//!   counting global allocator behind the allocation rows.
//! - [`contender`]: the small [`Contender`](contender::Contender) trait
//!   each runtime implements (gort, tokio, smol), and the run's parameters.
//! - [`gobench`]: Go's column: builds `benches/go` with `go test -c` and
//!   parses its `ns/op` lines (optional: skipped when `go` is missing).
//! - [`results`]: the one table type, [`Table`](results::Table), and the
//!   run as data, written to and read from `target/gort-bench/results.json`.
//! - [`suite`]: what the registry is made of: suites of workloads with a
//!   cell per column, and the [`Env`](suite::Env) the cells run on.
//! - [`workload`]: the registry ([`workload::suites`]) and the workloads.
//! - [`report`]: a table as aligned Markdown, the method line, the ratios
//!   as an SVG chart.
//! - [`runner`]: measures a suite into a table: warm-up, then interleaved
//!   runs (A B A B ...), under a watchdog.
//! - [`markdown`]: the generated part of BENCHMARKS.md.

#![warn(missing_docs)]

pub mod stats;

pub mod cli;
pub mod counting_alloc;
pub mod machine;

pub mod contender;
pub mod gobench;
pub mod results;
pub mod suite;
pub mod workload;

pub mod markdown;
pub mod report;
pub mod runner;
