//! Blobs: streaming single-blob upload ([`AsyncWrite`]), batch upload, and downloads as
//! a [`Stream`] of blobs or a streaming reader ([`AsyncRead`]) that moves from blob to
//! blob.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use maxstorage_client_core::blob::{BlobCursor, BlobUploadDigest, Need};
use maxstorage_client_core::{Blob, BlobInfo, Error, Result};
use maxstorage_protocol::StreamingResponse;
use maxstorage_protocol::blob::{WriteBlob, WriteBlobResult};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::client::Client;
use crate::transport::ResponseBody;
use crate::upload::{Upload, upload_route};

/// Size of the buffer a whole blob is collected with.
const COLLECT_CHUNK: usize = 64 * 1024;

/// A streaming download of blobs: [`AsyncRead`] returns the bytes of the current blob and
/// then end-of-file; [`next_blob`](Self::next_blob) moves to the next one. Memory holds
/// one chunk and one CRC block; every CRC32C block is verified before its bytes are
/// returned.
pub struct BlobStreamReader {
    body: ResponseBody,
    cursor: BlobCursor,
}

impl std::fmt::Debug for BlobStreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStreamReader")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl BlobStreamReader {
    pub(crate) fn new(
        head: &StreamingResponse,
        body: ResponseBody,
        references: usize,
    ) -> Result<BlobStreamReader> {
        Ok(BlobStreamReader {
            body,
            cursor: BlobCursor::new(head, references)?,
        })
    }

    /// The blob the reader is on.
    pub fn current(&self) -> Option<&BlobInfo> {
        self.cursor.current()
    }

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
        match ready!(this.poll_blob(cx)) {
            Ok(Some(b)) => Poll::Ready(Some(Ok(b))),
            Ok(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Err(e) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

/// A streaming single-blob upload: write the bytes ([`AsyncWrite`], e.g. with
/// `tokio::io::copy`), then [`finish`](Self::finish). The upload runs while you write
/// (memory holds a few chunks); the MD5 and size the service reports are checked against
/// the bytes written. Dropping the writer before `finish` cancels the upload: the service
/// gets a body cut short, and stores nothing.
pub struct BlobWriter {
    upload: Upload<WriteBlobResult>,
    digest: BlobUploadDigest,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("written", &self.digest.written())
            .finish_non_exhaustive()
    }
}

impl BlobWriter {
    pub(crate) fn start(
        client: Client,
        call: WriteBlob,
        target: String,
        route_override: Option<String>,
    ) -> Result<BlobWriter> {
        let digest = BlobUploadDigest::new(call.compression)?;
        let session_id = call.session_id.clone();
        let upload = Upload::start(
            client,
            target,
            session_id,
            route_override,
            move |client, target, session_id, route_override, body| async move {
                let route = upload_route(&target, &session_id, route_override.as_deref());
                client.core.call_with_body(&call, route, body).await
            },
        );
        Ok(BlobWriter { upload, digest })
    }

    /// Writes bytes of the blob, waiting while the upload catches up.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        std::future::poll_fn(|cx| self.upload.poll_ready(cx))
            .await
            .map_err(|e| Error::io("sending the blob", e))?;
        let chunk = self.digest.chunk(data)?;
        self.upload
            .start_send(chunk)
            .map_err(|e| Error::io("sending the blob", e))
    }

    /// Ends the upload and returns the service's answer, after checking its MD5 and size.
    pub async fn finish(mut self) -> Result<WriteBlobResult> {
        let tail = self.digest.finish()?;
        self.upload
            .send(tail)
            .await
            .map_err(|e| Error::io("finishing the blob upload", e))?;
        let result = self.upload.finish().await?;
        self.digest.verify(&result)?;
        Ok(result)
    }
}

impl AsyncWrite for BlobWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.upload.poll_ready(cx))?;
        let chunk = this.digest.chunk(buf).map_err(io::Error::other)?;
        this.upload.start_send(chunk)?;
        Poll::Ready(Ok(buf.len()))
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
