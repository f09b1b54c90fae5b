//! `GORT_MAXPROCS` (Go's `GOMAXPROCS`): the default worker count, read by
//! `Builder::build` and by the global runtime. Environment variables are
//! process-global, so this file holds a single test and nothing else in
//! this test binary reads or writes the variable concurrently.

use std::io::ErrorKind;
use std::panic::catch_unwind;

use gort::runtime::{Builder, Handle, Runtime, MAXPROCS_ENV};

mod common;
use common::panic_message;

#[test]
fn gort_maxprocs_env() {
    assert_eq!(MAXPROCS_ENV, "GORT_MAXPROCS");

    // Not a number.
    std::env::set_var(MAXPROCS_ENV, "abc");
    let err = Builder::new().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains("GORT_MAXPROCS") && msg.contains("abc"),
        "unclear message: {msg}"
    );
    assert_eq!(Runtime::new().unwrap_err().kind(), ErrorKind::InvalidInput);

    // The global runtime cannot start either: `gort::spawn` outside any
    // runtime has no caller to return the error to, so it panics.
    let payload = std::thread::spawn(|| catch_unwind(|| gort::spawn(async {})).map(drop))
        .join()
        .unwrap()
        .unwrap_err();
    let msg = panic_message(payload);
    assert!(msg.contains("GORT_MAXPROCS"), "unclear panic: {msg}");

    // Negative and zero.
    for bad in ["-1", "0", "", "2.5"] {
        std::env::set_var(MAXPROCS_ENV, bad);
        let err = Builder::new().build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        assert!(err.to_string().contains("GORT_MAXPROCS"), "{bad:?}: {err}");
    }

    // An explicit worker count wins over the variable, even a bad one.
    std::env::set_var(MAXPROCS_ENV, "abc");
    let rt = Builder::new().worker_threads(2).build().unwrap();
    assert_eq!(rt.handle().num_workers(), 2);
    drop(rt);

    // A good value.
    std::env::set_var(MAXPROCS_ENV, "3");
    let rt = Builder::new().build().unwrap();
    assert_eq!(rt.handle().num_workers(), 3);
    assert_eq!(
        rt.block_on(rt.spawn(async { Handle::current().num_workers() }))
            .unwrap(),
        3
    );
    drop(rt);
    assert_eq!(Runtime::new().unwrap().handle().num_workers(), 3);

    // Surrounding whitespace is tolerated.
    std::env::set_var(MAXPROCS_ENV, " 2 ");
    assert_eq!(Runtime::new().unwrap().handle().num_workers(), 2);

    // The global runtime (started on first use, after the failed attempt
    // above) follows it too.
    std::env::set_var(MAXPROCS_ENV, "3");
    let workers = std::thread::spawn(|| {
        gort::block_on(gort::spawn(async { Handle::current().num_workers() }))
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(workers, 3);

    std::env::remove_var(MAXPROCS_ENV);
    let rt = Builder::new().build().unwrap();
    assert_eq!(
        rt.handle().num_workers(),
        std::thread::available_parallelism().unwrap().get()
    );
}
