//! The task state machine: wake vs completion vs abort vs JoinHandle drop.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::{poll_once, spawn_on, QueueSched};
use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::{lock, thread, Arc, Mutex};

/// Counts its drops.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Ready once `fired` is set; otherwise leaves its waker in `slot`.
struct WaitFired {
    fired: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    _guard: DropCount,
}

impl Future for WaitFired {
    type Output = DropCount;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DropCount> {
        *lock(&self.slot) = Some(cx.waker().clone());
        if self.fired.load(SeqCst) {
            Poll::Ready(DropCount(self._guard.0.clone()))
        } else {
            Poll::Pending
        }
    }
}

struct Fixture {
    sched: QueueSched,
    fired: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    drops: Arc<AtomicUsize>,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            sched: QueueSched::new(),
            fired: Arc::new(AtomicBool::new(false)),
            slot: Arc::new(Mutex::new(None)),
            drops: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn future(&self) -> WaitFired {
        WaitFired {
            fired: self.fired.clone(),
            slot: self.slot.clone(),
            _guard: DropCount(self.drops.clone()),
        }
    }

    /// The wake side of the protocol: set the flag, then wake whoever waits.
    fn fire(&self) -> impl FnOnce() + Send + 'static {
        let fired = self.fired.clone();
        let slot = self.slot.clone();
        move || {
            fired.store(true, SeqCst);
            let waker = lock(&slot).take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// A wake from another thread racing the poll is never lost: the task
/// completes, its future and output are dropped once, and the task is freed.
#[test]
fn wake_races_poll() {
    loom::model(|| {
        let fx = Fixture::new();
        let (notified, mut join) = spawn_on(&fx.sched, 1, fx.future());
        let th = thread::spawn(fx.fire());
        notified.run(false);
        th.join().unwrap();
        fx.sched.run_all();
        let out = match poll_once(&mut join) {
            Poll::Ready(Ok(out)) => out,
            other => panic!(
                "task not complete after its wake: {:?}",
                other.map(|r| r.is_ok())
            ),
        };
        drop(out);
        drop(join);
        drop(lock(&fx.slot).take());
        // The future's guard and the output: two drops, each once.
        assert_eq!(fx.drops.load(SeqCst), 2);
        // The task's scheduler clone is gone: the task was freed.
        assert_eq!(Arc::strong_count(&fx.sched.0), 1);
    });
}

/// Abort from another thread racing a poll that completes: the joiner sees
/// either the value or a cancellation, and everything is dropped once.
#[test]
fn abort_races_completion() {
    loom::model(|| {
        let fx = Fixture::new();
        fx.fired.store(true, SeqCst); // completes on its first poll
        let (notified, join) = spawn_on(&fx.sched, 2, fx.future());
        let join = Arc::new(Mutex::new(Some(join)));
        let j2 = join.clone();
        let th = thread::spawn(move || {
            if let Some(j) = lock(&j2).as_ref() {
                j.abort();
            }
        });
        notified.run(false);
        th.join().unwrap();
        fx.sched.run_all();
        let mut join = lock(&join).take().unwrap();
        match poll_once(&mut join) {
            Poll::Ready(Ok(out)) => drop(out),
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            Poll::Pending => panic!("aborted-or-complete task still pending"),
        }
        drop(join);
        drop(lock(&fx.slot).take());
        let drops = fx.drops.load(SeqCst);
        assert!(drops == 2 || drops == 1, "drops = {drops}");
        assert_eq!(Arc::strong_count(&fx.sched.0), 1);
    });
}

/// Abort of an idle task from another thread racing its wake: it ends
/// cancelled or complete, never both, never stuck.
#[test]
fn abort_races_wake() {
    loom::model(|| {
        let fx = Fixture::new();
        let (notified, mut join) = spawn_on(&fx.sched, 3, fx.future());
        notified.run(false); // now idle, waker in the slot
        let fire = fx.fire();
        let th = thread::spawn(fire);
        join.abort();
        th.join().unwrap();
        fx.sched.run_all();
        match poll_once(&mut join) {
            Poll::Ready(Ok(out)) => drop(out),
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            Poll::Pending => panic!("task stuck after abort and wake"),
        }
        drop(join);
        drop(lock(&fx.slot).take());
        assert_eq!(Arc::strong_count(&fx.sched.0), 1);
    });
}

/// Dropping the JoinHandle while the task completes on another thread:
/// the output is dropped exactly once (by whichever side owns it).
#[test]
fn join_handle_drop_races_completion() {
    loom::model(|| {
        let fx = Fixture::new();
        fx.fired.store(true, SeqCst);
        let (notified, join) = spawn_on(&fx.sched, 4, fx.future());
        let th = thread::spawn(move || drop(join));
        notified.run(false);
        th.join().unwrap();
        drop(lock(&fx.slot).take());
        assert_eq!(fx.drops.load(SeqCst), 2);
        assert_eq!(Arc::strong_count(&fx.sched.0), 1);
    });
}

/// A joiner registering its waker races the completion: if its poll
/// returned `Pending`, the completion woke it, and the next poll reads the
/// output. A lost join wakeup fails the model.
#[test]
fn join_waker_races_completion() {
    loom::model(|| {
        let fx = Fixture::new();
        let (notified, join) = spawn_on(&fx.sched, 5, fx.future());
        notified.run(false); // idle
        let woken = Arc::new(AtomicBool::new(false));
        let w2 = woken.clone();
        let th = thread::spawn(move || {
            let mut join = join;
            let waker = futures::task::waker(FlagWaker::new(w2));
            let mut cx = Context::from_waker(&waker);
            match Pin::new(&mut join).poll(&mut cx) {
                Poll::Ready(r) => {
                    drop(r.unwrap());
                    None
                }
                Poll::Pending => Some(join),
            }
        });
        (fx.fire())();
        fx.sched.run_all();
        if let Some(mut join) = th.join().unwrap() {
            assert!(
                woken.load(SeqCst),
                "joiner returned Pending and was never woken"
            );
            match poll_once(&mut join) {
                Poll::Ready(r) => drop(r.unwrap()),
                Poll::Pending => panic!("woken joiner finds no output"),
            }
        }
        drop(lock(&fx.slot).take());
        assert_eq!(fx.drops.load(SeqCst), 2);
        assert_eq!(Arc::strong_count(&fx.sched.0), 1);
    });
}

/// A `std::sync::Arc`-based waker that records the wake in a loom atomic.
struct FlagWaker(Arc<AtomicBool>);

impl FlagWaker {
    fn new(flag: Arc<AtomicBool>) -> std::sync::Arc<Self> {
        std::sync::Arc::new(FlagWaker(flag))
    }
}

impl futures::task::ArcWake for FlagWaker {
    fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
        arc_self.0.store(true, SeqCst);
    }
}
