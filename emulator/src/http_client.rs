//! A small blocking HTTP client on `ureq`, used by the [admin client](crate::admin::AdminClient)
//! and by tests to send requests built by the protocol core (or by hand) to the emulator:
//! no retries, no redirects, no automatic headers or decompression, the whole body read
//! (up to [`MAX_BODY`]).

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

/// A response: status, headers and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in wire order.
    pub headers: Vec<(String, String)>,
    /// Body (chunked transfer decoded).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The response as `http` parts (for the protocol core's `Call::parse`) and body.
    pub fn into_parts(self) -> (http::response::Parts, Vec<u8>) {
        let mut b = http::Response::builder().status(self.status);
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let (parts, ()) = b
            .body(())
            .unwrap_or_else(|_| http::Response::new(()))
            .into_parts();
        (parts, self.body)
    }
}

/// The largest response body read (an admin dump of a large table is big; anything
/// beyond this is an error, not an allocation).
pub const MAX_BODY: u64 = 4 << 30;

/// The agent every request goes through: statuses are answers, not errors; nothing is
/// added to or taken from the request or the response.
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .no_delay(true)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_per_read(Some(Duration::from_secs(300)))
            .user_agent(ureq::config::AutoHeaderValue::None)
            .accept_encoding(ureq::config::AutoHeaderValue::None)
            .allow_non_standard_methods(true)
            .build()
            .new_agent()
    })
}

/// Sends a request to `addr` and reads the whole response. `path_and_query` is the
/// request target (e.g. `/api/storage/v2?Action=…`). `Host` and `Content-Length` are set
/// by the client (given ones are ignored); a body is sent whatever the method.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let uri = format!("http://{addr}{path_and_query}");
    let invalid = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    };
    let method = http::Method::from_bytes(method.as_bytes()).map_err(|e| invalid(&e))?;
    let mut request = http::Request::builder().method(method.clone()).uri(&uri);
    for (k, v) in headers {
        if ["host", "content-length", "connection", "transfer-encoding"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        {
            continue;
        }
        request = request.header(k.as_str(), v.as_str());
    }
    let request = request.body(()).map_err(|e| invalid(&e))?;
    let sent = if body.is_empty() {
        agent().run(request)
    } else if matches!(
        method,
        http::Method::GET | http::Method::HEAD | http::Method::DELETE
    ) {
        // ureq sends a body with these methods only when forced, through its builder.
        let mut builder = match method {
            http::Method::GET => agent().get(&uri),
            http::Method::HEAD => agent().head(&uri),
            _ => agent().delete(&uri),
        }
        .force_send_body();
        for (k, v) in request.headers() {
            builder = builder.header(k, v);
        }
        builder.send(body)
    } else {
        let (parts, ()) = request.into_parts();
        agent().run(http::Request::from_parts(parts, body))
    };
    let response = sent.map_err(|e| match e {
        ureq::Error::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    })?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        })?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Sends an `http::Request` whose body is given separately (the protocol core's requests
/// carry a `Body` descriptor; pass the bytes here).
pub fn send_request<B>(
    addr: SocketAddr,
    request: &http::Request<B>,
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    send(addr, request.method().as_str(), &target, &headers, body)
}
