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
