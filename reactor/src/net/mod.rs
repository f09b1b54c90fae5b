//! TCP and UDP on the reactor (Go's `net` over its netpoller):
//! [`TcpListener`], [`TcpStream`] (`futures::io::AsyncRead`/`AsyncWrite`,
//! and tokio's with the `tokio-io` feature), [`UdpSocket`].
//!
//! Errors are the OS's `io::Error`s, unchanged, but for `bind`'s: a bind
//! that fails names the address it tried ("cannot bind 127.0.0.1:8080:
//! Address already in use (os error 98)"), with the OS error's
//! `io::ErrorKind` and the OS error itself as the wrapper's `source`.
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

pub use addr::{lookup_host, ToSocketAddrs};
pub use tcp::{Incoming, OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;

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
        bind(a).map_err(|source| io::Error::new(source.kind(), BindError { addr: a, source }))
    })
}

/// A failed bind: the address and the OS's error.
#[derive(Debug)]
struct BindError {
    addr: SocketAddr,
    source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot bind {}: {}", self.addr, self.source)
    }
}

impl Error for BindError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}
