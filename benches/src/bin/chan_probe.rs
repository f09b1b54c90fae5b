//! The channel's cost per message on one thread, for callgrind: no runtime,
//! no other thread, so the instruction count is the same from run to run
//! whatever else the machine does.
//!
//! `gort-bench-chan-probe WHICH [N]` (N = 100,000 by default) sends N values and
//! receives them, printing the sum and the wall-clock ns per message:
//!
//! - `gort-capN`, `gort-unb`, `kanal-capN`, `kanal-unb`: one future on
//!   `futures::executor::block_on` sends all N with `.await`, then receives
//!   all N, on `bounded(N)` or `unbounded()` (the `chan/seq` rows).
//! - `gort-blk-capN`, `gort-blk-unb`, `cb-capN`, `cb-unb`: the same with
//!   gort's `send_blocking`/`recv_blocking` and crossbeam-channel's.
//! - `gort-rdv`, `gort-cap1`: a sending and a receiving future joined on
//!   one thread, on `bounded(0)` and `bounded(1)` (every hand-off parks).
//! - `base`: nothing (the program's own cost).
//!
//! Instructions per message, without the setup:
//!
//! ```text
//! a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null gort-bench-chan-probe gort-capN 100000 2>&1 | sed -n 's/.*Collected : //p')
//! b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null gort-bench-chan-probe gort-capN 200000 2>&1 | sed -n 's/.*Collected : //p')
//! echo $(( (b - a) / 100000 ))
//! ```
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().expect("which");
    let n: u64 = args.next().map_or(100_000, |s| s.parse().unwrap());
    let cap = n as usize;
    let mut sum = 0u64;
    // One future sends all `n`, then receives them.
    macro_rules! seq_async {
        ($channel:expr) => {{
            let (tx, rx) = $channel;
            futures::executor::block_on(async {
                for i in 0..n {
                    tx.send(black_box(i)).await.unwrap();
                }
                for _ in 0..n {
                    sum += rx.recv().await.unwrap();
                }
            });
        }};
    }
    // The same with a blocking API.
    macro_rules! seq_blocking {
        ($channel:expr, $send:ident, $recv:ident) => {{
            let (tx, rx) = $channel;
            for i in 0..n {
                tx.$send(black_box(i)).unwrap();
            }
            for _ in 0..n {
                sum += rx.$recv().unwrap();
            }
        }};
    }
    let start = std::time::Instant::now();
    match which.as_str() {
        "base" => {}
        "gort-capN" => seq_async!(gort::chan::bounded::<u64>(cap)),
        "gort-unb" => seq_async!(gort::chan::unbounded::<u64>()),
        "kanal-capN" => seq_async!(kanal::bounded_async::<u64>(cap)),
        "kanal-unb" => seq_async!(kanal::unbounded_async::<u64>()),
        "gort-blk-capN" => seq_blocking!(
            gort::chan::bounded::<u64>(cap),
            send_blocking,
            recv_blocking
        ),
        "gort-blk-unb" => {
            seq_blocking!(gort::chan::unbounded::<u64>(), send_blocking, recv_blocking)
        }
        "cb-capN" => seq_blocking!(crossbeam_channel::bounded::<u64>(cap), send, recv),
        "cb-unb" => seq_blocking!(crossbeam_channel::unbounded::<u64>(), send, recv),
        "gort-rdv" | "gort-cap1" => {
            // Two futures on one thread hand values over: bounded(0) is a
            // rendezvous, bounded(1) parks every other operation.
            let (tx, rx) = gort::chan::bounded::<u64>(usize::from(which == "gort-cap1"));
            futures::executor::block_on(async {
                let send = async {
                    for i in 0..n {
                        tx.send(black_box(i)).await.unwrap();
                    }
                };
                let recv = async {
                    for _ in 0..n {
                        sum += rx.recv().await.unwrap();
                    }
                };
                futures::join!(send, recv);
            });
        }
        other => panic!("unknown {other}"),
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{which} {n} {sum} {ns:.1} ns/msg");
}
