//! The cooperative budget (gort-coop) in the channel's futures, without an
//! executor: polls run inside `gort_coop::budget` as gort's executor runs
//! them. A future that finds the budget spent must wake its task and return
//! `Pending` having done nothing: no value taken, none sent, no select arm
//! committed.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures::StreamExt;
use gort::chan::{bounded, unbounded};

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn wakes(c: &Count) -> usize {
    c.0.load(Ordering::SeqCst)
}

/// Spends what is left of the current budget (without the wake that a
/// `poll_proceed` on a spent budget makes).
fn spend(cx: &mut Context<'_>) {
    while gort_coop::has_budget_remaining() {
        let Poll::Ready(p) = gort_coop::poll_proceed(cx) else {
            unreachable!("units were left")
        };
        p.made_progress();
    }
}

/// Polls `f` once inside a fresh budget that is spent before the poll.
fn poll_spent<F: Future>(f: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
    gort_coop::budget(|| {
        spend(cx);
        f.poll(cx)
    })
}

#[test]
fn a_receive_with_the_budget_spent_takes_nothing_and_wakes_its_task() {
    for cap in [Some(1), Some(4), None] {
        let (tx, rx) = match cap {
            Some(c) => bounded::<u32>(c),
            None => unbounded(),
        };
        tx.try_send(7).unwrap();
        let (woken, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut recv = pin!(rx.recv());
        let before = wakes(&woken);
        assert!(poll_spent(recv.as_mut(), &mut cx).is_pending());
        assert_eq!(wakes(&woken), before + 1, "the task was not woken");
        assert_eq!(rx.len(), 1, "the value left the channel");
        // The next poll, with a budget, takes it.
        let got = gort_coop::budget(|| recv.as_mut().poll(&mut cx));
        assert_eq!(got, Poll::Ready(Ok(7)));
    }
}

#[test]
fn a_send_with_the_budget_spent_sends_nothing() {
    let (tx, rx) = bounded::<u32>(4);
    let (woken, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut send = pin!(tx.send(1));
    assert!(poll_spent(send.as_mut(), &mut cx).is_pending());
    assert_eq!(wakes(&woken), 1);
    assert!(rx.is_empty(), "sent while yielding for the budget");
    assert!(gort_coop::budget(|| send.as_mut().poll(&mut cx)).is_ready());
    assert_eq!(rx.try_recv(), Ok(1));
}

/// On an unbuffered channel a parked receive that a send met has a value
/// reserved for it; polled with the budget spent it keeps the reservation
/// and takes the value on the next poll.
#[test]
fn a_woken_unbuffered_receive_keeps_its_reserved_value_across_a_budget_yield() {
    let (tx, rx) = bounded::<u32>(0);
    let (woken, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut recv = pin!(rx.recv());
    assert!(gort_coop::budget(|| recv.as_mut().poll(&mut cx)).is_pending());
    tx.try_send(5).expect("a parked receiver takes the value");
    assert!(wakes(&woken) >= 1);
    assert!(poll_spent(recv.as_mut(), &mut cx).is_pending());
    assert_eq!(rx.len(), 1, "the reserved value is still in the channel");
    let other = rx.clone();
    assert!(other.try_recv().is_err(), "another receive took it");
    assert_eq!(
        gort_coop::budget(|| recv.as_mut().poll(&mut cx)),
        Poll::Ready(Ok(5))
    );
}

#[test]
fn the_stream_yields_for_the_budget_too() {
    const N: u32 = 1_000_000;
    let (tx, mut rx) = unbounded::<u32>();
    for i in 0..N {
        tx.try_send(i).unwrap();
    }
    let mut cx = Context::from_waker(Waker::noop());
    let mut got = 0;
    gort_coop::budget(|| {
        while let Poll::Ready(Some(v)) = rx.poll_next_unpin(&mut cx) {
            assert_eq!(v, got);
            got += 1;
        }
    });
    // It stopped at a look at the clock, after the slice, before the end.
    let budget = gort_coop::BUDGET as u32;
    assert!(got >= 2 * budget && got % budget == 0 && got < N, "{got}");
    assert_eq!(rx.len(), (N - got) as usize);
}

/// A select with the budget spent commits no arm, in its first poll and
/// after its cases are registered; the next poll commits exactly one.
#[test]
fn a_select_with_the_budget_spent_commits_nothing() {
    let (a_tx, a_rx) = bounded::<u32>(1);
    let (b_tx, b_rx) = bounded::<u32>(1);
    a_tx.try_send(1).unwrap();
    let (woken, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut sel = pin!(async {
        gort::select! {
            v = a_rx.recv() => (0, v.unwrap()),
            r = b_tx.send(2) => { r.unwrap(); (1, 2) },
        }
    });
    assert!(poll_spent(sel.as_mut(), &mut cx).is_pending());
    assert_eq!(wakes(&woken), 1);
    assert_eq!((a_rx.len(), b_rx.len()), (1, 0), "an arm took effect");
    let Poll::Ready(won) = gort_coop::budget(|| sel.as_mut().poll(&mut cx)) else {
        panic!("both arms were ready")
    };
    match won {
        (0, 1) => assert_eq!((a_rx.len(), b_rx.len()), (0, 0)),
        (1, 2) => assert_eq!((a_rx.len(), b_rx.len()), (1, 1)),
        other => panic!("{other:?}"),
    }

    // Registered first (nothing ready), then a value arrives and wins the
    // claim; polled with the budget spent the select keeps the win for the
    // next poll.
    let (c_tx, c_rx) = bounded::<u32>(0);
    let (d_tx, d_rx) = bounded::<u32>(0);
    let mut sel = pin!(async {
        gort::select! {
            v = c_rx.recv() => v.unwrap(),
            v = d_rx.recv() => v.unwrap() + 100,
        }
    });
    assert!(gort_coop::budget(|| sel.as_mut().poll(&mut cx)).is_pending());
    c_tx.try_send(3).expect("the registered case takes it");
    assert!(poll_spent(sel.as_mut(), &mut cx).is_pending());
    assert!(d_tx.try_send(4).is_err(), "the other case is still open");
    assert_eq!(
        gort_coop::budget(|| sel.as_mut().poll(&mut cx)),
        Poll::Ready(3)
    );
}

/// 10^5 selects over two always-ready receives and an always-ready send,
/// driven by a loop that polls with a fresh budget each time (as an
/// executor): the select yields whenever a poll's slice is over, and every
/// value is taken exactly once.
#[test]
fn select_loop_under_the_budget_is_exactly_once() {
    const N: u64 = 100_000;
    let (a_tx, a_rx) = unbounded::<u64>();
    let (b_tx, b_rx) = unbounded::<u64>();
    let (out_tx, out_rx) = unbounded::<u64>();
    for i in 0..N {
        a_tx.try_send(i).unwrap();
        b_tx.try_send(N + i).unwrap();
    }
    let mut picked = Vec::new();
    let mut sent = Vec::new();
    {
        let mut fut = pin!(async {
            for i in 0..N {
                gort::select! {
                    v = a_rx.recv() => picked.push(v.unwrap()),
                    v = b_rx.recv() => picked.push(v.unwrap()),
                    r = out_tx.send(2 * N + i) => { r.unwrap(); sent.push(2 * N + i) },
                }
            }
        });
        let (woken, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut polls = 0u64;
        while gort_coop::budget(|| fut.as_mut().poll(&mut cx)).is_pending() {
            polls += 1;
            assert_eq!(wakes(&woken), polls as usize, "a yield without a wake");
        }
        // Each poll but the last ran out of its slice: at least two
        // budgets' worth of selects each, and 10^5 of them last longer
        // than one slice.
        assert!(polls >= 1, "the budget never made it yield");
        assert!(
            polls <= N / (2 * gort_coop::BUDGET as u64),
            "{polls} yields"
        );
    }
    let mut all: Vec<u64> = picked
        .iter()
        .copied()
        .chain(std::iter::from_fn(|| a_rx.try_recv().ok()))
        .chain(std::iter::from_fn(|| b_rx.try_recv().ok()))
        .collect();
    assert_eq!(picked.len() + sent.len(), N as usize);
    all.sort_unstable();
    assert_eq!(all, (0..2 * N).collect::<Vec<_>>());
    let delivered: Vec<u64> = std::iter::from_fn(|| out_rx.try_recv().ok()).collect();
    assert_eq!(delivered, sent);
}

/// Off any gort executor (no budget set) nothing is limited.
#[test]
fn without_a_budget_nothing_yields() {
    let (tx, rx) = unbounded::<u64>();
    let mut cx = Context::from_waker(Waker::noop());
    for i in 0..10_000 {
        assert!(pin!(tx.send(i)).poll(&mut cx).is_ready());
        assert_eq!(pin!(rx.recv()).poll(&mut cx), Poll::Ready(Ok(i)));
    }
}
