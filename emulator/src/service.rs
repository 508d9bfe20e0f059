//! The HTTP service: connections, routing, authentication, request ids, faults, and the
//! dispatch of storage Actions to their handlers.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use maxstorage_protocol::header;
use maxstorage_protocol::server::{
    DEFAULT_MAX_CLOCK_SKEW, IncomingRequest, RequestPath, StorageRequest, verify_request,
};
use maxstorage_protocol::{Action, ApiVersion};
use tokio::sync::watch;

use crate::body::{ChunkSender, ResponseBody};
use crate::error::{ApiError, Error};
use crate::fault::{FaultEffect, Faults};
use crate::session::Sessions;
use crate::store::Store;
use crate::util::{lock, new_id};
use crate::{Config, blob, instance, read, write};

/// Everything the service shares between requests.
pub(crate) struct State {
    pub config: Config,
    pub store: Store,
    pub sessions: Sessions,
    pub faults: Mutex<Faults>,
    pub addr: SocketAddr,
}

impl State {
    pub(crate) fn open(config: Config, addr: SocketAddr) -> Result<State, Error> {
        let store = Store::open(&config.data_dir)?;
        Ok(State {
            sessions: Sessions::default(),
            config,
            store,
            faults: Mutex::new(Faults::default()),
            addr,
        })
    }
}

/// A streaming body producer, run on a blocking thread.
pub(crate) type Producer = Box<dyn FnOnce(&ChunkSender) -> Result<(), ApiError> + Send>;

/// What a handler answers.
pub(crate) struct Reply {
    pub headers: Vec<(&'static str, String)>,
    pub body: ReplyBody,
}

pub(crate) enum ReplyBody {
    Json(Vec<u8>),
    Stream {
        content_type: &'static str,
        producer: Producer,
    },
}

impl Reply {
    /// A JSON answer.
    pub(crate) fn json(value: &impl serde::Serialize) -> Reply {
        Reply {
            headers: Vec::new(),
            body: ReplyBody::Json(serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())),
        }
    }

    /// A streamed answer.
    pub(crate) fn stream(content_type: &'static str, producer: Producer) -> Reply {
        Reply {
            headers: Vec::new(),
            body: ReplyBody::Stream {
                content_type,
                producer,
            },
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// A parsed storage request with its headers and body.
pub(crate) struct Request {
    pub storage: StorageRequest,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// An injected fault: the table commit this request runs fails after moving its
    /// files.
    pub fail_store_commit: bool,
    /// An injected fault: staging this request's rows fails at the fsync.
    pub fail_store_stage: bool,
}

impl Request {
    /// A header value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header::get_str(&self.headers, name)
    }

    /// The JSON body as `T`; an empty body is `{}`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| {
            ApiError::invalid_parameter(format!(
                "malformed JSON body of {}: {e}",
                self.storage.action
            ))
        })
    }
}

/// The running server: its shutdown signal and, when it has its own runtime, its thread.
#[derive(Debug)]
pub(crate) struct ServerHandle {
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    pub(crate) fn start(
        listener: std::net::TcpListener,
        state: Arc<State>,
    ) -> Result<ServerHandle, Error> {
        let (tx, rx) = watch::channel(false);
        let in_runtime = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if let Some(handle) = in_runtime {
            let _guard = handle.enter();
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|e| Error::io("cannot register the listener", e))?;
            handle.spawn(accept_loop(listener, state, rx));
            return Ok(ServerHandle {
                shutdown: tx,
                thread: None,
            });
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("maxstorage-emulator")
            .build()
            .map_err(|e| Error::io("cannot start the runtime", e))?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)
                .map_err(|e| Error::io("cannot register the listener", e))?
        };
        let thread = std::thread::Builder::new()
            .name("maxstorage-emulator".into())
            .spawn(move || {
                runtime.block_on(accept_loop(listener, state, rx));
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(|e| Error::io("cannot start the server thread", e))?;
        Ok(ServerHandle {
            shutdown: tx,
            thread: Some(thread),
        })
    }

    pub(crate) fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Without TCP_NODELAY every response on a reused connection stalls ~40 ms
                // (design.md §4).
                if let Err(e) = socket.set_nodelay(true) {
                    tracing::warn!(error = %e, "cannot set TCP_NODELAY");
                }
                let state = state.clone();
                let mut conn_shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(socket), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        r = conn.as_mut() => {
                            if let Err(e) = r {
                                tracing::debug!(%peer, error = %e, "connection ended with an error");
                            }
                        }
                        _ = conn_shutdown.changed() => {}
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

/// The error that makes hyper close the connection without answering (injected faults).
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

async fn handle(
    state: Arc<State>,
    req: http::Request<Incoming>,
) -> Result<Response<ResponseBody>, DropConnection> {
    let request_id = new_id("");
    let path = req.uri().path().to_string();
    let result = if path.starts_with("/admin/") {
        crate::admin::handle(state, req).await
    } else {
        match RequestPath::classify(&path) {
            RequestPath::Storage(version) => storage(state, version, req).await,
            RequestPath::TunnelDiscovery { .. } => Ok(discovery(&state, &req)),
            RequestPath::Other => Ok(Err(ApiError::not_found(
                "NoSuchObject",
                format!(
                    "no such resource {path}; the storage API is at /api/storage/v2 and /api/storage/v3"
                ),
            ))),
        }
    };
    let (outcome, fault) = match result {
        Ok(outcome) => (outcome, None),
        Err(Faulted { outcome, effect }) => (outcome, Some(effect)),
    };
    let mut response = match outcome {
        Ok(r) => r,
        Err(e) => error_response(&e, &request_id),
    };
    response.headers_mut().insert(
        header::REQUEST_ID,
        HeaderValue::from_str(&request_id).unwrap_or(HeaderValue::from_static("unknown")),
    );
    if let Some(effect) = fault {
        if effect.drops_connection() {
            return Err(DropConnection);
        }
        if let Some(n) = effect.cut_after_bytes {
            response = response.map(|b| b.cut_after(n));
        }
    }
    Ok(response)
}

/// The outcome of a request and the fault to apply to its answer.
pub(crate) struct Faulted {
    pub outcome: Result<Response<ResponseBody>, ApiError>,
    pub effect: FaultEffect,
}

type Outcome = Result<Result<Response<ResponseBody>, ApiError>, Faulted>;

/// The answer to an error.
pub(crate) fn error_response(e: &ApiError, request_id: &str) -> Response<ResponseBody> {
    let body = serde_json::json!({"Code": e.code, "Message": e.message, "RequestId": request_id});
    let mut r = Response::builder()
        .status(StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(secs) = e.retry_after {
        r = r.header(header::RETRY_AFTER, secs.to_string());
    }
    r.body(ResponseBody::full(body.to_string()))
        .unwrap_or_else(|_| Response::new(ResponseBody::full("")))
}

/// Headers as (name, value) pairs for signature checks (non-UTF-8 values are skipped).
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// Checks the signature of a request, if the emulator has credentials.
pub(crate) fn authenticate(
    state: &State,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(creds) = &state.config.credentials else {
        return Ok(());
    };
    let pairs = header_pairs(headers);
    verify_request(
        &IncomingRequest {
            method: method.as_str(),
            path,
            query,
            headers: &pairs,
        },
        creds,
        Some(SystemTime::now()),
        DEFAULT_MAX_CLOCK_SKEW,
    )
    .map_err(|e| {
        let status = match e {
            maxstorage_protocol::server::AuthError::MissingAuthorization
            | maxstorage_protocol::server::AuthError::Malformed(_) => 401,
            _ => 403,
        };
        ApiError::new(status, e.code(), e.to_string())
    })
}

fn discovery(
    state: &State,
    req: &http::Request<Incoming>,
) -> Result<Response<ResponseBody>, ApiError> {
    let query = maxstorage_protocol::url::parse_query(req.uri().query().unwrap_or(""));
    authenticate(state, req.method(), req.uri().path(), &query, req.headers())?;
    if req.method() != Method::GET {
        return Err(ApiError::new(
            405,
            "InvalidMethod",
            "tunnel discovery is a GET",
        ));
    }
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| state.addr.to_string());
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(ResponseBody::full(host))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Reads a request body, failing once it exceeds `limit` bytes.
pub(crate) async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    let mut out = BytesMut::new();
    loop {
        let frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => break,
            Some(Err(e)) => {
                return Err(ApiError::invalid_parameter(format!(
                    "cannot read the request body: {e}"
                )));
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > limit {
                        return Err(ApiError::too_large(format!(
                            "the request body exceeds the limit of {limit} bytes"
                        )));
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
    Ok(out.freeze())
}

/// Reads and discards at most `limit` bytes of a request body (or all of it, if shorter,
/// or until it fails): an upload cut mid-body by a fault.
async fn read_at_most(mut body: Incoming, limit: u64) {
    let mut read = 0u64;
    while read < limit {
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    read = read.saturating_add(data.len() as u64);
                }
            }
            None | Some(Err(_)) => break,
        }
    }
}

/// Which Actions may be sent as GET (protocol.md B§3.1: the user-guide SDK sends
/// `TableGetWriteStream` as GET; Java and `odps.maxstorage` send `InstanceGetReadSession`
/// as GET).
fn allows_get(action: Action) -> bool {
    matches!(
        action,
        Action::TableGetWriteStream | Action::InstanceGetReadSession
    )
}

async fn storage(state: Arc<State>, version: ApiVersion, req: http::Request<Incoming>) -> Outcome {
    let (parts, body) = req.into_parts();
    let query = maxstorage_protocol::url::parse_query(parts.uri.query().unwrap_or(""));
    if let Err(e) = authenticate(
        &state,
        &parts.method,
        parts.uri.path(),
        &query,
        &parts.headers,
    ) {
        return Ok(Err(e));
    }
    let storage = match StorageRequest::parse(version, query) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e.into())),
    };
    let action = storage.action;
    let effect = lock(&state.faults).take(action.as_str());
    if let Some(effect) = &effect {
        if let Some(delay) = effect.delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(err) = &effect.error {
            return Err(Faulted {
                outcome: Err(err.clone()),
                effect: FaultEffect::default(),
            });
        }
        if effect.drops_before_apply() {
            if let Some(n) = effect.cut_request_after_bytes {
                read_at_most(body, n).await;
            }
            return Err(Faulted {
                outcome: Err(ApiError::internal("the request was dropped by a fault")),
                effect: effect.clone(),
            });
        }
    }
    let outcome = async {
        if parts.method != Method::POST && !(parts.method == Method::GET && allows_get(action)) {
            return Err(ApiError::new(
                405,
                "InvalidMethod",
                format!("{action} does not accept {}", parts.method),
            ));
        }
        let limit = match action {
            Action::TableWrite | Action::TableWriteBlob => state.config.limits.max_data_body,
            _ => state.config.limits.max_json_body,
        };
        let body = read_body(body, limit).await?;
        let request = Request {
            storage,
            headers: parts.headers,
            body,
            fail_store_commit: effect.as_ref().is_some_and(|e| e.fail_store_commit),
            fail_store_stage: effect.as_ref().is_some_and(|e| e.fail_store_stage),
        };
        let st = state.clone();
        let reply = tokio::task::spawn_blocking(move || dispatch(&st, &request))
            .await
            .map_err(|e| ApiError::internal(format!("handler failed: {e}")))??;
        Ok(into_response(reply))
    }
    .await;
    match effect {
        Some(effect) if effect.drops_connection() || effect.cut_after_bytes.is_some() => {
            Err(Faulted { outcome, effect })
        }
        _ => Ok(outcome),
    }
}

/// Turns a handler's reply into a response (streams start on a blocking thread).
pub(crate) fn into_response(reply: Reply) -> Response<ResponseBody> {
    let mut builder = Response::builder().status(StatusCode::OK);
    let body = match reply.body {
        ReplyBody::Json(bytes) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            ResponseBody::full(bytes)
        }
        ReplyBody::Stream {
            content_type,
            producer,
        } => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            let (body, sender) = ResponseBody::channel();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = producer(&sender) {
                    tracing::warn!(error = %e, "streamed response failed; cutting the connection");
                    sender.fail(e.to_string());
                }
            });
            body
        }
    };
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(body)
        .unwrap_or_else(|e| error_response(&ApiError::internal(e.to_string()), ""))
}

fn dispatch(state: &State, req: &Request) -> Result<Reply, ApiError> {
    match req.storage.action {
        Action::TableCreateReadSession => read::create_session(state, req),
        Action::TableGetReadSession => read::get_session(state, req),
        Action::TableRead => read::read_rows(state, req),
        Action::TablePreview => read::preview(state, req),
        Action::TableCreateWriteSession => write::create_session(state, req),
        Action::TableGetWriteSession => write::get_session(state, req),
        Action::TableCommitWriteSession => write::commit(state, req),
        Action::TableAbortWriteSession => write::abort(state, req),
        Action::TableCreateWriteStream => write::create_stream(state, req),
        Action::TableGetWriteStream => write::get_stream(state, req),
        Action::TableWrite => write::write_rows(state, req),
        Action::TableCloseWriteStream => write::close_stream(state, req),
        Action::TableGetWriteSchema => write::get_schema(state, req),
        Action::TableWriteBlob => blob::write_blob(state, req),
        Action::BlobRead => blob::read_blobs(state, req),
        Action::InstanceCreateReadSession => instance::create_session(state, req),
        Action::InstanceGetReadSession => instance::get_session(state, req),
        Action::InstanceRead => instance::read(state, req),
        Action::TunnelDiscovery => Err(ApiError::invalid_parameter(
            "TunnelDiscovery is not a storage Action",
        )),
    }
}
