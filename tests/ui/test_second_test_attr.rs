// `#[gort::test]` already makes a test; a second `#[test]` is rejected.
#[gort::test]
#[test]
async fn twice() {}

fn main() {}
