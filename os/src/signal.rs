//! Unix signals delivered into channels (Go's `os/signal`):
//! [`notify`] returns a [`Receiver`] that gets every listed signal the
//! process receives; [`ctrl_c`] waits for one SIGINT.
//!
//! ```no_run
//! use gort::signal::{self, Signal};
//!
//! #[gort::main]
//! async fn main() -> std::io::Result<()> {
//!     let signals = signal::notify(&[Signal::Interrupt, Signal::Terminate])?;
//!     // ... start the server ...
//!     let sig = signals.recv().await.expect("the sender lives as long as the process");
//!     println!("got {sig:?}: shutting down");
//!     Ok(())
//! }
//! ```
//!
//! # Delivery
//!
//! The handler installed for a signal (by the `signal-hook` crate) sets a
//! flag and writes a byte to a socket the reactor watches; the reactor's
//! driving thread then sends the signal to every subscriber of it with a
//! non-blocking send. Each receiver buffers [`BUFFER`] signals: a signal
//! that finds its receiver full is dropped for that receiver, as Go's
//! `signal.Notify` drops a signal when the channel it was given cannot
//! take it. The kernel also merges a signal that arrives while the same
//! one is still pending, so a burst of one signal may be seen once.
//!
//! Once a signal has been subscribed to, its default action (SIGINT and
//! SIGTERM end the process) no longer happens for the rest of the process,
//! also after the receivers are dropped (as tokio's `signal`); a dropped
//! receiver only stops getting signals. Signals that report a fault in the
//! program itself (SIGSEGV, SIGBUS, SIGILL, SIGFPE) and those no process
//! can catch (SIGKILL, SIGSTOP) are refused with `InvalidInput`.
//!
//! Delivery works under any executor: inside a gort runtime an idle
//! worker drives the reactor, elsewhere the `gort-netpoll` thread does.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use gort_channel::{Receiver, Sender, TrySendError};
use gort_reactor::__netpoll::Watch;

/// Signals each receiver of [`notify`] buffers before it drops new ones.
pub const BUFFER: usize = 32;

/// A Unix signal.
///
/// ```
/// use gort::signal::Signal;
/// assert_eq!(Signal::Interrupt.number(), 2);
/// assert_eq!(Signal::from_number(15), Signal::Terminate);
/// assert_eq!(Signal::from_number(34), Signal::Other(34));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// SIGINT: Ctrl-C at the terminal.
    Interrupt,
    /// SIGTERM: a polite request to stop (`kill`, systemd, Kubernetes).
    Terminate,
    /// SIGHUP: the terminal hung up; daemons take it as "reload".
    Hangup,
    /// SIGQUIT: Ctrl-\ at the terminal.
    Quit,
    /// SIGUSR1.
    User1,
    /// SIGUSR2.
    User2,
    /// SIGCHLD: a child process stopped or exited.
    Child,
    /// SIGWINCH: the terminal's size changed.
    WindowChange,
    /// Any other signal, by number.
    Other(i32),
}

impl Signal {
    const NAMED: [(Signal, i32); 8] = [
        (Signal::Interrupt, signal_hook::consts::SIGINT),
        (Signal::Terminate, signal_hook::consts::SIGTERM),
        (Signal::Hangup, signal_hook::consts::SIGHUP),
        (Signal::Quit, signal_hook::consts::SIGQUIT),
        (Signal::User1, signal_hook::consts::SIGUSR1),
        (Signal::User2, signal_hook::consts::SIGUSR2),
        (Signal::Child, signal_hook::consts::SIGCHLD),
        (Signal::WindowChange, signal_hook::consts::SIGWINCH),
    ];

    /// The signal's number on this platform.
    pub fn number(self) -> i32 {
        match self {
            Signal::Other(n) => n,
            named => Self::NAMED
                .iter()
                .find(|(s, _)| *s == named)
                .map(|(_, n)| *n)
                .expect("every named signal has a number"),
        }
    }

    /// The signal numbered `n` (a named variant where there is one).
    pub fn from_number(n: i32) -> Signal {
        Self::NAMED
            .iter()
            .find(|(_, m)| *m == n)
            .map(|(s, _)| *s)
            .unwrap_or(Signal::Other(n))
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.number();
        match signal_hook::low_level::signal_name(n) {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "signal {n}"),
        }
    }
}

/// Signals that are refused: faults of the program itself, which return
/// to the faulting instruction if caught, and those no process can catch.
const REFUSED: [i32; 6] = [
    signal_hook::consts::SIGKILL,
    signal_hook::consts::SIGSTOP,
    signal_hook::consts::SIGSEGV,
    signal_hook::consts::SIGBUS,
    signal_hook::consts::SIGILL,
    signal_hook::consts::SIGFPE,
];

/// One receiver of [`notify`] and the signals it asked for.
struct Subscriber {
    signals: Vec<i32>,
    tx: Sender<Signal>,
}

/// A signal number and the function its delivery runs.
type Hook = (i32, fn());

/// The process's signal state: the socket pair the handlers write to, the
/// flag of each installed signal, and the subscribers.
struct Hub {
    /// Handlers write one byte here (signal-hook's `pipe` action).
    write: UnixStream,
    /// The reactor watches this end.
    read: UnixStream,
    /// Set by the handler of each installed signal.
    pending: Mutex<HashMap<i32, Arc<AtomicBool>>>,
    subscribers: Mutex<Vec<Subscriber>>,
    /// Functions run on delivery of a signal (gort's own: reaping dropped
    /// children on SIGCHLD).
    hooks: Mutex<Vec<Hook>>,
    /// The reactor's watch on `read` (kept for the life of the process).
    watch: OnceLock<Watch>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics halfway through an update under these locks.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

static HUB: Mutex<Option<&'static Hub>> = Mutex::new(None);

/// The hub, created (with its socket pair and the reactor's watch) on
/// first use.
fn hub() -> io::Result<&'static Hub> {
    let mut slot = lock(&HUB);
    if let Some(hub) = *slot {
        return Ok(hub);
    }
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    let hub: &'static Hub = Box::leak(Box::new(Hub {
        write,
        read,
        pending: Mutex::new(HashMap::new()),
        subscribers: Mutex::new(Vec::new()),
        hooks: Mutex::new(Vec::new()),
        watch: OnceLock::new(),
    }));
    let watch = Watch::readable(hub.read.as_raw_fd(), move || hub.deliver())?;
    let _ = hub.watch.set(watch);
    *slot = Some(hub);
    Ok(hub)
}

impl Hub {
    /// Installs the handler of `sig` once.
    fn install(&self, sig: i32) -> io::Result<()> {
        if REFUSED.contains(&sig) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} cannot be caught: it is a fault of the program itself or a signal no process can handle",
                    Signal::from_number(sig)
                ),
            ));
        }
        let mut pending = lock(&self.pending);
        if pending.contains_key(&sig) {
            return Ok(());
        }
        let flag = Arc::new(AtomicBool::new(false));
        let invalid = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot catch {}: {e}", Signal::from_number(sig)),
            )
        };
        // The flag first: the handler's actions run in this order, so the
        // byte that wakes the reactor comes after the flag is set.
        signal_hook::flag::register(sig, flag.clone()).map_err(invalid)?;
        signal_hook::low_level::pipe::register(sig, self.write.try_clone()?).map_err(invalid)?;
        pending.insert(sig, flag);
        Ok(())
    }

    /// The reactor's driving thread, after the socket became readable:
    /// empties it, then sends each signal whose flag was set to its
    /// subscribers (dropping it for a full one, forgetting closed ones).
    fn deliver(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.read).read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        // A signal that arrives from here on writes a new byte: the next
        // event delivers it.
        let raised: Vec<i32> = lock(&self.pending)
            .iter()
            .filter(|(_, flag)| flag.swap(false, Ordering::AcqRel))
            .map(|(sig, _)| *sig)
            .collect();
        if raised.is_empty() {
            return;
        }
        let hooks: Vec<fn()> = lock(&self.hooks)
            .iter()
            .filter(|(sig, _)| raised.contains(sig))
            .map(|(_, f)| *f)
            .collect();
        hooks.into_iter().for_each(|f| f());
        lock(&self.subscribers).retain(|s| {
            raised
                .iter()
                .filter(|sig| s.signals.contains(sig))
                .all(|sig| match s.tx.try_send(Signal::from_number(*sig)) {
                    Ok(()) | Err(TrySendError::Full(_)) => true,
                    Err(TrySendError::Closed(_)) => false,
                })
        });
    }
}

/// Subscribes to `signals`: the returned receiver gets each of them the
/// process receives from now on (Go's `signal.Notify`). Several
/// subscribers each get every signal they asked for. See the
/// [module docs](self) for what happens to a signal a full receiver
/// cannot take.
///
/// # Errors
///
/// `InvalidInput` for a signal that cannot be caught (SIGKILL, SIGSTOP,
/// SIGSEGV, SIGBUS, SIGILL, SIGFPE) or that this platform does not have;
/// the OS's error if the socket pair for delivery cannot be made.
///
/// ```
/// use gort::signal::{self, Signal};
///
/// let err = signal::notify(&[Signal::Other(9)]).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(err.to_string().contains("SIGKILL"), "{err}");
/// ```
pub fn notify(signals: &[Signal]) -> io::Result<Receiver<Signal>> {
    let hub = hub()?;
    let numbers: Vec<i32> = signals.iter().map(|s| s.number()).collect();
    for &sig in &numbers {
        hub.install(sig)?;
    }
    let (tx, rx) = gort_channel::bounded(BUFFER);
    lock(&hub.subscribers).push(Subscriber {
        signals: numbers,
        tx,
    });
    Ok(rx)
}

/// Runs `hook` on the reactor's driving thread each time `sig` arrives.
pub(crate) fn on_signal(sig: Signal, hook: fn()) -> io::Result<()> {
    let hub = hub()?;
    hub.install(sig.number())?;
    lock(&hub.hooks).push((sig.number(), hook));
    Ok(())
}

/// Completes when the process receives SIGINT (Ctrl-C). Subscribes when
/// called, so a SIGINT that arrives before the first poll counts.
///
/// ```no_run
/// #[gort::main]
/// async fn main() -> std::io::Result<()> {
///     gort::signal::ctrl_c().await?;
///     println!("interrupted");
///     Ok(())
/// }
/// ```
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + 'static {
    let rx = notify(&[Signal::Interrupt]);
    async move {
        rx?.recv()
            .await
            .map(|_| ())
            .map_err(|_| io::Error::other("the signal hub stopped"))
    }
}
