//! sysmon's retake against the idle protocol, with the real `PollState`
//! and `Idle` and the rest re-enacted by hand: the models of the real
//! worker loop (`loom_scheduler.rs`) start no sysmon thread, whose
//! retakes depend on time. (The idle protocol itself, the park / notify
//! race, is checked there on the real loop.)

use crate::idle::Idle;
use crate::loom::atomic::{fence, AtomicUsize, Ordering::SeqCst};
use crate::loom::{thread, Arc};

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
