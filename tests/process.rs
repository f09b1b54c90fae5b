//! `gort::process` on a 2-worker gort runtime (Linux):
//!
//! - `echo`'s output and exit status; exit codes 0, 3 and 255;
//! - `cat` with 16 MiB piped through stdin and back from stdout, every
//!   byte checked (the writer and the reader run at once: a pipe holds
//!   64 KiB);
//! - stderr captured apart from stdout;
//! - `kill` ends a `sleep`, and `wait` reports the SIGKILL;
//! - a missing program is the OS's `NotFound`;
//! - 200 children at once, all waited for; no zombie child of this
//!   process is left in /proc;
//! - a `Child` dropped while it runs is reaped in the background once it
//!   exits (no zombie), and `kill_on_drop` kills it;
//! - a pipeline: one child's stdout as the next one's stdin.

use std::collections::HashSet;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use gort::io::{AsyncReadExt, AsyncWriteExt};
use gort::process::Command;

mod reactor_common;
use reactor_common::{on_gort, Rng};

/// Pids of this process's children that are zombies (state `Z`).
fn zombie_children() -> HashSet<u32> {
    let me = std::process::id();
    let mut zombies = HashSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parens.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let mut fields = after.split(' ');
        let state = fields.next().unwrap();
        let ppid: u32 = fields.next().unwrap().parse().unwrap();
        if ppid == me && state == "Z" {
            zombies.insert(pid);
        }
    }
    zombies
}

/// Waits (up to 10 s) until none of `pids` is in /proc any more: each
/// exited and was reaped (a zombie stays listed until it is reaped).
async fn gone(pids: &HashSet<u32>) {
    let start = Instant::now();
    loop {
        let left: Vec<_> = pids
            .iter()
            .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still there (running or unreaped): {left:?}"
        );
        gort::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn echo_output_and_exit_codes() {
    on_gort("process_echo", || async {
        let out = Command::new("echo")
            .args(["hello", "gort"])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"hello gort\n");
        assert!(out.stderr.is_empty());
        for code in [0, 3, 255] {
            let status = Command::new("sh")
                .args(["-c", &format!("exit {code}")])
                .status()
                .await
                .unwrap();
            assert_eq!(status.code(), Some(code));
        }
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 1"])
            .output()
            .await
            .unwrap();
        assert_eq!(
            (out.stdout.as_slice(), out.stderr.as_slice()),
            (&b"out\n"[..], &b"err\n"[..])
        );
        assert_eq!(out.status.code(), Some(1));
    });
}

#[test]
fn cat_pipes_16_mib_both_ways() {
    on_gort("process_cat", || async {
        let mut data = vec![0u8; 16 << 20];
        Rng::new(16).fill(&mut data);
        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = cat.stdin.take().unwrap();
        let mut stdout = cat.stdout.take().unwrap();
        let sent = data.clone();
        let writer = gort::spawn(async move {
            stdin.write_all(&sent).await.unwrap();
            stdin.close().await.unwrap();
        });
        let mut got = Vec::with_capacity(data.len());
        stdout.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert!(cat.wait().await.unwrap().success());
        assert_eq!(got.len(), data.len());
        assert!(got == data, "cat gave back other bytes");
    });
}

#[test]
fn kill_ends_a_child_and_wait_reports_the_signal() {
    on_gort("process_kill", || async {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        assert_eq!(child.try_wait().unwrap(), None, "sleep 30 is running");
        child.kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(9));
        // Killing an exited child is Ok, as std's.
        child.kill().unwrap();
        assert_eq!(child.wait().await.unwrap(), status);
    });
}

#[test]
fn a_missing_program_is_not_found() {
    on_gort("process_not_found", || async {
        let err = Command::new("/nonexistent/gort-no-such-program")
            .spawn()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    });
}

#[test]
fn two_hundred_children_at_once_are_all_reaped() {
    on_gort("process_200", || async {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                gort::spawn(async move {
                    let mut child = Command::new("sh")
                        .args(["-c", &format!("exit {}", i % 7)])
                        .spawn()
                        .unwrap();
                    let pid = child.id();
                    let status = child.wait().await.unwrap();
                    assert_eq!(status.code(), Some(i % 7));
                    pid
                })
            })
            .collect();
        let mut pids = HashSet::new();
        for t in tasks {
            pids.insert(t.await.unwrap());
        }
        assert_eq!(pids.len(), 200);
        let zombies: Vec<_> = zombie_children().intersection(&pids).copied().collect();
        assert!(
            zombies.is_empty(),
            "waited-for children left zombies: {zombies:?}"
        );
    });
}

#[test]
fn dropped_children_are_reaped_or_killed() {
    on_gort("process_dropped", || async {
        // Dropped while running: reaped in the background when it exits.
        let mut pids = HashSet::new();
        for _ in 0..20 {
            let child = Command::new("sleep").arg("0.05").spawn().unwrap();
            pids.insert(child.id());
        }
        gone(&pids).await;
        // kill_on_drop: a 30 s sleep is killed, then reaped.
        let child = Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id();
        drop(child);
        gone(&HashSet::from([pid])).await;
    });
}

#[test]
fn a_pipeline_connects_two_children() {
    on_gort("process_pipeline", || async {
        let mut producer = Command::new("printf")
            .arg("b\\na\\nc\\n")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdio = producer.stdout.take().unwrap().into_stdio().unwrap();
        let out = Command::new("sort").stdin(stdio).output().await.unwrap();
        assert!(producer.wait().await.unwrap().success());
        assert_eq!(out.stdout, b"a\nb\nc\n");
    });
}
