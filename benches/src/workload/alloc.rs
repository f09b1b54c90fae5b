//! Memory workloads: bytes allocated, measured with the counting allocator.

use crate::contender::{join, Contender, Params};
use crate::counting_alloc::{self, Snapshot};
use crate::stats::Measurement;

/// Empty tasks spawned per run of [`alloc_per_task_burst`] (full size).
pub const NUM_EMPTY: usize = 10_000;

/// Empty tasks spawned per run of [`alloc_per_empty_task`]: fewer than a
/// local run queue holds (256 in gort and tokio), so what is counted is the
/// task's own allocation, not a queue's overflow storage.
pub const NUM_EMPTY_SMALL: usize = 100;

/// Bytes allocated per `spawn(async {})`, the task alone: as
/// [`alloc_per_task_burst`] with [`NUM_EMPTY_SMALL`] spawns.
pub fn alloc_per_empty_task<C: Contender>(rt: &C, _p: &Params) -> Result<Measurement, String> {
    alloc_per_spawn::<C>(rt, NUM_EMPTY_SMALL)
}

/// Bytes allocated per `spawn(async {})` over a burst of `NUM_EMPTY` spawns
/// in one poll: includes what the run queues allocate when the local queue
/// overflows into the global one.
pub fn alloc_per_task_burst<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    alloc_per_spawn::<C>(rt, p.size(NUM_EMPTY, 1_000))
}

/// Inside a task, spawn `n` empty tasks into a pre-reserved vector of
/// handles and read the spawning thread's allocation counters around that
/// loop (the loop has no `.await`, so the task stays on one thread and
/// nothing else runs on it meanwhile). All handles are joined afterwards.
/// Needs [`counting_alloc::CountingAlloc`] as the global allocator.
fn alloc_per_spawn<C: Contender>(rt: &C, n: usize) -> Result<Measurement, String> {
    if !counting_alloc::is_installed() {
        return Err(
            "alloc_per_empty_task: CountingAlloc is not the global allocator \
                    (run it through the `versus` bench binary)"
                .to_string(),
        );
    }
    let root = rt.spawn_remote(async move {
        let mut handles = Vec::with_capacity(n);
        let before = Snapshot::now();
        for _ in 0..n {
            handles.push(C::spawn(async {}));
        }
        let spent = Snapshot::now().since(before);
        let mut joined = 0usize;
        for handle in handles {
            join::<C, _>(handle).await?;
            joined += 1;
        }
        Ok::<_, String>((spent, joined))
    });
    let (spent, joined) = rt.block_on(join::<C, _>(root))??;

    if joined != n {
        return Err(format!(
            "alloc_per_empty_task: wrong result: joined {joined} of {n} tasks"
        ));
    }
    Ok(Measurement::Bytes(spent.bytes as f64 / n as f64))
}
