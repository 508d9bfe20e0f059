//! Blob downloads: a [`Stream`] of blobs, or a streaming reader ([`AsyncRead`]) that
//! moves from blob to blob. (Uploads are in `upload`, batch uploads on the write-session
//! handle.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use maxstorage_client_core::blob::Need;
use maxstorage_client_core::items::fuse;
use maxstorage_client_core::{Blob, BlobInfo, Error, Result};
use tokio::io::{AsyncRead, ReadBuf};

use crate::transport::ResponseBody;

/// Size of the buffer a whole blob is collected with.
const COLLECT_CHUNK: usize = 64 * 1024;

maxstorage_surface::blob_stream_reader! {
    /// A streaming download of blobs: [`AsyncRead`] returns the bytes of the current blob
    /// and then end-of-file; [`next_blob`](Self::next_blob) moves to the next one. Memory
    /// holds one chunk and one CRC block; every CRC32C block is verified before its bytes
    /// are returned.
    BlobStreamReader {}
}

impl BlobStreamReader {
    /// Reads the next chunk of the body into the cursor.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match ready!(self.body.as_mut().poll_next(cx)) {
            Some(Ok(chunk)) => self.cursor.feed(&chunk),
            Some(Err(e)) => return Poll::Ready(Err(Error::io("reading the BlobRead body", e))),
            None => self.cursor.end_of_body(),
        }
        Poll::Ready(Ok(()))
    }

    fn poll_next_blob(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<BlobInfo>>> {
        loop {
            match self.cursor.next_blob()? {
                Need::Ready(info) => return Poll::Ready(Ok(info)),
                Need::Input => ready!(self.poll_fill(cx))?,
            }
        }
    }

    fn poll_read_data(&mut self, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<Result<usize>> {
        loop {
            match self.cursor.read_data(out)? {
                Need::Ready(n) => return Poll::Ready(Ok(n)),
                Need::Input => ready!(self.poll_fill(cx))?,
            }
        }
    }

    /// Moves to the next blob (skipping what is left of the current one) and returns its
    /// metadata, or `None` after the last one. Fails if the service sent fewer blobs than
    /// were asked for.
    pub async fn next_blob(&mut self) -> Result<Option<BlobInfo>> {
        std::future::poll_fn(|cx| self.poll_next_blob(cx)).await
    }
}

impl AsyncRead for BlobStreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.cursor.at_start() {
            // Position on the first blob on the first read.
            ready!(this.poll_next_blob(cx)).map_err(io::Error::other)?;
        }
        let n =
            ready!(this.poll_read_data(cx, buf.initialize_unfilled())).map_err(io::Error::other)?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// Downloaded blobs as a [`Stream`], one at a time (each is held in memory whole; use
/// [`BlobStreamReader`] for large blobs).
#[derive(Debug)]
pub struct BlobReader {
    stream: BlobStreamReader,
    collecting: Option<(BlobInfo, Vec<u8>)>,
    buf: Vec<u8>,
    done: bool,
}

impl BlobReader {
    pub(crate) fn new(stream: BlobStreamReader) -> BlobReader {
        BlobReader {
            stream,
            collecting: None,
            buf: vec![0; COLLECT_CHUNK],
            done: false,
        }
    }

    fn poll_blob(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Blob>>> {
        loop {
            let Some((_, data)) = self.collecting.as_mut() else {
                let Some(info) = ready!(self.stream.poll_next_blob(cx))? else {
                    return Poll::Ready(Ok(None));
                };
                let capacity = info.len.unwrap_or(0).min(64 * 1024 * 1024) as usize;
                self.collecting = Some((info, Vec::with_capacity(capacity)));
                continue;
            };
            let n = ready!(self.stream.poll_read_data(cx, &mut self.buf))?;
            if n > 0 {
                data.extend_from_slice(&self.buf[..n]);
                continue;
            }
            let Some((info, data)) = self.collecting.take() else {
                continue;
            };
            return Poll::Ready(Ok(Some(Blob {
                data,
                content_type: info.content_type,
                file_name: info.file_name,
            })));
        }
    }
}

impl Stream for BlobReader {
    type Item = Result<Blob>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let next = ready!(this.poll_blob(cx));
        Poll::Ready(fuse(next, &mut this.done))
    }
}
