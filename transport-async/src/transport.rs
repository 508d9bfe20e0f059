//! The HTTP seam: one small trait to send a request (head + body stream) and get a
//! response head and a body stream, implemented for hyper. Plug in another HTTP stack by
//! implementing [`HttpTransport`]; the client needs nothing else from it.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::TryStreamExt;
use http_body::{Body as _, Frame};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::{TokioExecutor, TokioIo};
pub use maxstorage_client_core::network::TransportConfig;
use maxstorage_client_core::network::{
    NetworkConfig, NetworkConfigError, ProxyConfig, ProxyUrl, RootCertificates,
};
use std::sync::Arc;
use tokio::sync::oneshot;

use tokio::time::{Instant, Sleep};

pub use maxstorage_client_core::error::{TransportError, TransportErrorKind};
use maxstorage_client_core::exchange::chunks_len;

/// A stream of body bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A future of the transport.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The body of a request the client sends: empty, complete in memory (cheap to clone for a
/// retry), in pieces sent one after another with `Content-Length` their total, or
/// produced while it is sent (`Content-Length` when its length is known, chunked
/// otherwise; it cannot be replayed, so a retry needs a new stream).
pub type RequestBody = maxstorage_client_core::OutgoingBody<ByteStream>;

/// A response body: its chunks as they arrive. Dropping it before its end closes the
/// connection it came on (an unfinished response cannot be reused).
pub type ResponseBody = ByteStream;

/// Sends HTTP requests. Implementations must not add `x-odps-*` headers or alter the
/// signed ones; they should set TCP_NODELAY and reuse connections. Dropping the returned
/// future cancels the exchange.
pub trait HttpTransport: Send + Sync + fmt::Debug {
    /// Sends `request` and returns the response head and a streaming body, whatever the
    /// status (error statuses are the caller's to interpret).
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, TransportError>>;
}

type Connector = hyper_rustls::HttpsConnector<ProxyConnector>;
type HyperBody = UnsyncBoxBody<Bytes, io::Error>;

/// The default transport: a pooled hyper client (HTTP/1.1) with rustls (ring, webpki
/// roots), TCP_NODELAY on every socket, and no automatic decompression (the client
/// decides about compression). With a [`NetworkConfig`]
/// ([`with_network`](Self::with_network)) it trusts extra root certificates and sends
/// requests through HTTP proxies (a `CONNECT` tunnel per connection, for `http` and
/// `https` URLs alike; the proxy is chosen per request by scheme and `NO_PROXY`;
/// tunnelled connections are pooled like direct ones). It reads no environment variable
/// by itself. Needs a tokio runtime to send.
#[derive(Clone)]
pub struct HyperTransport {
    client: HyperClient<Connector, HyperBody>,
    read_timeout: Duration,
    write_timeout: Duration,
    proxy: Arc<ProxyConfig>,
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransport")
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// The largest read buffer of a connection.
const IO_BUFFER_BYTES: usize = 1024 * 1024;

impl HyperTransport {
    /// A transport with these timeouts, trusting the bundled webpki roots, without a proxy.
    pub fn new(config: &TransportConfig) -> Result<HyperTransport, TransportError> {
        HyperTransport::with_network(config, &NetworkConfig::default()).map_err(|e| {
            TransportError {
                kind: TransportErrorKind::Protocol,
                host: String::new(),
                message: e.to_string(),
            }
        })
    }

    /// A transport with these timeouts, trusting the roots of `network` and sending
    /// requests through its proxies.
    pub fn with_network(
        config: &TransportConfig,
        network: &NetworkConfig,
    ) -> Result<HyperTransport, NetworkConfigError> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        http.enforce_http(false);
        let mut tunnels = Vec::new();
        for proxy in network.proxy.proxies() {
            let mut tunnel = Tunnel::new(proxy.uri(), http.clone());
            if let Some(auth) = proxy.basic_authorization() {
                let value = http::HeaderValue::from_str(&auth).map_err(|_| {
                    NetworkConfigError::Transport(format!(
                        "proxy {proxy}: the credentials cannot be sent in a header"
                    ))
                })?;
                tunnel = tunnel.with_auth(value);
            }
            tunnels.push((proxy.clone(), tunnel));
        }
        let proxy = Arc::new(network.proxy.clone());
        let connector = ProxyConnector {
            direct: http,
            tunnels: tunnels.into(),
            proxy: proxy.clone(),
            connect_timeout: config.connect_timeout,
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(&network.roots)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = HyperClient::builder(TokioExecutor::new())
            // Let hyper's adaptive read buffer grow to 1 MiB (default about 400 KiB):
            // body frames are slices of it, and record batch messages of a few hundred
            // KiB then mostly arrive whole (BENCHMARKS.md).
            .http1_max_buf_size(IO_BUFFER_BYTES)
            .pool_max_idle_per_host(config.max_idle_per_host)
            .pool_idle_timeout(config.idle_timeout)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(https);
        Ok(HyperTransport {
            client,
            read_timeout: config.read_timeout,
            write_timeout: config.write_timeout,
            proxy,
        })
    }
}

/// The rustls configuration trusting `roots` (ring, the safe default protocol versions).
fn tls_config(roots: &RootCertificates) -> Result<rustls::ClientConfig, NetworkConfigError> {
    roots.check()?;
    let mut store = rustls::RootCertStore::empty();
    if roots.includes_webpki() {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for (i, certificate) in roots.added().iter().enumerate() {
        store.add(certificate.clone()).map_err(|e| {
            NetworkConfigError::Transport(format!("root certificate #{}: {e}", i + 1))
        })?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| NetworkConfigError::Transport(format!("TLS configuration: {e}")))?
    .with_root_certificates(store)
    .with_no_client_auth())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to a request's host directly, or through a `CONNECT` tunnel of the proxy
/// its URL is to use; TLS (for `https`) then runs over that connection.
#[derive(Clone)]
struct ProxyConnector {
    direct: HttpConnector,
    tunnels: Arc<[(ProxyUrl, Tunnel<HttpConnector>)]>,
    proxy: Arc<ProxyConfig>,
    connect_timeout: Duration,
}

impl tower_service::Service<http::Uri> for ProxyConnector {
    type Response = TokioIo<tokio::net::TcpStream>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Both connectors are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let tunnel = self.proxy.proxy_for(&dst).and_then(|proxy| {
            self.tunnels
                .iter()
                .find(|(p, _)| p == proxy)
                .map(|(p, t)| (p.clone(), t.clone()))
        });
        match tunnel {
            None => {
                let mut direct = self.direct.clone();
                Box::pin(async move { direct.call(dst).await.map_err(Into::into) })
            }
            Some((proxy, mut tunnel)) => {
                let timeout = self.connect_timeout;
                Box::pin(async move {
                    // The tunnel asks for port 443 when the URL has none.
                    let dst = with_port(dst)?;
                    match tokio::time::timeout(timeout, tunnel.call(dst)).await {
                        Ok(Ok(io)) => Ok(io),
                        Ok(Err(e)) => Err(io::Error::other(format!(
                            "CONNECT through proxy {proxy} failed: {}",
                            error_chain(&e)
                        ))
                        .into()),
                        Err(_) => Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no tunnel through proxy {proxy} within {timeout:?}"),
                        )
                        .into()),
                    }
                })
            }
        }
    }
}

/// `uri` with its scheme's default port spelled out.
fn with_port(uri: http::Uri) -> Result<http::Uri, BoxError> {
    if uri.port().is_some() {
        return Ok(uri);
    }
    let port = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        443
    } else {
        80
    };
    let host = uri.host().ok_or("a URL without a host")?;
    let mut parts = uri.clone().into_parts();
    parts.authority = Some(format!("{host}:{port}").parse()?);
    Ok(http::Uri::from_parts(parts)?)
}

/// A body sent from `stream`, with `Content-Length` when `length` is known; its end (or
/// its drop) is signalled on `ended` and its progress recorded in `progress`.
fn stream_body(
    parts: &mut http::request::Parts,
    stream: ByteStream,
    length: Option<u64>,
    ended: oneshot::Sender<()>,
    progress: &Arc<Progress>,
) -> HyperBody {
    if let Some(len) = length {
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    }
    let stream = SignalEnd {
        inner: stream,
        ended: Some(ended),
        progress: progress.clone(),
    };
    StreamBody::new(stream.map_ok(Frame::data)).boxed_unsync()
}

impl HttpTransport for HyperTransport {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, TransportError>> {
        Box::pin(async move {
            let host = request
                .uri()
                .authority()
                .map(|a| a.to_string())
                .unwrap_or_default();
            let (mut parts, body) = request.into_parts();
            let (sent_tx, sent_rx) = oneshot::channel::<()>();
            let progress = Arc::new(Progress::new());
            let body: HyperBody = match body {
                RequestBody::Empty => {
                    progress
                        .ended
                        .store(true, std::sync::atomic::Ordering::Release);
                    drop(sent_tx);
                    Empty::new().map_err(|never| match never {}).boxed_unsync()
                }
                RequestBody::Bytes(b) => {
                    progress
                        .ended
                        .store(true, std::sync::atomic::Ordering::Release);
                    drop(sent_tx);
                    Full::new(b).map_err(|never| match never {}).boxed_unsync()
                }
                RequestBody::Chunks(chunks) => {
                    let length = chunks_len(&chunks);
                    let stream = Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)));
                    stream_body(&mut parts, stream, Some(length), sent_tx, &progress)
                }
                RequestBody::Stream { stream, length } => {
                    stream_body(&mut parts, stream, length, sent_tx, &progress)
                }
            };
            let read_timeout = self.read_timeout;
            // The read timeout runs from when the body is handed over (or dropped).
            let head_deadline = async move {
                let _ = sent_rx.await;
                tokio::time::sleep(read_timeout).await;
            };
            let write_timeout = self.write_timeout;
            let write_deadline = progress.stalled(write_timeout);
            let response = tokio::select! {
                r = self.client.request(http::Request::from_parts(parts, body)) => {
                    r.map_err(|e| map_error(&e, host.clone()))?
                }
                () = write_deadline => {
                    return Err(TransportError {
                        kind: TransportErrorKind::Timeout,
                        host,
                        message: format!("the request body was not accepted within {write_timeout:?}"),
                    });
                }
                () = head_deadline => {
                    return Err(TransportError {
                        kind: TransportErrorKind::Timeout,
                        host,
                        message: format!("no response within {read_timeout:?}"),
                    });
                }
            };
            let (parts, body) = response.into_parts();
            let body: ResponseBody = Box::pin(IdleTimeoutBody {
                body,
                timeout: read_timeout,
                sleep: Box::pin(tokio::time::sleep(read_timeout)),
            });
            Ok(http::Response::from_parts(parts, body))
        })
    }
}

/// When a streamed request body last made progress, and whether it has ended.
struct Progress {
    last: std::sync::Mutex<Instant>,
    ended: std::sync::atomic::AtomicBool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            last: std::sync::Mutex::new(Instant::now()),
            ended: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
    }

    /// Completes when the body has taken no piece for `timeout` while it was still
    /// being sent; never completes once the body ended (or for bodies sent whole).
    async fn stalled(self: Arc<Self>, timeout: Duration) {
        loop {
            if self.ended.load(std::sync::atomic::Ordering::Acquire) {
                return std::future::pending().await;
            }
            let due = self
                .last
                .lock()
                .map(|l| *l + timeout)
                .unwrap_or_else(|_| Instant::now());
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

/// A request body stream that reports its progress and its end (or its drop).
struct SignalEnd {
    inner: ByteStream,
    ended: Option<oneshot::Sender<()>>,
    progress: Arc<Progress>,
}

impl Stream for SignalEnd {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.inner.as_mut().poll_next(cx));
        self.progress.touch();
        if item.is_none() {
            self.progress
                .ended
                .store(true, std::sync::atomic::Ordering::Release);
            self.ended.take();
        }
        Poll::Ready(item)
    }
}

impl Drop for SignalEnd {
    fn drop(&mut self) {
        self.progress
            .ended
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// A response body that fails when no chunk arrives within the read timeout.
struct IdleTimeoutBody {
    body: hyper::body::Incoming,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl Stream for IdleTimeoutBody {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let deadline = Instant::now() + self.timeout;
                    self.sleep.as_mut().reset(deadline);
                    match frame.into_data() {
                        Ok(data) if data.is_empty() => continue,
                        Ok(data) => return Poll::Ready(Some(Ok(data))),
                        // Trailers carry nothing the client needs.
                        Err(_) => continue,
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Some(Err(io::Error::other(e))));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    ready!(self.sleep.as_mut().poll(cx));
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no response data within {:?}", self.timeout),
                    ))));
                }
            }
        }
    }
}

fn map_error(e: &hyper_util::client::legacy::Error, host: String) -> TransportError {
    let kind = if e.is_connect() {
        TransportErrorKind::Connect
    } else if source_io_kind(e) == Some(io::ErrorKind::TimedOut) {
        TransportErrorKind::Timeout
    } else {
        TransportErrorKind::Io
    };
    TransportError {
        kind,
        host,
        message: error_chain(e),
    }
}

fn source_io_kind(e: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = err.source();
    }
    None
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut current = e.source();
    while let Some(err) = current {
        message.push_str(": ");
        message.push_str(&err.to_string());
        current = err.source();
    }
    message
}
