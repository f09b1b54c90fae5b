//! TCP: listener, stream, owned halves.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};

use super::ToSocketAddrs;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use mio::Interest;

use crate::io::{Direction, Registration};

/// Whether a stream read shorter than its buffer means the next one would
/// block, with an edge to come for new data (see `poll_read_priv`).
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
/// A TCP socket listening for connections (Go's `net.Listener`).
///
/// ```
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use gort::net::{TcpListener, TcpStream};
/// # futures::executor::block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let client = async {
///     let mut s = TcpStream::connect(addr).await?;
///     s.write_all(b"ping").await?;
///     s.close().await?; // shuts down writing: the server reads EOF
///     let mut reply = Vec::new();
///     s.read_to_end(&mut reply).await?;
///     Ok::<_, std::io::Error>(reply)
/// };
/// let server = async {
///     let (mut s, _peer) = listener.accept().await?;
///     let mut got = Vec::new();
///     s.read_to_end(&mut got).await?;
///     s.write_all(&got).await?;
///     Ok::<_, std::io::Error>(())
/// };
/// let (reply, ()) = futures::try_join!(client, server)?;
/// assert_eq!(reply, b"ping");
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub struct TcpListener {
    reg: Registration<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (port 0: the OS picks one; see [`local_addr`](Self::local_addr)).
    /// The accept queue is as long as the kernel allows
    /// (`net.core.somaxconn`), as Go's: std and mio ask for 128, and a
    /// burst of connections beyond that loses handshakes.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let listener = super::bind_each(super::resolve(&addr).await?, bind_listener)?;
        Ok(TcpListener {
            reg: Registration::new(listener, Interest::READABLE)?,
        })
    }

    /// Wraps a std listener (made non-blocking here).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            reg: Registration::new(
                mio::net::TcpListener::from_std(listener),
                Interest::READABLE,
            )?,
        })
    }

    /// Waits for a connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.reg.io(Direction::Read, |l| l.accept()).await?;
        Ok((TcpStream::new(stream)?, addr))
    }

    /// Polls for a connection. Only the task that polled last is woken
    /// when one arrives (as tokio's); tasks that accept on one shared
    /// listener use [`accept`](Self::accept), where each waits in its own
    /// place.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self.reg.poll_io(cx, Direction::Read, |l| l.accept()) {
            Poll::Ready(Ok((stream, addr))) => {
                Poll::Ready(TcpStream::new(stream).map(|s| (s, addr)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The connections, as a `Stream` (never ends; errors are items).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.source().local_addr()
    }
}

/// The backlog asked for; the kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 65_535;

fn bind_listener(addr: SocketAddr) -> io::Result<mio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    // Created close-on-exec by socket2.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Rebind at once after a restart (as std's and mio's listeners on Unix).
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// The `Stream` of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

/// A TCP connection (Go's `net.TCPConn`): `futures::io::AsyncRead` and
/// `AsyncWrite` (also on `&TcpStream`, so two tasks can read and write one
/// stream); closing it (`poll_close`) shuts down the write direction, so the
/// peer reads EOF.
pub struct TcpStream {
    reg: Arc<Registration<mio::net::TcpStream>>,
}

impl TcpStream {
    fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            reg: Arc::new(Registration::new(
                stream,
                Interest::READABLE | Interest::WRITABLE,
            )?),
        })
    }

    /// Connects to `addr` (each resolved address in turn).
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let addrs = super::resolve(&addr).await?;
        let mut last = None;
        for a in addrs {
            match Self::connect_one(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any address",
            )
        }))
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::new(mio::net::TcpStream::connect(addr)?)?;
        loop {
            let ev = poll_fn(|cx| stream.reg.poll_ready_event(cx, Direction::Write)).await;
            let s = stream.reg.source();
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => return Ok(stream),
                // Not connected yet (a spurious wake-up): wait again.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => stream.reg.clear_ready(ev),
                Err(e) => return Err(e),
            }
        }
    }

    /// Wraps a connected std stream (made non-blocking here).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.reg.source().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.source().local_addr()
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.reg.source().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.reg.source().nodelay()
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.reg.source().shutdown(how)
    }

    /// Splits into a read half and a write half that can move to different
    /// tasks. Dropping the write half shuts down writing.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                stream: TcpStream {
                    reg: self.reg.clone(),
                },
            },
            OwnedWriteHalf {
                stream: self,
                shutdown_on_drop: true,
            },
        )
    }

    /// A read that returns less than `buf` asked for emptied the socket's
    /// receive queue: it clears `READABLE`, so the next read waits for the
    /// next edge instead of making a `read` syscall that would block (one
    /// `recvfrom` per echoed message instead of two; see ARCHITECTURE.md,
    /// "Readiness"). Only where mio's events are edges the kernel raises
    /// for new data (epoll, kqueue); mio's Windows and poll(2) backends
    /// re-arm a source only after an operation returned `WouldBlock`, so
    /// there a short read is not enough. (Urgent TCP data can end a read
    /// short with data still queued; it is not used by anything gort
    /// serves, and tokio makes the same trade.)
    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.reg.poll_io_emptying(
            cx,
            Direction::Read,
            |s| (&*s).read(buf),
            |&n| SHORT_READ_DRAINS && n > 0 && n < len,
        )
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.reg.poll_io(cx, Direction::Write, |s| (&*s).write(buf))
    }

    fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.reg
            .poll_io(cx, Direction::Write, |s| (&*s).write_vectored(bufs))
    }

    pub(crate) fn shutdown_write(&self) -> Poll<io::Result<()>> {
        match self.reg.source().shutdown(Shutdown::Write) {
            // Already shut down, or the peer is gone: nothing to flush.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            r => Poll::Ready(r),
        }
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

macro_rules! async_io_impls {
    ($ty:ty, $stream:ident) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let $stream = &*self;
                $stream.poll_read_priv(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $stream = &*self;
                $stream.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $stream = &*self;
                $stream.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Writes go straight to the socket.
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $stream = &*self;
                $stream.shutdown_write()
            }
        }
    };
}

async_io_impls!(TcpStream, stream);
async_io_impls!(&TcpStream, stream);

/// The read half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    stream: TcpStream,
}

impl OwnedReadHalf {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read_priv(cx, buf)
    }
}

/// The write half of [`TcpStream::into_split`]; dropping it (or closing
/// it) shuts down writing.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    stream: TcpStream,
    shutdown_on_drop: bool,
}

impl OwnedWriteHalf {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_vectored_priv(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_on_drop = false;
        self.stream.shutdown_write()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.stream.shutdown_write();
        }
    }
}

#[cfg(feature = "tokio-io")]
mod tokio_io {
    //! tokio's `AsyncRead`/`AsyncWrite` on [`TcpStream`] (for hyper).
    use super::*;
    use tokio::io::ReadBuf;

    impl tokio::io::AsyncRead for TcpStream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = match self.poll_read_priv(cx, buf.initialize_unfilled()) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            buf.advance(n);
            Poll::Ready(Ok(()))
        }
    }

    impl tokio::io::AsyncWrite for TcpStream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_priv(cx, buf)
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored_priv(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shutdown_write()
        }
    }
}
