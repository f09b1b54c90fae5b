//! gort's os layer (Go's `os`): [`fs`], files and directories over the
//! blocking pool. Re-exported as `gort::fs`.
//!
//! The kernel has no readiness notification for regular files, so every
//! file-system call here runs on a thread of gort's blocking pool
//! ([`spawn_blocking`](gort_executor::spawn_blocking)), as Go's `os`
//! package runs them on a thread that gives its processor away while the
//! call blocks. It works under any executor: inside a gort runtime the
//! calls go to that runtime's pool, elsewhere to the global runtime's.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod fs;
#[cfg(unix)]
pub mod process;
#[cfg(unix)]
pub mod signal;
