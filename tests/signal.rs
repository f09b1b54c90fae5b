//! `gort::signal` (alone in its test binary: signals are process-wide).
//!
//! - two subscribers of SIGUSR1 and SIGHUP: the process sends itself each
//!   signal (with `kill`, another process) and each subscriber sees each
//!   signal exactly once;
//! - a subscriber of SIGUSR2 only sees no SIGUSR1;
//! - `ctrl_c()` completes on SIGINT, and SIGINT no longer ends the process;
//! - a dropped receiver is forgotten, the others still get signals;
//! - delivery without a gort runtime (under `futures::executor`);
//! - signals that cannot be caught are `InvalidInput`, naming the signal.
//!
//! The tests run one after another (one lock): each sends real signals.

use std::io;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use gort::chan::Receiver;
use gort::signal::{self, Signal};
use gort::time::timeout;

mod reactor_common;
use reactor_common::on_gort;

static SERIAL: Mutex<()> = Mutex::new(());

/// Sends `sig` to this process from another process.
fn kill(sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(std::process::id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// The next signal on `rx`, waiting at most 10 s (the watchdog's bound).
async fn next(rx: &Receiver<Signal>) -> Signal {
    timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no signal within 10 s")
        .expect("open")
}

/// Nothing more arrives on `rx` within 50 ms.
async fn nothing_more(rx: &Receiver<Signal>) {
    let r = timeout(Duration::from_millis(50), rx.recv()).await;
    assert!(r.is_err(), "unexpected {r:?}");
}

#[test]
fn each_subscriber_sees_each_signal_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    on_gort("signal_subscribers", || async {
        let a = signal::notify(&[Signal::User1, Signal::Hangup]).unwrap();
        let b = signal::notify(&[Signal::User1, Signal::Hangup]).unwrap();
        let only_usr2 = signal::notify(&[Signal::User2]).unwrap();
        kill("USR1");
        assert_eq!(next(&a).await, Signal::User1);
        assert_eq!(next(&b).await, Signal::User1);
        kill("HUP");
        assert_eq!(next(&a).await, Signal::Hangup);
        assert_eq!(next(&b).await, Signal::Hangup);
        nothing_more(&a).await;
        nothing_more(&b).await;
        nothing_more(&only_usr2).await;
        // A dropped receiver is forgotten; the others still get signals.
        drop(a);
        kill("USR2");
        assert_eq!(next(&only_usr2).await, Signal::User2);
        kill("USR1");
        assert_eq!(next(&b).await, Signal::User1);
        nothing_more(&b).await;
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    on_gort("signal_ctrl_c", || async {
        let ctrl_c = gort::spawn(signal::ctrl_c());
        // ctrl_c() subscribed when it was called: the signal may come
        // before the task runs.
        kill("INT");
        timeout(Duration::from_secs(10), ctrl_c)
            .await
            .expect("ctrl_c() did not complete")
            .unwrap()
            .unwrap();
        // The process is still here: SIGINT's default action is gone.
    });
}

#[test]
fn signals_arrive_without_a_gort_runtime() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rx = signal::notify(&[Signal::WindowChange]).unwrap();
    kill("WINCH");
    let sig = futures::executor::block_on(rx.recv()).unwrap();
    assert_eq!(sig, Signal::WindowChange);
}

#[test]
fn signals_that_cannot_be_caught_are_refused() {
    for (sig, name) in [
        (9, "SIGKILL"),
        (19, "SIGSTOP"),
        (11, "SIGSEGV"),
        (7, "SIGBUS"),
    ] {
        let err = signal::notify(&[Signal::Other(sig)]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let err = signal::notify(&[Signal::Other(1000)]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert_eq!(Signal::User1.to_string(), "SIGUSR1");
}
