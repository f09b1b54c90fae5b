// `#[gort::test]` takes `worker_threads` and `start_paused`; tokio's
// `flavor` is not one of them.
#[gort::test(flavor = "current_thread")]
async fn paused() {}

fn main() {}
