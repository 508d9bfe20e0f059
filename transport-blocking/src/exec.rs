//! Sending calls: build with the protocol core, send through the transport, retry as the
//! retry policy decides, parse the answer.

use std::io::Read;
use std::time::Instant;

use maxstorage_client_core::exchange::Attempts;
use maxstorage_protocol::Call;

use crate::read::{DecodingBody, StreamBatches};
use crate::transport::{HttpTransport, ResponseBody};
use maxstorage_client_core::Result;

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

impl Core {
    /// One exchange with retries: returns a success head and its unread body, or the error.
    fn exchange<C: Call>(
        &self,
        call: &C,
        route: Route<'_>,
        body: SendBody,
    ) -> Result<(http::response::Parts, ResponseBody)> {
        let mut attempts = Attempts::new(call, body);
        let _in_span = attempts.span().clone().entered();
        self.attempt(&mut attempts, call, &route)
    }
}
