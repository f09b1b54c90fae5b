async fn run() {
    let (_tx, rx) = gort::chan::bounded::<u32>(0);
    gort::select! {
        Some(v) = std::future::ready(rx.try_recv().ok()) => drop(v),
    }
}

fn main() {
    let _ = run();
}
