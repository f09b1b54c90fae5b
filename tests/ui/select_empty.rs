async fn run() {
    gort::select! {}
}

fn main() {
    let _ = run();
}
