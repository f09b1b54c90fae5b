//! gort's netpoller: one `mio` reactor per process with a timer wheel, and
//! the types on top of it: [`time`] (sleep, timeout, interval) and [`net`]
//! (TCP, UDP, Unix sockets). Re-exported as `gort::time` and `gort::net`.
//!
//! It works under any executor. Inside a gort runtime, an idle worker
//! drives the reactor (blocking in it with the nearest timer as timeout);
//! elsewhere (tokio, `futures::executor`, a plain thread) the `gort-netpoll`
//! thread does.
//!
//! ```
//! use std::time::Duration;
//! # futures::executor::block_on(async {
//! // No gort runtime here: the gort-netpoll thread fires the timer.
//! gort::time::sleep(Duration::from_millis(1)).await;
//! let r = gort::time::timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
//! assert!(r.is_err());
//! # });
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod clock;
mod driver;
mod io;
pub mod net;
mod sync;
pub mod time;
mod timers;
#[cfg(unix)]
pub mod unix;
mod wake_timer;
mod wheel;

/// The executor's seam to the reactor: `gort-executor` takes turns with
/// [`Reactor::try_drive`](__netpoll::Reactor::try_drive) and
/// [`Driver::turn`](__netpoll::Driver::turn), ends a blocking turn with
/// [`Reactor::wake`](__netpoll::Reactor::wake) and reports its runtimes
/// starting and stopping; gort's own tests count waiting timers.
///
/// Not a stable API: it changes with the executor, in any release.
#[doc(hidden)]
pub mod __netpoll {
    pub use crate::clock::{enter as enter_clock, Clock, ClockGuard};
    pub use crate::driver::{Driver, Reactor};
    #[cfg(unix)]
    pub use crate::unix::Watch;
}
