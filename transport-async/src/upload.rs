//! Requests whose body is written while they are being sent: the raw `TableWrite` and
//! blob writers ([`AsyncWrite`]) over an upload the writer drives.
//!
//! No task is spawned: the request's future is polled by the writer itself, each time it
//! waits to hand over a chunk and in `finish`. Dropping the writer drops the future, which
//! cancels the request mid-body; and since the transport may read the body elsewhere (hyper
//! does, on its connection task), the body itself ends with an error unless the writer
//! finished: the service sees a body cut short, never a complete one.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_channel::mpsc;
use futures_core::Stream;

use crate::exec::SendBody;
use crate::transport::BoxFuture;
use crate::write::WriteSessionHandle;
use maxstorage_client_core::{Error, Result};
use maxstorage_protocol::Call;
use tokio::io::AsyncWrite;

maxstorage_surface::uploads!(async; .await);

/// A chunk of a raw body: the bytes as they are.
fn raw_chunk(data: &[u8]) -> io::Result<Bytes> {
    Ok(Bytes::copy_from_slice(data))
}

impl RawRowsWriter {
    /// Writes bytes of the body, waiting while the upload catches up.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.upload
            .write(data, raw_chunk)
            .await
            .map_err(|e| Error::io("sending the TableWrite body", e))
    }
}

impl AsyncWrite for RawRowsWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().upload.poll_write(cx, buf, raw_chunk)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Does nothing: the body ends with [`RawRowsWriter::finish`], which returns the
    /// service's answer.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl BlobWriter {
    /// Writes bytes of the blob, waiting while the upload catches up.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let digest = &mut self.digest;
        let chunk = |data: &[u8]| digest.chunk(data).map_err(io::Error::other);
        self.upload
            .write(data, chunk)
            .await
            .map_err(|e| Error::io("sending the blob", e))
    }
}

impl AsyncWrite for BlobWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let digest = &mut this.digest;
        let chunk = |data: &[u8]| digest.chunk(data).map_err(io::Error::other);
        this.upload.poll_write(cx, buf, chunk)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Does nothing: the upload ends with [`BlobWriter::finish`], which returns the
    /// service's answer.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

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
    /// Starts `call` on `session`'s route, its body what the writer hands over (nothing
    /// is sent before the writer is first polled).
    pub(crate) fn start<C>(session: WriteSessionHandle, call: C) -> Result<Upload<T>>
    where
        C: Call<Output = T> + Send + Sync + 'static,
    {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(QUEUED_CHUNKS);
        let finished = Arc::new(AtomicBool::new(false));
        let body = UploadBody {
            rx,
            finished: finished.clone(),
            done: false,
        };
        let body = SendBody::Stream(Box::pin(body), None);
        let request = async move { session.call_streamed(&call, body).await };
        Ok(Upload {
            tx: Some(tx),
            finished,
            request: Some(Box::pin(request)),
            outcome: None,
        })
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

    /// Writes `data` as the chunk `chunk` makes of it once there is room (a writer's
    /// `write`; the chunk is made only then, so a failed wait leaves no trace).
    pub(crate) async fn write(
        &mut self,
        data: &[u8],
        chunk: impl FnOnce(&[u8]) -> io::Result<Bytes>,
    ) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await?;
        self.start_send(chunk(data)?)
    }

    /// [`write`](Self::write) as an [`AsyncWrite::poll_write`].
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        chunk: impl FnOnce(&[u8]) -> io::Result<Bytes>,
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_ready(cx))?;
        self.start_send(chunk(data)?)?;
        Poll::Ready(Ok(data.len()))
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
