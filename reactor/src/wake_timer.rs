//! The driver's precise wake-up: a `timerfd` in the epoll set, armed for
//! the tick the nearest timer fires at.
//!
//! `epoll_wait` takes its timeout in whole milliseconds, and mio rounds a
//! shorter or fractional wait up, so a driver blocking "until the next
//! tick" woke anywhere up to a millisecond after it: on top of the
//! deadline's own rounding up to a tick, a timer fired up to 2 ms late
//! (two roundings of up to 1 ms each: a median of 1 ms). Armed for the
//! tick's instant, the timerfd wakes the driver at the tick, to within the
//! kernel's timer slack. The epoll timeout stays as it was, a fallback
//! should arming fail.
//!
//! One `timerfd_settime` per blocking turn whose wait a timer ends, and
//! none when the timer armed last is still the nearest (a turn that I/O
//! ended early comes back to the same tick). The timerfd is never read:
//! its registration is edge-triggered, and epoll reports each expiry (the
//! kernel wakes the fd's waiters on every one), whatever the count it
//! keeps.
//!
//! Elsewhere than on Linux and Android, or if the kernel refuses a
//! timerfd, arming does nothing and the driver wakes as epoll's timeout
//! says.

use std::time::Instant;

use mio::Token;

/// The token of the wake-up timer in the reactor's epoll set.
pub(crate) const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// The driver's timerfd and the instant it is armed for. Touched only
/// under the reactor's poll lock.
pub(crate) struct WakeTimer {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fd: Option<nix::sys::timerfd::TimerFd>,
    /// The instant the timerfd was last armed for, until it fires.
    armed: Option<Instant>,
}

impl WakeTimer {
    /// A wake-up timer registered in `registry` (disabled, with a warning,
    /// if the kernel refuses one).
    pub(crate) fn new(registry: &mio::Registry) -> WakeTimer {
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = registry;
        WakeTimer {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            fd: linux::register(registry),
            armed: None,
        }
    }

    /// Whether the driver has a timerfd to wake it.
    pub(crate) fn is_enabled(&self) -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return self.fd.is_some();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        false
    }

    /// Makes the driver's next wait end at `at` (the tick the nearest
    /// timer fires at), unless the timerfd is already armed for it.
    pub(crate) fn arm(&mut self, at: Instant) {
        let now = Instant::now();
        // Already armed for `at` (still ahead, so not yet expired).
        if at <= now || self.armed == Some(at) {
            return;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(fd) = &self.fd {
            if linux::arm(fd, at - now) {
                self.armed = Some(at);
            }
        }
    }

    /// The timerfd fired (its event came in a turn): the next `arm` sets it
    /// again even for the same instant.
    pub(crate) fn fired(&mut self) {
        self.armed = None;
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use std::os::fd::{AsFd, AsRawFd};
    use std::time::Duration;

    use mio::unix::SourceFd;
    use mio::Interest;
    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

    use super::TIMER_TOKEN;

    /// A non-blocking monotonic timerfd, registered for reading.
    pub(super) fn register(registry: &mio::Registry) -> Option<TimerFd> {
        let made = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(std::io::Error::from)
        .and_then(|fd| {
            let raw = fd.as_fd().as_raw_fd();
            registry
                .register(&mut SourceFd(&raw), TIMER_TOKEN, Interest::READABLE)
                .map(|()| fd)
        });
        match made {
            Ok(fd) => Some(fd),
            Err(e) => {
                tracing::warn!(
                    target: "gort::reactor",
                    "no timerfd ({e}): timers wake the reactor to epoll's millisecond"
                );
                None
            }
        }
    }

    /// Arms `fd` to expire once, `after` from now; `false` if that failed.
    pub(super) fn arm(fd: &TimerFd, after: Duration) -> bool {
        let after = TimeSpec::from_duration(after);
        match fd.set(Expiration::OneShot(after), TimerSetTimeFlags::empty()) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(target: "gort::reactor", "arming the timerfd failed: {e}");
                false
            }
        }
    }
}
