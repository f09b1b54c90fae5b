//! What the integration tests share: the two runtimes, each with 2 workers
//! (the machine's size).

#![allow(dead_code)] // each test file uses some of it

/// A 2-worker gort runtime.
pub fn gort_rt() -> gort::runtime::Runtime {
    gort::runtime::Builder::new()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// A 2-worker tokio runtime.
pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}
