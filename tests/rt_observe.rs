//! Seeing inside the runtime (issue 12): the goroutine dump lists every
//! live task once, with its wait reason, name and spawn site; a dump taken
//! while 100,000 tasks come and go neither crashes nor blocks the
//! spawners; `RuntimeMetrics` adds up and moves.
//!
//! Every body runs under the 120 s watchdog (a hang detector).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::runtime::{Dump, Handle, TaskState, WaitReason};
use gort::task::Id;

mod common;
use common::{runtime, watchdog};

async fn sleep_an_hour() {
    gort::time::sleep(Duration::from_secs(3600)).await
}

/// Takes dumps until `done` holds for one (each task gets there by itself).
fn dump_until(handle: &Handle, done: impl Fn(&Dump) -> bool) -> Dump {
    loop {
        let dump = handle.dump();
        if done(&dump) {
            return dump;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_dump_lists_every_task_once_with_its_wait_reason_name_and_spawn_site() {
    watchdog("dump-reasons", || {
        let rt = runtime(2, "dump-reasons");
        let handle = rt.handle().clone();
        let mut expect: HashMap<Id, (WaitReason, u32)> = HashMap::new();
        let listener = rt
            .block_on(gort::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let (recv_tx, recv_rx) = gort::chan::bounded::<u32>(0);
        let (send_tx, send_rx) = gort::chan::bounded::<u32>(0);
        let (sel_tx, sel_rx) = gort::chan::bounded::<u32>(1);
        let mutex = Arc::new(gort::sync::Mutex::new(0u32));
        let guard = rt.block_on(mutex.lock());
        let (block_tx, block_rx) = std::sync::mpsc::channel::<()>();
        let (forever_tx, forever_rx) = gort::chan::bounded::<()>(0);
        let _enter = rt.enter();

        let line = line!() + 1;
        let h = gort::spawn(async move { recv_rx.recv().await.ok() });
        expect.insert(h.id(), (WaitReason::ChanReceive, line));
        let mut handles = vec![h];
        let line = line!() + 1;
        let h = gort::spawn(async move { send_tx.send(1).await.ok().map(|_| 0) });
        expect.insert(h.id(), (WaitReason::ChanSend, line));
        handles.push(h);
        let line = line!() + 1;
        let h = gort::spawn(async move {
            gort::select! {
                v = sel_rx.recv() => v.ok(),
                _ = gort::time::sleep(Duration::from_secs(3600)) => None,
            }
        });
        expect.insert(h.id(), (WaitReason::Select, line));
        handles.push(h);
        let line = line!() + 1;
        let h = gort::spawn(async {
            gort::time::sleep(Duration::from_secs(3600)).await;
            None
        });
        expect.insert(h.id(), (WaitReason::Sleep, line));
        handles.push(h);
        let line = line!() + 1;
        let h = gort::spawn(async move { listener.accept().await.ok().map(|_| 0) });
        expect.insert(h.id(), (WaitReason::IoWait, line));
        handles.push(h);
        let line = line!() + 1;
        let forever = gort::spawn(async move { forever_rx.recv().await.ok().map(|()| 0) });
        expect.insert(forever.id(), (WaitReason::ChanReceive, line));
        let line = line!() + 1;
        let h = gort::spawn(async move { forever.await.unwrap() });
        expect.insert(h.id(), (WaitReason::Join, line));
        handles.push(h);
        let line = line!() + 1;
        let h = gort::spawn(async move {
            gort::spawn_blocking(move || block_rx.recv().ok())
                .await
                .unwrap()
                .map(|()| 0)
        });
        expect.insert(h.id(), (WaitReason::Blocking, line));
        handles.push(h);
        let m = mutex.clone();
        let line = line!() + 1;
        let h = gort::spawn(async move { Some(*m.lock().await) });
        expect.insert(h.id(), (WaitReason::MutexLock, line));
        handles.push(h);
        // A method call's location is the line of its name: `.spawn`.
        let line = line!() + 3;
        let named = gort::task::Builder::new()
            .name("acceptor")
            .spawn(sleep_an_hour());
        expect.insert(named.id(), (WaitReason::Sleep, line));

        let dump = dump_until(&handle, |d| {
            d.iter().filter(|t| t.state() == TaskState::Parked).count() == expect.len()
        });
        let text = dump.to_string();
        assert_eq!(dump.len(), expect.len(), "{text}");
        let mut seen = HashMap::new();
        for t in &dump {
            assert!(
                seen.insert(t.id(), ()).is_none(),
                "task {} listed twice:\n{text}",
                t.id()
            );
            let (reason, line) = expect[&t.id()];
            assert_eq!(t.state(), TaskState::Parked);
            assert_eq!(t.wait_reason(), Some(reason), "task {}:\n{text}", t.id());
            assert!(t.waiting_for().is_some());
            assert_eq!(t.spawn_location().file(), file!());
            assert_eq!(t.spawn_location().line(), line, "task {}:\n{text}", t.id());
            let block = format!(
                "goroutine {}{} [{reason}, ",
                t.id(),
                t.name().map(|n| format!(" {n:?}")).unwrap_or_default()
            );
            assert!(text.contains(&block), "no {block:?} in:\n{text}");
        }
        assert_eq!(
            dump.iter().find(|t| t.id() == named.id()).unwrap().name(),
            Some("acceptor")
        );
        assert!(
            text.contains(&format!("spawned at {}:{line}:", file!())),
            "{text}"
        );

        // Wake each and check they finish: the dump disturbed nothing.
        recv_tx.try_send(5).unwrap();
        assert_eq!(rt.block_on(send_rx.recv()), Ok(1));
        sel_tx.try_send(7).unwrap();
        block_tx.send(()).unwrap();
        forever_tx.try_send(()).unwrap();
        drop(guard);
        let mut finished = 0;
        for (i, h) in handles.into_iter().enumerate() {
            // The sleeper and the acceptor stay; the rest finish.
            if i == 3 || i == 4 {
                h.abort();
                continue;
            }
            rt.block_on(h).unwrap();
            finished += 1;
        }
        assert_eq!(finished, 6);
        named.abort();
    });
}

#[test]
fn a_dump_taken_while_100_000_tasks_spawn_and_complete_does_not_crash_or_block_them() {
    watchdog("dump-churn", || {
        let rt = runtime(2, "dump-churn");
        let stop = Arc::new(AtomicBool::new(false));
        let handle = rt.handle().clone();
        let s = stop.clone();
        let dumper = std::thread::spawn(move || {
            let mut dumps = 0u64;
            let mut listed = 0;
            while !s.load(SeqCst) {
                let dump = handle.dump();
                listed += dump.len();
                // Rendering reads only what was copied out.
                assert!(dump.iter().all(|t| t.spawn_location().file() == file!()));
                let _ = dump.to_string();
                dumps += 1;
            }
            (dumps, listed)
        });
        let total = rt.block_on(async {
            let mut total = 0u64;
            for round in 0..100u64 {
                let handles: Vec<_> = (0..1000u64)
                    .map(|i| {
                        gort::spawn(async move {
                            gort::yield_now().await;
                            round * 1000 + i
                        })
                    })
                    .collect();
                for h in handles {
                    total += h.await.unwrap();
                }
            }
            total
        });
        stop.store(true, SeqCst);
        let (dumps, _listed) = dumper.join().unwrap();
        assert_eq!(total, (0..100_000u64).sum::<u64>());
        assert!(dumps > 0);
        // Every task finished: the last dump lists none.
        let last = dump_until(rt.handle(), |d| d.is_empty() && d.not_yet_polled() == 0);
        assert_eq!(last.to_string(), "");
    });
}

#[test]
fn metrics_add_up_and_move() {
    watchdog("metrics", || {
        let rt = gort::runtime::Builder::new()
            .worker_threads(2)
            .thread_name("metrics")
            .blocking_threshold(Duration::from_millis(5))
            .build()
            .unwrap();
        let m = rt.handle().metrics();
        assert_eq!(m.num_workers(), 2);
        assert_eq!(m.spawned_tasks_count(), 0);

        // Work that must be stolen: one task fills its ring, then holds its
        // worker until the other worker has taken some.
        let stolen_before: u64 = (0..m.num_processors())
            .map(|i| m.worker_steal_count(i))
            .sum();
        let m2 = m.clone();
        let sum = rt.block_on(rt.spawn(async move {
            let handles: Vec<_> = (0..64u64).map(|i| gort::spawn(async move { i })).collect();
            while (0..m2.num_processors())
                .map(|i| m2.worker_steal_count(i))
                .sum::<u64>()
                == stolen_before
            {
                std::thread::yield_now();
            }
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        }));
        assert_eq!(sum.unwrap(), (0..64).sum::<u64>());
        let steals: u64 = (0..m.num_processors())
            .map(|i| m.worker_steal_count(i))
            .sum();
        assert!(steals > stolen_before);

        // A greedy loop is made to yield by the budget.
        rt.block_on(rt.spawn(async {
            let (tx, rx) = gort::chan::bounded(1);
            // Far longer than one slice.
            for i in 0..200_000u32 {
                tx.send(i).await.unwrap();
                rx.recv().await.unwrap();
            }
        }))
        .unwrap();
        assert!(m.budget_forced_yields() >= 1);

        // Polls that block past the threshold are retaken: two of them, so
        // that either both workers are stuck or one waits in a stuck
        // worker's ring (either makes the retake worth it).
        let stuck: Vec<_> = (0..2)
            .map(|_| rt.spawn(async { std::thread::sleep(Duration::from_millis(50)) }))
            .collect();
        for h in stuck {
            rt.block_on(h).unwrap();
        }
        assert!(m.sysmon_retakes() >= 1);

        // Parked tasks: a sleeper (a timer) and a listener's accept.
        let sleeper = rt.spawn(gort::time::sleep(Duration::from_secs(3600)));
        let listener = rt
            .block_on(gort::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let acceptor = rt.spawn(async move { listener.accept().await.map(|_| ()) });
        let blocking = rt.spawn_blocking(|| 1);
        assert_eq!(rt.block_on(blocking).unwrap(), 1);
        assert!(m.num_blocking_threads() >= 1);

        // Quiescent: the counts add up.
        let dump = dump_until(rt.handle(), |d| {
            d.len() == 2 && d.iter().all(|t| t.state() == TaskState::Parked)
        });
        assert_eq!(dump.len(), 2);
        assert!(m.timers_pending() >= 1);
        assert!(m.io_registrations() >= 1);
        let (spawned, completed, live) = (
            m.spawned_tasks_count(),
            m.completed_tasks_count(),
            m.num_goroutines(),
        );
        assert_eq!(spawned - completed, live as u64, "{m:?}");
        assert_eq!(live, 2);
        assert_eq!(m.global_queue_depth(), 0);

        // Counters only grow; the workers parked when the work ran out.
        let n = m.num_processors();
        let polls: Vec<u64> = (0..n).map(|i| m.worker_poll_count(i)).collect();
        let parks: Vec<u64> = (0..n).map(|i| m.worker_park_count(i)).collect();
        assert!(polls.iter().sum::<u64>() >= spawned);
        // (A worker retaken by sysmon waits as a spare, which is not a park.)
        assert!(parks.iter().sum::<u64>() >= 2, "{parks:?}");
        assert!((0..n).any(|i| m.worker_total_busy_duration(i) > Duration::ZERO));
        // A task that spawns a child and waits for it: the child runs
        // from the LIFO slot.
        let lifo_before: u64 = (0..n).map(|i| m.worker_lifo_hits(i)).sum();
        rt.block_on(rt.spawn(async {
            for _ in 0..99 {
                gort::spawn(async {}).await.unwrap();
            }
        }))
        .unwrap();
        assert!((0..n).map(|i| m.worker_lifo_hits(i)).sum::<u64>() > lifo_before);
        for i in 0..n {
            assert!(m.worker_poll_count(i) >= polls[i]);
            assert!(m.worker_park_count(i) >= parks[i]);
        }
        assert_eq!(m.spawned_tasks_count(), spawned + 100);
        sleeper.abort();
        acceptor.abort();
    });
}
