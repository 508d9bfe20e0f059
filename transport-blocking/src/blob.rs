//! Blobs: streaming single-blob upload (`std::io::Write`), batch upload, and downloads as
//! an iterator of blobs or a streaming reader that moves from blob to blob.

use std::io::{Read, Write};

use bytes::Bytes;
use maxstorage_codec::blob::BlobReadDecoder;
use maxstorage_codec::compress::Compressor;
use maxstorage_protocol::StreamingResponse;
use maxstorage_protocol::blob::{WriteBlob, WriteBlobResult};
use maxstorage_protocol::frame::{BlobEvent, Checksum, ChecksumHasher, ChecksumType};

use crate::client::Client;
use crate::transport::ResponseBody;
use crate::upload::{Upload, compressor_for};
use maxstorage_client_core::{Blob, BlobInfo, Error, Result};

/// Size of the buffer blob bodies are read with.
const READ_CHUNK: usize = 64 * 1024;

/// A streaming download of blobs: [`Read`] returns the bytes of the current blob and then
/// 0; [`next_blob`](Self::next_blob) moves to the next one. Memory holds one read buffer
/// and one CRC block; every CRC32C block is verified before its bytes are returned.
pub struct BlobStreamReader {
    body: ResponseBody,
    decoder: BlobReadDecoder,
    buf: Vec<u8>,
    pending: Bytes,
    current: Option<BlobInfo>,
    in_blob: bool,
    ended: bool,
    expected: usize,
    seen: usize,
}

impl std::fmt::Debug for BlobStreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStreamReader")
            .field("current", &self.current)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl BlobStreamReader {
    pub(crate) fn new(
        head: &StreamingResponse,
        body: ResponseBody,
        references: usize,
    ) -> Result<BlobStreamReader> {
        let decoder = BlobReadDecoder::new(head.compression, references)?;
        Ok(BlobStreamReader {
            body,
            decoder,
            buf: vec![0; READ_CHUNK],
            pending: Bytes::new(),
            current: None,
            in_blob: false,
            ended: false,
            expected: references,
            seen: 0,
        })
    }

    /// The blob the reader is on.
    pub fn current(&self) -> Option<&BlobInfo> {
        self.current.as_ref()
    }

    /// The next decoder event, reading the body as needed; `None` at the end.
    fn event(&mut self) -> Result<Option<BlobEvent>> {
        loop {
            if let Some(ev) = self.decoder.next_event()? {
                return Ok(Some(ev));
            }
            if self.ended {
                return Ok(None);
            }
            let n = loop {
                match self.body.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io("reading the BlobRead body", e)),
                }
            };
            if n == 0 {
                self.decoder.finish();
                self.ended = true;
            } else {
                self.decoder.feed(&self.buf[..n]);
            }
        }
    }

    /// Moves to the next blob (skipping what is left of the current one) and returns its
    /// metadata, or `None` after the last one. Fails if the service sent fewer blobs than
    /// were asked for.
    pub fn next_blob(&mut self) -> Result<Option<BlobInfo>> {
        while self.in_blob {
            let mut sink = [0u8; 8192];
            if self.read_data(&mut sink)? == 0 {
                break;
            }
        }
        match self.event()? {
            Some(BlobEvent::ItemStart {
                index,
                header,
                data_len,
            }) => {
                let info = BlobInfo::from_header(index, &header, data_len);
                self.current = Some(info.clone());
                self.in_blob = true;
                self.seen += 1;
                Ok(Some(info))
            }
            Some(BlobEvent::Data(_)) | Some(BlobEvent::ItemEnd(_)) => {
                Err(Error::Integrity("blob data outside a blob frame".into()))
            }
            None => {
                self.current = None;
                if self.seen != self.expected {
                    return Err(Error::Integrity(format!(
                        "BlobRead returned {} blobs for {} references",
                        self.seen, self.expected
                    )));
                }
                Ok(None)
            }
        }
    }

    fn read_data(&mut self, out: &mut [u8]) -> Result<usize> {
        loop {
            if !self.pending.is_empty() {
                let n = out.len().min(self.pending.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending = self.pending.slice(n..);
                return Ok(n);
            }
            if !self.in_blob {
                return Ok(0);
            }
            match self.event()? {
                Some(BlobEvent::Data(d)) => self.pending = d,
                Some(BlobEvent::ItemEnd(_)) => {
                    self.in_blob = false;
                    return Ok(0);
                }
                Some(BlobEvent::ItemStart { .. }) | None => {
                    return Err(Error::Integrity("a blob ended without its footer".into()));
                }
            }
        }
    }
}

impl Read for BlobStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.current.is_none() && !self.in_blob && self.seen == 0 {
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
    compressor: Option<Compressor>,
    md5: ChecksumHasher,
    written: u64,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("written", &self.written)
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
        let compressor = compressor_for(call.compression)?;
        let session_id = call.session_id.clone();
        let upload = Upload::start(
            client,
            target,
            session_id,
            route_override,
            move |client, route, body| client.core.call_with_body(&call, route, body),
        );
        Ok(BlobWriter {
            upload,
            compressor,
            md5: ChecksumHasher::new(ChecksumType::Md5),
            written: 0,
        })
    }

    /// Ends the upload and returns the service's answer, after checking its MD5 and size.
    pub fn finish(mut self) -> Result<WriteBlobResult> {
        if let Some(c) = self.compressor.as_mut() {
            let tail = c.finish()?;
            self.upload
                .send(tail)
                .map_err(|e| Error::io("finishing the blob upload", e))?;
        }
        let result = self.upload.finish()?;
        let md5 = match self.md5.finalize() {
            Checksum::Md5(d) => d.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            _ => String::new(),
        };
        if !result.md5_value.eq_ignore_ascii_case(&md5) {
            return Err(Error::Integrity(format!(
                "blob MD5 mismatch: sent {md5}, the service stored {:?}",
                result.md5_value
            )));
        }
        if result.size != self.written as i64 {
            return Err(Error::Integrity(format!(
                "blob size mismatch: sent {} bytes, the service stored {}",
                self.written, result.size
            )));
        }
        Ok(result)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.md5.update(buf);
        self.written += buf.len() as u64;
        let chunk = match self.compressor.as_mut() {
            Some(c) => c.compress(buf).map_err(std::io::Error::other)?,
            None => Bytes::copy_from_slice(buf),
        };
        self.upload.send(chunk)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
