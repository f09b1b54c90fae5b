// A near miss of `worker_threads`: the error points at `threads`.
#[gort::main(threads = 2)]
async fn main() {}
