//! Threads that keep the caller's tracing context.
//!
//! A `tracing` subscriber set with `set_default` and the caller's current span are
//! thread-local; a thread started with plain `std::thread` would record its calls
//! nowhere, or without their parent. Every thread this crate starts goes through
//! [`spawn`], which carries both over.

use std::io;
use std::thread::{self, JoinHandle};

/// Starts a thread named `name` running `f` under the caller's subscriber and span.
pub(crate) fn spawn<T, F>(name: &str, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let span = tracing::Span::current();
    thread::Builder::new()
        .name(name.to_string())
        .spawn(move || tracing::dispatcher::with_default(&dispatch, || span.in_scope(f)))
}
