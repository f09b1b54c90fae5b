//! The execution trace (issue 12): the trace of a small program parses as
//! JSON, has one track per worker, a slice for every poll and a flow from
//! each wake to the poll it caused; `GORT_TRACE=path` traces a whole run.
//!
//! Its own test binary: a trace records every runtime of the process, so
//! no other test may run beside these (they run one after the other
//! behind `SERIAL`).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::watchdog;

static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks a parsed trace; returns (poll slices, worker tracks seen).
fn check(trace: &Value, worker_prefix: &str) -> (usize, HashSet<u64>) {
    let events = trace["traceEvents"]
        .as_array()
        .expect("a traceEvents array");
    let mut names = BTreeMap::new();
    for e in events.iter().filter(|e| e["ph"] == "M") {
        names.insert(
            e["tid"].as_u64().unwrap(),
            e["args"]["name"].as_str().unwrap().to_owned(),
        );
    }
    let mut polls = 0;
    let mut worker_tracks = HashSet::new();
    // Per task: its flow events and poll starts, by time.
    let mut flows: BTreeMap<u64, Vec<(f64, char)>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["ph"] != "M") {
        let tid = e["tid"].as_u64().unwrap();
        let ts = e["ts"].as_f64().unwrap();
        match e["ph"].as_str().unwrap() {
            "X" if e["cat"] == "poll" => {
                polls += 1;
                let name = &names[&tid];
                if name.starts_with(worker_prefix) {
                    // A worker's track is its processor index.
                    assert_eq!(name, &format!("{worker_prefix}{tid}"));
                    worker_tracks.insert(tid);
                }
                let task = e["args"]["task_id"].as_u64().unwrap();
                assert_eq!(e["name"], format!("task {task}"));
                assert!(e["dur"].as_f64().unwrap() >= 0.0);
                flows.entry(task).or_default().push((ts, 'p'));
            }
            "s" => flows
                .entry(e["id"].as_u64().unwrap())
                .or_default()
                .push((ts, 's')),
            "f" => {
                assert_eq!(e["bp"], "e");
                flows
                    .entry(e["id"].as_u64().unwrap())
                    .or_default()
                    .push((ts, 'f'));
            }
            _ => {}
        }
    }
    for (task, mut seq) in flows {
        // At equal times a flow's start sorts before its end, and the end
        // before the poll slice it binds to.
        seq.sort_by(|a, b| a.0.total_cmp(&b.0).then(rank(a.1).cmp(&rank(b.1))));
        let kinds: String = seq.iter().map(|x| x.1).collect();
        // Every poll is caused by one wake (or the spawn): s f p, repeated.
        assert!(
            kinds.len().is_multiple_of(3) && kinds.as_bytes().chunks(3).all(|c| c == b"sfp"),
            "task {task}: flow/poll sequence {kinds}"
        );
    }
    (polls, worker_tracks)
}

fn rank(k: char) -> u8 {
    match k {
        's' => 0,
        'f' => 1,
        _ => 2,
    }
}

#[test]
fn a_traced_program_has_a_slice_per_poll_a_track_per_worker_and_a_flow_per_wake() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watchdog("trace", || {
        let rt = gort::runtime::Builder::new()
            .worker_threads(2)
            .thread_name("traced")
            .build()
            .unwrap();
        let m = rt.handle().metrics();
        let polls_before: Vec<u64> = (0..2).map(|i| m.worker_poll_count(i)).collect();
        let sink = Sink::default();
        gort::trace::start(sink.clone()).unwrap();
        assert!(
            gort::trace::start(Sink::default()).is_err(),
            "a second trace started"
        );
        let total = rt.block_on(rt.spawn(async {
            // A relay chain over unbuffered channels: every hop a wake.
            let (first_tx, mut rx) = gort::chan::bounded::<u64>(0);
            let mut relays = Vec::new();
            for _ in 0..8 {
                let (tx, next_rx) = gort::chan::bounded::<u64>(0);
                relays.push(gort::spawn(async move {
                    while let Ok(v) = rx.recv().await {
                        tx.send(v + 1).await.unwrap();
                    }
                }));
                rx = next_rx;
            }
            let mut total = 0;
            for i in 0..100u64 {
                first_tx.send(i).await.unwrap();
                total += rx.recv().await.unwrap();
                if i % 10 == 0 {
                    gort::yield_now().await;
                }
            }
            drop(first_tx);
            for r in relays {
                r.await.unwrap();
            }
            gort::spawn_blocking(|| 1).await.unwrap() + total
        }));
        assert_eq!(total.unwrap(), 1 + (0..100u64).map(|i| i + 8).sum::<u64>());
        // Every worker parks while main sleeps, then one wakes for a task.
        rt.block_on(async {
            gort::time::sleep(Duration::from_millis(20)).await;
            gort::spawn(async {}).await.unwrap();
        });
        gort::trace::stop().unwrap();
        assert!(gort::trace::stop().is_err(), "stopped twice");
        assert_eq!(m.num_processors(), 2, "sysmon started a thread");
        let ran: Vec<u64> = (0..2)
            .map(|i| m.worker_poll_count(i) - polls_before[i])
            .collect();
        let bytes = sink.0.lock().unwrap().clone();
        let trace: Value = serde_json::from_slice(&bytes).expect("the trace is JSON");
        let (slices, tracks) = check(&trace, "traced-worker-");
        // Worker polls plus the one blocking task's poll on its thread.
        assert_eq!(slices as u64, ran.iter().sum::<u64>() + 1);
        // A track for each worker that ran a task, its processor's index.
        let ran_on: HashSet<u64> = (0..2u64).filter(|&i| ran[i as usize] > 0).collect();
        assert_eq!(tracks, ran_on, "a track per worker");
        let events = trace["traceEvents"].as_array().unwrap();
        assert!(events.iter().any(|e| e["name"] == "park"));
    });
}

/// Run as a child process by the test below, with `GORT_TRACE` set.
#[test]
fn child_traced_by_env() {
    if std::env::var_os("GORT_TRACE").is_none() {
        return;
    }
    let rt = gort::runtime::Builder::new()
        .worker_threads(2)
        .thread_name("envtrace")
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..10u64 {
            assert_eq!(gort::spawn(async move { i }).await.unwrap(), i);
        }
        gort::time::sleep(Duration::from_millis(5)).await;
    });
    drop(rt); // the runtime that started the trace finishes it
}

#[test]
fn gort_trace_traces_a_whole_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watchdog("trace-env", || {
        let path = std::env::temp_dir().join(format!("gort-trace-{}.json", std::process::id()));
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_traced_by_env", "--test-threads", "1"])
            .env("GORT_TRACE", &path)
            .status()
            .unwrap();
        assert!(status.success());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let trace: Value = serde_json::from_slice(&bytes).expect("the trace is JSON");
        let (slices, tracks) = check(&trace, "envtrace-worker-");
        assert!(slices >= 10, "{slices} poll slices");
        assert!(!tracks.is_empty());
    });
}
