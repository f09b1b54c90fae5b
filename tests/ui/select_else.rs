async fn run() {
    let (_tx, rx) = gort::chan::bounded::<u32>(0);
    gort::select! {
        v = rx.recv() => drop(v),
        else => {}
    }
}

fn main() {
    let _ = run();
}
