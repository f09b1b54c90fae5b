// The expansion's own locals cannot clash with the user's names: these
// constants would break a `let body = ...` / `let mut builder = ...` written
// without hygiene.
#![allow(non_upper_case_globals)]

const body: u8 = 1;
const builder: u8 = 2;
const runtime: u8 = 3;

#[gort::main]
pub async fn main() {
    assert_eq!(body + builder + runtime, 6);
}
