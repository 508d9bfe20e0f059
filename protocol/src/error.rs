//! Errors of the protocol core: what the service said, what it sent that we could not
//! understand, and what the caller asked that the protocol does not allow.

use std::fmt;

use crate::action::Action;
use crate::header;

/// Any error of the protocol core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service answered with an error status.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The service answered success, but the response could not be understood.
    #[error(transparent)]
    InvalidResponse(#[from] InvalidResponse),
    /// A framed body (blob frames, CRC32C blocks) was malformed.
    #[error(transparent)]
    Frame(#[from] crate::frame::FrameError),
    /// The caller asked for something the protocol or the current state does not allow.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A request may or may not have been applied (its answer was lost and it could not be
    /// retried or settled by asking the service); `reason` says what is at stake and what
    /// to do.
    #[error("the outcome of {operation} is unknown: {reason}")]
    OutcomeUnknown {
        /// The operation whose outcome is unknown.
        operation: &'static str,
        /// What happened and what the caller can do.
        reason: String,
    },
}

impl Error {
    /// The HTTP status of a service error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Service(e) => Some(e.status),
            _ => None,
        }
    }

    /// Whether retrying the same (idempotent) request may succeed: 408, 429 and 5xx service
    /// errors (protocol.md A8). Everything else is permanent.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Service(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// The request id of the response this error came from, if known.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Service(e) => e.request_id.as_deref(),
            Error::InvalidResponse(e) => e.request_id.as_deref(),
            _ => None,
        }
    }
}

/// An error answer of the service: HTTP status, error code, message and request id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ServiceError {
    /// The action of the failed request.
    pub action: Action,
    /// The HTTP status code.
    pub status: u16,
    /// The service's error code, e.g. `NoSuchSession`. For bodies without a code, the
    /// status reason in CamelCase (e.g. `ServiceUnavailable`).
    pub code: String,
    /// The service's message (or the start of a non-JSON body).
    pub message: String,
    /// The `x-odps-request-id` header (or `RequestId` of the body).
    pub request_id: Option<String>,
    /// The `Retry-After` header, verbatim, if the service sent one.
    pub retry_after: Option<String>,
}

impl ServiceError {
    /// Whether the status is transient (408, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        crate::retry::is_retryable_status(self.status)
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: HTTP {} {}: {}",
            self.action, self.status, self.code, self.message
        )?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// The longest part of a non-JSON error body kept in a [`ServiceError`] message.
const MAX_ERROR_TEXT: usize = 1024;

/// Builds the [`ServiceError`] of an error response from its status, headers and (bounded)
/// body. Understands the JSON form `{Code, Message, RequestId}`, the XML form
/// `<Error><Code/><Message/><RequestId/></Error>`, and any other body (kept as message).
pub fn parse_service_error(
    action: Action,
    parts: &http::response::Parts,
    body: &[u8],
) -> ServiceError {
    let header_request_id = header::get_str(&parts.headers, header::REQUEST_ID).map(str::to_string);
    let retry_after = header::get_str(&parts.headers, header::RETRY_AFTER).map(str::to_string);
    let status = parts.status.as_u16();
    let (code, message, body_request_id) = parse_error_body(body).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_TEXT)])
            .trim()
            .to_string();
        (None, if text.is_empty() { None } else { Some(text) }, None)
    });
    let reason = parts
        .status
        .canonical_reason()
        .unwrap_or("Error")
        .replace([' ', '-'], "");
    ServiceError {
        action,
        status,
        code: code.filter(|c| !c.is_empty()).unwrap_or(reason),
        message: message.unwrap_or_default(),
        request_id: header_request_id.or(body_request_id),
        retry_after,
    }
}

type ErrorFields = (Option<String>, Option<String>, Option<String>);

fn parse_error_body(body: &[u8]) -> Option<ErrorFields> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let obj = value.as_object()?;
        let field = |k: &str| {
            obj.get(k).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
        };
        let (code, message) = (field("Code"), field("Message"));
        if code.is_none() && message.is_none() {
            return None;
        }
        return Some((code, message, field("RequestId")));
    }
    if text.starts_with('<') {
        let code = xml_tag(text, "Code");
        let message = xml_tag(text, "Message");
        if code.is_none() && message.is_none() {
            return None;
        }
        return Some((code, message, xml_tag(text, "RequestId")));
    }
    None
}

fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    let raw = text[start..end].trim();
    let raw = raw
        .strip_prefix("<![CDATA[")
        .and_then(|r| r.strip_suffix("]]>"))
        .unwrap_or(raw);
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// A success response the client could not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action}: invalid response{}: {detail}{}", field.as_ref().map(|f| format!(" field {f}")).unwrap_or_default(), request_id.as_ref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
pub struct InvalidResponse {
    /// The action of the request.
    pub action: Action,
    /// The field (JSON key or header) that was wrong, if one was.
    pub field: Option<String>,
    /// What was wrong.
    pub detail: String,
    /// The `x-odps-request-id` of the response.
    pub request_id: Option<String>,
}

/// A request the protocol or the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// An argument is out of range or malformed.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// An operation is not allowed in the current state.
    #[error("{operation} is not allowed: {reason}")]
    InvalidState {
        /// The operation attempted.
        operation: &'static str,
        /// The state that forbids it.
        reason: String,
    },
    /// A write operation on a read-only (instance) target.
    #[error("{operation} is not allowed on an instance (query result): instances are read-only")]
    ReadOnlyTarget {
        /// The operation attempted.
        operation: &'static str,
    },
}

/// An invalid configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The endpoint URL is not usable.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A table name that is not `project.table`, `project.schema.table` or a target.
    #[error(
        "invalid table {0:?}: expected project.table, project.schema.table or projects.<p>[.schemas.<s>].tables.<t>"
    )]
    InvalidTable(String),
    /// A header value that cannot be sent (non-visible ASCII characters).
    #[error("invalid value for header {header}: it must be visible ASCII")]
    InvalidHeaderValue {
        /// The header name.
        header: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn json_error_body() {
        let p = parts(404, &[("x-odps-request-id", "req-1")]);
        let e = parse_service_error(
            Action::TableGetReadSession,
            &p,
            br#"{"Code": "NoSuchSession", "Message": "read session not found"}"#,
        );
        assert_eq!(e.status, 404);
        assert_eq!(e.code, "NoSuchSession");
        assert_eq!(e.message, "read session not found");
        assert_eq!(e.request_id.as_deref(), Some("req-1"));
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "TableGetReadSession failed: HTTP 404 NoSuchSession: read session not found (request id req-1)"
        );
    }

    #[test]
    fn xml_error_body() {
        let p = parts(403, &[]);
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoPermission</Code><Message>a &amp; b</Message><RequestId>r2</RequestId></Error>";
        let e = parse_service_error(Action::TableRead, &p, body);
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.request_id.as_deref()),
            ("NoPermission", "a & b", Some("r2"))
        );
    }

    #[test]
    fn non_json_body_and_retry_after() {
        let p = parts(503, &[("Retry-After", "3")]);
        let e = parse_service_error(Action::TableWrite, &p, b"<html>bad gateway</html>");
        assert_eq!(e.code, "ServiceUnavailable");
        assert_eq!(e.message, "<html>bad gateway</html>");
        assert_eq!(e.retry_after.as_deref(), Some("3"));
        assert!(e.is_retryable());
        let e = parse_service_error(Action::TableWrite, &parts(500, &[]), &[0xff, 0xfe]);
        assert_eq!(e.code, "InternalServerError");
    }

    #[test]
    fn non_string_json_values() {
        let e = parse_service_error(
            Action::TableRead,
            &parts(400, &[]),
            br#"{"Code": 12, "Message": null, "RequestId": "b"}"#,
        );
        assert_eq!(e.code, "12");
        assert_eq!(e.message, "");
        assert_eq!(e.request_id.as_deref(), Some("b"));
    }
}
