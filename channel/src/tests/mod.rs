//! Loom models of the channel's hand-off protocol. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gort-channel --release --lib`.

mod loom_buffered;
mod loom_chan;
mod loom_list;

/// Runs `f` under loom with at most `preemptions` preemptions per
/// execution (unless `LOOM_MAX_PREEMPTIONS` says otherwise).
fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut model = loom::model::Builder::new();
    model.preemption_bound.get_or_insert(preemptions);
    model.check(f);
}
