async fn run() {
    let (_tx, rx) = gort::chan::bounded::<u32>(0);
    gort::select! {
        biased;
        v = rx.recv() => drop(v),
    }
}

fn main() {
    let _ = run();
}
