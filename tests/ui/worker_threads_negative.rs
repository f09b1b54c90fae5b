// The value cannot be negative: the error points at `-1`.
#[gort::main(worker_threads = -1)]
async fn main() {}
