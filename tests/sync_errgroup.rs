//! `gort::sync::ErrGroup` (issue 13): the first error wins and cancels the
//! context, `wait` cancels it too, a limit bounds how many run at once
//! without blocking `spawn`, misuse panics, a task's panic comes out of
//! `wait`, and a plain thread can use it.
//!
//! Every body runs under the 120 s watchdog (a hang detector).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::context::{Context, ContextError};
use gort::sync::ErrGroup;

mod common;
use common::{panic_message, runtime, watchdog};

#[test]
fn the_first_error_wins_and_cancels_the_context() {
    watchdog("errgroup-first-error", || {
        let rt = runtime(2, "errgroup-first-error");
        rt.block_on(async {
            let (group, ctx) = ErrGroup::<u32>::with_context(&Context::background());
            let (gate_tx, gate_rx) = gort::chan::bounded::<()>(0);
            let seen_cancel = Arc::new(AtomicUsize::new(0));
            for i in 0..5u32 {
                let (ctx, seen) = (ctx.clone(), seen_cancel.clone());
                group.spawn(async move {
                    ctx.done().await;
                    assert_eq!(ctx.err(), Some(ContextError::Canceled));
                    seen.fetch_add(1, SeqCst);
                    Err(100 + i) // after the first: ignored
                });
            }
            let gate_rx2 = gate_rx.clone();
            group.spawn(async move {
                gate_rx2.recv().await.unwrap();
                Err(7)
            });
            gate_tx.send(()).await.unwrap();
            assert_eq!(group.wait().await, Err(7));
            assert_eq!(seen_cancel.load(SeqCst), 5);

            // All succeed: Ok, and the context is cancelled by `wait`.
            let (group, ctx) = ErrGroup::<u32>::with_context(&Context::background());
            for _ in 0..10 {
                group.spawn(async { Ok(()) });
            }
            assert_eq!(group.wait().await, Ok(()));
            assert_eq!(ctx.err(), Some(ContextError::Canceled));
            // A group without a context, waited with nothing in it.
            assert_eq!(ErrGroup::<u32>::new().wait().await, Ok(()));
        });
    });
}

#[test]
fn a_limit_bounds_the_running_tasks_and_spawn_never_blocks() {
    watchdog("errgroup-limit", || {
        let rt = runtime(2, "errgroup-limit");
        rt.block_on(async {
            let group = ErrGroup::<()>::new();
            group.set_limit(3);
            let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let (release_tx, release_rx) = gort::chan::unbounded::<()>();
            // Spawned with no await in between: spawn must not block.
            for _ in 0..20 {
                let (now, max, release_rx) = (now.clone(), max.clone(), release_rx.clone());
                group.spawn(async move {
                    let n = now.fetch_add(1, SeqCst) + 1;
                    max.fetch_max(n, SeqCst);
                    release_rx.recv().await.unwrap();
                    now.fetch_sub(1, SeqCst);
                    Ok(())
                });
            }
            while now.load(SeqCst) < 3 {
                gort::time::sleep(Duration::from_millis(1)).await;
            }
            for _ in 0..20 {
                release_tx.send(()).await.unwrap();
            }
            assert_eq!(group.wait().await, Ok(()));
            assert_eq!(max.load(SeqCst), 3);
        });
    });
}

#[test]
fn misuse_panics_and_a_task_panic_comes_out_of_wait() {
    watchdog("errgroup-panics", || {
        let rt = runtime(2, "errgroup-panics");
        let zero = std::panic::catch_unwind(|| ErrGroup::<()>::new().set_limit(0));
        assert!(panic_message(zero.unwrap_err()).contains("limit of 0"));

        let group = ErrGroup::<()>::new();
        let (tx, rx) = gort::chan::bounded::<()>(0);
        let _enter = rt.enter();
        group.spawn(async move {
            rx.recv().await.unwrap();
            Ok(())
        });
        let busy = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.set_limit(2)));
        assert!(panic_message(busy.unwrap_err())
            .contains("modify limit while 1 goroutines in the group are still active"));
        rt.block_on(tx.send(())).unwrap();
        rt.block_on(group.wait()).unwrap();

        let group = ErrGroup::<()>::new();
        group.spawn(async { panic!("task blew up") });
        let waited =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(group.wait())));
        assert_eq!(panic_message(waited.unwrap_err()), "task blew up");
    });
}

#[test]
fn a_plain_thread_can_run_a_group() {
    watchdog("errgroup-thread", || {
        let group = ErrGroup::<String>::new();
        for i in 0..4 {
            group.spawn(async move {
                if i == 2 {
                    Err("two".to_string())
                } else {
                    Ok(())
                }
            });
        }
        assert_eq!(gort::block_on(group.wait()), Err("two".to_string()));
    });
}
