//! `Builder` settings and errors, thread names, and the runtime context
//! (`Runtime::enter`, `Handle::current`, `Handle::block_on`).
//!
//! `GORT_MAXPROCS` is process-global, so it is tested alone in
//! `tests/rt_env.rs`; nothing here sets it.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::panic::catch_unwind;

use gort::runtime::{Builder, Handle, Runtime, MAXPROCS_ENV};

mod common;
use common::{thread_name, watchdog};

#[test]
fn zero_worker_threads_is_invalid_input() {
    let err = Builder::new().worker_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains("worker_threads") && msg.contains("at least 1") && msg.contains('0'),
        "unclear message: {msg}"
    );
}

#[test]
fn absurd_worker_threads_is_invalid_input() {
    let err = Builder::new()
        .worker_threads(usize::MAX)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("worker_threads"), "{err}");
}

#[test]
fn thread_name_with_nul_is_invalid_input() {
    let err = Builder::new().thread_name("bad\0name").build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("NUL"), "{err}");
}

/// A failed build starts nothing that outlives it: the same builder, fixed,
/// builds fine.
#[test]
fn builder_is_reusable_after_an_error() {
    watchdog("reuse", || {
        let mut builder = Builder::new();
        builder.worker_threads(0);
        assert!(builder.build().is_err());
        let rt = builder.worker_threads(2).build().unwrap();
        assert_eq!(rt.handle().num_workers(), 2);
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    });
}

#[test]
fn worker_threads_sets_the_number_of_processors() {
    watchdog("num_workers", || {
        for n in [1usize, 2, 3, 5] {
            let rt = Builder::new()
                .worker_threads(n)
                .thread_name("count")
                .build()
                .unwrap();
            assert_eq!(rt.handle().num_workers(), n);
            let inside = rt
                .block_on(rt.spawn(async { Handle::current().num_workers() }))
                .unwrap();
            assert_eq!(inside, n);
            // Tasks only ever run on the runtime's worker threads: the n
            // it starts, and a new one for each processor sysmon retook
            // from a worker it found stuck in a poll (on a loaded machine
            // a worker descheduled mid-poll looks stuck), named on from n.
            let names: HashSet<String> = rt.block_on(async {
                let hs: Vec<_> = (0..2_000)
                    .map(|_| {
                        gort::spawn(async {
                            gort::yield_now().await;
                            thread_name()
                        })
                    })
                    .collect();
                let mut names = HashSet::new();
                for h in hs {
                    names.insert(h.await.unwrap());
                }
                names
            });
            let retakes = rt.handle().metrics().sysmon_retakes() as usize;
            let allowed: HashSet<String> = (0..n + retakes)
                .map(|i| format!("count-worker-{i}"))
                .collect();
            assert!(
                names.is_subset(&allowed),
                "{names:?} not within {allowed:?}"
            );
        }
    });
}

/// Without `worker_threads` the default is `GORT_MAXPROCS`, else one
/// worker per CPU.
#[test]
fn default_worker_count() {
    watchdog("default", || {
        let rt = Runtime::new().unwrap();
        let expected = match std::env::var(MAXPROCS_ENV) {
            Ok(v) => v
                .trim()
                .parse()
                .expect("the test environment sets a valid GORT_MAXPROCS"),
            Err(_) => std::thread::available_parallelism().unwrap().get(),
        };
        assert_eq!(rt.handle().num_workers(), expected);
    });
}

#[test]
fn thread_name_prefixes_worker_threads() {
    watchdog("thread_name", || {
        let rt = Builder::new()
            .worker_threads(2)
            .thread_name("xyz")
            .build()
            .unwrap();
        let names = rt.block_on(async {
            let hs: Vec<_> = (0..100)
                .map(|_| gort::spawn(async { thread_name() }))
                .collect();
            let mut names = Vec::new();
            for h in hs {
                names.push(h.await.unwrap());
            }
            names
        });
        for name in names {
            assert!(name.starts_with("xyz"), "a task ran on {name:?}");
            assert!(name.starts_with("xyz-worker-"), "a task ran on {name:?}");
        }
        let blocking = rt.block_on(rt.spawn_blocking(thread_name)).unwrap();
        assert!(blocking.starts_with("xyz"), "{blocking:?}");
        assert!(blocking.contains("blocking"), "{blocking:?}");
    });
}

#[test]
fn default_thread_names() {
    watchdog("default_names", || {
        let rt = Builder::new().worker_threads(1).build().unwrap();
        let name = rt.block_on(rt.spawn(async { thread_name() })).unwrap();
        assert_eq!(name, "gort-worker-0");
    });
}

#[test]
fn enter_makes_the_runtime_current() {
    watchdog("enter", || {
        let rt = Builder::new()
            .worker_threads(1)
            .thread_name("entered")
            .build()
            .unwrap();
        assert!(Handle::try_current().is_err());
        let spawned = {
            let _guard = rt.enter();
            let current = Handle::try_current().expect("inside enter()");
            assert_eq!(current.num_workers(), 1);
            // The free functions follow the entered runtime.
            let h = gort::spawn(async { thread_name() });
            let b = gort::spawn_blocking(thread_name);
            (h, b)
        };
        assert!(
            Handle::try_current().is_err(),
            "the guard's drop leaves the runtime"
        );
        assert_eq!(gort::block_on(spawned.0).unwrap(), "entered-worker-0");
        assert!(gort::block_on(spawned.1)
            .unwrap()
            .starts_with("entered-blocking"));
    });
}

#[test]
fn nested_enter_restores_the_outer_runtime() {
    watchdog("nested_enter", || {
        let a = Builder::new()
            .worker_threads(1)
            .thread_name("outer")
            .build()
            .unwrap();
        let b = Builder::new()
            .worker_threads(1)
            .thread_name("inner")
            .build()
            .unwrap();
        let _ga = a.enter();
        {
            let _gb = b.enter();
            let h = gort::spawn(async { thread_name() });
            assert_eq!(gort::block_on(h).unwrap(), "inner-worker-0");
        }
        let h = gort::spawn(async { thread_name() });
        assert_eq!(gort::block_on(h).unwrap(), "outer-worker-0");
        // `block_on` of the other runtime enters it only for its duration.
        let in_b = b.block_on(async { gort::spawn(async { thread_name() }).await.unwrap() });
        assert_eq!(in_b, "inner-worker-0");
        let h = gort::spawn(async { thread_name() });
        assert_eq!(gort::block_on(h).unwrap(), "outer-worker-0");
    });
}

#[test]
fn handle_current_outside_a_runtime_panics_clearly() {
    std::thread::spawn(|| {
        let payload = catch_unwind(Handle::current).unwrap_err();
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap();
        assert!(msg.contains("not running inside a gort runtime"), "{msg}");
    })
    .join()
    .unwrap();
}

#[test]
fn handle_from_another_thread_spawns_and_blocks_on() {
    watchdog("handle_thread", || {
        let rt = Builder::new()
            .worker_threads(2)
            .thread_name("hthread")
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        let out = std::thread::spawn(move || {
            let h = handle.spawn(async { thread_name() });
            let name = handle.block_on(h).unwrap();
            let inside = handle.block_on(async { Handle::try_current().is_ok() });
            let blocking = handle.block_on(handle.spawn_blocking(|| 7)).unwrap();
            (name, inside, blocking, Handle::try_current().is_err())
        })
        .join()
        .unwrap();
        assert!(out.0.starts_with("hthread-worker-"), "{}", out.0);
        assert!(out.1, "Handle::block_on enters the runtime");
        assert_eq!(out.2, 7);
        assert!(out.3, "and leaves it afterwards");
    });
}

/// `Runtime::block_on` on several plain threads at once.
#[test]
fn block_on_from_several_threads_at_once() {
    watchdog("multi_block_on", || {
        let rt = std::sync::Arc::new(Builder::new().worker_threads(2).build().unwrap());
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let rt = rt.clone();
                std::thread::spawn(move || {
                    rt.block_on(async move {
                        let hs: Vec<_> = (0..1_000u64)
                            .map(|i| gort::spawn(async move { i * t }))
                            .collect();
                        let mut s = 0;
                        for h in hs {
                            s += h.await.unwrap();
                        }
                        s
                    })
                })
            })
            .collect();
        for (t, th) in threads.into_iter().enumerate() {
            assert_eq!(th.join().unwrap(), 499_500 * t as u64);
        }
    });
}

#[test]
fn runtime_new_and_debug() {
    watchdog("new", || {
        let rt = Runtime::new().unwrap();
        assert!(rt.handle().num_workers() >= 1);
        assert!(format!("{rt:?}").contains("Runtime"));
        assert!(format!("{:?}", rt.handle()).contains("Handle"));
        assert_eq!(rt.block_on(async { 40 + 2 }), 42);
    });
}

#[test]
fn maxprocs_env_name() {
    assert_eq!(MAXPROCS_ENV, "GORT_MAXPROCS");
}
