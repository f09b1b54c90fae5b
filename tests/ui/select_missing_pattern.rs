async fn run() {
    let (_tx, rx) = gort::chan::bounded::<u32>(0);
    gort::select! {
        rx.recv() => {}
    }
}

fn main() {
    let _ = run();
}
