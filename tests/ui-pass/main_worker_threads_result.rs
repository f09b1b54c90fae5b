// `worker_threads = 2`, a `Result` return type, and `?` converting errors
// into `Box<dyn Error>` inside the async body.
use std::error::Error;

#[gort::main(worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let n: u32 = "40".parse()?;
    let sum = gort::spawn(async move { n + 2 })
        .await
        .map_err(|e| format!("task failed: {e:?}"))?;
    if sum != 42 {
        return Err("wrong sum".into());
    }
    Ok(())
}
