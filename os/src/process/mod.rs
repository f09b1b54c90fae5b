//! Child processes (Go's `os/exec`, tokio's `process`): [`Command`] is
//! std's builder, and the [`Child`] it spawns is waited for without
//! blocking a thread; its piped stdin, stdout and stderr are futures-io
//! streams on the reactor.
//!
//! ```
//! use gort::io::{AsyncReadExt, AsyncWriteExt};
//! use gort::process::Command;
//! use std::process::Stdio;
//!
//! # gort::block_on(async {
//! let out = Command::new("echo").arg("hello").output().await?;
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"hello\n");
//!
//! // A pipe both ways: write, close stdin, read what came back.
//! let mut cat = Command::new("cat")
//!     .stdin(Stdio::piped())
//!     .stdout(Stdio::piped())
//!     .spawn()?;
//! let mut stdin = cat.stdin.take().unwrap();
//! stdin.write_all(b"ping").await?;
//! stdin.close().await?; // cat sees end of input
//! let mut reply = String::new();
//! cat.stdout.take().unwrap().read_to_string(&mut reply).await?;
//! assert_eq!(reply, "ping");
//! assert!(cat.wait().await?.success());
//! # Ok::<_, std::io::Error>(()) }).unwrap();
//! ```
//!
//! # How a child's exit is seen
//!
//! On Linux each child gets a `pidfd` (Linux 5.3 and later), which the
//! reactor watches: it becomes readable when the child exits, and `wait`
//! then reaps it. Where there is no `pidfd`, `wait` re-checks the child
//! on every SIGCHLD (through [`gort::signal`](crate::signal)). No thread
//! waits per child.
//!
//! A [`Child`] dropped before it exited is not left a zombie: it goes on
//! running, and it is reaped in the background when it exits (as tokio
//! does). [`Command::kill_on_drop`] kills it on drop instead.

mod pipe;
mod reap;

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
use reap::ExitWatch;

/// A process builder: std's [`std::process::Command`] (the same methods,
/// taking std's [`Stdio`]), whose [`spawn`](Self::spawn),
/// [`status`](Self::status) and [`output`](Self::output) do not block the
/// calling thread.
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    stdin_set: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` when it has no
    /// `/`), with no arguments, the parent's environment and working
    /// directory, and stdin, stdout and stderr inherited for
    /// [`spawn`](Self::spawn) and [`status`](Self::status).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable for the child.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (and what `env` adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's stdin (`Stdio::piped()` gives [`Child::stdin`]).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Sets the child's stdout (`Stdio::piped()` gives [`Child::stdout`]).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// Sets the child's stderr (`Stdio::piped()` gives [`Child::stderr`]).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Whether a [`Child`] dropped before it exited is killed (SIGKILL);
    /// `false` by default: it runs on and is reaped in the background.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// std's command, for what it has that this one does not (Unix's
    /// `CommandExt`: `uid`, `process_group`, `pre_exec`, ...).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// std's command, to read back what was set.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// Starts the child. Its pipes (where `Stdio::piped()` was set) are in
    /// [`Child::stdin`], [`stdout`](Child::stdout) and
    /// [`stderr`](Child::stderr).
    ///
    /// # Errors
    ///
    /// The OS's, as std's `spawn` (`NotFound` for a missing program).
    pub fn spawn(&mut self) -> io::Result<Child> {
        let mut child = self.std.spawn()?;
        let stdin = child.stdin.take().map(ChildStdin::new).transpose();
        let stdout = child.stdout.take().map(ChildStdout::new).transpose();
        let stderr = child.stderr.take().map(ChildStderr::new).transpose();
        let exit = ExitWatch::new(&child);
        let (stdin, stdout, stderr, exit) = match (stdin, stdout, stderr, exit) {
            (Ok(i), Ok(o), Ok(e), Ok(x)) => (i, o, e, x),
            (Err(e), ..) | (_, Err(e), ..) | (.., Err(e), _) | (.., Err(e)) => {
                // Not registered: do not leave it running unseen.
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(Child {
            stdin,
            stdout,
            stderr,
            std: Some(child),
            exit: Some(exit),
            status: None,
            kill_on_drop: self.kill_on_drop,
        })
    }

    /// Runs the child to its end with stdin, stdout and stderr inherited
    /// (unless set), and returns how it exited.
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        // Inherited unless set: nothing to read. Piped ones are closed, as
        // std's `status` does.
        drop((child.stdin.take(), child.stdout.take(), child.stderr.take()));
        child.wait().await
    }

    /// Runs the child to its end with stdout and stderr captured and
    /// stdin empty (unless set), and returns its status and output.
    pub async fn output(&mut self) -> io::Result<Output> {
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        let mut child = self.spawn()?;
        drop(child.stdin.take());
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let (stdout, stderr) = pipe::read_both(stdout, stderr).await?;
        let status = child.wait().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            stdin_set: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}

/// A running (or exited) child process, from [`Command::spawn`]: std's
/// [`std::process::Child`] with an async [`wait`](Self::wait).
pub struct Child {
    /// Its stdin, if piped; dropping or closing it ends the child's input.
    pub stdin: Option<ChildStdin>,
    /// Its stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// Its stderr, if piped.
    pub stderr: Option<ChildStderr>,
    /// `None` only once given to the reaper in `drop`.
    std: Option<std::process::Child>,
    exit: Option<ExitWatch>,
    status: Option<ExitStatus>,
    kill_on_drop: bool,
}

impl Child {
    /// The OS's process id.
    pub fn id(&self) -> u32 {
        self.std_ref().id()
    }

    fn std_ref(&self) -> &std::process::Child {
        self.std
            .as_ref()
            .expect("a Child has its process until dropped")
    }

    /// Waits for the child to exit and returns how it did (it is reaped:
    /// no zombie is left). Closes its stdin first, as std's `wait` does,
    /// so a child reading it sees the end. Cancel-safe: dropping the
    /// future leaves the child as it was.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            let (std, exit) = (&mut self.std, &mut self.exit);
            let std = std.as_mut().expect("a Child has its process until dropped");
            exit.as_mut()
                .expect("a Child has its exit watch until dropped")
                .exited(std)
                .await?;
        }
    }

    /// The child's exit status if it has exited (reaping it), `None` if it
    /// is still running. Does not block.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = self
            .std
            .as_mut()
            .expect("a Child has its process until dropped")
            .try_wait()?;
        self.status = status;
        Ok(status)
    }

    /// Sends SIGKILL to the child (std's `kill`); [`wait`](Self::wait)
    /// then reaps it. `Ok` if it had already exited.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        self.std
            .as_mut()
            .expect("a Child has its process until dropped")
            .kill()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        if self.kill_on_drop {
            let _ = self.kill();
        }
        if let (Some(std), Some(exit)) = (self.std.take(), self.exit.take()) {
            reap::orphan(std, exit);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.std.as_ref().map(|c| c.id()))
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}
