//! placeholder; written by the executor work
pub use gort_executor::*;
pub use gort_macros::{main, test};
