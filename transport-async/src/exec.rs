//! Sending calls: build with the protocol core, send through the transport, retry as the
//! retry policy decides (sleeping on the runtime's timer), parse the answer. The
//! decisions are client-core's, shared with the blocking client.

use std::io;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::time::Instant;
use tracing::Instrument;

use crate::read::{DecodingBody, StreamBatches};
use crate::transport::{ByteStream, HttpTransport, ResponseBody};

pub(crate) use maxstorage_client_core::exchange::Route;

/// A streamed request body: a one-shot stream.
pub(crate) type SendStream = ByteStream;

/// A body to send with a call: the call's own, bytes, or a one-shot stream.
pub(crate) type SendBody = maxstorage_client_core::exchange::SendBody<SendStream>;

maxstorage_surface::call_driver!(async; .await);

/// Waits on the runtime's timer (this client's wait between attempts and in operations).
async fn sleep(delay: std::time::Duration) {
    tokio::time::sleep(delay).await;
}

/// Instruments the future `f` makes with `span` (this client's way of putting a call's
/// attempts in their span).
fn in_span<F: Future>(
    span: tracing::Span,
    f: impl FnOnce() -> F,
) -> tracing::instrument::Instrumented<F> {
    f().instrument(span)
}

/// Reads a body up to `limit` bytes (more is left unread).
async fn read_bounded(mut body: ResponseBody, limit: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    while buf.len() < limit {
        match body.next().await {
            Some(chunk) => {
                let chunk: Bytes = chunk?;
                let take = chunk.len().min(limit - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            None => break,
        }
    }
    Ok(buf)
}
