//! Request signing (protocol.md B§2): the canonical string and the legacy and v4 signatures.
//!
//! Everything here is a pure function of the request parts and the time given.

use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::config::{Credentials, SignatureVersion};
use crate::time::{format_http_date, yyyymmdd};

type HmacSha1 = Hmac<sha1::Sha1>;
type HmacSha256 = Hmac<sha2::Sha256>;

/// The request parts that are signed.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    /// HTTP method (upper case on the wire).
    pub method: &'a str,
    /// The resource path relative to the endpoint base, e.g. `/api/storage/v2`.
    pub resource: &'a str,
    /// Query parameters, **decoded** (name, value); order does not matter.
    pub query: &'a [(String, String)],
    /// Request headers (name, value); names are matched case-insensitively.
    pub headers: &'a [(String, String)],
}

/// Builds the canonical string of protocol.md B§2.1.
pub fn canonical_string(parts: &SignedParts<'_>) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut content_md5 = String::new();
    let mut content_type = String::new();
    let mut date = String::new();
    for (name, value) in parts.headers {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "content-md5" => content_md5 = value.clone(),
            "content-type" => content_type = value.clone(),
            "date" => date = value.clone(),
            _ if lower.starts_with("x-odps-") => lines.push((lower, value.clone())),
            _ => {}
        }
    }
    for (name, value) in parts.query {
        if name.starts_with("x-odps-") {
            lines.push((name.clone(), value.clone()));
        }
    }
    lines.push(("content-md5".into(), content_md5));
    lines.push(("content-type".into(), content_type));
    lines.push(("date".into(), date));
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

    let mut out = String::with_capacity(256);
    out.push_str(&parts.method.to_ascii_uppercase());
    out.push('\n');
    for (name, value) in &lines {
        if matches!(name.as_str(), "content-md5" | "content-type" | "date") {
            out.push_str(value);
        } else {
            out.push_str(name);
            out.push(':');
            out.push_str(value);
        }
        out.push('\n');
    }
    out.push_str(&canonical_resource(parts.resource, parts.query));
    out
}

/// The canonical resource: the path, then `?` and every query parameter sorted by name
/// (byte order), rendered `name=value` or `name` for an empty value.
pub fn canonical_resource(resource: &str, query: &[(String, String)]) -> String {
    let mut out = resource.to_string();
    if !query.is_empty() {
        let mut sorted: Vec<&(String, String)> = query.iter().collect();
        sorted.sort_by(|a, b| {
            a.0.as_bytes()
                .cmp(b.0.as_bytes())
                .then(a.1.as_bytes().cmp(b.1.as_bytes()))
        });
        out.push('?');
        for (i, (name, value)) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(name);
            if !value.is_empty() {
                out.push('=');
                out.push_str(value);
            }
        }
    }
    out
}

/// The `Authorization` header value for a canonical string, signed with the given
/// credentials and signature version. `date` is the request time (only v4 uses it, for the
/// credential scope `yyyyMMdd`).
pub fn authorization(
    credentials: &Credentials,
    version: &SignatureVersion,
    canonical: &str,
    date: std::time::SystemTime,
) -> String {
    match version {
        SignatureVersion::Legacy => {
            let sig = hmac_sha1(credentials.secret().as_bytes(), canonical.as_bytes());
            format!("ODPS {}:{}", credentials.access_id(), sig)
        }
        SignatureVersion::V4 { region } => {
            let day = yyyymmdd(date);
            let key = v4_signing_key(credentials.secret(), &day, region);
            let sig = hmac_sha1(&key, canonical.as_bytes());
            format!(
                "ODPS {}/{}/{}/odps/aliyun_v4_request:{}",
                credentials.access_id(),
                day,
                region,
                sig
            )
        }
    }
}

/// The v4 signing key: HMAC-SHA256 chain over `aliyun_v4<secret>`, date, region, `odps`,
/// `aliyun_v4_request`.
pub fn v4_signing_key(secret: &str, yyyymmdd: &str, region: &str) -> Vec<u8> {
    let k_secret = format!("aliyun_v4{secret}");
    let k_date = hmac_sha256(k_secret.as_bytes(), yyyymmdd.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, b"odps");
    hmac_sha256(&k_service, b"aliyun_v4_request")
}

fn hmac_sha1(key: &[u8], msg: &[u8]) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = <HmacSha1 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// The `Date` header value for a request made at `now`.
pub fn date_header(now: std::time::SystemTime) -> String {
    format_http_date(now)
}

/// The result of checking a request's signature on the server side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The signature matches.
    Valid,
    /// The `Authorization` header is missing or not of the `ODPS id:sig` form.
    Malformed(String),
    /// The access id is not the expected one.
    UnknownAccessId(String),
    /// The signature does not match the canonical string.
    Mismatch,
}

/// Verifies an `Authorization` header value against the canonical string of the request
/// and the expected credentials. Accepts the legacy form and the v4 form (any region; the
/// scope date is used as signed). Server-side helper for the emulator.
pub fn verify_authorization(
    authorization: &str,
    credentials: &Credentials,
    canonical: &str,
) -> Verification {
    let Some(rest) = authorization.strip_prefix("ODPS ") else {
        return Verification::Malformed("expected \"ODPS <access id>:<signature>\"".into());
    };
    let Some((scope, signature)) = rest.rsplit_once(':') else {
        return Verification::Malformed("missing ':' before the signature".into());
    };
    let parts: Vec<&str> = scope.split('/').collect();
    let key: Vec<u8> = match parts.as_slice() {
        [id] => {
            if *id != credentials.access_id() {
                return Verification::UnknownAccessId((*id).to_string());
            }
            credentials.secret().as_bytes().to_vec()
        }
        [id, day, region, "odps", "aliyun_v4_request"] => {
            if *id != credentials.access_id() {
                return Verification::UnknownAccessId((*id).to_string());
            }
            if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
                return Verification::Malformed(format!("invalid v4 scope date {day:?}"));
            }
            v4_signing_key(credentials.secret(), day, region)
        }
        _ => {
            return Verification::Malformed(
                "expected \"<id>\" or \"<id>/<yyyymmdd>/<region>/odps/aliyun_v4_request\"".into(),
            );
        }
    };
    let expected = hmac_sha1(&key, canonical.as_bytes());
    if constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        Verification::Valid
    } else {
        Verification::Mismatch
    }
}

/// The `yyyyMMdd` scope date of a v4 `Authorization` value, if it is one.
pub fn v4_scope_date(authorization: &str) -> Option<&str> {
    let rest = authorization.strip_prefix("ODPS ")?;
    let (scope, _) = rest.rsplit_once(':')?;
    let mut it = scope.split('/');
    it.next()?;
    it.next()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// The worked example of protocol.md B§2.3.
    #[test]
    fn worked_example() {
        let query: Vec<(String, String)> = [
            ("Action", "TableCommitWriteSession"),
            ("Target", "projects.p1.schemas.default.tables.t1"),
            ("SessionId", "sess-1"),
            ("WriteMode", "Batch"),
            ("curr_project", "p1"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let headers: Vec<(String, String)> = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("x-odps-max-storage-route-token", "rt;host-a;1"),
            (
                "x-odps-user-agent",
                "pyodps/0.13.1 CPython/3.11.4 Linux/6.1.0",
            ),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let canonical = canonical_string(&SignedParts {
            method: "POST",
            resource: "/api/storage/v2",
            query: &query,
            headers: &headers,
        });
        assert_eq!(
            canonical,
            "POST\n\napplication/json; charset=utf-8\nMon, 01 Jan 2024 00:00:00 GMT\n\
             x-odps-max-storage-route-token:rt;host-a;1\n\
             x-odps-user-agent:pyodps/0.13.1 CPython/3.11.4 Linux/6.1.0\n\
             /api/storage/v2?Action=TableCommitWriteSession&SessionId=sess-1&Target=projects.p1.schemas.default.tables.t1&WriteMode=Batch&curr_project=p1"
        );
        let creds = Credentials::new("test-ak", "test-sk");
        let date = UNIX_EPOCH + Duration::from_secs(1_704_067_200); // 2024-01-01T00:00:00Z
        assert_eq!(
            authorization(&creds, &SignatureVersion::Legacy, &canonical, date),
            "ODPS test-ak:6/ki9zuQQnZPgvEVm5yjjsut+Bc="
        );
        let v4 = authorization(
            &creds,
            &SignatureVersion::V4 {
                region: "cn-shanghai".into(),
            },
            &canonical,
            date,
        );
        assert_eq!(
            v4,
            "ODPS test-ak/20240101/cn-shanghai/odps/aliyun_v4_request:3N2NirXLOpF4KXoC74GLCo07+sU="
        );
        assert_eq!(
            verify_authorization(&v4, &creds, &canonical),
            Verification::Valid
        );
        assert_eq!(
            verify_authorization(
                "ODPS test-ak:6/ki9zuQQnZPgvEVm5yjjsut+Bc=",
                &creds,
                &canonical
            ),
            Verification::Valid
        );
        assert_eq!(
            verify_authorization("ODPS test-ak:AAAA", &creds, &canonical),
            Verification::Mismatch
        );
        assert!(matches!(
            verify_authorization("ODPS other:AAAA", &creds, &canonical),
            Verification::UnknownAccessId(_)
        ));
        assert!(matches!(
            verify_authorization("Bearer x", &creds, &canonical),
            Verification::Malformed(_)
        ));
        assert_eq!(v4_scope_date(&v4), Some("20240101"));
    }

    #[test]
    fn empty_values_and_query_x_odps() {
        let query = vec![
            ("b".to_string(), String::new()),
            ("x-odps-q".to_string(), "1".to_string()),
            ("A".to_string(), "2".to_string()),
        ];
        let c = canonical_string(&SignedParts {
            method: "get",
            resource: "/r",
            query: &query,
            headers: &[],
        });
        assert_eq!(c, "GET\n\n\n\nx-odps-q:1\n/r?A=2&b&x-odps-q=1");
    }
}
