//! `GORT_MAXPROCS` (Go's `GOMAXPROCS`): the default worker count, read by
//! `Builder::build` and by the global runtime. Environment variables are
//! process-global, so this file holds a single test and nothing else in
//! this test binary reads or writes the variable concurrently. The global
//! runtime's (and a `#[gort::main]` program's) failure to start ends its
//! process, so those parts run this test again in a child process, as the
//! child's whole body.

use std::io::ErrorKind;

use gort::runtime::{Builder, Handle, Runtime, MAXPROCS_ENV};

/// Set in the child process that starts the global runtime with a bad
/// `GORT_MAXPROCS`.
const GLOBAL_CHILD: &str = "GORT_TEST_GLOBAL_CHILD";

/// Set in the child process that runs a `#[gort::main]` function with a
/// bad `GORT_MAXPROCS`.
const MAIN_CHILD: &str = "GORT_TEST_MAIN_CHILD";

/// What `#[gort::main]` makes of a program's `async fn main`.
#[gort::main]
async fn as_if_main() {
    panic!("#[gort::main] started its runtime with {MAXPROCS_ENV}=abc");
}

/// Runs this test again in a child process with `marker` set and
/// `GORT_MAXPROCS=abc`; returns its exit code and stderr.
fn run_child(marker: &str) -> (Option<i32>, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "gort_maxprocs_env",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(marker, "1")
        .env(MAXPROCS_ENV, "abc")
        .output()
        .expect("cannot run the test binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn gort_maxprocs_env() {
    if std::env::var_os(GLOBAL_CHILD).is_some() {
        // The child: this must end the process before it returns.
        gort::spawn(async {});
        panic!("the global runtime started with {MAXPROCS_ENV}=abc");
    }
    if std::env::var_os(MAIN_CHILD).is_some() {
        as_if_main();
        unreachable!("as_if_main panics if it returns");
    }
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
    // runtime has no caller to return the error to, so the process prints
    // one line and exits with status 2 (in a child process: this one).
    let (code, stderr) = run_child(GLOBAL_CHILD);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert_eq!(
        stderr,
        "gort: cannot start the global runtime: \
         GORT_MAXPROCS must be a positive integer, got \"abc\"\n",
        "not one clear line"
    );
    // Nor can a `#[gort::main]` program's: the same one line and status 2.
    let (code, stderr) = run_child(MAIN_CHILD);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert_eq!(
        stderr,
        "gort: cannot start the runtime: \
         GORT_MAXPROCS must be a positive integer, got \"abc\"\n",
        "not one clear line"
    );

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

    // The global runtime (started on first use) follows it too.
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
