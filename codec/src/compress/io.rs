//! `std::io` adapters over [`Compressor`] and [`Decompressor`] for blocking callers.
//!
//! | adapter | wraps | does |
//! |---|---|---|
//! | [`DecompressReader`] | a `Read` of compressed bytes | reads plain bytes (downloads) |
//! | [`CompressReader`] | a `Read` of plain bytes | reads compressed bytes (upload bodies pulled by an HTTP client) |
//! | [`CompressWriter`] | a `Write` taking compressed bytes | takes plain bytes (uploads pushed to a socket) |
//! | [`DecompressWriter`] | a `Write` taking plain bytes | takes compressed bytes |
//!
//! The writers must be ended with their `finish` method; dropping them loses the end of
//! the stream. Errors of the codec surface as `std::io::Error` of kind `InvalidData`
//! (`UnexpectedEof` for a truncated stream) wrapping the [`CodecError`].

use std::io::{self, Read, Write};

use bytes::{Buf, Bytes};
use maxstorage_protocol::Compression;

use super::{Compressor, Decompressor};
use crate::error::CodecError;

/// Size of the read buffers of the readers (64 KiB).
const READ_CHUNK: usize = 64 * 1024;

fn read_retrying<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads decompressed bytes from a reader of compressed bytes.
///
/// At the end of the inner reader, an incomplete frame is an error of kind
/// `UnexpectedEof`.
#[derive(Debug)]
pub struct DecompressReader<R> {
    inner: R,
    decompressor: Decompressor,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    finished: bool,
}

impl<R: Read> DecompressReader<R> {
    /// Decompresses `inner` with `codec`.
    pub fn new(inner: R, codec: Compression) -> Result<Self, CodecError> {
        Ok(DecompressReader {
            inner,
            decompressor: Decompressor::new(codec)?,
            buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            finished: false,
        })
    }

    /// The decompressor (for its byte counters).
    pub fn decompressor(&self) -> &Decompressor {
        &self.decompressor
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for DecompressReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.finished {
            return Ok(0);
        }
        loop {
            // Offer what is buffered (possibly nothing: the decoder may hold output back).
            let p = self
                .decompressor
                .decompress_into(&self.buf[self.pos..self.len], out)?;
            self.pos += p.consumed;
            if p.produced > 0 {
                return Ok(p.produced);
            }
            if self.pos < self.len {
                if p.consumed == 0 {
                    // A decoder that takes no input while given output space is stuck.
                    return Err(CodecError::Decompress {
                        codec: self.decompressor.codec(),
                        offset: self.decompressor.total_in(),
                        detail: "the decoder made no progress".into(),
                    }
                    .into());
                }
                continue;
            }
            if self.eof {
                self.decompressor.finish()?;
                self.finished = true;
                return Ok(0);
            }
            let n = read_retrying(&mut self.inner, &mut self.buf)?;
            self.pos = 0;
            self.len = n;
            self.eof = n == 0;
        }
    }
}

/// Reads compressed bytes from a reader of plain bytes (one frame).
#[derive(Debug)]
pub struct CompressReader<R> {
    inner: R,
    compressor: Compressor,
    buf: Box<[u8]>,
    pending: Bytes,
    finished: bool,
}

impl<R: Read> CompressReader<R> {
    /// Compresses `inner` with `codec` at the default level.
    pub fn new(inner: R, codec: Compression) -> Result<Self, CodecError> {
        Ok(Self::with_compressor(inner, Compressor::new(codec)?))
    }

    /// Compresses `inner` with a configured compressor.
    pub fn with_compressor(inner: R, compressor: Compressor) -> Self {
        CompressReader {
            inner,
            compressor,
            buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            pending: Bytes::new(),
            finished: false,
        }
    }

    /// The compressor (for its byte counters).
    pub fn compressor(&self) -> &Compressor {
        &self.compressor
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for CompressReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(out.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            let n = read_retrying(&mut self.inner, &mut self.buf)?;
            self.pending = if n == 0 {
                self.finished = true;
                self.compressor.finish()?
            } else {
                self.compressor.compress(&self.buf[..n])?
            };
        }
    }
}

/// Takes plain bytes and writes compressed bytes (one frame) to the inner writer.
#[derive(Debug)]
pub struct CompressWriter<W: Write> {
    inner: W,
    compressor: Compressor,
}

impl<W: Write> CompressWriter<W> {
    /// Compresses into `inner` with `codec` at the default level.
    pub fn new(inner: W, codec: Compression) -> Result<Self, CodecError> {
        Ok(Self::with_compressor(inner, Compressor::new(codec)?))
    }

    /// Compresses into `inner` with a configured compressor.
    pub fn with_compressor(inner: W, compressor: Compressor) -> Self {
        CompressWriter { inner, compressor }
    }

    /// The compressor (for its byte counters).
    pub fn compressor(&self) -> &Compressor {
        &self.compressor
    }

    /// Ends the frame, flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let tail = self.compressor.finish()?;
        self.inner.write_all(&tail)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for CompressWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let out = self.compressor.compress(data)?;
        self.inner.write_all(&out)?;
        Ok(data.len())
    }

    /// Flushes the inner writer. Bytes buffered inside the codec (up to one block) are
    /// only written by [`finish`](Self::finish).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Takes compressed bytes and writes decompressed bytes to the inner writer, in pieces of
/// at most the decompressor's piece size.
#[derive(Debug)]
pub struct DecompressWriter<W: Write> {
    inner: W,
    decompressor: Decompressor,
}

impl<W: Write> DecompressWriter<W> {
    /// Decompresses `codec` into `inner`.
    pub fn new(inner: W, codec: Compression) -> Result<Self, CodecError> {
        Ok(DecompressWriter {
            inner,
            decompressor: Decompressor::new(codec)?,
        })
    }

    /// The decompressor (for its byte counters).
    pub fn decompressor(&self) -> &Decompressor {
        &self.decompressor
    }

    /// Checks that the compressed stream is complete, flushes and returns the inner
    /// writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.decompressor.finish()?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for DecompressWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        for piece in self.decompressor.feed(data) {
            self.inner.write_all(&piece?)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader returning at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn adapters_round_trip() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
        for codec in [
            Compression::Uncompressed,
            Compression::Zstd,
            Compression::Lz4Frame,
        ] {
            // Writer → bytes.
            let mut w = CompressWriter::new(Vec::new(), codec).unwrap();
            for c in data.chunks(3333) {
                w.write_all(c).unwrap();
            }
            let compressed = w.finish().unwrap();

            // CompressReader gives a stream the decoders accept too.
            let mut r = CompressReader::new(
                Trickle {
                    data: &data,
                    step: 999,
                },
                codec,
            )
            .unwrap();
            let mut compressed2 = Vec::new();
            r.read_to_end(&mut compressed2).unwrap();

            for body in [&compressed, &compressed2] {
                let mut r = DecompressReader::new(
                    Trickle {
                        data: body,
                        step: 777,
                    },
                    codec,
                )
                .unwrap();
                let mut out = Vec::new();
                r.read_to_end(&mut out).unwrap();
                assert_eq!(out, data, "{codec}");

                let mut w = DecompressWriter::new(Vec::new(), codec).unwrap();
                for c in body.chunks(501) {
                    w.write_all(c).unwrap();
                }
                assert_eq!(w.finish().unwrap(), data, "{codec}");
            }
        }
    }

    #[test]
    fn truncated_read_is_unexpected_eof() {
        let data = vec![1u8; 100_000];
        for codec in [Compression::Zstd, Compression::Lz4Frame] {
            let body = super::super::compress(codec, &data).unwrap();
            let cut = &body[..body.len() - 3];
            let mut r = DecompressReader::new(cut, codec).unwrap();
            let mut out = Vec::new();
            let e = r.read_to_end(&mut out).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{codec}: {e}");

            let mut w = DecompressWriter::new(Vec::new(), codec).unwrap();
            w.write_all(cut).unwrap();
            assert_eq!(w.finish().unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        }
    }
}
