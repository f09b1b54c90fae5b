//! How a child's exit is seen ([`ExitWatch`]: a pidfd on Linux, SIGCHLD
//! elsewhere), and the reaping of children whose [`Child`](super::Child)
//! was dropped while they ran.

use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd};
use std::process::Child;
use std::sync::{Mutex, MutexGuard, Once};

use gort_channel::Receiver;
use gort_reactor::__netpoll::Watch;
use gort_reactor::unix::{AsyncFd, Interest};

use crate::signal::{self, Signal};

/// What tells a waiting task that its child may have exited.
pub(crate) enum ExitWatch {
    /// Readable once the child exited (Linux 5.3 and later).
    Pidfd(AsyncFd<OwnedFd>),
    /// The process's SIGCHLDs, subscribed to at spawn.
    Sigchld(Receiver<Signal>),
}

impl ExitWatch {
    pub(crate) fn new(child: &Child) -> io::Result<ExitWatch> {
        if let Some(fd) = pidfd(child)? {
            return Ok(ExitWatch::Pidfd(AsyncFd::with_interest(
                fd,
                Interest::READABLE,
            )?));
        }
        Ok(ExitWatch::Sigchld(signal::notify(&[Signal::Child])?))
    }

    /// Waits until `child` may have exited (the caller then tries to reap
    /// it).
    pub(crate) async fn exited(&mut self, child: &mut Child) -> io::Result<()> {
        match self {
            ExitWatch::Pidfd(fd) => {
                let mut ready = fd.readable().await?;
                if child.try_wait()?.is_none() {
                    // Not exited after all: wait for the next event.
                    ready.clear_ready();
                }
                Ok(())
            }
            ExitWatch::Sigchld(rx) => rx
                .recv()
                .await
                .map(|_| ())
                .map_err(|_| io::Error::other("the signal hub stopped")),
        }
    }
}

/// A pidfd for `child`; `None` where the kernel has none.
#[cfg(target_os = "linux")]
fn pidfd(child: &Child) -> io::Result<Option<OwnedFd>> {
    use rustix::process::{pidfd_open, Pid, PidfdFlags};
    match pidfd_open(Pid::from_child(child), PidfdFlags::empty()) {
        Ok(fd) => Ok(Some(fd)),
        // Before Linux 5.3, or a seccomp filter that refuses it.
        Err(e) if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn pidfd(_child: &Child) -> io::Result<Option<OwnedFd>> {
    Ok(None)
}

/// A child dropped while it ran, until it exits.
struct Orphan {
    child: Child,
    // Dropped before `_pidfd`: the registration ends while the
    // descriptor is open.
    _watch: Option<Watch>,
    _pidfd: Option<OwnedFd>,
}

static ORPHANS: Mutex<Vec<Orphan>> = Mutex::new(Vec::new());

fn orphans() -> MutexGuard<'static, Vec<Orphan>> {
    // Nothing panics halfway through an update under this lock.
    ORPHANS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes over a child whose `Child` is dropped: it is reaped when it
/// exits (its pidfd's event, or a SIGCHLD).
pub(crate) fn orphan(mut child: Child, exit: ExitWatch) {
    if !matches!(child.try_wait(), Ok(None)) {
        return; // exited (now reaped), or not ours to wait for
    }
    let orphan = match exit {
        ExitWatch::Pidfd(fd) => {
            let fd = fd.into_inner();
            match Watch::readable(fd.as_raw_fd(), reap) {
                Ok(watch) => Orphan {
                    child,
                    _watch: Some(watch),
                    _pidfd: Some(fd),
                },
                Err(_) => {
                    reap_on_sigchld();
                    Orphan {
                        child,
                        _watch: None,
                        _pidfd: None,
                    }
                }
            }
        }
        ExitWatch::Sigchld(_) => {
            reap_on_sigchld();
            Orphan {
                child,
                _watch: None,
                _pidfd: None,
            }
        }
    };
    orphans().push(orphan);
    // It may have exited before its watch was in place.
    reap();
}

/// Reaps every orphan that exited (on the reactor's driving thread, or
/// the signal hub's delivery).
fn reap() {
    orphans().retain_mut(|o| matches!(o.child.try_wait(), Ok(None)));
}

/// Makes every SIGCHLD reap the orphans (once; where there is no pidfd).
fn reap_on_sigchld() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        if let Err(e) = signal::on_signal(Signal::Child, reap) {
            tracing::warn!(target: "gort::process", "cannot reap dropped children on SIGCHLD: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIGCHLD path (where there is no pidfd): a waiting task sees
    /// its child's exit, and a dropped child is reaped.
    #[test]
    fn sigchld_sees_exits_and_reaps_orphans() {
        futures::executor::block_on(async {
            let mut child = std::process::Command::new("sh")
                .args(["-c", "exit 4"])
                .spawn()
                .unwrap();
            let mut exit = ExitWatch::Sigchld(signal::notify(&[Signal::Child]).unwrap());
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                exit.exited(&mut child).await.unwrap();
            };
            assert_eq!(status.code(), Some(4));

            let sleeper = std::process::Command::new("sleep")
                .arg("0.05")
                .spawn()
                .unwrap();
            let pid = sleeper.id();
            let exit = ExitWatch::Sigchld(signal::notify(&[Signal::Child]).unwrap());
            orphan(sleeper, exit);
            let start = std::time::Instant::now();
            while std::path::Path::new(&format!("/proc/{pid}")).exists() {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(10),
                    "the dropped child was not reaped"
                );
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
    }
}
