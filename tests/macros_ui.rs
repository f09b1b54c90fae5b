//! Tests of `#[gort::main]` and `#[gort::test]`: misuse is a compile error
//! pointing at the offending token (`tests/ui`), correct use compiles and
//! runs (`tests/ui-pass`), and `#[gort::test]` itself is used below.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}

/// Each `#[gort::test]` gets its own runtime and runs its body on it.
#[gort::test]
async fn test_macro_runs_the_body() {
    let value = async { 1 + 1 }.await;
    assert_eq!(value, 2);
}

#[gort::test(worker_threads = 1)]
async fn test_macro_with_worker_threads_and_result() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "7".parse()?;
    assert_eq!(n, 7);
    Ok(())
}

#[gort::test]
#[should_panic(expected = "boom")]
async fn test_macro_keeps_should_panic() {
    panic!("boom");
}

#[gort::test]
#[ignore = "checks that #[ignore] is kept; never meant to run"]
async fn test_macro_keeps_ignore() {
    panic!("an ignored test ran");
}
