//! A pipeline with a bug, and what gort prints about it.
//!
//! Three stages joined by unbuffered channels: a producer, a squarer and a
//! summer. The summer takes the values it expects and then waits for the
//! squarer to finish, but the producer was told to make one more: the
//! squarer takes it and blocks forever sending its square, the summer
//! waits forever for the squarer, and `main` for the summer. In Go this program dies with "fatal error: all
//! goroutines are asleep - deadlock!"; a tokio program hangs silently.
//! gort notices once nothing can wake anything (after 50 ms) and prints
//! Go's line and the goroutine dump: every task, what it waits on, for how
//! long, and where it was spawned.
//!
//! ```text
//! cargo run --release --example debug_deadlock           # warns, exits after 1 s
//! cargo run --release --example debug_deadlock -- panic  # panics instead
//! ```
//!
//! What it prints (ids and times vary):
//!
//! ```text
//! sum of squares below 10: 285
//! gort: all goroutines are asleep - deadlock!
//!
//! main (block_on) [waiting]:
//!     called at examples/debug_deadlock.rs:98:8
//!
//! goroutine 5 "squarer" [chan send, 50ms]:
//!     spawned at examples/debug_deadlock.rs:54:56
//!
//! goroutine 6 "summer" [join, 50ms]:
//!     spawned at examples/debug_deadlock.rs:61:54
//!
//! (the runtime keeps waiting: OnDeadlock::Warn)
//! ```
//!
//! The producer is not listed: it finished (its eleventh value was taken
//! by the squarer). The squarer is stuck sending the eleventh square, the
//! summer waiting for the squarer: the bug is in the counts, and the dump
//! says which two tasks to look at.

use std::time::Duration;

use gort::runtime::{Builder, OnDeadlock};
use gort::task;

async fn pipeline(count: u64, expected: u64) -> u64 {
    let (numbers_tx, numbers_rx) = gort::chan::bounded::<u64>(0);
    let producer = task::Builder::new().name("producer").spawn(async move {
        for i in 0..count {
            numbers_tx.send(i).await.unwrap();
        }
    });
    let (squares_tx, squares_rx) = gort::chan::bounded::<u64>(0);
    let squarer = task::Builder::new().name("squarer").spawn(async move {
        while let Ok(i) = numbers_rx.recv().await {
            squares_tx.send(i * i).await.unwrap();
        }
    });
    // The bug: the summer takes `expected` values and then waits for the
    // squarer to finish, which never happens if the producer makes more.
    let summer = task::Builder::new().name("summer").spawn(async move {
        let mut sum = 0;
        for _ in 0..expected {
            sum += squares_rx.recv().await.unwrap();
        }
        squarer.await.unwrap();
        sum
    });
    let sum = summer.await.unwrap();
    producer.await.unwrap();
    sum
}

fn main() {
    let panic = std::env::args().nth(1).as_deref() == Some("panic");
    let rt = Builder::new()
        .worker_threads(2)
        .on_deadlock(if panic {
            OnDeadlock::Panic
        } else {
            OnDeadlock::Warn
        })
        .build()
        .unwrap();
    // The correct call: as many values as the summer expects.
    println!("sum of squares below 10: {}", rt.block_on(pipeline(10, 10)));
    // The bug. With `Warn` the runtime keeps waiting (a plain thread could
    // still send); give up after a second.
    let handle = rt.handle().clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        eprintln!(
            "\n(giving up; the same dump, taken from another thread:)\n{}",
            handle.dump()
        );
        std::process::exit(1);
    });
    rt.block_on(pipeline(11, 10));
}
