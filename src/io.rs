//! Async I/O traits and helpers (Go's `io` and `bufio`), from the futures
//! crates, so that code on [`gort::net`](crate::net) needs no other
//! dependency: [`AsyncRead`], [`AsyncWrite`], [`AsyncBufRead`] and their
//! extension traits ([`AsyncReadExt`]: `read`, `read_exact`,
//! `read_to_end`; [`AsyncWriteExt`]: `write_all`, `flush`, `close`;
//! [`AsyncBufReadExt`]: `read_line`, `lines`), [`BufReader`] and
//! [`BufWriter`] (Go's `bufio.Reader`/`Writer`), [`copy`] (Go's
//! `io.Copy`) and [`split`]; [`AsyncSeek`] and [`AsyncSeekExt`] (`seek`,
//! to a [`SeekFrom`]) for files.
//!
//! [`TcpStream`](crate::net::TcpStream) implements [`AsyncRead`] and
//! [`AsyncWrite`]; [`File`](crate::fs::File) also [`AsyncSeek`]. A line echo server (Go's `bufio.Scanner` loop); the
//! [`Lines`] of a [`BufReader`] are a stream, read with
//! [`StreamExt::next`](crate::stream::StreamExt::next):
//!
//! ```
//! use gort::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//! use gort::net::{TcpListener, TcpStream};
//! use gort::stream::StreamExt;
//!
//! #[gort::main(worker_threads = 2)]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     gort::spawn(async move {
//!         while let Ok((stream, _)) = listener.accept().await {
//!             // One goroutine per connection: each line back, with its number.
//!             gort::spawn(async move {
//!                 let (rd, mut wr) = stream.into_split();
//!                 let mut lines = BufReader::new(rd).lines();
//!                 let mut n = 0;
//!                 while let Some(line) = lines.next().await {
//!                     n += 1;
//!                     wr.write_all(format!("{n}: {}\n", line?).as_bytes()).await?;
//!                 }
//!                 Ok::<_, std::io::Error>(())
//!             });
//!         }
//!     });
//!
//!     let stream = TcpStream::connect(addr).await?;
//!     let (rd, mut wr) = stream.into_split();
//!     wr.write_all(b"hello\nworld\n").await?;
//!     let mut replies = BufReader::new(rd).lines();
//!     assert_eq!(replies.next().await.transpose()?.as_deref(), Some("1: hello"));
//!     assert_eq!(replies.next().await.transpose()?.as_deref(), Some("2: world"));
//!     Ok(())
//! }
//! ```

pub use futures_util::io::{
    copy, AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt,
    AsyncWrite, AsyncWriteExt, BufReader, BufWriter, Lines, ReadHalf, WriteHalf,
};
pub use std::io::{Error, ErrorKind, Result, SeekFrom};

/// Any Unix file descriptor on the reactor (tokio's `tokio::io::unix`):
/// [`AsyncFd`](unix::AsyncFd) waits for it to become readable or writable.
#[cfg(unix)]
pub mod unix {
    pub use gort_reactor::unix::{AsyncFd, Interest, ReadyGuard, TryIoError};
}

/// Splits a stream that reads and writes into a read half and a write
/// half, for two tasks (the halves share the stream behind a lock; each
/// operation takes it only for one poll).
///
/// A [`TcpStream`](crate::net::TcpStream) has its own
/// [`into_split`](crate::net::TcpStream::into_split), which needs no lock;
/// `split` is for any other [`AsyncRead`] + [`AsyncWrite`], such as a
/// [`BufReader`] around a stream. The halves' `reunite` gives the stream
/// back.
pub fn split<T: AsyncRead + AsyncWrite>(stream: T) -> (ReadHalf<T>, WriteHalf<T>) {
    AsyncReadExt::split(stream)
}
