// The value is an integer literal, not a string: the error points at `"two"`.
#[gort::main(worker_threads = "two")]
async fn main() {}
