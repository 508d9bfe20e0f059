//! Sending calls: build with the protocol core, send through the transport, retry as the
//! retry policy decides (sleeping on the runtime's timer), parse the answer. The
//! decisions are client-core's, shared with the blocking client.

use std::io;
use std::ops::Deref;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::StreamExt;
use maxstorage_client_core::exchange::{
    Attempt, Attempts, CallCore, MAX_ERROR_BODY, MAX_JSON_BODY, OutgoingBody, check_answer_size,
    chunks_len,
};
use maxstorage_client_core::operation::{Operation, Step};
use maxstorage_protocol::{Call, StreamingResponse};
use tracing::Instrument;

use crate::transport::{ByteStream, HttpTransport, RequestBody, ResponseBody};
use maxstorage_client_core::{Error, Result};

pub(crate) use maxstorage_client_core::exchange::Route;

/// A body to send with a call: the call's own, bytes, or a one-shot stream.
pub(crate) type SendBody = maxstorage_client_core::exchange::SendBody<ByteStream>;

/// What every request needs: configuration, retry policy and route tokens (shared with
/// the blocking client), and the transport.
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
    /// of [`Operation`]s (calls on `route`, waits on the runtime's timer).
    pub(crate) async fn drive<O: Operation>(
        &self,
        mut op: O,
        route: Route<'_>,
    ) -> Result<O::Output> {
        let started = tokio::time::Instant::now();
        let mut answer = None;
        loop {
            match op.next(started.elapsed(), answer.take())? {
                Step::Call(call) => answer = Some(self.call(&call, route).await),
                Step::CallWithBody(call, body) => {
                    answer = Some(
                        self.call_with_body(&call, route, SendBody::Chunks(body))
                            .await,
                    );
                }
                Step::Sleep(delay) => tokio::time::sleep(delay).await,
                Step::Done(output) => return Ok(output),
            }
        }
    }

    /// Sends a call with a complete (JSON) answer and parses it.
    pub(crate) async fn call<C: Call>(&self, call: &C, route: Route<'_>) -> Result<C::Output> {
        self.call_with_body(call, route, SendBody::Call).await
    }

    /// Sends a call with an explicit request body and parses its complete answer.
    pub(crate) async fn call_with_body<C: Call>(
        &self,
        call: &C,
        route: Route<'_>,
        body: SendBody,
    ) -> Result<C::Output> {
        let (parts, buf) = self.fetch(call, route, body).await?;
        Ok(call.parse(&parts, &buf)?)
    }

    /// Sends a call and reads its complete (bounded) answer without parsing it.
    pub(crate) async fn fetch<C: Call>(
        &self,
        call: &C,
        route: Route<'_>,
        body: SendBody,
    ) -> Result<(http::response::Parts, Vec<u8>)> {
        let (parts, response) = self.exchange(call, route, body).await?;
        let buf = read_bounded(response, MAX_JSON_BODY + 1)
            .await
            .map_err(|e| Error::io(format!("reading the {} answer", call.action()), e))?;
        check_answer_size(call.action(), buf.len())?;
        Ok((parts, buf))
    }

    /// Sends a call whose answer body is a stream and returns the head and the body.
    pub(crate) async fn open<C: Call<Output = StreamingResponse>>(
        &self,
        call: &C,
        route: Route<'_>,
    ) -> Result<(StreamingResponse, ResponseBody)> {
        let (parts, body) = self.exchange(call, route, SendBody::Call).await?;
        let head = call.parse(&parts, &[])?;
        Ok((head, body))
    }

    /// One exchange with retries: returns a success head and its unread body, or the error.
    async fn exchange<C: Call>(
        &self,
        call: &C,
        route: Route<'_>,
        body: SendBody,
    ) -> Result<(http::response::Parts, ResponseBody)> {
        let mut attempts = Attempts::new(call, body);
        let span = attempts.span().clone();
        async move {
            loop {
                let now = SystemTime::now();
                let request = match attempts.next(&self.shared, call, &route, now)? {
                    Attempt::Send(request) => (*request).map(request_body),
                    Attempt::Wait(delay) => {
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                };
                let started = std::time::Instant::now();
                match self.transport.send(request).await {
                    Ok(response) => {
                        let (parts, body) = response.into_parts();
                        if attempts.on_answer(&self.shared, &route, &parts, started.elapsed()) {
                            return Ok((parts, body));
                        }
                        // The error body is best effort: a broken one still yields the status.
                        let buf = read_bounded(body, MAX_ERROR_BODY).await.unwrap_or_default();
                        let now = SystemTime::now();
                        attempts.on_error_answer(&self.shared, call, &parts, &buf, now)?;
                    }
                    Err(e) => attempts.on_transport_error(&self.shared, call, e)?,
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// The request body of an attempt, as hyper sends it.
fn request_body(body: OutgoingBody<ByteStream>) -> RequestBody {
    match body {
        OutgoingBody::Empty => RequestBody::Empty,
        OutgoingBody::Bytes(b) => RequestBody::Bytes(b),
        OutgoingBody::Chunks(chunks) => RequestBody::Stream {
            length: Some(chunks_len(&chunks)),
            stream: Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok))),
        },
        OutgoingBody::Stream { stream, length } => RequestBody::Stream { stream, length },
    }
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
