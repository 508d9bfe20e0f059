//! The HTTP seam: one small trait to send a request and get a response head and a body to
//! read, implemented for ureq. Plug in another HTTP stack by implementing
//! [`HttpTransport`]; the client needs nothing else from it.

use std::fmt;
use std::io::Read;

use bytes::Bytes;

/// The body of a request the client sends: empty, complete in memory (cheap to clone for a
/// retry), in pieces sent one after another with `Content-Length` their total, or read
/// from a stream (`Content-Length` when its length is known, chunked otherwise; it cannot
/// be replayed, so a retry needs a new reader).
pub type RequestBody = maxstorage_client_core::OutgoingBody<Box<dyn Read + Send>>;

/// A response body to read; reading it streams from the connection.
pub type ResponseBody = Box<dyn Read + Send>;

pub use maxstorage_client_core::error::{TransportError, TransportErrorKind};
use maxstorage_client_core::exchange::chunks_len;
pub use maxstorage_client_core::network::TransportConfig;
use maxstorage_client_core::network::{
    NetworkConfig, NetworkConfigError, ProxyConfig, ProxyUrl, RootCertificates,
};

/// Sends HTTP requests. Implementations must not add `x-odps-*` headers or alter the
/// signed ones; they should set TCP_NODELAY and reuse connections.
pub trait HttpTransport: Send + Sync + fmt::Debug {
    /// Sends `request` and returns the response head and a streaming body, whatever the
    /// status (error statuses are the caller's to interpret).
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError>;
}

/// The default transport: a pooled ureq agent with rustls, TCP_NODELAY and no automatic
/// decompression (the client decides about compression). With a [`NetworkConfig`]
/// ([`with_network`](Self::with_network)) it trusts extra root certificates and sends
/// requests through HTTP proxies (a `CONNECT` tunnel per connection, for `http` and
/// `https` URLs alike; the proxy is chosen per request by scheme and `NO_PROXY`). It reads
/// no environment variable by itself: proxies come from the [`NetworkConfig`] only.
#[derive(Clone)]
pub struct UreqTransport {
    direct: ureq::Agent,
    proxied: Vec<(ProxyUrl, ureq::Agent)>,
    proxy: ProxyConfig,
}

impl fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UreqTransport")
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// The size of ureq's per-connection input and output buffers.
const IO_BUFFER_BYTES: usize = 1024 * 1024;

impl UreqTransport {
    /// A transport with these timeouts, trusting the bundled webpki roots, without a proxy.
    pub fn new(config: &TransportConfig) -> UreqTransport {
        UreqTransport {
            direct: agent(config, ureq::tls::TlsConfig::default(), None),
            proxied: Vec::new(),
            proxy: ProxyConfig::none(),
        }
    }

    /// A transport with these timeouts, trusting the roots of `network` and sending
    /// requests through its proxies. Fails only if ureq refuses a proxy.
    pub fn with_network(
        config: &TransportConfig,
        network: &NetworkConfig,
    ) -> Result<UreqTransport, NetworkConfigError> {
        network.roots.check()?;
        let tls = tls_config(&network.roots);
        let mut proxied = Vec::new();
        for proxy in network.proxy.proxies() {
            let mut builder = ureq::Proxy::builder(ureq::ProxyProtocol::Http)
                .host(proxy.host())
                .port(proxy.port());
            if let Some(user) = proxy.username() {
                builder = builder.username(user);
            }
            if let Some(password) = proxy.password() {
                builder = builder.password(password);
            }
            let ureq_proxy = builder
                .build()
                .map_err(|e| NetworkConfigError::Transport(format!("proxy {proxy}: {e}")))?;
            proxied.push((proxy.clone(), agent(config, tls.clone(), Some(ureq_proxy))));
        }
        Ok(UreqTransport {
            direct: agent(config, tls, None),
            proxied,
            proxy: network.proxy.clone(),
        })
    }

    /// The agent of a request to `uri`: through its proxy, or direct.
    fn agent_for(&self, uri: &http::Uri) -> &ureq::Agent {
        match self.proxy.proxy_for(uri) {
            Some(proxy) => self
                .proxied
                .iter()
                .find(|(p, _)| p == proxy)
                .map(|(_, agent)| agent)
                // Every proxy of the configuration has its agent (see `with_network`).
                .unwrap_or(&self.direct),
            None => &self.direct,
        }
    }
}

/// ureq's TLS settings for these roots: its own webpki roots when nothing is added, else
/// the webpki root certificates (when kept) and the added ones.
fn tls_config(roots: &RootCertificates) -> ureq::tls::TlsConfig {
    if roots.added().is_empty() && roots.includes_webpki() {
        return ureq::tls::TlsConfig::default();
    }
    let mut certificates: Vec<ureq::tls::Certificate<'static>> = Vec::new();
    if roots.includes_webpki() {
        certificates.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|c| ureq::tls::Certificate::from_der(c.as_ref())),
        );
    }
    certificates.extend(
        roots
            .added()
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()),
    );
    ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certificates))
        .build()
}

/// An agent with these timeouts, TLS settings and proxy (`None`: direct, whatever the
/// environment says).
fn agent(
    config: &TransportConfig,
    tls: ureq::tls::TlsConfig,
    proxy: Option<ureq::Proxy>,
) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .no_delay(true)
        // Data bodies are megabytes: ureq's 128 KiB default buffers mean a system call
        // and a copy per 128 KiB, and record batch messages (a few hundred KiB) that
        // never arrive in one piece (BENCHMARKS.md).
        .input_buffer_size(IO_BUFFER_BYTES)
        .output_buffer_size(IO_BUFFER_BYTES)
        .timeout_connect(Some(config.connect_timeout))
        .timeout_recv_response(Some(config.read_timeout))
        // No bound on a whole body (a split may stream for hours), but every read of
        // it: a stalled body fails (and a split read resumes) instead of hanging.
        .timeout_recv_body(None)
        .timeout_per_read(Some(config.read_timeout))
        .timeout_per_call(None)
        .timeout_send_body(Some(config.write_timeout))
        .max_idle_connections(config.max_idle_per_host.saturating_mul(4))
        .max_idle_connections_per_host(config.max_idle_per_host)
        .max_idle_age(config.idle_timeout)
        .max_redirects(0)
        .user_agent(ureq::config::AutoHeaderValue::None)
        .accept_encoding(ureq::config::AutoHeaderValue::None)
        // ureq would read the proxy variables itself; the client decides (`from_env`).
        .proxy(proxy)
        .tls_config(tls)
        .build()
        .new_agent()
}

impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport::new(&TransportConfig::default())
    }
}

impl HttpTransport for UreqTransport {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let host = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let agent = self.agent_for(request.uri());
        let (parts, body) = request.into_parts();
        let result = match body {
            RequestBody::Empty => agent.run(http::Request::from_parts(parts, ())),
            RequestBody::Bytes(b) => agent.run(http::Request::from_parts(parts, b.as_ref())),
            RequestBody::Chunks(chunks) => {
                let length = chunks_len(&chunks);
                let reader = ChunksReader {
                    chunks: chunks.into(),
                };
                run_reader(agent, parts, Box::new(reader), Some(length))
            }
            RequestBody::Stream { stream, length } => run_reader(agent, parts, stream, length),
        };
        match result {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let reader: ResponseBody = Box::new(BodyReader {
                    inner: body.into_reader(),
                });
                Ok(http::Response::from_parts(parts, reader))
            }
            Err(e) => Err(map_error(e, host)),
        }
    }
}

/// Sends a request whose body is read from `reader`, with `Content-Length` when `length`
/// is known.
fn run_reader(
    agent: &ureq::Agent,
    mut parts: http::request::Parts,
    reader: Box<dyn Read + Send>,
    length: Option<u64>,
) -> Result<http::Response<ureq::Body>, ureq::Error> {
    if let Some(len) = length {
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    }
    agent.run(http::Request::from_parts(
        parts,
        ureq::SendBody::from_owned_reader(reader),
    ))
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

/// Adapts ureq's body reader, turning its errors into `io::Error`s.
struct BodyReader {
    inner: ureq::BodyReader<'static>,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

fn map_error(e: ureq::Error, host: String) -> TransportError {
    use ureq::Error as E;
    // A failed handshake (an untrusted certificate, ...): nothing was sent.
    let tls = match &e {
        E::Rustls(t) => Some(t),
        E::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    if let Some(tls) = tls {
        return TransportError {
            kind: TransportErrorKind::Connect,
            host,
            message: format!("TLS handshake failed: {tls}"),
        };
    }
    let kind = match &e {
        E::HostNotFound | E::ConnectionFailed | E::Tls(_) | E::ConnectProxyFailed(_) => {
            TransportErrorKind::Connect
        }
        E::Timeout(t) => match t {
            ureq::Timeout::Resolve | ureq::Timeout::Connect => TransportErrorKind::Connect,
            _ => TransportErrorKind::Timeout,
        },
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            TransportErrorKind::Connect
        }
        E::Io(_) => TransportErrorKind::Io,
        _ => TransportErrorKind::Protocol,
    };
    TransportError {
        kind,
        host,
        message: e.to_string(),
    }
}
