//! Sending a call, without the I/O: which route token to send, which body an attempt
//! carries, how a failed attempt is classified, and whether (and after how long) to try
//! again. Each client's driver is this loop around [`Attempts`]:
//!
//! ```text
//! let mut attempts = Attempts::new(&call, body);
//! loop {
//!     let request = match attempts.next(&core, &call, &route, now())? { // Err: give up
//!         Attempt::Send(request) => request,
//!         Attempt::Wait(delay) => { sleep(delay); continue }
//!     };
//!     match transport.send(request) {
//!         Ok(head + body) => {
//!             if attempts.on_answer(&core, &route, &head, latency) { return (head, body) }
//!             attempts.on_error_answer(&core, &call, &head, first_bytes(body), now())?;
//!         }
//!         Err(e) => attempts.on_transport_error(&core, &call, e)?,
//!     }
//! }
//! ```

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use maxstorage_protocol::retry::{
    FailureClass, Idempotency, RetryDecision, RetryPolicy, SplitMix64, parse_retry_after,
};
use maxstorage_protocol::route::RouteAffinity;
use maxstorage_protocol::{Body, Call, ClientConfig, RequestContext};
use tracing::{debug, warn};

use crate::error::{Error, IntegrityError, Result, TransportError};

pub use maxstorage_protocol::call::{MAX_ERROR_BODY, MAX_JSON_BODY};

/// The route of a call: which session's route token it carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Route<'a> {
    /// The target and session whose token to send (and to update from the answer).
    pub session: Option<(&'a str, &'a str)>,
    /// An explicit token overriding the session's.
    pub override_token: Option<&'a str>,
}

impl<'a> Route<'a> {
    /// The route of session `session_id` on `target`.
    pub fn session(target: &'a str, session_id: &'a str) -> Route<'a> {
        Route {
            session: Some((target, session_id)),
            override_token: None,
        }
    }

    /// The same route sending `token` (when given) instead of the session's token.
    pub fn with_override(mut self, token: Option<&'a str>) -> Route<'a> {
        self.override_token = token;
        self
    }
}

/// A body to send with a call; `S` is the transport's kind of one-shot stream.
pub enum SendBody<S> {
    /// Whatever the call's own body is (JSON or empty).
    Call,
    /// Bytes in memory (replayable: retries allowed as the call's idempotency says).
    Bytes(Bytes),
    /// Bytes in memory as pieces sent one after another (replayable, like `Bytes`): a
    /// body built in pieces is sent without first copying it into one buffer.
    Chunks(Vec<Bytes>),
    /// A one-shot stream and its length if known: the call is never retried, because
    /// the stream cannot be replayed.
    Stream(S, Option<u64>),
}

impl<S> std::fmt::Debug for SendBody<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendBody::Call => f.write_str("Call"),
            SendBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            SendBody::Chunks(c) => write!(f, "Chunks({} bytes)", chunks_len(c)),
            SendBody::Stream(_, len) => write!(f, "Stream(length {len:?})"),
        }
    }
}

/// The body of one attempt, as the transport is to send it.
pub enum OutgoingBody<S> {
    /// No body.
    Empty,
    /// A complete body.
    Bytes(Bytes),
    /// A complete body in pieces, to send one after another (`Content-Length`: their
    /// total, [`chunks_len`]).
    Chunks(Vec<Bytes>),
    /// A streamed body, with `Content-Length` when `length` is known and chunked
    /// otherwise.
    Stream {
        /// The data.
        stream: S,
        /// Its length, if known.
        length: Option<u64>,
    },
}

impl<S> std::fmt::Debug for OutgoingBody<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutgoingBody::Empty => f.write_str("Empty"),
            OutgoingBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            OutgoingBody::Chunks(c) => write!(f, "Chunks({} bytes)", chunks_len(c)),
            OutgoingBody::Stream { length, .. } => write!(f, "Stream(length {length:?})"),
        }
    }
}

/// The total length of a body sent in pieces.
pub fn chunks_len(chunks: &[Bytes]) -> u64 {
    chunks.iter().map(|c| c.len() as u64).sum()
}

/// A failed attempt, classified for the retry policy.
#[derive(Debug)]
pub struct Failure {
    /// How it failed.
    pub class: FailureClass,
    /// The delay the service asked for (`Retry-After`), if any.
    pub retry_after: Option<Duration>,
    /// The error to report if the call gives up.
    pub error: Error,
}

impl Failure {
    /// An error answer of the service: its status, headers and (the first
    /// [`MAX_ERROR_BODY`] bytes of its) body; `now` resolves a `Retry-After` date.
    pub fn from_status(
        action: maxstorage_protocol::Action,
        parts: &http::response::Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Failure {
        let err = maxstorage_protocol::error::parse_service_error(action, parts, body);
        let retry_after = err
            .retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, now).ok());
        Failure {
            class: FailureClass::Status(err.status),
            retry_after,
            error: Error::from(err),
        }
    }

    /// A failure before anything was sent (the credentials provider failed, an
    /// [`Error::Credentials`]): retrying cannot duplicate anything.
    pub fn not_sent(error: Error) -> Failure {
        Failure {
            class: FailureClass::Connect,
            retry_after: None,
            error,
        }
    }

    /// A failure of the HTTP exchange itself.
    pub fn from_transport(e: TransportError) -> Failure {
        Failure {
            class: e.kind.failure_class(),
            retry_after: None,
            error: Error::Transport(e),
        }
    }
}

/// What every call of a client needs besides the transport: configuration, retry policy
/// (with its jitter) and the route token of each session.
#[derive(Debug)]
pub struct CallCore {
    /// The configuration requests are built with.
    pub config: ClientConfig,
    /// The retry policy.
    pub retry: RetryPolicy,
    jitter: Mutex<SplitMix64>,
    affinity: Mutex<RouteAffinity>,
    provider: Option<std::sync::Arc<dyn crate::credentials::CredentialsProvider>>,
}

impl CallCore {
    /// A core with this configuration and policy; `seed` seeds the retry jitter.
    pub fn new(config: ClientConfig, retry: RetryPolicy, seed: u64) -> CallCore {
        CallCore {
            config,
            retry,
            jitter: Mutex::new(SplitMix64::new(seed)),
            affinity: Mutex::new(RouteAffinity::new()),
            provider: None,
        }
    }

    /// The same core signing every request with the credentials `provider` gives at
    /// that moment (instead of the configuration's).
    pub fn with_credentials_provider(
        mut self,
        provider: Option<std::sync::Arc<dyn crate::credentials::CredentialsProvider>>,
    ) -> CallCore {
        self.provider = provider;
        self
    }

    /// The token to send on a call with this route.
    pub fn token(&self, route: &Route<'_>) -> Option<String> {
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

    /// Records what a successful answer says about routing.
    pub fn on_success(&self, route: &Route<'_>, parts: &http::response::Parts) {
        self.observe_token(
            route,
            maxstorage_protocol::header::route_token(&parts.headers),
        );
    }

    fn decide(
        &self,
        attempt: u32,
        class: FailureClass,
        idempotency: Idempotency,
        retry_after: Option<Duration>,
    ) -> Result<RetryDecision> {
        let mut jitter = self
            .jitter
            .lock()
            .map_err(|_| Error::Internal("the retry jitter lock is poisoned"))?;
        Ok(self
            .retry
            .decide(attempt, class, idempotency, retry_after, &mut *jitter))
    }
}

/// What the driver of a call does next (see the module docs).
#[must_use = "send the request, or wait and ask again"]
pub enum Attempt<S> {
    /// Send this request, then report how it went: [`Attempts::on_answer`] (and, for an
    /// error status, [`Attempts::on_error_answer`]) or [`Attempts::on_transport_error`].
    Send(Box<http::Request<OutgoingBody<S>>>),
    /// Wait this long before the next attempt, then ask again.
    Wait(Duration),
}

/// The attempts of one call: the body each attempt sends, and whether another attempt
/// follows a failure.
pub struct Attempts<S> {
    /// The wait decided after the last failure, not yet handed out.
    pending: Option<Duration>,
    fixed: Option<Vec<Bytes>>,
    stream: Option<(S, Option<u64>)>,
    one_shot: bool,
    attempt: u32,
    idempotency: Idempotency,
    span: tracing::Span,
}

impl<S> std::fmt::Debug for Attempts<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempts")
            .field("attempt", &self.attempt)
            .field("one_shot", &self.one_shot)
            .field("idempotency", &self.idempotency)
            .finish_non_exhaustive()
    }
}

impl<S> Attempts<S> {
    /// The attempts of `call` sending `body`.
    pub fn new<C: Call>(call: &C, body: SendBody<S>) -> Attempts<S> {
        let idempotency = if call.is_idempotent() {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        let (fixed, stream) = match body {
            SendBody::Call => (None, None),
            SendBody::Bytes(b) => (Some(vec![b]), None),
            SendBody::Chunks(c) => (Some(c), None),
            SendBody::Stream(s, len) => (None, Some((s, len))),
        };
        let span = tracing::debug_span!(
            "maxstorage.call",
            action = %call.action(),
            target = tracing::field::Empty,
            session = tracing::field::Empty,
            attempt = tracing::field::Empty,
            request_bytes = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        Attempts {
            pending: None,
            one_shot: stream.is_some(),
            fixed,
            stream,
            attempt: 1,
            idempotency,
            span,
        }
    }

    /// The span of the call (all its attempts): `action`, `target` and `session` are set,
    /// `attempt`, `request_bytes`, `status`, `request_id` and `latency_ms` recorded as each
    /// attempt goes. Transports run the exchange inside it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// What to do next: send the next attempt's request (built and signed at `now` with
    /// the route's token), or wait first; `Err` when the call gives up.
    pub fn next<C: Call>(
        &mut self,
        core: &CallCore,
        call: &C,
        route: &Route<'_>,
        now: SystemTime,
    ) -> Result<Attempt<S>> {
        if let Some(delay) = self.pending.take() {
            return Ok(Attempt::Wait(delay));
        }
        match self.request(core, call, route, now) {
            Ok(request) => Ok(Attempt::Send(Box::new(request))),
            Err(e @ Error::Credentials(_)) => Ok(Attempt::Wait(self.on_failure(
                core,
                call,
                Failure::not_sent(e),
            )?)),
            Err(e) => Err(e),
        }
    }

    /// Takes the answer to the current attempt (its head, after `elapsed`): true when it
    /// succeeded (its route token is recorded) — the call is done, its body is the
    /// caller's; false for an error status, which goes on to
    /// [`on_error_answer`](Self::on_error_answer).
    pub fn on_answer(
        &mut self,
        core: &CallCore,
        route: &Route<'_>,
        parts: &http::response::Parts,
        elapsed: Duration,
    ) -> bool {
        let request_id = parts
            .headers
            .get(maxstorage_protocol::header::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        self.span.record("status", parts.status.as_u16());
        self.span.record("request_id", request_id);
        self.span.record("latency_ms", latency_ms);
        debug!(parent: &self.span, status = parts.status.as_u16(), request_id, latency_ms, "answer");
        let success = parts.status.is_success();
        if success {
            core.on_success(route, parts);
        }
        success
    }

    /// Takes an error answer (its head and the first [`MAX_ERROR_BODY`] bytes of its
    /// body; `now` resolves a `Retry-After` date): `Ok` when another attempt follows,
    /// the service's error when the call gives up.
    pub fn on_error_answer<C: Call>(
        &mut self,
        core: &CallCore,
        call: &C,
        parts: &http::response::Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Result<()> {
        let failure = Failure::from_status(call.action(), parts, body, now);
        self.pending = Some(self.on_failure(core, call, failure)?);
        Ok(())
    }

    /// Takes the failure of the exchange itself: `Ok` when another attempt follows, the
    /// error when the call gives up.
    pub fn on_transport_error<C: Call>(
        &mut self,
        core: &CallCore,
        call: &C,
        error: TransportError,
    ) -> Result<()> {
        self.pending = Some(self.on_failure(core, call, Failure::from_transport(error))?);
        Ok(())
    }

    /// The number of the attempt about to be made (1-based).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Builds the next attempt's request, signed at `now` with the route's token.
    fn request<C: Call>(
        &mut self,
        core: &CallCore,
        call: &C,
        route: &Route<'_>,
        now: SystemTime,
    ) -> Result<http::Request<OutgoingBody<S>>> {
        if let Some((target, session)) = route.session {
            self.span.record("target", target);
            self.span.record("session", session);
        }
        self.span.record("attempt", self.attempt);
        let token = core.token(route);
        let fresh = match &core.provider {
            Some(p) => Some(
                p.credentials(now)
                    .map_err(|e| Error::Credentials(Box::new(e)))?,
            ),
            None => None,
        };
        let ctx = RequestContext::new(&core.config, now)
            .with_route_token(token.as_deref())
            .with_credentials(fresh.as_ref());
        let (parts, built) = call.build(&ctx)?.into_parts();
        let body = match (&self.fixed, built) {
            (Some(chunks), _) => match chunks.as_slice() {
                [one] => OutgoingBody::Bytes(one.clone()),
                _ => OutgoingBody::Chunks(chunks.clone()),
            },
            (None, Body::Json(b)) => OutgoingBody::Bytes(b),
            (None, Body::Empty) => OutgoingBody::Empty,
            (None, Body::Streaming { content_length }) => match self.stream.take() {
                Some((stream, len)) => OutgoingBody::Stream {
                    stream,
                    length: len.or(content_length),
                },
                None => {
                    return Err(Error::Internal(
                        "a call with a one-shot body was sent again without it",
                    ));
                }
            },
        };
        let bytes = match &body {
            OutgoingBody::Empty => Some(0),
            OutgoingBody::Bytes(b) => Some(b.len() as u64),
            OutgoingBody::Chunks(c) => Some(chunks_len(c)),
            OutgoingBody::Stream { length, .. } => *length,
        };
        if let Some(bytes) = bytes {
            self.span.record("request_bytes", bytes);
        }
        Ok(http::Request::from_parts(parts, body))
    }

    /// Decides after a failed attempt: `Ok(delay)` to try again after `delay`, or the
    /// error to report. A streamed body is consumed by its attempt: never retried.
    fn on_failure<C: Call>(
        &mut self,
        core: &CallCore,
        call: &C,
        failure: Failure,
    ) -> Result<Duration> {
        if self.one_shot {
            return Err(failure.error);
        }
        let attempt = self.attempt;
        match core.decide(
            attempt,
            failure.class,
            self.idempotency,
            failure.retry_after,
        )? {
            RetryDecision::RetryAfter(delay) => {
                warn!(action = %call.action(), attempt, ?delay, error = %failure.error, "retrying");
                self.attempt += 1;
                Ok(delay)
            }
            RetryDecision::GiveUp(reason) => {
                debug!(action = %call.action(), attempt, %reason, "giving up");
                Err(failure.error)
            }
        }
    }
}

/// Fails when a complete answer is larger than [`MAX_JSON_BODY`].
pub fn check_answer_size(action: maxstorage_protocol::Action, len: usize) -> Result<()> {
    if len > MAX_JSON_BODY {
        return Err(IntegrityError::AnswerTooLarge {
            action,
            limit: MAX_JSON_BODY,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxstorage_protocol::read::GetReadSession;
    use maxstorage_protocol::{Credentials, Endpoint, TableId};

    fn core(retry: RetryPolicy) -> CallCore {
        let endpoint = Endpoint::parse("http://127.0.0.1:9").unwrap();
        CallCore::new(
            ClientConfig::new(endpoint, Credentials::new("ak", "sk")),
            retry,
            7,
        )
    }

    fn call() -> GetReadSession {
        GetReadSession {
            table: TableId::new("p", "t"),
            session_id: "s1".into(),
            refresh: false,
        }
    }

    fn head(code: u16, headers: &[(&str, &str)]) -> http::response::Parts {
        let mut b = http::Response::builder().status(code);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn retries_with_the_services_delay_then_gives_up() {
        let core = core(RetryPolicy::default().with_max_attempts(2));
        let route = Route::default();
        let now = SystemTime::UNIX_EPOCH;
        let mut a = Attempts::<()>::new(&call(), SendBody::Call);
        assert!(matches!(
            a.next(&core, &call(), &route, now).unwrap(),
            Attempt::Send(_)
        ));
        let busy = head(503, &[("retry-after", "7")]);
        assert!(!a.on_answer(&core, &route, &busy, Duration::ZERO));
        a.on_error_answer(&core, &call(), &busy, b"{}", now)
            .unwrap();
        let Attempt::Wait(delay) = a.next(&core, &call(), &route, now).unwrap() else {
            panic!("expected a wait")
        };
        assert_eq!(delay, Duration::from_secs(7));
        assert!(matches!(
            a.next(&core, &call(), &route, now).unwrap(),
            Attempt::Send(_)
        ));
        assert_eq!(a.attempt(), 2);
        let err = a
            .on_error_answer(&core, &call(), &head(503, &[]), b"{}", now)
            .unwrap_err();
        assert_eq!(err.service_code(), Some("ServiceUnavailable"));
    }

    #[test]
    fn a_success_records_the_route_token_of_its_session() {
        let core = core(RetryPolicy::default());
        let route = Route::session("t", "s1");
        let mut a = Attempts::<()>::new(&call(), SendBody::Call);
        let ok = head(
            200,
            &[(maxstorage_protocol::header::ROUTE_TOKEN, "rt;s1;2")],
        );
        assert!(a.on_answer(&core, &route, &ok, Duration::from_millis(3)));
        assert_eq!(core.token(&route).as_deref(), Some("rt;s1;2"));
    }

    #[test]
    fn a_streamed_body_is_never_resent() {
        let core = core(RetryPolicy::default());
        let mut a = Attempts::new(&call(), SendBody::Stream((), None));
        let refused = TransportError {
            kind: crate::error::TransportErrorKind::Connect,
            host: "h".into(),
            message: "refused".into(),
        };
        assert!(a.on_transport_error(&core, &call(), refused).is_err());
    }

    #[test]
    fn route_tokens_follow_their_session_and_overrides_win() {
        let core = core(RetryPolicy::default());
        let route = Route::session("t", "s1");
        assert_eq!(core.token(&route), None);
        core.observe_token(&route, Some("rt;s1;1"));
        assert_eq!(core.token(&route).as_deref(), Some("rt;s1;1"));
        assert_eq!(core.token(&Route::session("t", "s2")), None);
        assert_eq!(
            core.token(&route.with_override(Some("x"))).as_deref(),
            Some("x")
        );
    }
}
