//! Go's channel semantics (FIFO, a true rendezvous at capacity 0, close
//! that drains, a send on a closed channel giving its value back, nothing
//! lost or duplicated, cancellation safety, wake-ups exactly when due),
//! each as its own test, each run on the four kinds of channel: unbuffered
//! (`bounded(0)`), `bounded(1)`, `bounded(128)` and `unbounded()`. A test
//! named `close_drains_the_buffer_then_errors::cap128` is one semantic on one
//! kind.
//!
//! Most tests work at the poll level with `tokio-test`: a future is polled
//! by hand, so "Pending until X happens, then Ready" and "woken exactly
//! when" are asserted without threads, sleeps or timing. The few tests with
//! threads assert outcomes only (what was received, which error), never how
//! long anything took.
//!
//! Some test ideas are ported from Go's `src/runtime/chan_test.go` (the
//! ideas only; the code here is written for this crate). Those tests say so.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use futures::executor::block_on;
use futures::future::join;
use futures::{stream, SinkExt, StreamExt};
use gort_channel::{
    bounded, unbounded, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender,
    TryRecvError, TrySendError,
};
use tokio_test::task;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq};

// ---------------------------------------------------------------------------
// The four kinds of channel, and a test per kind.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unbuffered,
    Cap1,
    Cap128,
    Unbounded,
}

impl Kind {
    fn cap(self) -> Option<usize> {
        match self {
            Kind::Unbuffered => Some(0),
            Kind::Cap1 => Some(1),
            Kind::Cap128 => Some(128),
            Kind::Unbounded => None,
        }
    }

    fn make<T>(self) -> (Sender<T>, Receiver<T>) {
        match self.cap() {
            Some(cap) => bounded(cap),
            None => unbounded(),
        }
    }

    /// How many values `try_send` accepts into an empty channel: the
    /// capacity, or for an unbounded channel a burst this test picks.
    fn room(self) -> usize {
        self.cap().unwrap_or(UNBOUNDED_BURST)
    }

    /// Whether a receive that frees room completes the parked send in the
    /// tests below (one send parked, full to the brim): unbuffered, a
    /// receive takes a parked send's value directly; with one slot, the
    /// receive leaves the buffer empty and moves the lone parked send's
    /// value into it. Larger buffers still hold values after that receive,
    /// and wake the parked send to retry instead. (A send that meets a
    /// parked receive, on every kind, puts the value in the channel and
    /// wakes the receive to take it.)
    fn hands_off(self) -> bool {
        matches!(self.cap(), Some(0) | Some(1))
    }
}

/// Values pushed into an unbounded channel where a bounded one would be full.
const UNBOUNDED_BURST: usize = 10_000;

/// `per_kind!(f)` makes a module `f` with one `#[test]` per kind calling
/// `f(kind)`.
macro_rules! per_kind {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn unbuffered() {
                super::$name(super::Kind::Unbuffered)
            }
            #[test]
            fn cap1() {
                super::$name(super::Kind::Cap1)
            }
            #[test]
            fn cap128() {
                super::$name(super::Kind::Cap128)
            }
            #[test]
            fn unbounded() {
                super::$name(super::Kind::Unbounded)
            }
        }
    )*};
}

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// Everything `try_recv` gives now, in order.
fn drain<T>(rx: &Receiver<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Ok(v) = rx.try_recv() {
        out.push(v);
    }
    out
}

/// Fills an empty channel with `0..kind.room()` through `try_send`.
fn fill(tx: &Sender<u64>, kind: Kind) {
    for i in 0..kind.room() as u64 {
        assert_eq!(tx.try_send(i), Ok(()), "{kind:?}: try_send {i} with room");
    }
}

fn range(r: std::ops::Range<usize>) -> Vec<u64> {
    r.map(|i| i as u64).collect()
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountWake(AtomicUsize);

impl Wake for CountWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (Arc<CountWake>, Waker) {
    let c = Arc::new(CountWake::default());
    (c.clone(), Waker::from(c))
}

impl CountWake {
    fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

#[derive(Clone, Copy, Debug)]
enum Side {
    Sender,
    Receiver,
}

fn close_from<T>(side: Side, tx: &Sender<T>, rx: &Receiver<T>) -> bool {
    match side {
        Side::Sender => tx.close(),
        Side::Receiver => rx.close(),
    }
}

// ---------------------------------------------------------------------------
// A value that records what became of it, to prove nothing is lost or
// duplicated: each one is received, given back by an error, or dropped
// (with a cancelled send future, or with the channel), exactly once.
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Ledger {
    received: Mutex<Vec<u64>>,
    given_back: Mutex<Vec<u64>>,
    dropped: Mutex<Vec<u64>>,
}

fn sorted(v: &Mutex<Vec<u64>>) -> Vec<u64> {
    let mut v = v.lock().unwrap().clone();
    v.sort_unstable();
    v
}

impl Ledger {
    fn received(&self) -> Vec<u64> {
        sorted(&self.received)
    }
    fn given_back(&self) -> Vec<u64> {
        sorted(&self.given_back)
    }
    fn dropped(&self) -> Vec<u64> {
        sorted(&self.dropped)
    }

    /// Every id in `1..=created` has exactly one fate.
    fn assert_each_once(&self, created: u64, what: &str) {
        let mut all = self.received();
        all.extend(self.given_back());
        all.extend(self.dropped());
        all.sort_unstable();
        let expected: Vec<u64> = (1..=created).collect();
        assert_eq!(
            all, expected,
            "{what}: every value must be received, given back or dropped exactly once"
        );
    }
}

struct Tracked {
    id: u64,
    ledger: Option<Arc<Ledger>>,
}

impl Tracked {
    fn new(id: u64, ledger: &Arc<Ledger>) -> Self {
        Tracked {
            id,
            ledger: Some(ledger.clone()),
        }
    }

    /// The value came out of the channel.
    fn receive(mut self) -> u64 {
        let l = self.ledger.take().expect("fate recorded twice");
        l.received.lock().unwrap().push(self.id);
        self.id
    }

    /// The value came back in an error.
    fn give_back(mut self) -> u64 {
        let l = self.ledger.take().expect("fate recorded twice");
        l.given_back.lock().unwrap().push(self.id);
        self.id
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(l) = self.ledger.take() {
            l.dropped.lock().unwrap().push(self.id);
        }
    }
}

impl fmt::Debug for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tracked({})", self.id)
    }
}

/// Makes `Tracked` values with ids 1, 2, 3, ...
struct Maker {
    created: u64,
    ledger: Arc<Ledger>,
}

impl Maker {
    fn new(ledger: &Arc<Ledger>) -> Self {
        Maker {
            created: 0,
            ledger: ledger.clone(),
        }
    }
    fn make(&mut self) -> Tracked {
        self.created += 1;
        Tracked::new(self.created, &self.ledger)
    }
}

/// Multiset difference `a - b` of sorted vectors.
fn minus(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut b = b.to_vec();
    let mut out = Vec::new();
    for &x in a {
        if let Some(i) = b.iter().position(|&y| y == x) {
            b.swap_remove(i);
        } else {
            out.push(x);
        }
    }
    out
}

// ===========================================================================
// (1) Unbuffered: a send completes only when a receiver has taken the value.
//     Generalised to every kind: a send completes at once while there is
//     room, and otherwise only once a receive took a value.
// ===========================================================================

per_kind!(send_completes_only_when_a_receiver_took_the_value);
fn send_completes_only_when_a_receiver_took_the_value(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let Some(cap) = kind.cap() else {
        // Unbounded: a send never waits.
        for i in 0..UNBOUNDED_BURST as u64 {
            assert_ready_eq!(task::spawn(tx.send(i)).poll(), Ok(()));
        }
        assert_eq!(drain(&rx), range(0..UNBOUNDED_BURST));
        return;
    };
    // While there is room, a send completes on its first poll.
    for i in 0..cap as u64 {
        assert_ready_eq!(task::spawn(tx.send(i)).poll(), Ok(()), "send {i} with room");
    }
    if cap == 0 {
        // No receiver is parked: nobody can take the value now.
        assert_eq!(tx.try_send(7), Err(TrySendError::Full(7)));
    }
    let mut send = task::spawn(tx.send(1000));
    assert_pending!(send.poll());
    assert_pending!(send.poll(), "polled again, still nobody took the value");
    assert!(!send.is_woken());
    assert_eq!(rx.len(), cap, "a waiting send is not in the buffer");
    // A receive takes the oldest value: 1000 itself (unbuffered) or the
    // head of the buffer, making room for 1000.
    let first = rx.try_recv().unwrap();
    assert_eq!(first, if cap == 0 { 1000 } else { 0 });
    assert!(send.is_woken(), "the receive must wake the waiting send");
    assert_ready_eq!(send.poll(), Ok(()));
    let mut rest = range(1..cap);
    if cap > 0 {
        rest.push(1000);
    }
    assert_eq!(drain(&rx), rest);
}

// Go chan_test.go TestChan: "Ensure that receive from empty chan blocks" and
// "Ensure that non-blocking receive does not block".
per_kind!(recv_waits_while_nothing_is_there);
fn recv_waits_while_nothing_is_there(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let mut recv = task::spawn(rx.recv());
    assert_pending!(recv.poll());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_pending!(recv.poll());
    assert!(!recv.is_woken());
    assert_eq!(tx.try_send(5), Ok(()));
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Ok(5));
}

// ===========================================================================
// (2) Buffered: FIFO per channel; a send waits only when the buffer is full.
// ===========================================================================

per_kind!(fifo_and_send_waits_only_when_full);
fn fifo_and_send_waits_only_when_full(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let room = kind.room();
    // Exactly `cap` try_sends succeed ...
    fill(&tx, kind);
    assert_eq!(rx.len(), room);
    if kind.cap().is_some() {
        // ... and the next one is Full, with the value given back.
        assert_eq!(tx.try_send(99_999), Err(TrySendError::Full(99_999)));
        assert_eq!(rx.len(), room);
    }
    // Sends beyond the buffer wait, queued in the order they came.
    let mut waiting: Vec<_> = (0..3u64)
        .map(|j| task::spawn(tx.send(10_000 + j)))
        .collect();
    for (j, s) in waiting.iter_mut().enumerate() {
        if kind.cap().is_some() {
            assert_pending!(s.poll(), "send {j} into a full channel");
        } else {
            assert_ready_eq!(s.poll(), Ok(()), "an unbounded channel is never full");
        }
    }
    let mut got = Vec::new();
    for k in 0..room + 3 {
        got.push(rx.try_recv().expect("a value is there"));
        if kind.cap().is_some() && k < 3 {
            // Each receive admits exactly one waiting send, the oldest.
            assert!(waiting[k].is_woken(), "waiting send {k} admitted");
            for (j, s) in waiting.iter().enumerate().skip(k + 1) {
                assert!(!s.is_woken(), "waiting send {j} woken too early");
            }
            assert_ready_eq!(waiting[k].poll(), Ok(()));
        }
    }
    let mut expected = range(0..room);
    expected.extend([10_000, 10_001, 10_002]);
    assert_eq!(
        got, expected,
        "FIFO across the buffer and the waiting sends"
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

// Go chan_test.go TestChan: "Send 100 integers, ensure that we receive them
// non-corrupted in FIFO order" (here 20,000, across two threads).
per_kind!(fifo_across_threads);
fn fifo_across_threads(kind: Kind) {
    const N: u64 = 20_000;
    let (tx, rx) = kind.make::<u64>();
    thread::scope(|s| {
        s.spawn(move || {
            for i in 0..N {
                tx.send_blocking(i).unwrap();
            }
        });
        for i in 0..N {
            assert_eq!(rx.recv_blocking(), Ok(i));
        }
        assert_eq!(rx.recv_blocking(), Err(RecvError), "the sender is gone");
    });
}

// FIFO per channel with many senders and receivers: every receiver sees
// the values of any one sender in the order that sender sent them.
per_kind!(fifo_per_sender_with_many_senders_and_receivers);
fn fifo_per_sender_with_many_senders_and_receivers(kind: Kind) {
    const SENDERS: u64 = 4;
    const PER: u64 = 5_000;
    let (tx, rx) = kind.make::<(u64, u64)>();
    let mut all: Vec<(u64, u64)> = thread::scope(|s| {
        for p in 0..SENDERS {
            let tx = tx.clone();
            s.spawn(move || {
                for i in 0..PER {
                    tx.send_blocking((p, i)).unwrap();
                }
            });
        }
        drop(tx);
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                s.spawn(move || {
                    let mut last = [None::<u64>; SENDERS as usize];
                    let mut got = Vec::new();
                    while let Ok((p, i)) = rx.recv_blocking() {
                        let prev = &mut last[p as usize];
                        assert!(
                            prev.is_none_or(|q| q < i),
                            "sender {p}: {i} received after {prev:?}"
                        );
                        *prev = Some(i);
                        got.push((p, i));
                    }
                    got
                })
            })
            .collect();
        drop(rx);
        receivers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    all.sort_unstable();
    let expected: Vec<_> = (0..SENDERS)
        .flat_map(|p| (0..PER).map(move |i| (p, i)))
        .collect();
    assert_eq!(all, expected, "each value received exactly once");
}

// ===========================================================================
// (3) Close: receivers drain what is buffered, then get RecvError; a
//     pending or later send gets its value back.
// ===========================================================================

per_kind!(close_drains_the_buffer_then_errors);
fn close_drains_the_buffer_then_errors(kind: Kind) {
    for side in [Side::Sender, Side::Receiver] {
        let (tx, rx) = kind.make::<u64>();
        let k = kind.room().min(5);
        for i in 0..k as u64 {
            tx.try_send(i).unwrap();
        }
        assert!(!tx.is_closed() && !rx.is_closed());
        assert!(close_from(side, &tx, &rx), "{side:?}: first close");
        assert!(!tx.close(), "{side:?}: already closed");
        assert!(!rx.close(), "{side:?}: already closed");
        assert!(tx.is_closed() && rx.is_closed());
        // Later sends give their value back, whatever the API.
        assert_eq!(tx.try_send(99), Err(TrySendError::Closed(99)));
        assert_eq!(block_on(tx.send(98)), Err(SendError(98)));
        assert_eq!(tx.send_blocking(97), Err(SendError(97)));
        assert_eq!(
            tx.send_timeout(96, Duration::from_secs(60)),
            Err(SendTimeoutError::Closed(96))
        );
        // Go chan_test.go TestChan: "Ensure that we receive 0 from closed
        // chan" -- after the buffered values.
        assert_eq!(rx.len(), k);
        for i in 0..k as u64 {
            assert_eq!(block_on(rx.recv()), Ok(i), "{side:?}: drain");
        }
        for _ in 0..2 {
            assert_eq!(block_on(rx.recv()), Err(RecvError));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
            assert_eq!(rx.recv_blocking(), Err(RecvError));
            assert_eq!(
                rx.recv_timeout(Duration::from_secs(60)),
                Err(RecvTimeoutError::Closed)
            );
        }
        assert!(rx.is_empty());
    }
}

per_kind!(close_gives_a_waiting_send_its_value_back);
fn close_gives_a_waiting_send_its_value_back(kind: Kind) {
    for side in [Side::Sender, Side::Receiver] {
        let (tx, rx) = kind.make::<u64>();
        fill(&tx, kind);
        let mut waiting: Vec<_> = (0..2u64).map(|j| task::spawn(tx.send(40 + j))).collect();
        let parked = kind.cap().is_some();
        for s in &mut waiting {
            if parked {
                assert_pending!(s.poll());
            } else {
                assert_ready_eq!(s.poll(), Ok(()));
            }
        }
        assert!(close_from(side, &tx, &rx));
        if parked {
            for (j, s) in waiting.iter_mut().enumerate() {
                assert!(s.is_woken(), "{side:?}: close wakes waiting send {j}");
                assert_ready_eq!(s.poll(), Err(SendError(40 + j as u64)));
            }
        }
        // The buffer still drains.
        let mut expected = range(0..kind.room());
        if !parked {
            expected.extend([40, 41]);
        }
        assert_eq!(drain(&rx), expected, "{side:?}");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }
}

// Go chan_test.go TestChan: "Ensure that close unblocks receive".
per_kind!(close_wakes_waiting_receivers);
fn close_wakes_waiting_receivers(kind: Kind) {
    for side in [Side::Sender, Side::Receiver] {
        let (tx, rx) = kind.make::<u64>();
        let mut r1 = task::spawn(rx.recv());
        let mut r2 = task::spawn(rx.recv());
        assert_pending!(r1.poll());
        assert_pending!(r2.poll());
        assert!(close_from(side, &tx, &rx));
        assert!(r1.is_woken() && r2.is_woken(), "{side:?}");
        assert_ready_eq!(r1.poll(), Err(RecvError));
        assert_ready_eq!(r2.poll(), Err(RecvError));
    }
}

per_kind!(dropping_the_last_sender_closes);
fn dropping_the_last_sender_closes(kind: Kind) {
    // With values buffered: they drain first.
    let (tx, rx) = kind.make::<u64>();
    let tx2 = tx.clone();
    let k = kind.room().min(3);
    for i in 0..k as u64 {
        tx.try_send(i).unwrap();
    }
    drop(tx);
    assert!(!rx.is_closed(), "a sender is still alive");
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(drain(&rx), range(0..k));
    assert_eq!(block_on(rx.recv()), Err(RecvError));

    // With a receiver waiting: it is woken with the error.
    let (tx, rx) = kind.make::<u64>();
    let tx2 = tx.clone();
    let mut recv = task::spawn(rx.recv());
    assert_pending!(recv.poll());
    drop(tx);
    assert!(!recv.is_woken());
    assert_pending!(recv.poll());
    drop(tx2);
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Err(RecvError));
}

per_kind!(dropping_the_last_receiver_closes);
fn dropping_the_last_receiver_closes(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let rx2 = rx.clone();
    fill(&tx, kind);
    let mut send = task::spawn(tx.send(77));
    let parked = kind.cap().is_some();
    if parked {
        assert_pending!(send.poll());
    } else {
        assert_ready_eq!(send.poll(), Ok(()));
    }
    drop(rx);
    assert!(!tx.is_closed(), "a receiver is still alive");
    assert!(!send.is_woken());
    drop(rx2);
    assert!(tx.is_closed());
    if parked {
        assert!(send.is_woken());
        assert_ready_eq!(send.poll(), Err(SendError(77)));
    }
    assert_eq!(tx.try_send(78), Err(TrySendError::Closed(78)));
    assert_eq!(block_on(tx.send(79)), Err(SendError(79)));
}

// ===========================================================================
// (4) Nothing lost or duplicated: every value sent with Ok is received
//     exactly once, or is still in the channel when the last receiver is
//     dropped (and is dropped with it).
// ===========================================================================

per_kind!(every_ok_send_is_received_once_or_dropped_with_the_channel);
fn every_ok_send_is_received_once_or_dropped_with_the_channel(kind: Kind) {
    let ledger = Arc::new(Ledger::default());
    let mut mk = Maker::new(&ledger);
    let mut sent_ok = Vec::new();
    let mut cancelled = Vec::new();
    let (tx, rx) = kind.make::<Tracked>();
    let rx2 = rx.clone();

    // A receive that was handed a value and is dropped before seeing it.
    {
        let mut r = task::spawn(rx.recv());
        assert_pending!(r.poll());
        let v = mk.make();
        sent_ok.push(v.id);
        assert!(tx.try_send(v).is_ok(), "a receiver is parked");
    }
    // try_send until the channel refuses (bounded) or a burst (unbounded).
    let try_fill = |mk: &mut Maker, sent_ok: &mut Vec<u64>| {
        for _ in 0..kind.cap().unwrap_or(100) + 2 {
            let v = mk.make();
            let id = v.id;
            match tx.try_send(v) {
                Ok(()) => sent_ok.push(id),
                Err(TrySendError::Full(v)) => assert_eq!(v.give_back(), id),
                Err(TrySendError::Closed(_)) => panic!("not closed yet"),
            }
        }
    };
    try_fill(&mut mk, &mut sent_ok);
    // A send that waits and is then dropped: its value is dropped with it.
    {
        let v = mk.make();
        let id = v.id;
        let mut s = task::spawn(tx.send(v));
        match s.poll() {
            Poll::Ready(Ok(())) => sent_ok.push(id),
            Poll::Ready(Err(_)) => panic!("not closed yet"),
            Poll::Pending => cancelled.push(id),
        }
    }
    assert_eq!(
        ledger.dropped(),
        cancelled,
        "only the cancelled send's value is dropped"
    );
    // Receive about half of what was sent, through both receivers.
    for i in 0..sent_ok.len().div_ceil(2) {
        let r = if i % 2 == 0 { &rx } else { &rx2 };
        r.try_recv().expect("a value is buffered").receive();
    }
    try_fill(&mut mk, &mut sent_ok);
    // A send waiting when the last receiver goes: it gets its value back.
    let v = mk.make();
    let id = v.id;
    let mut s = task::spawn(tx.send(v));
    let parked = match s.poll() {
        Poll::Ready(Ok(())) => {
            sent_ok.push(id);
            false
        }
        Poll::Ready(Err(_)) => panic!("not closed yet"),
        Poll::Pending => true,
    };
    drop(rx);
    drop(rx2);
    if parked {
        assert!(s.is_woken());
        match assert_ready!(s.poll()) {
            Err(SendError(v)) => assert_eq!(v.give_back(), id),
            Ok(()) => panic!("delivered to nobody"),
        }
    }
    drop(s);
    match tx.try_send(mk.make()) {
        Err(TrySendError::Closed(v)) => {
            v.give_back();
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    // The channel is still alive (a sender holds it): nothing buffered has
    // been dropped yet.
    assert_eq!(ledger.dropped(), cancelled);
    drop(tx);
    // Now the channel is gone: what was left in it was dropped with it.
    sent_ok.sort_unstable();
    let left_in_channel = minus(&ledger.dropped(), &cancelled);
    let mut accounted = ledger.received();
    accounted.extend(left_in_channel);
    accounted.sort_unstable();
    assert_eq!(
        accounted, sent_ok,
        "sent with Ok = received + dropped with the channel"
    );
    ledger.assert_each_once(mk.created, &format!("{kind:?}"));
}

// The same accounting with threads racing: producers mix send_blocking,
// try_send and send_timeout; consumers stop after a quota and drop their
// receivers while producers are still sending (some of them blocked).
per_kind!(nothing_lost_or_duplicated_when_receivers_leave_mid_stream);
fn nothing_lost_or_duplicated_when_receivers_leave_mid_stream(kind: Kind) {
    const PRODUCERS: u64 = 3;
    const PER: u64 = 20_000;
    const QUOTA: usize = 15_000;
    let ledger = Arc::new(Ledger::default());
    let (tx, rx) = kind.make::<Tracked>();
    let received = AtomicUsize::new(0);
    let mut sent_ok: Vec<u64> = thread::scope(|s| {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                let ledger = &ledger;
                s.spawn(move || {
                    let mut ok = Vec::new();
                    for i in 0..PER {
                        let v = Tracked::new(p * PER + i + 1, ledger);
                        let id = v.id;
                        let res = match i % 3 {
                            0 => tx.send_blocking(v).map_err(|e| (e.0, true)),
                            1 => tx.try_send(v).map_err(|e| {
                                let closed = e.is_closed();
                                (e.into_inner(), closed)
                            }),
                            _ => tx.send_timeout(v, Duration::from_micros(50)).map_err(|e| {
                                let closed = matches!(e, SendTimeoutError::Closed(_));
                                (e.into_inner(), closed)
                            }),
                        };
                        match res {
                            Ok(()) => ok.push(id),
                            Err((v, closed)) => {
                                assert_eq!(v.give_back(), id, "the same value comes back");
                                if closed {
                                    // Every id not tried yet is never created.
                                    break;
                                }
                            }
                        }
                    }
                    ok
                })
            })
            .collect();
        drop(tx);
        for c in 0..2 {
            let rx = rx.clone();
            let received = &received;
            s.spawn(move || {
                while received.load(SeqCst) < QUOTA {
                    let r = if c == 0 {
                        rx.recv_blocking().map_err(|_| RecvTimeoutError::Closed)
                    } else {
                        rx.recv_timeout(Duration::from_micros(100))
                    };
                    match r {
                        Ok(v) => {
                            v.receive();
                            received.fetch_add(1, SeqCst);
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Closed) => break,
                    }
                }
                // Dropping `rx` here: the second one to go closes the channel.
            });
        }
        drop(rx);
        producers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    // Every handle is gone, so is the channel.
    sent_ok.sort_unstable();
    let mut accounted = ledger.received();
    accounted.extend(ledger.dropped());
    accounted.sort_unstable();
    assert_eq!(
        accounted, sent_ok,
        "sent with Ok = received + dropped with the channel"
    );
    let mut all = accounted;
    all.extend(ledger.given_back());
    all.sort_unstable();
    let len = all.len();
    all.dedup();
    assert_eq!(all.len(), len, "a value had two fates");
}

// ===========================================================================
// (5) Cancellation safety: dropping a pending recv never loses a value;
//     dropping a pending send never delivers it.
// ===========================================================================

per_kind!(dropped_recv_that_was_handed_a_value_loses_nothing);
fn dropped_recv_that_was_handed_a_value_loses_nothing(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let mut r1 = task::spawn(rx.recv());
    assert_pending!(r1.poll());
    assert_eq!(tx.try_send(1), Ok(()), "a receiver is parked");
    assert!(r1.is_woken());
    // A later value, behind it. Unbuffered, it waits for a receiver; with
    // one slot, the first value fills the buffer (a buffered channel wakes
    // its receiver rather than handing it the value).
    let mut s2 = task::spawn(tx.send(2));
    let s2_parked = kind.cap() == Some(0) || kind.cap() == Some(1);
    if s2_parked {
        assert_pending!(s2.poll());
    } else {
        assert_ready_eq!(s2.poll(), Ok(()));
    }
    // Dropped before it saw its value: the value is first in line.
    drop(r1);
    assert_eq!(rx.try_recv(), Ok(1));
    if s2_parked {
        if kind.hands_off() {
            // The receive takes the parked send's value.
            assert_eq!(rx.try_recv(), Ok(2));
            assert!(s2.is_woken());
            assert_ready_eq!(s2.poll(), Ok(()));
        } else {
            // Woken to retry: the value goes in when the send runs.
            assert!(s2.is_woken());
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert_ready_eq!(s2.poll(), Ok(()));
            assert_eq!(rx.try_recv(), Ok(2));
        }
    } else {
        assert_eq!(rx.try_recv(), Ok(2));
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

per_kind!(dropped_recv_passes_its_value_to_another_waiting_receiver);
fn dropped_recv_passes_its_value_to_another_waiting_receiver(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let rx2 = rx.clone();
    let mut r1 = task::spawn(rx.recv());
    let mut r2 = task::spawn(rx2.recv());
    assert_pending!(r1.poll());
    assert_pending!(r2.poll());
    assert_eq!(tx.try_send(1), Ok(()));
    assert!(r1.is_woken() && !r2.is_woken(), "the first waiter gets it");
    drop(r1);
    assert!(r2.is_woken(), "the value moves on to the next waiter");
    assert_ready_eq!(r2.poll(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

per_kind!(dropped_waiting_recv_takes_nothing);
fn dropped_waiting_recv_takes_nothing(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let mut r1 = task::spawn(rx.recv());
    assert_pending!(r1.poll());
    drop(r1);
    if kind.cap() == Some(0) {
        // Its waiter is gone: nobody is there to take a value.
        assert_eq!(tx.try_send(5), Err(TrySendError::Full(5)));
        let mut s = task::spawn(tx.send(5));
        assert_pending!(s.poll());
        assert_eq!(rx.try_recv(), Ok(5));
        assert_ready_eq!(s.poll(), Ok(()));
    } else {
        assert_eq!(tx.try_send(5), Ok(()));
        assert_eq!(rx.len(), 1, "buffered: no waiter took it");
        assert_eq!(rx.try_recv(), Ok(5));
    }
}

per_kind!(dropped_waiting_send_is_never_delivered);
fn dropped_waiting_send_is_never_delivered(kind: Kind) {
    let ledger = Arc::new(Ledger::default());
    let (tx, rx) = kind.make::<Tracked>();
    let room = kind.room() as u64;
    for i in 1..=room {
        tx.try_send(Tracked::new(i, &ledger)).unwrap();
    }
    // A send future created and dropped without a poll.
    drop(tx.send(Tracked::new(room + 1, &ledger)));
    assert_eq!(ledger.dropped(), [room + 1]);
    // A send that waits (bounded), then is dropped.
    let mut s = task::spawn(tx.send(Tracked::new(room + 2, &ledger)));
    if kind.cap().is_some() {
        assert_pending!(s.poll());
        drop(s);
        assert_eq!(
            ledger.dropped(),
            [room + 1, room + 2],
            "dropped with its future"
        );
        // A receiver that comes later is not handed it.
        let got: Vec<u64> = drain(&rx).into_iter().map(Tracked::receive).collect();
        assert_eq!(got, (1..=room).collect::<Vec<_>>());
        let mut r = task::spawn(rx.recv());
        assert_pending!(r.poll());
    } else {
        assert!(s.poll().is_ready());
    }
}

// A send whose value was taken while it waited, then dropped before its
// next poll, was delivered: once, and not dropped as well. This is the
// limit of "dropping a pending send never delivers it" on a bounded
// channel: between a send future's last (Pending) poll and its drop, a
// receiver may complete it (unbuffered: Go's recv from a waiting sender;
// `bounded(1)`: the receive that empties the buffer moves the lone
// waiting send's value in, as Go's recv on a full buffer), and the drop
// cannot undo a delivery. A larger buffer that still holds values only
// wakes a waiting send to retry: dropped before its retry, it is not
// delivered, and the room it was woken for goes to the next send.
per_kind!(send_taken_then_dropped_was_delivered_exactly_once);
fn send_taken_then_dropped_was_delivered_exactly_once(kind: Kind) {
    let Some(cap) = kind.cap() else { return };
    let ledger = Arc::new(Ledger::default());
    let (tx, rx) = kind.make::<Tracked>();
    for i in 1..=cap as u64 {
        tx.try_send(Tracked::new(i, &ledger)).unwrap();
    }
    let id = cap as u64 + 1;
    let mut s = task::spawn(tx.send(Tracked::new(id, &ledger)));
    let mut next = task::spawn(tx.send(Tracked::new(id + 1, &ledger)));
    assert_pending!(s.poll());
    if kind.hands_off() {
        let got: Vec<u64> = drain(&rx).into_iter().map(Tracked::receive).collect();
        assert_eq!(got, (1..=id).collect::<Vec<_>>());
        assert!(s.is_woken());
        drop(s);
        assert!(ledger.dropped().is_empty());
        drop(next);
        assert_eq!(ledger.dropped(), [id + 1]);
        drop((tx, rx));
        ledger.assert_each_once(id + 1, &format!("{kind:?}"));
    } else {
        assert_pending!(next.poll());
        assert_eq!(rx.try_recv().map(Tracked::receive), Ok(1));
        assert!(s.is_woken() && !next.is_woken(), "one slot, one send woken");
        drop(s);
        assert_eq!(ledger.dropped(), [id], "never delivered");
        assert!(next.is_woken(), "the room goes to the next waiting send");
        assert!(matches!(next.poll(), std::task::Poll::Ready(Ok(()))));
        let got: Vec<u64> = drain(&rx).into_iter().map(Tracked::receive).collect();
        let mut want: Vec<u64> = (2..=cap as u64).collect();
        want.push(id + 1);
        assert_eq!(got, want);
        drop(next);
        drop((tx, rx));
        ledger.assert_each_once(id + 1, &format!("{kind:?}"));
    }
}

// Receiver as a Stream: its waiting poll_next is cancelled by dropping the
// receiver. A value handed to it goes to another receiver; if it was the
// last receiver, the value stays in the channel and is dropped with it.
per_kind!(dropped_stream_gives_back_a_handed_value);
fn dropped_stream_gives_back_a_handed_value(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let rx2 = rx.clone();
    let mut st = task::spawn(rx);
    assert_pending!(st.poll_next());
    assert_eq!(tx.try_send(3), Ok(()));
    assert!(st.is_woken());
    drop(st);
    assert_eq!(rx2.try_recv(), Ok(3));

    // The last receiver.
    let ledger = Arc::new(Ledger::default());
    let (tx, rx) = kind.make::<Tracked>();
    let mut st = task::spawn(rx);
    assert_pending!(st.poll_next());
    assert!(tx.try_send(Tracked::new(1, &ledger)).is_ok());
    drop(st);
    assert!(tx.is_closed());
    assert!(ledger.dropped().is_empty(), "still in the channel");
    drop(tx);
    assert_eq!(ledger.dropped(), [1], "dropped with the channel");
    ledger.assert_each_once(1, &format!("{kind:?}"));
}

// ===========================================================================
// (7) Direct hand-off, and wake-ups exactly when due.
// ===========================================================================

per_kind!(send_to_a_waiting_receiver_completes_at_once);
fn send_to_a_waiting_receiver_completes_at_once(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let mut r = task::spawn(rx.recv());
    assert_pending!(r.poll());
    let mut s = task::spawn(tx.send(5));
    assert_ready_eq!(s.poll(), Ok(()), "first poll, even when unbuffered");
    // Every kind: in the channel until the woken receive runs (unbuffered
    // too, so that a receive dropped before it runs cannot take a value
    // out of send order).
    assert_eq!(rx.len(), 1, "in the channel until the woken receive runs");
    assert!(r.is_woken());
    assert_ready_eq!(r.poll(), Ok(5));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

per_kind!(each_send_wakes_exactly_one_waiting_receiver_in_order);
fn each_send_wakes_exactly_one_waiting_receiver_in_order(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let mut rs: Vec<_> = (0..3).map(|_| task::spawn(rx.recv())).collect();
    for r in &mut rs {
        assert_pending!(r.poll());
    }
    tx.try_send(1).unwrap();
    assert_eq!(
        rs.iter().map(|r| r.is_woken()).collect::<Vec<_>>(),
        [true, false, false]
    );
    if kind == Kind::Cap1 {
        // The buffer is full until the woken receive takes the value.
        assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
        assert_ready_eq!(rs[0].poll(), Ok(1));
        assert_eq!(tx.try_send(2), Ok(()));
        assert!(rs[1].is_woken() && !rs[2].is_woken());
        assert_ready_eq!(rs[1].poll(), Ok(2));
    } else {
        assert_eq!(block_on(tx.send(2)), Ok(()));
        assert_eq!(
            rs.iter().map(|r| r.is_woken()).collect::<Vec<_>>(),
            [true, true, false]
        );
        // Woken receives take values in send order, in the order they run.
        assert_ready_eq!(rs[1].poll(), Ok(1));
        assert_ready_eq!(rs[0].poll(), Ok(2));
    }
    assert_pending!(rs[2].poll());
    assert!(!rs[2].is_woken());
}

per_kind!(no_wakeup_without_cause);
fn no_wakeup_without_cause(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let mut r = task::spawn(rx.recv());
    assert_pending!(r.poll());
    // Things that must not wake a waiting receiver.
    let tx2 = tx.clone();
    let rx2 = rx.clone();
    assert_eq!(rx2.try_recv(), Err(TryRecvError::Empty));
    let _ = (tx.len(), tx.is_empty(), rx.is_closed(), tx.capacity());
    drop(tx2);
    {
        let mut other = task::spawn(rx2.recv());
        assert_pending!(other.poll());
    }
    drop(rx2);
    assert!(!r.is_woken());
    assert_pending!(r.poll());
    tx.try_send(1).unwrap();
    assert!(r.is_woken());
    assert_ready_eq!(r.poll(), Ok(1));

    // Things that must not wake a waiting send.
    if kind.cap().is_some() {
        fill(&tx, kind);
        let mut s = task::spawn(tx.send(9));
        assert_pending!(s.poll());
        assert!(tx.try_send(10).unwrap_err().is_full());
        {
            let mut other = task::spawn(tx.send(11));
            assert_pending!(other.poll());
        }
        let _ = rx.clone();
        assert!(!s.is_woken());
        assert_pending!(s.poll());
        assert_eq!(rx.try_recv(), Ok(if kind.cap() == Some(0) { 9 } else { 0 }));
        assert!(s.is_woken());
        assert_ready_eq!(s.poll(), Ok(()));
    }
}

per_kind!(a_repoll_replaces_the_waker);
fn a_repoll_replaces_the_waker(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let (a, wa) = counting_waker();
    let (b, wb) = counting_waker();
    let mut r = pin!(rx.recv());
    assert!(r.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
    assert!(r.as_mut().poll(&mut Context::from_waker(&wb)).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!((a.count(), b.count()), (0, 1), "only the latest waker");
    assert_eq!(
        r.as_mut().poll(&mut Context::from_waker(&wb)),
        Poll::Ready(Ok(1))
    );

    if kind.cap().is_some() {
        fill(&tx, kind);
        let (a, wa) = counting_waker();
        let (b, wb) = counting_waker();
        let mut s = pin!(tx.send(2));
        assert!(s.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
        assert!(s.as_mut().poll(&mut Context::from_waker(&wb)).is_pending());
        rx.try_recv().unwrap();
        assert_eq!((a.count(), b.count()), (0, 1), "only the latest waker");
        assert_eq!(
            s.as_mut().poll(&mut Context::from_waker(&wb)),
            Poll::Ready(Ok(()))
        );
    }
}

// ===========================================================================
// Stream and Sink.
// ===========================================================================

per_kind!(stream_yields_everything_then_ends_on_close);
fn stream_yields_everything_then_ends_on_close(kind: Kind) {
    // Sent concurrently by a task on the same thread, then the sender drops.
    let (tx, rx) = kind.make::<u64>();
    let (got, ()) = block_on(join(rx.collect::<Vec<_>>(), async move {
        for i in 0..1000 {
            tx.send(i).await.unwrap();
        }
    }));
    assert_eq!(got, range(0..1000));

    // Buffered, then closed, then collected.
    let (tx, rx) = kind.make::<u64>();
    let k = kind.room().min(100);
    for i in 0..k as u64 {
        tx.try_send(i).unwrap();
    }
    tx.close();
    assert_eq!(block_on(rx.collect::<Vec<_>>()), range(0..k));

    // Poll by poll.
    let (tx, rx) = kind.make::<u64>();
    let mut st = task::spawn(rx);
    assert_pending!(st.poll_next());
    tx.try_send(1).unwrap();
    assert!(st.is_woken());
    assert_ready_eq!(st.poll_next(), Some(1));
    assert_pending!(st.poll_next());
    drop(tx);
    assert!(st.is_woken());
    assert_ready_eq!(st.poll_next(), None);
    assert_ready_eq!(st.poll_next(), None, "stays ended");
}

per_kind!(sink_send_all_then_close_closes_the_channel);
fn sink_send_all_then_close_closes_the_channel(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let watcher = rx.clone();
    let mut sink = tx.into_sink();
    let (got, res) = block_on(join(rx.collect::<Vec<_>>(), async {
        sink.send_all(&mut stream::iter((0..500).map(Ok))).await?;
        sink.close().await
    }));
    assert!(res.is_ok());
    assert_eq!(got, range(0..500));
    assert!(
        watcher.is_closed(),
        "closing the sink dropped the last sender"
    );

    // Another sender alive: closing the sink does not close the channel.
    let (tx, rx) = kind.make::<u64>();
    let tx2 = tx.clone();
    let mut sink = tx.into_sink();
    let (got, res) = block_on(join(rx.recv(), async {
        sink.send(1).await?;
        sink.close().await
    }));
    assert!(res.is_ok());
    assert_eq!(got, Ok(1));
    assert!(!tx2.is_closed());

    // A closed channel: the value comes back.
    let (tx, rx) = kind.make::<u64>();
    let mut sink = tx.into_sink();
    drop(rx);
    assert_eq!(block_on(sink.send(5)), Err(SendError(5)));
}

// ===========================================================================
// Blocking and async on one channel; timeouts; len and capacity.
// ===========================================================================

per_kind!(blocking_and_async_on_one_channel);
fn blocking_and_async_on_one_channel(kind: Kind) {
    const N: u64 = 20_000;
    let (tx, rx) = kind.make::<u64>();
    let mut got: Vec<u64> = thread::scope(|s| {
        let t = tx.clone();
        s.spawn(move || {
            for i in (0..N).step_by(2) {
                t.send_blocking(i).unwrap();
            }
        });
        let t = tx.clone();
        s.spawn(move || {
            block_on(async {
                for i in (1..N).step_by(2) {
                    t.send(i).await.unwrap();
                }
            })
        });
        drop(tx);
        let r = rx.clone();
        let blocking = s.spawn(move || {
            let mut got = Vec::new();
            while let Ok(v) = r.recv_blocking() {
                got.push(v);
            }
            got
        });
        let r = rx.clone();
        let asynchronous = s.spawn(move || {
            block_on(async {
                let mut got = Vec::new();
                while let Ok(v) = r.recv().await {
                    got.push(v);
                }
                got
            })
        });
        drop(rx);
        let mut got = blocking.join().unwrap();
        got.extend(asynchronous.join().unwrap());
        got
    });
    got.sort_unstable();
    assert_eq!(got, (0..N).collect::<Vec<_>>());
}

per_kind!(recv_timeout_times_out_and_leaves_no_waiter);
fn recv_timeout_times_out_and_leaves_no_waiter(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(10)),
        Err(RecvTimeoutError::Timeout)
    );
    if kind.cap() == Some(0) {
        // The timed-out receive is not parked any more: nobody takes this.
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    } else {
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(rx.len(), 1, "buffered, not handed to a stale waiter");
        assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Ok(1));
    }
    // A value that comes in time is received.
    thread::scope(|s| {
        s.spawn(|| tx.send_blocking(2).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)), Ok(2));
    });
    drop(tx);
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(10)),
        Err(RecvTimeoutError::Closed)
    );
}

per_kind!(send_timeout_times_out_and_gives_the_value_back);
fn send_timeout_times_out_and_gives_the_value_back(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    if kind.cap().is_none() {
        assert_eq!(tx.send_timeout(1, Duration::from_millis(10)), Ok(()));
        assert_eq!(rx.try_recv(), Ok(1));
    } else {
        fill(&tx, kind);
        assert_eq!(
            tx.send_timeout(77, Duration::from_millis(10)),
            Err(SendTimeoutError::Timeout(77))
        );
        // The timed-out send left nothing behind.
        assert_eq!(drain(&rx), range(0..kind.room()));
        let mut r = task::spawn(rx.recv());
        assert_pending!(r.poll());
        assert!(!r.is_woken());
    }
    // A receiver that comes in time takes it.
    let (tx, rx) = kind.make::<u64>();
    fill(&tx, kind);
    thread::scope(|s| {
        let h = s.spawn(|| drain_blocking(&rx, kind.room() + 1));
        assert_eq!(tx.send_timeout(5, Duration::from_secs(60)), Ok(()));
        let mut expected = range(0..kind.room());
        expected.push(5);
        assert_eq!(h.join().unwrap(), expected);
    });
    drop(rx);
    assert_eq!(
        tx.send_timeout(6, Duration::from_millis(10)),
        Err(SendTimeoutError::Closed(6))
    );
}

fn drain_blocking(rx: &Receiver<u64>, n: usize) -> Vec<u64> {
    (0..n).map(|_| rx.recv_blocking().unwrap()).collect()
}

// A timeout too large to add to `Instant::now()` means "no deadline" (as
// std's and crossbeam's `recv_timeout`); it must not panic.
per_kind!(timeouts_too_large_for_an_instant_mean_no_deadline);
fn timeouts_too_large_for_an_instant_mean_no_deadline(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    thread::scope(|s| {
        s.spawn(|| assert_eq!(tx.send_timeout(1, Duration::MAX), Ok(())));
        assert_eq!(rx.recv_timeout(Duration::MAX), Ok(1));
    });
}

per_kind!(len_capacity_and_is_empty);
fn len_capacity_and_is_empty(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    assert_eq!(tx.capacity(), kind.cap());
    assert_eq!(rx.capacity(), kind.cap());
    assert!(tx.is_empty() && rx.is_empty());
    assert_eq!((tx.len(), rx.len()), (0, 0));
    let n = kind.room().min(1000);
    for i in 0..n {
        tx.try_send(i as u64).unwrap();
        assert_eq!((tx.len(), rx.len()), (i + 1, i + 1));
        assert!(!tx.is_empty() && !rx.is_empty());
    }
    if kind.cap().is_some() {
        let mut s = task::spawn(tx.send(9));
        assert_pending!(s.poll());
        assert_eq!(rx.len(), n, "a waiting send is not counted");
        rx.try_recv().unwrap();
        if kind.hands_off() {
            assert_eq!(rx.len(), n, "its value moved into the freed place");
        } else {
            assert_eq!(rx.len(), n - 1, "woken to retry, not yet run");
            assert!(s.is_woken());
        }
        assert_ready_eq!(s.poll(), Ok(()));
        assert_eq!(rx.len(), n);
    }
    drain(&rx);
    assert!(tx.is_empty() && rx.is_empty());
    tx.close();
    assert_eq!(tx.capacity(), kind.cap(), "close keeps the capacity");
}

// ===========================================================================
// Races around close.
// ===========================================================================

// Go chan_test.go TestNonblockRecvRace: a value is ready (buffered, or a
// sender waits on an unbuffered channel) while another thread closes the
// channel; a non-blocking receive must never report "empty". Here also: the
// value is received exactly once.
per_kind!(try_recv_racing_close_never_sees_empty);
fn try_recv_racing_close_never_sees_empty(kind: Kind) {
    for _ in 0..500 {
        let (tx, rx) = kind.make::<u64>();
        let mut waiting = None;
        if kind.cap() == Some(0) {
            let mut s = task::spawn(tx.send(1));
            assert_pending!(s.poll());
            waiting = Some(s);
        } else {
            tx.try_send(1).unwrap();
        }
        let got = thread::scope(|s| {
            let h = s.spawn(|| rx.try_recv());
            tx.close();
            h.join().unwrap()
        });
        assert_ne!(got, Err(TryRecvError::Empty), "a value was ready");
        match waiting {
            Some(mut s) => match got {
                Ok(v) => {
                    assert_eq!(v, 1);
                    assert_ready_eq!(s.poll(), Ok(()));
                }
                Err(_) => {
                    assert_ready_eq!(s.poll(), Err(SendError(1)));
                }
            },
            None => assert_eq!(got, Ok(1), "a buffered value survives close"),
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }
}

// Once a receive on a closed channel reported it closed and drained, no
// later receive returns a value (no new value can arrive after close), and
// a value sent with Ok is received exactly once. Here a receive that was
// handed a value is dropped after the close, unobserved.
per_kind!(closed_and_drained_is_final);
fn closed_and_drained_is_final(kind: Kind) {
    let (tx, rx) = kind.make::<u64>();
    let mut r1 = task::spawn(rx.recv());
    assert_pending!(r1.poll());
    assert_eq!(tx.try_send(1), Ok(()), "handed to the waiting receive");
    assert!(tx.close());
    let mut results = vec![rx.try_recv()];
    drop(r1);
    results.push(rx.try_recv());
    results.push(rx.try_recv());
    let first_closed = results
        .iter()
        .position(|r| *r == Err(TryRecvError::Closed))
        .expect("the channel ends closed");
    assert!(
        results[first_closed..]
            .iter()
            .all(|r| *r == Err(TryRecvError::Closed)),
        "a value came out after the channel reported closed and drained: {results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| **r == Ok(1)).count(),
        1,
        "1 was sent with Ok and must be received once: {results:?}"
    );
}

// ===========================================================================
// No user code under the channel's lock: wakers and destructors that use
// the channel again (which takes the lock) must not deadlock.
// ===========================================================================

/// Runs `body(kind)` on a thread; a body that does not finish within 60 s
/// is taken for a deadlock (a hang detector, not a speed assertion).
fn deadlock_watchdog(kind: Kind, body: fn(Kind)) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let t = thread::spawn(move || {
        body(kind);
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => t.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{kind:?}: deadlock (user code run under the channel's lock?)")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p)
            }
        }
    }
}

/// A waker that uses the channel when woken.
struct ReentrantWake {
    tx: Sender<u64>,
    woken: AtomicUsize,
}

impl Wake for ReentrantWake {
    fn wake(self: Arc<Self>) {
        let _ = (self.tx.len(), self.tx.is_closed());
        self.woken.fetch_add(1, SeqCst);
    }
}

fn reentrant_waker(tx: &Sender<u64>) -> (Arc<ReentrantWake>, Waker) {
    let w = Arc::new(ReentrantWake {
        tx: tx.clone(),
        woken: AtomicUsize::new(0),
    });
    (w.clone(), Waker::from(w))
}

per_kind!(wakers_run_outside_the_lock);
fn wakers_run_outside_the_lock(kind: Kind) {
    deadlock_watchdog(kind, |kind| {
        let (tx, rx) = kind.make::<u64>();
        // A send hands a value to a parked receive.
        let (w, waker) = reentrant_waker(&tx);
        let mut cx = Context::from_waker(&waker);
        let mut r = pin!(rx.recv());
        assert!(r.as_mut().poll(&mut cx).is_pending());
        tx.try_send(1).unwrap();
        assert_eq!(w.woken.load(SeqCst), 1);
        assert_eq!(r.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));

        // A dropped receive passes its value on to another parked one.
        let (w, waker) = reentrant_waker(&tx);
        let mut cx2 = Context::from_waker(&waker);
        let mut r1 = task::spawn(rx.recv());
        assert_pending!(r1.poll());
        let mut r2 = pin!(rx.recv());
        assert!(r2.as_mut().poll(&mut cx2).is_pending());
        tx.try_send(2).unwrap();
        drop(r1);
        assert_eq!(w.woken.load(SeqCst), 1);
        assert_eq!(r2.as_mut().poll(&mut cx2), Poll::Ready(Ok(2)));

        // A receive admits (or takes from) a parked send.
        if kind.cap().is_some() {
            fill(&tx, kind);
            let (w, waker) = reentrant_waker(&tx);
            let mut cx = Context::from_waker(&waker);
            let mut s = pin!(tx.send(3));
            assert!(s.as_mut().poll(&mut cx).is_pending());
            rx.try_recv().unwrap();
            assert_eq!(w.woken.load(SeqCst), 1);
            assert_eq!(s.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
            // Close wakes a parked send.
            let (w, waker) = reentrant_waker(&tx);
            let mut cx = Context::from_waker(&waker);
            let mut s = pin!(tx.send(4));
            assert!(s.as_mut().poll(&mut cx).is_pending());
            tx.close();
            assert_eq!(w.woken.load(SeqCst), 1);
            assert_eq!(s.as_mut().poll(&mut cx), Poll::Ready(Err(SendError(4))));
        }

        // Close wakes a parked receive.
        let (tx, rx) = kind.make::<u64>();
        let (w, waker) = reentrant_waker(&tx);
        let mut cx = Context::from_waker(&waker);
        let mut r = pin!(rx.recv());
        assert!(r.as_mut().poll(&mut cx).is_pending());
        rx.close();
        assert_eq!(w.woken.load(SeqCst), 1);
        assert_eq!(r.as_mut().poll(&mut cx), Poll::Ready(Err(RecvError)));
    });
}

/// A value whose destructor uses the channel it was sent on.
struct UsesChannelOnDrop {
    tx: Option<Sender<UsesChannelOnDrop>>,
    dropped: Arc<AtomicUsize>,
}

impl Drop for UsesChannelOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = (tx.len(), tx.is_closed());
        }
        self.dropped.fetch_add(1, SeqCst);
    }
}

per_kind!(destructors_run_outside_the_lock);
fn destructors_run_outside_the_lock(kind: Kind) {
    deadlock_watchdog(kind, |kind| {
        let Some(cap) = kind.cap() else { return };
        let dropped = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = kind.make::<UsesChannelOnDrop>();
        let value = |tx: &Sender<UsesChannelOnDrop>| UsesChannelOnDrop {
            tx: Some(tx.clone()),
            dropped: dropped.clone(),
        };
        for _ in 0..cap {
            assert!(tx.try_send(value(&tx)).is_ok());
        }
        // A parked send dropped: its value is dropped by the channel.
        let mut s = task::spawn(tx.send(value(&tx)));
        assert_pending!(s.poll());
        drop(s);
        assert_eq!(dropped.load(SeqCst), 1);
        // A parked send that the close gave back, dropped unobserved.
        let mut s = task::spawn(tx.send(value(&tx)));
        assert_pending!(s.poll());
        rx.close();
        drop(s);
        assert_eq!(dropped.load(SeqCst), 2);
        drop(drain(&rx));
        assert_eq!(dropped.load(SeqCst), 2 + cap);
    });
}

// ===========================================================================
// Errors: Debug without `T: Debug`, Display, the value comes back.
// ===========================================================================

#[test]
fn errors_format_without_debug_values_and_give_the_value_back() {
    struct Opaque(u8);
    assert_eq!(format!("{:?}", SendError(Opaque(1))), "SendError(..)");
    assert_eq!(format!("{:?}", TrySendError::Full(Opaque(1))), "Full(..)");
    assert_eq!(
        format!("{:?}", TrySendError::Closed(Opaque(1))),
        "Closed(..)"
    );
    assert_eq!(
        format!("{:?}", SendTimeoutError::Timeout(Opaque(1))),
        "Timeout(..)"
    );
    assert_eq!(SendError(Opaque(2)).into_inner().0, 2);
    assert_eq!(TrySendError::Full(Opaque(3)).into_inner().0, 3);
    assert_eq!(SendTimeoutError::Closed(Opaque(4)).into_inner().0, 4);
    for msg in [
        SendError(()).to_string(),
        TrySendError::Full(()).to_string(),
        SendTimeoutError::Timeout(()).to_string(),
        RecvError.to_string(),
        TryRecvError::Empty.to_string(),
        RecvTimeoutError::Timeout.to_string(),
    ] {
        assert!(!msg.is_empty());
    }
    let (tx, rx) = bounded::<Opaque>(1);
    assert!(format!("{tx:?}").starts_with("Sender"));
    assert!(format!("{rx:?}").starts_with("Receiver"));
    assert!(format!("{:?}", tx.into_sink()).starts_with("SendSink"));
}

/// A waker that sends on a channel when it is dropped.
struct SendsOnDrop(gort_channel::Sender<u32>);

impl Wake for SendsOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for SendsOnDrop {
    fn drop(&mut self) {
        let _ = self.0.try_send(9);
    }
}

/// A parked receive polled again with another waker drops the old one
/// after releasing the channel's lock: here the old waker's destructor
/// uses the same channel (it hands its value to that very receive), which
/// deadlocked while the old waker was dropped under the lock.
#[test]
fn a_replaced_waker_is_dropped_outside_the_lock() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let (tx, rx) = gort_channel::bounded::<u32>(0);
        let mut fut = pin!(rx.recv());
        let first = Waker::from(Arc::new(SendsOnDrop(tx.clone())));
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&first))
            .is_pending());
        drop(first); // the parked waiter holds the last reference
        let second = futures::task::noop_waker();
        let got = loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(&second)) {
                break v;
            }
        };
        done_tx.send(got).unwrap();
    });
    // A hang detector, not a speed assertion.
    let got = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("deadlock: a waker was dropped under the channel's lock");
    assert_eq!(got, Ok(9));
}
