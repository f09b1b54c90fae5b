//! `gort_channel::select!` in a crate that depends on gort-channel alone
//! (this crate's tests have no `gort` facade), on executors other than
//! gort's: `futures::executor` and tokio.

use std::future::{pending, ready};
use std::thread;
use std::time::Duration;

use futures::executor::block_on;
use gort_channel::{bounded, select, RecvError};

#[test]
fn recv_arm_takes_a_buffered_value() {
    let (tx, rx) = bounded::<u32>(1);
    tx.try_send(7).unwrap();
    let got = block_on(async {
        select! {
            v = rx.recv() => v,
            _ = pending::<()>() => unreachable!("a pending future completed"),
        }
    });
    assert_eq!(got, Ok(7));
}

#[test]
fn send_arm_meets_a_receiver_on_another_thread() {
    let (tx, rx) = bounded::<u32>(0);
    let receiver = thread::spawn(move || rx.recv_blocking());
    let sent = block_on(async {
        gort_channel::select! {
            r = tx.send(5) => r.is_ok(),
            _ = pending::<()>() => false,
        }
    });
    assert!(sent);
    assert_eq!(receiver.join().unwrap(), Ok(5));
}

#[test]
fn default_arm_runs_when_nothing_is_ready() {
    let (tx, rx) = bounded::<u32>(0);
    let (recv, send) = block_on(async {
        let recv = select! {
            v = rx.recv() => Some(v),
            default => None,
        };
        let send = select! {
            r = tx.send(1) => Some(r.is_ok()),
            default => None,
        };
        (recv, send)
    });
    assert_eq!(recv, None, "nobody was sending");
    assert_eq!(send, None, "nobody was receiving");
}

#[test]
fn a_waiting_select_is_woken_by_a_send() {
    let (data_tx, data_rx) = bounded::<u32>(0);
    let (_quit_tx, quit_rx) = bounded::<()>(0);
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        data_tx.send_blocking(3).unwrap();
    });
    let got = block_on(async {
        select! {
            v = data_rx.recv() => v,
            _ = quit_rx.recv() => Err(RecvError),
        }
    });
    assert_eq!(got, Ok(3));
    sender.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_tokio_a_send_arm_and_a_recv_arm() {
    let (req_tx, req_rx) = bounded::<u32>(0);
    let (resp_tx, resp_rx) = bounded::<u32>(0);
    let server = tokio::spawn(async move {
        let v = req_rx.recv().await.unwrap();
        resp_tx.send(v * 2).await.unwrap();
    });
    // The request goes out through a send arm; the reply comes back
    // through a receive arm.
    select! {
        r = req_tx.send(21) => r.unwrap(),
        _ = resp_rx.recv() => unreachable!("a reply before the request"),
    }
    let reply = select! {
        v = resp_rx.recv() => v.unwrap(),
        _ = tokio::time::sleep(Duration::from_secs(10)) => panic!("no reply"),
    };
    assert_eq!(reply, 42);
    server.await.unwrap();
}

/// The expansion's own locals do not capture the caller's names.
#[test]
fn arm_bodies_see_the_callers_locals() {
    let __gort_branch = 10u32;
    let __gort_case0 = 20u32;
    let v = block_on(async {
        select! {
            v = ready(1u32) => v + __gort_branch + __gort_case0,
        }
    });
    assert_eq!(v, 31);
}

/// The most arms a select may have (one more is a compile error, checked
/// by the facade's `tests/ui/select_too_many_arms.rs`).
#[test]
fn sixty_four_arms() {
    let v: u32 = block_on(async {
        select! {
            v = ready(0) => v, v = ready(1) => v, v = ready(2) => v, v = ready(3) => v,
            v = ready(4) => v, v = ready(5) => v, v = ready(6) => v, v = ready(7) => v,
            v = ready(8) => v, v = ready(9) => v, v = ready(10) => v, v = ready(11) => v,
            v = ready(12) => v, v = ready(13) => v, v = ready(14) => v, v = ready(15) => v,
            v = ready(16) => v, v = ready(17) => v, v = ready(18) => v, v = ready(19) => v,
            v = ready(20) => v, v = ready(21) => v, v = ready(22) => v, v = ready(23) => v,
            v = ready(24) => v, v = ready(25) => v, v = ready(26) => v, v = ready(27) => v,
            v = ready(28) => v, v = ready(29) => v, v = ready(30) => v, v = ready(31) => v,
            v = ready(32) => v, v = ready(33) => v, v = ready(34) => v, v = ready(35) => v,
            v = ready(36) => v, v = ready(37) => v, v = ready(38) => v, v = ready(39) => v,
            v = ready(40) => v, v = ready(41) => v, v = ready(42) => v, v = ready(43) => v,
            v = ready(44) => v, v = ready(45) => v, v = ready(46) => v, v = ready(47) => v,
            v = ready(48) => v, v = ready(49) => v, v = ready(50) => v, v = ready(51) => v,
            v = ready(52) => v, v = ready(53) => v, v = ready(54) => v, v = ready(55) => v,
            v = ready(56) => v, v = ready(57) => v, v = ready(58) => v, v = ready(59) => v,
            v = ready(60) => v, v = ready(61) => v, v = ready(62) => v, v = ready(63) => v,
        }
    });
    assert!(v < 64);
}

/// A select's send arm parked on a full buffer, first in line, and a plain
/// send parked behind it. A receive frees the slot: the arm's select wins
/// the claim and is woken to send itself (a plain send would have had its
/// value moved in). The select is dropped before it runs: the room it was
/// woken for passes on, and the plain send's value goes in.
#[test]
fn a_woken_send_arm_dropped_before_it_runs_passes_the_room_on() {
    use tokio_test::{assert_pending, assert_ready_eq, task};
    let (tx, rx) = bounded::<u32>(1);
    tx.try_send(1).unwrap();
    let mut sel = task::spawn(async {
        select! {
            r = tx.send(2) => r.is_ok(),
            _ = pending::<()>() => false,
        }
    });
    assert_pending!(sel.poll());
    let mut plain = task::spawn(tx.send(3));
    assert_pending!(plain.poll());
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(sel.is_woken());
    assert!(!plain.is_woken(), "the arm was first in line");
    drop(sel);
    assert!(plain.is_woken());
    assert_eq!(rx.try_recv(), Ok(3));
    assert_ready_eq!(plain.poll(), Ok(()));
}
