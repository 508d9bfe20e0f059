//! Sending calls: build with the protocol core, send through the transport, retry as the
//! retry policy decides, parse the answer.

use std::io::Read;
use std::time::{Instant, SystemTime};

use maxstorage_client_core::exchange::{Attempt, Attempts, MAX_ERROR_BODY};
use maxstorage_protocol::Call;

use crate::read::{DecodingBody, StreamBatches};
use crate::transport::{HttpTransport, ResponseBody};
use maxstorage_client_core::Result;

pub(crate) use maxstorage_client_core::exchange::Route;

/// A body to send with a call: the call's own, bytes, or a one-shot reader.
pub(crate) type SendBody = maxstorage_client_core::exchange::SendBody<Box<dyn Read + Send>>;

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
        loop {
            let request = match attempts.next(&self.shared, call, &route, SystemTime::now())? {
                Attempt::Send(request) => *request,
                Attempt::Wait(delay) => {
                    sleep(delay);
                    continue;
                }
            };
            let started = Instant::now();
            match self.transport.send(request) {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    if attempts.on_answer(&self.shared, &route, &parts, started.elapsed()) {
                        return Ok((parts, body));
                    }
                    // The error body is best effort: a broken one still yields the status.
                    let buf = read_bounded(body, MAX_ERROR_BODY).unwrap_or_default();
                    attempts.on_error_answer(
                        &self.shared,
                        call,
                        &parts,
                        &buf,
                        SystemTime::now(),
                    )?;
                }
                Err(e) => attempts.on_transport_error(&self.shared, call, e)?,
            }
        }
    }
}
