// `#[gort::test]` needs an `async fn`: the error points at `fn`.
#[gort::test]
fn not_async() {}

fn main() {}
