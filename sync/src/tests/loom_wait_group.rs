//! The wait group's zero crossing: `done` racing a `wait` that registers.

use loom::future::block_on;
use loom::thread;

use super::{model, poll_once};
use crate::WaitGroup;

const BOUND: usize = 3;

/// Two `done`s on other threads race the waiter's registration: the waiter
/// sees zero in its CAS or is counted before the last `done` looks.
#[test]
fn done_races_wait() {
    model(BOUND, || {
        let wg = WaitGroup::new();
        wg.add(2);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let wg = wg.clone();
                thread::spawn(move || wg.done())
            })
            .collect();
        block_on(wg.wait());
        assert_eq!(wg.count(), 0);
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// A waiter dropped while the last `done` runs: it is uncounted or
/// released, and a second waiter still returns.
#[test]
fn dropped_wait_races_done() {
    model(BOUND, || {
        let wg = WaitGroup::new();
        wg.add(1);
        let mut first = wg.wait();
        assert!(poll_once(&mut first).is_pending());
        let t = {
            let wg = wg.clone();
            thread::spawn(move || wg.done())
        };
        drop(first);
        block_on(wg.wait());
        t.join().unwrap();
    });
}
