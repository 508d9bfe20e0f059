//! Blob downloads: an iterator of blobs, or a streaming reader that moves from blob to
//! blob. (Uploads are in `upload`, batch uploads on the write-session handle.)

use std::io::Read;

use crate::transport::ResponseBody;
use maxstorage_client_core::blob::Need;
use maxstorage_client_core::items::fuse;
use maxstorage_client_core::{Blob, BlobInfo, Error, Result};

/// Size of the buffer blob bodies are read with.
const READ_CHUNK: usize = 64 * 1024;

maxstorage_surface::blob_stream_reader! {
    /// A streaming download of blobs: [`Read`] returns the bytes of the current blob and
    /// then 0; [`next_blob`](Self::next_blob) moves to the next one. Memory holds one read
    /// buffer and one CRC block; every CRC32C block is verified before its bytes are
    /// returned.
    BlobStreamReader {
        /// What the body is read into.
        buf: Vec<u8> = vec![0; READ_CHUNK],
    }
}

impl BlobStreamReader {
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
        fuse(self.next_blob(), &mut self.done)
    }
}
