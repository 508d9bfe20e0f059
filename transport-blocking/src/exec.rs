//! Sending calls: build with the protocol core, send through the transport, retry as the
//! retry policy decides, parse the answer.

use std::io::Read;
use std::time::Instant;

use crate::read::{DecodingBody, StreamBatches};
use crate::transport::{HttpTransport, ResponseBody};

pub(crate) use maxstorage_client_core::exchange::Route;

/// A streamed request body: a one-shot reader.
pub(crate) type SendStream = Box<dyn Read + Send>;

/// A body to send with a call: the call's own, bytes, or a one-shot reader.
pub(crate) type SendBody = maxstorage_client_core::exchange::SendBody<SendStream>;

maxstorage_surface::call_driver!(;);

/// Waits (this client's wait between attempts and in operations).
fn sleep(delay: std::time::Duration) {
    std::thread::sleep(delay);
}

/// Reads a body up to `limit` bytes (more is left unread).
fn read_bounded(mut body: ResponseBody, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    (&mut body).take(limit as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Runs `f` inside `span` (this client's way of putting a call's attempts in their span).
fn in_span<T>(span: tracing::Span, f: impl FnOnce() -> T) -> T {
    let _in_span = span.entered();
    f()
}
