//! A blocking adapter: an iterator of batches over a `std::io::Read` body.

use std::io::Read;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::{ArrowStreamDecoder, DecoderOptions};
use crate::error::CodecError;

/// Size of each read from the inner reader (64 KiB).
const READ_CHUNK: usize = 64 * 1024;

/// Reads a response body from `R` and yields its record batches.
///
/// The body is read to its end (so an HTTP connection can be reused); a body that stops
/// early yields [`CodecError::Truncated`] as its last item. After an error the iterator
/// is fused.
#[derive(Debug)]
pub struct ArrowStreamReader<R> {
    inner: R,
    decoder: ArrowStreamDecoder,
    buf: Vec<u8>,
    eof: bool,
    done: bool,
}

impl<R: Read> ArrowStreamReader<R> {
    /// Decodes the body read from `inner`.
    pub fn new(inner: R, options: DecoderOptions) -> Self {
        ArrowStreamReader {
            inner,
            decoder: ArrowStreamDecoder::new(options),
            buf: vec![0; READ_CHUNK],
            eof: false,
            done: false,
        }
    }

    /// The schema, reading as much of the body as needed to learn it.
    pub fn schema(&mut self) -> Result<SchemaRef, CodecError> {
        loop {
            if let Some(s) = self.decoder.schema() {
                return Ok(s);
            }
            if self.eof {
                // finish() has reported the truncation already, or will now.
                self.decoder.finish()?;
                return Err(CodecError::Truncated {
                    offset: self.decoder.ipc_bytes(),
                    detail: "the stream ends before its schema message".into(),
                });
            }
            self.read_more()?;
        }
    }

    /// The decoder (for its counters: rows, bytes, batches).
    pub fn decoder(&self) -> &ArrowStreamDecoder {
        &self.decoder
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn read_more(&mut self) -> Result<(), CodecError> {
        let n = loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            self.eof = true;
            self.decoder.finish()
        } else {
            self.decoder.feed(&self.buf[..n])
        }
    }

    fn next_inner(&mut self) -> Result<Option<RecordBatch>, CodecError> {
        loop {
            if let Some(b) = self.decoder.next_batch()? {
                return Ok(Some(b));
            }
            if self.eof {
                return Ok(None);
            }
            self.read_more()?;
        }
    }
}

impl<R: Read> Iterator for ArrowStreamReader<R> {
    type Item = Result<RecordBatch, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_inner() {
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
