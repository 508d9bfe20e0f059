//! Sending calls: build with the protocol core, send through the transport, retry as the
//! retry policy decides, parse the answer.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use maxstorage_protocol::retry::{
    FailureClass, Idempotency, JitterSource, RetryDecision, RetryPolicy, SplitMix64,
    parse_retry_after,
};
use maxstorage_protocol::route::RouteAffinity;
use maxstorage_protocol::{Body, Call, ClientConfig, RequestContext, StreamingResponse};
use tracing::{debug, warn};

use crate::transport::{HttpTransport, RequestBody, ResponseBody, TransportErrorKind};
use maxstorage_client_core::{Error, Result};

/// The most of an error body read to build the service error.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// The most of a JSON answer read (answers are small; this bounds a hostile one).
const MAX_JSON_BODY: u64 = 64 * 1024 * 1024;

/// What every request needs: configuration, transport, retry policy, route tokens.
#[derive(Debug)]
pub(crate) struct Core {
    pub config: ClientConfig,
    pub transport: Arc<dyn HttpTransport>,
    pub retry: RetryPolicy,
    jitter: Mutex<SplitMix64>,
    pub affinity: Mutex<RouteAffinity>,
}

/// The route of a call: which session's token it carries.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Route<'a> {
    /// The target and session whose token to send (and to update from the answer).
    pub session: Option<(&'a str, &'a str)>,
    /// An explicit token overriding the session's.
    pub override_token: Option<&'a str>,
}

impl<'a> Route<'a> {
    pub fn session(target: &'a str, session_id: &'a str) -> Route<'a> {
        Route {
            session: Some((target, session_id)),
            override_token: None,
        }
    }

    pub fn with_override(mut self, token: Option<&'a str>) -> Route<'a> {
        self.override_token = token;
        self
    }
}

/// A body to send with a call, replayable or not.
pub(crate) enum SendBody {
    /// Whatever the call's own body is (JSON or empty).
    Call,
    /// Bytes in memory (replayable: retries allowed as the call's idempotency says).
    Bytes(Bytes),
    /// A one-shot stream (a retry is possible only if the connection failed before sending).
    Reader(Box<dyn Read + Send>, Option<u64>),
}

impl Core {
    pub fn new(
        config: ClientConfig,
        transport: Arc<dyn HttpTransport>,
        retry: RetryPolicy,
        seed: u64,
    ) -> Core {
        Core {
            config,
            transport,
            retry,
            jitter: Mutex::new(SplitMix64::new(seed)),
            affinity: Mutex::new(RouteAffinity::new()),
        }
    }

    fn token(&self, route: &Route<'_>) -> Option<String> {
        if let Some(t) = route.override_token {
            return Some(t.to_string());
        }
        let (target, session) = route.session?;
        self.affinity
            .lock()
            .ok()?
            .token(target, session, None)
            .map(str::to_string)
    }

    /// Records the route token of an answer for the route's session.
    pub fn observe_token(&self, route: &Route<'_>, token: Option<&str>) {
        if let (Some((target, session)), Some(token)) = (route.session, token)
            && let Ok(mut a) = self.affinity.lock()
        {
            a.observe(target, session, Some(token));
        }
    }

    /// Sends a call with a complete (JSON) answer and parses it.
    pub fn call<C: Call>(&self, call: &C, route: Route<'_>) -> Result<C::Output> {
        self.call_with_body(call, route, SendBody::Call)
    }

    /// Sends a call with an explicit request body and parses its complete answer.
    pub fn call_with_body<C: Call>(
        &self,
        call: &C,
        route: Route<'_>,
        body: SendBody,
    ) -> Result<C::Output> {
        let (parts, buf) = self.fetch(call, route, body)?;
        Ok(call.parse(&parts, &buf)?)
    }

    /// Sends a call and reads its complete (bounded) answer without parsing it.
    pub fn fetch<C: Call>(
        &self,
        call: &C,
        route: Route<'_>,
        body: SendBody,
    ) -> Result<(http::response::Parts, Vec<u8>)> {
        let (parts, mut response) = self.exchange(call, route, body)?;
        let mut buf = Vec::new();
        (&mut response)
            .take(MAX_JSON_BODY + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(format!("reading the {} answer", call.action()), e))?;
        if buf.len() as u64 > MAX_JSON_BODY {
            return Err(Error::Integrity(format!(
                "the {} answer is larger than {MAX_JSON_BODY} bytes",
                call.action()
            )));
        }
        Ok((parts, buf))
    }

    /// Sends a call whose answer body is a stream and returns the head and the body.
    pub fn open<C: Call<Output = StreamingResponse>>(
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
        let idempotency = if call.is_idempotent() {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        let (fixed, mut reader) = match body {
            SendBody::Call => (None, None),
            SendBody::Bytes(b) => (Some(b), None),
            SendBody::Reader(r, len) => (None, Some((r, len))),
        };
        // A streamed body is consumed by the first attempt: it is never retried.
        let one_shot = reader.is_some();
        let mut attempt: u32 = 1;
        loop {
            let token = self.token(&route);
            let ctx = RequestContext::new(&self.config, SystemTime::now())
                .with_route_token(token.as_deref());
            let (parts, built_body) = call.build(&ctx)?.into_parts();
            let send_body = match (&fixed, built_body) {
                (Some(b), _) => RequestBody::Bytes(b.clone()),
                (None, Body::Json(b)) => RequestBody::Bytes(b),
                (None, Body::Empty) => RequestBody::Empty,
                (None, Body::Streaming { content_length }) => match reader.take() {
                    Some((r, len)) => RequestBody::Reader {
                        reader: r,
                        length: len.or(content_length),
                    },
                    None => {
                        return Err(Error::Config(format!(
                            "{} was sent without its request body",
                            call.action()
                        )));
                    }
                },
            };
            let (class, retry_after, error) = match self
                .transport
                .send(http::Request::from_parts(parts, send_body))
            {
                Ok(response) => {
                    let (parts, mut body) = response.into_parts();
                    if parts.status.is_success() {
                        self.observe_token(
                            &route,
                            maxstorage_protocol::header::route_token(&parts.headers),
                        );
                        return Ok((parts, body));
                    }
                    let mut buf = Vec::new();
                    // The error body is best effort: a broken one still yields the status.
                    let _ = (&mut body).take(MAX_ERROR_BODY).read_to_end(&mut buf);
                    let err = maxstorage_protocol::error::parse_service_error(
                        call.action(),
                        &parts,
                        &buf,
                    );
                    let retry_after = err
                        .retry_after
                        .as_deref()
                        .and_then(|v| parse_retry_after(v, SystemTime::now()).ok());
                    (
                        FailureClass::Status(err.status),
                        retry_after,
                        Error::from(err),
                    )
                }
                Err(e) => {
                    let class = match e.kind {
                        TransportErrorKind::Connect => FailureClass::Connect,
                        TransportErrorKind::Timeout => FailureClass::Timeout,
                        TransportErrorKind::Io | TransportErrorKind::Protocol => FailureClass::Io,
                    };
                    (class, None, Error::Transport(e))
                }
            };
            if one_shot {
                return Err(error);
            }
            let decision = {
                let mut jitter = self
                    .jitter
                    .lock()
                    .map_err(|_| Error::Config("retry jitter lock poisoned".into()))?;
                self.retry.decide(
                    attempt,
                    class,
                    idempotency,
                    retry_after,
                    &mut *jitter as &mut dyn JitterSource,
                )
            };
            match decision {
                RetryDecision::RetryAfter(delay) => {
                    warn!(action = %call.action(), attempt, ?delay, error = %error, "retrying");
                    std::thread::sleep(delay);
                    attempt += 1;
                }
                RetryDecision::GiveUp(reason) => {
                    debug!(action = %call.action(), attempt, %reason, "giving up");
                    return Err(error);
                }
            }
        }
    }
}
