// A runtime needs at least one processor: the error points at `0`.
#[gort::main(worker_threads = 0)]
async fn main() {}
