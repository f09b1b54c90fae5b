//! TCP and UDP on the reactor (Go's `net` over its netpoller):
//! [`TcpListener`], [`TcpStream`] (`futures::io::AsyncRead`/`AsyncWrite`,
//! and tokio's with the `tokio-io` feature), [`UdpSocket`].
//!
//! Errors are the OS's `io::Error`s, unchanged. Address arguments take
//! anything `std::net::ToSocketAddrs` takes; each resolved address is tried
//! in turn, and the last error is returned if none works.

mod tcp;
mod udp;

pub use tcp::{Incoming, OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Runs `f` on each address of `addr` until one succeeds.
fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
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
