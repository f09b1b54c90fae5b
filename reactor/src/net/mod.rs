//! TCP, UDP and Unix domain sockets on the reactor (Go's `net` over its
//! netpoller): [`TcpListener`], [`TcpStream`] (`futures::io::AsyncRead`/
//! `AsyncWrite`, and tokio's with the `tokio-io` feature), [`UdpSocket`];
//! on Unix [`UnixListener`], [`UnixStream`] (the same io traits) and
//! [`UnixDatagram`], with the stream's owned halves and the peer's
//! credentials in [`unix`].
//!
//! Errors are the OS's `io::Error`s, unchanged, but for `bind`'s: a bind
//! that fails names the address or path it tried ("cannot bind
//! 127.0.0.1:8080: Address already in use (os error 98)"), with the OS
//! error's `io::ErrorKind` and the OS error itself as the wrapper's
//! `source`; binding a Unix socket path where a file exists also says
//! that a socket file left by a process that exited must be removed.
//! Address arguments take what `std::net::ToSocketAddrs` takes, through
//! gort's own [`ToSocketAddrs`]: a host name is looked up on a thread of
//! its own, never on the caller's (see [`lookup_host`]). Each resolved
//! address is tried in turn, and the last error is returned if none
//! works.

mod addr;
mod datagram;
mod stream;
mod tcp;
mod udp;
#[cfg(unix)]
pub mod unix;

pub use addr::{lookup_host, ToSocketAddrs};
pub use tcp::{Incoming, OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::error::Error;
use std::fmt;
use std::io;
use std::net::SocketAddr;

pub(crate) use addr::resolve;

/// Runs `f` on each of `addrs` until one succeeds.
fn each_addr<T>(
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match f(a) {
            Ok(v) => return Ok(v),
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

/// Binds on each address of `addr` until one succeeds; a failure names
/// the address (see the module docs).
fn bind_each<T>(
    addrs: Vec<SocketAddr>,
    mut bind: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    each_addr(addrs, |a| {
        bind(a).map_err(|source| bind_error(a, source, None))
    })
}

/// The error of a failed bind: `source`'s kind, a message that names
/// `addr` (and says `hint`, if any), `source` as its source.
fn bind_error(addr: impl fmt::Display, source: io::Error, hint: Option<&'static str>) -> io::Error {
    let kind = source.kind();
    io::Error::new(
        kind,
        BindError {
            addr: addr.to_string(),
            hint,
            source,
        },
    )
}

/// A failed bind: the address or path, the OS's error, what to do.
#[derive(Debug)]
struct BindError {
    addr: String,
    hint: Option<&'static str>,
    source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot bind {}: {}", self.addr, self.source)?;
        match self.hint {
            Some(hint) => write!(f, "; {hint}"),
            None => Ok(()),
        }
    }
}

impl Error for BindError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}
