// An entry point cannot be generic: the error points at `<T: Default>`.
#[gort::main]
async fn main<T: Default>() {
    let _ = T::default();
}
