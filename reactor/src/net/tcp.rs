//! TCP: listener, stream, owned halves.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};

use super::stream::StreamIo;
use super::ToSocketAddrs;
use std::pin::Pin;
use std::task::{Context, Poll};

use mio::Interest;

use crate::io::{Direction, Registration};

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
    io: StreamIo<mio::net::TcpStream>,
}

impl TcpStream {
    fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: StreamIo::new(stream)?,
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
        stream.io.connected().await?;
        Ok(stream)
    }

    /// Wraps a connected std stream (made non-blocking here).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.source().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.source().nodelay()
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.source().shutdown(how)
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

super::stream::owned_halves!(TcpStream, mio::net::TcpStream, SocketAddr);
