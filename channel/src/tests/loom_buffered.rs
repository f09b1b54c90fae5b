//! The buffered engine's wake-up protocol (`buffered.rs`): lock-free ring
//! operations racing operations that park. These models block in
//! `loom::future::block_on`, whose waker really parks the thread until it
//! is woken, so a lost wake-up is a deadlock loom reports (the models in
//! `loom_chan.rs` spin instead, which checks values, not wake-ups).

use std::pin::pin;

use loom::future::block_on;
use loom::thread;

use super::loom_chan::{recv_case, send_case, Two};
use super::model;
use crate::select::Select;
use crate::{bounded, RecvError, SendError, TryRecvError};

/// Preemptions explored per execution. These models park real (loom)
/// threads behind a mutex, and with no bound their state space takes
/// hours; every lost wake-up and lost value found while writing them
/// showed up within this bound. `LOOM_MAX_PREEMPTIONS` overrides it.
const BOUND: usize = 3;

/// A receive parking on an empty ring while a send fills the slot: the
/// receive is woken and gets the value (the `SeqCst` handshake between the
/// registration and the push's look at `parked`).
#[test]
fn receiver_parks_while_sender_fills_the_slot() {
    model(BOUND, || {
        let (tx, rx) = bounded::<u32>(1);
        let sender = thread::spawn(move || block_on(tx.send(1)));
        assert_eq!(block_on(rx.recv()), Ok(1));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

/// A send parking on a full ring while a receive frees the slot: the send
/// is woken and its value goes in after the first, in order.
#[test]
fn sender_parks_at_the_full_edge() {
    model(BOUND, || {
        let (tx, rx) = bounded::<u32>(1);
        tx.try_send(1).unwrap();
        let sender = thread::spawn(move || block_on(tx.send(2)));
        assert_eq!(block_on(rx.recv()), Ok(1));
        assert_eq!(block_on(rx.recv()), Ok(2));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

/// A send parked on a full ring (its value in its waiter) while the
/// receive that frees the slot runs, and a close racing both: either the
/// send's retry (under the send queue's lock) finds the room, or the
/// receive finds it parked and moves its value in, or the close wakes it
/// with its value. The send is `Ok` exactly when its value is in the ring.
#[test]
fn close_races_the_receive_that_moves_a_parked_send_in() {
    model(BOUND, || {
        let (tx, rx) = bounded::<u32>(1);
        tx.try_send(1).unwrap();
        let closer = tx.clone();
        let sender = thread::spawn(move || block_on(tx.send(2)));
        let receiver = thread::spawn(move || {
            let first = block_on(rx.recv());
            (first, rx)
        });
        closer.close();
        let sent = sender.join().unwrap();
        let (first, rx) = receiver.join().unwrap();
        assert_eq!(first, Ok(1));
        match sent {
            Ok(()) => assert_eq!(rx.try_recv(), Ok(2)),
            Err(SendError(v)) => assert_eq!(v, 2),
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

/// A value that counts its drops.
struct Counted(u32, std::sync::Arc<loom::sync::atomic::AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
    }
}

/// A send future polled once on a full ring (it parks, its value in its
/// waiter, unless the receive freed the slot first) and then dropped,
/// racing the receive that frees the slot and moves a parked send's value
/// in. The value is delivered or dropped with the future, exactly once.
#[test]
fn a_dropped_parked_send_races_the_receive_that_moves_it_in() {
    model(BOUND, || {
        let drops = std::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = bounded::<Counted>(1);
        assert!(tx.try_send(Counted(1, drops.clone())).is_ok());
        let counted = drops.clone();
        let sender = thread::spawn(move || {
            let waker = futures::task::noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            let mut send = Box::pin(tx.send(Counted(2, counted)));
            let first = std::future::Future::poll(send.as_mut(), &mut cx);
            drop(send);
            first.is_ready()
        });
        assert_eq!(rx.try_recv().map(|c| c.0), Ok(1));
        let sent_at_once = sender.join().unwrap();
        let second = rx.try_recv().map(|c| c.0);
        if sent_at_once {
            assert_eq!(second, Ok(2), "a send that completed delivered");
        }
        drop(rx);
        // Each value dropped once: the received ones by the receiver
        // above, the other with the send future.
        assert_eq!(drops.load(loom::sync::atomic::Ordering::Relaxed), 2);
    });
}

/// Two sends parked on a full ring: a pop with more than one send parked
/// wakes the first to retry (its value still in its waiter); a pop with
/// one parked moves that one's value in. A send whose own retry got in
/// while it was still linked must not swallow a wake-up meant for the
/// next: every value arrives once, and no send is left parked beside free
/// room. The second send is polled by hand on the receiving thread, once
/// between the receives and then only when its waker says so, so a lost
/// wake-up shows as an assertion.
#[test]
fn two_parked_sends_and_the_receives_that_free_their_slots() {
    model(BOUND, || {
        let (tx, rx) = bounded::<u32>(1);
        tx.try_send(1).unwrap();
        let tx2 = tx.clone();
        let a = thread::spawn(move || block_on(tx.send(2)));
        let flag = std::sync::Arc::new(Flag(loom::sync::atomic::AtomicBool::new(false)));
        let waker = std::task::Waker::from(flag.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let mut b = Box::pin(tx2.send(3));
        let mut got = vec![rx.try_recv().unwrap()];
        let mut b_done = std::future::Future::poll(b.as_mut(), &mut cx).is_ready();
        got.extend(rx.try_recv().ok());
        assert_eq!(a.join().unwrap(), Ok(()));
        // Only the hand-polled send is left: its value is in, or it was
        // woken (to retry, or to find its value moved in).
        while got.len() < 3 {
            if let Ok(v) = rx.try_recv() {
                got.push(v);
                continue;
            }
            assert!(!b_done, "a value was lost");
            assert!(
                flag.0.swap(false, loom::sync::atomic::Ordering::Acquire),
                "a send left parked beside free room"
            );
            b_done = std::future::Future::poll(b.as_mut(), &mut cx).is_ready();
        }
        assert_eq!(got[0], 1);
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3]);
    });
}

/// A waker that raises a flag.
struct Flag(loom::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, loom::sync::atomic::Ordering::Release);
    }
}

/// Two receives parked on an empty ring and two values sent: a receive
/// whose own retry took a value while it was still linked may be woken
/// for the next value before it unlinks; it must pass that wake-up on, or
/// the other receive sleeps beside a buffered value. The second receive
/// is polled by hand on the sending thread, once between the sends and
/// then only when its waker says so, so a lost wake-up shows as an
/// assertion.
#[test]
fn two_parked_receives_and_the_sends_that_fill_their_slot() {
    model(BOUND, || {
        let (tx, rx) = bounded::<u32>(2);
        let rx2 = rx.clone();
        let a = thread::spawn(move || block_on(rx.recv()));
        let flag = std::sync::Arc::new(Flag(loom::sync::atomic::AtomicBool::new(false)));
        let waker = std::task::Waker::from(flag.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let mut b = Box::pin(rx2.recv());
        tx.try_send(1).unwrap();
        let mut got_b = match std::future::Future::poll(b.as_mut(), &mut cx) {
            std::task::Poll::Ready(v) => Some(v.unwrap()),
            std::task::Poll::Pending => None,
        };
        tx.try_send(2).unwrap();
        let got_a = a.join().unwrap().unwrap();
        // Everything else is over: the parked receive must have been
        // woken for the value left in the channel.
        while got_b.is_none() {
            assert!(
                flag.0.swap(false, loom::sync::atomic::Ordering::Acquire),
                "a receive left parked beside a buffered value"
            );
            if let std::task::Poll::Ready(v) = std::future::Future::poll(b.as_mut(), &mut cx) {
                got_b = Some(v.unwrap());
            }
        }
        let mut got = [got_a, got_b.unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// A close racing a send into the last free slot, with a receive parked:
/// the send either went in (then the receive gets it, and only then sees
/// the close) or got its value back; the receive is never left parked.
#[test]
fn close_races_a_send_into_the_last_slot() {
    model(BOUND, || {
        let (tx, rx) = bounded::<u32>(1);
        let closer = tx.clone();
        let sender = thread::spawn(move || block_on(tx.send(7)));
        let receiver = thread::spawn(move || {
            let first = block_on(rx.recv());
            let second = block_on(rx.recv());
            (first, second)
        });
        closer.close();
        let sent = sender.join().unwrap();
        let got = receiver.join().unwrap();
        match sent {
            Ok(()) => assert_eq!(got, (Ok(7), Err(RecvError))),
            Err(SendError(v)) => {
                assert_eq!(v, 7);
                assert_eq!(got, (Err(RecvError), Err(RecvError)));
            }
        }
    });
}

/// Two receives parked on an empty ring and one send: the first woken
/// receive is dropped before it looks; its wake-up must pass to the other.
#[test]
fn a_dropped_woken_receive_passes_its_wake_up_on() {
    model(BOUND, || {
        let (tx, rx) = bounded::<u32>(1);
        let rx2 = rx.clone();
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        // Parked first, so it is the one the send wakes (if it is still
        // parked when the send looks).
        let mut first = Box::pin(rx.recv());
        assert!(std::future::Future::poll(first.as_mut(), &mut cx).is_pending());
        let receiver = thread::spawn(move || block_on(rx2.recv()));
        // `tx` stays open here: a close would wake every receive and hide
        // a wake-up that was not passed on.
        let tx2 = tx.clone();
        let sender = thread::spawn(move || tx2.try_send(3).is_ok());
        drop(first);
        assert!(sender.join().unwrap());
        assert_eq!(receiver.join().unwrap(), Ok(3));
        drop((tx, rx));
    });
}

/// A select parked on two rings; two senders fill both at once. The
/// select's claim goes to one case, whose value the select takes; the
/// other value stays in its channel. Exactly one case took effect.
#[test]
fn select_claim_races_two_lock_free_senders() {
    model(BOUND, || {
        let (tx0, rx0) = bounded::<u32>(1);
        let (tx1, rx1) = bounded::<u32>(1);
        let t0 = thread::spawn(move || tx0.try_send(10).is_ok());
        let t1 = thread::spawn(move || tx1.try_send(11).is_ok());
        let mut c0 = pin!(recv_case(&rx0));
        let mut c1 = pin!(recv_case(&rx1));
        let won = block_on(Select::new(Two(c0.as_mut(), c1.as_mut()), false));
        assert!(t0.join().unwrap() && t1.join().unwrap());
        match won {
            0 => {
                assert_eq!(c0.as_mut().take_output(), Ok(10));
                assert_eq!(rx1.try_recv(), Ok(11));
                assert_eq!(rx0.try_recv(), Err(TryRecvError::Closed));
            }
            _ => {
                assert_eq!(c1.as_mut().take_output(), Ok(11));
                assert_eq!(rx0.try_recv(), Ok(10));
                assert_eq!(rx1.try_recv(), Err(TryRecvError::Closed));
            }
        }
    });
}

/// A select with a send case on a full ring, parked; a receive frees the
/// slot. The select's send goes in exactly once.
#[test]
fn select_send_case_woken_by_a_lock_free_receive() {
    model(BOUND, || {
        let (tx, rx) = bounded::<u32>(1);
        tx.try_send(1).unwrap();
        let (_tx1, rx1) = bounded::<u32>(1);
        let receiver = thread::spawn(move || {
            let a = block_on(rx.recv());
            let b = block_on(rx.recv());
            (a, b)
        });
        let mut c0 = pin!(send_case(&tx, 2));
        let mut c1 = pin!(recv_case(&rx1));
        let won = block_on(Select::new(Two(c0.as_mut(), c1.as_mut()), false));
        assert_eq!(won, 0);
        assert_eq!(c0.as_mut().take_output(), Ok(()));
        assert_eq!(receiver.join().unwrap(), (Ok(1), Ok(2)));
    });
}
