//! The goroutine dump: every live task of a runtime, what it waits on and
//! for how long (Go's SIGQUIT dump and `pprof/goroutine`).
//!
//! [`Handle::dump`](crate::runtime::Handle::dump) walks task memory (the
//! registry, `task/registry.rs`) without stopping the world and without
//! anything on the spawn path: each registered task is held by a
//! reference while its header is read, so what is shown of one task is
//! consistent, but tasks move on while others are read: a dump is not a
//! snapshot of all.

use std::fmt;
use std::panic::Location;
use std::time::Duration;

pub use gort_coop::WaitReason;

use crate::clock;
use crate::scheduler::Scheduler;
use crate::task::state::{COMPLETE, NOTIFIED, RUNNING};
use crate::task::{Header, Id};

/// What a task is doing when the dump reads it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TaskState {
    /// Woken (or new) and waiting in a queue for a worker.
    Runnable,
    /// Being polled by a worker now.
    Running,
    /// Asleep until something wakes it: see [`TaskInfo::wait_reason`].
    Parked,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Runnable => "runnable",
            TaskState::Running => "running",
            TaskState::Parked => "parked",
        })
    }
}

/// One task in a [`Dump`].
#[derive(Clone, Debug)]
pub struct TaskInfo {
    id: Id,
    location: &'static Location<'static>,
    name: Option<String>,
    state: TaskState,
    wait: Option<(WaitReason, Duration)>,
}

impl TaskInfo {
    /// The task's id (Go's goid), as [`JoinHandle::id`](crate::JoinHandle::id) gives it.
    pub fn id(&self) -> Id {
        self.id
    }

    /// Where it was spawned (the caller of `spawn`).
    pub fn spawn_location(&self) -> &'static Location<'static> {
        self.location
    }

    /// Its name, if it was spawned through
    /// [`task::Builder::name`](crate::task::Builder::name).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Runnable, running or parked.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// What a parked task waits on (`None` unless [`TaskState::Parked`]).
    pub fn wait_reason(&self) -> Option<WaitReason> {
        self.wait.map(|(reason, _)| reason)
    }

    /// How long a parked task has been asleep, to within a millisecond or
    /// so (`None` unless [`TaskState::Parked`]).
    pub fn waiting_for(&self) -> Option<Duration> {
        self.wait.map(|(_, d)| d)
    }

    /// Reads `header` (held by the registry walk); `None` for a task that
    /// completed after the walk found it.
    fn read(header: &Header) -> Option<TaskInfo> {
        let state = header.state.load();
        if state.has(COMPLETE) {
            return None;
        }
        let (state, wait) = if state.has(RUNNING) {
            (TaskState::Running, None)
        } else if state.has(NOTIFIED) {
            (TaskState::Runnable, None)
        } else {
            let (reason, since_ms) = header.wait();
            (
                TaskState::Parked,
                Some((reason, clock::elapsed_since(since_ms))),
            )
        };
        Some(TaskInfo {
            id: header.id,
            location: header.spawn_site.location(),
            name: header.spawn_site.name().map(str::to_owned),
            state,
            wait,
        })
    }
}

impl fmt::Display for TaskInfo {
    /// Go's header line and where the task was spawned:
    ///
    /// ```text
    /// goroutine 17 [chan receive, 2.3s]:
    ///     spawned at src/main.rs:12:5
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goroutine {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        match self.wait {
            Some((reason, d)) => write!(f, " [{reason}, {}]:", HumanDuration(d))?,
            None => write!(f, " [{}]:", self.state)?,
        }
        write!(f, "\n    spawned at {}", self.location)
    }
}

/// `1.5s`, `320ms`, `4m10s`: a wait's length as a person reads it.
struct HumanDuration(Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            write!(f, "{}ms", d.as_millis())
        } else if d < Duration::from_secs(60) {
            write!(f, "{:.1}s", d.as_secs_f64())
        } else {
            write!(f, "{}m{}s", d.as_secs() / 60, d.as_secs() % 60)
        }
    }
}

/// Every live task of a runtime, from
/// [`Handle::dump`](crate::runtime::Handle::dump), ordered by id.
///
/// Its `Display` is Go's goroutine dump, one block per task:
///
/// ```text
/// goroutine 17 [chan receive, 2.3s]:
///     spawned at src/main.rs:12:5
///
/// goroutine 18 "acceptor" [IO wait, 2.3s]:
///     spawned at src/main.rs:20:9
/// ```
///
/// A task is listed from its first poll on; tasks spawned from outside the
/// runtime and still queued for their first poll are counted in
/// [`not_yet_polled`](Self::not_yet_polled) instead.
#[derive(Clone, Debug)]
pub struct Dump {
    tasks: Vec<TaskInfo>,
    not_yet_polled: usize,
}

impl Dump {
    pub(crate) fn take(scheduler: &Scheduler) -> Dump {
        let shared = scheduler.shared();
        let mut tasks = Vec::new();
        crate::task::registry::visit(shared.runtime_id(), |header| {
            tasks.extend(TaskInfo::read(header))
        });
        tasks.sort_by_key(|t| t.id);
        // Live tasks the walk did not meet: not registered yet. The count
        // is read after the walk, so tasks spawned meanwhile count here.
        let not_yet_polled = scheduler.num_goroutines().saturating_sub(tasks.len());
        Dump {
            tasks,
            not_yet_polled,
        }
    }

    /// The tasks, ordered by id.
    pub fn iter(&self) -> std::slice::Iter<'_, TaskInfo> {
        self.tasks.iter()
    }

    /// Tasks listed.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// `true` if no task is listed.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Live tasks not listed because no worker had polled them yet when
    /// the dump walked the registry (an estimate from the runtime's
    /// counters, which move while the dump is taken).
    pub fn not_yet_polled(&self) -> usize {
        self.not_yet_polled
    }
}

impl<'a> IntoIterator for &'a Dump {
    type Item = &'a TaskInfo;
    type IntoIter = std::slice::Iter<'a, TaskInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.tasks.iter()
    }
}

impl IntoIterator for Dump {
    type Item = TaskInfo;
    type IntoIter = std::vec::IntoIter<TaskInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.tasks.into_iter()
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, task) in self.tasks.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{task}")?;
        }
        if self.not_yet_polled > 0 {
            if !self.tasks.is_empty() {
                f.write_str("\n\n")?;
            }
            write!(f, "(and {} goroutines not yet polled)", self.not_yet_polled)?;
        }
        Ok(())
    }
}
