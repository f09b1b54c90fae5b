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
