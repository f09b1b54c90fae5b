//! The idle protocol: a producer pushing work while the last searcher
//! parks never leaves the work with every worker asleep.

use crate::idle::Idle;
use crate::loom::atomic::{fence, AtomicUsize, Ordering::SeqCst};
use crate::loom::{thread, Arc};

/// Worker 0 searches, finds nothing, and parks (re-checking as the last
/// searcher); meanwhile a producer makes work visible and notifies. Either
/// the producer picks a worker to wake, or the parking worker's re-check
/// sees the work.
#[test]
fn no_lost_wakeup_when_last_searcher_parks() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        let work = Arc::new(AtomicUsize::new(0));
        assert!(idle.transition_worker_to_searching());

        let (i2, w2) = (idle.clone(), work.clone());
        let producer = thread::spawn(move || {
            w2.store(1, SeqCst);
            fence(SeqCst);
            i2.worker_to_notify_after_fence().is_some()
        });

        // Worker 0: nothing found (it may or may not see the work here;
        // model the miss), so it parks.
        let last = idle.transition_worker_to_parked(0, true);
        assert!(last);
        fence(SeqCst);
        let rechecked = work.load(SeqCst) == 1;
        let woken_by_producer = producer.join().unwrap();
        assert!(
            rechecked || woken_by_producer,
            "work was published but nobody will run it"
        );
    });
}

/// sysmon retakes a processor while its worker's poll returns (one run
/// permit). The stuck task woke a task onto its own processor during the
/// poll. Checked: the worker gives its permit away exactly when sysmon's
/// retake succeeded (never both running, never neither), and the woken
/// task is not left with every worker asleep: either the spare that
/// received the permit finds it while searching (or in its re-check
/// before parking), or the returning worker's notify wakes a worker.
///
/// Mutations tried: `PollState::end` as a load then a store (instead of a
/// swap) lets both keep the permit; dropping the retaken worker's notify
/// leaves the task with the spare parked.
#[test]
fn retake_races_the_poll_returning() {
    use crate::processor::PollState;

    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        let poll = Arc::new(PollState::new());
        // The stuck processor's queue (ring or LIFO slot), then the injector.
        let ring = Arc::new(AtomicUsize::new(0));
        let injector = Arc::new(AtomicUsize::new(0));
        poll.begin(7);

        let (i2, p2, r2, j2) = (idle.clone(), poll.clone(), ring.clone(), injector.clone());
        let sysmon = thread::spawn(move || {
            let Some(sample) = p2.polling() else {
                return (false, true);
            };
            if !p2.try_retake(sample) {
                return (false, true);
            }
            // The spare, holding the permit, searches (as a notified
            // worker: counted as searching) and finds nothing or the task.
            i2.hand_off_permit();
            let found = |r: &AtomicUsize, j: &AtomicUsize| r.load(SeqCst) + j.load(SeqCst) > 0;
            if found(&r2, &j2) {
                return (true, true);
            }
            i2.transition_worker_to_parked(1, true);
            fence(SeqCst);
            (true, found(&r2, &j2))
        });

        // The worker: the stuck task wakes a task onto this processor,
        // then the poll returns.
        ring.store(1, SeqCst);
        let retaken = poll.end();
        let mut notified = false;
        if retaken {
            // Move the queued task to the injector and notify.
            ring.store(0, SeqCst);
            injector.store(1, SeqCst);
            fence(SeqCst);
            notified = idle.worker_to_notify_after_fence().is_some();
        }
        let (retook, spare_saw_work) = sysmon.join().unwrap();
        assert_eq!(retaken, retook, "the permit is held by exactly one thread");
        if retaken {
            assert!(
                spare_saw_work || notified,
                "the woken task waits with every permit holder asleep"
            );
        }
    });
}
