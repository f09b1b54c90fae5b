//! Loom models of the unbounded queue ([`List`]). Under loom a block has
//! two slots, so a few values cross block boundaries: linking the next
//! block, moving head onto it, and freeing the old one while a slow pop may
//! still be reading it. A block is a tracked allocation and every access
//! checks that it is live, so a leak, a double free or a use after free
//! fails the model.
//!
//! A popper that finds nothing (`Empty`, or `Busy`: a push has reserved
//! and not yet written) parks on a `Notify` of its own that every push
//! notifies once done, as the channel parks a receive. Spinning instead
//! would let loom schedule two spinning threads forever while the thread
//! they wait for never runs; parking also checks the contract that the
//! owner of a `Busy` reservation publishes before it looks for waiters (a
//! lost wake-up is a loom deadlock).

use super::model;
use loom::sync::{Arc, Notify};
use loom::thread;

use crate::flavor::list::List;
use crate::flavor::{Pop, Push};

/// The list and one wake-up per popper.
struct Shared {
    list: List<u32>,
    wake: Vec<Notify>,
}

impl Shared {
    fn new(poppers: usize) -> Arc<Self> {
        Arc::new(Shared {
            list: List::new(),
            wake: (0..poppers).map(|_| Notify::new()).collect(),
        })
    }

    fn wake_all(&self) {
        for w in &self.wake {
            w.notify();
        }
    }

    /// Pushes `v` and wakes the poppers; `true` if it went in.
    fn push(&self, v: u32) -> bool {
        let pushed = match self.list.push(v) {
            Push::Done => true,
            Push::Closed(back) => {
                assert_eq!(back, v, "a refused push gives its own value back");
                false
            }
            Push::Full(_) | Push::Busy(_) => panic!("an unbounded push is never full or busy"),
        };
        self.wake_all();
        pushed
    }

    fn close(&self) {
        self.list.close();
        self.wake_all();
    }

    /// Popper `me` pops until `Closed`.
    fn drain(&self, me: usize) -> Vec<u32> {
        let mut got = Vec::new();
        loop {
            match self.list.pop() {
                Pop::Value(v) => got.push(v),
                Pop::Empty | Pop::Busy => self.wake[me].wait(),
                Pop::Closed => return got,
            }
        }
    }

    /// Popper `me` pops `n` values.
    fn pop_n(&self, me: usize, n: usize) -> Vec<u32> {
        let mut got = Vec::new();
        while got.len() < n {
            match self.list.pop() {
                Pop::Value(v) => got.push(v),
                Pop::Empty | Pop::Busy => self.wake[me].wait(),
                Pop::Closed => panic!("closed with values missing"),
            }
        }
        got
    }
}

/// Two pushers and one popper, across a block boundary (three values, two
/// slots a block): each value is popped once, each pusher's in order.
#[test]
fn two_pushers_one_popper() {
    model(2, || {
        let s = Shared::new(1);
        let a = {
            let s = s.clone();
            thread::spawn(move || {
                assert!(s.push(10));
                assert!(s.push(11));
            })
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || assert!(s.push(20)))
        };
        let got = s.pop_n(0, 3);
        a.join().unwrap();
        b.join().unwrap();
        let from_a: Vec<u32> = got.iter().copied().filter(|v| *v < 20).collect();
        assert_eq!(
            from_a,
            [10, 11],
            "one pusher's values out of order: {got:?}"
        );
        assert!(got.contains(&20), "{got:?}");
        assert!(matches!(s.list.pop(), Pop::Empty));
    });
}

/// A push linking the next block while two pops drain the full first block
/// and the new one: the block is freed once, by whichever pop retires its
/// slots last (a slow pop of the first slot takes over the destruction
/// from the pop of the last), never while a pop still reads it, and nothing
/// leaks.
#[test]
fn push_races_pops_across_a_block_boundary() {
    model(2, || {
        let s = Shared::new(2);
        assert!(s.push(1));
        assert!(s.push(2));
        let poppers: Vec<_> = (0..2)
            .map(|me| {
                let s = s.clone();
                thread::spawn(move || s.drain(me))
            })
            .collect();
        assert!(s.push(3));
        s.close();
        let mut got: Vec<u32> = poppers
            .into_iter()
            .flat_map(|p| p.join().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3]);
        assert!(matches!(s.list.pop(), Pop::Closed));
    });
}

/// A close racing a push, with a popper draining: the push either went in
/// (`Done`, and then it is popped before `Closed`) or got its value back.
#[test]
fn close_races_push() {
    model(2, || {
        let s = Shared::new(1);
        assert!(s.push(1));
        let pusher = {
            let s = s.clone();
            thread::spawn(move || s.push(7))
        };
        let closer = {
            let s = s.clone();
            thread::spawn(move || s.close())
        };
        let got = s.drain(0);
        let pushed = pusher.join().unwrap();
        closer.join().unwrap();
        if pushed {
            assert_eq!(got, [1, 7], "a value pushed with Done was lost");
        } else {
            assert_eq!(got, [1]);
        }
    });
}

/// Two pushes and two pops racing, the pops giving up on unwritten slots
/// at once (no spins under loom): a pop gives its reservation back, or, if
/// the other pop already reserved past it, leaves the slot to its push,
/// which pushes the value again. Every value pushed with `Done` is popped
/// exactly once; a refused one came back with `Closed`. (The main thread
/// pushes, then pops: it can reserve the slot after one that a stalled
/// push holds and a popper has reserved. The first block is used up
/// beforehand, so the race is on the first slot of a block.)
#[test]
fn pops_give_up_on_unwritten_slots() {
    model(2, || {
        let s = Shared::new(2);
        assert!(s.push(8) && s.push(9));
        assert_eq!(s.pop_n(0, 2), [8, 9]);
        let first = {
            let s = s.clone();
            thread::spawn(move || {
                let pushed = s.push(1);
                s.close();
                pushed
            })
        };
        let popper = {
            let s = s.clone();
            thread::spawn(move || s.drain(1))
        };
        let second = s.push(2);
        let mut got = s.drain(0);
        got.extend(popper.join().unwrap());
        got.sort_unstable();
        let pushed: Vec<u32> = [(1, first.join().unwrap()), (2, second)]
            .into_iter()
            .filter_map(|(v, done)| done.then_some(v))
            .collect();
        assert_eq!(got, pushed);
    });
}
