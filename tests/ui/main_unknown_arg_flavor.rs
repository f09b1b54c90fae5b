// Only `worker_threads` is accepted: the error points at `flavor`.
#[gort::main(flavor = "current_thread")]
async fn main() {}
