// Each argument is given once: the error points at the second one.
#[gort::main(worker_threads = 2, worker_threads = 4)]
async fn main() {}
