//! gort's netpoller: one `mio` reactor per process with a timer wheel, and
//! the types on top of it: [`time`] (sleep, timeout, interval) and [`net`]
//! (TCP, UDP). Re-exported as `gort::time` and `gort::net`.
//!
//! It works under any executor. Inside a gort runtime, an idle worker
//! drives the reactor (blocking in it with the nearest timer as timeout);
//! elsewhere (tokio, `futures::executor`, a plain thread) the `gort-netpoll`
//! thread does. See [`Reactor`] for who drives it when.
//!
//! ```
//! use std::time::Duration;
//! # futures::executor::block_on(async {
//! // No gort runtime here: the gort-netpoll thread fires the timer.
//! gort_reactor::time::sleep(Duration::from_millis(1)).await;
//! let r = gort_reactor::time::timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
//! assert!(r.is_err());
//! # });
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod driver;
mod io;
pub mod net;
mod sync;
pub mod time;
mod timers;
mod wheel;

pub use driver::{Driver, Reactor, SYSMON_MAX};
pub use timers::TIMER_SHARDS;
