//! A task's panic (issue 16, point 3): the runtime says which goroutine
//! panicked and where it was spawned, and `UnhandledPanic::ShutdownRuntime`
//! ends `block_on` with the panic of a task whose `JoinHandle` was dropped.
//!
//! Every body runs under the 120 s watchdog (a hang detector).

use std::time::Duration;

use gort::runtime::{Builder, UnhandledPanic};

mod common;
use common::{panic_message, watchdog};

/// Run as a child process by the test below: a named task panics.
#[test]
fn child_a_named_task_panics() {
    if std::env::var_os("GORT_PANIC_CHILD").is_none() {
        return;
    }
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let task = gort::task::Builder::new()
        .name("parser")
        .spawn_on(async { panic!("bad input") }, rt.handle());
    let err = rt.block_on(task).unwrap_err();
    assert!(err.is_panic());
}

#[test]
fn a_panic_names_the_goroutine_and_its_spawn_site() {
    watchdog("panic-names", || {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_a_named_task_panics",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("GORT_PANIC_CHILD", "1")
            .output()
            .unwrap();
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("bad input"), "{stderr}");
        // The runtime's line names the goroutine, its name and its spawn
        // site (the exact line is checked by rt_observe's dump test).
        let gort_line = stderr
            .lines()
            .find(|l| l.starts_with("gort: goroutine "))
            .unwrap_or_else(|| panic!("no goroutine line in:\n{stderr}"));
        assert!(
            gort_line.contains("\"parser\" panicked (spawned at "),
            "{gort_line}"
        );
        assert!(gort_line.contains(file!()), "{gort_line}");
    });
}

#[test]
fn shutdown_runtime_ends_block_on_with_an_unhandled_panic() {
    watchdog("unhandled-panic", || {
        let rt = Builder::new()
            .worker_threads(2)
            .unhandled_panic(UnhandledPanic::ShutdownRuntime)
            .build()
            .unwrap();
        // A panic a JoinHandle sees is not unhandled.
        let seen = rt.block_on(rt.spawn(async { panic!("handled") }));
        assert!(seen.unwrap_err().is_panic());
        let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                drop(gort::spawn(async {
                    gort::time::sleep(Duration::from_millis(5)).await;
                    panic!("unhandled")
                }));
                std::future::pending::<()>().await
            })
        }));
        assert_eq!(panic_message(died.unwrap_err()), "unhandled");
    });
}

#[test]
fn ignore_keeps_the_runtime_going() {
    watchdog("ignored-panic", || {
        let rt = Builder::new().worker_threads(2).build().unwrap();
        let v = rt.block_on(async {
            drop(gort::spawn(async { panic!("ignored") }));
            gort::time::sleep(Duration::from_millis(20)).await;
            gort::spawn(async { 7 }).await.unwrap()
        });
        assert_eq!(v, 7);
    });
}

#[test]
fn a_handle_dropped_after_the_panic_leaves_it_unhandled() {
    watchdog("unhandled-panic-late", || {
        let rt = Builder::new()
            .worker_threads(2)
            .unhandled_panic(UnhandledPanic::ShutdownRuntime)
            .build()
            .unwrap();
        let handle = rt.spawn(async { panic!("late") });
        while rt.handle().num_goroutines() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(handle); // nobody looked at the panic
        let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(std::future::pending::<()>())
        }));
        assert_eq!(panic_message(died.unwrap_err()), "late");
    });
}
