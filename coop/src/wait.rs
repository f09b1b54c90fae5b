//! Wait reasons (Go's `waitReason`): what a task is parked on.
//!
//! gort's futures call [`set_wait_reason`] when they return `Pending`
//! (they have just registered the task's waker); gort's executor calls
//! [`take_wait_reason`] after each poll and keeps the reason of a task that
//! went to sleep in the task, where the goroutine dump
//! (`gort::runtime::Handle::dump`) reads it. Like the budget, the reason
//! is one thread-local cell: gort-channel, gort-sync and gort-reactor set
//! it without depending on the executor. Under another executor the
//! setter is a store nobody reads.
//!
//! When several futures of one task return `Pending` in one poll (a
//! `join!`, a `select!`), the last one to set a reason wins; gort's
//! `select!` sets [`WaitReason::Select`] after its cases. A future that
//! sets none (a foreign one) leaves [`WaitReason::Other`].

use std::cell::Cell;
use std::fmt;

/// What a parked task waits on. Its `Display` is Go's wording where Go
/// has the same wait (`chan receive`, `IO wait`, `sync.Mutex.Lock`).
///
/// ```
/// use gort_coop::WaitReason;
/// assert_eq!(WaitReason::ChanReceive.to_string(), "chan receive");
/// assert_eq!(WaitReason::IoWait.to_string(), "IO wait");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
#[repr(u8)]
pub enum WaitReason {
    /// A future that does not say (not one of gort's).
    #[default]
    Other = 0,
    /// A channel receive with nothing to take.
    ChanReceive = 1,
    /// A channel send with no room (or no receiver, unbuffered).
    ChanSend = 2,
    /// A `select!` none of whose cases can proceed.
    Select = 3,
    /// A timer: `sleep`, `timeout`, `interval`.
    Sleep = 4,
    /// A socket or listener that is not ready.
    IoWait = 5,
    /// A `JoinHandle` of a task that has not finished.
    Join = 6,
    /// A `JoinHandle` of `spawn_blocking` work still running.
    Blocking = 7,
    /// `yield_now` (the task is runnable again at once).
    Yield = 8,
    /// `gort::sync::Mutex::lock`.
    MutexLock = 9,
    /// `gort::sync::RwLock::read`.
    RwLockRead = 10,
    /// `gort::sync::RwLock::write`.
    RwLockWrite = 11,
    /// `gort::sync::Semaphore::acquire`.
    Semaphore = 12,
    /// `gort::sync::WaitGroup::wait`.
    WaitGroup = 13,
}

impl WaitReason {
    /// Every reason, in the order of their codes.
    const ALL: [WaitReason; 14] = [
        WaitReason::Other,
        WaitReason::ChanReceive,
        WaitReason::ChanSend,
        WaitReason::Select,
        WaitReason::Sleep,
        WaitReason::IoWait,
        WaitReason::Join,
        WaitReason::Blocking,
        WaitReason::Yield,
        WaitReason::MutexLock,
        WaitReason::RwLockRead,
        WaitReason::RwLockWrite,
        WaitReason::Semaphore,
        WaitReason::WaitGroup,
    ];

    /// The reason's one-byte code (for an executor that stores it packed).
    ///
    /// ```
    /// use gort_coop::WaitReason;
    /// assert_eq!(WaitReason::from_code(WaitReason::Join.code()), WaitReason::Join);
    /// ```
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The reason with this [`code`](Self::code); [`Other`](Self::Other)
    /// for a code no reason has.
    pub fn from_code(code: u8) -> WaitReason {
        Self::ALL
            .get(usize::from(code))
            .copied()
            .unwrap_or(WaitReason::Other)
    }

    /// Go's wording (`waitReasonStrings`), or gort's where Go has none.
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitReason::Other => "other",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::IoWait => "IO wait",
            WaitReason::Join => "join",
            WaitReason::Blocking => "blocking",
            WaitReason::Yield => "yield",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwLockRead => "sync.RWMutex.RLock",
            WaitReason::RwLockWrite => "sync.RWMutex.Lock",
            WaitReason::Semaphore => "semacquire",
            WaitReason::WaitGroup => "sync.WaitGroup.Wait",
        }
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

thread_local! {
    /// The reason the running poll's last `Pending` gave. A `const`
    /// initializer and no destructor: a plain thread-local access.
    static WAIT: Cell<WaitReason> = const { Cell::new(WaitReason::Other) };
}

/// Says what the running task will wait on: called by a future that
/// registered the task's waker and is about to return `Pending`.
///
/// ```
/// use gort_coop::{set_wait_reason, take_wait_reason, WaitReason};
/// set_wait_reason(WaitReason::Sleep);
/// assert_eq!(take_wait_reason(), WaitReason::Sleep);
/// assert_eq!(take_wait_reason(), WaitReason::Other); // taken: reset
/// ```
#[inline]
pub fn set_wait_reason(reason: WaitReason) {
    // Through `with`, as the budget's cell (`Proceed::made_progress`).
    WAIT.with(|wait| wait.set(reason));
}

/// The reason set since the last take, and resets it to
/// [`WaitReason::Other`]: an executor calls it after each poll.
#[inline]
pub fn take_wait_reason() -> WaitReason {
    WAIT.with(|wait| wait.replace(WaitReason::Other))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_other() {
        for r in WaitReason::ALL {
            assert_eq!(WaitReason::from_code(r.code()), r);
        }
        assert_eq!(WaitReason::from_code(200), WaitReason::Other);
    }

    #[test]
    fn the_last_reason_set_wins_and_taking_resets() {
        set_wait_reason(WaitReason::ChanReceive);
        set_wait_reason(WaitReason::Select);
        assert_eq!(take_wait_reason(), WaitReason::Select);
        assert_eq!(take_wait_reason(), WaitReason::Other);
    }
}
