//! TCP echo over loopback (the reactor issue): a server process on gort,
//! tokio or smol (same worker count, same echo loop; Go's is
//! `TestEchoServer` in `benches/go/runtime_test.go`, GOMAXPROCS = workers)
//! and one client process on `mio` that is none of them, both from the
//! `gort-bench-net` binary (`benches/src/bin/net.rs`). 100 connections,
//! 64-byte messages.
//!
//! - `tcp_echo_throughput`: each connection sends its next message when
//!   the last came back; ns per message over the whole run (messages/s =
//!   1e9 / that).
//! - `tcp_echo_p99_saturated`: the 99th percentile latency of such a run
//!   (every connection always has a message in flight).
//! - `tcp_echo_p50_at_20k`, `tcp_echo_p99_at_20k`: 20,000 messages/s in
//!   all, due at fixed times; the latency of each counts from its due time.
//! - `unix_echo_throughput`, `unix_echo_p99_saturated`: the first two over
//!   a Unix stream socket (a fresh path under the temp dir per run, which
//!   the harness removes afterwards); Go's server is `TestEchoServer` too,
//!   listening on `unix`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::contender::{Contender, Gort, Params, Smol, Tokio};
use crate::gobench::{GoBench, GO};
use crate::stats::{Measurement, Unit};
use crate::suite::{cell, Cell, Workload};

/// Connections of every echo run.
pub const CONNS: usize = 100;
/// The fixed rate of the latency rows, messages per second in all.
pub const RATE: usize = 20_000;

/// The `gort-bench-net` binary, next to the running executable's
/// directory (`target/<profile>/`); cargo builds it with the bench.
pub fn net_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let name = format!("gort-bench-net{}", std::env::consts::EXE_SUFFIX);
    let candidates = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|d| d.join(&name))
        .collect::<Vec<_>>();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "{name} not found next to {}: build it with `cargo build --release -p gort-bench --bin gort-bench-net` (cargo bench builds it)",
                exe.display()
            )
        })
}

/// Kills the server when dropped (closing its stdin ends it; kill is the
/// fallback).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one client run printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoResult {
    /// Messages completed in the measured window.
    pub msgs: u64,
    /// Length of the measured window.
    pub secs: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
}

/// Parses the client's `msgs=.. secs=.. p50_us=.. p99_us=..` line.
pub fn parse_client_line(line: &str) -> Result<EchoResult, String> {
    let mut r = EchoResult {
        msgs: 0,
        secs: f64::NAN,
        p50_us: f64::NAN,
        p99_us: f64::NAN,
    };
    let mut seen = 0;
    for part in line.split_whitespace() {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("bad client output {line:?}"))?;
        let bad = |_| format!("bad {k} in client output {line:?}");
        match k {
            "msgs" => r.msgs = v.parse().map_err(|_| format!("bad msgs in {line:?}"))?,
            "secs" => r.secs = v.parse().map_err(bad)?,
            "p50_us" => r.p50_us = v.parse().map_err(bad)?,
            "p99_us" => r.p99_us = v.parse().map_err(bad)?,
            _ => return Err(format!("unknown field {k:?} in client output {line:?}")),
        }
        seen += 1;
    }
    if seen != 4 {
        return Err(format!("incomplete client output {line:?}"));
    }
    Ok(r)
}

/// What the echo runs go over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP on 127.0.0.1 (`TCP_NODELAY` on both ends).
    Tcp,
    /// A Unix stream socket at a fresh path under the temp dir.
    Unix,
}

/// The path of a Unix echo server's socket: fresh for each run, removed
/// (with any stale file of the same name before) when dropped.
struct SocketFile(PathBuf);

impl SocketFile {
    fn new() -> SocketFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "gort-bench-echo-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        SocketFile(path)
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One echo run over `transport` against a fresh server process on
/// `server` (`gort`, `tokio` or `smol`).
pub fn run_echo(
    server: &str,
    p: &Params,
    rate: Option<usize>,
    transport: Transport,
) -> Result<EchoResult, String> {
    let socket = (transport == Transport::Unix).then(SocketFile::new);
    let mut cmd = Command::new(net_binary()?);
    cmd.args(["server", server, &p.workers.to_string()]);
    if let Some(s) = &socket {
        cmd.arg(format!("unix:{}", s.0.display()));
    }
    run_echo_against(cmd, server, p, rate, socket.as_ref().map(|s| s.0.as_path()))
}

/// One echo run over `transport` against Go's server (`TestEchoServer`).
pub fn run_echo_go(
    go: &GoBench,
    p: &Params,
    rate: Option<usize>,
    transport: Transport,
) -> Result<EchoResult, String> {
    let socket = (transport == Transport::Unix).then(SocketFile::new);
    let path = socket.as_ref().map(|s| s.0.as_path());
    run_echo_against(go.echo_server(p.workers, path), GO, p, rate, path)
}

/// A server process started by [`start_server`], listening.
struct Started {
    /// The process (killed when dropped).
    server: Server,
    /// The client's target: `127.0.0.1:<port>` or `unix:<path>`.
    target: String,
}

/// Starts the server `cmd`, which must print `port=<port>` (or
/// `path=<unix>`, the socket it was given) on stdout and serve until its
/// stdin closes.
fn start_server(mut cmd: Command, server: &str, unix: Option<&Path>) -> Result<Started, String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the {server} server {cmd:?}: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let server_proc = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("reading the server's address: {e}"))?;
    let target = match unix {
        None => line
            .trim()
            .strip_prefix("port=")
            .and_then(|p| p.parse::<u16>().ok())
            .map(|port| format!("127.0.0.1:{port}")),
        Some(path) => line
            .trim()
            .strip_prefix("path=")
            .filter(|p| Path::new(p) == path)
            .map(|p| format!("unix:{p}")),
    }
    .ok_or_else(|| format!("the {server} server printed {line:?}, not its address"))?;
    Ok(Started {
        server: server_proc,
        target,
    })
}

/// Runs `gort-bench-net` with `args` to the end and returns its stdout; a
/// failed run is an error with its stderr.
pub fn run_child<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<String, String> {
    let bin = net_binary()?;
    let out = Command::new(&bin)
        .args(args)
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    if !out.status.success() {
        let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        return Err(format!(
            "gort-bench-net {} failed ({}): {}",
            shown.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One echo run against the server `cmd` starts (see [`start_server`]).
fn run_echo_against(
    cmd: Command,
    server: &str,
    p: &Params,
    rate: Option<usize>,
    unix: Option<&Path>,
) -> Result<EchoResult, String> {
    let started = start_server(cmd, server, unix)?;
    let millis = if p.quick { 200 } else { 1000 };
    let mut args = vec![
        "client".to_string(),
        started.target.clone(),
        CONNS.to_string(),
        millis.to_string(),
    ];
    if let Some(r) = rate {
        args.push(r.to_string());
    }
    let out = run_child(&args);
    drop(started);
    let out = out.map_err(|e| format!("the client failed against the {server} server: {e}"))?;
    let r = parse_client_line(out.trim())?;
    if r.msgs == 0 {
        return Err(format!("no message came back from the {server} server"));
    }
    let _ = std::io::stderr().flush();
    Ok(r)
}

/// What one C10K run measured: the echo of the active connections and the
/// server's resident bytes per connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct C10kResult {
    /// The echo over the active connections.
    pub echo: EchoResult,
    /// Resident bytes the server process added per open connection.
    pub rss_per_conn: f64,
}

/// One C10K run: a fresh server process on `server` (`gort`, `tokio`,
/// `smol` or Go's, with `go`), `conns` TCP connections from the client,
/// each echoed once, the server's resident size read (from
/// `/proc/<pid>/status`) before the first and after the last, then
/// `active` of them echo back to back for the run (200 ms quick, 1 s
/// full) while the others stay open and idle.
pub fn run_c10k(
    server: &str,
    go: Option<&GoBench>,
    p: &Params,
    conns: usize,
    active: usize,
) -> Result<C10kResult, String> {
    let cmd = match go {
        Some(go) => go.echo_server(p.workers, None),
        None => {
            let mut cmd = Command::new(net_binary()?);
            cmd.args(["server", server, &p.workers.to_string()]);
            cmd
        }
    };
    let started = start_server(cmd, server, None)?;
    let millis = if p.quick { 200 } else { 1000 };
    let out = run_child(&[
        "c10k".to_string(),
        started.target.clone(),
        conns.to_string(),
        active.to_string(),
        millis.to_string(),
        started.server.0.id().to_string(),
    ]);
    drop(started);
    let out = out.map_err(|e| format!("the C10K client against the {server} server: {e}"))?;
    let mut lines = out.lines();
    let echo = parse_client_line(lines.next().unwrap_or_default().trim())?;
    if echo.msgs == 0 {
        return Err(format!(
            "C10K: no message came back from the {server} server"
        ));
    }
    let rss_per_conn = super::seed::parse_park_line(lines.next().unwrap_or_default())?;
    Ok(C10kResult { echo, rss_per_conn })
}

/// An echo run as ns per message over its measured window.
pub fn per_message(r: EchoResult) -> Measurement {
    Measurement::PerOp {
        elapsed: Duration::from_secs_f64(r.secs),
        ops: r.msgs,
    }
}

fn latency(us: f64) -> Measurement {
    Measurement::Latency(Duration::from_secs_f64(us / 1e6))
}

/// A row of the runtime table: `pick` read off one echo run (at `rate`, if
/// any, over `transport`) against each runtime's server, then Go's. Go's cell is one run
/// whatever the iteration count: a run lasts longer than any run target.
fn row(
    name: &str,
    description: &str,
    unit: Unit,
    (rate, transport): (Option<usize>, Transport),
    pick: fn(EchoResult) -> Measurement,
) -> Workload {
    let mut cells: Vec<Option<Cell>> = [Gort::NAME, Tokio::NAME, Smol::NAME]
        .into_iter()
        .map(|server| cell(move |_, p| run_echo(server, p, rate, transport).map(pick)))
        .collect();
    cells.push(Some(Cell::Batch(Box::new(move |env, p, _| {
        run_echo_go(env.go(GO)?, p, rate, transport).map(pick)
    }))));
    Workload {
        name: name.to_string(),
        description: description.to_string(),
        unit,
        goal: Some(1.0),
        cells,
    }
}

/// The echo rows of the runtime table.
pub fn rows() -> Vec<Workload> {
    vec![
        row(
            "tcp_echo_throughput",
            "TCP echo on loopback: a server process per runtime (same workers), 100 connections \
             of a separate mio client, 64-byte messages back to back for 1 s; ns per message \
             (msgs/s = 1e9 / it)",
            Unit::PerOp,
            (None, Transport::Tcp),
            per_message,
        ),
        row(
            "tcp_echo_p99_saturated",
            "as tcp_echo_throughput (every connection always has a message in flight): 99th \
             percentile latency from each message's write",
            Unit::Time,
            (None, Transport::Tcp),
            |r| latency(r.p99_us),
        ),
        row(
            "tcp_echo_p50_at_20k",
            "as tcp_echo_throughput at a fixed 20,000 msgs/s in all: median latency from each \
             message's due time",
            Unit::Time,
            (Some(RATE), Transport::Tcp),
            |r| latency(r.p50_us),
        ),
        row(
            "tcp_echo_p99_at_20k",
            "as tcp_echo_p50_at_20k: 99th percentile latency",
            Unit::Time,
            (Some(RATE), Transport::Tcp),
            |r| latency(r.p99_us),
        ),
        row(
            "unix_echo_throughput",
            "as tcp_echo_throughput over a Unix stream socket (a path in the temp dir): 100 \
             connections, 64-byte messages back to back for 1 s; ns per message",
            Unit::PerOp,
            (None, Transport::Unix),
            per_message,
        ),
        row(
            "unix_echo_p99_saturated",
            "as unix_echo_throughput: 99th percentile latency from each message's write",
            Unit::Time,
            (None, Transport::Unix),
            |r| latency(r.p99_us),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lines_parse_and_bad_ones_are_errors() {
        let r = parse_client_line("msgs=1200 secs=1.000000 p50_us=35.5 p99_us=120.0").unwrap();
        assert_eq!(
            r,
            EchoResult {
                msgs: 1200,
                secs: 1.0,
                p50_us: 35.5,
                p99_us: 120.0
            }
        );
        assert!(parse_client_line("msgs=1 secs=1").is_err());
        assert!(parse_client_line("msgs=x secs=1 p50_us=1 p99_us=1").is_err());
        assert!(parse_client_line("port=80").is_err());
    }

    /// A real run when the binary is built (cargo bench and the CI smoke
    /// run always build it).
    #[test]
    fn echo_runs_against_every_server_when_the_binary_is_built() {
        if net_binary().is_err() {
            eprintln!("gort-bench-net not built; skipping");
            return;
        }
        let p = Params {
            workers: 2,
            quick: true,
        };
        for server in ["gort", "tokio", "smol"] {
            let r = run_echo(server, &p, None, Transport::Tcp).unwrap();
            assert!(r.msgs > 0);
            let r = run_echo(server, &p, Some(RATE), Transport::Tcp).unwrap();
            assert!(r.p50_us <= r.p99_us, "{r:?}");
            let r = run_echo(server, &p, None, Transport::Unix).unwrap();
            assert!(r.msgs > 0);
        }
    }
}
