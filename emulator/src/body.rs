//! Response bodies: complete bytes or a stream fed by a producer thread, optionally cut
//! after a number of bytes (fault injection).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Chunks in flight between a producer thread and the connection.
const CHANNEL_CHUNKS: usize = 4;

/// The body of a response.
pub(crate) struct ResponseBody {
    inner: Inner,
    /// Cut the connection after this many bytes.
    cut_after: Option<u64>,
    sent: u64,
}

enum Inner {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Result<Bytes, std::io::Error>>),
}

impl ResponseBody {
    /// A complete body.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> ResponseBody {
        let b: Bytes = bytes.into();
        ResponseBody {
            inner: Inner::Full((!b.is_empty()).then_some(b)),
            cut_after: None,
            sent: 0,
        }
    }

    /// A streamed body and the sender its producer writes to.
    pub(crate) fn channel() -> (ResponseBody, ChunkSender) {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        (
            ResponseBody {
                inner: Inner::Channel(rx),
                cut_after: None,
                sent: 0,
            },
            ChunkSender { tx },
        )
    }

    /// Cuts the connection after `n` body bytes.
    pub(crate) fn cut_after(mut self, n: u64) -> ResponseBody {
        self.cut_after = Some(n);
        self
    }
}

/// The producer side of a streamed body.
pub(crate) struct ChunkSender {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl ChunkSender {
    /// Sends a chunk (blocking the producer thread while the client is slow); `false`
    /// when the client has gone.
    pub(crate) fn send(&self, chunk: Bytes) -> bool {
        chunk.is_empty() || self.tx.blocking_send(Ok(chunk)).is_ok()
    }

    /// Ends the body with an error: the connection is cut, so the client sees a
    /// truncated body rather than a complete one.
    pub(crate) fn fail(&self, message: String) {
        let _ = self.tx.blocking_send(Err(std::io::Error::other(message)));
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(limit) = this.cut_after
            && this.sent >= limit
        {
            return Poll::Ready(Some(Err(std::io::Error::other(
                "connection cut by an injected fault",
            ))));
        }
        let next = match &mut this.inner {
            Inner::Full(b) => b.take().map(Ok),
            Inner::Channel(rx) => match rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(x) => x,
            },
        };
        match next {
            None => Poll::Ready(None),
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            Some(Ok(mut chunk)) => {
                if let Some(limit) = this.cut_after {
                    let room = limit.saturating_sub(this.sent);
                    if (chunk.len() as u64) > room {
                        chunk.truncate(room as usize);
                    }
                }
                this.sent += chunk.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.inner, Inner::Full(None)) && self.cut_after.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(b) if self.cut_after.is_none() => {
                SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
            _ => SizeHint::default(),
        }
    }
}
