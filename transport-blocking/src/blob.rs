//! Blobs: streaming single-blob upload (`std::io::Write`), batch upload, and downloads as
//! an iterator of blobs or a streaming reader that moves from blob to blob.

use std::io::{Read, Write};

use maxstorage_protocol::StreamingResponse;
use maxstorage_protocol::blob::{WriteBlob, WriteBlobResult};

use crate::client::Client;
use crate::transport::ResponseBody;
use crate::upload::Upload;
use maxstorage_client_core::blob::{BlobCursor, BlobUploadDigest, Need};
use maxstorage_client_core::{Blob, BlobInfo, Error, Result};

/// Size of the buffer blob bodies are read with.
const READ_CHUNK: usize = 64 * 1024;

/// A streaming download of blobs: [`Read`] returns the bytes of the current blob and then
/// 0; [`next_blob`](Self::next_blob) moves to the next one. Memory holds one read buffer
/// and one CRC block; every CRC32C block is verified before its bytes are returned.
pub struct BlobStreamReader {
    body: ResponseBody,
    cursor: BlobCursor,
    buf: Vec<u8>,
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
            buf: vec![0; READ_CHUNK],
        })
    }

    /// The blob the reader is on.
    pub fn current(&self) -> Option<&BlobInfo> {
        self.cursor.current()
    }

    /// Reads the next chunk of the body into the cursor.
    fn fill(&mut self) -> Result<()> {
        let n = loop {
            match self.body.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("reading the BlobRead body", e)),
            }
        };
        if n == 0 {
            self.cursor.end_of_body();
        } else {
            self.cursor.feed(&self.buf[..n]);
        }
        Ok(())
    }

    /// Moves to the next blob (skipping what is left of the current one) and returns its
    /// metadata, or `None` after the last one. Fails if the service sent fewer blobs than
    /// were asked for.
    pub fn next_blob(&mut self) -> Result<Option<BlobInfo>> {
        loop {
            match self.cursor.next_blob()? {
                Need::Ready(info) => return Ok(info),
                Need::Input => self.fill()?,
            }
        }
    }

    fn read_data(&mut self, out: &mut [u8]) -> Result<usize> {
        loop {
            match self.cursor.read_data(out)? {
                Need::Ready(n) => return Ok(n),
                Need::Input => self.fill()?,
            }
        }
    }
}

impl Read for BlobStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cursor.at_start() {
            // Position on the first blob on the first read.
            self.next_blob().map_err(std::io::Error::other)?;
        }
        self.read_data(buf).map_err(std::io::Error::other)
    }
}

/// Downloaded blobs, one at a time (each is held in memory whole; use
/// [`BlobStreamReader`] for large blobs).
#[derive(Debug)]
pub struct BlobReader {
    stream: BlobStreamReader,
    done: bool,
}

impl BlobReader {
    pub(crate) fn new(stream: BlobStreamReader) -> BlobReader {
        BlobReader {
            stream,
            done: false,
        }
    }

    fn next_blob(&mut self) -> Result<Option<Blob>> {
        let Some(info) = self.stream.next_blob()? else {
            return Ok(None);
        };
        let mut data = Vec::with_capacity(info.len.unwrap_or(0).min(64 * 1024 * 1024) as usize);
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = self.stream.read_data(&mut buf)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        Ok(Some(Blob {
            data,
            content_type: info.content_type,
            file_name: info.file_name,
        }))
    }
}

impl Iterator for BlobReader {
    type Item = Result<Blob>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_blob() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A streaming single-blob upload: write the bytes, then [`finish`](Self::finish). The
/// upload runs while you write (memory holds a few chunks); the MD5 and size the service
/// reports are checked against the bytes written.
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
            move |client, route, body| client.core.call_with_body(&call, route, body),
        )?;
        Ok(BlobWriter { upload, digest })
    }

    /// Ends the upload and returns the service's answer, after checking its MD5 and size.
    pub fn finish(mut self) -> Result<WriteBlobResult> {
        let tail = self.digest.finish()?;
        self.upload
            .send(tail)
            .map_err(|e| Error::io("finishing the blob upload", e))?;
        let result = self.upload.finish()?;
        self.digest.verify(&result)?;
        Ok(result)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let chunk = self.digest.chunk(buf).map_err(std::io::Error::other)?;
        self.upload.send(chunk)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
