//! One type per Action: each builds its request and parses its response.
//!
//! A call is plain data (its arguments). [`Call::build`] turns it into an
//! `http::Request<Body>` given a [`RequestContext`]; [`Call::parse`] turns the response
//! into a typed result or a typed error. Calls whose response body is a stream (Arrow IPC,
//! blob bytes) parse only the head on success and return a [`StreamingResponse`]; the
//! caller then feeds the body to the codec or the frame decoders.

use http::response::Parts;
use serde::de::DeserializeOwned;

use crate::action::Action;
use crate::compression::Compression;
use crate::error::{Error, InvalidResponse, parse_service_error};
use crate::header;
use crate::request::{Body, RequestContext};

pub mod blob;
pub mod discovery;
pub mod instance;
pub mod read;
pub mod write;

/// The most of an error answer's body a driver reads to build the service error
/// ([`Call::parse`] needs only its first bytes; a hostile body cannot grow memory).
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The most of a complete (JSON) answer a driver reads: answers are small, this bounds a
/// hostile one; a larger answer is an error, not an allocation.
pub const MAX_JSON_BODY: usize = 64 * 1024 * 1024;

/// A Storage API call: its arguments, how to send it, and how to read the answer.
pub trait Call {
    /// The typed result of a successful response.
    type Output;

    /// The Action of this call.
    fn action(&self) -> Action;

    /// Whether sending the request twice has the same effect as sending it once, so it may
    /// be retried after a failure whose outcome is unknown.
    fn is_idempotent(&self) -> bool;

    /// Builds the signed request.
    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error>;

    /// Parses a response. For calls with a streamed response body, `body` is consulted only
    /// when the status is an error (pass the first [`MAX_ERROR_BODY`] bytes of the error
    /// body); on success only the head is read. A complete answer is at most
    /// [`MAX_JSON_BODY`] bytes.
    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<Self::Output, Error>;
}

/// The head of a successful response whose body is streamed (Arrow IPC or blob bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamingResponse {
    /// The `Content-Encoding` of the body, verbatim, if any.
    pub content_encoding: Option<String>,
    /// The whole-body compression named by `Content-Encoding`: `None` when the header is
    /// absent (the body may still start with a compressed frame — the codec sniffs), and
    /// `Some(Uncompressed)` for `identity`.
    pub compression: Option<Compression>,
    /// The route token of the response, if any.
    pub route_token: Option<String>,
    /// The `x-odps-request-id` of the response.
    pub request_id: Option<String>,
}

/// The request id header of a response.
pub fn request_id(parts: &Parts) -> Option<String> {
    header::get_str(&parts.headers, header::REQUEST_ID).map(str::to_string)
}

/// The route token header of a response.
pub fn route_token(parts: &Parts) -> Option<String> {
    header::route_token(&parts.headers).map(str::to_string)
}

/// Fails with the service error when the status is not 2xx.
pub fn check_status(action: Action, parts: &Parts, body: &[u8]) -> Result<(), Error> {
    if parts.status.is_success() {
        Ok(())
    } else {
        Err(Error::Service(parse_service_error(action, parts, body)))
    }
}

/// Checks the status, then parses a JSON body (an empty body is read as `{}`).
pub(crate) fn parse_json<T: DeserializeOwned>(
    action: Action,
    parts: &Parts,
    body: &[u8],
) -> Result<T, Error> {
    check_status(action, parts, body)?;
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        Error::InvalidResponse(InvalidResponse {
            action,
            field: None,
            detail: format!("malformed JSON body: {e}"),
            request_id: request_id(parts),
        })
    })
}

/// Checks the status and reads the head of a streamed response.
pub(crate) fn parse_streaming(
    action: Action,
    parts: &Parts,
    body: &[u8],
) -> Result<StreamingResponse, Error> {
    check_status(action, parts, body)?;
    let content_encoding = header::get_str(&parts.headers, header::CONTENT_ENCODING)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let compression = match content_encoding {
        None => None,
        Some(token) => Some(Compression::from_http_token(token).ok_or_else(|| {
            Error::InvalidResponse(InvalidResponse {
                action,
                field: Some("Content-Encoding".into()),
                detail: format!("unsupported encoding {token:?}"),
                request_id: request_id(parts),
            })
        })?),
    };
    Ok(StreamingResponse {
        content_encoding: content_encoding.map(str::to_string),
        compression,
        route_token: route_token(parts),
        request_id: request_id(parts),
    })
}

/// A usage error for an invalid argument.
pub(crate) fn invalid_argument(name: &'static str, reason: impl Into<String>) -> Error {
    Error::Usage(crate::error::UsageError::InvalidArgument {
        name,
        reason: reason.into(),
    })
}
