//! The execution trace (Go's `go tool trace`), in the Chrome trace event
//! format that Perfetto (ui.perfetto.dev) and chrome://tracing open.
//!
//! [`start`] begins recording into per-thread buffers, [`stop`] writes
//! what is left and finishes the file; `GORT_TRACE=path` traces a whole
//! run of a program (from the first runtime built until it shuts down).
//! Recorded, per thread:
//!
//! - every poll of a task: a slice (`"ph": "X"`) named `task N`, on the
//!   track of the worker that ran it;
//! - every wake that made a task runnable, every spawn, and a task's
//!   requeue by its own wake (`yield_now`, the budget): a flow arrow
//!   (`"s"` there, `"f"` at the start of the poll it caused);
//! - steals (an instant event naming the victim), parks (a slice from
//!   park to unpark) and reactor turns on a worker (a slice `netpoll`).
//!
//! Each thread appends to its own buffer (an uncontended lock per event);
//! a full buffer of [`FLUSH_EVENTS`] events goes to a writer thread
//! (`gort-trace-writer`), which formats and writes it. While no trace
//! runs, each of these places costs one load of a flag and a branch.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Events a thread buffers before it writes them out itself.
pub const FLUSH_EVENTS: usize = 16 * 1024;

/// `true` while a trace runs: the one check on every hook.
static ON: AtomicBool = AtomicBool::new(false);
/// Which trace a thread's buffer belongs to (bumped by every start).
static SESSION: AtomicU64 = AtomicU64::new(0);
/// The running trace.
static TRACE: Mutex<Option<Trace>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Trace {
    start: Instant,
    session: u64,
    /// Every thread's buffer in this trace, to drain at `stop`.
    buffers: Vec<Arc<Buffer>>,
    /// Track ids handed out so far to threads that are not workers.
    other_threads: u64,
    /// Full buffers go to the writer thread through this.
    batches: mpsc::Sender<(u64, Vec<Event>)>,
    /// The writer thread: it formats and writes the batches, and gives
    /// the output back when the channel closes.
    writer: std::thread::JoinHandle<io::Result<Output>>,
}

/// The trace file while it is written.
struct Output {
    out: Box<dyn Write + Send>,
    /// An event was written: the next needs a comma first.
    wrote_any: bool,
}

/// One thread's events (and its track).
struct Buffer {
    /// The trace it belongs to.
    session: u64,
    tid: u64,
    name: String,
    start: Instant,
    events: Mutex<Vec<Event>>,
}

#[derive(Clone, Copy)]
enum Kind {
    /// A poll, and the end of the flow that caused it.
    Poll {
        task: u64,
        dur_ns: u64,
    },
    FlowStart {
        task: u64,
    },
    Steal {
        victim: u64,
    },
    Park {
        dur_ns: u64,
    },
    // Under loom and miri there is no reactor turn to record.
    #[cfg_attr(any(loom, miri), allow(dead_code))]
    Turn {
        dur_ns: u64,
    },
}

#[derive(Clone, Copy)]
struct Event {
    ts_ns: u64,
    kind: Kind,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// Writes `text` as a JSON string (quoted, with `"`, `\` and control
/// characters escaped).
fn write_json_str(out: &mut dyn Write, text: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    for c in text.chars() {
        match c {
            '"' => out.write_all(b"\\\"")?,
            '\\' => out.write_all(b"\\\\")?,
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
            c => write!(out, "{c}")?,
        }
    }
    out.write_all(b"\"")
}

/// Writes one Chrome trace event as a JSON object. The JSON is written
/// here rather than through serde_json: depending on serde_json adds its
/// `PartialEq<Value>` impls for the integer types to every crate that
/// depends on gort, and `assert_eq!(n, (0..k).sum())` stops compiling in
/// them (it did in this workspace's own tests).
fn write_event(out: &mut dyn Write, tid: u64, e: &Event) -> io::Result<()> {
    write!(out, "{{\"pid\":1,\"tid\":{tid},\"ts\":{:.3}", us(e.ts_ns))?;
    match e.kind {
        Kind::Poll { task, dur_ns } => write!(
            out,
            ",\"ph\":\"X\",\"name\":\"task {task}\",\"cat\":\"poll\",\"dur\":{:.3},\"args\":{{\"task_id\":{task}}}",
            us(dur_ns)
        )?,
        Kind::FlowStart { task } => write!(
            out,
            ",\"ph\":\"s\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":{task}"
        )?,
        Kind::Steal { victim } => write!(
            out,
            ",\"ph\":\"i\",\"s\":\"t\",\"name\":\"steal from worker {victim}\",\"cat\":\"scheduler\""
        )?,
        Kind::Park { dur_ns } => write!(
            out,
            ",\"ph\":\"X\",\"name\":\"park\",\"cat\":\"scheduler\",\"dur\":{:.3}",
            us(dur_ns)
        )?,
        Kind::Turn { dur_ns } => write!(
            out,
            ",\"ph\":\"X\",\"name\":\"netpoll\",\"cat\":\"scheduler\",\"dur\":{:.3}",
            us(dur_ns)
        )?,
    }
    out.write_all(b"}")
}

/// The thread-name metadata event of a track.
fn write_thread_name(out: &mut dyn Write, tid: u64, name: &str) -> io::Result<()> {
    write!(
        out,
        "{{\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"name\":\"thread_name\",\"args\":{{\"name\":"
    )?;
    write_json_str(out, name)?;
    out.write_all(b"}}")
}

impl Output {
    /// Starts the next element of the event array.
    fn separator(&mut self) -> io::Result<()> {
        if self.wrote_any {
            self.out.write_all(b",\n")?;
        }
        self.wrote_any = true;
        Ok(())
    }

    fn write_events(&mut self, tid: u64, events: &[Event]) -> io::Result<()> {
        for event in events {
            if let Kind::Poll { task, .. } = event.kind {
                // The flow that caused this poll ends here (`bp: e`: at
                // the slice that starts at this time).
                self.separator()?;
                write!(
                    self.out,
                    "{{\"pid\":1,\"tid\":{tid},\"ts\":{:.3},\"ph\":\"f\",\"bp\":\"e\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":{task}}}",
                    us(event.ts_ns)
                )?;
            }
            self.separator()?;
            write_event(&mut self.out, tid, event)?;
        }
        Ok(())
    }
}

/// The writer thread's body: formats the batches as they come.
fn write_batches(
    mut output: Output,
    batches: mpsc::Receiver<(u64, Vec<Event>)>,
) -> io::Result<Output> {
    for (tid, events) in batches {
        output.write_events(tid, &events)?;
    }
    Ok(output)
}

thread_local! {
    /// This thread's buffer in the current trace, if it recorded anything.
    static LOCAL: RefCell<Option<Arc<Buffer>>> = const { RefCell::new(None) };
    /// The track of a worker thread (its processor index), set when the
    /// worker starts.
    static WORKER_TRACK: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Marks the calling thread as worker `index`: its events go on track
/// `index`.
pub(crate) fn set_worker_track(index: usize) {
    WORKER_TRACK.set(Some(index as u64));
}

/// `true` while a trace runs.
#[inline(always)]
pub(crate) fn on() -> bool {
    ON.load(Relaxed)
}

/// This thread's buffer for the running trace (registering it), or
/// `None` if the trace stopped meanwhile.
fn buffer() -> Option<Arc<Buffer>> {
    let session = SESSION.load(Acquire);
    let current = LOCAL.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|b| b.session == session)
            .cloned()
    });
    if current.is_some() {
        return current;
    }
    let mut trace = lock(&TRACE);
    let t = trace.as_mut()?;
    let tid = WORKER_TRACK.get().unwrap_or_else(|| {
        t.other_threads += 1;
        1000 + t.other_threads
    });
    let name = std::thread::current()
        .name()
        .map_or_else(|| format!("thread {tid}"), str::to_owned);
    let buffer = Arc::new(Buffer {
        session: t.session,
        tid,
        name,
        start: t.start,
        events: Mutex::new(Vec::with_capacity(1024)),
    });
    t.buffers.push(buffer.clone());
    LOCAL.with(|l| *l.borrow_mut() = Some(buffer.clone()));
    Some(buffer)
}

/// Appends an event stamped `at` to this thread's buffer.
fn record_at(at: Instant, kind: Kind) {
    let Some(buffer) = buffer() else { return };
    let ts_ns =
        u64::try_from(at.saturating_duration_since(buffer.start).as_nanos()).unwrap_or(u64::MAX);
    let mut events = lock(&buffer.events);
    events.push(Event { ts_ns, kind });
    if events.len() >= FLUSH_EVENTS {
        let batch = std::mem::replace(&mut *events, Vec::with_capacity(FLUSH_EVENTS));
        drop(events);
        if let Some(t) = lock(&TRACE).as_ref() {
            // The writer thread formats it; a write error ends that
            // thread, and `stop` reports it.
            let _ = t.batches.send((buffer.tid, batch));
        }
    }
}

fn ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A poll of `task` that started at `start` and just returned.
#[cold]
pub(crate) fn poll(task: u64, start: Instant) {
    let dur_ns = ns(start.elapsed());
    record_at(start, Kind::Poll { task, dur_ns });
}

/// `task` was made runnable here (spawned, woken, requeued).
#[cold]
pub(crate) fn runnable(task: u64) {
    record_at(Instant::now(), Kind::FlowStart { task });
}

/// This worker stole from `victim`.
#[cold]
pub(crate) fn steal(victim: usize) {
    record_at(
        Instant::now(),
        Kind::Steal {
            victim: victim as u64,
        },
    );
}

/// This worker was parked from `start` until now.
#[cold]
pub(crate) fn park(start: Instant) {
    record_at(
        start,
        Kind::Park {
            dur_ns: ns(start.elapsed()),
        },
    );
}

/// This worker turned the reactor from `start` until now.
#[cold]
#[cfg_attr(any(loom, miri), allow(dead_code))]
pub(crate) fn turn(start: Instant) {
    record_at(
        start,
        Kind::Turn {
            dur_ns: ns(start.elapsed()),
        },
    );
}

/// Starts tracing every gort runtime of the process into `w`, in the
/// Chrome trace event format (see the module docs). Finish with [`stop`].
///
/// # Errors
///
/// `AlreadyExists` if a trace is running; the writer's error if the
/// header cannot be written.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Clone, Default)]
/// struct Shared(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Shared {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().extend_from_slice(b);
///         Ok(b.len())
///     }
///     fn flush(&mut self) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let out = Shared::default();
/// let rt = gort::runtime::Runtime::new().unwrap();
/// gort::trace::start(out.clone()).unwrap();
/// rt.block_on(async { gort::spawn(async { 1 + 1 }).await.unwrap() });
/// gort::trace::stop().unwrap();
/// let json = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
/// assert!(json.starts_with("{\"traceEvents\":["));
/// assert!(json.contains("\"ph\":\"X\""));
/// ```
pub fn start(w: impl Write + Send + 'static) -> io::Result<()> {
    let mut trace = lock(&TRACE);
    if trace.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a gort trace is already running; stop it first",
        ));
    }
    let mut out: Box<dyn Write + Send> = Box::new(w);
    out.write_all(b"{\"traceEvents\":[\n")?;
    let (batches, received) = mpsc::channel();
    let output = Output {
        out,
        wrote_any: false,
    };
    let writer = std::thread::Builder::new()
        .name("gort-trace-writer".into())
        .spawn(move || write_batches(output, received))?;
    let session = SESSION.load(Relaxed) + 1;
    SESSION.store(session, Release);
    *trace = Some(Trace {
        start: Instant::now(),
        session,
        buffers: Vec::new(),
        other_threads: 0,
        batches,
        writer,
    });
    ON.store(true, SeqCst);
    Ok(())
}

/// Stops the trace: writes every thread's remaining events and the
/// tracks' names, closes the JSON and flushes the writer.
///
/// # Errors
///
/// `NotFound` if no trace is running; the writer's error otherwise (the
/// trace is stopped either way).
pub fn stop() -> io::Result<()> {
    ON.store(false, SeqCst);
    let trace = lock(&TRACE)
        .take()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no gort trace is running"))?;
    let Trace {
        buffers,
        batches,
        writer,
        ..
    } = trace;
    for b in &buffers {
        let events = std::mem::take(&mut *lock(&b.events));
        // Fails only if the writer thread stopped on an error, which its
        // join below returns.
        let _ = batches.send((b.tid, events));
    }
    drop(batches);
    let mut output = writer
        .join()
        .map_err(|_| io::Error::other("the gort trace writer thread panicked"))??;
    let mut named = std::collections::HashSet::new();
    for b in &buffers {
        if named.insert(b.tid) {
            output.separator()?;
            write_thread_name(&mut output.out, b.tid, &b.name)?;
        }
    }
    output.out.write_all(b"\n]}\n")?;
    output.out.flush()
}

/// The trace `GORT_TRACE` asked for, started by the first runtime the
/// process builds; `true` if this call started it (that runtime stops it
/// when it shuts down).
pub(crate) fn start_from_env() -> bool {
    /// Only the first runtime of the process traces: a program that
    /// builds several would otherwise overwrite the file with each.
    static TRIED: AtomicBool = AtomicBool::new(false);
    let Some(path) = std::env::var_os("GORT_TRACE") else {
        return false;
    };
    if TRIED.swap(true, Relaxed) || ON.load(Relaxed) {
        return false;
    }
    match std::fs::File::create(&path) {
        Ok(file) => start(io::BufWriter::new(file)).is_ok(),
        Err(e) => {
            eprintln!(
                "gort: GORT_TRACE={}: {e}; not tracing",
                path.to_string_lossy()
            );
            false
        }
    }
}
