//! Server-side helpers: how a service reads the requests the clients of this crate (and the
//! official SDKs) send — the path and API version, `Action`, `Target` and query, partition
//! specs, and the signature with its clock-skew bound.
//!
//! Like the rest of the crate these are pure functions: the caller passes the current
//! time in. The emulator (`maxstorage-emulator`) is their user; keeping them here means
//! the request builders and the server share one definition of the wire.

use std::time::{Duration, SystemTime};

use crate::action::Action;
use crate::config::{ApiVersion, Credentials, InstanceId, TableId, Target};
use crate::header;
use crate::sign::{
    SignedParts, Verification, canonical_string, v4_scope_date, verify_authorization,
};
use crate::time::{parse_http_date, yyyymmdd};

/// The clock skew a signed request's `Date` may have (protocol.md B§2.2: ±15 minutes).
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// What an incoming request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPath {
    /// The storage endpoint `/api/storage/v2|v3`, optionally below one more `/api`
    /// prefix (protocol.md B§1.1).
    Storage(ApiVersion),
    /// Tunnel endpoint discovery, `[/api]/projects/<project>/tunnel` (B§1.2).
    TunnelDiscovery {
        /// The project named in the path.
        project: String,
    },
    /// Anything else.
    Other,
}

impl RequestPath {
    /// Classifies a request path (without query). A trailing `/` is ignored.
    pub fn classify(path: &str) -> RequestPath {
        let path = path.trim_end_matches('/');
        let rest = path.strip_prefix("/api").filter(|r| r.starts_with('/'));
        for candidate in [Some(path), rest].into_iter().flatten() {
            match candidate {
                "/api/storage/v2" => return RequestPath::Storage(ApiVersion::V2),
                "/api/storage/v3" => return RequestPath::Storage(ApiVersion::V3),
                _ => {}
            }
            let parts: Vec<&str> = candidate.split('/').collect();
            if let ["", "projects", project, "tunnel"] = parts.as_slice()
                && !project.is_empty()
            {
                return RequestPath::TunnelDiscovery {
                    project: (*project).to_string(),
                };
            }
        }
        RequestPath::Other
    }
}

/// The signed-resource candidates of a request path: the path itself and, when it starts
/// with `/api/`, the path without that prefix. A client signs the path relative to the
/// base URL it was configured with, which a server cannot know (protocol.md B§2.1), so a
/// signature over either candidate is accepted.
pub fn resource_candidates(path: &str) -> Vec<&str> {
    let mut out = vec![path];
    if let Some(rest) = path.strip_prefix("/api").filter(|r| r.starts_with('/')) {
        out.push(rest);
    }
    out
}

/// Why an incoming storage request cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A required query parameter is missing.
    #[error("missing query parameter {0}")]
    MissingParameter(&'static str),
    /// The `Action` is not one of the Storage API.
    #[error("unknown Action {0:?}")]
    UnknownAction(String),
    /// The `Target` is not a table, instance or `generic.blob` target.
    #[error(
        "invalid Target {0:?}: expected projects.<p>.schemas.<s>.tables.<t>, projects.<p>.tables.<t>, projects.<p>.instances.<id> or generic.blob"
    )]
    InvalidTarget(String),
    /// A parameter has a value that cannot be used.
    #[error("invalid value {value:?} for {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A parsed storage request: API version, `Action`, `Target` and all query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRequest {
    /// The API version of the path.
    pub version: ApiVersion,
    /// The `Action` parameter.
    pub action: Action,
    /// The `Target` parameter.
    pub target: Target,
    /// Every query parameter, decoded, in wire order.
    pub query: Vec<(String, String)>,
}

impl StorageRequest {
    /// Parses the decoded query of a request to the storage endpoint of `version`.
    ///
    /// # Errors
    /// A missing or unknown `Action`, a missing or malformed `Target`.
    pub fn parse(
        version: ApiVersion,
        query: Vec<(String, String)>,
    ) -> Result<StorageRequest, RequestError> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let action = get("Action").ok_or(RequestError::MissingParameter("Action"))?;
        let action: Action = action
            .parse()
            .map_err(|_| RequestError::UnknownAction(action.clone()))?;
        let target = get("Target").ok_or(RequestError::MissingParameter("Target"))?;
        let target = parse_target(&target, get("curr_project").as_deref())?;
        Ok(StorageRequest {
            version,
            action,
            target,
            query,
        })
    }

    /// The value of a query parameter (exact name first, then ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| {
                self.query
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty parameter.
    ///
    /// # Errors
    /// [`RequestError::MissingParameter`] when absent or empty.
    pub fn required(&self, name: &'static str) -> Result<&str, RequestError> {
        self.param(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or(RequestError::MissingParameter(name))
    }

    /// An optional integer parameter; an empty value counts as absent.
    ///
    /// # Errors
    /// [`RequestError::InvalidParameter`] when present and not a 64-bit integer.
    pub fn i64_param(&self, name: &str) -> Result<Option<i64>, RequestError> {
        match self.param(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| RequestError::InvalidParameter {
                    name: name.to_string(),
                    value: v.to_string(),
                    reason: "expected an integer".into(),
                }),
        }
    }

    /// An optional boolean parameter (`true`/`false` in any case; empty = absent).
    ///
    /// # Errors
    /// [`RequestError::InvalidParameter`] for any other value.
    pub fn bool_param(&self, name: &str) -> Result<Option<bool>, RequestError> {
        match self.param(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(RequestError::InvalidParameter {
                name: name.to_string(),
                value: v.to_string(),
                reason: "expected true or false".into(),
            }),
        }
    }

    /// The table of a table target.
    pub fn table(&self) -> Option<&TableId> {
        match &self.target {
            Target::Table(t) => Some(t),
            _ => None,
        }
    }
}

/// Parses a `Target` value: the 6-part and 4-part table forms, the instance form, and
/// `generic.blob` (whose project is `curr_project`, empty when absent).
///
/// # Errors
/// [`RequestError::InvalidTarget`].
pub fn parse_target(value: &str, curr_project: Option<&str>) -> Result<Target, RequestError> {
    let bad = || RequestError::InvalidTarget(value.to_string());
    if value == "generic.blob" {
        return Ok(Target::Blob {
            project: curr_project.unwrap_or_default().to_string(),
        });
    }
    let parts: Vec<&str> = value.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    match parts.as_slice() {
        ["projects", p, "instances", i] => Ok(Target::Instance(InstanceId::new(*p, *i))),
        ["projects", ..] => TableId::parse(value).map(Target::Table).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Why a partition spec cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid partition spec {spec:?}: {reason}")]
pub struct PartitionSpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses a partition spec such as `pt=20230101,region=cn` or `pt=20230101/region=cn`
/// (both separators are sent by official SDKs, protocol.md A9) into `(key, value)` pairs
/// in order. Whitespace around items is ignored; a value in single or double quotes is
/// unquoted. The empty spec is the empty list.
///
/// # Errors
/// An item without `=`, an empty key or value, or a key given twice.
pub fn parse_partition_spec(spec: &str) -> Result<Vec<(String, String)>, PartitionSpecError> {
    let err = |reason: String| PartitionSpecError {
        spec: spec.to_string(),
        reason,
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for item in spec.split([',', '/']) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| err(format!("item {item:?} is not key=value")))?;
        let key = key.trim();
        let value = unquote(value.trim());
        if key.is_empty() {
            return Err(err(format!("item {item:?} has an empty key")));
        }
        if value.is_empty() {
            return Err(err(format!("partition {key:?} has an empty value")));
        }
        if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(err(format!("partition {key:?} is given twice")));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

fn unquote(v: &str) -> &str {
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// Renders partition pairs as `k=v/k2=v2` (the form the Java SDK sends).
pub fn format_partition_spec(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("/")
}

/// The parts of an incoming request that its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The request path (without query); see [`resource_candidates`].
    pub path: &'a str,
    /// Query parameters, decoded.
    pub query: &'a [(String, String)],
    /// Request headers (name, value).
    pub headers: &'a [(String, String)],
}

impl IncomingRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("the request is not signed: missing Authorization header")]
    MissingAuthorization,
    /// The `Authorization` header is not of a known form.
    #[error("malformed Authorization header: {0}")]
    Malformed(String),
    /// The access key id is not known.
    #[error("unknown access key id {0:?}")]
    UnknownAccessId(String),
    /// The signature does not match the request.
    #[error(
        "the request signature does not match (check the access key secret and the signed headers, query and path)"
    )]
    SignatureMismatch,
    /// No or an unparsable `Date` header.
    #[error(
        "missing or malformed Date header {0:?} (expected RFC 1123, e.g. Mon, 01 Jan 2024 00:00:00 GMT)"
    )]
    InvalidDate(String),
    /// The `Date` is too far from the server's clock.
    #[error(
        "the request Date {date:?} is {skew_secs} s away from the server time (at most {max_secs} s allowed)"
    )]
    DateSkewed {
        /// The `Date` header.
        date: String,
        /// The difference in seconds.
        skew_secs: u64,
        /// The allowed difference in seconds.
        max_secs: u64,
    },
    /// The v4 scope date is not the day of the `Date` header.
    #[error("the v4 signature scope date {scope:?} is not the day of the Date header ({expected})")]
    ScopeDateMismatch {
        /// The scope date of the `Authorization` header.
        scope: String,
        /// The day of the `Date` header.
        expected: String,
    },
    /// The credentials carry an STS token and the request's `authorization-sts-token`
    /// is missing or different.
    #[error("missing or wrong STS security token")]
    StsTokenMismatch,
    /// A header the signature or its checks read appears more than once, so what is
    /// checked and what is signed could differ (a stale request replayed with a fresh
    /// `Date` in front).
    #[error("the request has {count} {name} headers: a signed request has at most one")]
    RepeatedHeader {
        /// The header.
        name: String,
        /// How many times it appears.
        count: usize,
    },
}

impl AuthError {
    /// The error code a service answers with.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthorization | AuthError::Malformed(_) => "AuthorizationRequired",
            AuthError::UnknownAccessId(_) => "InvalidAccessKeyId",
            AuthError::SignatureMismatch | AuthError::ScopeDateMismatch { .. } => {
                "SignatureNotMatch"
            }
            AuthError::InvalidDate(_) | AuthError::DateSkewed { .. } => "RequestTimeTooSkewed",
            AuthError::StsTokenMismatch => "InvalidStsToken",
            AuthError::RepeatedHeader { .. } => "SignatureNotMatch",
        }
    }
}

/// Refuses a request in which a header the verification reads — `Authorization`, `Date`,
/// `Content-MD5`, `Content-Type`, the STS token or any `x-odps-*` header — appears more
/// than once: the checks read one copy, the signature may cover another.
fn check_unique_signed_headers(headers: &[(String, String)]) -> Result<(), AuthError> {
    let read = |name: &str| {
        [
            header::AUTHORIZATION,
            header::DATE,
            "content-md5",
            "content-type",
            header::STS_TOKEN,
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
            || name
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("x-odps-"))
    };
    for (i, (name, _)) in headers.iter().enumerate() {
        if !read(name) {
            continue;
        }
        let count = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .count();
        if count > 1
            && !headers[..i]
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            return Err(AuthError::RepeatedHeader {
                name: name.clone(),
                count,
            });
        }
    }
    Ok(())
}

/// Verifies the signature of an incoming request (legacy or v4) against `credentials`,
/// trying every [`resource_candidates`] of its path, and the STS token when the
/// credentials have one.
///
/// `now` is the server time for the clock-skew check; `None` skips the check (for
/// replaying recorded requests). With `now` given, the `Date` header must parse and be
/// within `max_skew`; a v4 scope date must always be the `Date` header's UTC day.
///
/// # Errors
/// The first [`AuthError`] found.
pub fn verify_request(
    request: &IncomingRequest<'_>,
    credentials: &Credentials,
    now: Option<SystemTime>,
    max_skew: Duration,
) -> Result<(), AuthError> {
    check_unique_signed_headers(request.headers)?;
    let authorization = request
        .header(header::AUTHORIZATION)
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or(AuthError::MissingAuthorization)?;
    let date_text = request.header(header::DATE).unwrap_or_default();
    // `now` only resolves the two-digit years of obsolete RFC 850 dates.
    let date = parse_http_date(date_text, now.unwrap_or(std::time::UNIX_EPOCH)).ok();
    if let Some(now) = now {
        let date = date.ok_or_else(|| AuthError::InvalidDate(date_text.to_string()))?;
        let skew = now
            .duration_since(date)
            .or_else(|_| date.duration_since(now))
            .unwrap_or(Duration::ZERO);
        if skew > max_skew {
            return Err(AuthError::DateSkewed {
                date: date_text.to_string(),
                skew_secs: skew.as_secs(),
                max_secs: max_skew.as_secs(),
            });
        }
    }
    if let Some(scope) = v4_scope_date(authorization).filter(|s| s.len() == 8) {
        let date = date.ok_or_else(|| AuthError::InvalidDate(date_text.to_string()))?;
        let expected = yyyymmdd(date);
        if scope != expected {
            return Err(AuthError::ScopeDateMismatch {
                scope: scope.to_string(),
                expected,
            });
        }
    }
    let mut result = Err(AuthError::SignatureMismatch);
    for resource in resource_candidates(request.path) {
        let canonical = canonical_string(&SignedParts {
            method: request.method,
            resource,
            query: request.query,
            headers: request.headers,
        });
        match verify_authorization(authorization, credentials, &canonical) {
            Verification::Valid => {
                result = Ok(());
                break;
            }
            Verification::Mismatch => {}
            Verification::Malformed(m) => return Err(AuthError::Malformed(m)),
            Verification::UnknownAccessId(id) => return Err(AuthError::UnknownAccessId(id)),
        }
    }
    result?;
    if let Some(expected) = credentials.security_token() {
        match request.header(header::STS_TOKEN) {
            Some(token) if token == expected => {}
            _ => return Err(AuthError::StsTokenMismatch),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SignatureVersion;
    use crate::sign::authorization;
    use crate::time::format_http_date;
    use std::time::UNIX_EPOCH;

    #[test]
    fn paths() {
        assert_eq!(
            RequestPath::classify("/api/storage/v2"),
            RequestPath::Storage(ApiVersion::V2)
        );
        assert_eq!(
            RequestPath::classify("/api/api/storage/v3/"),
            RequestPath::Storage(ApiVersion::V3)
        );
        assert_eq!(
            RequestPath::classify("/api/projects/p1/tunnel"),
            RequestPath::TunnelDiscovery {
                project: "p1".into()
            }
        );
        assert_eq!(
            RequestPath::classify("/projects/p1/tunnel"),
            RequestPath::TunnelDiscovery {
                project: "p1".into()
            }
        );
        assert_eq!(RequestPath::classify("/api/storage/v4"), RequestPath::Other);
        assert_eq!(
            RequestPath::classify("/projects//tunnel"),
            RequestPath::Other
        );
        assert_eq!(
            resource_candidates("/api/storage/v2"),
            vec!["/api/storage/v2", "/storage/v2"]
        );
    }

    #[test]
    fn targets_and_params() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let r = StorageRequest::parse(
            ApiVersion::V2,
            q(&[
                ("Action", "TableRead"),
                ("Target", "projects.p.tables.t"),
                ("Index", "3"),
                ("session_refresh", "TRUE"),
            ]),
        )
        .unwrap();
        assert_eq!(r.action, Action::TableRead);
        assert_eq!(r.table(), Some(&TableId::without_schema("p", "t")));
        assert_eq!(r.i64_param("Index"), Ok(Some(3)));
        assert_eq!(r.i64_param("Count"), Ok(None));
        assert_eq!(r.bool_param("session_refresh"), Ok(Some(true)));
        assert!(r.required("SessionId").is_err());
        let r = StorageRequest::parse(
            ApiVersion::V3,
            q(&[
                ("Action", "BlobRead"),
                ("Target", "generic.blob"),
                ("curr_project", "p9"),
            ]),
        )
        .unwrap();
        assert_eq!(
            r.target,
            Target::Blob {
                project: "p9".into()
            }
        );
        assert!(matches!(
            StorageRequest::parse(ApiVersion::V2, q(&[("Action", "Nope"), ("Target", "x")])),
            Err(RequestError::UnknownAction(_))
        ));
        assert!(matches!(
            parse_target("tables.t", None),
            Err(RequestError::InvalidTarget(_))
        ));
        assert_eq!(
            parse_target("projects.p.instances.i1", None),
            Ok(Target::Instance(InstanceId::new("p", "i1")))
        );
    }

    #[test]
    fn partition_specs() {
        let want = vec![
            ("pt".to_string(), "20230101".to_string()),
            ("region".to_string(), "cn".to_string()),
        ];
        assert_eq!(
            parse_partition_spec("pt=20230101,region=cn"),
            Ok(want.clone())
        );
        assert_eq!(
            parse_partition_spec(" pt='20230101' / region=\"cn\" "),
            Ok(want.clone())
        );
        assert_eq!(format_partition_spec(&want), "pt=20230101/region=cn");
        assert_eq!(parse_partition_spec(""), Ok(vec![]));
        assert!(parse_partition_spec("pt").is_err());
        assert!(parse_partition_spec("=1").is_err());
        assert!(parse_partition_spec("pt=").is_err());
        assert!(parse_partition_spec("pt=1,PT=2").is_err());
    }

    fn signed(
        creds: &Credentials,
        version: &SignatureVersion,
        date: SystemTime,
    ) -> Vec<(String, String)> {
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Date".to_string(), format_http_date(date)),
            ("x-odps-user-agent".to_string(), "t".to_string()),
        ];
        let canonical = canonical_string(&SignedParts {
            method: "POST",
            resource: "/api/storage/v2",
            query: &query(),
            headers: &headers,
        });
        headers.push((
            "Authorization".into(),
            authorization(creds, version, &canonical, date),
        ));
        headers
    }

    fn query() -> Vec<(String, String)> {
        vec![
            ("Action".into(), "TableRead".into()),
            ("x".into(), "1".into()),
        ]
    }

    #[test]
    fn verification() {
        let creds = Credentials::new("ak", "sk");
        let date = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        let q = query();
        for version in [
            SignatureVersion::Legacy,
            SignatureVersion::V4 {
                region: "cn-shanghai".into(),
            },
        ] {
            let headers = signed(&creds, &version, date);
            let req = IncomingRequest {
                method: "POST",
                path: "/api/storage/v2",
                query: &q,
                headers: &headers,
            };
            assert_eq!(
                verify_request(&req, &creds, Some(date), DEFAULT_MAX_CLOCK_SKEW),
                Ok(())
            );
            assert_eq!(
                verify_request(&req, &creds, None, DEFAULT_MAX_CLOCK_SKEW),
                Ok(())
            );
            // The same request sent below an /api prefix.
            let prefixed = IncomingRequest {
                path: "/api/api/storage/v2",
                ..req
            };
            assert_eq!(
                verify_request(&prefixed, &creds, None, DEFAULT_MAX_CLOCK_SKEW),
                Ok(())
            );
            let late = date + Duration::from_secs(16 * 60);
            assert!(matches!(
                verify_request(&req, &creds, Some(late), DEFAULT_MAX_CLOCK_SKEW),
                Err(AuthError::DateSkewed { .. })
            ));
            let other_q = vec![
                ("Action".into(), "TableRead".into()),
                ("x".into(), "2".into()),
            ];
            let changed = IncomingRequest {
                query: &other_q,
                ..req
            };
            assert_eq!(
                verify_request(&changed, &creds, None, DEFAULT_MAX_CLOCK_SKEW),
                Err(AuthError::SignatureMismatch)
            );
            let sts = creds.clone().with_security_token("tok");
            assert_eq!(
                verify_request(&req, &sts, None, DEFAULT_MAX_CLOCK_SKEW),
                Err(AuthError::StsTokenMismatch)
            );
            let mut with_token = headers.clone();
            with_token.push(("authorization-sts-token".into(), "tok".into()));
            let req_tok = IncomingRequest {
                headers: &with_token,
                ..req
            };
            assert_eq!(
                verify_request(&req_tok, &sts, None, DEFAULT_MAX_CLOCK_SKEW),
                Ok(())
            );
            // An old signed request replayed later with a fresh Date in front of its own:
            // the skew check would read the fresh one, the signature the old one.
            let later = date + Duration::from_secs(3600);
            let mut replayed = vec![("Date".to_string(), format_http_date(later))];
            replayed.extend(headers.iter().cloned());
            let req_replayed = IncomingRequest {
                headers: &replayed,
                ..req
            };
            assert_eq!(
                verify_request(&req_replayed, &creds, Some(later), DEFAULT_MAX_CLOCK_SKEW),
                Err(AuthError::RepeatedHeader {
                    name: "Date".into(),
                    count: 2
                })
            );
            let mut doubled = headers.clone();
            doubled.push(("X-ODPS-Extra".into(), "1".into()));
            doubled.push(("x-odps-extra".into(), "2".into()));
            let req_doubled = IncomingRequest {
                headers: &doubled,
                ..req
            };
            assert!(matches!(
                verify_request(&req_doubled, &creds, None, DEFAULT_MAX_CLOCK_SKEW),
                Err(AuthError::RepeatedHeader { count: 2, .. })
            ));
        }
        let none: Vec<(String, String)> = vec![];
        let req = IncomingRequest {
            method: "GET",
            path: "/",
            query: &none,
            headers: &none,
        };
        assert_eq!(
            verify_request(&req, &creds, None, DEFAULT_MAX_CLOCK_SKEW),
            Err(AuthError::MissingAuthorization)
        );
    }
}
