//! The semaphore's FIFO grant: a release racing registrations, a large
//! request at the front that small ones may not pass, and a dropped
//! request that passes its permits (or its place) on.

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use super::{model, poll_once};
use crate::Semaphore;

const BOUND: usize = 3;

/// A request for 2 waits at the front; a request for 1 arrives while one
/// permit is added: it may not take that permit. Two more permits serve
/// both, in order.
#[test]
fn fifo_grant() {
    model(BOUND, || {
        let sem = Arc::new(Semaphore::new(0));
        let mut big = sem.acquire(2);
        assert!(poll_once(&mut big).is_pending());
        let small = {
            let sem = sem.clone();
            thread::spawn(move || block_on(sem.acquire(1)).forget())
        };
        let adder = {
            let sem = sem.clone();
            thread::spawn(move || sem.add_permits(1))
        };
        adder.join().unwrap();
        assert_eq!(sem.available(), 1, "the small request passed the big one");
        sem.add_permits(2);
        let big = block_on(big);
        small.join().unwrap();
        assert_eq!(sem.available(), 0);
        drop(big);
        assert_eq!(sem.available(), 2);
    });
}

/// The front request is dropped while permits arrive: if it was granted
/// it gives them back, if not it leaves the queue and the request behind
/// is served either way; no permit is lost.
#[test]
fn dropped_front_request_races_release() {
    model(BOUND, || {
        let sem = Arc::new(Semaphore::new(0));
        let mut front = sem.acquire(2);
        assert!(poll_once(&mut front).is_pending());
        let behind = {
            let sem = sem.clone();
            thread::spawn(move || drop(block_on(sem.acquire(1))))
        };
        let adder = {
            let sem = sem.clone();
            thread::spawn(move || sem.add_permits(2))
        };
        drop(front);
        adder.join().unwrap();
        behind.join().unwrap();
        assert_eq!(sem.available(), 2);
    });
}
