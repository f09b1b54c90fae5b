//! `CachePadded`: keeps a value on cache lines of its own.

use std::ops::Deref;

/// Aligns (and so pads) `T` to 128 bytes: two cache lines, the unit that
/// x86's adjacent-line prefetcher moves, so that a value written by one
/// core does not share a line with values other cores read or write.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
