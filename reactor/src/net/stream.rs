//! What the TCP and Unix stream types share: reads and writes on a
//! registered stream socket ([`StreamIo`]), waiting for a connect to
//! finish, shutting down writing, the write half that shuts down writing
//! when it is dropped ([`WriteHalf`]), and the io traits on each stream
//! type and half ([`io_traits!`]: futures-io's, and tokio's with the
//! `tokio-io` feature).

use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::task::{Context, Poll};

use mio::Interest;

use crate::io::{Direction, Registration};

/// Whether a stream read shorter than its buffer means the next one would
/// block, with an edge to come for new data (see [`StreamIo::poll_read`]).
const SHORT_READ_DRAINS: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)) && !cfg!(mio_unsupported_force_poll_poll);

/// A mio stream socket: what [`StreamIo`] needs of it.
pub(crate) trait StreamSource: mio::event::Source {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&self, buf: &[u8]) -> io::Result<usize>;
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
    fn take_error(&self) -> io::Result<Option<io::Error>>;
    /// `Ok` once connected (the peer's address can be read).
    fn connected(&self) -> io::Result<()>;
}

macro_rules! stream_source {
    ($($t:ty),*) => {$(
        impl StreamSource for $t {
            fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <&$t as Read>::read(&mut &*self, buf)
            }

            fn write(&self, buf: &[u8]) -> io::Result<usize> {
                <&$t as Write>::write(&mut &*self, buf)
            }

            fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                <&$t as Write>::write_vectored(&mut &*self, bufs)
            }

            fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                <$t>::shutdown(self, how)
            }

            fn take_error(&self) -> io::Result<Option<io::Error>> {
                <$t>::take_error(self)
            }

            fn connected(&self) -> io::Result<()> {
                <$t>::peer_addr(self).map(drop)
            }
        }
    )*};
}

stream_source!(mio::net::TcpStream);
#[cfg(unix)]
stream_source!(mio::net::UnixStream);

/// A registered stream socket, shared by a stream's owned halves.
pub(crate) struct StreamIo<S: StreamSource> {
    reg: Arc<Registration<S>>,
}

impl<S: StreamSource> StreamIo<S> {
    pub(crate) fn new(source: S) -> io::Result<Self> {
        Ok(StreamIo {
            reg: Arc::new(Registration::new(
                source,
                Interest::READABLE | Interest::WRITABLE,
            )?),
        })
    }

    pub(crate) fn source(&self) -> &S {
        self.reg.source()
    }

    /// A second handle on the same registration (for `into_split`).
    pub(crate) fn share(&self) -> Self {
        StreamIo {
            reg: self.reg.clone(),
        }
    }

    /// Waits until a connect started on the socket has finished: `Ok`
    /// once it is connected, or the connect's error.
    pub(crate) async fn connected(&self) -> io::Result<()> {
        loop {
            let ev = poll_fn(|cx| self.reg.poll_ready_event(cx, Direction::Write)).await;
            let s = self.source();
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.connected() {
                Ok(()) => return Ok(()),
                // Not connected yet (a spurious wake-up): wait again.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => self.reg.clear_ready(ev),
                Err(e) => return Err(e),
            }
        }
    }

    /// A read that returns less than `buf` asked for emptied the socket's
    /// receive queue: it clears `READABLE`, so the next read waits for the
    /// next edge instead of making a `read` syscall that would block (one
    /// `recvfrom` per echoed message instead of two; see ARCHITECTURE.md,
    /// "Readiness"). Only where mio's events are edges the kernel raises
    /// for new data (epoll, kqueue); mio's Windows and poll(2) backends
    /// re-arm a source only after an operation returned `WouldBlock`, so
    /// there a short read is not enough. A read can end short with data
    /// still queued only in cases gort never sets up: urgent TCP data;
    /// on a Unix socket, passed descriptors, out-of-band data, and
    /// `SO_PASSCRED` (then data of different senders is not joined in one
    /// read). tokio makes the same trade.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.reg.poll_io_emptying(
            cx,
            Direction::Read,
            |s| s.read(buf),
            |&n| SHORT_READ_DRAINS && n > 0 && n < len,
        )
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.reg.poll_io(cx, Direction::Write, |s| s.write(buf))
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.reg
            .poll_io(cx, Direction::Write, |s| s.write_vectored(bufs))
    }

    /// tokio's read: into the unfilled part of `buf`.
    #[cfg(feature = "tokio-io")]
    pub(crate) fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = std::task::ready!(self.poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    pub(crate) fn shutdown_write(&self) -> Poll<io::Result<()>> {
        match self.source().shutdown(Shutdown::Write) {
            // Already shut down, or the peer is gone: nothing to flush.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            r => Poll::Ready(r),
        }
    }
}

/// A stream type or half: its socket, and what closing it does.
pub(crate) trait AsStreamIo {
    type Source: StreamSource;

    fn stream_io(&self) -> &StreamIo<Self::Source>;

    /// `poll_close` (tokio's `poll_shutdown`): shuts down writing.
    fn close_write(&mut self) -> Poll<io::Result<()>> {
        self.stream_io().shutdown_write()
    }
}

impl<T: AsStreamIo> AsStreamIo for &T {
    type Source = T::Source;

    fn stream_io(&self) -> &StreamIo<T::Source> {
        (**self).stream_io()
    }
}

/// The write half of a split stream: shuts down writing when dropped,
/// unless it was closed already.
#[derive(Debug)]
pub(crate) struct WriteHalf<T: AsStreamIo> {
    stream: T,
    shutdown_on_drop: bool,
}

impl<T: AsStreamIo> WriteHalf<T> {
    pub(crate) fn new(stream: T) -> Self {
        WriteHalf {
            stream,
            shutdown_on_drop: true,
        }
    }

    pub(crate) fn stream(&self) -> &T {
        &self.stream
    }

    pub(crate) fn close(&mut self) -> Poll<io::Result<()>> {
        self.shutdown_on_drop = false;
        self.stream.stream_io().shutdown_write()
    }
}

impl<T: AsStreamIo> Drop for WriteHalf<T> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.stream.stream_io().shutdown_write();
        }
    }
}

/// futures-io's `AsyncRead` (and with `tokio-io` tokio's) for each `read:`
/// type, and `AsyncWrite` for each `write:` type; every type is
/// [`AsStreamIo`]. Writes go straight to the socket (flushing does
/// nothing); closing shuts down writing ([`AsStreamIo::close_write`]).
macro_rules! io_traits {
    (read: $($r:ty),*; write: $($w:ty),*) => {
        $(
            impl futures_io::AsyncRead for $r {
                fn poll_read(
                    self: std::pin::Pin<&mut Self>,
                    cx: &mut std::task::Context<'_>,
                    buf: &mut [u8],
                ) -> std::task::Poll<std::io::Result<usize>> {
                    $crate::net::stream::AsStreamIo::stream_io(&*self).poll_read(cx, buf)
                }
            }

            #[cfg(feature = "tokio-io")]
            impl tokio::io::AsyncRead for $r {
                fn poll_read(
                    self: std::pin::Pin<&mut Self>,
                    cx: &mut std::task::Context<'_>,
                    buf: &mut tokio::io::ReadBuf<'_>,
                ) -> std::task::Poll<std::io::Result<()>> {
                    $crate::net::stream::AsStreamIo::stream_io(&*self).poll_read_buf(cx, buf)
                }
            }
        )*
        $(
            impl futures_io::AsyncWrite for $w {
                fn poll_write(
                    self: std::pin::Pin<&mut Self>,
                    cx: &mut std::task::Context<'_>,
                    buf: &[u8],
                ) -> std::task::Poll<std::io::Result<usize>> {
                    $crate::net::stream::AsStreamIo::stream_io(&*self).poll_write(cx, buf)
                }

                fn poll_write_vectored(
                    self: std::pin::Pin<&mut Self>,
                    cx: &mut std::task::Context<'_>,
                    bufs: &[std::io::IoSlice<'_>],
                ) -> std::task::Poll<std::io::Result<usize>> {
                    $crate::net::stream::AsStreamIo::stream_io(&*self)
                        .poll_write_vectored(cx, bufs)
                }

                fn poll_flush(
                    self: std::pin::Pin<&mut Self>,
                    _cx: &mut std::task::Context<'_>,
                ) -> std::task::Poll<std::io::Result<()>> {
                    std::task::Poll::Ready(Ok(()))
                }

                fn poll_close(
                    self: std::pin::Pin<&mut Self>,
                    _cx: &mut std::task::Context<'_>,
                ) -> std::task::Poll<std::io::Result<()>> {
                    $crate::net::stream::AsStreamIo::close_write(self.get_mut())
                }
            }

            #[cfg(feature = "tokio-io")]
            impl tokio::io::AsyncWrite for $w {
                fn poll_write(
                    self: std::pin::Pin<&mut Self>,
                    cx: &mut std::task::Context<'_>,
                    buf: &[u8],
                ) -> std::task::Poll<std::io::Result<usize>> {
                    futures_io::AsyncWrite::poll_write(self, cx, buf)
                }

                fn poll_write_vectored(
                    self: std::pin::Pin<&mut Self>,
                    cx: &mut std::task::Context<'_>,
                    bufs: &[std::io::IoSlice<'_>],
                ) -> std::task::Poll<std::io::Result<usize>> {
                    futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
                }

                fn is_write_vectored(&self) -> bool {
                    true
                }

                fn poll_flush(
                    self: std::pin::Pin<&mut Self>,
                    cx: &mut std::task::Context<'_>,
                ) -> std::task::Poll<std::io::Result<()>> {
                    futures_io::AsyncWrite::poll_flush(self, cx)
                }

                fn poll_shutdown(
                    self: std::pin::Pin<&mut Self>,
                    cx: &mut std::task::Context<'_>,
                ) -> std::task::Poll<std::io::Result<()>> {
                    futures_io::AsyncWrite::poll_close(self, cx)
                }
            }
        )*
    };
}

pub(crate) use io_traits;

/// For the stream type `$stream` (a struct whose `io` field is its
/// `StreamIo<$source>`, with `peer_addr` and `local_addr` methods that
/// return `$addr`): `into_split` and the two owned halves,
/// `OwnedReadHalf` and `OwnedWriteHalf` (which the calling module must
/// not define), and the io traits ([`io_traits!`]) on the stream, on
/// `&$stream` and on the halves.
macro_rules! owned_halves {
    ($stream:ident, $source:ty, $addr:ty) => {
        impl $stream {
            /// Splits into a read half and a write half that can move to
            /// different tasks. Dropping the write half shuts down writing.
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                let read = $stream {
                    io: self.io.share(),
                };
                (
                    OwnedReadHalf { stream: read },
                    OwnedWriteHalf {
                        half: $crate::net::stream::WriteHalf::new(self),
                    },
                )
            }
        }

        impl $crate::net::stream::AsStreamIo for $stream {
            type Source = $source;

            fn stream_io(&self) -> &$crate::net::stream::StreamIo<$source> {
                &self.io
            }
        }

        #[doc = concat!("The read half of [`", stringify!($stream), "::into_split`].")]
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            stream: $stream,
        }

        impl OwnedReadHalf {
            /// The remote address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.stream.peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.stream.local_addr()
            }
        }

        impl $crate::net::stream::AsStreamIo for OwnedReadHalf {
            type Source = $source;

            fn stream_io(&self) -> &$crate::net::stream::StreamIo<$source> {
                &self.stream.io
            }
        }

        #[doc = concat!(
            "The write half of [`", stringify!($stream), "::into_split`]; dropping it (or ",
            "closing it) shuts down writing."
        )]
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            half: $crate::net::stream::WriteHalf<$stream>,
        }

        impl OwnedWriteHalf {
            /// The remote address.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.half.stream().peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.half.stream().local_addr()
            }
        }

        impl $crate::net::stream::AsStreamIo for OwnedWriteHalf {
            type Source = $source;

            fn stream_io(&self) -> &$crate::net::stream::StreamIo<$source> {
                &self.half.stream().io
            }

            fn close_write(&mut self) -> std::task::Poll<std::io::Result<()>> {
                self.half.close()
            }
        }

        $crate::net::stream::io_traits!(
            read: $stream, &$stream, OwnedReadHalf;
            write: $stream, &$stream, OwnedWriteHalf
        );
    };
}

pub(crate) use owned_halves;
