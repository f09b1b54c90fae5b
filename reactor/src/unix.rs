//! Any Unix file descriptor on the reactor: [`AsyncFd`] (tokio's name)
//! waits for a pipe, a `pidfd`, a device or a socket type that gort does
//! not wrap to become readable or writable, and runs the non-blocking
//! operation when it is.
//!
//! The descriptor must be in non-blocking mode: an operation that would
//! block must return `WouldBlock`, or it blocks the calling worker.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//! use gort::io::unix::AsyncFd;
//!
//! # futures::executor::block_on(async {
//! let (a, mut b) = UnixStream::pair()?;
//! a.set_nonblocking(true)?;
//! let a = AsyncFd::new(a)?;
//! gort::spawn(async move { b.write_all(b"ping") });
//! let mut buf = [0u8; 4];
//! let n = a.read_with(|mut s| s.read(&mut buf)).await?;
//! assert_eq!(&buf[..n], b"ping");
//! # Ok::<_, std::io::Error>(()) }).unwrap();
//! ```

use std::fmt;
use std::io;
use std::ops::BitOr;
use std::os::unix::io::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use crate::io::{Direction, ReadyEvent, Registration};

/// What an [`AsyncFd`] waits for: [`READABLE`](Self::READABLE),
/// [`WRITABLE`](Self::WRITABLE) or both (`|`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Readiness to read (or end of stream, or an error).
    pub const READABLE: Interest = Interest(1);
    /// Readiness to write (or the peer gone, or an error).
    pub const WRITABLE: Interest = Interest(2);

    fn to_mio(self) -> mio::Interest {
        match self.0 {
            1 => mio::Interest::READABLE,
            2 => mio::Interest::WRITABLE,
            _ => mio::Interest::READABLE | mio::Interest::WRITABLE,
        }
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }
}

/// A raw descriptor as a mio source (registered, never closed by it).
struct Fd(RawFd);

impl mio::event::Source for Fd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).deregister(registry)
    }
}

/// A file descriptor owner `T` registered with the reactor (tokio's
/// `AsyncFd`). It deregisters when dropped, before `T` closes the
/// descriptor. See the [module docs](self).
///
/// Tasks may share an `AsyncFd`: the `async fn`s ([`read_with`],
/// [`readable`], ...) each wait in a place of their own, first come first
/// woken; the `poll_*` methods keep one waker per direction (the task that
/// polled last).
///
/// [`read_with`]: Self::read_with
/// [`readable`]: Self::readable
pub struct AsyncFd<T: AsRawFd> {
    // Dropped first: the registration ends while the descriptor is open.
    reg: Registration<Fd>,
    inner: T,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers `inner`'s descriptor for reading and writing.
    ///
    /// # Errors
    ///
    /// The OS's, if the descriptor cannot be polled (a regular file, for
    /// which epoll says `EPERM`) or is already registered.
    pub fn new(inner: T) -> io::Result<Self> {
        Self::with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `inner`'s descriptor for `interest` only.
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<Self> {
        let reg = Registration::new(Fd(inner.as_raw_fd()), interest.to_mio())?;
        Ok(AsyncFd { reg, inner })
    }

    /// The descriptor's owner.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The descriptor's owner, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Deregisters and gives the owner back.
    pub fn into_inner(self) -> T {
        let AsyncFd { reg, inner } = self;
        drop(reg);
        inner
    }

    /// Runs `op` when the descriptor is readable, until it does not
    /// return `WouldBlock` (which clears the readiness and waits for the
    /// next).
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.reg.io(Direction::Read, |_| op(&self.inner)).await
    }

    /// Runs `op` when the descriptor is writable, until it does not return
    /// `WouldBlock`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.reg.io(Direction::Write, |_| op(&self.inner)).await
    }

    /// Polls [`read_with`](Self::read_with)'s operation (for `AsyncRead`
    /// implementations: the task that polled last is woken).
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.reg.poll_io(cx, Direction::Read, |_| op(&self.inner))
    }

    /// Polls [`write_with`](Self::write_with)'s operation.
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.reg.poll_io(cx, Direction::Write, |_| op(&self.inner))
    }

    /// Waits until the descriptor is readable. The guard's
    /// [`try_io`](ReadyGuard::try_io) runs the operation and forgets the
    /// readiness if it would block.
    pub async fn readable(&self) -> io::Result<ReadyGuard<'_, T>> {
        let ev = self.reg.ready(Direction::Read).await;
        Ok(ReadyGuard { fd: self, ev })
    }

    /// Waits until the descriptor is writable (see [`readable`](Self::readable)).
    pub async fn writable(&self) -> io::Result<ReadyGuard<'_, T>> {
        let ev = self.reg.ready(Direction::Write).await;
        Ok(ReadyGuard { fd: self, ev })
    }

    /// Polls [`readable`](Self::readable) (the task that polled last is
    /// woken).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyGuard<'_, T>>> {
        self.reg
            .poll_ready_event(cx, Direction::Read)
            .map(|ev| Ok(ReadyGuard { fd: self, ev }))
    }

    /// Polls [`writable`](Self::writable).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyGuard<'_, T>>> {
        self.reg
            .poll_ready_event(cx, Direction::Write)
            .map(|ev| Ok(ReadyGuard { fd: self, ev }))
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .finish()
    }
}

/// The readiness [`AsyncFd::readable`] or [`writable`](AsyncFd::writable)
/// saw. Dropped as it is, the readiness stays (the next wait returns at
/// once); [`clear_ready`](Self::clear_ready) or a
/// [`try_io`](Self::try_io) that would block forgets it.
pub struct ReadyGuard<'a, T: AsRawFd> {
    fd: &'a AsyncFd<T>,
    ev: ReadyEvent,
}

impl<'a, T: AsRawFd> ReadyGuard<'a, T> {
    /// The descriptor's owner.
    pub fn get_ref(&self) -> &'a T {
        &self.fd.inner
    }

    /// Forgets the readiness (an operation returned `WouldBlock`), unless
    /// a newer event arrived since it was seen.
    pub fn clear_ready(&mut self) {
        self.fd.reg.clear_ready(self.ev);
    }

    /// Runs `op`; if it returns `WouldBlock`, forgets the readiness and
    /// returns `Err(TryIoError)`: wait again.
    pub fn try_io<R>(
        &mut self,
        op: impl FnOnce(&'a T) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match op(&self.fd.inner) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            res => Ok(res),
        }
    }
}

impl<T: AsRawFd> fmt::Debug for ReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyGuard").finish_non_exhaustive()
    }
}

/// [`ReadyGuard::try_io`]'s operation would have blocked; the readiness
/// was forgotten.
#[derive(Debug)]
pub struct TryIoError(());

/// A descriptor whose events run a function on the reactor's driving
/// thread (signals, child exits: the function drains the descriptor and
/// delivers what it read). Deregisters when dropped; the caller keeps the
/// descriptor open until then. Not a stable API.
#[doc(hidden)]
pub struct Watch {
    _reg: Registration<Fd>,
}

impl Watch {
    /// Runs `on_readable` on the driving thread after each readable event
    /// of `fd` (edge-triggered: it must read until `WouldBlock`).
    pub fn readable(
        fd: RawFd,
        on_readable: impl Fn() + Send + Sync + 'static,
    ) -> io::Result<Watch> {
        let reg = Registration::with_on_event(
            Fd(fd),
            mio::Interest::READABLE,
            Some(Box::new(on_readable)),
        )?;
        Ok(Watch { _reg: reg })
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}
