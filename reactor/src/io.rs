//! Registrations: the readiness of one I/O source and the tasks waiting on
//! it (tokio's `ScheduledIo`, Go's `pollDesc`).
//!
//! Readiness is edge-triggered and sticky: an event sets bits that stay set
//! until an operation hits `WouldBlock` and clears them. A readiness that
//! arrives before the task awaits it is therefore never lost. Each event
//! also bumps a *tick* in the same word; a task clears only the readiness
//! it acted on (same tick), so an event that arrived between its
//! `WouldBlock` and the clear is not wiped out (a write that becomes
//! possible between a `WouldBlock` and the registration is not missed).
//!
//! Registrations live in a slab; the token given to mio is the slot index
//! with the slot's generation in the high bits, so an event for a source
//! that was closed and whose slot was reused is ignored.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::sync::lock;

/// Readiness bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ready(usize);

impl Ready {
    pub(crate) const READABLE: Ready = Ready(1);
    pub(crate) const WRITABLE: Ready = Ready(2);
    pub(crate) const READ_CLOSED: Ready = Ready(4);
    pub(crate) const WRITE_CLOSED: Ready = Ready(8);
    pub(crate) const ERROR: Ready = Ready(16);
    const MASK: usize = 31;

    pub(crate) fn from_event(ev: &mio::event::Event) -> Ready {
        let mut r = 0;
        if ev.is_readable() {
            r |= Self::READABLE.0;
        }
        if ev.is_writable() {
            r |= Self::WRITABLE.0;
        }
        if ev.is_read_closed() {
            r |= Self::READ_CLOSED.0;
        }
        if ev.is_write_closed() {
            r |= Self::WRITE_CLOSED.0;
        }
        if ev.is_error() {
            r |= Self::ERROR.0;
        }
        Ready(r)
    }
}

/// Which way an operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The bits that make this direction ready (closed and error count:
    /// the operation then returns at once with EOF or the error).
    fn mask(self) -> usize {
        match self {
            Direction::Read => Ready::READABLE.0 | Ready::READ_CLOSED.0 | Ready::ERROR.0,
            Direction::Write => Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0 | Ready::ERROR.0,
        }
    }
}

const TICK_SHIFT: u32 = 8;

/// What `poll_ready` saw: the tick to clear against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    tick: usize,
    dir: Direction,
}

/// The tasks waiting on each direction. Several tasks may share a socket
/// (an `Arc<UdpSocket>`, `&TcpStream`): each distinct waker is kept and an
/// event wakes them all.
#[derive(Default)]
struct Waiters {
    reader: Vec<Waker>,
    writer: Vec<Waker>,
}

/// The readiness of one registered source.
pub(crate) struct IoState {
    /// Readiness bits, plus a tick (bumped by every event) above `TICK_SHIFT`.
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

impl IoState {
    fn new() -> Self {
        IoState {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// An event arrived (the driver): sets its bits, bumps the tick, and
    /// collects the wakers of the directions it makes ready.
    pub(crate) fn set_ready(&self, ready: Ready, wakers: &mut Vec<Waker>) {
        let mut cur = self.readiness.load(Ordering::Acquire);
        loop {
            let tick = (cur >> TICK_SHIFT).wrapping_add(1);
            let new = (tick << TICK_SHIFT) | (cur & Ready::MASK) | ready.0;
            match self.readiness.compare_exchange_weak(
                cur,
                new,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        let mut w = lock(&self.waiters);
        if ready.0 & Direction::Read.mask() != 0 {
            wakers.append(&mut w.reader);
        }
        if ready.0 & Direction::Write.mask() != 0 {
            wakers.append(&mut w.writer);
        }
    }

    /// Ready for `dir`, or registers the task's waker.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<ReadyEvent> {
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & dir.mask() != 0 {
            return Poll::Ready(ReadyEvent {
                tick: cur >> TICK_SHIFT,
                dir,
            });
        }
        let mut w = lock(&self.waiters);
        let list = match dir {
            Direction::Read => &mut w.reader,
            Direction::Write => &mut w.writer,
        };
        if !list.iter().any(|s| s.will_wake(cx.waker())) {
            list.push(cx.waker().clone());
        }
        // Under the lock: an event either came before (seen here) or will
        // find the waker (`set_ready` takes the lock after its update).
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & dir.mask() != 0 {
            return Poll::Ready(ReadyEvent {
                tick: cur >> TICK_SHIFT,
                dir,
            });
        }
        Poll::Pending
    }

    /// An operation hit `WouldBlock` after `ev`: clears that readiness,
    /// unless a newer event arrived meanwhile (then the caller retries).
    pub(crate) fn clear_ready(&self, ev: ReadyEvent) {
        // All of the direction's bits: an operation that would block is
        // not at EOF or at an error. The error it reported was consumed
        // (`SO_ERROR`, e.g. a UDP socket's ICMP "port unreachable", which
        // epoll also reports as write-closed), and a real EOF or reset
        // makes the operation return, never block. Keeping such a bit
        // would make `poll_io` retry forever in one poll.
        self.clear_bits(ev, ev.dir.mask());
    }

    /// A stream read after `ev` returned less than it asked for: the
    /// socket's receive queue was empty when it returned, so the next read
    /// would block; clears `READABLE` (saving that `WouldBlock` read, as
    /// tokio does), unless a newer event arrived meanwhile. An edge for
    /// data that arrives later is still in epoll's ready list or comes
    /// after this clear. End of stream and errors stay set: they were not
    /// consumed by a read that returned data.
    pub(crate) fn clear_readable(&self, ev: ReadyEvent) {
        self.clear_bits(ev, Ready::READABLE.0);
    }

    fn clear_bits(&self, ev: ReadyEvent, bits: usize) {
        let mut cur = self.readiness.load(Ordering::Acquire);
        loop {
            if cur >> TICK_SHIFT != ev.tick {
                return;
            }
            let new = cur & !bits;
            match self.readiness.compare_exchange_weak(
                cur,
                new,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }
}

const INDEX_BITS: u32 = 32;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// The registrations, by slot; a token is `generation << 32 | index`.
pub(crate) struct IoSlab {
    slots: Vec<(u32, Option<Arc<IoState>>)>,
    free: Vec<u32>,
}

impl IoSlab {
    pub(crate) fn new() -> Self {
        IoSlab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    pub(crate) fn insert(&mut self) -> (usize, Arc<IoState>) {
        let state = Arc::new(IoState::new());
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push((0, None));
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.1 = Some(state.clone());
        let token = ((slot.0 as usize) << INDEX_BITS) | index as usize;
        (token, state)
    }

    /// The live registration `token` names (`None`: closed, maybe reused).
    pub(crate) fn get(&self, token: usize) -> Option<Arc<IoState>> {
        let (generation, state) = self.slots.get(token & INDEX_MASK)?;
        if *generation as usize != token >> INDEX_BITS {
            return None;
        }
        state.clone()
    }

    pub(crate) fn remove(&mut self, token: usize) {
        let index = token & INDEX_MASK;
        if let Some(slot) = self.slots.get_mut(index) {
            if slot.0 as usize == token >> INDEX_BITS && slot.1.is_some() {
                slot.1 = None;
                // A stale event for the old generation no longer matches.
                slot.0 = slot.0.wrapping_add(1);
                self.free.push(index as u32);
            }
        }
    }

    /// Live registrations.
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// A source registered with the reactor; deregisters on drop.
pub(crate) struct Registration<S: mio::event::Source> {
    source: S,
    token: usize,
    state: Arc<IoState>,
}

impl<S: mio::event::Source> Registration<S> {
    pub(crate) fn new(mut source: S, interest: mio::Interest) -> std::io::Result<Self> {
        let (token, state) = crate::driver::Reactor::get().register(&mut source, interest)?;
        Ok(Registration {
            source,
            token,
            state,
        })
    }

    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// Runs `op` on the source when it is ready for `dir`, until it does
    /// not return `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut(&S) -> std::io::Result<R>,
    ) -> Poll<std::io::Result<R>> {
        self.poll_io_emptying(cx, dir, op, |_| false)
    }

    /// [`poll_io`](Self::poll_io), where a result for which `emptied` holds
    /// left the source's receive queue empty (a short stream read): it
    /// clears `READABLE` (see [`IoState::clear_readable`]), so the next read
    /// waits for the next edge instead of making a call that would block.
    pub(crate) fn poll_io_emptying<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut(&S) -> std::io::Result<R>,
        emptied: impl Fn(&R) -> bool,
    ) -> Poll<std::io::Result<R>> {
        // One unit of the cooperative budget per completed operation,
        // checked before `op` runs: with it spent nothing is read or
        // written, and the task yields (a socket that always has data
        // would otherwise keep its worker).
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let res = self.poll_op(cx, dir, op, emptied);
        if res.is_ready() {
            coop.made_progress();
        } else {
            gort_coop::set_wait_reason(gort_coop::WaitReason::IoWait);
        }
        res
    }

    /// [`poll_io_emptying`](Self::poll_io_emptying) behind its budget check.
    fn poll_op<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut(&S) -> std::io::Result<R>,
        emptied: impl Fn(&R) -> bool,
    ) -> Poll<std::io::Result<R>> {
        loop {
            let ev = match self.state.poll_ready(cx, dir) {
                Poll::Ready(ev) => ev,
                Poll::Pending => return Poll::Pending,
            };
            match op(&self.source) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => self.state.clear_ready(ev),
                Ok(r) => {
                    if emptied(&r) {
                        self.state.clear_readable(ev);
                    }
                    return Poll::Ready(Ok(r));
                }
                res => return Poll::Ready(res),
            }
        }
    }

    /// Waits until the source is ready for `dir` (without doing anything).
    pub(crate) fn poll_ready_event(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
    ) -> Poll<ReadyEvent> {
        let res = self.state.poll_ready(cx, dir);
        if res.is_pending() {
            gort_coop::set_wait_reason(gort_coop::WaitReason::IoWait);
        }
        res
    }

    /// Forgets the readiness `ev` reported (the operation would block).
    pub(crate) fn clear_ready(&self, ev: ReadyEvent) {
        self.state.clear_ready(ev)
    }
}

impl<S: mio::event::Source> Drop for Registration<S> {
    fn drop(&mut self) {
        crate::driver::Reactor::get().deregister(&mut self.source, self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    #[test]
    fn readiness_that_arrives_first_is_kept() {
        let s = IoState::new();
        let mut wakers = Vec::new();
        s.set_ready(Ready::WRITABLE, &mut wakers);
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        assert!(s.poll_ready(&mut cx, Direction::Write).is_ready());
        assert!(s.poll_ready(&mut cx, Direction::Read).is_pending());
    }

    #[test]
    fn a_clear_does_not_wipe_a_newer_event() {
        let s = IoState::new();
        let mut wakers = Vec::new();
        s.set_ready(Ready::READABLE, &mut wakers);
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        // An event arrives between the WouldBlock and the clear.
        s.set_ready(Ready::READABLE, &mut wakers);
        s.clear_ready(ev);
        assert!(s.poll_ready(&mut cx, Direction::Read).is_ready());
        // With no newer event, the clear takes effect.
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        s.clear_ready(ev);
        assert!(s.poll_ready(&mut cx, Direction::Read).is_pending());
        // A closed or error state stays until an operation would block
        // (then it was not final: a consumed error, or epoll's write-closed
        // on a UDP socket after an ICMP error); a newer event still wins.
        s.set_ready(Ready::READ_CLOSED, &mut wakers);
        assert!(s.poll_ready(&mut cx, Direction::Read).is_ready());
        assert!(s.poll_ready(&mut cx, Direction::Read).is_ready(), "sticky");
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read) else {
            panic!("closed")
        };
        s.clear_ready(ev);
        assert!(s.poll_ready(&mut cx, Direction::Read).is_pending());
        s.set_ready(Ready::ERROR, &mut wakers);
        assert!(
            s.poll_ready(&mut cx, Direction::Write).is_ready(),
            "errors make both ready"
        );
    }

    #[test]
    fn a_short_read_clears_readable_but_keeps_end_of_stream() {
        let s = IoState::new();
        let mut wakers = Vec::new();
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        s.set_ready(Ready::READABLE, &mut wakers);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        s.clear_readable(ev);
        assert!(s.poll_ready(&mut cx, Direction::Read).is_pending());
        // Data and the peer's FIN in one event: the short read that returns
        // the data must leave the end of stream for the next read.
        s.set_ready(Ready(Ready::READABLE.0 | Ready::READ_CLOSED.0), &mut wakers);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        s.clear_readable(ev);
        assert!(
            s.poll_ready(&mut cx, Direction::Read).is_ready(),
            "EOF kept"
        );
        // A newer event between the read and the clear wins.
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        s.clear_ready(ev);
        s.set_ready(Ready::READABLE, &mut wakers);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        s.set_ready(Ready::READABLE, &mut wakers);
        s.clear_readable(ev);
        assert!(s.poll_ready(&mut cx, Direction::Read).is_ready());
    }

    #[test]
    fn stale_tokens_are_ignored() {
        let mut slab = IoSlab::new();
        let (t1, _) = slab.insert();
        slab.remove(t1);
        let (t2, _) = slab.insert();
        assert_eq!(t1 & INDEX_MASK, t2 & INDEX_MASK, "the slot is reused");
        assert!(
            slab.get(t1).is_none(),
            "an event for the old source matched"
        );
        assert!(slab.get(t2).is_some());
        slab.remove(t1); // stale: no effect
        assert_eq!(slab.len(), 1);
    }
}
