//! Go's P: the right to run goroutines. Each has a local ring of 256 and a
//! LIFO slot (`runnext`). The part other threads touch (the steal end of
//! the ring, the LIFO slot, its parker and counters) lives in `ProcessorShared`, in the scheduler; the
//! owner's part (`Processor`) is one boxed value held by the worker that
//! runs it.

use std::sync::OnceLock;

use crate::loom::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use crate::loom::{lock, Arc, Mutex};
use crate::park::Parker;
use crate::queue::{self, LifoSlot, Local, Steal};
use crate::scheduler::{Scheduler, Shared};
use crate::task::{Id, IdBlock, Notified};

/// Polls of the LIFO slot in a row before the ring gets a turn. Go can
/// rely on preemption after 10 ms; futures cannot be preempted, so this
/// cap is the time slice that keeps a ping-pong pair from starving the
/// queue. 3 is tokio's choice too; nothing magic about it.
pub(crate) const MAX_LIFO_POLLS: u32 = 3;

/// Every this many ticks a processor looks at the injector before its own
/// ring (Go's `schedtick%61`): a prime, so it does not fall into step with
/// periodic workloads, and rare enough to keep the injector off the fast path.
pub(crate) const INJECTOR_CHECK_INTERVAL: u32 = 61;

/// Most tasks moved from the injector to a ring at once (Go's runq/2).
pub(crate) const INJECTOR_BATCH_MAX: usize = 128;

/// The part of a processor that other threads may touch. Aligned to 128
/// bytes so neighbours in the scheduler's array do not share cache lines
/// (the LIFO slot and the counters are written on every spawn/completion).
#[repr(align(128))]
pub(crate) struct ProcessorShared {
    /// Thieves take half of the ring through this.
    pub(crate) steal: Steal,
    /// The task to run next; thieves take it only on their last pass.
    pub(crate) lifo: LifoSlot,
    /// Where this processor's worker sleeps.
    pub(crate) parker: Parker,
    /// Tasks spawned from this processor; written only by its worker.
    pub(crate) spawned: Counter,
    /// Tasks completed on this processor; written only by its worker.
    pub(crate) completed: Counter,
    /// Whether its worker is inside a poll, and since which tick: what
    /// sysmon watches and retakes (see [`PollState`]). Also its poll count.
    pub(crate) poll: PollState,
    /// What `RuntimeMetrics` reads about this processor's worker.
    pub(crate) counters: WorkerCounters,
}

/// A metrics counter: std's atomic in every build, loom's never. Counters
/// only count (`Relaxed`; no other memory is published through them), so
/// loom has nothing to check in them, and as loom atomics every access
/// would be one more point where loom may switch threads in the models of
/// the scheduler (`tests/loom_scheduler.rs`), multiplying their executions.
pub(crate) type Counter = std::sync::atomic::AtomicU64;

/// Per-processor counters for `RuntimeMetrics`, each written only by the
/// processor's worker (a load and a store, no read-modify-write) and read
/// by anyone. The poll count lives in [`PollState`].
#[derive(Default)]
pub(crate) struct WorkerCounters {
    /// Successful steal operations (a batch from a ring, or a LIFO slot).
    pub(crate) steals: Counter,
    /// Times the worker parked.
    pub(crate) parks: Counter,
    /// Tasks run from the LIFO slot.
    pub(crate) lifo_hits: Counter,
    /// Polls that ended because the cooperative budget was spent.
    pub(crate) forced_yields: Counter,
    /// Nanoseconds the worker spent unparked, up to its last park.
    pub(crate) busy_ns: Counter,
}

impl WorkerCounters {
    /// Owner-only: adds `n` to `counter`.
    #[inline]
    pub(crate) fn add(counter: &Counter, n: u64) {
        counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

impl ProcessorShared {
    pub(crate) fn new() -> (Self, Local) {
        let (local, steal) = queue::local();
        (
            ProcessorShared {
                steal,
                lifo: LifoSlot::new(),
                parker: Parker::new(),
                spawned: Counter::new(0),
                completed: Counter::new(0),
                poll: PollState::new(),
                counters: WorkerCounters::default(),
            },
            local,
        )
    }

    /// Owner-only increment: a plain load and store, no read-modify-write.
    pub(crate) fn count_spawned(&self) {
        WorkerCounters::add(&self.spawned, 1);
    }

    /// Owner-only increment, as `count_spawned`.
    pub(crate) fn count_completed(&self) {
        WorkerCounters::add(&self.completed, 1);
    }

    /// `true` if a thief could find work here.
    pub(crate) fn has_work(&self) -> bool {
        !self.steal.is_empty() || !self.lifo.is_empty()
    }
}

/// What a processor's worker and sysmon share about the poll in progress.
///
/// The word (Go's `p.status` with its `schedtick`) is `tick << 2 |
/// phase`. The worker writes `POLLING` with its tick when it starts a
/// run of polls (a task and the LIFO slot's tasks after it) and swaps
/// back to `IDLE` when the run ends; sysmon may move a `POLLING` word to
/// `RETAKEN`, and does nothing else to it. The worker's swap tells it
/// whether that happened: the single modification order of one word
/// decides who has the run permit (see `sysmon.rs`).
///
/// The worker also counts every poll it starts in `polls` (its own
/// store, no read-modify-write): that is the processor's poll count for
/// `RuntimeMetrics`, and it lets sysmon measure one poll, not a run of up
/// to `MAX_LIFO_POLLS + 1` of them: four polls of 1 ms each are a busy
/// processor, not a stuck one. The count only tells sysmon that the
/// worker moved on; it decides nothing.
pub(crate) struct PollState {
    word: AtomicU64,
    polls: AtomicU64,
}

const PHASE_MASK: u64 = 0b11;
const IDLE: u64 = 0;
const POLLING: u64 = 1;
const RETAKEN: u64 = 2;

/// One sample of a processor inside a poll (see [`PollState::polling`]):
/// equal samples at least the threshold apart mean one poll ran that long.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct PollSample {
    word: u64,
    polls: u64,
}

impl PollState {
    pub(crate) fn new() -> Self {
        PollState {
            word: AtomicU64::new(IDLE),
            polls: AtomicU64::new(0),
        }
    }

    /// The worker starts a run of polls (its word is `IDLE`: sysmon writes
    /// only a `POLLING` word, so a plain store loses nothing).
    pub(crate) fn begin(&self, tick: u32) {
        self.next_poll();
        self.word.store(u64::from(tick) << 2 | POLLING, Relaxed);
    }

    /// The worker starts another poll in the same run (a LIFO task).
    #[inline]
    pub(crate) fn next_poll(&self) {
        // Only the worker writes the count.
        self.polls
            .store(self.polls.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Polls started on this processor so far.
    pub(crate) fn count(&self) -> u64 {
        self.polls.load(Relaxed)
    }

    /// The worker's run of polls ended. `true` if sysmon retook the
    /// processor meanwhile: its run permit went to another worker.
    #[must_use = "a retaken worker must stop running tasks"]
    pub(crate) fn end(&self) -> bool {
        self.word.swap(IDLE, AcqRel) & PHASE_MASK == RETAKEN
    }

    /// `true` while no poll runs on this processor (none started, or the
    /// last one returned and saw whether it was retaken).
    pub(crate) fn is_idle(&self) -> bool {
        self.word.load(SeqCst) & PHASE_MASK == IDLE
    }

    /// `true` once sysmon retook the processor (a load; `end` is the
    /// authoritative answer).
    pub(crate) fn is_retaken(&self) -> bool {
        self.word.load(Relaxed) & PHASE_MASK == RETAKEN
    }

    /// Sysmon: a sample, if the worker is inside a poll.
    pub(crate) fn polling(&self) -> Option<PollSample> {
        let word = self.word.load(Relaxed);
        let polls = self.polls.load(Relaxed);
        (word & PHASE_MASK == POLLING).then_some(PollSample { word, polls })
    }

    /// Sysmon: retakes the processor if its worker is still inside the
    /// run of polls that `seen` (from [`polling`](Self::polling))
    /// describes. (If the worker started another poll of that run since
    /// the sample, the retake still holds: it ends the run after that
    /// poll, as for any retake.)
    pub(crate) fn try_retake(&self, seen: PollSample) -> bool {
        debug_assert_eq!(seen.word & PHASE_MASK, POLLING);
        self.word
            .compare_exchange(seen.word, RETAKEN, AcqRel, Relaxed)
            .is_ok()
    }
}

/// Processors per chunk of the [`Processors`] table.
const CHUNK: usize = 64;

/// `CHUNK` slots of the [`Processors`] table.
type Chunk = Box<[OnceLock<Arc<ProcessorShared>>]>;

/// Every processor of a runtime, by index. The first `worker_threads` are
/// made with the runtime; sysmon adds one for each worker thread it starts
/// beyond those, reusing the processor of a retired thread first. A slot
/// is never emptied while the runtime lives, so an index stays valid: the
/// idle set, the final drain and thieves find a processor by it.
pub(crate) struct Processors {
    /// Chunks of `CHUNK` slots, made on demand up to the capacity.
    chunks: Box<[OnceLock<Chunk>]>,
    /// Slots filled, a prefix of the table.
    len: AtomicUsize,
    /// Processors whose worker thread retired (sysmon's spare that outlived
    /// its keep-alive), for the next thread sysmon starts. Also the lock
    /// that serializes `acquire`. Kept boxed: a worker thread owns its
    /// processor as a `Box`, and they move as they are.
    #[allow(clippy::vec_box)]
    retired: Mutex<Vec<Box<Processor>>>,
}

impl Processors {
    /// A table for at most `capacity` processors.
    pub(crate) fn new(capacity: usize) -> Self {
        Processors {
            chunks: (0..capacity.div_ceil(CHUNK))
                .map(|_| OnceLock::new())
                .collect(),
            len: AtomicUsize::new(0),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// A processor for a new worker thread: a retired one, else a new
    /// slot; `None` when the table is full.
    pub(crate) fn acquire(&self) -> Option<Box<Processor>> {
        let mut retired = lock(&self.retired);
        if let Some(p) = retired.pop() {
            return Some(p);
        }
        let index = self.len.load(Relaxed);
        let chunk = self
            .chunks
            .get(index / CHUNK)?
            .get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
        let (shared, local) = ProcessorShared::new();
        let shared = Arc::new(shared);
        if chunk[index % CHUNK].set(shared.clone()).is_err() {
            unreachable!("processor slot {index} filled twice");
        }
        // Release: whoever reads the new length finds the slot filled.
        self.len.store(index + 1, Release);
        drop(retired);
        Some(Box::new(Processor::new(index, local, shared)))
    }

    /// Keeps the processor of a worker thread that retires, for reuse.
    pub(crate) fn retire(&self, mut p: Box<Processor>) {
        // Its handle cache holds the scheduler, which holds this table.
        p.handles.clear();
        lock(&self.retired).push(p);
    }

    /// Slots filled.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Acquire)
    }

    /// The processor at `index` (below [`len`](Self::len)).
    pub(crate) fn get(&self, index: usize) -> &ProcessorShared {
        self.chunks[index / CHUNK]
            .get()
            .and_then(|c| c[index % CHUNK].get())
            .expect("a processor index below the table's length")
    }

    /// Every filled slot.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ProcessorShared> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Scheduler handles a processor clones at once when its cache is empty
/// (under loom 1: each clone of loom's `Arc` is a point where loom may
/// switch threads).
const HANDLE_REFILL: usize = if cfg!(loom) { 1 } else { 64 };
/// Most handles a processor caches; beyond, it drops half in one go.
const HANDLE_CACHE_MAX: usize = if cfg!(loom) { 2 } else { 512 };

/// The owner's part of a processor: the ring's owner end and the state
/// only the processor's current worker touches, all plain fields. One
/// boxed value that the worker loop owns (`worker.rs`) and lends to its
/// thread while a task or a reactor turn runs, so that the spawns and
/// wakes made there find it (tokio's `Box<Core>`). Being one owned value
/// is what lets a processor change threads.
pub(crate) struct Processor {
    /// This processor's index in the scheduler.
    pub(crate) index: usize,
    /// Its part that other threads touch (also in the scheduler's table).
    pub(crate) shared: Arc<ProcessorShared>,
    /// The owner's end of the ring.
    pub(crate) local: Local,
    /// Scheduling ticks (one per task taken from a queue).
    tick: u32,
    /// A task was made to yield by the cooperative budget: it ran a whole
    /// slice, during which this worker looked at neither the reactor nor
    /// the injector, so the next tick does that first.
    maintenance_due: bool,
    /// `true` while this worker counts as searching (see `idle.rs`).
    pub(crate) is_searching: bool,
    /// xorshift state for victim order.
    rng: u64,
    /// The block of task ids this processor hands out.
    ids: IdBlock,
    /// Spare clones of the scheduler handle for new tasks. Every task holds
    /// one (8 bytes, it keeps the runtime's shared state alive); cloning
    /// and dropping one per task would bounce the `Arc`'s count between
    /// the core that spawns and the core that frees. Clones are
    /// interchangeable, so the cache is refilled and trimmed in batches.
    handles: Vec<Scheduler>,
    /// When its worker last started running (took the processor or left a
    /// park): `WorkerCounters::busy_ns` grows by the stretch at each park.
    busy_since: std::time::Instant,
}

impl Processor {
    pub(crate) fn new(index: usize, local: Local, shared: Arc<ProcessorShared>) -> Self {
        Processor {
            index,
            shared,
            local,
            tick: 0,
            maintenance_due: false,
            is_searching: false,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            ids: IdBlock::new(),
            handles: Vec::with_capacity(HANDLE_CACHE_MAX),
            busy_since: std::time::Instant::now(),
        }
    }

    /// The worker starts running (it took the processor or left a park).
    pub(crate) fn busy_start(&mut self) {
        self.busy_since = std::time::Instant::now();
        crate::clock::refresh(self.busy_since);
    }

    /// The worker stops running (it parks): the stretch since
    /// [`busy_start`](Self::busy_start) goes into the busy time.
    pub(crate) fn busy_end(&mut self) {
        let now = std::time::Instant::now();
        crate::clock::refresh(now);
        let ns = u64::try_from((now - self.busy_since).as_nanos()).unwrap_or(u64::MAX);
        WorkerCounters::add(&self.shared.counters.busy_ns, ns);
    }

    /// A fresh task id from this processor's block.
    pub(crate) fn next_id(&mut self) -> Id {
        self.ids.next()
    }

    /// Advances the tick; `true` if this tick starts with the maintenance
    /// (the reactor, then the injector): every `INJECTOR_CHECK_INTERVAL`
    /// ticks, and after a task that the budget made yield.
    pub(crate) fn next_tick_is_maintenance(&mut self) -> bool {
        self.tick = self.tick.wrapping_add(1);
        let due = std::mem::take(&mut self.maintenance_due);
        due || self.tick.is_multiple_of(INJECTOR_CHECK_INTERVAL)
    }

    /// The running task spent its slice and yields: counted, and the
    /// next tick starts with the maintenance.
    pub(crate) fn forced_yield(&mut self) {
        WorkerCounters::add(&self.shared.counters.forced_yields, 1);
        self.maintenance_due = true;
    }

    /// The current tick.
    pub(crate) fn tick(&self) -> u32 {
        self.tick
    }

    /// A pseudo-random number (xorshift64*).
    pub(crate) fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A clone of `scheduler` for a new task, from the cache.
    pub(crate) fn take_handle(&mut self, scheduler: &Scheduler) -> Scheduler {
        if self.handles.is_empty() {
            self.handles
                .extend(std::iter::repeat_with(|| scheduler.clone()).take(HANDLE_REFILL));
        }
        self.handles.pop().expect("refilled above")
    }

    /// Takes back a freed task's scheduler handle.
    pub(crate) fn put_handle(&mut self, handle: Scheduler) {
        self.handles.push(handle);
        if self.handles.len() > HANDLE_CACHE_MAX {
            drop(self.handles.split_off(HANDLE_CACHE_MAX / 2));
        }
    }

    /// Makes a task runnable on this processor: into the LIFO slot (the
    /// displaced task goes to the ring) or to the ring tail.
    pub(crate) fn schedule_local(&mut self, shared: &Shared, task: Notified, lifo: bool) {
        // Under `--cfg gort_randomize` the LIFO slot is skipped half the
        // time, as Go's race mode randomizes `runnext`, to shake out code
        // that depends on the order in which tasks run.
        #[cfg(gort_randomize)]
        let lifo = lifo && self.random() & 1 == 0;
        if lifo {
            if let Some(prev) = self.shared.lifo.push(task) {
                self.push_back(shared, prev);
            }
        } else {
            self.push_back(shared, task);
        }
    }

    /// A task woken during its own poll (`yield_now`): it goes behind all
    /// runnable work. Go's `Gosched` puts it on the global queue; we keep it
    /// in the ring (no shared queue on the yield path) but first move a
    /// batch of the injector's tasks in ahead of it, so that remote work
    /// is not stuck behind tasks that keep yielding.
    ///
    /// Like `Gosched`, a yield wakes nobody: this worker is running and
    /// comes back to the task itself. (Moving injector tasks in does wake a
    /// worker: that is new stealable work.)
    pub(crate) fn yield_local(&mut self, shared: &Shared, task: Notified) {
        if !shared.injector.is_empty() {
            // Keep one slot for the yielding task itself.
            let room = self.local.remaining().saturating_sub(1);
            self.move_injector_batch(shared, room, 0);
        }
        self.local.push_back_or_overflow(task, &shared.injector);
    }

    /// A task woken by a reactor turn on this processor's thread: to the
    /// ring tail, waking nobody yet (the worker decides after the turn).
    pub(crate) fn schedule_driving(&mut self, shared: &Shared, task: Notified) {
        self.local.push_back_or_overflow(task, &shared.injector);
    }

    /// To the ring tail (or the injector if it overflows), waking a parked
    /// worker for it.
    pub(crate) fn push_back(&mut self, shared: &Shared, task: Notified) {
        self.local.push_back_or_overflow(task, &shared.injector);
        shared.notify_parked();
    }

    /// Moves up to `min(128, len / P + 1, room) - already` tasks from the
    /// injector to the ring tail (Go's `globrunqget`), waking a worker if
    /// any moved: the ring now holds stealable work.
    pub(crate) fn move_injector_batch(&mut self, shared: &Shared, room: usize, already: usize) {
        let n = (shared.injector.len() / shared.num_workers() + 1)
            .min(INJECTOR_BATCH_MAX)
            .min(room)
            .saturating_sub(already);
        let mut moved = false;
        for _ in 0..n {
            let Some(task) = shared.injector.pop() else {
                break;
            };
            self.local.push_back_or_overflow(task, &shared.injector);
            moved = true;
        }
        if moved {
            shared.notify_parked();
        }
    }
}

/// Visits `0..n` in a random order (Go's `randomOrder`): a random start
/// and a random stride coprime with `n`.
pub(crate) fn random_order(n: usize, random: u64) -> impl Iterator<Item = usize> {
    let start = (random as usize) % n.max(1);
    let stride = {
        let mut s = ((random >> 32) as usize % n.max(1)).max(1);
        while gcd(s, n) != 1 {
            s += 1;
        }
        s
    };
    (0..n).map(move |i| (start + i * stride) % n)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::random_order;

    #[test]
    fn random_order_visits_each_index_once() {
        for n in 1..20 {
            for seed in [0u64, 1, 7, u64::MAX, 0xDEAD_BEEF_1234_5678] {
                let mut seen: Vec<usize> = random_order(n, seed).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n={n} seed={seed}");
            }
        }
    }
}
