// A body that does not produce the declared return type is reported inside
// the body, at the wrong value, not at the attribute.
#[gort::main]
async fn main() -> Result<(), String> {
    Ok(1)
}
