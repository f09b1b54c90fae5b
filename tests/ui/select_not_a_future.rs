async fn run() {
    let (_tx, rx) = gort::chan::bounded::<u32>(0);
    gort::select! {
        v = rx.recv() => drop(v),
        n = 5u32 => drop(n),
    }
}

fn main() {
    let _ = run();
}
