// `worker_threads` needs `= N`: the error points at `worker_threads`.
#[gort::main(worker_threads)]
async fn main() {}
