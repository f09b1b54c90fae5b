//! The process suite: child processes through each runtime's own process
//! API: `gort::process` (a pidfd per child on the reactor),
//! `tokio::process` (SIGCHLD and an orphan queue; a pidfd on recent tokio
//! where the kernel has it) and smol's `async-process` (SIGCHLD, or a
//! thread that waits).
//!
//! - `process_spawn_wait_seq`: one task spawns `true` and waits for it,
//!   1,000 times, one after the other.
//! - `process_spawn_wait_1000`: 1,000 tasks each spawn `true` and wait for
//!   it, all at once.

use std::future::Future;
use std::io;
use std::time::Instant;

use crate::contender::{join, Contender, Gort, Params, Smol, Tokio, WORKERS};
use crate::results::Column;
use crate::stats::Measurement;
use crate::suite::{cell, RunResult, Suite, Workload};

/// Children per run (full, quick).
pub const CHILDREN: (usize, usize) = (1_000, 20);

/// A runtime's process API, as the rows use it.
pub trait Proc: Contender {
    /// Runs `true` and returns whether it exited with status 0.
    fn run_true() -> impl Future<Output = io::Result<bool>> + Send;
}

impl Proc for Gort {
    async fn run_true() -> io::Result<bool> {
        Ok(gort::process::Command::new("true")
            .status()
            .await?
            .success())
    }
}

impl Proc for Tokio {
    async fn run_true() -> io::Result<bool> {
        Ok(tokio::process::Command::new("true")
            .status()
            .await?
            .success())
    }
}

impl Proc for Smol {
    async fn run_true() -> io::Result<bool> {
        Ok(async_process::Command::new("true")
            .status()
            .await?
            .success())
    }
}

/// Checks that all `n` children exited with 0.
fn all_ok<C: Contender>(ok: usize, n: usize) -> Result<(), String> {
    if ok == n {
        Ok(())
    } else {
        Err(format!("{}: {} of {n} children failed", C::NAME, n - ok))
    }
}

/// `process_spawn_wait_seq`: spawn and wait, one child after the other.
pub fn spawn_wait_seq<C: Proc>(rt: &C, p: &Params) -> RunResult {
    let n = p.size(CHILDREN.0, CHILDREN.1);
    let start = Instant::now();
    let ok = rt.block_on(join::<C, _>(rt.spawn_remote(async move {
        let mut ok = 0;
        for _ in 0..n {
            ok += usize::from(C::run_true().await?);
        }
        Ok::<_, io::Error>(ok)
    })))?;
    let time = Measurement::Time(start.elapsed());
    all_ok::<C>(ok.map_err(|e| format!("{}: {e}", C::NAME))?, n)?;
    Ok(time)
}

/// `process_spawn_wait_1000`: every child in a task of its own, at once.
pub fn spawn_wait_all<C: Proc>(rt: &C, p: &Params) -> RunResult {
    let n = p.size(CHILDREN.0, CHILDREN.1);
    let start = Instant::now();
    let ok = rt.block_on(join::<C, _>(rt.spawn_remote(async move {
        let tasks: Vec<_> = (0..n).map(|_| C::spawn(C::run_true())).collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(join::<C, _>(t).await?.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>(ok)
    })))?;
    let time = Measurement::Time(start.elapsed());
    all_ok::<C>(ok.map_err(|e| format!("{}: {e}", C::NAME))?, n)?;
    Ok(time)
}

/// The suite: `process_spawn_wait_seq` and `process_spawn_wait_1000`.
pub fn suite() -> Suite {
    Suite {
        title: "process: {vs}, child processes".to_string(),
        about: vec![format!(
            "Tasks on a {WORKERS}-worker runtime run `true` through their runtime's process \
             API and wait for it; every exit status is checked. Lower is better. Quick size: \
             20 children."
        )],
        columns: vec![
            Column::new(Gort::NAME, true, "`gort::process` (a pidfd per child)"),
            Column::new(Tokio::NAME, true, "`tokio::process`"),
            Column::new(
                Smol::NAME,
                true,
                "`async-process` in a task of the smol executor",
            ),
        ],
        baseline: None,
        runs: None,
        rows: vec![
            Workload::timed(
                "process_spawn_wait_seq",
                "one task spawns `true` and waits for it, 1,000 times in a row",
                runtimes!(spawn_wait_seq),
            ),
            Workload::timed(
                "process_spawn_wait_1000",
                "1,000 tasks each spawn `true` and wait for it, all at once",
                runtimes!(spawn_wait_all),
            ),
        ],
    }
}
