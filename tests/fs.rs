//! `gort::fs` on a 2-worker gort runtime, each test in a fresh directory
//! of its own under the system's temp dir (removed at the end), every
//! result checked against what std reads or returns:
//!
//! - round trips of 0 B, 1 B and 64 MiB through `fs::write`/`fs::read` and
//!   through a `File` (`write_all`, `read_to_end`, seeks from the start,
//!   the end and the current position), FNV-1a checksums compared with
//!   std's reading of the same file; one `write` takes at most 2 MiB;
//! - a read that fetched more than its caller took (a read future dropped
//!   after it started): the next read is served from the buffer, and a
//!   seek or a write after it happens where the reader stands;
//! - `read_dir` of 10,000 entries, as a stream and with `next_entry`:
//!   every name seen exactly once, file types and metadata as std's;
//! - errors: a missing file is `NotFound` with std's `raw_os_error` for
//!   every function; a mode-000 file is `PermissionDenied` as std's
//!   (skipped as root, where std opens it); a write to a file opened
//!   read-only fails, and its error comes back from the next operation
//!   (write, flush, close, seek, read, `set_len`, `sync_all`, `sync_data`),
//!   once, while `metadata` leaves it for the next one;
//! - the path functions against std (copy, rename, links, directories,
//!   permissions, `try_exists`), `File`'s `&self` methods (`set_len`,
//!   `metadata`, `try_clone`, `sync_all` from 8 tasks at once),
//!   `into_std`/`from_std`, and a call outside any gort runtime.
#![cfg(unix)] // mode bits, symbolic links and raw OS errors as on Linux

use std::collections::HashSet;
use std::io::{ErrorKind, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use futures::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, StreamExt};
use gort::fs::{self, File};

mod reactor_common;
use reactor_common::{on_gort, Rng};

const MIB: usize = 1024 * 1024;

/// A directory of the test's own, removed when dropped (also when the test
/// fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gort-fs-{test}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cannot create the test directory");
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// FNV-1a, 64 bits.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut data = vec![0; len];
    Rng::new(seed).fill(&mut data);
    data
}

/// Checks that std reads `path` back as `data` (by checksum and length).
fn assert_std_reads(path: &Path, data: &[u8]) {
    let back = std::fs::read(path).unwrap();
    assert_eq!(
        (back.len(), fnv(&back)),
        (data.len(), fnv(data)),
        "{path:?}"
    );
}

#[test]
fn round_trips_of_0_1_and_64_mib_through_read_write_and_file() {
    on_gort("round_trips", || async {
        let dir = TempDir::new("round-trips");
        for (i, len) in [0, 1, 64 * MIB].into_iter().enumerate() {
            let data = random_bytes(len, i as u64 + 1);
            let sum = fnv(&data);

            // The whole-file functions.
            let path = dir.join(&format!("whole-{len}"));
            fs::write(&path, &data).await.unwrap();
            assert_std_reads(&path, &data);
            let back = fs::read(&path).await.unwrap();
            assert_eq!((back.len(), fnv(&back)), (len, sum));

            // A File: write_all (2 MiB per trip to the pool), flush, read back.
            let path = dir.join(&format!("file-{len}"));
            let mut file = File::create(&path).await.unwrap();
            file.write_all(&data).await.unwrap();
            file.flush().await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), len as u64);
            drop(file);
            assert_std_reads(&path, &data);
            let mut back = Vec::new();
            let mut file = File::open(&path).await.unwrap();
            assert_eq!(file.read_to_end(&mut back).await.unwrap(), len);
            assert_eq!(fnv(&back), sum);

            // Seeks: from the start, the end and the current position.
            let end = file.seek(SeekFrom::End(0)).await.unwrap();
            assert_eq!(end, len as u64);
            let half = len / 2;
            assert_eq!(
                file.seek(SeekFrom::Start(half as u64)).await.unwrap(),
                half as u64
            );
            let mut rest = Vec::new();
            file.read_to_end(&mut rest).await.unwrap();
            assert_eq!(fnv(&rest), fnv(&data[half..]));
            if len > 0 {
                let pos = file.seek(SeekFrom::Current(-1)).await.unwrap();
                assert_eq!(pos, len as u64 - 1);
                let mut last = [0u8; 1];
                file.read_exact(&mut last).await.unwrap();
                assert_eq!(last[0], data[len - 1]);
            }
            let tail = len.min(1000);
            file.seek(SeekFrom::End(-(tail as i64))).await.unwrap();
            let mut back = vec![0; tail];
            file.read_exact(&mut back).await.unwrap();
            assert_eq!(back, data[len - tail..]);
            let err = file
                .seek(SeekFrom::Current(-(len as i64) - 1))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
    });
}

#[test]
fn a_long_write_takes_at_most_2_mib_and_a_file_reads_and_writes_where_it_seeked() {
    on_gort("chunks_and_seeks", || async {
        let dir = TempDir::new("chunks");
        let path = dir.join("rw");
        let data = random_bytes(5 * MIB, 7);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        assert_eq!(file.write(&data).await.unwrap(), 2 * MIB);
        file.write_all(&data[2 * MIB..]).await.unwrap();
        // Overwrite bytes 100..110 and append past the end.
        file.seek(SeekFrom::Start(100)).await.unwrap();
        file.write_all(b"0123456789").await.unwrap();
        file.seek(SeekFrom::End(0)).await.unwrap();
        file.write_all(b"tail").await.unwrap();
        // A seek after a write waits for it: reading back sees every byte.
        file.seek(SeekFrom::Start(0)).await.unwrap();
        let mut back = Vec::new();
        file.read_to_end(&mut back).await.unwrap();
        let mut want = data.clone();
        want[100..110].copy_from_slice(b"0123456789");
        want.extend_from_slice(b"tail");
        assert_eq!((back.len(), fnv(&back)), (want.len(), fnv(&want)));
        file.flush().await.unwrap();
        assert_std_reads(&path, &want);
    });
}

/// Polls one read of 4,096 bytes and drops it: it has started on the
/// pool, and its bytes are read ahead of the caller. Returns what it
/// delivered if it finished within that one poll (0 if not).
async fn read_ahead(file: &mut File) -> usize {
    let mut big = [0u8; 4096];
    let mut read = file.read(&mut big);
    match futures::poll!(&mut read) {
        std::task::Poll::Ready(n) => n.unwrap(),
        std::task::Poll::Pending => 0,
    }
}

#[test]
fn bytes_read_ahead_are_served_first_and_counted_by_seek_and_write() {
    on_gort("read_ahead", || async {
        let dir = TempDir::new("read-ahead");
        let path = dir.join("data");
        let data = random_bytes(100_000, 3);
        std::fs::write(&path, &data).unwrap();
        let mut file = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();

        // The next read takes 10 of the bytes read ahead.
        let at = read_ahead(&mut file).await;
        let mut small = [0u8; 10];
        assert_eq!(file.read(&mut small).await.unwrap(), 10);
        assert_eq!(small, data[at..at + 10]);
        // The cursor is where the reader stands, not 4,096 on.
        assert_eq!(file.stream_position().await.unwrap(), at as u64 + 10);
        let mut next = [0u8; 5];
        file.read_exact(&mut next).await.unwrap();
        assert_eq!(next, data[at + 10..at + 15]);

        // Again, then a write: it lands right after what was read.
        file.seek(SeekFrom::Start(1000)).await.unwrap();
        let at = 1000 + read_ahead(&mut file).await;
        file.read_exact(&mut small).await.unwrap();
        assert_eq!(small, data[at..at + 10]);
        file.write_all(b"XY").await.unwrap();
        file.flush().await.unwrap();
        let mut want = data.clone();
        want[at + 10..at + 12].copy_from_slice(b"XY");
        assert_std_reads(&path, &want);
        assert_eq!(file.stream_position().await.unwrap(), at as u64 + 12);

        // A seek relative to the reader, then into_std: the std file's
        // cursor is the reader's too.
        let at = at + 12 + read_ahead(&mut file).await;
        file.read_exact(&mut small).await.unwrap();
        assert_eq!(small, want[at..at + 10]);
        let pos = file.seek(SeekFrom::Current(-4)).await.unwrap();
        assert_eq!(pos, at as u64 + 6);
        let at = at + 6 + read_ahead(&mut file).await;
        file.read_exact(&mut small).await.unwrap();
        assert_eq!(small, want[at..at + 10]);
        let mut std = file.into_std().await;
        assert_eq!(std.stream_position().unwrap(), at as u64 + 10);
    });
}

#[test]
fn read_dir_of_10000_entries_sees_each_name_once() {
    const N: usize = 10_000;
    on_gort("read_dir", || async {
        let dir = TempDir::new("read-dir");
        for i in 0..N {
            std::fs::write(dir.join(&format!("f{i}")), i.to_string()).unwrap();
        }
        std::fs::create_dir(dir.join("sub")).unwrap();

        // As a stream.
        let mut seen = HashSet::new();
        let mut entries = fs::read_dir(&dir.0).await.unwrap();
        while let Some(entry) = entries.next().await {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(entry.path(), dir.join(&name));
            let is_dir = entry.file_type().await.unwrap().is_dir();
            assert_eq!(is_dir, name == "sub", "{name}");
            if name.ends_with("00") {
                let meta = entry.metadata().await.unwrap();
                let std_meta = std::fs::symlink_metadata(entry.path()).unwrap();
                assert_eq!(
                    (meta.len(), meta.is_file()),
                    (std_meta.len(), std_meta.is_file())
                );
            }
            assert!(seen.insert(name.clone()), "{name} seen twice");
        }
        assert_eq!(seen.len(), N + 1);
        assert!((0..N).all(|i| seen.contains(&format!("f{i}"))));

        // With next_entry; the end stays the end.
        let mut entries = fs::read_dir(&dir.0).await.unwrap();
        let mut names = HashSet::new();
        while let Some(entry) = entries.next_entry().await.unwrap() {
            assert!(names.insert(entry.file_name()), "{entry:?} seen twice");
        }
        assert_eq!(names.len(), N + 1);
        assert!(entries.next_entry().await.unwrap().is_none());
        assert!(entries.next().await.is_none());
    });
}

/// Asserts that `got` failed as `want` (std's result) did: same kind, same
/// OS error number.
fn assert_same_error<T: std::fmt::Debug, U: std::fmt::Debug>(
    what: &str,
    got: std::io::Result<T>,
    want: std::io::Result<U>,
    kind: ErrorKind,
) {
    let (got, want) = (got.unwrap_err(), want.unwrap_err());
    assert_eq!(got.kind(), kind, "{what}: {got}");
    assert_eq!(
        got.raw_os_error(),
        want.raw_os_error(),
        "{what}: {got} vs std's {want}"
    );
    assert!(
        got.raw_os_error().is_some(),
        "{what}: not the OS's error: {got:?}"
    );
}

#[test]
fn a_missing_file_is_not_found_with_stds_os_error() {
    on_gort("not_found", || async {
        let dir = TempDir::new("not-found");
        let missing = dir.join("missing");
        let nf = ErrorKind::NotFound;
        let std_err = || std::fs::File::open(&missing).map(drop);
        assert_same_error("read", fs::read(&missing).await, std_err(), nf);
        assert_same_error(
            "to_string",
            fs::read_to_string(&missing).await,
            std_err(),
            nf,
        );
        assert_same_error("File::open", File::open(&missing).await, std_err(), nf);
        assert_same_error("metadata", fs::metadata(&missing).await, std_err(), nf);
        assert_same_error(
            "remove_file",
            fs::remove_file(&missing).await,
            std_err(),
            nf,
        );
        assert_same_error("read_dir", fs::read_dir(&missing).await, std_err(), nf);
        assert_same_error(
            "canonicalize",
            fs::canonicalize(&missing).await,
            std_err(),
            nf,
        );
        let to = dir.join("to");
        assert_same_error("copy", fs::copy(&missing, &to).await, std_err(), nf);
        assert_same_error("rename", fs::rename(&missing, &to).await, std_err(), nf);
        assert!(!fs::try_exists(&missing).await.unwrap());
    });
}

#[test]
fn a_file_without_permissions_is_permission_denied_as_with_std() {
    on_gort("permission_denied", || async {
        let dir = TempDir::new("denied");
        let path = dir.join("secret");
        std::fs::write(&path, "secret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        let std_open = std::fs::File::open(&path);
        if std_open.is_ok() {
            eprintln!("running as root (std opens a mode-000 file): permission test skipped");
            assert!(File::open(&path).await.is_ok());
            return;
        }
        let denied = ErrorKind::PermissionDenied;
        assert_same_error("File::open", File::open(&path).await, std_open, denied);
        let std_read = std::fs::read(&path);
        assert_same_error("read", fs::read(&path).await, std_read, denied);
    });
}

/// An operation on a file after a failed write.
type Op = for<'a> fn(&'a mut File) -> futures::future::BoxFuture<'a, std::io::Result<()>>;

#[test]
fn a_failed_write_is_reported_by_the_next_operation_once() {
    let ops: [(&str, Op); 8] = [
        ("write", |f| {
            Box::pin(async { f.write(b"more").await.map(drop) })
        }),
        ("flush", |f| Box::pin(f.flush())),
        ("close", |f| Box::pin(f.close())),
        ("seek", |f| {
            Box::pin(async { f.seek(SeekFrom::Start(0)).await.map(drop) })
        }),
        ("read", |f| {
            Box::pin(async { f.read(&mut [0; 8]).await.map(drop) })
        }),
        ("set_len", |f| Box::pin(f.set_len(0))),
        ("sync_all", |f| Box::pin(f.sync_all())),
        ("sync_data", |f| Box::pin(f.sync_data())),
    ];
    on_gort("write_error", move || async move {
        let dir = TempDir::new("write-error");
        let path = dir.join("read-only");
        std::fs::write(&path, "existing").unwrap();
        // What std says to a write on a file opened for reading (EBADF).
        let want = std::fs::File::open(&path).unwrap().write(b"data");
        let want_errno = want.as_ref().unwrap_err().raw_os_error();
        assert!(want_errno.is_some());

        for (name, op) in ops {
            let mut file = File::open(&path).await.unwrap();
            // The write is handed to the pool: it may return Ok.
            let first = file.write(b"data").await;
            let reported = match first {
                Err(e) => e,
                Ok(n) => {
                    assert_eq!(n, 4);
                    op(&mut file).await.expect_err(name)
                }
            };
            assert_eq!(reported.raw_os_error(), want_errno, "{name}: {reported}");
            // Reported once: the file works on (reads still can).
            file.flush()
                .await
                .unwrap_or_else(|e| panic!("{name}: reported twice: {e}"));
            let mut text = String::new();
            file.seek(SeekFrom::Start(0)).await.unwrap();
            file.read_to_string(&mut text).await.unwrap();
            assert_eq!(text, "existing", "{name}");
        }

        // write_all then flush: the error is there by the flush at the latest.
        let mut file = File::open(&path).await.unwrap();
        let written = file.write_all(b"data").await;
        let flushed = file.flush().await;
        let err = written
            .err()
            .or(flushed.err())
            .expect("the write's error was lost");
        assert_eq!(err.raw_os_error(), want_errno);

        // metadata waits for the write and leaves the error to the next one.
        let mut file = File::open(&path).await.unwrap();
        if file.write(b"data").await.is_ok() {
            assert_eq!(file.metadata().await.unwrap().len(), 8);
            let err = file.flush().await.expect_err("metadata took the error");
            assert_eq!(err.raw_os_error(), want_errno);
        }
        assert_std_reads(&path, b"existing");
    });
}

#[test]
fn the_path_functions_do_what_std_does() {
    on_gort("path_functions", || async {
        let dir = TempDir::new("paths");
        let a = dir.join("a");
        fs::write(&a, "alpha").await.unwrap();
        assert!(fs::try_exists(&a).await.unwrap());
        assert_eq!(fs::copy(&a, dir.join("b")).await.unwrap(), 5);
        assert_eq!(fs::read_to_string(dir.join("b")).await.unwrap(), "alpha");
        fs::rename(dir.join("b"), dir.join("c")).await.unwrap();
        assert!(!dir.join("b").exists() && dir.join("c").exists());
        fs::hard_link(&a, dir.join("d")).await.unwrap();
        assert_eq!(std::fs::metadata(&a).unwrap().nlink(), 2);
        std::os::unix::fs::symlink(&a, dir.join("link")).unwrap();
        assert_eq!(fs::read_link(dir.join("link")).await.unwrap(), a);
        assert!(fs::symlink_metadata(dir.join("link"))
            .await
            .unwrap()
            .is_symlink());
        assert!(fs::metadata(dir.join("link")).await.unwrap().is_file());
        assert_eq!(
            fs::canonicalize(dir.join("link")).await.unwrap(),
            std::fs::canonicalize(&a).unwrap()
        );
        fs::set_permissions(&a, std::fs::Permissions::from_mode(0o640))
            .await
            .unwrap();
        assert_eq!(
            std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o640
        );
        fs::remove_file(dir.join("d")).await.unwrap();
        assert!(!dir.join("d").exists());

        fs::create_dir(dir.join("x")).await.unwrap();
        let err = fs::create_dir(dir.join("x")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        fs::create_dir_all(dir.join("x/y/z")).await.unwrap();
        let err = fs::remove_dir(dir.join("x")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DirectoryNotEmpty);
        fs::remove_dir(dir.join("x/y/z")).await.unwrap();
        fs::remove_dir_all(dir.join("x")).await.unwrap();
        assert!(!fs::try_exists(dir.join("x")).await.unwrap());
        let err = File::create_new(&a).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    });
}

#[test]
fn files_self_methods_wait_for_the_write_in_flight() {
    on_gort("self_methods", || async {
        let dir = TempDir::new("self-methods");
        let path = dir.join("f");
        let mut file = File::create(&path).await.unwrap();
        file.write_all(&[7; 1000]).await.unwrap();
        // No flush: metadata waits for the write.
        assert_eq!(file.metadata().await.unwrap().len(), 1000);
        file.set_len(10).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 10);
        file.write_all(b"!").await.unwrap();
        file.flush().await.unwrap();
        // The cursor stayed at 1000: the file grew with a hole.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1001);

        // A clone shares the cursor.
        let mut clone = file.try_clone().await.unwrap();
        clone.seek(SeekFrom::Start(3)).await.unwrap();
        assert_eq!(file.stream_position().await.unwrap(), 3);

        // sync_all from 8 tasks at once on one file.
        let file = Arc::new(file);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let file = file.clone();
                gort::spawn(async move {
                    file.sync_all().await.unwrap();
                    file.sync_data().await.unwrap();
                    file.metadata().await.unwrap().len()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1001);
        }

        // from_std / into_std keep the cursor.
        let mut std = std::fs::File::open(&path).unwrap();
        std.seek(SeekFrom::Start(1000)).unwrap();
        let mut file = File::from_std(std);
        let mut last = Vec::new();
        file.read_to_end(&mut last).await.unwrap();
        assert_eq!(last, b"!");
        let mut std = file.into_std().await;
        assert_eq!(std.read(&mut [0; 4]).unwrap(), 0);
    });
}

#[test]
fn works_outside_a_gort_runtime() {
    let dir = TempDir::new("outside");
    let path = dir.join("f");
    futures::executor::block_on(async {
        fs::write(&path, "from a plain thread").await.unwrap();
        let mut file = File::open(&path).await.unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "from a plain thread");
    });
}
