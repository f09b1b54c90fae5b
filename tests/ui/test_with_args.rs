// The test harness calls tests with no arguments: the error points at them.
#[gort::test]
async fn takes_an_argument(n: u32) {
    assert_eq!(n, 1);
}

fn main() {}
