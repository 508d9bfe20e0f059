//! Header names of the Storage API and small helpers to read them.

use http::HeaderMap;

/// Request id of every response.
pub const REQUEST_ID: &str = "x-odps-request-id";
/// Route token for session affinity, in responses and requests (protocol.md B§3.3).
pub const ROUTE_TOKEN: &str = "x-odps-max-storage-route-token";
/// Exactly-once access token sent on `TableWrite`.
pub const WRITE_ACCESS_TOKEN: &str = "x-odps-max-storage-write-access-token";
/// Signed copy of the user agent.
pub const ODPS_USER_AGENT: &str = "x-odps-user-agent";
/// STS security token (not signed).
pub const STS_TOKEN: &str = "authorization-sts-token";
/// Request tags (not signed).
pub const TUNNEL_TAGS: &str = "odps-tunnel-tags";
/// Read-side compression negotiation (the official clients spell it `ACCEPT-ENCODING`;
/// header names are case-insensitive).
pub const ACCEPT_ENCODING: &str = "accept-encoding";
/// Compression of a body.
pub const CONTENT_ENCODING: &str = "content-encoding";
/// Content type.
pub const CONTENT_TYPE: &str = "content-type";
/// Content length.
pub const CONTENT_LENGTH: &str = "content-length";
/// Signature.
pub const AUTHORIZATION: &str = "authorization";
/// Request date (RFC 1123, GMT).
pub const DATE: &str = "date";
/// Content MD5 (part of the canonical string; not sent by this client).
pub const CONTENT_MD5: &str = "content-md5";
/// Retry delay advised by the service.
pub const RETRY_AFTER: &str = "retry-after";
/// User agent.
pub const USER_AGENT: &str = "user-agent";

/// `Content-Type` of JSON request bodies.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// `Content-Type` of `TableWrite` and blob bodies.
pub const OCTET_STREAM: &str = "application/octet-stream";
/// `Content-Type` of BatchCompatible block uploads.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// The value of a header as a string, if present and visible ASCII (or valid UTF-8).
pub fn get_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The route token of a response, if it carries a non-empty one.
pub fn route_token(headers: &HeaderMap) -> Option<&str> {
    get_str(headers, ROUTE_TOKEN)
        .map(str::trim)
        .filter(|t| !t.is_empty())
}
