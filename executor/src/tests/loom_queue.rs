//! The local ring: owner push/pop racing a thief's steal, and overflow to
//! the injector. Every task pushed is found exactly once.

use std::collections::HashSet;

use super::{spawn_on, QueueSched};
use crate::injector::Injector;
use crate::loom::{thread, Arc};
use crate::queue::{self, CAPACITY};
use crate::task::Notified;

fn tasks(sched: &QueueSched, ids: std::ops::Range<u64>) -> Vec<Notified> {
    ids.map(|i| {
        let (n, j) = spawn_on(sched, i, async {});
        drop(j);
        n
    })
    .collect()
}

fn ids(found: &[Notified]) -> Vec<u64> {
    found.iter().map(|n| n.id().0).collect()
}

fn assert_exactly_once(found: Vec<u64>, expected: std::ops::Range<u64>) {
    let set: HashSet<u64> = found.iter().copied().collect();
    assert_eq!(set.len(), found.len(), "a task was taken twice: {found:?}");
    assert_eq!(set, expected.collect::<HashSet<_>>(), "a task was lost");
}

/// Owner pops and pushes while a thief steals half.
#[test]
fn steal_races_pop_and_push() {
    loom::model(|| {
        let sched = QueueSched::new();
        let injector = Arc::new(Injector::new());
        let (mut local, steal) = queue::local();
        let mut all = tasks(&sched, 0..3);
        let late = all.pop().unwrap();
        for t in all {
            assert!(!local.push_back_or_overflow(t, &injector));
        }
        let th = thread::spawn(move || {
            let (mut mine, _) = queue::local();
            let mut got = Vec::new();
            if let Some(t) = steal.steal_into(&mut mine) {
                got.push(t);
            }
            while let Some(t) = mine.pop() {
                got.push(t);
            }
            got
        });
        let mut found = Vec::new();
        found.extend(local.pop());
        local.push_back_or_overflow(late, &injector);
        while let Some(t) = local.pop() {
            found.push(t);
        }
        let stolen = th.join().unwrap();
        found.extend(stolen);
        while let Some(t) = injector.pop() {
            found.push(t);
        }
        assert_exactly_once(ids(&found), 0..3);
    });
}

/// The owner overflows a full ring into the injector while a thief steals.
#[test]
fn overflow_races_steal() {
    loom::model(|| {
        let sched = QueueSched::new();
        let injector = Arc::new(Injector::new());
        let (mut local, steal) = queue::local();
        let n = CAPACITY as u64 + 1;
        let mut all = tasks(&sched, 0..n);
        let last = all.pop().unwrap();
        for t in all {
            local.push_back_or_overflow(t, &injector);
        }
        let th = thread::spawn(move || {
            let (mut mine, _) = queue::local();
            let mut got = Vec::new();
            if let Some(t) = steal.steal_into(&mut mine) {
                got.push(t);
            }
            while let Some(t) = mine.pop() {
                got.push(t);
            }
            got
        });
        // The ring is full: this push overflows (or, mid-steal, goes to the
        // injector alone).
        local.push_back_or_overflow(last, &injector);
        let mut found: Vec<Notified> = std::iter::from_fn(|| local.pop()).collect();
        found.extend(th.join().unwrap());
        while let Some(t) = injector.pop() {
            found.push(t);
        }
        assert_exactly_once(ids(&found), 0..n);
    });
}

/// Two thieves on one victim: at most one steals at a time, none twice.
#[test]
fn two_thieves() {
    loom::model(|| {
        let sched = QueueSched::new();
        let injector = Injector::new();
        let (mut local, steal) = queue::local();
        for t in tasks(&sched, 0..4) {
            local.push_back_or_overflow(t, &injector);
        }
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let steal = steal.clone();
                thread::spawn(move || {
                    let (mut mine, _) = queue::local();
                    let mut got: Vec<Notified> = steal.steal_into(&mut mine).into_iter().collect();
                    got.extend(std::iter::from_fn(|| mine.pop()));
                    got
                })
            })
            .collect();
        let mut found: Vec<Notified> = Vec::new();
        for th in thieves {
            found.extend(th.join().unwrap());
        }
        found.extend(std::iter::from_fn(|| local.pop()));
        assert_exactly_once(ids(&found), 0..4);
    });
}
