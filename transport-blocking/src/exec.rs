//! Sending calls: build with the protocol core, send through the transport, retry as the
//! retry policy decides, parse the answer.

use std::io::Read;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;

use maxstorage_client_core::exchange::{
    Attempt, Attempts, CallCore, MAX_ERROR_BODY, MAX_JSON_BODY, OutgoingBody, check_answer_size,
    chunks_len,
};
use maxstorage_client_core::operation::{Operation, Step};
use maxstorage_protocol::{Call, StreamingResponse};

use crate::transport::{HttpTransport, RequestBody, ResponseBody};
use maxstorage_client_core::{Error, Result};

pub(crate) use maxstorage_client_core::exchange::Route;

/// A body to send with a call: the call's own, bytes, or a one-shot reader.
pub(crate) type SendBody = maxstorage_client_core::exchange::SendBody<Box<dyn Read + Send>>;

/// What every request needs: configuration, retry policy and route tokens (shared with
/// the async client), and the transport.
#[derive(Debug)]
pub(crate) struct Core {
    shared: CallCore,
    pub transport: Arc<dyn HttpTransport>,
}

impl Deref for Core {
    type Target = CallCore;

    fn deref(&self) -> &CallCore {
        &self.shared
    }
}

impl Core {
    pub(crate) fn new(shared: CallCore, transport: Arc<dyn HttpTransport>) -> Core {
        Core { shared, transport }
    }

    /// Runs an operation of several calls and waits to its end: this client's one driver
    /// of [`Operation`]s (calls on `route`, waits with `thread::sleep`).
    pub(crate) fn drive<O: Operation>(&self, mut op: O, route: Route<'_>) -> Result<O::Output> {
        let started = Instant::now();
        let mut answer = None;
        loop {
            match op.next(started.elapsed(), answer.take())? {
                Step::Call(call) => answer = Some(self.call(&call, route)),
                Step::CallWithBody(call, body) => {
                    answer = Some(self.call_with_body(&call, route, SendBody::Chunks(body)));
                }
                Step::Sleep(delay) => std::thread::sleep(delay),
                Step::Done(output) => return Ok(output),
            }
        }
    }

    /// Sends a call with a complete (JSON) answer and parses it.
    pub(crate) fn call<C: Call>(&self, call: &C, route: Route<'_>) -> Result<C::Output> {
        self.call_with_body(call, route, SendBody::Call)
    }

    /// Sends a call with an explicit request body and parses its complete answer.
    pub(crate) fn call_with_body<C: Call>(
        &self,
        call: &C,
        route: Route<'_>,
        body: SendBody,
    ) -> Result<C::Output> {
        let (parts, buf) = self.fetch(call, route, body)?;
        Ok(call.parse(&parts, &buf)?)
    }

    /// Sends a call and reads its complete (bounded) answer without parsing it.
    pub(crate) fn fetch<C: Call>(
        &self,
        call: &C,
        route: Route<'_>,
        body: SendBody,
    ) -> Result<(http::response::Parts, Vec<u8>)> {
        let (parts, mut response) = self.exchange(call, route, body)?;
        let mut buf = Vec::new();
        (&mut response)
            .take(MAX_JSON_BODY as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(format!("reading the {} answer", call.action()), e))?;
        check_answer_size(call.action(), buf.len())?;
        Ok((parts, buf))
    }

    /// Sends a call whose answer body is a stream and returns the head and the body.
    pub(crate) fn open<C: Call<Output = StreamingResponse>>(
        &self,
        call: &C,
        route: Route<'_>,
    ) -> Result<(StreamingResponse, ResponseBody)> {
        let (parts, body) = self.exchange(call, route, SendBody::Call)?;
        let head = call.parse(&parts, &[])?;
        Ok((head, body))
    }

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
                Attempt::Send(request) => (*request).map(request_body),
                Attempt::Wait(delay) => {
                    std::thread::sleep(delay);
                    continue;
                }
            };
            let started = Instant::now();
            match self.transport.send(request) {
                Ok(response) => {
                    let (parts, mut body) = response.into_parts();
                    if attempts.on_answer(&self.shared, &route, &parts, started.elapsed()) {
                        return Ok((parts, body));
                    }
                    let mut buf = Vec::new();
                    // The error body is best effort: a broken one still yields the status.
                    let _ = (&mut body)
                        .take(MAX_ERROR_BODY as u64)
                        .read_to_end(&mut buf);
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

/// The request body of an attempt, as ureq sends it.
fn request_body(body: OutgoingBody<Box<dyn Read + Send>>) -> RequestBody {
    match body {
        OutgoingBody::Empty => RequestBody::Empty,
        OutgoingBody::Bytes(b) => RequestBody::Bytes(b),
        OutgoingBody::Chunks(chunks) => RequestBody::Reader {
            length: Some(chunks_len(&chunks)),
            reader: Box::new(ChunksReader {
                chunks: chunks.into(),
            }),
        },
        OutgoingBody::Stream { stream, length } => RequestBody::Reader {
            reader: stream,
            length,
        },
    }
}

/// Reads a body held in pieces, one piece after another, without joining them.
struct ChunksReader {
    chunks: std::collections::VecDeque<Bytes>,
}

impl Read for ChunksReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(front) = self.chunks.front_mut() {
            if front.is_empty() {
                self.chunks.pop_front();
                continue;
            }
            let n = buf.len().min(front.len());
            buf[..n].copy_from_slice(&front[..n]);
            bytes::Buf::advance(front, n);
            return Ok(n);
        }
        Ok(0)
    }
}
