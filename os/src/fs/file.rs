//! `File`: an open file whose reads, writes and seeks run on the blocking
//! pool, one operation in flight at a time.

use std::any::Any;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};
use gort_executor::{spawn_blocking, JoinHandle};
use gort_sync::Mutex;

use super::{asyncify, Metadata, OpenOptions, Permissions};

/// Most bytes one blocking read or write moves: a longer `write` takes
/// this much and returns, a longer `read` fills this much, so that one
/// call holds a pool thread for one bounded system call.
const MAX_BUF: usize = 2 * 1024 * 1024;

/// An open file (Go's `os.File`, std's [`std::fs::File`]) with futures'
/// [`AsyncRead`], [`AsyncWrite`] and [`AsyncSeek`] (their extension
/// traits, `AsyncReadExt` and the others, are in `gort::io`).
///
/// Each read, write or seek runs on the blocking pool; the file keeps one
/// buffer and one operation in flight:
///
/// - A `write` copies up to 2 MiB into the buffer, hands it to a pool
///   thread and returns the count at once; the next operation waits for
///   that write. A write's error is never lost: the next operation on the
///   file returns it (a write, `flush`, `close`, seek, read, `set_len`,
///   `sync_all` or `sync_data`). [`flush`](futures_io::AsyncWrite::poll_flush)
///   and `close` wait for the write in flight, so after
///   `flush().await?` every byte written has reached the operating system.
///   [`metadata`](File::metadata), [`set_permissions`](File::set_permissions)
///   and [`try_clone`](File::try_clone) wait for it too and leave its
///   error for the next of those operations.
/// - A `read` reads up to the caller's length (at most 2 MiB) into the
///   buffer and copies it out; a shorter read later is served from what
///   is left in the buffer. A seek or write after such a read moves the
///   file's cursor back by the bytes not yet read, so positions are as
///   the reader saw them.
///
/// Dropping a file with a write in flight lets the write finish on its
/// pool thread, but its error then has nobody to go to: flush (or close)
/// before dropping a file whose writes matter, as with std's `BufWriter`.
///
/// ```
/// use gort::fs::File;
/// use gort::io::{AsyncReadExt, AsyncWriteExt};
///
/// # gort::block_on(async {
/// let path = std::env::temp_dir().join(format!("gort-file-doc-{}", std::process::id()));
/// let mut file = File::create(&path).await?;
/// file.write_all(b"hello, file").await?;
/// file.sync_all().await?; // written and on the disk
///
/// let mut text = String::new();
/// File::open(&path).await?.read_to_string(&mut text).await?;
/// assert_eq!(text, "hello, file");
/// gort::fs::remove_file(&path).await?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    /// Taken (with `get_mut`, no locking) by the `Pin<&mut Self>` trait
    /// methods, and locked by the `&self` methods, which may run from
    /// several tasks at once.
    inner: Mutex<Inner>,
}

/// The file's buffer and its operation in flight.
struct Inner {
    state: State,
    /// A failed write's error, kept by an operation that does not report
    /// it (`metadata`, `set_permissions`, `try_clone`) for the next one
    /// that does. Only ever set while `state` is `Idle`.
    error: Option<io::Error>,
    /// How much the next read fetches at least: doubled by each read that
    /// follows a read (a sequential reader makes ever fewer trips to the
    /// pool, up to [`MAX_BUF`] a trip), zero after a write or a seek.
    ahead: usize,
}

enum State {
    /// Nothing in flight: the buffer, holding the unread rest of the last
    /// read, if any.
    Idle(Buf),
    /// One operation in flight on a pool thread; it gives the buffer back.
    Busy(JoinHandle<(Op, Buf)>),
}

/// What a finished blocking operation did.
enum Op {
    /// A read into the buffer: the bytes read (0 at the end of the file).
    Read(io::Result<usize>),
    /// A write of the whole buffer.
    Write(io::Result<()>),
    Seek(io::Result<u64>),
    /// The operation of a `&self` method (see [`File::run`]): its result,
    /// boxed, of the type the method asked for.
    Other(io::Result<Box<dyn Any + Send>>),
    /// The pool did not run the operation to its end (it panicked, or its
    /// runtime shut down): whatever it was, it may not have happened.
    Lost(io::Error),
}

impl File {
    /// Opens the file at `path` for reading (std's [`std::fs::File::open`]).
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens the file at `path` for writing, creating it or truncating it
    /// (std's [`std::fs::File::create`]).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a new file at `path` for reading and writing; an
    /// [`io::ErrorKind::AlreadyExists`] error if there is one (std's
    /// [`std::fs::File::create_new`]).
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// A builder for opening a file in any other mode (std's
    /// [`std::fs::File::options`]).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file. Its cursor is where reads and writes start.
    pub fn from_std(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            inner: Mutex::new(Inner {
                state: State::Idle(Buf::default()),
                error: None,
                ahead: 0,
            }),
        }
    }

    /// The std file, after the operation in flight; its cursor is where
    /// this file's reader stood. A failed write's error that no operation
    /// has returned yet is dropped: flush first to see it.
    pub async fn into_std(self) -> std::fs::File {
        let mut inner = self.inner.into_inner();
        poll_fn(|cx| inner.poll_settle(cx)).await;
        let back = inner.buf().discard_unread();
        if back != 0 {
            let std = self.std.clone();
            // A failed seek back leaves the cursor where the reads left it.
            let _ = asyncify(move || (&*std).seek(SeekFrom::Current(back))).await;
        }
        Arc::try_unwrap(self.std).expect("no pool thread holds the file once nothing is in flight")
    }

    /// Flushes the file's data and metadata to the disk (std's
    /// [`std::fs::File::sync_all`]), after the write in flight; returns a
    /// failed write's error first.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.run(true, |std| std.sync_all()).await
    }

    /// Flushes the file's data to the disk, and of its metadata what
    /// reading the data back needs (std's
    /// [`std::fs::File::sync_data`]), after the write in flight; returns a
    /// failed write's error first.
    pub async fn sync_data(&self) -> io::Result<()> {
        self.run(true, |std| std.sync_data()).await
    }

    /// Truncates or extends the file to `size` bytes (std's
    /// [`std::fs::File::set_len`]), after the write in flight; returns a
    /// failed write's error first. The cursor does not move.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        self.run(true, move |std| std.set_len(size)).await
    }

    /// The file's metadata (std's [`std::fs::File::metadata`]), after the
    /// write in flight, so that its length counts the bytes written.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        self.run(false, |std| std.metadata()).await
    }

    /// Sets the file's permissions (std's
    /// [`std::fs::File::set_permissions`]), after the write in flight.
    pub async fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.run(false, move |std| std.set_permissions(perm)).await
    }

    /// A new `File` for the same open file (std's
    /// [`std::fs::File::try_clone`]), after the write in flight: the two
    /// share the cursor, which stands where this file's reader stood.
    pub async fn try_clone(&self) -> io::Result<File> {
        self.run(false, |std| std.try_clone())
            .await
            .map(File::from_std)
    }

    /// Runs `f` on the file on the pool, after the operation in flight,
    /// with the cursor moved back by the bytes read ahead. A failed
    /// write's error is returned first if `report`, else kept for the next
    /// operation that reports it.
    async fn run<T, F>(&self, report: bool, f: F) -> io::Result<T>
    where
        F: FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let mut inner = self.inner.lock().await;
        if report {
            poll_fn(|cx| inner.poll_idle(cx)).await?;
        } else {
            poll_fn(|cx| inner.poll_settle(cx)).await;
        }
        let mut buf = std::mem::take(inner.buf());
        let back = buf.discard_unread();
        let file = self.std.clone();
        inner.state = State::Busy(spawn_blocking(move || {
            let res = seek_back(&file, back)
                .and_then(|()| f(&file))
                .map(|v| Box::new(v) as Box<dyn Any + Send>);
            (Op::Other(res), buf)
        }));
        match poll_fn(|cx| inner.poll_complete(cx)).await {
            Some(Op::Other(res)) => res.map(|v| {
                *v.downcast::<T>()
                    .expect("the operation's output has its method's type")
            }),
            Some(Op::Lost(e)) => Err(e),
            _ => unreachable!("the lock held the file since the operation started"),
        }
    }
}

impl Inner {
    /// The buffer; the state must be `Idle`.
    fn buf(&mut self) -> &mut Buf {
        match &mut self.state {
            State::Idle(buf) => buf,
            State::Busy(_) => unreachable!("the file's buffer is on a pool thread"),
        }
    }

    /// Waits for the operation in flight, if any, and returns what it did
    /// (`None` if nothing was in flight). The state is `Idle` after.
    fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<Option<Op>> {
        let State::Busy(handle) = &mut self.state else {
            return Poll::Ready(None);
        };
        let (op, buf) = match ready!(Pin::new(handle).poll(cx)) {
            Ok(done) => done,
            Err(e) => (Op::Lost(e.into()), Buf::default()),
        };
        self.state = State::Idle(buf);
        Poll::Ready(Some(op))
    }

    /// [`poll_complete`](Inner::poll_complete), then the error of a failed
    /// write (the one in flight, or one kept in `error`) if there is one.
    /// After `Ready(Ok)`, the state is `Idle`.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Op>>> {
        match ready!(self.poll_complete(cx)) {
            Some(Op::Write(Err(e)) | Op::Lost(e)) => Poll::Ready(Err(e)),
            op => Poll::Ready(match self.error.take() {
                Some(e) => Err(e),
                None => Ok(op),
            }),
        }
    }

    /// Waits for the operation in flight and keeps a failed write's error
    /// in `error` for the next operation that reports it.
    fn poll_settle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(Op::Write(Err(e)) | Op::Lost(e)) = ready!(self.poll_complete(cx)) {
            self.error = Some(e);
        }
        Poll::Ready(())
    }

    fn poll_read(
        &mut self,
        std: &Arc<std::fs::File>,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if dst.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if let State::Idle(buf) = &mut self.state {
                if !buf.is_empty() {
                    return Poll::Ready(Ok(buf.copy_to(dst)));
                }
            }
            match ready!(self.poll_idle(cx))? {
                // An empty buffer after a successful read: the end of the file.
                Some(Op::Read(res)) => return Poll::Ready(res.map(|_| self.buf().copy_to(dst))),
                _ => {
                    let mut buf = std::mem::take(self.buf());
                    let len = dst.len().max(self.ahead).min(MAX_BUF);
                    self.ahead = (len * 2).min(MAX_BUF);
                    let file = std.clone();
                    self.state = State::Busy(spawn_blocking(move || {
                        let res = buf.read_from(&file, len);
                        (Op::Read(res), buf)
                    }));
                }
            }
        }
    }

    fn poll_write(
        &mut self,
        std: &Arc<std::fs::File>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_idle(cx))?;
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.ahead = 0;
        let mut buf = std::mem::take(self.buf());
        let back = buf.discard_unread();
        let n = buf.copy_from(src);
        let file = std.clone();
        self.state = State::Busy(spawn_blocking(move || {
            let res = seek_back(&file, back).and_then(|()| buf.write_to(&file));
            (Op::Write(res), buf)
        }));
        Poll::Ready(Ok(n))
    }

    fn poll_seek(
        &mut self,
        std: &Arc<std::fs::File>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        self.ahead = 0;
        loop {
            if let Some(Op::Seek(res)) = ready!(self.poll_idle(cx))? {
                return Poll::Ready(res);
            }
            // The file's cursor is ahead of the reader by the unread bytes.
            let unread = self.buf().unread();
            let pos = match pos {
                SeekFrom::Current(offset) => match offset.checked_sub(unread) {
                    Some(offset) => SeekFrom::Current(offset),
                    None => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "invalid seek to a negative or overflowing position",
                        )))
                    }
                },
                other => other,
            };
            let mut buf = std::mem::take(self.buf());
            let back = buf.discard_unread();
            let file = std.clone();
            self.state = State::Busy(spawn_blocking(move || {
                let res = (&*file).seek(pos);
                if res.is_err() {
                    // The cursor did not move: put it where the reader is,
                    // since the unread bytes are gone.
                    let _ = seek_back(&file, back);
                }
                (Op::Seek(res), buf)
            }));
        }
    }
}

/// Moves the cursor of `file` by `back` (0 or negative), if not 0.
fn seek_back(file: &std::fs::File, back: i64) -> io::Result<()> {
    if back != 0 {
        (&*file).seek(SeekFrom::Current(back))?;
    }
    Ok(())
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        me.inner.get_mut().poll_read(&me.std, cx, buf)
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        me.inner.get_mut().poll_write(&me.std, cx, buf)
    }

    /// Waits for the write in flight; returns its error, or an earlier
    /// write's that no operation has returned yet.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.get_mut().poll_idle(cx).map_ok(drop)
    }

    /// As [`poll_flush`](File::poll_flush); the file closes when dropped.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    /// Waits for the operation in flight (returning a failed write's
    /// error), then seeks. A seek that returned `Pending` has started:
    /// polling again returns its result.
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let me = self.get_mut();
        me.inner.get_mut().poll_seek(&me.std, cx, pos)
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File").field("std", &self.std).finish()
    }
}

/// The bytes between the file and its user: those of a write on their way
/// to the pool, or those a read fetched that the reader has not taken yet
/// (`bytes[pos..end]`). `bytes` only grows (to at most [`MAX_BUF`]), so
/// that a read does not zero its space again each time.
#[derive(Default)]
struct Buf {
    bytes: Vec<u8>,
    pos: usize,
    end: usize,
}

impl Buf {
    fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    /// The bytes read ahead and not yet taken, as a seek offset.
    fn unread(&self) -> i64 {
        (self.end - self.pos) as i64
    }

    fn clear(&mut self) {
        (self.pos, self.end) = (0, 0);
    }

    /// Space for `len` bytes from the start, made the buffer's contents.
    fn space(&mut self, len: usize) -> &mut [u8] {
        debug_assert!(self.is_empty());
        if self.bytes.len() < len {
            self.bytes.resize(len, 0);
        }
        (self.pos, self.end) = (0, len);
        &mut self.bytes[..len]
    }

    /// Copies unread bytes into `dst`; returns how many.
    fn copy_to(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.end - self.pos);
        dst[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        if self.is_empty() {
            self.clear();
        }
        n
    }

    /// Takes up to [`MAX_BUF`] bytes of `src` to write; returns how many.
    fn copy_from(&mut self, src: &[u8]) -> usize {
        let n = src.len().min(MAX_BUF);
        self.space(n).copy_from_slice(&src[..n]);
        n
    }

    /// Drops the unread bytes; returns the seek offset (0 or negative) that
    /// puts the file's cursor back where the reader stands.
    fn discard_unread(&mut self) -> i64 {
        let back = -self.unread();
        self.clear();
        back
    }

    /// One read of up to `len` bytes from `file` (retried if interrupted).
    fn read_from(&mut self, file: &std::fs::File, len: usize) -> io::Result<usize> {
        let space = self.space(len);
        let res = loop {
            match (&*file).read(space) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                res => break res,
            }
        };
        self.end = *res.as_ref().unwrap_or(&0);
        res
    }

    /// Writes all the bytes to `file`, and empties the buffer either way.
    fn write_to(&mut self, file: &std::fs::File) -> io::Result<()> {
        let res = (&*file).write_all(&self.bytes[self.pos..self.end]);
        self.clear();
        res
    }
}
