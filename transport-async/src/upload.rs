//! Requests whose body is written while they are being sent.
//!
//! No task is spawned: the request's future is polled by the writer itself, each time it
//! waits to hand over a chunk and in `finish`. Dropping the writer drops the future, which
//! cancels the request mid-body; and since the transport may read the body elsewhere (hyper
//! does, on its connection task), the body itself ends with an error unless the writer
//! finished: the service sees a body cut short, never a complete one.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_channel::mpsc;
use futures_core::Stream;

use crate::client::Client;
use crate::exec::{Route, SendBody};
use crate::transport::BoxFuture;
use maxstorage_client_core::{Error, Result};

/// How many chunks may wait between the writer and the request body.
const QUEUED_CHUNKS: usize = 4;

/// A request whose body is written while it is being sent.
pub(crate) struct Upload<T> {
    tx: Option<mpsc::Sender<io::Result<Bytes>>>,
    finished: Arc<AtomicBool>,
    request: Option<BoxFuture<'static, Result<T>>>,
    outcome: Option<Result<T>>,
}

impl<T> std::fmt::Debug for Upload<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("open", &self.tx.is_some())
            .field("answered", &self.outcome.is_some())
            .finish()
    }
}

impl<T: Send + 'static> Upload<T> {
    /// Starts the request `send` makes with a streamed body (nothing is sent before the
    /// writer is first polled).
    pub(crate) fn start<F, Fut>(
        client: Client,
        target: String,
        session_id: String,
        route_override: Option<String>,
        send: F,
    ) -> Upload<T>
    where
        F: FnOnce(Client, String, String, Option<String>, SendBody) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(QUEUED_CHUNKS);
        let finished = Arc::new(AtomicBool::new(false));
        let body = UploadBody {
            rx,
            finished: finished.clone(),
            done: false,
        };
        let body = SendBody::Stream(Box::pin(body), None);
        let request = send(client, target, session_id, route_override, body);
        Upload {
            tx: Some(tx),
            finished,
            request: Some(Box::pin(request)),
            outcome: None,
        }
    }

    /// Drives the request; ready when a chunk can be handed over. Fails when the request
    /// ended before its body did (`finish` tells why).
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(request) = self.request.as_mut()
            && let Poll::Ready(outcome) = request.as_mut().poll(cx)
        {
            self.request = None;
            self.outcome = Some(outcome);
        }
        let Some(tx) = self.tx.as_mut().filter(|_| self.outcome.is_none()) else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the upload ended; finish() tells why",
            )));
        };
        ready!(tx.poll_ready(cx)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the upload stopped reading its body; finish() tells why",
            )
        })?;
        Poll::Ready(Ok(()))
    }

    /// Hands over a chunk; call after [`poll_ready`](Self::poll_ready) said ready.
    pub(crate) fn start_send(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| io::Error::other("the upload is finished"))?;
        tx.start_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the upload stopped reading its body; finish() tells why",
            )
        })
    }

    /// Hands over a chunk, waiting for room.
    pub(crate) async fn send(&mut self, chunk: Bytes) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await?;
        self.start_send(chunk)
    }

    /// Ends the body and returns the answer.
    pub(crate) async fn finish(mut self) -> Result<T> {
        self.finished.store(true, Ordering::SeqCst);
        drop(self.tx.take());
        if let Some(outcome) = self.outcome.take() {
            return outcome;
        }
        match self.request.take() {
            Some(request) => request.await,
            None => Err(Error::Internal("the upload is already finished")),
        }
    }
}

/// The body of an upload: the chunks the writer hands over; it ends cleanly only after
/// `finish`, and with an error when the writer was dropped before.
struct UploadBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    finished: Arc<AtomicBool>,
    done: bool,
}

impl Stream for UploadBody {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut self.rx).poll_next(cx)) {
            Some(item) => Poll::Ready(Some(item)),
            None => {
                self.done = true;
                if self.finished.load(Ordering::SeqCst) {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the writer was dropped before finish: the body is incomplete",
                    ))))
                }
            }
        }
    }
}

/// The route of an upload from its owned parts.
pub(crate) fn upload_route<'a>(
    target: &'a str,
    session_id: &'a str,
    route_override: Option<&'a str>,
) -> Route<'a> {
    Route::session(target, session_id).with_override(route_override)
}
