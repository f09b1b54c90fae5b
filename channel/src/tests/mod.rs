//! Loom models of the channel's hand-off protocol. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gort-channel --release --lib`.

mod loom_chan;
mod loom_buffered;
mod loom_list;
