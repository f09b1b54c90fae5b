//! A child's stdin, stdout and stderr: std's pipe ends, made
//! non-blocking and registered with the reactor.

use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::os::unix::io::OwnedFd;
use std::pin::{pin, Pin};
use std::process::Stdio;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use gort_reactor::unix::{AsyncFd, Interest};
use mio::unix::pipe;

/// The read end of a child's stdout or stderr pipe.
struct Reader(AsyncFd<pipe::Receiver>);

impl Reader {
    fn new(end: impl Into<pipe::Receiver>) -> io::Result<Reader> {
        let end = end.into();
        end.set_nonblocking(true)?;
        Ok(Reader(AsyncFd::with_interest(end, Interest::READABLE)?))
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.0.poll_read_with(cx, |mut end| end.read(buf))
    }

    /// Reads to the end of the pipe.
    async fn read_to_end(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let len = out.len();
            out.resize(len + 16 * 1024, 0);
            let n = self.0.read_with(|mut end| end.read(&mut out[len..])).await;
            out.truncate(len + *n.as_ref().unwrap_or(&0));
            if n? == 0 {
                return Ok(out);
            }
        }
    }

    /// The pipe end in blocking mode, for another child's `Stdio`.
    fn into_stdio(self) -> io::Result<Stdio> {
        let end = self.0.into_inner();
        end.set_nonblocking(false)?;
        Ok(Stdio::from(OwnedFd::from(end)))
    }
}

macro_rules! reader {
    ($name:ident, $std:ty, $what:literal) => {
        #[doc = concat!("A child's ", $what, " (`Stdio::piped()`): futures-io `AsyncRead` on the reactor.")]
        pub struct $name(Reader);

        impl $name {
            pub(crate) fn new(end: $std) -> io::Result<$name> {
                Reader::new(end).map($name)
            }

            #[doc = concat!("The pipe as another child's stdin (a pipeline: `a | b`), in blocking mode as a child expects.")]
            pub fn into_stdio(self) -> io::Result<Stdio> {
                self.0.into_stdio()
            }
        }

        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.0.poll_read(cx, buf)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

reader!(ChildStdout, std::process::ChildStdout, "stdout");
reader!(ChildStderr, std::process::ChildStderr, "stderr");

/// A child's stdin (`Stdio::piped()`): futures-io `AsyncWrite` on the
/// reactor. Closing it (`close().await`) or dropping it closes the pipe:
/// the child reads end of input.
pub struct ChildStdin {
    /// `None` once closed.
    end: Option<AsyncFd<pipe::Sender>>,
}

impl ChildStdin {
    pub(crate) fn new(end: std::process::ChildStdin) -> io::Result<ChildStdin> {
        let end = pipe::Sender::from(end);
        end.set_nonblocking(true)?;
        Ok(ChildStdin {
            end: Some(AsyncFd::with_interest(end, Interest::WRITABLE)?),
        })
    }

    /// The pipe as another child's stdout (a pipeline), in blocking mode.
    pub fn into_stdio(mut self) -> io::Result<Stdio> {
        let end = self.end.take().ok_or_else(closed)?.into_inner();
        end.set_nonblocking(false)?;
        Ok(Stdio::from(OwnedFd::from(end)))
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the child's stdin was closed")
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &self.end {
            Some(end) => end.poll_write_with(cx, |mut end| end.write(buf)),
            None => Poll::Ready(Err(closed())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the pipe.
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        drop(self.end.take());
        Poll::Ready(Ok(()))
    }
}

impl std::fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildStdin")
            .field("closed", &self.end.is_none())
            .finish()
    }
}

/// Reads `stdout` and `stderr` to their ends at the same time (a child
/// that fills one pipe while the other is read would otherwise stall).
pub(crate) async fn read_both(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    async fn all(r: Option<Reader>) -> io::Result<Vec<u8>> {
        match r {
            Some(r) => r.read_to_end().await,
            None => Ok(Vec::new()),
        }
    }
    let mut out = pin!(all(stdout.map(|s| s.0)));
    let mut err = pin!(all(stderr.map(|s| s.0)));
    let (mut got_out, mut got_err) = (None, None);
    poll_fn(|cx| {
        if got_out.is_none() {
            if let Poll::Ready(r) = out.as_mut().poll(cx) {
                got_out = Some(r);
            }
        }
        if got_err.is_none() {
            if let Poll::Ready(r) = err.as_mut().poll(cx) {
                got_err = Some(r);
            }
        }
        match (&got_out, &got_err) {
            (Some(_), Some(_)) => Poll::Ready(()),
            _ => Poll::Pending,
        }
    })
    .await;
    Ok((got_out.unwrap()?, got_err.unwrap()?))
}
