//! The fs suite: file reads through each runtime's own file API, which on
//! every one of them runs the system calls on a blocking thread pool:
//! `gort::fs` (gort's pool), `tokio::fs` (tokio's) and smol's `async-fs`
//! (the `blocking` crate's). The files are made once per process in the
//! [`Env`]'s scratch directory, so every run reads them from the page
//! cache: the rows measure the runtimes' trips to their pools and the
//! copies, not the disk.
//!
//! - `fs_read_64mib`: one task reads a 64 MiB file in 64 KiB reads.
//! - `fs_read_10k_files`: one task reads 10,000 files of 1 KiB, one after
//!   the other, each whole (one trip to the pool per file on every
//!   runtime).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::contender::{join, Contender, Gort, Params, Smol, Tokio, WORKERS};
use crate::results::Column;
use crate::stats::Measurement;
use crate::suite::{cell, Env, RunResult, Suite, Workload};

const MIB: usize = 1024 * 1024;
/// The large file's length (full, quick).
pub const BIG: (usize, usize) = (64 * MIB, MIB);
/// One read of the large file.
pub const CHUNK: usize = 64 * 1024;
/// Small files read (full, quick).
pub const FILES: (usize, usize) = (10_000, 100);
/// A small file's length.
pub const SMALL: usize = 1024;

/// The byte at offset `i` of the large file, and the first byte of small
/// file `i` (251 is prime, so the pattern does not line up with a chunk).
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// A runtime's file API, as the rows use it.
pub trait Fs: Contender {
    /// Reads the file at `path` whole.
    fn read(path: PathBuf) -> impl Future<Output = io::Result<Vec<u8>>> + Send;

    /// Reads the file at `path` to its end in [`CHUNK`]-byte reads.
    fn read_chunks(path: PathBuf) -> impl Future<Output = io::Result<Chunks>> + Send;
}

/// What a chunked read saw.
#[derive(Debug, Default)]
pub struct Chunks {
    /// Bytes read.
    pub len: usize,
    /// Reads whose first or last byte was not the pattern's at its offset.
    pub wrong: usize,
}

impl Chunks {
    fn add(&mut self, chunk: &[u8]) {
        let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
        if first != pattern(self.len) || last != pattern(self.len + chunk.len() - 1) {
            self.wrong += 1;
        }
        self.len += chunk.len();
    }
}

/// [`Fs::read_chunks`] for a file with futures' `AsyncRead` (gort's and
/// async-fs's).
async fn read_chunks(mut file: impl futures::AsyncRead + Unpin) -> io::Result<Chunks> {
    use futures::AsyncReadExt;
    let (mut buf, mut chunks) = (vec![0; CHUNK], Chunks::default());
    loop {
        match file.read(&mut buf).await? {
            0 => return Ok(chunks),
            n => chunks.add(&buf[..n]),
        }
    }
}

impl Fs for Gort {
    async fn read(path: PathBuf) -> io::Result<Vec<u8>> {
        gort::fs::read(path).await
    }

    async fn read_chunks(path: PathBuf) -> io::Result<Chunks> {
        read_chunks(gort::fs::File::open(path).await?).await
    }
}

impl Fs for Smol {
    async fn read(path: PathBuf) -> io::Result<Vec<u8>> {
        async_fs::read(path).await
    }

    async fn read_chunks(path: PathBuf) -> io::Result<Chunks> {
        read_chunks(async_fs::File::open(path).await?).await
    }
}

impl Fs for Tokio {
    async fn read(path: PathBuf) -> io::Result<Vec<u8>> {
        tokio::fs::read(path).await
    }

    async fn read_chunks(path: PathBuf) -> io::Result<Chunks> {
        use tokio::io::AsyncReadExt;
        let mut file = tokio::fs::File::open(path).await?;
        let (mut buf, mut chunks) = (vec![0; CHUNK], Chunks::default());
        loop {
            match file.read(&mut buf).await? {
                0 => return Ok(chunks),
                n => chunks.add(&buf[..n]),
            }
        }
    }
}

/// The large file, made on first use.
fn big_file(env: &Env, len: usize) -> Result<PathBuf, String> {
    let dir = env.scratch.dir(&format!("big-{len}"), |dir| {
        let bytes: Vec<u8> = (0..len).map(pattern).collect();
        std::fs::write(dir.join("big"), bytes)
    })?;
    Ok(dir.join("big"))
}

/// The small files' paths, the files made on first use.
fn small_files(env: &Env, n: usize) -> Result<Vec<PathBuf>, String> {
    let path = |dir: &Path, i: usize| dir.join(format!("{i:05}"));
    let dir = env.scratch.dir(&format!("small-{n}"), |dir| {
        (0..n).try_for_each(|i| {
            let bytes: Vec<u8> = (i..i + SMALL).map(pattern).collect();
            std::fs::write(path(dir, i), bytes)
        })
    })?;
    Ok((0..n).map(|i| path(&dir, i)).collect())
}

/// Runs `fut` as a task of `rt`, timed from the spawn to its output.
fn timed<C: Contender, T: Send + 'static>(
    rt: &C,
    fut: impl Future<Output = io::Result<T>> + Send + 'static,
) -> Result<(T, Measurement), String> {
    let start = Instant::now();
    let out = rt.block_on(join::<C, _>(rt.spawn_remote(fut)))?;
    let time = Measurement::Time(start.elapsed());
    out.map(|out| (out, time))
        .map_err(|e| format!("{}: {e}", C::NAME))
}

/// `fs_read_64mib`: the large file in [`CHUNK`]-byte reads, in one task.
pub fn read_big<C: Fs>(rt: &C, env: &Env, p: &Params) -> RunResult {
    let len = p.size(BIG.0, BIG.1);
    let (chunks, time) = timed(rt, C::read_chunks(big_file(env, len)?))?;
    if chunks.len != len || chunks.wrong != 0 {
        return Err(format!("{}: read {chunks:?} of {len} bytes", C::NAME));
    }
    Ok(time)
}

/// `fs_read_10k_files`: every small file whole, one after the other, in
/// one task.
pub fn read_small<C: Fs>(rt: &C, env: &Env, p: &Params) -> RunResult {
    let paths = small_files(env, p.size(FILES.0, FILES.1))?;
    let (wrong, time) = timed(rt, async move {
        let mut wrong = 0;
        for (i, path) in paths.into_iter().enumerate() {
            let bytes = C::read(path).await?;
            wrong += usize::from(bytes.len() != SMALL || bytes[0] != pattern(i));
        }
        Ok(wrong)
    })?;
    if wrong != 0 {
        return Err(format!("{}: {wrong} small files read wrong", C::NAME));
    }
    Ok(time)
}

/// The cells of `f` on gort, tokio and smol.
macro_rules! on_runtimes {
    ($f:path) => {
        vec![
            cell(|env, p| $f(&env.gort, env, p)),
            cell(|env, p| $f(&env.tokio, env, p)),
            cell(|env, p| $f(&env.smol, env, p)),
        ]
    };
}

/// The suite: `fs_read_64mib` and `fs_read_10k_files`.
pub fn suite() -> Suite {
    Suite {
        title: "fs: {vs}, files over the blocking pool".to_string(),
        about: vec![format!(
            "One task on a {WORKERS}-worker runtime reads through its runtime's file API; the \
             files are in the page cache (made once per process), so a row is the trips to \
             the blocking pool and the copies. Lower is better. Quick sizes: a 1 MiB file, 100 \
             small files."
        )],
        columns: vec![
            Column::new(Gort::NAME, true, "`gort::fs` (gort's blocking pool)"),
            Column::new(Tokio::NAME, true, "`tokio::fs` (tokio's blocking pool)"),
            Column::new(
                Smol::NAME,
                true,
                "`async-fs` (the `blocking` crate's pool) in a task of the smol executor",
            ),
        ],
        baseline: None,
        runs: None,
        rows: vec![
            Workload::timed(
                "fs_read_64mib",
                "one task reads a 64 MiB file in 64 KiB reads (each read's first and last byte \
                 checked)",
                on_runtimes!(read_big),
            ),
            Workload::timed(
                "fs_read_10k_files",
                "one task reads 10,000 files of 1 KiB whole, one after the other (each \
                 length and first byte checked)",
                on_runtimes!(read_small),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Unit;
    use crate::suite::Cell;
    use crate::workload::with_deadline;

    /// Every cell at the quick sizes; the scratch files go with the Env.
    #[test]
    fn every_fs_cell_reads_right_and_the_files_go_with_the_env() {
        with_deadline("fs cells", || {
            let env = Env::build(2).unwrap();
            let p = Params {
                workers: 2,
                quick: true,
            };
            let s = suite();
            for w in &s.rows {
                for (cell, column) in w.cells.iter().zip(&s.columns) {
                    let Some(Cell::Each(run)) = cell else {
                        panic!("{} on {}: not a per-iteration cell", w.name, column.name)
                    };
                    let m = run(&env, &p).unwrap_or_else(|e| panic!("{}: {e}", w.name));
                    assert_eq!(m.unit(), Unit::Time);
                }
            }
            let big = big_file(&env, BIG.1).unwrap();
            assert_eq!(std::fs::metadata(&big).unwrap().len(), BIG.1 as u64);
            drop(env);
            assert!(!big.exists(), "the scratch directory outlived its Env");
        });
    }

    #[test]
    fn a_chunk_off_the_pattern_counts_as_wrong() {
        let mut chunks = Chunks::default();
        chunks.add(&[0, 1, 2]);
        chunks.add(&[3, 4]);
        assert_eq!((chunks.len, chunks.wrong), (5, 0));
        chunks.add(&[6]);
        assert_eq!((chunks.len, chunks.wrong), (6, 1));
    }
}
