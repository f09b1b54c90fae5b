// The simplest entry point: no arguments, no return value.
#[gort::main]
async fn main() {
    let answer = async { 6 * 7 }.await;
    assert_eq!(answer, 42);
}
