//! Rendezvous hand-off, close racing pending operations, and a cancelled
//! receive racing the send that meets it.

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

/// A parked receive dropped while a send meets it: a value sent with `Ok`
/// is received exactly once (it waits in the channel for the next
/// receive), never lost; a send that found nobody parked reports `Full`.
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

/// A close racing the woken receive that takes the value: a second
/// receive parked on the channel is woken by the close and, the value
/// taken, learns the channel is closed and drained.
#[test]
fn close_races_woken_recv() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(rx.recv());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let mut second = Box::pin(rx2.recv());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        tx.try_send(1).unwrap(); // meets `first`
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

/// A close racing the drop of a woken receive that never looked: the
/// value goes to the other parked receive (the dropped one passes its
/// wake-up on, or the close wakes it), then the channel reads as closed.
#[test]
fn close_races_dropped_woken_recv() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(rx.recv());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let mut second = Box::pin(rx2.recv());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        tx.try_send(1).unwrap(); // meets `first`
        let closer = thread::spawn(move || {
            tx.close();
        });
        drop(first);
        assert_eq!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
        closer.join().unwrap();
        assert_eq!(rx2.try_recv(), Err(crate::TryRecvError::Closed));
    });
}

/// A value reserved for a woken receive that is dropped, racing a send
/// that parks or meets a receive, and that receive: every order gives the
/// older value to the first receive to complete, the younger to the next
/// (one FIFO: values reserved in the channel, then parked senders').
#[test]
fn dropped_woken_recv_races_send_and_recv() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(rx.recv());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        tx.try_send(1).unwrap(); // reserved for `first`
        let sender = thread::spawn(move || spin(pin!(tx.send(2))));
        let receiver = thread::spawn(move || spin(pin!(rx2.recv())));
        drop(first);
        assert_eq!(receiver.join().unwrap(), Ok(1));
        assert_eq!(spin(pin!(rx.recv())), Ok(2));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

// ----- select claim -----

use crate::select::{ArmInput, Case, CaseSet, ChannelArm, RecvCase, Select, SendCase};

/// Two pinned cases, as `select!` builds them.
pub(super) struct Two<'p, A, B>(pub(super) Pin<&'p mut A>, pub(super) Pin<&'p mut B>);

impl<A: Case, B: Case> CaseSet for Two<'_, A, B> {
    const LEN: usize = 2;
    fn case(&mut self, i: usize) -> Pin<&mut (dyn Case + '_)> {
        match i {
            0 => self.0.as_mut(),
            _ => self.1.as_mut(),
        }
    }
}

pub(super) fn recv_case<T>(rx: &crate::Receiver<T>) -> RecvCase<'_, T> {
    ArmInput::new(rx.recv()).__gort_case()
}

pub(super) fn send_case<T>(tx: &crate::Sender<T>, v: T) -> SendCase<'_, T> {
    ArmInput::new(tx.send(v)).__gort_case()
}

/// Polls a fresh select once: it must register (park) its cases.
fn assert_parks<F: Future>(sel: Pin<&mut F>) {
    let waker = futures::task::noop_waker();
    assert!(sel.poll(&mut Context::from_waker(&waker)).is_pending());
}

/// A parked select on two receives; two threads (another and the select's
/// own, before it looks again) each send once without blocking. The
/// select takes exactly one value; the other send finds no receiver
/// (`Full`) and keeps its value.
#[test]
fn select_claim_two_senders() {
    loom::model(|| {
        let (tx0, rx0) = bounded::<u32>(0);
        let (tx1, rx1) = bounded::<u32>(0);
        let mut c0 = pin!(recv_case(&rx0));
        let mut c1 = pin!(recv_case(&rx1));
        let mut sel = Box::pin(Select::new(Two(c0.as_mut(), c1.as_mut()), false));
        assert_parks(sel.as_mut());
        let t0 = thread::spawn(move || tx0.try_send(10).is_ok());
        let ok1 = tx1.try_send(11).is_ok();
        let won = spin(sel.as_mut());
        drop(sel);
        let ok0 = t0.join().unwrap();
        assert!(ok0 != ok1, "{} sends succeeded", ok0 as u8 + ok1 as u8);
        match won {
            0 => assert_eq!((ok0, c0.as_mut().take_output()), (true, Ok(10))),
            _ => assert_eq!((ok1, c1.as_mut().take_output()), (true, Ok(11))),
        }
    });
}

/// A parked select on two unbuffered sends; two threads (as above) each
/// try to receive. Exactly one receives, the value of the arm the select
/// reports.
#[test]
fn select_claim_two_receivers() {
    loom::model(|| {
        let (tx0, rx0) = bounded::<u32>(0);
        let (tx1, rx1) = bounded::<u32>(0);
        let mut c0 = pin!(send_case(&tx0, 10));
        let mut c1 = pin!(send_case(&tx1, 11));
        let mut sel = Box::pin(Select::new(Two(c0.as_mut(), c1.as_mut()), false));
        assert_parks(sel.as_mut());
        let t0 = thread::spawn(move || rx0.try_recv().ok());
        let got1 = rx1.try_recv().ok();
        let won = spin(sel.as_mut());
        drop(sel);
        let got = (t0.join().unwrap(), got1);
        match won {
            0 => {
                assert_eq!(c0.as_mut().take_output(), Ok(()));
                assert_eq!(got, (Some(10), None));
            }
            _ => {
                assert_eq!(c1.as_mut().take_output(), Ok(()));
                assert_eq!(got, (None, Some(11)));
            }
        }
    });
}

/// A select starting while a plain send parks on one of its channels (the
/// first pass, the registration and the abort-and-retry path): the select
/// gets the value exactly once.
#[test]
fn select_registration_races_parking_send() {
    loom::model(|| {
        let (tx0, rx0) = bounded::<u32>(0);
        let (_tx1, rx1) = bounded::<u32>(0);
        let sender = thread::spawn(move || spin(pin!(tx0.send(5))));
        let mut c0 = pin!(recv_case(&rx0));
        let mut c1 = pin!(recv_case(&rx1));
        let won = spin(pin!(Select::new(Two(c0.as_mut(), c1.as_mut()), false)));
        assert_eq!(won, 0);
        assert_eq!(c0.as_mut().take_output(), Ok(5));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

/// A close racing a parked select's hand-off: the select ends once, with
/// the value or with the close; a value sent with `Ok` is never lost.
#[test]
fn select_claim_races_close() {
    loom::model(|| {
        let (tx0, rx0) = bounded::<u32>(0);
        let (tx1, rx1) = bounded::<u32>(0);
        let mut c0 = pin!(recv_case(&rx0));
        let mut c1 = pin!(recv_case(&rx1));
        let mut sel = Box::pin(Select::new(Two(c0.as_mut(), c1.as_mut()), false));
        assert_parks(sel.as_mut());
        let sender = thread::spawn(move || tx0.try_send(1).is_ok());
        tx1.close();
        let won = spin(sel.as_mut());
        drop(sel);
        let sent = sender.join().unwrap();
        match won {
            0 => assert_eq!((sent, c0.as_mut().take_output()), (true, Ok(1))),
            _ => {
                assert_eq!(c1.as_mut().take_output(), Err(RecvError));
                assert!(!sent, "a value sent with Ok was lost");
            }
        }
    });
}
