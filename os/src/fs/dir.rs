//! `read_dir`: a directory's entries as a stream, fetched in batches.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use gort_executor::{spawn_blocking, JoinHandle};

use super::{asyncify, FileType, Metadata};

/// Entries fetched per trip to the blocking pool.
const BATCH: usize = 32;

/// The entries of the directory at `path` (std's [`std::fs::read_dir`]),
/// without `.` and `..`, in the order the file system gives them. The
/// call opens the directory and fetches the first 32 entries in one trip
/// to the blocking pool; the [`ReadDir`] fetches the rest 32 at a time.
///
/// ```
/// use gort::stream::StreamExt;
///
/// # gort::block_on(async {
/// let dir = std::env::temp_dir().join(format!("gort-read-dir-doc-{}", std::process::id()));
/// gort::fs::create_dir_all(dir.join("sub")).await?;
/// gort::fs::write(dir.join("a.txt"), "a").await?;
/// let mut entries = gort::fs::read_dir(&dir).await?;
/// let mut seen = Vec::new();
/// while let Some(entry) = entries.next().await {
///     let entry = entry?;
///     seen.push((entry.file_name(), entry.file_type().await?.is_dir()));
/// }
/// seen.sort();
/// assert_eq!(seen, [("a.txt".into(), false), ("sub".into(), true)]);
/// gort::fs::remove_dir_all(&dir).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let batch =
        asyncify(move || Ok(Batch::fetch(std::fs::read_dir(path)?, VecDeque::new()))).await?;
    Ok(ReadDir(State::Idle(batch)))
}

/// The entries of a directory, from [`read_dir`]: a
/// [`Stream`] of `io::Result<DirEntry>`, or
/// [`next_entry`](ReadDir::next_entry) in a loop.
pub struct ReadDir(State);

enum State {
    Idle(Batch),
    /// A pool thread fetches the next batch.
    Busy(JoinHandle<Batch>),
}

/// Entries fetched and not yet returned, and the std iterator (`None` once
/// it has ended).
#[derive(Default)]
struct Batch {
    entries: VecDeque<io::Result<DirEntry>>,
    rest: Option<std::fs::ReadDir>,
}

impl Batch {
    /// Up to [`BATCH`] more entries of `rest`, after `entries` (empty; its
    /// allocation is reused). Blocks.
    fn fetch(mut rest: std::fs::ReadDir, mut entries: VecDeque<io::Result<DirEntry>>) -> Batch {
        for _ in 0..BATCH {
            match rest.next() {
                Some(entry) => entries.push_back(entry.map(DirEntry::from_std)),
                None => {
                    return Batch {
                        entries,
                        rest: None,
                    }
                }
            }
        }
        Batch {
            entries,
            rest: Some(rest),
        }
    }
}

impl ReadDir {
    /// The next entry, or `None` after the last one.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry: `Ready(Ok(None))` after the last one.
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.0 {
                State::Idle(batch) => {
                    if let Some(entry) = batch.entries.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    let Some(rest) = batch.rest.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    let entries = std::mem::take(&mut batch.entries);
                    self.0 = State::Busy(spawn_blocking(move || Batch::fetch(rest, entries)));
                }
                State::Busy(handle) => match ready!(Pin::new(handle).poll(cx)) {
                    Ok(batch) => self.0 = State::Idle(batch),
                    Err(e) => {
                        // The iterator went with the failed fetch: the stream ends here.
                        self.0 = State::Idle(Batch::default());
                        return Poll::Ready(Err(e.into()));
                    }
                },
            }
        }
    }
}

impl Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx).map(Result::transpose)
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir").finish_non_exhaustive()
    }
}

/// One entry of a directory (std's [`std::fs::DirEntry`]).
pub struct DirEntry {
    std: Arc<std::fs::DirEntry>,
    /// Its file type, fetched with the entry (on Linux the directory
    /// listing gives it, mostly without another system call).
    file_type: Option<FileType>,
}

impl DirEntry {
    /// Wraps a std entry; blocks for its file type when the listing lacks it.
    fn from_std(std: std::fs::DirEntry) -> DirEntry {
        DirEntry {
            file_type: std.file_type().ok(),
            std: Arc::new(std),
        }
    }

    /// The directory's path joined with the entry's name.
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The entry's name, without the directory.
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's inode number (std's
    /// [`std::os::unix::fs::DirEntryExt::ino`]).
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.std)
    }

    /// The entry's metadata, not following a symbolic link (std's
    /// [`std::fs::DirEntry::metadata`]).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// The entry's file type, not following a symbolic link (std's
    /// [`std::fs::DirEntry::file_type`]): at once when it came with the
    /// entry, else from the blocking pool.
    pub async fn file_type(&self) -> io::Result<FileType> {
        if let Some(file_type) = self.file_type {
            return Ok(file_type);
        }
        let std = self.std.clone();
        asyncify(move || std.file_type()).await
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path()).finish()
    }
}
