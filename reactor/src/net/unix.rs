//! Unix domain sockets (Go's `net.UnixListener` and `net.UnixConn`):
//! [`UnixListener`], [`UnixStream`] and [`UnixDatagram`], which are also
//! re-exported at `gort::net`, and what goes with them: the owned halves
//! of [`UnixStream::into_split`], the peer's credentials ([`UCred`], on
//! Linux and Android), [`Incoming`], and std's [`SocketAddr`] that the
//! address methods return.
//!
//! Binding a path where a file already exists fails with the OS's
//! `AddrInUse`, and the message names the path and says to remove a
//! socket file left by a process that has exited. gort removes no file:
//! not when binding, and not when a listener or socket is dropped (as
//! tokio); the program that binds a path removes the file when it is done.
//!
//! ```
//! use futures::{AsyncReadExt, AsyncWriteExt};
//! use gort::net::{UnixListener, UnixStream};
//! # futures::executor::block_on(async {
//! let path = std::env::temp_dir().join(format!("gort-doc-unix-{}.sock", std::process::id()));
//! let listener = UnixListener::bind(&path)?;
//! let client = async {
//!     let mut s = UnixStream::connect(&path).await?;
//!     s.write_all(b"ping").await?;
//!     s.close().await?; // shuts down writing: the server reads EOF
//!     let mut reply = Vec::new();
//!     s.read_to_end(&mut reply).await?;
//!     Ok::<_, std::io::Error>(reply)
//! };
//! let server = async {
//!     let (mut s, _peer) = listener.accept().await?;
//!     let mut got = Vec::new();
//!     s.read_to_end(&mut got).await?;
//!     s.write_all(&got).await?;
//!     Ok::<_, std::io::Error>(())
//! };
//! let (reply, ()) = futures::try_join!(client, server)?;
//! assert_eq!(reply, b"ping");
//! std::fs::remove_file(&path)?;
//! # Ok::<_, std::io::Error>(()) }).unwrap();
//! ```

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use std::os::unix::net::SocketAddr;

use mio::Interest;

use super::stream::StreamIo;
use crate::io::{Direction, Registration};

/// What the error of binding a path where a file exists says to do.
const FILE_EXISTS_HINT: &str = "a file is at that path: if it is a socket file left by a \
    process that has exited, remove it first (gort does not remove it)";

/// Binds `path` with `bind`; a failure names the path (and, for
/// `AddrInUse`, says what to do about the file there).
fn bind_path<T>(path: &Path, bind: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    bind(path).map_err(|e| {
        let hint = (e.kind() == io::ErrorKind::AddrInUse).then_some(FILE_EXISTS_HINT);
        super::bind_error(path.display(), e, hint)
    })
}

/// A Unix socket listening for stream connections on a path (Go's
/// `net.UnixListener`). See the [module docs](self) for a client and a
/// server.
pub struct UnixListener {
    reg: Registration<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens (mio's backlog: on Linux the longest
    /// accept queue the kernel allows, `net.core.somaxconn`, as gort's TCP
    /// listeners). A file at `path` makes it fail with `AddrInUse`, whose
    /// message names the path; a socket file left by a process that has
    /// exited must be removed first.
    ///
    /// ```
    /// use gort::net::UnixListener;
    /// let path = std::env::temp_dir().join(format!("gort-doc-bind-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// drop(listener);
    /// // The file stays: binding again fails until it is removed.
    /// let err = UnixListener::bind(&path).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// assert!(err.to_string().contains(&*path.to_string_lossy()));
    /// std::fs::remove_file(&path)?;
    /// let _again = UnixListener::bind(&path)?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        Self::new(bind_path(path.as_ref(), |p| {
            mio::net::UnixListener::bind(p)
        })?)
    }

    fn new(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            reg: Registration::new(listener, Interest::READABLE)?,
        })
    }

    /// Wraps a std listener (made non-blocking here).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Self::new(mio::net::UnixListener::from_std(listener))
    }

    /// Waits for a connection: the stream and the client's address
    /// (unnamed, unless the client bound its socket to a path).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.reg.io(Direction::Read, |l| l.accept()).await?;
        Ok((UnixStream::new(stream)?, addr))
    }

    /// Polls for a connection. Only the task that polled last is woken
    /// when one arrives (as tokio's); tasks that accept on one shared
    /// listener use [`accept`](Self::accept), where each waits in its own
    /// place.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.reg
            .poll_io(cx, Direction::Read, |l| l.accept())
            .map(|r| r.and_then(|(stream, addr)| Ok((UnixStream::new(stream)?, addr))))
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

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// The `Stream` of [`UnixListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

/// A Unix stream connection (Go's `net.UnixConn`): `futures::io::AsyncRead`
/// and `AsyncWrite` (also on `&UnixStream`, so two tasks can read and
/// write one stream, and tokio's with the `tokio-io` feature); closing it
/// (`poll_close`) shuts down the write direction, so the peer reads EOF.
///
/// ```
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use gort::net::UnixStream;
/// # futures::executor::block_on(async {
/// let (a, mut b) = UnixStream::pair()?;
/// // The halves can move to different tasks.
/// let (mut rd, mut wr) = a.into_split();
/// wr.write_all(b"hello").await?;
/// drop(wr); // shuts down writing
/// let mut got = Vec::new();
/// b.read_to_end(&mut got).await?;
/// assert_eq!(got, b"hello");
/// b.write_all(b"back").await?;
/// let mut buf = [0u8; 4];
/// rd.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"back");
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub struct UnixStream {
    io: StreamIo<mio::net::UnixStream>,
}

impl UnixStream {
    fn new(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: StreamIo::new(stream)?,
        })
    }

    /// Connects to the listener at `path`. A full accept queue is the OS's
    /// error at once (`WouldBlock`, as Go's and tokio's connect return
    /// it), not a wait.
    ///
    /// ```
    /// use gort::net::{UnixListener, UnixStream};
    /// # futures::executor::block_on(async {
    /// let path = std::env::temp_dir().join(format!("gort-doc-connect-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let (client, accepted) = futures::join!(UnixStream::connect(&path), listener.accept());
    /// let (client, (server, _)) = (client?, accepted?);
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// assert_eq!(server.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// // Nobody listens at a removed path.
    /// let err = UnixStream::connect(&path).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let stream = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        stream.io.connected().await?;
        Ok(stream)
    }

    /// A connected pair of unnamed sockets (`socketpair(2)`).
    ///
    /// ```
    /// use futures::{AsyncReadExt, AsyncWriteExt};
    /// use gort::net::UnixStream;
    /// # futures::executor::block_on(async {
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.write_all(b"ping").await?;
    /// let mut buf = [0u8; 4];
    /// b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"ping");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
    }

    /// Wraps a connected std stream (made non-blocking here).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(mio::net::UnixStream::from_std(stream))
    }

    /// The local address (unnamed unless this socket was bound to a path:
    /// the accepted side of a listener's connection has the listener's).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// The remote address (the listener's path, on the connecting side).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }

    /// The credentials of the peer process, as they were when it connected
    /// (or, for [`pair`](Self::pair), created the pair): `SO_PEERCRED`.
    ///
    /// ```
    /// use gort::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let cred = a.peer_cred()?;
    /// assert_eq!(cred.pid(), Some(std::process::id() as i32));
    /// # Ok::<_, std::io::Error>(())
    /// ```
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn peer_cred(&self) -> io::Result<UCred> {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        let c = getsockopt(self.io.source(), PeerCredentials)?;
        Ok(UCred {
            pid: (c.pid() != 0).then_some(c.pid()),
            uid: c.uid(),
            gid: c.gid(),
        })
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.source().shutdown(how)
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

super::stream::owned_halves!(UnixStream, mio::net::UnixStream, SocketAddr);

/// The credentials of a Unix socket's peer process
/// ([`UnixStream::peer_cred`]).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UCred {
    pid: Option<i32>,
    uid: u32,
    gid: u32,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl UCred {
    /// The peer's process id; `None` where the kernel gave none (0: the
    /// process is in a PID namespace this one cannot see).
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// The peer's effective user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The peer's effective group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }
}

/// A Unix datagram socket (Go's `net.UnixConn` on a `unixgram` address):
/// bound to a path, unbound, or one of a pair. Several tasks may share one
/// (through an `Arc`). The address of an unbound socket, and so of a
/// datagram it sent, is unnamed.
///
/// ```
/// use gort::net::UnixDatagram;
/// # futures::executor::block_on(async {
/// let dir = std::env::temp_dir();
/// let a_path = dir.join(format!("gort-doc-dgram-a-{}.sock", std::process::id()));
/// let b_path = dir.join(format!("gort-doc-dgram-b-{}.sock", std::process::id()));
/// let a = UnixDatagram::bind(&a_path)?;
/// let b = UnixDatagram::bind(&b_path)?;
/// a.send_to(b"hello", &b_path).await?;
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!(&buf[..n], b"hello");
/// assert_eq!(from.as_pathname(), Some(a_path.as_path()));
/// std::fs::remove_file(&a_path)?;
/// std::fs::remove_file(&b_path)?;
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub struct UnixDatagram {
    reg: Registration<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to `path`. A file at `path` makes it fail with `AddrInUse`,
    /// as [`UnixListener::bind`].
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        Self::new(bind_path(path.as_ref(), |p| {
            mio::net::UnixDatagram::bind(p)
        })?)
    }

    /// A socket bound to no path: it can send (to a path, or to the peer
    /// it is [connected](Self::connect) to) but nobody can address a reply
    /// to it.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Self::new(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of unnamed sockets (`socketpair(2)`).
    ///
    /// ```
    /// use gort::net::UnixDatagram;
    /// # futures::executor::block_on(async {
    /// let (a, b) = UnixDatagram::pair()?;
    /// a.send(b"one").await?;
    /// a.send(b"two").await?;
    /// let mut buf = [0u8; 16];
    /// let n = b.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"one", "datagrams keep their bounds");
    /// let n = b.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"two");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((Self::new(a)?, Self::new(b)?))
    }

    fn new(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            reg: Registration::new(socket, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Wraps a std socket (made non-blocking here).
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Self::new(mio::net::UnixDatagram::from_std(socket))
    }

    /// Sets the default peer (synchronous, as std's): `send` goes there
    /// and `recv` takes only its datagrams.
    ///
    /// ```
    /// use gort::net::UnixDatagram;
    /// # futures::executor::block_on(async {
    /// let path = std::env::temp_dir().join(format!("gort-doc-dconn-{}.sock", std::process::id()));
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// client.send(b"hi").await?;
    /// let mut buf = [0u8; 8];
    /// let n = server.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hi");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.reg.source().connect(path)
    }

    /// Sends one datagram to the socket bound at `target`.
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], target: P) -> io::Result<usize> {
        let target = target.as_ref();
        self.reg
            .io(Direction::Write, |s| s.send_to(buf, target))
            .await
    }

    /// Polls sending one datagram to `target`. Only the task that polled
    /// last is woken when the socket becomes writable (as tokio's); tasks
    /// that share the socket use [`send_to`](Self::send_to), where each
    /// waits in its own place.
    pub fn poll_send_to<P: AsRef<Path>>(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: P,
    ) -> Poll<io::Result<usize>> {
        let target = target.as_ref();
        self.reg
            .poll_io(cx, Direction::Write, |s| s.send_to(buf, target))
    }

    super::datagram::datagram_methods!(SocketAddr);

    /// Shuts down reading, writing or both. After `Shutdown::Write` a
    /// send fails with `BrokenPipe`, and so does the peer's send to a
    /// socket that shut down reading. A datagram socket has no end of
    /// stream: a `recv` after `Shutdown::Read` waits (for a datagram that
    /// cannot come) until it is cancelled.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.reg.source().shutdown(how)
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
