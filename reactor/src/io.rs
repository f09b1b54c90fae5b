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

/// No entry (the end of a list).
const NIL: u32 = u32::MAX;

/// A waiting operation's place in a direction's [`WaitQueue`]: its slot
/// and the slot's generation, so a place that was woken (and whose slot
/// was freed and maybe reused) is told apart from one still waiting; and
/// the queue's epoch, which changes when an emptied queue gives its slots
/// back (new slots start their generations afresh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitKey {
    index: u32,
    generation: u32,
    epoch: u32,
}

/// One slot of a [`WaitQueue`]: a waiting operation's waker, linked in
/// arrival order (or, when free, into the free list through `next`).
struct Entry {
    generation: u32,
    waker: Option<Waker>,
    prev: u32,
    next: u32,
}

/// The operations waiting on one direction of a source, first come first
/// woken: a slab of entries linked in arrival order, so a waiting future
/// that is dropped leaves in O(1) and its slot is reused (a socket shared
/// by many tasks whose operations time out does not collect their wakers).
struct WaitQueue {
    entries: Vec<Entry>,
    head: u32,
    tail: u32,
    free: u32,
    len: usize,
    epoch: u32,
}

/// A queue that emptied keeps at most this many slots.
const KEEP_SLOTS: usize = 64;

impl WaitQueue {
    fn new() -> Self {
        WaitQueue {
            entries: Vec::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
            len: 0,
            epoch: 0,
        }
    }

    /// Queues `waker` at the back.
    fn push(&mut self, waker: Waker) -> WaitKey {
        let index = if self.free != NIL {
            let i = self.free;
            self.free = self.entries[i as usize].next;
            i
        } else {
            self.entries.push(Entry {
                generation: 0,
                waker: None,
                prev: NIL,
                next: NIL,
            });
            (self.entries.len() - 1) as u32
        };
        let tail = self.tail;
        let e = &mut self.entries[index as usize];
        e.waker = Some(waker);
        e.prev = tail;
        e.next = NIL;
        let generation = e.generation;
        if tail == NIL {
            self.head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        self.tail = index;
        self.len += 1;
        WaitKey {
            index,
            generation,
            epoch: self.epoch,
        }
    }

    /// The waker of `key`, if it is still queued.
    fn get_mut(&mut self, key: WaitKey) -> Option<&mut Waker> {
        if key.epoch != self.epoch {
            return None;
        }
        let e = self.entries.get_mut(key.index as usize)?;
        if e.generation != key.generation {
            return None;
        }
        e.waker.as_mut()
    }

    /// Unlinks `key` if it is still queued (`false`: it was woken).
    fn remove(&mut self, key: WaitKey) -> bool {
        if self.get_mut(key).is_none() {
            return false;
        }
        self.unlink(key.index);
        true
    }

    /// Takes the first waker out of the queue.
    fn pop(&mut self) -> Option<Waker> {
        if self.head == NIL {
            return None;
        }
        self.unlink(self.head)
    }

    /// Takes every waker out, in order.
    fn drain_into(&mut self, wakers: &mut Vec<Waker>) {
        while let Some(w) = self.pop() {
            wakers.push(w);
        }
    }

    fn unlink(&mut self, index: u32) -> Option<Waker> {
        let e = &mut self.entries[index as usize];
        let (prev, next) = (e.prev, e.next);
        let waker = e.waker.take();
        // The old key no longer matches: its owner sees it was woken.
        e.generation = e.generation.wrapping_add(1);
        e.next = self.free;
        self.free = index;
        if prev == NIL {
            self.head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        self.len -= 1;
        if self.len == 0 && self.entries.len() > KEEP_SLOTS {
            // A burst of waiters is over: give its slots back. Keys of the
            // old slots (all woken or left) name the old epoch.
            self.entries = Vec::new();
            self.free = NIL;
            self.epoch = self.epoch.wrapping_add(1);
        }
        waker
    }
}

/// The waiters of one direction: the task that polled last through a
/// `poll_*` method or `AsyncRead`/`AsyncWrite` (one slot, replaced by the
/// next poller, as tokio's), and the queue of waiting `async fn`
/// operations, each of which leaves when its future is dropped.
struct Waiters {
    polled: Option<Waker>,
    queue: WaitQueue,
}

impl Waiters {
    fn new() -> Self {
        Waiters {
            polled: None,
            queue: WaitQueue::new(),
        }
    }
}

/// Who waits: the direction's one `poll_*` slot, or an `async fn`'s own
/// place in the queue ([`Place`]).
pub(crate) enum Waiter<'a> {
    Polled,
    Queued(&'a mut Option<WaitKey>),
}

/// The readiness of one registered source.
pub(crate) struct IoState {
    /// Readiness bits, plus a tick (bumped by every event) above `TICK_SHIFT`.
    readiness: AtomicUsize,
    /// Read and write waiters.
    waiters: Mutex<[Waiters; 2]>,
    /// Queued operations per direction (the queue's length, written under
    /// the lock): lets a ready operation see without the lock that there
    /// is nobody to pass the readiness on to.
    queued: [AtomicUsize; 2],
    /// Runs on the driving thread after each event (a [`Watch`]'s
    /// function), with no reactor lock held.
    ///
    /// [`Watch`]: crate::unix::Watch
    on_event: Option<OnEvent>,
}

/// A function a source's events run on the driving thread.
pub(crate) type OnEvent = Box<dyn Fn() + Send + Sync>;

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::Read => 0,
            Direction::Write => 1,
        }
    }
}

impl IoState {
    fn new(on_event: Option<OnEvent>) -> Self {
        IoState {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new([Waiters::new(), Waiters::new()]),
            queued: [AtomicUsize::new(0), AtomicUsize::new(0)],
            on_event,
        }
    }

    /// Runs the source's event function, if it has one (the driver,
    /// after dispatching a turn's events).
    pub(crate) fn run_on_event(&self) {
        if let Some(f) = &self.on_event {
            f();
        }
    }

    /// Whether the source has an event function.
    pub(crate) fn has_on_event(&self) -> bool {
        self.on_event.is_some()
    }

    /// An event arrived (the driver): sets its bits, bumps the tick, and
    /// collects the wakers of the directions it makes ready: the polled
    /// slot's and the first queued operation's (one, not all: a socket
    /// shared by many tasks wakes one per event; a woken operation that
    /// finds the source ready passes the readiness on to the next, see
    /// [`poll_ready`](Self::poll_ready)). A closed or failed direction
    /// wakes every waiter: each of them returns at once.
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
        for dir in [Direction::Read, Direction::Write] {
            let bits = ready.0 & dir.mask();
            if bits == 0 {
                continue;
            }
            let d = &mut w[dir.index()];
            wakers.extend(d.polled.take());
            let open = Ready::READABLE.0 | Ready::WRITABLE.0;
            if bits & !open != 0 {
                d.queue.drain_into(wakers);
            } else {
                wakers.extend(d.queue.pop());
            }
            self.queued[dir.index()].store(d.queue.len, Ordering::Relaxed);
        }
    }

    /// Ready for `dir`, or registers `waiter`.
    ///
    /// A queued operation that finds the source ready passes the readiness
    /// on: it wakes the next queued operation, since it may not consume
    /// all of it (one datagram of several) and no new edge would come for
    /// the rest. So each event wakes one operation, and each operation
    /// that finds the source ready at most one more.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        waiter: Waiter<'_>,
    ) -> Poll<ReadyEvent> {
        let i = dir.index();
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & dir.mask() != 0 {
            let key = match waiter {
                Waiter::Queued(key) => key.take(),
                Waiter::Polled => None,
            };
            if key.is_some() || self.queued[i].load(Ordering::Relaxed) != 0 {
                let next = {
                    let mut w = lock(&self.waiters);
                    let q = &mut w[i].queue;
                    if let Some(key) = key {
                        q.remove(key);
                    }
                    let next = q.pop();
                    self.queued[i].store(q.len, Ordering::Relaxed);
                    next
                };
                if let Some(w) = next {
                    w.wake();
                }
            }
            return Poll::Ready(ReadyEvent {
                tick: cur >> TICK_SHIFT,
                dir,
            });
        }
        let mut w = lock(&self.waiters);
        let d = &mut w[i];
        match waiter {
            Waiter::Polled => match &mut d.polled {
                Some(old) if old.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            },
            Waiter::Queued(key) => match key.and_then(|k| d.queue.get_mut(k)) {
                Some(old) => {
                    if !old.will_wake(cx.waker()) {
                        *old = cx.waker().clone();
                    }
                }
                None => {
                    // First wait, or woken and still not ready (another
                    // operation took the readiness): queue at the back.
                    *key = Some(d.queue.push(cx.waker().clone()));
                    self.queued[i].store(d.queue.len, Ordering::Relaxed);
                }
            },
        }
        // Under the lock: an event either came before (seen here) or will
        // find the waiter (`set_ready` takes the lock after its update).
        // Seen here, the waiter stays registered: a spare wake-up later is
        // harmless, and a queued one leaves when its operation ends.
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & dir.mask() != 0 {
            return Poll::Ready(ReadyEvent {
                tick: cur >> TICK_SHIFT,
                dir,
            });
        }
        Poll::Pending
    }

    /// A queued operation's future is dropped while `key` waits: it leaves
    /// the queue; if it had been woken, the readiness it was woken for
    /// goes on to the next queued operation.
    fn leave(&self, dir: Direction, key: WaitKey) {
        let i = dir.index();
        let next = {
            let mut w = lock(&self.waiters);
            let q = &mut w[i].queue;
            let woken = !q.remove(key);
            let ready = self.readiness.load(Ordering::Acquire) & dir.mask() != 0;
            let next = if woken && ready { q.pop() } else { None };
            self.queued[i].store(q.len, Ordering::Relaxed);
            next
        };
        if let Some(w) = next {
            w.wake();
        }
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

    pub(crate) fn insert(&mut self, on_event: Option<OnEvent>) -> (usize, Arc<IoState>) {
        let state = Arc::new(IoState::new(on_event));
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

    /// Queued operations over all live registrations.
    pub(crate) fn waiters(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|(_, s)| s.as_ref())
            .map(|s| {
                s.queued
                    .iter()
                    .map(|q| q.load(Ordering::Relaxed))
                    .sum::<usize>()
            })
            .sum()
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
    pub(crate) fn new(source: S, interest: mio::Interest) -> std::io::Result<Self> {
        Self::with_on_event(source, interest, None)
    }

    /// Registers `source`; `on_event` (if any) runs on the driving thread
    /// after each of its events.
    pub(crate) fn with_on_event(
        mut source: S,
        interest: mio::Interest,
        on_event: Option<OnEvent>,
    ) -> std::io::Result<Self> {
        let (token, state) =
            crate::driver::Reactor::get().register(&mut source, interest, on_event)?;
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
    /// not return `WouldBlock`; waits in the direction's polled slot (for
    /// `poll_*` methods and `AsyncRead`/`AsyncWrite`: the task that polled
    /// last is the one woken).
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
        mut op: impl FnMut(&S) -> std::io::Result<R>,
        emptied: impl Fn(&R) -> bool,
    ) -> Poll<std::io::Result<R>> {
        self.poll_budgeted(cx, dir, &mut None, &mut op, emptied)
    }

    /// Runs `op` on the source when it is ready for `dir`, until it does
    /// not return `WouldBlock`: an `async fn` operation. It waits in the
    /// direction's queue with a place of its own, which it leaves when the
    /// future is dropped (many tasks may wait on one shared socket).
    pub(crate) async fn io<R>(
        &self,
        dir: Direction,
        mut op: impl FnMut(&S) -> std::io::Result<R>,
    ) -> std::io::Result<R> {
        let mut place = Place {
            state: &self.state,
            dir,
            key: None,
        };
        std::future::poll_fn(|cx| {
            self.poll_budgeted(cx, dir, &mut Some(&mut place.key), &mut op, |_| false)
        })
        .await
    }

    /// Waits until the source is ready for `dir` (without doing anything),
    /// in a queued place of its own.
    pub(crate) async fn ready(&self, dir: Direction) -> ReadyEvent {
        let mut place = Place {
            state: &self.state,
            dir,
            key: None,
        };
        std::future::poll_fn(|cx| {
            let res = self
                .state
                .poll_ready(cx, dir, Waiter::Queued(&mut place.key));
            if res.is_pending() {
                gort_coop::set_wait_reason(gort_coop::WaitReason::IoWait);
            }
            res
        })
        .await
    }

    /// One poll of an operation, behind its budget check: `place` is the
    /// queued operation's key (`None`: the polled slot).
    fn poll_budgeted<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        place: &mut Option<&mut Option<WaitKey>>,
        op: &mut impl FnMut(&S) -> std::io::Result<R>,
        emptied: impl Fn(&R) -> bool,
    ) -> Poll<std::io::Result<R>> {
        // One unit of the cooperative budget per completed operation,
        // checked before `op` runs: with it spent nothing is read or
        // written, and the task yields (a socket that always has data
        // would otherwise keep its worker).
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let res = self.poll_op(cx, dir, place, op, emptied);
        if res.is_ready() {
            coop.made_progress();
        } else {
            gort_coop::set_wait_reason(gort_coop::WaitReason::IoWait);
        }
        res
    }

    fn poll_op<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        place: &mut Option<&mut Option<WaitKey>>,
        op: &mut impl FnMut(&S) -> std::io::Result<R>,
        emptied: impl Fn(&R) -> bool,
    ) -> Poll<std::io::Result<R>> {
        loop {
            let waiter = match place {
                Some(key) => Waiter::Queued(key),
                None => Waiter::Polled,
            };
            let ev = match self.state.poll_ready(cx, dir, waiter) {
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

    /// Waits until the source is ready for `dir` (without doing anything),
    /// in the direction's polled slot.
    pub(crate) fn poll_ready_event(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
    ) -> Poll<ReadyEvent> {
        let res = self.state.poll_ready(cx, dir, Waiter::Polled);
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

/// A queued operation's place: leaves the queue when the operation's
/// future is dropped (done or cancelled).
struct Place<'a> {
    state: &'a IoState,
    dir: Direction,
    key: Option<WaitKey>,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.state.leave(self.dir, key);
        }
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
        let s = IoState::new(None);
        let mut wakers = Vec::new();
        s.set_ready(Ready::WRITABLE, &mut wakers);
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        assert!(s
            .poll_ready(&mut cx, Direction::Write, Waiter::Polled)
            .is_ready());
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Polled)
            .is_pending());
    }

    #[test]
    fn a_clear_does_not_wipe_a_newer_event() {
        let s = IoState::new(None);
        let mut wakers = Vec::new();
        s.set_ready(Ready::READABLE, &mut wakers);
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read, Waiter::Polled) else {
            panic!("readable")
        };
        // An event arrives between the WouldBlock and the clear.
        s.set_ready(Ready::READABLE, &mut wakers);
        s.clear_ready(ev);
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Polled)
            .is_ready());
        // With no newer event, the clear takes effect.
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read, Waiter::Polled) else {
            panic!("readable")
        };
        s.clear_ready(ev);
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Polled)
            .is_pending());
        // A closed or error state stays until an operation would block
        // (then it was not final: a consumed error, or epoll's write-closed
        // on a UDP socket after an ICMP error); a newer event still wins.
        s.set_ready(Ready::READ_CLOSED, &mut wakers);
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Polled)
            .is_ready());
        assert!(
            s.poll_ready(&mut cx, Direction::Read, Waiter::Polled)
                .is_ready(),
            "sticky"
        );
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read, Waiter::Polled) else {
            panic!("closed")
        };
        s.clear_ready(ev);
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Polled)
            .is_pending());
        s.set_ready(Ready::ERROR, &mut wakers);
        assert!(
            s.poll_ready(&mut cx, Direction::Write, Waiter::Polled)
                .is_ready(),
            "errors make both ready"
        );
    }

    #[test]
    fn a_short_read_clears_readable_but_keeps_end_of_stream() {
        let s = IoState::new(None);
        let mut wakers = Vec::new();
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        s.set_ready(Ready::READABLE, &mut wakers);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read, Waiter::Polled) else {
            panic!("readable")
        };
        s.clear_readable(ev);
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Polled)
            .is_pending());
        // Data and the peer's FIN in one event: the short read that returns
        // the data must leave the end of stream for the next read.
        s.set_ready(Ready(Ready::READABLE.0 | Ready::READ_CLOSED.0), &mut wakers);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read, Waiter::Polled) else {
            panic!("readable")
        };
        s.clear_readable(ev);
        assert!(
            s.poll_ready(&mut cx, Direction::Read, Waiter::Polled)
                .is_ready(),
            "EOF kept"
        );
        // A newer event between the read and the clear wins.
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read, Waiter::Polled) else {
            panic!("readable")
        };
        s.clear_ready(ev);
        s.set_ready(Ready::READABLE, &mut wakers);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read, Waiter::Polled) else {
            panic!("readable")
        };
        s.set_ready(Ready::READABLE, &mut wakers);
        s.clear_readable(ev);
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Polled)
            .is_ready());
    }

    /// A waker that counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);

    impl futures::task::ArcWake for Count {
        fn wake_by_ref(arc: &Arc<Self>) {
            arc.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), futures::task::waker(c))
    }

    fn wakes(c: &Count) -> usize {
        c.0.load(Ordering::SeqCst)
    }

    /// Queues a waiter with `waker` on `dir`; `Pending` expected.
    fn wait(s: &IoState, waker: &Waker, dir: Direction) -> Option<WaitKey> {
        let mut key = None;
        let mut cx = Context::from_waker(waker);
        assert!(s
            .poll_ready(&mut cx, dir, Waiter::Queued(&mut key))
            .is_pending());
        assert!(key.is_some());
        key
    }

    fn queued(s: &IoState, dir: Direction) -> usize {
        lock(&s.waiters)[dir.index()].queue.len
    }

    #[test]
    fn a_dropped_waiter_leaves_the_queue() {
        let s = IoState::new(None);
        let (_, w) = counter();
        let keys: Vec<_> = (0..1000).map(|_| wait(&s, &w, Direction::Read)).collect();
        assert_eq!(queued(&s, Direction::Read), 1000);
        for k in keys {
            s.leave(Direction::Read, k.unwrap());
        }
        assert_eq!(queued(&s, Direction::Read), 0);
        let w = lock(&s.waiters);
        assert!(
            w[0].queue.entries.len() <= KEEP_SLOTS,
            "an emptied queue keeps its slots"
        );
    }

    #[test]
    fn an_event_wakes_one_and_a_ready_waiter_passes_it_on() {
        let s = IoState::new(None);
        let (ca, wa) = counter();
        let (cb, wb) = counter();
        let (cc, wc) = counter();
        let mut a = wait(&s, &wa, Direction::Read);
        let _b = wait(&s, &wb, Direction::Read);
        let _c = wait(&s, &wc, Direction::Read);
        let mut wakers = Vec::new();
        s.set_ready(Ready::READABLE, &mut wakers);
        assert_eq!(wakers.len(), 1, "one event, one queued waiter woken");
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!((wakes(&ca), wakes(&cb), wakes(&cc)), (1, 0, 0));
        // a finds the socket ready: b is woken in case a leaves data.
        let mut cx = Context::from_waker(&wa);
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Queued(&mut a))
            .is_ready());
        assert_eq!(a, None, "a left the queue");
        assert_eq!((wakes(&ca), wakes(&cb), wakes(&cc)), (1, 1, 0));
        assert_eq!(queued(&s, Direction::Read), 1);
        // A write event wakes no reader.
        s.set_ready(Ready::WRITABLE, &mut wakers);
        assert!(wakers.is_empty());
    }

    #[test]
    fn a_woken_waiter_that_is_dropped_passes_the_readiness_on() {
        let s = IoState::new(None);
        let (ca, wa) = counter();
        let (cb, wb) = counter();
        let a = wait(&s, &wa, Direction::Read).unwrap();
        let b = wait(&s, &wb, Direction::Read).unwrap();
        let mut wakers = Vec::new();
        s.set_ready(Ready::READABLE, &mut wakers);
        wakers.drain(..).for_each(Waker::wake);
        // a's future is dropped (a timeout) before it runs: b gets the turn.
        s.leave(Direction::Read, a);
        assert_eq!((wakes(&ca), wakes(&cb)), (1, 1));
        // Not woken, b leaves quietly.
        let (_, wd) = counter();
        let d = wait(&s, &wd, Direction::Write).unwrap();
        s.leave(Direction::Write, d);
        s.leave(Direction::Read, b);
        assert_eq!(queued(&s, Direction::Read), 0);
        assert_eq!(queued(&s, Direction::Write), 0);
    }

    #[test]
    fn a_woken_waiter_still_not_ready_queues_again() {
        let s = IoState::new(None);
        let (ca, wa) = counter();
        let mut a = wait(&s, &wa, Direction::Read);
        let mut wakers = Vec::new();
        s.set_ready(Ready::READABLE, &mut wakers);
        assert_eq!(wakers.len(), 1);
        wakers.clear();
        // Another reader took the data and cleared the readiness.
        let mut cx = Context::from_waker(&wa);
        let Poll::Ready(ev) = s.poll_ready(&mut cx, Direction::Read, Waiter::Polled) else {
            panic!("readable")
        };
        s.clear_ready(ev);
        let old = a;
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Queued(&mut a))
            .is_pending());
        assert!(a.is_some() && a != old, "a new place");
        assert_eq!(queued(&s, Direction::Read), 1);
        // Polled again while queued: keeps its place.
        assert!(s
            .poll_ready(&mut cx, Direction::Read, Waiter::Queued(&mut a))
            .is_pending());
        assert_eq!(queued(&s, Direction::Read), 1);
        s.set_ready(Ready::READABLE, &mut wakers);
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(wakes(&ca), 1);
    }

    #[test]
    fn a_closed_direction_wakes_every_waiter() {
        let s = IoState::new(None);
        let counts: Vec<_> = (0..5)
            .map(|_| {
                let (c, w) = counter();
                wait(&s, &w, Direction::Read);
                c
            })
            .collect();
        let mut wakers = Vec::new();
        s.set_ready(Ready::READ_CLOSED, &mut wakers);
        wakers.drain(..).for_each(Waker::wake);
        assert!(counts.iter().all(|c| wakes(c) == 1));
        assert_eq!(queued(&s, Direction::Read), 0);
    }

    #[test]
    fn keys_of_an_emptied_queue_do_not_match_new_slots() {
        let s = IoState::new(None);
        let (_, w) = counter();
        let keys: Vec<_> = (0..KEEP_SLOTS + 1)
            .map(|_| wait(&s, &w, Direction::Read).unwrap())
            .collect();
        // All woken at once; the emptied queue gives its slots back.
        let mut wakers = Vec::new();
        s.set_ready(Ready::READ_CLOSED, &mut wakers);
        let Poll::Ready(ev) = s.poll_ready(
            &mut Context::from_waker(&w),
            Direction::Read,
            Waiter::Polled,
        ) else {
            panic!("closed")
        };
        s.clear_ready(ev);
        let fresh = wait(&s, &w, Direction::Read).unwrap();
        assert_eq!(fresh.index, keys[0].index, "slot 0 is used again");
        // The old key was woken: leaving with it leaves `fresh` queued.
        s.leave(Direction::Read, keys[0]);
        assert_eq!(queued(&s, Direction::Read), 1);
        s.leave(Direction::Read, fresh);
        assert_eq!(queued(&s, Direction::Read), 0);
    }

    #[test]
    fn stale_tokens_are_ignored() {
        let mut slab = IoSlab::new();
        let (t1, _) = slab.insert(None);
        slab.remove(t1);
        let (t2, _) = slab.insert(None);
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
