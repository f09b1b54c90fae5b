//! UDP.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::ToSocketAddrs;
use std::task::{Context, Poll};

use mio::Interest;

use crate::io::{Direction, Registration};

/// A UDP socket (Go's `net.UDPConn`). Several tasks may share one (through
/// an `Arc`).
///
/// ```
/// use gort::net::UdpSocket;
/// # futures::executor::block_on(async {
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"hello", b.local_addr()?).await?;
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub struct UdpSocket {
    reg: Registration<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (port 0: the OS picks one).
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let socket = super::bind_each(super::resolve(&addr).await?, mio::net::UdpSocket::bind)?;
        Self::new(socket)
    }

    fn new(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            reg: Registration::new(socket, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Wraps a std socket (made non-blocking here).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Self::new(mio::net::UdpSocket::from_std(socket))
    }

    /// Sends one datagram to `target` (its first resolved address).
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = super::resolve(&target)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
            })?;
        self.reg
            .io(Direction::Write, |s| s.send_to(buf, target))
            .await
    }

    /// Polls sending one datagram to `target`. Only the task that polled
    /// last is woken when the socket becomes writable (as tokio's); tasks
    /// that share the socket use [`send_to`](Self::send_to), where each
    /// waits in its own place.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.reg
            .poll_io(cx, Direction::Write, |s| s.send_to(buf, target))
    }

    /// Sets the default peer: `send` goes there and `recv` takes only its
    /// datagrams.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        super::each_addr(super::resolve(&addr).await?, |a| {
            self.reg.source().connect(a)
        })
    }

    super::datagram::datagram_methods!(SocketAddr);
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
