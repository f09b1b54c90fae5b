//! sysmon (Go's `sysmon`, `retake` and `handoffp`): one monitor thread
//! per runtime. A processor whose worker has been inside one poll for the
//! blocking threshold (a `std::thread::sleep`, a synchronous read, a long
//! loop in a task) loses its run permit to a spare worker thread, so that
//! the task blocks only its own thread and the other tasks keep running.
//!
//! # What moves
//!
//! A worker thread (Go's M) and its processor (P: ring, LIFO slot)
//! stay together here; what moves between threads is the *run
//! permit*. There are `worker_threads` permits; only a worker holding one
//! runs tasks, parks in the idle set or turns the reactor. A retake:
//!
//! 1. Sysmon sees a processor's [`PollState`] inside the same poll (its
//!    word `POLLING` with the same tick, and the same count of polls in
//!    that run) in two rounds at least the threshold apart, and the retake
//!    is worth it (below), and moves the word to `RETAKEN` with one CAS.
//! 2. It gives the permit to a spare: a parked one from the spares list, or
//!    a new thread with a new processor (or a retired thread's), up to
//!    `max_threads` threads. The idle set counts the spare as searching in
//!    place of the stuck worker, so the spare steals the stuck processor's
//!    ring (half at a time, as any thief) and, on its last pass, its LIFO
//!    slot.
//! 3. When the stuck poll returns, its worker's swap of the word reads
//!    `RETAKEN`: it moves whatever its ring and LIFO slot still hold (tasks
//!    the stuck task spawned or woke after its blocking call) to the
//!    injector, waking a worker for them, and becomes a spare: it parks
//!    without a permit, and exits after the keep-alive, leaving its
//!    processor for the next thread sysmon starts.
//!
//! The processor does not change threads because a stuck task can still
//! touch it when its blocking call returns: its spawns and wakes go to that
//! processor's LIFO slot and ring, through the owner's `&mut` path with no
//! atomic read-modify-write. Taking the owner half from under it would
//! need a claim on every spawn and wake.
//!
//! # Why the permit count holds
//!
//! The word has one writer at a time: the worker writes `POLLING` when it
//! starts a poll (the word is `IDLE` then, and sysmon writes only a
//! `POLLING` word), sysmon's CAS moves `POLLING(tick)` to `RETAKEN`, and
//! the worker's swap at the end of the poll moves either to `IDLE`. In the
//! single modification order of the word, either the swap comes first
//! (the CAS fails: no retake, the worker keeps its permit) or the CAS does
//! (the swap reads `RETAKEN`: the worker has given its permit away and
//! runs no task after the one in hand). Between the CAS and the swap there
//! are `worker_threads` permit holders and one thread finishing its poll,
//! as in Go while an M leaves a syscall without a P. The idle protocol's
//! counts see the spare as a searcher that a notifier woke (the loom model
//! `retake_races_the_poll_returning` checks both sides).
//!
//! # When a retake is worth it
//!
//! As Go's `retake`: when the stuck processor has queued work (its ring or
//! LIFO slot: tasks that wait behind the poll), or when no other worker is
//! idle or searching (nobody else would take new work or turn the reactor
//! soon). A long poll with idle workers around costs nobody anything.
//!
//! # Sleeping
//!
//! A round every half threshold while any worker holds its permit
//! unparked; when every permit holder is parked for [`IDLE_ROUNDS`]
//! rounds in a row, sysmon sleeps until a worker is unparked (Go's
//! `sysmonwait`). The workers' cost is on their
//! own processor's line: a store when a run of polls starts, a store per
//! LIFO poll in it and a swap when it ends; sysmon only reads them, once
//! a round.

use std::time::{Duration, Instant};

use crate::loom::atomic::{AtomicBool, Ordering::*};
use crate::loom::{lock, Mutex};
use crate::park::Parker;
use crate::processor::{Counter, PollSample, WorkerCounters};
use crate::scheduler::{Scheduler, Shared};
use crate::worker;

/// Shortest pause between two rounds.
const MIN_PERIOD: Duration = Duration::from_micros(20);

/// Rounds in a row that must find every worker parked before the monitor
/// sleeps until a worker is unparked. A server goes all-idle between
/// requests thousands of times a second; sleeping at once would make the
/// first worker to wake pay a `futex` wake for the monitor each time.
const IDLE_ROUNDS: u32 = 8;

/// The monitor's state in the scheduler.
pub(crate) struct Sysmon {
    /// Where the monitor sleeps between rounds, and while all are parked.
    parker: Parker,
    /// Set while the monitor sleeps because every worker is parked.
    sleeping: AtomicBool,
    /// Spare worker threads (their processors' indices), parked without a
    /// run permit.
    spares: Mutex<Vec<usize>>,
    /// Processors retaken so far (written by the monitor thread only).
    retakes: Counter,
}

/// What a spare worker thread does next.
#[must_use]
pub(crate) enum SpareWake {
    /// Sysmon handed it a run permit: it runs tasks again (searching).
    Resumed,
    /// Its keep-alive passed with no permit: the thread exits.
    Retire,
    /// Neither yet: park again.
    Wait,
}

impl Sysmon {
    /// Processors retaken so far.
    pub(crate) fn retakes(&self) -> u64 {
        self.retakes.load(Relaxed)
    }

    pub(crate) fn new() -> Self {
        Sysmon {
            parker: Parker::new(),
            sleeping: AtomicBool::new(false),
            retakes: Counter::new(0),
            spares: Mutex::new(Vec::new()),
        }
    }

    /// A worker was taken out of the parked set: wake the monitor if it
    /// sleeps because all were parked. The caller's SeqCst update of the
    /// idle counts comes first (pairs with `run`'s store then check).
    pub(crate) fn worker_unparked(&self) {
        if self.sleeping.load(SeqCst) && self.sleeping.swap(false, SeqCst) {
            self.parker.unpark();
        }
    }

    /// The runtime closed: the monitor exits.
    pub(crate) fn close(&self) {
        self.parker.unpark();
    }

    /// A worker that lost its permit waits for another as a spare.
    pub(crate) fn add_spare(&self, index: usize) {
        lock(&self.spares).push(index);
    }

    /// A spare woke (a token, or its keep-alive `expired`): whether it
    /// was handed a permit (sysmon took it off the list), retires, or
    /// waits on.
    pub(crate) fn spare_woke(&self, index: usize, expired: bool) -> SpareWake {
        let mut spares = lock(&self.spares);
        match spares.iter().position(|&i| i == index) {
            None => SpareWake::Resumed,
            Some(pos) if expired => {
                spares.swap_remove(pos);
                SpareWake::Retire
            }
            Some(_) => SpareWake::Wait,
        }
    }
}

/// The monitor thread's body.
pub(crate) fn run(scheduler: Scheduler) {
    let shared = scheduler.shared();
    let sysmon = &shared.sysmon;
    let threshold = shared.config.blocking_threshold;
    let period = (threshold / 2).max(MIN_PERIOD);
    // Per processor: the poll last seen and when it was first seen.
    let mut seen: Vec<(Option<PollSample>, Instant)> = Vec::new();
    // Rounds in a row that found every worker parked.
    let mut idle_rounds = 0u32;
    loop {
        if shared.is_closed() {
            return;
        }
        if !shared.idle.all_parked() {
            idle_rounds = 0;
        } else if idle_rounds < IDLE_ROUNDS {
            idle_rounds += 1;
        } else {
            // Go's `sysmonwait`: nothing runs, so nothing can be stuck.
            sysmon.sleeping.store(true, SeqCst);
            if shared.idle.all_parked() && !shared.is_closed() {
                sysmon.parker.park(None);
            }
            sysmon.sleeping.store(false, SeqCst);
            seen.clear();
            idle_rounds = 0;
            continue;
        }
        sysmon.parker.park(Some(period));
        let now = Instant::now();
        crate::clock::refresh(now);
        let n = shared.processors.len();
        seen.resize(n, (None, now));
        for (index, last) in seen.iter_mut().enumerate() {
            let p = shared.processors.get(index);
            let Some(sample) = p.poll.polling() else {
                last.0 = None;
                continue;
            };
            if last.0 != Some(sample) {
                *last = (Some(sample), now);
                continue;
            }
            let ran = now - last.1;
            if ran >= threshold
                && (p.has_work() || shared.idle.none_idle())
                && p.poll.try_retake(sample)
            {
                last.0 = None;
                hand_off(&scheduler, index, ran);
            }
        }
    }
}

/// Gives the permit retaken from processor `from` to a spare worker.
fn hand_off(scheduler: &Scheduler, from: usize, ran: Duration) {
    let shared = scheduler.shared();
    WorkerCounters::add(&shared.sysmon.retakes, 1);
    // The spare starts out searching, in place of the stuck worker.
    shared.idle.hand_off_permit();
    let spare = lock(&shared.sysmon.spares).pop();
    let (to, thread) = match spare {
        Some(to) => {
            shared.processors.get(to).parker.unpark();
            (to, "a parked spare")
        }
        None => match start_spare(scheduler) {
            Some(to) => (to, "a new worker thread"),
            None => return, // closed meanwhile
        },
    };
    tracing::debug!(
        target: "gort::sysmon",
        processor = from,
        to,
        thread,
        poll_ran_at_least_us = ran.as_micros() as u64,
        "retake: run permit handed off"
    );
}

/// Starts a worker thread holding a run permit, counted as searching.
/// Returns its processor's index; `None` if the runtime closed.
fn start_spare(scheduler: &Scheduler) -> Option<usize> {
    let shared = scheduler.shared();
    let max = shared.config.max_threads;
    // Counted before the closed check: a final drain cannot start while
    // this thread may still come up (it would be the last one out).
    let alive = shared.workers_alive.fetch_add(1, SeqCst);
    if shared.is_closed() {
        shared.worker_exited();
        return None;
    }
    if alive >= max {
        fatal(&format!(
            "program exceeds the {max}-thread limit (Builder::max_threads)\nfatal error: thread exhaustion"
        ));
    }
    let Some(processor) = shared.processors.acquire() else {
        fatal(&format!(
            "no processor slot for worker thread {} (max_threads {max})\nfatal error: thread exhaustion",
            alive + 1
        ));
    };
    let index = processor.index;
    if let Err(e) = worker::spawn_thread(scheduler.clone(), processor, worker::Start::Handed) {
        fatal(&format!(
            "cannot start a worker thread: {e}\nfatal error: thread exhaustion"
        ));
    }
    Some(index)
}

/// Go's `fatal`: the runtime cannot go on (a task blocked every thread it
/// may have). Prints and exits with status 2, as Go does; a panic here
/// would end only the monitor thread and leave the program stalled.
fn fatal(msg: &str) -> ! {
    eprintln!("gort: {msg}");
    std::process::exit(2)
}

impl Shared {
    /// Starts the monitor thread.
    pub(crate) fn start_sysmon(
        scheduler: &Scheduler,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let sched = scheduler.clone();
        std::thread::Builder::new()
            .name(format!("{}-sysmon", scheduler.shared().config.thread_name))
            .spawn(move || run(sched))
    }
}
