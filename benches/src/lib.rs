//! `gort-bench`: the benchmark harness that measures gort against its peers.
//!
//! Run it with `cargo bench -p gort-bench --bench versus` (flags after `--`:
//! `--quick`, `--filter NAME`, `--runs N`, `--run-ms MS`, `--list`, `--help`).
//!
//! The harness is split so that new contenders and workloads plug in:
//!
//! - [`contender`]: the small [`Contender`](contender::Contender) trait that
//!   each runtime implements (`block_on`, `spawn`, `spawn_remote`,
//!   `yield_now`), and [`AnyContender`](contender::AnyContender), the closed
//!   set of runtimes a run compares.
//! - [`workload`]: the registry of workloads; most are written once, generic
//!   over [`Contender`](contender::Contender).
//! - [`suite`]: comparison suites, whose columns are implementations rather
//!   than runtimes: Go's channel benchmarks on gort's channels against Go
//!   ([`workload::go_chan`]), and the channel suite against flume,
//!   async-channel, kanal, tokio's mpsc, crossbeam-channel and std's mpsc
//!   ([`workload::channel`], written once over a `ChannelImpl` trait).
//! - [`runner`]: builds nothing itself; runs each workload on every contender
//!   (or implementation), warm-up first, then interleaved (A B A B ...),
//!   with a watchdog.
//! - [`stats`]: median, min, max, ratio.
//! - [`report`]: formats the results tables (runtime columns with a
//!   gort/tokio ratio; implementation columns with the best marked).
//! - [`gobench`]: Go's column: builds `benches/go` with `go test -c` and
//!   parses its `ns/op` lines (optional: skipped when `go` is missing).
//! - [`counting_alloc`]: the counting global allocator behind the
//!   allocation workload (installed by the bench binary).
//! - [`cli`] and [`machine`]: command-line flags and the machine line.
//! - [`results`]: the run as JSON and an SVG chart of the ratios, under
//!   `target/gort-bench/`.

#![warn(missing_docs)]

pub mod cli;
pub mod contender;
pub mod counting_alloc;
pub mod gobench;
pub mod machine;
pub mod markdown;
pub mod report;
pub mod results;
pub mod runner;
pub mod stats;
pub mod suite;
pub mod workload;
