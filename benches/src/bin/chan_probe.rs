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
    let start = std::time::Instant::now();
    match which.as_str() {
        "base" => {}
        "gort-capN" | "gort-unb" => {
            let (tx, rx) = if which == "gort-capN" {
                gort::chan::bounded::<u64>(cap)
            } else {
                gort::chan::unbounded::<u64>()
            };
            futures::executor::block_on(async {
                for i in 0..n {
                    tx.send(black_box(i)).await.unwrap();
                }
                for _ in 0..n {
                    sum += rx.recv().await.unwrap();
                }
            });
        }
        "kanal-capN" | "kanal-unb" => {
            let (tx, rx) = if which == "kanal-capN" {
                kanal::bounded_async::<u64>(cap)
            } else {
                kanal::unbounded_async::<u64>()
            };
            futures::executor::block_on(async {
                for i in 0..n {
                    tx.send(black_box(i)).await.unwrap();
                }
                for _ in 0..n {
                    sum += rx.recv().await.unwrap();
                }
            });
        }
        "gort-blk-capN" | "gort-blk-unb" => {
            let (tx, rx) = if which == "gort-blk-capN" {
                gort::chan::bounded::<u64>(cap)
            } else {
                gort::chan::unbounded::<u64>()
            };
            for i in 0..n {
                tx.send_blocking(black_box(i)).unwrap();
            }
            for _ in 0..n {
                sum += rx.recv_blocking().unwrap();
            }
        }
        "cb-capN" | "cb-unb" => {
            let (tx, rx) = if which == "cb-capN" {
                crossbeam_channel::bounded::<u64>(cap)
            } else {
                crossbeam_channel::unbounded::<u64>()
            };
            for i in 0..n {
                tx.send(black_box(i)).unwrap();
            }
            for _ in 0..n {
                sum += rx.recv().unwrap();
            }
        }
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
