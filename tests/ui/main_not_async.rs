// `#[gort::main]` needs an `async fn`: the error points at `fn`.
#[gort::main]
fn main() {}
