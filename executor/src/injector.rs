//! The global run queue (Go's `sched.runq`): where remote spawns, remote
//! wakes and local-ring overflow go. Lock-free (`crossbeam_queue::SegQueue`)
//! in normal builds; loom cannot see crossbeam's atomics, so under loom it
//! is a mutex-guarded `VecDeque` with the same surface.

use crate::task::Notified;

#[cfg(not(loom))]
type Queue = crossbeam_queue::SegQueue<Notified>;

/// The global injector queue.
pub(crate) struct Injector {
    #[cfg(not(loom))]
    queue: Queue,
    #[cfg(loom)]
    queue: crate::loom::Mutex<std::collections::VecDeque<Notified>>,
}

impl Injector {
    pub(crate) fn new() -> Self {
        Injector {
            #[cfg(not(loom))]
            queue: Queue::new(),
            #[cfg(loom)]
            queue: crate::loom::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    pub(crate) fn push(&self, task: Notified) {
        #[cfg(not(loom))]
        self.queue.push(task);
        #[cfg(loom)]
        crate::loom::lock(&self.queue).push_back(task);
    }

    /// Pushes a batch (local-ring overflow).
    pub(crate) fn push_batch(&self, tasks: impl Iterator<Item = Notified>) {
        #[cfg(not(loom))]
        for task in tasks {
            self.queue.push(task);
        }
        #[cfg(loom)]
        crate::loom::lock(&self.queue).extend(tasks);
    }

    pub(crate) fn pop(&self) -> Option<Notified> {
        #[cfg(not(loom))]
        return self.queue.pop();
        #[cfg(loom)]
        return crate::loom::lock(&self.queue).pop_front();
    }

    pub(crate) fn len(&self) -> usize {
        #[cfg(not(loom))]
        return self.queue.len();
        #[cfg(loom)]
        return crate::loom::lock(&self.queue).len();
    }

    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(not(loom))]
        return self.queue.is_empty();
        #[cfg(loom)]
        return crate::loom::lock(&self.queue).is_empty();
    }
}
