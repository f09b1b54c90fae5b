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
