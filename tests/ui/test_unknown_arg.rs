// Only `worker_threads` is accepted by `#[gort::test]` too.
#[gort::test(start_paused = true)]
async fn paused() {}

fn main() {}
