//! Address arguments and name resolution off the worker threads.
//!
//! `std::net::ToSocketAddrs` resolves a host name with a blocking
//! `getaddrinfo` call: on a worker that would stall every task queued
//! there for as long as DNS takes, and no `timeout` could interrupt it.
//! gort's [`ToSocketAddrs`] takes the same argument types; literal
//! addresses (`"127.0.0.1:80"`, `SocketAddr`, `(IpAddr, u16)`) resolve at
//! once, and a host name is looked up on a thread of its own (named
//! `gort-dns`), which the caller awaits. A thread per lookup is the price
//! of a crate that depends on no executor; a lookup is milliseconds of
//! network, the thread tens of microseconds.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// What a [`ToSocketAddrs`] argument resolves to: addresses now, or a
/// `host:port` to look up.
#[doc(hidden)]
pub enum Resolved {
    Now(io::Result<Vec<SocketAddr>>),
    Lookup(String),
}

mod sealed {
    /// Keeps [`ToSocketAddrs`](super::ToSocketAddrs) closed to the types
    /// below.
    pub trait Sealed {
        fn resolved(&self) -> super::Resolved;
    }
}

/// The address arguments of `gort::net` (tokio's `ToSocketAddrs`): the
/// types `std::net::ToSocketAddrs` takes, resolved without blocking the
/// caller's thread (see the module docs). Sealed: implemented for
/// `SocketAddr` (and its V4/V6 forms), `(IpAddr | Ipv4Addr | Ipv6Addr |
/// &str | String, u16)`, `&str`, `String`, `&[SocketAddr]` and
/// references to these.
pub trait ToSocketAddrs: sealed::Sealed {}

fn now(addrs: Vec<SocketAddr>) -> Resolved {
    Resolved::Now(Ok(addrs))
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {
            fn resolved(&self) -> Resolved {
                now(vec![SocketAddr::from(*self)])
            }
        }
        impl ToSocketAddrs for $t {}
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl sealed::Sealed for str {
    fn resolved(&self) -> Resolved {
        match self.parse::<SocketAddr>() {
            Ok(a) => now(vec![a]),
            Err(_) => Resolved::Lookup(self.to_owned()),
        }
    }
}
impl ToSocketAddrs for str {}

impl sealed::Sealed for String {
    fn resolved(&self) -> Resolved {
        self.as_str().resolved()
    }
}
impl ToSocketAddrs for String {}

impl sealed::Sealed for (&str, u16) {
    fn resolved(&self) -> Resolved {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => now(vec![SocketAddr::new(ip, port)]),
            Err(_) => Resolved::Lookup(format!("{host}:{port}")),
        }
    }
}
impl ToSocketAddrs for (&str, u16) {}

impl sealed::Sealed for (String, u16) {
    fn resolved(&self) -> Resolved {
        (self.0.as_str(), self.1).resolved()
    }
}
impl ToSocketAddrs for (String, u16) {}

impl sealed::Sealed for [SocketAddr] {
    fn resolved(&self) -> Resolved {
        now(self.to_vec())
    }
}
impl ToSocketAddrs for [SocketAddr] {}

impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn resolved(&self) -> Resolved {
        (**self).resolved()
    }
}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

/// The addresses of `addr`, a host name looked up on a `gort-dns` thread.
pub(crate) async fn resolve(addr: &(impl ToSocketAddrs + ?Sized)) -> io::Result<Vec<SocketAddr>> {
    match addr.resolved() {
        Resolved::Now(addrs) => addrs,
        Resolved::Lookup(host_port) => Lookup::start(host_port)?.await,
    }
}

/// What a lookup's thread and its awaiting task share: the result, once
/// there, and the task's waker.
#[derive(Default)]
struct Slot {
    result: Option<io::Result<Vec<SocketAddr>>>,
    waker: Option<Waker>,
}

/// A lookup running on its own thread.
struct Lookup {
    shared: Arc<Mutex<Slot>>,
}

impl Lookup {
    fn start(host_port: String) -> io::Result<Lookup> {
        let shared = Arc::new(Mutex::new(Slot::default()));
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name("gort-dns".into())
            .spawn(move || {
                let result = std::net::ToSocketAddrs::to_socket_addrs(&host_port)
                    .map(|addrs| addrs.collect::<Vec<_>>());
                let waker = {
                    let mut slot = theirs.lock().unwrap_or_else(|e| e.into_inner());
                    slot.result = Some(result);
                    slot.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            })?;
        Ok(Lookup { shared })
    }
}

impl Future for Lookup {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.waker = Some(cx.waker().clone());
                gort_coop::set_wait_reason(gort_coop::WaitReason::IoWait);
                Poll::Pending
            }
        }
    }
}

/// Resolves `host` (for example `"example.com:443"` or `("example.com",
/// 443)`) to its addresses, on a thread of its own when it is a name
/// (tokio's `lookup_host`).
///
/// ```
/// # gort::block_on(async {
/// let addrs: Vec<_> = gort::net::lookup_host("localhost:8080").await?.collect();
/// assert!(addrs.iter().all(|a| a.port() == 8080 && a.ip().is_loopback()));
/// let literal: Vec<_> = gort::net::lookup_host("10.0.0.1:53").await?.collect();
/// assert_eq!(literal, ["10.0.0.1:53".parse().unwrap()]);
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<impl Iterator<Item = SocketAddr>> {
    Ok(resolve(&host).await?.into_iter())
}
