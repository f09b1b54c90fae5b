//! The typed half of a task: the allocation layout `Cell<F, S>` and the
//! functions (reached through `Vtable`) that know `F` and `S`.
//!
//! Every function here is entered holding one counted reference and says
//! what it does with it.

use std::alloc::Layout;
use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll, Waker};

use super::alloc;
use super::error::JoinError;
use super::header::{Header, SpawnSite, TaskRef};
use super::state::*;
use super::waker::waker_ref;
use super::{Notified, Schedule};
use crate::loom::UnsafeCell;

/// Type-erased operations on a task.
pub(crate) struct Vtable {
    /// Runs the task (`true`: a worker's poll, which registers it).
    /// Consumes the caller's `Notified` reference.
    pub(crate) poll: unsafe fn(TaskRef, bool),
    /// Hands a counted `Notified` reference to the task's scheduler.
    pub(crate) schedule: unsafe fn(TaskRef),
    /// Cancels the task if nobody is polling it. Consumes one reference.
    pub(crate) shutdown: unsafe fn(TaskRef),
    /// A `Notified` dropped without running. Consumes its reference.
    pub(crate) drop_notified: unsafe fn(TaskRef),
    /// Frees the allocation. The caller gave back the last reference.
    pub(crate) dealloc: unsafe fn(TaskRef),
    /// `JoinHandle::poll`: writes `Poll<Result<F::Output, JoinError>>` to
    /// `dst` if complete, else registers the waker.
    pub(crate) try_read_output: unsafe fn(TaskRef, *mut (), &Waker),
    /// `JoinHandle::drop`. Consumes the join reference.
    pub(crate) drop_join_handle: unsafe fn(TaskRef, bool),
    /// The runtime the task belongs to (`Schedule::runtime_id`). The
    /// caller holds a reference.
    pub(crate) runtime_id: unsafe fn(TaskRef) -> usize,
    /// A blocking-pool task (`Schedule::BLOCKING`).
    pub(crate) blocking: bool,
}

/// The future while it lives, then its output or panic payload; which one
/// is present is told by the state word (`COMPLETE`, `OUTPUT_*`). The panic
/// payload is boxed twice so the union stays one word for unit outputs.
pub(crate) union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<F::Output>,
    panic: ManuallyDrop<Box<Box<dyn Any + Send>>>,
}

/// The whole allocation. `#[repr(C)]` keeps the header at offset 0.
#[repr(C)]
pub(crate) struct Cell<F: Future, S> {
    pub(crate) header: Header,
    pub(crate) scheduler: S,
    pub(crate) stage: UnsafeCell<Stage<F>>,
}

impl<F, S> Cell<F, S>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    const VTABLE: Vtable = Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        shutdown: shutdown::<F, S>,
        drop_notified: drop_notified::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        runtime_id: runtime_id::<F, S>,
        blocking: S::BLOCKING,
    };

    /// Allocates a task; the state starts with three references (see `state.rs`).
    pub(crate) fn allocate(future: F, scheduler: S, id: super::Id, site: SpawnSite) -> TaskRef {
        let layout = Layout::new::<Cell<F, S>>();
        let block = alloc::allocate(layout);
        let cell = block.cast::<Cell<F, S>>().as_ptr();
        // SAFETY: fresh memory with the layout of `Cell<F, S>`; every field
        // is written once, in place.
        unsafe {
            Header::write_all_but_state(ptr::addr_of_mut!((*cell).header), &Self::VTABLE, id, site);
            ptr::addr_of_mut!((*cell).scheduler).write(scheduler);
            ptr::addr_of_mut!((*cell).stage).write(UnsafeCell::new(Stage {
                future: ManuallyDrop::new(future),
            }));
        }
        // SAFETY: a place inside the allocation; no reference is made.
        let state = unsafe { ptr::addr_of_mut!((*cell).header.state) };
        #[cfg(not(loom))]
        if alloc::in_spans(layout) {
            // The block's first word is a state word a walk of task memory
            // may be reading (`alloc.rs`): it is stored atomically, last,
            // publishing the fields above.
            // SAFETY: the allocator initialized the word as an atomic; a
            // shared reference to it is all a walker takes too.
            unsafe { (*state).init() };
            return TaskRef(block.cast());
        }
        // SAFETY: as above; a large block is unlisted until `publish`, so
        // nobody reads the word yet; then the written task is listed.
        unsafe {
            state.write(State::new());
            alloc::publish(block, layout);
        }
        TaskRef(block.cast())
    }
}

/// # Safety
/// `task` must be a live `Cell<F, S>`.
unsafe fn cell<'a, F: Future, S>(task: TaskRef) -> &'a Cell<F, S> {
    // SAFETY: the header sits at offset 0 of a `Cell<F, S>` (repr(C)) and
    // the caller holds a reference.
    unsafe { task.0.cast::<Cell<F, S>>().as_ref() }
}

unsafe fn poll<F, S>(task: TaskRef, register: bool)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the vtable is only reachable from a `Cell<F, S>`.
    let cell = unsafe { cell::<F, S>(task) };
    let header = &cell.header;
    match header.state.transition_to_running(register) {
        ToRunning::Poll => {}
        ToRunning::Cancel => {
            // SAFETY: we hold RUNNING.
            unsafe { cancel_and_complete::<F, S>(task) };
            return;
        }
        ToRunning::Done => return,
        ToRunning::Dealloc => {
            // SAFETY: that was the last reference.
            unsafe { dealloc::<F, S>(task) };
            return;
        }
    }
    // We hold RUNNING: the future is ours.
    let waker = waker_ref(task);
    let mut cx = Context::from_waker(&waker);
    let traced = crate::trace::on().then(std::time::Instant::now);
    // Each poll gets a fresh cooperative budget (gort-coop), and the
    // previous one (none, on a worker) is back when it returns: nothing of
    // one task's budget is left for the next. A future that finds it spent
    // wakes this task during its poll, so `transition_to_idle` below says
    // `Notified` and the task is requeued behind the runnable work.
    let (res, spent) = gort_coop::budget(|| {
        let res = cell.stage.with_mut(|stage| {
            catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: we hold RUNNING and the future is present (not
                // COMPLETE); it is never moved out of the allocation.
                let fut = unsafe { Pin::new_unchecked(&mut *(*stage).future) };
                fut.poll(&mut cx)
            }))
        });
        (res, !gort_coop::has_budget_remaining())
    });
    // Taken after every poll, so no reason outlives the poll that set it.
    let reason = gort_coop::take_wait_reason();
    if let Some(start) = traced {
        crate::trace::poll(header.id.0, start);
    }
    match res {
        Ok(Poll::Pending) => {
            // What the task sleeps on and since when, for the goroutine
            // dump: written while we hold RUNNING (after the transition
            // the task may be run elsewhere, or freed). If the transition
            // says `Notified`, the state word says runnable and the dump
            // does not show the reason.
            header.set_wait(reason, crate::clock::now_ms());
            match header.state.transition_to_idle() {
                ToIdle::Idle => {}
                ToIdle::Notified => {
                    if spent {
                        // Woken during its own poll with the budget spent:
                        // a gort future made it yield.
                        cell.scheduler.forced_yield();
                    }
                    if crate::trace::on() {
                        crate::trace::runnable(header.id.0);
                    }
                    // SAFETY: the poller's reference became this Notified.
                    cell.scheduler.requeue(unsafe { Notified::from_task(task) })
                }
                // SAFETY: we still hold RUNNING.
                ToIdle::Cancel => unsafe { cancel_and_complete::<F, S>(task) },
            }
        }
        Ok(Poll::Ready(output)) => {
            // SAFETY: RUNNING; the future is present and done.
            match unsafe { drop_future::<F>(&cell.stage) } {
                Ok(()) => {
                    // SAFETY: the future is gone; the slot is free.
                    cell.stage.with_mut(|s| unsafe {
                        ptr::write(&mut (*s).output, ManuallyDrop::new(output))
                    });
                    // SAFETY: RUNNING, output stored.
                    unsafe { complete::<F, S>(task, 0) };
                }
                Err(payload) => {
                    // The future panicked while being dropped: report that.
                    drop_catching(output);
                    // SAFETY: RUNNING, the future is gone.
                    unsafe { complete_with_panic::<F, S>(task, payload) };
                }
            }
        }
        Err(payload) => {
            // The panic hook named the thread (`gort-worker-0`); say which
            // goroutine it was, as Go's traceback does.
            let site = &header.spawn_site;
            let name = site.name().map(|n| format!(" {n:?}")).unwrap_or_default();
            eprintln!(
                "gort: goroutine {}{name} panicked (spawned at {})",
                header.id,
                site.location()
            );
            // The future panicked in poll: drop what is left of it, keep
            // the first panic's payload.
            // SAFETY: RUNNING; the future is present.
            let _ = unsafe { drop_future::<F>(&cell.stage) };
            // SAFETY: RUNNING, the future is gone.
            unsafe { complete_with_panic::<F, S>(task, payload) };
        }
    }
}

/// Drops the future in place, catching a panic from its destructor.
///
/// # Safety
/// The caller holds RUNNING and the future is present.
unsafe fn drop_future<F: Future>(stage: &UnsafeCell<Stage<F>>) -> Result<(), Box<dyn Any + Send>> {
    stage.with_mut(|s| {
        catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: per the caller, the future is present and ours.
            unsafe { ManuallyDrop::drop(&mut (*s).future) }
        }))
    })
}

fn drop_catching<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// Drops the future of a cancelled task and completes it as cancelled.
///
/// # Safety
/// The caller holds RUNNING (and the reference it implies); the future is present.
unsafe fn cancel_and_complete<F: Future, S: Schedule>(task: TaskRef) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(task) };
    // SAFETY: RUNNING, future present.
    match unsafe { drop_future::<F>(&cell.stage) } {
        // SAFETY: RUNNING, future gone, nothing stored.
        Ok(()) => unsafe { complete::<F, S>(task, OUTPUT_CANCELLED) },
        // SAFETY: as above.
        Err(payload) => unsafe { complete_with_panic::<F, S>(task, payload) },
    }
}

/// # Safety
/// As `complete`, with the stage empty.
unsafe fn complete_with_panic<F: Future, S: Schedule>(task: TaskRef, payload: Box<dyn Any + Send>) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(task) };
    // SAFETY: the stage is empty and ours (RUNNING).
    cell.stage
        .with_mut(|s| unsafe { ptr::write(&mut (*s).panic, ManuallyDrop::new(Box::new(payload))) });
    // SAFETY: RUNNING, payload stored.
    unsafe { complete::<F, S>(task, OUTPUT_PANIC) };
}

/// Publishes the output, wakes the joiner, and gives back the poller's
/// reference and the registry's.
///
/// # Safety
/// The caller holds RUNNING and the reference it implies; the stage holds
/// what `output_bits` describes.
unsafe fn complete<F: Future, S: Schedule>(task: TaskRef, output_bits: usize) {
    // SAFETY: caller's contract.
    let cell = unsafe { cell::<F, S>(task) };
    let header = &cell.header;
    // Count the task out before anyone can observe it complete, so that a
    // joiner that returns sees `num_goroutines` without it.
    cell.scheduler.count_completed();
    tracing::trace!(
        target: "gort::task",
        task_id = header.id.0,
        panicked = output_bits & OUTPUT_PANIC != 0,
        cancelled = output_bits & OUTPUT_CANCELLED != 0,
        "complete"
    );
    let prev = header.state.transition_to_complete(output_bits);
    if !prev.has(JOIN_INTEREST) && output_bits & OUTPUT_PANIC != 0 {
        // A panic nobody will see: the scheduler decides (ignore it, or
        // shut the runtime down with it).
        let payload = cell.stage.with_mut(|s| {
            // SAFETY: COMPLETE with no join interest: the payload is ours,
            // read out once and never dropped in place.
            unsafe { ManuallyDrop::into_inner(ptr::read(&(*s).panic)) }
        });
        let unhandled = AssertUnwindSafe(|| cell.scheduler.unhandled_panic(*payload));
        if catch_unwind(unhandled).is_err() {
            tracing::error!(target: "gort::task", task_id = header.id.0, "dropping an unhandled panic's payload panicked");
        }
    } else if !prev.has(JOIN_INTEREST) {
        // Nobody will read the output: it is ours to drop.
        // SAFETY: COMPLETE with no join interest: the output is ours.
        unsafe { drop_output::<F>(&cell.stage, output_bits) };
    } else if prev.has(JOIN_WAKER) {
        // The slot belongs to the task side while JOIN_WAKER is set.
        header.join_waker.with(|w| {
            // SAFETY: JOIN_WAKER was set when we completed, so the
            // JoinHandle only reads the slot.
            let w = unsafe { &*w };
            // The joiner's waker may be foreign code (any executor's); a
            // panic in it must not unwind through the worker.
            if catch_unwind(AssertUnwindSafe(|| w.wake_by_ref())).is_err() {
                tracing::error!(target: "gort::task", task_id = header.id.0, "the joiner's waker panicked");
            }
        });
        // Hand the slot back. The joiner's waker must not live as long as
        // this task's memory: a finished chain of tasks would otherwise hold
        // each other through their join wakers and free recursively.
        if !header
            .state
            .unset_join_waker_after_complete()
            .has(JOIN_INTEREST)
        {
            // The JoinHandle is gone: the waker is ours to drop.
            let waker = header.join_waker.with_mut(|w| {
                // SAFETY: JOIN_WAKER is clear and there is no JoinHandle.
                unsafe { (*w).take() }
            });
            drop_catching(waker);
        }
    }
    // Ours and the registry's (see `state.rs`), given back only now that
    // `COMPLETE` is set: a walk takes no new reference from here on.
    if header.state.ref_dec(2) {
        // SAFETY: last reference.
        unsafe { dealloc::<F, S>(task) };
    }
}

/// # Safety
/// The task is COMPLETE with `bits` and the caller owns the output.
unsafe fn drop_output<F: Future>(stage: &UnsafeCell<Stage<F>>, bits: usize) {
    stage.with_mut(|s| {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: per the caller, the variant named by `bits` is present and ours.
            unsafe {
                if bits & OUTPUT_PANIC != 0 {
                    ManuallyDrop::drop(&mut (*s).panic);
                } else if bits & OUTPUT_CANCELLED == 0 {
                    ManuallyDrop::drop(&mut (*s).output);
                }
            }
        }));
    });
}

unsafe fn schedule<F: Future, S: Schedule>(task: TaskRef) {
    // SAFETY: the caller hands us a counted Notified reference.
    let cell = unsafe { cell::<F, S>(task) };
    if crate::trace::on() {
        crate::trace::runnable(cell.header.id.0);
    }
    // SAFETY: as above.
    cell.scheduler
        .schedule(unsafe { Notified::from_task(task) });
}

unsafe fn shutdown<F: Future, S: Schedule>(task: TaskRef) {
    // SAFETY: the caller holds a reference.
    let cell = unsafe { cell::<F, S>(task) };
    if cell.header.state.transition_to_shutdown() {
        // We claimed RUNNING; our reference serves as the poller's.
        // SAFETY: RUNNING, the future is present (the task was idle).
        unsafe { cancel_and_complete::<F, S>(task) };
    } else if cell.header.state.ref_dec(1) {
        // SAFETY: last reference.
        unsafe { dealloc::<F, S>(task) };
    }
}

unsafe fn drop_notified<F: Future, S: Schedule>(task: TaskRef) {
    // SAFETY: the caller holds a (Notified) reference.
    let cell = unsafe { cell::<F, S>(task) };
    if cell.header.state.load().has(REGISTERED) {
        // The registry drain cancels it, on the draining thread.
        if cell.header.state.ref_dec(1) {
            // SAFETY: last reference (the drain already completed the task).
            unsafe { dealloc::<F, S>(task) };
        }
    } else {
        // Never polled by a worker: no registry walk will cancel it;
        // cancel it now. Its destructor never ran user code yet beyond
        // construction.
        // SAFETY: we hand over our reference.
        unsafe { shutdown::<F, S>(task) };
    }
}

unsafe fn dealloc<F: Future, S: Schedule>(task: TaskRef) {
    let ptr = task.0.cast::<Cell<F, S>>();
    // SAFETY: the caller gave back the last reference: the allocation is ours.
    let cell = unsafe { ptr.as_ref() };
    if !cell.header.state.load().has(COMPLETE) {
        // Only reachable for a task that never completed and lost every
        // reference, which the registry reference prevents; kept for safety.
        // SAFETY: not COMPLETE: the future is present and nobody else can reach it.
        let _ = unsafe { drop_future::<F>(&cell.stage) };
    }
    // The output (if any) was taken or dropped by its owner before the last
    // reference went. Move `S` out, drop the header's fields (the stage is
    // a union without drop glue), give the memory back, and hand `S` to
    // the scheduler.
    // SAFETY: the cell is initialized and unused from here on; `scheduler`
    // is read once and its place never used again.
    let scheduler = unsafe {
        let cell = ptr.as_ptr();
        let scheduler = ptr::read(&(*cell).scheduler);
        Header::drop_all_but_state(ptr::addr_of_mut!((*cell).header));
        scheduler
    };
    // SAFETY: allocated by `allocate` with this layout.
    unsafe { alloc::deallocate(ptr.cast(), Layout::new::<Cell<F, S>>()) };
    scheduler.recycle();
}

unsafe fn runtime_id<F: Future, S: Schedule>(task: TaskRef) -> usize {
    // SAFETY: the caller holds a reference.
    unsafe { cell::<F, S>(task) }.scheduler.runtime_id()
}

unsafe fn try_read_output<F, S>(task: TaskRef, dst: *mut (), waker: &Waker)
where
    F: Future,
    S: Schedule,
{
    // SAFETY: the JoinHandle holds a reference.
    let cell = unsafe { cell::<F, S>(task) };
    let header = &cell.header;
    if !can_read_output(header, waker) {
        return;
    }
    let state = header.state.load();
    debug_assert!(state.has(COMPLETE));
    if !state.has(JOIN_WAKER) {
        // The slot is the JoinHandle's again: release the waker now.
        let waker = header.join_waker.with_mut(|w| {
            // SAFETY: COMPLETE and JOIN_WAKER clear: only we touch the slot.
            unsafe { (*w).take() }
        });
        drop(waker);
    }
    let result = cell.stage.with_mut(|s| {
        // SAFETY: COMPLETE with JOIN_INTEREST: the output is the JoinHandle's,
        // and it is read exactly once (the JoinHandle marks it taken).
        unsafe {
            if state.has(OUTPUT_PANIC) {
                let payload = ManuallyDrop::take(&mut (*s).panic);
                Err(JoinError::panic(header.id, *payload))
            } else if state.has(OUTPUT_CANCELLED) {
                Err(JoinError::cancelled(header.id))
            } else {
                Ok(ManuallyDrop::take(&mut (*s).output))
            }
        }
    });
    // SAFETY: `dst` is the JoinHandle's `Poll<Result<F::Output, JoinError>>`.
    unsafe { *(dst as *mut Poll<Result<F::Output, JoinError>>) = Poll::Ready(result) };
}

/// `true` if the task is complete; otherwise leaves `waker` in the join
/// waker slot for the completer to wake and returns `false`.
fn can_read_output(header: &Header, waker: &Waker) -> bool {
    let state = header.state.load();
    if state.has(COMPLETE) {
        return true;
    }
    if state.has(JOIN_WAKER) {
        // The slot is the task side's; reading it is allowed.
        let same = header.join_waker.with(|w| {
            // SAFETY: while JOIN_WAKER is set nobody writes the slot.
            unsafe { (*w).will_wake(waker) }
        });
        if same {
            return false;
        }
        if header.state.unset_join_waker().is_err() {
            return true;
        }
    }
    // The slot is ours (JOIN_WAKER clear, not COMPLETE).
    header.join_waker.with_mut(|w| {
        // SAFETY: JOIN_WAKER is clear, so only the JoinHandle touches the slot.
        unsafe { (*w).set(waker) }
    });
    header.state.set_join_waker().is_err()
}

unsafe fn drop_join_handle<F: Future, S: Schedule>(task: TaskRef, output_taken: bool) {
    // SAFETY: the JoinHandle holds a reference.
    let cell = unsafe { cell::<F, S>(task) };
    let prev = cell.header.state.unset_join_interest();
    if prev.has(COMPLETE) {
        if !output_taken && prev.has(OUTPUT_PANIC) {
            // A panic dropped unseen: as unhandled as one whose handle was
            // gone before it happened.
            let payload = cell.stage.with_mut(|s| {
                // SAFETY: COMPLETE before we dropped interest: the payload
                // is ours, read out once and never dropped in place.
                unsafe { ManuallyDrop::into_inner(ptr::read(&(*s).panic)) }
            });
            let unhandled = AssertUnwindSafe(|| cell.scheduler.unhandled_panic(*payload));
            if catch_unwind(unhandled).is_err() {
                tracing::error!(target: "gort::task", task_id = cell.header.id.0, "dropping an unhandled panic's payload panicked");
            }
        } else if !output_taken {
            // SAFETY: COMPLETE before we dropped interest: the output is ours.
            unsafe { drop_output::<F>(&cell.stage, prev.0 & (OUTPUT_PANIC | OUTPUT_CANCELLED)) };
        }
        if !prev.has(JOIN_WAKER) {
            // The completer handed the slot back (or never had it).
            let waker = cell.header.join_waker.with_mut(|w| {
                // SAFETY: COMPLETE and JOIN_WAKER clear: the slot is ours.
                unsafe { (*w).take() }
            });
            drop(waker);
        }
    } else {
        // We cleared JOIN_WAKER too, so the slot is ours: drop the waker now
        // rather than keep the joiner's task alive until this one ends.
        let waker = cell.header.join_waker.with_mut(|w| {
            // SAFETY: JOIN_WAKER is clear and we are the JoinHandle.
            unsafe { (*w).take() }
        });
        drop(waker);
    }
    if cell.header.state.ref_dec(1) {
        // SAFETY: last reference.
        unsafe { dealloc::<F, S>(task) };
    }
}
