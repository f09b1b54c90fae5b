//! The mutex: an unlock racing a waiter's registration (no lost wake-up),
//! the starvation-mode hand-off, and a handed lock passed on by a dropped
//! waiter.

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use super::{model, poll_once};
use crate::Mutex;

const BOUND: usize = 3;

/// The holder unlocks while another thread registers as a waiter: the
/// waiter either takes the lock in its CAS or is counted before the unlock
/// looks, and is woken.
#[test]
fn unlock_races_registration() {
    model(BOUND, || {
        let m = Arc::new(Mutex::new(0));
        let g = m.try_lock().unwrap();
        let t = {
            let m = m.clone();
            thread::spawn(move || *block_on(m.lock()) += 1)
        };
        drop(g);
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 1);
    });
}

/// Two threads lock twice each, with waiters that starve at once: every
/// unlock with a waiter queued hands the lock over, every locker finishes,
/// and the increments are exclusive.
#[test]
fn contended_with_hand_off() {
    model(2, || {
        let m = Arc::new(Mutex::starving_at_once(0));
        let t = {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    *block_on(m.lock()) += 1;
                }
            })
        };
        for _ in 0..2 {
            *block_on(m.lock()) += 1;
        }
        t.join().unwrap();
        assert_eq!(*m.try_lock().expect("free and out of starvation mode"), 4);
    });
}

/// A queued waiter is dropped while the holder unlocks and a second waiter
/// waits: whether the dropped one was still queued, woken or handed the
/// lock, the second one gets it.
#[test]
fn dropped_waiter_races_unlock() {
    model(BOUND, || {
        let m = Arc::new(Mutex::starving_at_once(0));
        let g = m.try_lock().unwrap();
        let mut first = m.lock();
        assert!(poll_once(&mut first).is_pending());
        let t = {
            let m = m.clone();
            thread::spawn(move || *block_on(m.lock()) += 1)
        };
        drop(g);
        drop(first);
        t.join().unwrap();
        assert_eq!(*m.try_lock().expect("free and out of starvation mode"), 1);
    });
}

/// Starvation mode: a waiter woken once finds the lock taken by a
/// newcomer and queues again, starving. The newcomer's unlock hands it the
/// lock while a second waiter registers; the first is dropped without
/// seeing its hand-off, which must pass the lock on to the second.
#[test]
fn dropped_waiter_hands_the_lock_on() {
    model(BOUND, || {
        let m = Arc::new(Mutex::starving_at_once(0));
        let g = m.try_lock().unwrap();
        let mut first = m.lock();
        assert!(poll_once(&mut first).is_pending());
        drop(g); // wakes `first`
        let barger = m.try_lock().expect("normal mode: barging allowed");
        assert!(poll_once(&mut first).is_pending()); // starving now
        assert!(m.try_lock().is_none(), "starvation mode: no barging");
        let t = {
            let m = m.clone();
            thread::spawn(move || *block_on(m.lock()) += 1)
        };
        drop(barger); // hands the lock to `first`
        drop(first);
        t.join().unwrap();
        assert_eq!(*m.try_lock().expect("free and out of starvation mode"), 1);
    });
}
