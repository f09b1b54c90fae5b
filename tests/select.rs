//! `gort::select!`: exactly one arm takes effect, the choice among ready
//! arms is uniform (Go's `TestSelectFairness`), `default` runs only when
//! nothing is ready, closed channels make arms ready, a dropped select
//! takes every arm back, and under contention an unchosen rendezvous send
//! never delivers its value. Guards (`, if cond`): a false one makes its
//! arm Go's nil channel (never ready, nothing registered, its future not
//! evaluated), Go's fan-in loop ends once both inputs are closed, the
//! choice stays uniform among the enabled arms, and a select with every
//! arm disabled runs `default` or panics.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::noop_waker;
use gort::chan::{self, RecvError, SendError, TryRecvError};
use tokio_test::{assert_pending, assert_ready, task};

#[path = "../channel/tests/support/mod.rs"]
mod support;
use support::{watchdog, Seen};

fn runtime(workers: usize) -> gort::runtime::Runtime {
    gort::runtime::Builder::new()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// Go's TestSelectFairness, with two channels: 100,000 selects between two
/// always-ready receives choose each within 10 sigma of half.
#[test]
fn choice_among_ready_arms_is_uniform() {
    const TRIALS: u64 = 100_000;
    let (tx1, rx1) = chan::bounded::<u8>(1);
    let (tx2, rx2) = chan::bounded::<u8>(1);
    let counts = gort::block_on(async move {
        let mut counts = [0u64; 2];
        for _ in 0..TRIALS {
            // Both ready at every select.
            let _ = tx1.try_send(1);
            let _ = tx2.try_send(2);
            let got = gort::select! {
                v = rx1.recv() => v.unwrap(),
                v = rx2.recv() => v.unwrap(),
            };
            counts[got as usize - 1] += 1;
        }
        counts
    });
    assert_within_10_sigma(counts[0], TRIALS, "first receive arm");
}

/// |count - n/2| <= 10 sqrt(n/4).
fn assert_within_10_sigma(count: u64, n: u64, what: &str) {
    let mean = n as f64 / 2.0;
    let sigma = (n as f64 * 0.25).sqrt();
    assert!(
        (count as f64 - mean).abs() <= 10.0 * sigma,
        "{what} chosen {count} times of {n} (expected {mean} +- {})",
        10.0 * sigma
    );
}

/// Fairness between a send arm and a receive arm, both always ready, and
/// with a `default` arm present (it must never run while an arm is ready).
#[test]
fn choice_between_send_and_recv_arms_is_uniform_and_default_never_runs() {
    const TRIALS: u64 = 100_000;
    let (in_tx, in_rx) = chan::bounded::<u8>(1);
    let (out_tx, out_rx) = chan::bounded::<u8>(1);
    let counts = gort::block_on(async move {
        let mut counts = [0u64; 2];
        for _ in 0..TRIALS {
            let _ = in_tx.try_send(0);
            let _ = out_rx.try_recv();
            let arm = gort::select! {
                _ = in_rx.recv() => 0,
                r = out_tx.send(1) => { r.unwrap(); 1 },
                default => panic!("default ran while two arms were ready"),
            };
            counts[arm] += 1;
        }
        counts
    });
    assert_within_10_sigma(counts[0], TRIALS, "receive arm");
}

#[test]
fn default_runs_only_when_nothing_is_ready() {
    let (tx, rx) = chan::bounded::<u32>(0);
    gort::block_on(async {
        // Unbuffered, nobody on the other side: neither arm is ready.
        let arm = gort::select! {
            _ = rx.recv() => "recv",
            _ = tx.send(1) => "send",
            default => "default",
        };
        assert_eq!(arm, "default");
    });
    // The unchosen send delivered nothing and left no waiter behind.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let (tx, rx) = chan::bounded::<u32>(1);
    tx.try_send(5).unwrap();
    let got = gort::block_on(async {
        gort::select! {
            v = rx.recv() => v,
            default => panic!("default ran while a value was buffered"),
        }
    });
    assert_eq!(got, Ok(5));
    // Only a default: it runs.
    let only = gort::block_on(async {
        gort::select! { default => 7 }
    });
    assert_eq!(only, 7);
}

#[test]
fn closed_channels_make_arms_ready() {
    let (tx, rx) = chan::bounded::<u32>(0);
    rx.close();
    let got = gort::block_on(async {
        gort::select! {
            r = tx.send(9) => r,
            default => panic!("a send on a closed channel is ready"),
        }
    });
    assert_eq!(got, Err(SendError(9)), "the value comes back");

    let (tx, rx) = chan::bounded::<u32>(2);
    tx.try_send(1).unwrap();
    tx.close();
    gort::block_on(async {
        // Drains first, then reports the close.
        let a = gort::select! { v = rx.recv() => v };
        let b = gort::select! { v = rx.recv() => v };
        assert_eq!((a, b), (Ok(1), Err(RecvError)));
    });
}

/// A select parked on a receive and a send learns of a close on either.
#[test]
fn parked_select_is_woken_by_close() {
    let (tx, rx) = chan::bounded::<u32>(0);
    let (_tx2, rx2) = chan::bounded::<u32>(0);
    let mut sel = task::spawn(async {
        gort::select! {
            v = rx.recv() => ("first", v),
            v = rx2.recv() => ("second", v),
        }
    });
    assert_pending!(sel.poll());
    tx.close();
    assert!(sel.is_woken());
    assert_eq!(assert_ready!(sel.poll()), ("first", Err(RecvError)));

    let (tx, rx) = chan::bounded::<u32>(0);
    let (_tx2, rx2) = chan::bounded::<u32>(0);
    let mut sel = task::spawn(async {
        gort::select! {
            r = tx.send(3) => r,
            _ = rx2.recv() => unreachable!(),
        }
    });
    assert_pending!(sel.poll());
    rx.close();
    assert!(sel.is_woken());
    assert_eq!(assert_ready!(sel.poll()), Err(SendError(3)));
}

/// A parked select takes exactly one of two values sent to it; the other
/// stays with its sender.
#[test]
fn parked_select_takes_exactly_one_hand_off() {
    let (tx1, rx1) = chan::bounded::<u32>(0);
    let (tx2, rx2) = chan::bounded::<u32>(0);
    let mut sel = task::spawn(async {
        gort::select! {
            v = rx1.recv() => (1, v.unwrap()),
            v = rx2.recv() => (2, v.unwrap()),
        }
    });
    assert_pending!(sel.poll());
    assert_eq!(tx1.try_send(10), Ok(()), "the parked select takes it");
    // The select is decided: its other arm is no longer a receiver.
    assert!(tx2.try_send(20).unwrap_err().is_full());
    assert!(sel.is_woken());
    assert_eq!(assert_ready!(sel.poll()), (1, 10));
    drop(sel);
    assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx2.try_recv(), Err(TryRecvError::Empty));
}

/// A select with a send and a receive on one unbuffered channel never
/// pairs with itself; another party completes one of them.
#[test]
fn select_does_not_rendezvous_with_itself() {
    let (tx, rx) = chan::bounded::<u32>(0);
    let mut sel = task::spawn(async {
        gort::select! {
            v = rx.recv() => format!("recv {}", v.unwrap()),
            r = tx.send(1) => { r.unwrap(); "send".to_string() },
        }
    });
    assert_pending!(sel.poll());
    assert_pending!(sel.poll());
    assert!(!sel.is_woken());
    // Another receiver takes the select's send.
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(assert_ready!(sel.poll()), "send");
    // Nothing else happened.
    assert!(tx.try_send(2).unwrap_err().is_full());
}

/// Dropping a parked select takes every arm back: its send is never
/// delivered, and a value already handed to its receive goes back to the
/// channel.
#[test]
fn dropped_select_takes_its_arms_back() {
    let (tx, rx) = chan::bounded::<u32>(0);
    let (otx, orx) = chan::bounded::<u32>(0);
    {
        let mut sel = task::spawn(async {
            gort::select! {
                v = rx.recv() => v.unwrap(),
                r = otx.send(5) => { r.unwrap(); 0 },
            }
        });
        assert_pending!(sel.poll());
    }
    assert_eq!(
        orx.try_recv(),
        Err(TryRecvError::Empty),
        "dropped send delivered"
    );
    assert!(
        tx.try_send(1).unwrap_err().is_full(),
        "a receive waiter was left"
    );

    // The receive won a hand-off, then the select was dropped unpolled.
    let (tx, rx) = chan::bounded::<u32>(0);
    let (_tx2, rx2) = chan::bounded::<u32>(0);
    {
        let mut sel = task::spawn(async {
            gort::select! {
                v = rx.recv() => v.unwrap(),
                v = rx2.recv() => v.unwrap(),
            }
        });
        assert_pending!(sel.poll());
        tx.try_send(42).unwrap();
    }
    assert_eq!(rx.try_recv(), Ok(42), "a value sent with Ok was lost");
}

/// A re-polled select with a new waker is woken through the new one.
#[test]
fn select_wakes_the_latest_waker() {
    let (tx, rx) = chan::bounded::<u32>(0);
    let (_tx2, rx2) = chan::bounded::<u32>(0);
    let mut fut = pin!(async {
        gort::select! {
            v = rx.recv() => v.unwrap(),
            v = rx2.recv() => v.unwrap(),
        }
    });
    let noop = noop_waker();
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&noop))
        .is_pending());
    let mut sel = task::spawn(());
    sel.enter(|cx, _| {
        assert!(fut.as_mut().poll(cx).is_pending());
    });
    tx.try_send(3).unwrap();
    assert!(sel.is_woken(), "the second waker was not woken");
    assert_eq!(
        fut.as_mut().poll(&mut Context::from_waker(&noop)),
        Poll::Ready(3)
    );
}

/// A buffered arm woken for a value that a plain receive takes first: the
/// select finds nothing, parks again, and takes the next value (exactly
/// one arm, each value received once).
#[test]
fn woken_buffered_arm_lost_to_another_receive_parks_again() {
    let (tx, rx) = chan::bounded::<u32>(2);
    let (_tx2, rx2) = chan::bounded::<u32>(1);
    let mut sel = task::spawn(async {
        gort::select! {
            v = rx.recv() => v.unwrap(),
            v = rx2.recv() => v.unwrap() + 100,
        }
    });
    assert_pending!(sel.poll());
    tx.try_send(1).unwrap();
    assert!(sel.is_woken(), "the parked arm was not woken");
    // Another receiver takes the value before the select looks.
    assert_eq!(rx.try_recv(), Ok(1));
    assert_pending!(sel.poll());
    tx.try_send(2).unwrap();
    assert!(sel.is_woken(), "the re-parked arm was not woken");
    assert_eq!(assert_ready!(sel.poll()), 2);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

/// Arms on other futures: a join handle and a never-ready receive.
#[test]
fn future_arms() {
    let rt = runtime(2);
    let (_tx, rx) = chan::bounded::<u32>(0);
    let got = rt.block_on(async {
        let h = gort::spawn(async { 7 });
        gort::select! {
            v = rx.recv() => v.unwrap(),
            j = h => j.unwrap(),
        }
    });
    assert_eq!(got, 7);
    // A ready future and a ready receive are both chosen sometimes.
    let (tx, rx) = chan::bounded::<u32>(1);
    let mut arms = [0u32; 2];
    rt.block_on(async {
        for _ in 0..1000 {
            let _ = tx.try_send(1);
            let arm = gort::select! {
                _ = rx.recv() => 0,
                _ = std::future::ready(()) => 1,
            };
            arms[arm] += 1;
        }
    });
    assert!(arms[0] > 0 && arms[1] > 0, "{arms:?}");
}

/// Multiple arms on the same channel; arms with a pattern.
#[test]
fn arms_on_the_same_channel() {
    let (tx, rx) = chan::bounded::<(u32, u32)>(4);
    tx.try_send((1, 2)).unwrap();
    let sum = gort::block_on(async {
        gort::select! {
            v = rx.recv() => { let (a, b) = v.unwrap(); a + b },
            v = rx.recv() => { let (a, b) = v.unwrap(); 10 * (a + b) },
        }
    });
    assert!(sum == 3 || sum == 30);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

/// Under contention: tasks select between two rendezvous sends; receivers
/// take from both channels. Every select reports the arm that delivered,
/// and every value is received exactly once on the channel its select
/// reported (an unchosen send arm never delivers).
#[test]
fn unchosen_rendezvous_send_arms_never_deliver() {
    #[cfg(not(debug_assertions))]
    const SELECTS: u64 = 200_000;
    #[cfg(debug_assertions)]
    const SELECTS: u64 = 20_000;
    const SENDERS: u64 = 4;
    watchdog("unchosen_rendezvous_send_arms_never_deliver", || {
        let rt = runtime(2);
        // Value v's chosen channel, as its select reported it: bit v of
        // `on_a` means channel A.
        let on_a = Seen::new(SELECTS);
        let got_a = Seen::new(SELECTS);
        let got_b = Seen::new(SELECTS);
        rt.block_on(async {
            let (atx, arx) = chan::bounded::<u64>(0);
            let (btx, brx) = chan::bounded::<u64>(0);
            let mut receivers = Vec::new();
            for (rx, seen) in [(arx.clone(), &got_a), (brx.clone(), &got_b)] {
                for _ in 0..2 {
                    let (rx, seen) = (rx.clone(), Arc::clone(seen));
                    receivers.push(gort::spawn(async move {
                        while let Ok(v) = rx.recv().await {
                            seen.mark(v);
                        }
                    }));
                }
            }
            drop((arx, brx));
            let mut senders = Vec::new();
            for s in 0..SENDERS {
                let (atx, btx, on_a) = (atx.clone(), btx.clone(), Arc::clone(&on_a));
                senders.push(gort::spawn(async move {
                    for v in (s..SELECTS).step_by(SENDERS as usize) {
                        gort::select! {
                            r = atx.send(v) => { r.unwrap(); on_a.mark(v) },
                            r = btx.send(v) => r.unwrap(),
                        }
                    }
                }));
            }
            drop((atx, btx));
            for h in senders {
                h.await.unwrap();
            }
            for h in receivers {
                h.await.unwrap();
            }
        });
        // Each value arrived exactly once, on the channel its select chose.
        for v in 0..SELECTS {
            let a = got_a.contains(v);
            let b = got_b.contains(v);
            assert!(a != b, "value {v} received {} times", a as u8 + b as u8);
            assert_eq!(
                a,
                on_a.contains(v),
                "value {v} arrived on the arm not chosen"
            );
        }
    });
}

/// Selects facing selects: both sides of every rendezvous are selects
/// (the register/abort/retry path), across two workers.
#[test]
fn selects_rendezvous_with_selects() {
    const ROUNDS: u64 = 50_000;
    watchdog("selects_rendezvous_with_selects", || {
        let rt = runtime(2);
        let sum = rt.block_on(async {
            let (tx, rx) = chan::bounded::<u64>(0);
            let (never_tx, never_rx) = chan::bounded::<u64>(0);
            let never_rx2 = never_rx.clone();
            let producer = gort::spawn(async move {
                for v in 0..ROUNDS {
                    gort::select! {
                        r = tx.send(v) => r.unwrap(),
                        _ = never_rx.recv() => unreachable!(),
                    }
                }
            });
            let mut sum = 0;
            for _ in 0..ROUNDS {
                gort::select! {
                    v = rx.recv() => sum += v.unwrap(),
                    _ = never_rx2.recv() => unreachable!(),
                }
            }
            producer.await.unwrap();
            drop(never_tx);
            sum
        });
        assert_eq!(sum, ROUNDS * (ROUNDS - 1) / 2);
    });
}

/// The select! future is Send when its arms are, and works under tokio.
#[test]
fn works_under_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let got = rt.block_on(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let (_qtx, qrx) = chan::bounded::<()>(0);
        let h = tokio::spawn(async move {
            gort::select! {
                v = rx.recv() => v.unwrap(),
                _ = qrx.recv() => 0,
            }
        });
        tx.send(11).await.unwrap();
        h.await.unwrap()
    });
    assert_eq!(got, 11);
}

/// Go's fan-in loop with nil channels: each input's arm is guarded by
/// "still open", so once an input is closed and drained its arm is off
/// (otherwise a closed channel's arm is always ready with `Err`, and the
/// loop would spin on it). Each close is seen exactly once, every value
/// arrives, and the loop ends when both guards are false.
#[test]
fn guards_turn_off_closed_inputs_in_a_fan_in_loop() {
    const N: u64 = 10_000;
    watchdog("select_guard_fan_in", || {
        let rt = runtime(2);
        let (a_tx, a_rx) = chan::bounded::<u64>(0);
        let (b_tx, b_rx) = chan::bounded::<u64>(4);
        let a = rt.spawn(async move {
            for v in 0..N {
                a_tx.send(v).await.unwrap();
            }
        });
        let b = rt.spawn(async move {
            for v in 0..N / 2 {
                b_tx.send(N + v).await.unwrap();
            }
        });
        let (sum, got, closes) = rt.block_on(async move {
            let (mut a_open, mut b_open) = (true, true);
            let (mut sum, mut got, mut closes) = (0u64, 0u64, [0u32; 2]);
            while a_open || b_open {
                gort::select! {
                    v = a_rx.recv(), if a_open => match v {
                        Ok(v) => { sum += v; got += 1; }
                        Err(RecvError) => { a_open = false; closes[0] += 1; }
                    },
                    v = b_rx.recv(), if b_open => match v {
                        Ok(v) => { sum += v; got += 1; }
                        Err(RecvError) => { b_open = false; closes[1] += 1; }
                    },
                }
            }
            (sum, got, closes)
        });
        rt.block_on(a).unwrap();
        rt.block_on(b).unwrap();
        let expected: u64 = (0..N).sum::<u64>() + (N..N + N / 2).sum::<u64>();
        assert_eq!((got, sum), (N + N / 2, expected));
        assert_eq!(
            closes,
            [1, 1],
            "each close is seen once, then its arm is off"
        );
    });
}

/// A disabled arm's future expression is not evaluated; each guard is
/// evaluated once; an enabled guarded arm works as an unguarded one.
#[test]
fn a_disabled_arm_evaluates_nothing_but_its_guard() {
    use std::cell::Cell;
    let built = Cell::new(0u32);
    let guards = Cell::new(0u32);
    let build = |v: u32| {
        built.set(built.get() + 1);
        std::future::ready(v)
    };
    let guard = |on: bool| {
        guards.set(guards.get() + 1);
        on
    };
    let got = gort::block_on(async {
        gort::select! {
            v = build(1), if guard(false) => v,
            v = std::future::pending::<u32>(), if guard(true) => v,
            v = build(3), if guard(false) => v,
            default => 0,
        }
    });
    assert_eq!(got, 0, "the only enabled arm is never ready");
    assert_eq!((built.get(), guards.get()), (0, 3));

    let got = gort::block_on(async {
        gort::select! {
            v = build(1), if guard(false) => v,
            v = build(2), if guard(true) => v,
        }
    });
    assert_eq!(got, 2);
    assert_eq!((built.get(), guards.get()), (1, 5));
}

/// A disabled arm is never ready and registers nothing: a send arm on a
/// channel with room does not happen, and a parked select with a disabled
/// receive arm is no receiver for that channel.
#[test]
fn a_disabled_arm_is_never_ready_and_registers_nothing() {
    let (tx, rx) = chan::bounded::<u32>(1);
    let sent = gort::block_on(async {
        gort::select! {
            r = tx.send(1), if false => r.is_ok(),
            default => false,
        }
    });
    assert!(!sent, "a disabled send arm with room in the channel ran");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "it delivered");

    let (off_tx, off_rx) = chan::bounded::<u32>(0);
    let (on_tx, on_rx) = chan::bounded::<u32>(0);
    let mut sel = task::spawn(async {
        gort::select! {
            v = off_rx.recv(), if false => ("off", v),
            v = on_rx.recv(), if true => ("on", v),
        }
    });
    assert_pending!(sel.poll());
    assert!(
        off_tx.try_send(5).unwrap_err().is_full(),
        "the disabled arm took a value"
    );
    on_tx.try_send(6).unwrap();
    assert_eq!(assert_ready!(sel.poll()), ("on", Ok(6)));
}

/// Every arm disabled: `default` runs; without one, the select panics at
/// once with a message that says why (it cannot ever complete).
#[test]
fn every_arm_disabled_runs_default_or_panics() {
    let (_tx, rx) = chan::bounded::<u32>(1);
    let got = gort::block_on(async {
        gort::select! {
            v = rx.recv(), if false => v.is_ok(),
            default => false,
        }
    });
    assert!(!got);

    let (tx, rx) = chan::bounded::<u32>(1);
    tx.try_send(1).unwrap();
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gort::block_on(async {
            let open = false;
            gort::select! {
                v = rx.recv(), if open => v.is_ok(),
                r = tx.send(2), if open => r.is_ok(),
            }
        })
    }))
    .expect_err("a select with every arm disabled completed");
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(
        msg.contains("every arm is disabled") && msg.contains("`default`"),
        "unclear panic: {msg:?}"
    );
    assert_eq!(
        rx.try_recv(),
        Ok(1),
        "the disabled arms touched the channel"
    );
}

/// Guards leave the choice uniform among the enabled ready arms: three
/// always-ready receives, the middle one disabled, 100,000 selects.
#[test]
fn choice_among_enabled_ready_arms_stays_uniform() {
    const TRIALS: u64 = 100_000;
    let chans: Vec<_> = (0..3).map(|_| chan::bounded::<u8>(1)).collect();
    let counts = gort::block_on(async {
        let mut counts = [0u64; 3];
        for _ in 0..TRIALS {
            for (tx, _) in &chans {
                let _ = tx.try_send(0);
            }
            let arm = gort::select! {
                _ = chans[0].1.recv() => 0,
                _ = chans[1].1.recv(), if false => 1,
                _ = chans[2].1.recv(), if true => 2,
            };
            counts[arm] += 1;
        }
        counts
    });
    assert_eq!(counts[1], 0, "the disabled arm was chosen");
    assert_within_10_sigma(counts[0], TRIALS, "first of two enabled arms");
}
