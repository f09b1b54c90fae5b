async fn run() {
    let (_tx, rx) = gort::chan::bounded::<u32>(0);
    gort::select! {
        v = rx.recv() => drop(v),
        default => {}
        default => {}
    }
}

fn main() {
    let _ = run();
}
