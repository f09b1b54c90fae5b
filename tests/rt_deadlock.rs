//! Deadlock detection (issue 12): a program whose main waits for what no
//! task can deliver fails with Go's message and the dump; waiting on a
//! timer, a socket, blocking work or a computing task is not a deadlock.
//!
//! Its own test binary: the reactor's timers and sockets are process-wide,
//! and another test's timer would (rightly) keep these runtimes from
//! looking deadlocked. Every body runs under the 120 s watchdog.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::runtime::{Builder, OnDeadlock, Runtime};

mod common;
use common::{panic_message, watchdog};

fn panicking_runtime(workers: usize) -> Runtime {
    Builder::new()
        .worker_threads(workers)
        .on_deadlock(OnDeadlock::Panic)
        .build()
        .unwrap()
}

/// A `#[gort::test]` whose main waits for a value no task will send.
#[gort::test]
#[should_panic(expected = "all goroutines are asleep - deadlock!")]
async fn a_gort_test_that_deadlocks_fails_instead_of_hanging() {
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    let _stuck = gort::spawn(async move { rx.recv().await });
    let (_keep, never) = gort::chan::bounded::<u32>(0);
    drop(tx);
    let _ = never.recv().await;
}

#[test]
fn a_deadlock_is_reported_within_2_s_with_the_stuck_task_in_the_dump() {
    watchdog("deadlock-report", || {
        for workers in [1, 2] {
            let rt = panicking_runtime(workers);
            let started = Instant::now();
            let line = line!() + 4;
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.block_on(async {
                    let (_tx, rx) = gort::chan::bounded::<u32>(0);
                    let stuck = gort::spawn(async move { rx.recv().await });
                    stuck.await
                })
            }));
            let took = started.elapsed();
            let message = panic_message(result.unwrap_err());
            assert!(
                message.starts_with("all goroutines are asleep - deadlock!"),
                "{message}"
            );
            assert!(message.contains("main (block_on) [waiting]:"), "{message}");
            assert!(message.contains("[chan receive, "), "{message}");
            let site = format!("spawned at {}:{line}:", file!());
            assert!(message.contains(&site), "no {site:?} in:\n{message}");
            // The bound: the test fails within 2 s, not never.
            assert!(took < Duration::from_secs(2), "reported after {took:?}");
        }
    });
}

#[test]
fn waiting_on_a_timer_a_socket_blocking_work_or_a_busy_task_is_not_a_deadlock() {
    watchdog("no-false-deadlock", || {
        let rt = panicking_runtime(2);
        // A sleep longer than the grace period.
        rt.block_on(gort::time::sleep(Duration::from_millis(200)));
        // An accept with no client yet; a plain thread connects later.
        let listener = rt
            .block_on(gort::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            std::net::TcpStream::connect(addr).unwrap()
        });
        rt.block_on(listener.accept()).unwrap();
        client.join().unwrap();
        drop(listener);
        // Blocking work that takes longer than the grace period.
        let n = rt
            .block_on(rt.spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(200));
                7
            }))
            .unwrap();
        assert_eq!(n, 7);
        // A task computing (never waiting) for longer than the grace period.
        let sum = rt
            .block_on(rt.spawn(async {
                let until = Instant::now() + Duration::from_millis(200);
                let mut i = 0u64;
                while Instant::now() < until {
                    i = std::hint::black_box(i + 1);
                }
                i > 0
            }))
            .unwrap();
        assert!(sum);
    });
}

#[test]
fn a_thousand_programs_that_end_correctly_never_report_a_deadlock() {
    watchdog("no-false-deadlock-1000", || {
        let rt = panicking_runtime(2);
        for round in 0..1000u64 {
            let got = rt.block_on(async move {
                // Main and two tasks hand values around on unbuffered
                // channels: every worker parks between hops, and main waits.
                let (a_tx, a_rx) = gort::chan::bounded::<u64>(0);
                let (b_tx, b_rx) = gort::chan::bounded::<u64>(0);
                let relay = gort::spawn(async move {
                    while let Ok(v) = a_rx.recv().await {
                        b_tx.send(v + 1).await.unwrap();
                    }
                });
                let mut total = 0;
                for i in 0..3 {
                    a_tx.send(round + i).await.unwrap();
                    total += b_rx.recv().await.unwrap();
                }
                drop(a_tx);
                relay.await.unwrap();
                total
            });
            assert_eq!(got, 3 * round + 6);
        }
    });
}

#[test]
fn warn_keeps_waiting_and_a_plain_thread_can_still_wake_main() {
    watchdog("deadlock-warn", || {
        for mode in [OnDeadlock::Warn, OnDeadlock::Ignore] {
            let rt = Builder::new()
                .worker_threads(2)
                .on_deadlock(mode)
                .build()
                .unwrap();
            let (tx, rx) = gort::chan::bounded::<u32>(0);
            let sent = Arc::new(AtomicBool::new(false));
            let s = sent.clone();
            // Invisible to the runtime: it looks deadlocked for 300 ms.
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                s.store(true, SeqCst);
                tx.send_blocking(9).unwrap();
            });
            assert_eq!(rt.block_on(rx.recv()), Ok(9));
            assert!(sent.load(SeqCst));
            sender.join().unwrap();
        }
    });
}

#[test]
fn a_deadlock_left_behind_by_finished_blocking_work_is_still_reported() {
    watchdog("deadlock-after-blocking", || {
        let rt = panicking_runtime(2);
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                // Nobody joins it; when it ends, no worker parks.
                drop(gort::spawn_blocking(|| {
                    std::thread::sleep(Duration::from_millis(100))
                }));
                std::future::pending::<()>().await
            })
        }));
        let message = panic_message(result.unwrap_err());
        assert!(
            message.starts_with("all goroutines are asleep - deadlock!"),
            "{message}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

/// The last worker to park does not wake `block_on` while a timer or a
/// socket is alive (a task may still be woken); the deadlock that remains
/// once the task's last timer has fired and its listener is closed is
/// still found, by the worker that parks after them.
#[test]
fn a_deadlock_left_behind_by_a_fired_timer_and_a_closed_socket_is_still_reported() {
    watchdog("deadlock-after-timer-and-socket", || {
        let rt = panicking_runtime(2);
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                let (_tx, rx) = gort::chan::bounded::<u32>(0);
                let task = gort::spawn(async move {
                    gort::time::sleep(Duration::from_millis(30)).await;
                    let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    gort::time::sleep(Duration::from_millis(30)).await;
                    drop(listener);
                    rx.recv().await
                });
                task.await
            })
        }));
        let message = panic_message(result.unwrap_err());
        assert!(
            message.starts_with("all goroutines are asleep - deadlock!"),
            "{message}"
        );
        assert!(message.contains("[chan receive, "), "{message}");
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}
