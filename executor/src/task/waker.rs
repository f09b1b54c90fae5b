//! `Waker`s for tasks: the data pointer is the task header, each waker
//! counts one reference. One static vtable serves every task; scheduling
//! goes through the task's own `Vtable`.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::header::{Header, TaskRef};
use super::state::ToNotified;

static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

fn task_of(data: *const ()) -> TaskRef {
    // SAFETY: our wakers are only built from non-null header pointers.
    TaskRef(unsafe { NonNull::new_unchecked(data as *mut Header) })
}

unsafe fn clone(data: *const ()) -> RawWaker {
    task_of(data).header().state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn wake(data: *const ()) {
    let task = task_of(data);
    let header = task.header();
    match header.state.transition_to_notified_by_val() {
        ToNotified::Nothing => {}
        // SAFETY: the waker's reference became the Notified reference.
        ToNotified::Submit => unsafe { (header.vtable.schedule)(task) },
        // SAFETY: that was the last reference.
        ToNotified::Dealloc => unsafe { (header.vtable.dealloc)(task) },
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    let task = task_of(data);
    let header = task.header();
    match header.state.transition_to_notified_by_ref() {
        ToNotified::Nothing => {}
        // SAFETY: the transition took a new reference for the Notified.
        ToNotified::Submit => unsafe { (header.vtable.schedule)(task) },
        ToNotified::Dealloc => unreachable!("wake_by_ref gives back no reference"),
    }
}

unsafe fn drop_waker(data: *const ()) {
    let task = task_of(data);
    let header = task.header();
    if header.state.ref_dec(1) {
        // SAFETY: that was the last reference.
        unsafe { (header.vtable.dealloc)(task) };
    }
}

/// A waker borrowed from the poller's reference: no count of its own.
pub(crate) struct WakerRef<'a> {
    waker: ManuallyDrop<Waker>,
    _task: PhantomData<&'a Header>,
}

impl Deref for WakerRef<'_> {
    type Target = Waker;
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// Builds the waker passed to `poll`; clones of it count references.
pub(crate) fn waker_ref<'a>(task: TaskRef) -> WakerRef<'a> {
    let raw = RawWaker::new(task.0.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: the vtable's functions uphold the `RawWaker` contract; the
    // `ManuallyDrop` keeps this uncounted waker from giving back a
    // reference it never took.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
    WakerRef {
        waker,
        _task: PhantomData,
    }
}

/// The low bit of a [`JoinWaker`] that holds a boxed waker (task headers
/// and boxes are 8-aligned, so the bit is free).
const BOXED: usize = 1;

/// The `JoinHandle`'s waker in one word, where a `Waker` takes two: null
/// for none; the header of a gort task, for that task's waker (a task
/// awaiting another, the common case), owning the reference the waker
/// counted; or, with the low bit set, a boxed waker of any other kind
/// (`block_on`'s, another executor's). Who may touch it is told by the
/// state word's `JOIN_WAKER` bit (see `state.rs`).
pub(crate) struct JoinWaker(*mut ());

impl JoinWaker {
    pub(crate) const fn new() -> Self {
        JoinWaker(std::ptr::null_mut())
    }

    /// Holds a clone of `waker` (the one held before is dropped).
    pub(crate) fn set(&mut self, waker: &Waker) {
        let word = if std::ptr::eq(waker.vtable(), &WAKER_VTABLE) {
            // The clone counts a reference, which the word now owns.
            let clone = ManuallyDrop::new(waker.clone());
            clone.data() as *mut ()
        } else {
            let boxed = Box::into_raw(Box::new(waker.clone()));
            boxed.cast::<()>().map_addr(|a| a | BOXED)
        };
        drop(self.take());
        self.0 = word;
    }

    /// The boxed waker, if the word holds one.
    fn boxed(&self) -> Option<*mut Waker> {
        (self.0.addr() & BOXED != 0).then(|| self.0.map_addr(|a| a & !BOXED).cast::<Waker>())
    }

    /// Takes the waker out, leaving none.
    pub(crate) fn take(&mut self) -> Option<Waker> {
        let word = std::mem::replace(self, JoinWaker::new());
        let word = ManuallyDrop::new(word);
        if word.0.is_null() {
            return None;
        }
        if let Some(boxed) = word.boxed() {
            // SAFETY: a tagged word came from `Box::into_raw` in `set` and
            // is owned by this word alone, which is now empty.
            return Some(*unsafe { Box::from_raw(boxed) });
        }
        // SAFETY: an untagged word is a task's header and owns the
        // reference of a waker of `WAKER_VTABLE`, which this waker now counts.
        Some(unsafe { Waker::from_raw(RawWaker::new(word.0, &WAKER_VTABLE)) })
    }

    /// Wakes the waker held, if any, keeping it.
    pub(crate) fn wake_by_ref(&self) {
        if self.0.is_null() {
            return;
        }
        match self.boxed() {
            // SAFETY: the box is live while the word holds it.
            Some(boxed) => unsafe { (*boxed).wake_by_ref() },
            // SAFETY: the word owns a reference to the task, so it is live.
            None => unsafe { wake_by_ref(self.0) },
        }
    }

    /// Whether the waker held would wake the same task as `waker`
    /// (`Waker::will_wake`); `false` if none is held.
    pub(crate) fn will_wake(&self, waker: &Waker) -> bool {
        if self.0.is_null() {
            return false;
        }
        match self.boxed() {
            // SAFETY: the box is live while the word holds it.
            Some(boxed) => unsafe { (*boxed).will_wake(waker) },
            None => std::ptr::eq(waker.vtable(), &WAKER_VTABLE) && waker.data() == self.0,
        }
    }
}

impl Drop for JoinWaker {
    fn drop(&mut self) {
        drop(self.take());
    }
}
