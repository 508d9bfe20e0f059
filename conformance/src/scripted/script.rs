//! The scripted transport: what it answers, what it records and counts, and its two
//! faces — the blocking client's `HttpTransport` and the async client's.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use maxstorage_client_core::reexport::http;
use maxstorage_client_core::{OutgoingBody, TransportError, TransportErrorKind};

use super::Seen;

/// What the script answers a request.
pub enum Answer {
    /// A response.
    Reply(Reply),
    /// A transport failure.
    Fail(TransportError),
    /// No answer, ever: the exchange hangs until it is cancelled (async client only; a
    /// blocking exchange cannot be cancelled, so the blocking face refuses it).
    Hang,
}

/// A response: status, headers and body.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

/// How a response body ends after its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyEnd {
    /// Cleanly.
    Clean,
    /// With a connection reset.
    Reset,
    /// Never: the body stays open.
    Never,
}

/// A response body: chunks as they arrive, then a clean end, a connection reset, or
/// nothing more, ever.
pub struct Body {
    chunks: VecDeque<Bytes>,
    end: BodyEnd,
}

impl Body {
    /// `data` in chunks of `chunk` bytes; with `cut_after`, only that many bytes arrive,
    /// then the connection is reset.
    pub fn chunked(data: Vec<u8>, chunk: usize, cut_after: Option<usize>) -> Body {
        let limit = cut_after.unwrap_or(data.len()).min(data.len());
        Body {
            chunks: data[..limit]
                .chunks(chunk.max(1))
                .map(Bytes::copy_from_slice)
                .collect(),
            end: match cut_after {
                Some(_) => BodyEnd::Reset,
                None => BodyEnd::Clean,
            },
        }
    }

    /// `data` whole, then a clean end.
    pub fn whole(data: Vec<u8>) -> Body {
        Body::chunked(data, usize::MAX, None)
    }

    /// `data`, and then the body never ends.
    pub fn endless(data: Vec<u8>) -> Body {
        Body {
            chunks: VecDeque::from([Bytes::from(data)]),
            end: BodyEnd::Never,
        }
    }

    /// The next chunk, or how the body ends.
    fn next_chunk(&mut self) -> Result<Bytes, BodyEnd> {
        self.chunks.pop_front().ok_or(self.end)
    }
}

/// A JSON answer with a request id.
pub fn json_reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("x-odps-request-id", "req".into())],
        body: Body::whole(body.as_bytes().to_vec()),
    }
}

/// [`json_reply`] as an answer.
pub fn json(status: u16, body: &str) -> Answer {
    Answer::Reply(json_reply(status, body))
}

/// `reply` carrying the route token `token`.
pub fn with_token(mut reply: Reply, token: &str) -> Answer {
    reply
        .headers
        .push(("x-odps-max-storage-route-token", token.to_string()));
    Answer::Reply(reply)
}

/// A 200 answer with this body (a `TableRead` body, say).
pub fn data(body: Body) -> Answer {
    Answer::Reply(Reply {
        status: 200,
        headers: vec![],
        body,
    })
}

/// A transport failure of this kind.
pub fn transport_error(kind: TransportErrorKind) -> Answer {
    Answer::Fail(TransportError {
        kind,
        host: "script".into(),
        message: "scripted".into(),
    })
}

/// What the script counts: released response bodies, cancelled exchanges, request bodies
/// that failed or were abandoned.
#[derive(Debug, Default)]
pub struct Drops {
    /// Response bodies dropped (each stands for its connection being released).
    pub bodies_dropped: AtomicUsize,
    /// Exchanges cancelled while the script held them (see [`Answer::Hang`]).
    pub exchanges_cancelled: AtomicUsize,
    /// Request bodies whose reading was abandoned mid-way (the exchange was cancelled).
    pub request_bodies_cut: AtomicUsize,
    /// Request bodies that ended with an error: its message.
    pub broken_bodies: Mutex<Vec<String>>,
    /// How streamed request bodies read on a task of their own ended (see
    /// [`Script::detaching_bodies`]): `Ok(bytes)` cleanly, or the error they ended with.
    pub detached_bodies: Mutex<Vec<Result<usize, io::ErrorKind>>>,
}

/// A handler of one request.
type Handler = Box<dyn FnMut(&Seen) -> Answer + Send>;
/// The handler of every request no queued handler takes.
type Responder = Box<dyn Fn(&Seen) -> Answer + Send + Sync>;

/// The scripted transport: each request is recorded and answered by the next queued
/// handler (or the responder); a request nothing answers fails the test.
#[derive(Default)]
pub struct Script {
    seen: Mutex<Vec<Seen>>,
    handlers: Mutex<VecDeque<Handler>>,
    responder: Option<Responder>,
    /// What was dropped, cancelled or broken.
    pub drops: Arc<Drops>,
    detach_bodies: bool,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("seen", &self.seen.lock().map(|s| s.len()).unwrap_or(0))
            .finish_non_exhaustive()
    }
}

impl Script {
    /// A script that answers requests no queued handler takes with `responder`.
    pub fn responding(responder: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Script {
        Script {
            responder: Some(Box::new(responder)),
            ..Script::default()
        }
    }

    /// A script that reads streamed request bodies on a task of its own, as hyper does on
    /// its connection task, and never answers those requests (async client only).
    pub fn detaching_bodies() -> Script {
        Script {
            detach_bodies: true,
            ..Script::default()
        }
    }

    /// Queues the handler of the next request.
    pub fn push(&self, handler: impl FnMut(&Seen) -> Answer + Send + 'static) {
        self.handlers
            .lock()
            .expect("script lock")
            .push_back(Box::new(handler));
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("script lock").clone()
    }

    /// The `Action` of every request seen so far.
    pub fn actions(&self) -> Vec<String> {
        self.seen().iter().map(|s| s.action().to_string()).collect()
    }

    /// Records a request and takes its answer.
    fn answer(&self, parts: &http::request::Parts, body: Vec<u8>) -> Answer {
        let seen = Seen::new(parts, body);
        self.seen.lock().expect("script lock").push(seen.clone());
        let queued = self.handlers.lock().expect("script lock").pop_front();
        match (queued, &self.responder) {
            (Some(mut h), _) => h(&seen),
            (None, Some(r)) => r(&seen),
            (None, None) => panic!("unexpected request {}", seen.action()),
        }
    }

    /// Records a request body that ended with `error` and the transport failure it is.
    fn broken_body(&self, error: &io::Error) -> TransportError {
        self.drops
            .broken_bodies
            .lock()
            .expect("script lock")
            .push(error.to_string());
        TransportError {
            kind: TransportErrorKind::Io,
            host: "script".into(),
            message: error.to_string(),
        }
    }

    /// A response with `status`, `headers` and `body`.
    fn response<B>(
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: B,
    ) -> http::Response<B> {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(k, v);
        }
        b.body(body).expect("a scripted response is well-formed")
    }
}

/// Increments a counter when dropped, unless disarmed.
struct DropGuard<'a> {
    counter: &'a AtomicUsize,
    armed: bool,
}

impl Drop for DropGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.counter.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A response body that counts its drop (its connection released).
struct Tracked {
    body: Body,
    current: Bytes,
    drops: Arc<Drops>,
}

impl Tracked {
    fn new(body: Body, drops: Arc<Drops>) -> Tracked {
        Tracked {
            body,
            current: Bytes::new(),
            drops,
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.bodies_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// The error a body cut by the script ends with.
fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "cut by the script")
}

impl Read for Tracked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.body.next_chunk() {
                Ok(chunk) => self.current = chunk,
                Err(BodyEnd::Clean) => return Ok(0),
                Err(BodyEnd::Reset) => return Err(reset()),
                // A body that stays open: the read blocks, as on a silent connection.
                Err(BodyEnd::Never) => loop {
                    std::thread::park();
                },
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

impl Stream for Tracked {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.body.next_chunk() {
            Ok(chunk) => Poll::Ready(Some(Ok(chunk))),
            Err(BodyEnd::Clean) => Poll::Ready(None),
            Err(BodyEnd::Reset) => {
                // Once: after the reset the body is over.
                self.body.end = BodyEnd::Clean;
                Poll::Ready(Some(Err(reset())))
            }
            // Nothing will wake it: it stays pending until dropped.
            Err(BodyEnd::Never) => Poll::Pending,
        }
    }
}

impl maxstorage_blocking::HttpTransport for Script {
    fn send(
        &self,
        request: http::Request<maxstorage_blocking::RequestBody>,
    ) -> Result<http::Response<maxstorage_blocking::ResponseBody>, TransportError> {
        let (parts, body) = request.into_parts();
        let body = match body {
            OutgoingBody::Empty => Vec::new(),
            OutgoingBody::Bytes(b) => b.to_vec(),
            OutgoingBody::Chunks(chunks) => chunks.concat(),
            OutgoingBody::Stream { mut stream, .. } => {
                let mut v = Vec::new();
                if let Err(e) = stream.read_to_end(&mut v) {
                    return Err(self.broken_body(&e));
                }
                v
            }
        };
        match self.answer(&parts, body) {
            Answer::Reply(r) => {
                let body = Box::new(Tracked::new(r.body, self.drops.clone()));
                Ok(Script::response(r.status, r.headers, body))
            }
            Answer::Fail(e) => Err(e),
            Answer::Hang => panic!("Answer::Hang needs an exchange that can be cancelled (async)"),
        }
    }
}

impl maxstorage_async::HttpTransport for Script {
    fn send(
        &self,
        request: http::Request<maxstorage_async::RequestBody>,
    ) -> maxstorage_async::BoxFuture<
        '_,
        Result<http::Response<maxstorage_async::ResponseBody>, TransportError>,
    > {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match body {
                OutgoingBody::Empty => Vec::new(),
                OutgoingBody::Bytes(b) => b.to_vec(),
                OutgoingBody::Chunks(chunks) => chunks.concat(),
                OutgoingBody::Stream { mut stream, .. } if self.detach_bodies => {
                    let drops = self.drops.clone();
                    tokio::spawn(async move {
                        let mut len = 0;
                        let outcome = loop {
                            match stream.next().await {
                                Some(Ok(chunk)) => len += chunk.len(),
                                Some(Err(e)) => break Err(e.kind()),
                                None => break Ok(len),
                            }
                        };
                        drops
                            .detached_bodies
                            .lock()
                            .expect("script lock")
                            .push(outcome);
                    });
                    return std::future::pending().await;
                }
                OutgoingBody::Stream { mut stream, .. } => {
                    let mut cut = DropGuard {
                        counter: &self.drops.request_bodies_cut,
                        armed: true,
                    };
                    let mut v = Vec::new();
                    while let Some(chunk) = stream.next().await {
                        match chunk {
                            Ok(chunk) => v.extend_from_slice(&chunk),
                            Err(e) => {
                                cut.armed = false;
                                return Err(self.broken_body(&e));
                            }
                        }
                    }
                    cut.armed = false;
                    v
                }
            };
            match self.answer(&parts, body) {
                Answer::Reply(r) => {
                    let body: maxstorage_async::ResponseBody =
                        Box::pin(Tracked::new(r.body, self.drops.clone()));
                    Ok(Script::response(r.status, r.headers, body))
                }
                Answer::Fail(e) => Err(e),
                Answer::Hang => {
                    let _cancelled = DropGuard {
                        counter: &self.drops.exchanges_cancelled,
                        armed: true,
                    };
                    std::future::pending::<()>().await;
                    unreachable!("a pending future never completes");
                }
            }
        })
    }
}
