//! Rendezvous hand-off, close racing pending operations, and a cancelled
//! receive racing the send that hands it a value.

use std::future::Future;
use std::pin::{pin, Pin};

use std::task::{Context, Poll};

use loom::thread;

use crate::{bounded, RecvError, SendError};

/// Polls `f` until ready, yielding to loom between polls (the parked side
/// of these models is woken by the state change it spins on).
fn spin<F: Future>(mut f: Pin<&mut F>) -> F::Output {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::yield_now();
    }
}

/// An unbuffered send and a receive on two threads: whichever parks, the
/// other completes it; the value arrives exactly once.
#[test]
fn rendezvous_hand_off() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let sender = thread::spawn(move || spin(pin!(tx.send(1))));
        let got = spin(pin!(rx.recv()));
        assert_eq!(got, Ok(1));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

/// A pending unbuffered send racing a close gets its value back.
#[test]
fn close_races_pending_send() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let sender = thread::spawn(move || spin(pin!(tx.send(9))));
        rx.close();
        assert_eq!(sender.join().unwrap(), Err(SendError(9)));
        drop(rx);
    });
}

/// A close racing a receive on a buffered value: the receive drains the
/// value first, then sees the close.
#[test]
fn close_races_recv_of_buffered_value() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.try_send(5).unwrap();
        let closer = thread::spawn(move || {
            tx.close();
        });
        assert_eq!(spin(pin!(rx.recv())), Ok(5));
        closer.join().unwrap();
        assert_eq!(spin(pin!(rx.recv())), Err(RecvError));
    });
}

/// A parked receive dropped while a send hands it a value: a value sent
/// with `Ok` is received exactly once (the dropped receive puts it back),
/// never lost; a send that found nobody parked reports `Full`.
#[test]
fn cancelled_recv_races_hand_off() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(rx.recv());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let sender = thread::spawn(move || (tx.try_send(7), tx));
        // Drop the parked receive, maybe after the value reached it.
        drop(first);
        let (sent, _tx) = sender.join().unwrap();
        match sent {
            Ok(()) => assert_eq!(rx.try_recv(), Ok(7), "a value sent with Ok was lost"),
            Err(e) => {
                assert!(e.is_full());
                assert_eq!(rx.try_recv(), Err(crate::TryRecvError::Empty));
            }
        }
        assert_eq!(rx.try_recv(), Err(crate::TryRecvError::Empty));
    });
}

/// A close racing the receive that sees the last handed-off value: a second
/// receive parked on the channel must learn it is closed and drained (a
/// store-buffering race between `close` and `seen_handed` lost that wake).
#[test]
fn close_races_last_handed_value_seen() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(rx.recv());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        tx.try_send(1).unwrap(); // handed to `first`
        let mut second = Box::pin(rx2.recv());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        let closer = thread::spawn(move || {
            tx.close();
        });
        assert_eq!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
        closer.join().unwrap();
        assert_eq!(
            second.as_mut().poll(&mut cx),
            Poll::Ready(Err(RecvError)),
            "a receive parked on a closed, drained channel was never told"
        );
    });
}
