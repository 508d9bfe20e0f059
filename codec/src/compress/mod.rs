//! Streaming zstd / LZ4-frame compression of HTTP bodies.
//!
//! Used for blob uploads and downloads (`Content-Encoding: zstd` / `x-lz4-frame`,
//! protocol.md B§6) and for whole-body compressed `TableRead` responses (A4).
//!
//! Both directions are push-based (sans-IO): [`Decompressor::feed`] takes any slice of
//! compressed input and yields decompressed output in pieces of at most
//! [`Decompressor::piece_size`] bytes, decoding lazily as the pieces are taken, so a
//! decompression bomb never expands further than one piece per call;
//! [`Compressor::compress`] takes any slice of plain input and returns the compressed
//! bytes produced so far. [`io`] wraps both in `std::io::Read` / `Write` adapters.
//!
//! Memory: the LZ4 decoder holds at most one block (≤ 4 MiB, the largest block size of the
//! format) plus a 64 KiB window; the zstd decoder holds its window, which the zstd
//! library caps at 128 MiB (window log 27) whatever a frame header declares.

pub mod io;
mod lz4;

use bytes::Bytes;
use maxstorage_protocol::Compression;
use zstd::stream::raw::{InBuffer, Operation, OutBuffer};

use crate::error::CodecError;
use lz4::Lz4FrameDecoder;

/// Default largest piece of output [`Decompressor::feed`] yields (64 KiB).
pub const DEFAULT_PIECE_SIZE: usize = 64 * 1024;

/// Default zstd compression level (the zstd library default).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// How much a decoding step consumed and produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Output bytes produced.
    pub produced: usize,
}

/// An output target with a hard limit.
pub(crate) enum Out<'a> {
    /// A caller's slice; `pos` bytes are filled.
    Slice { buf: &'a mut [u8], pos: usize },
    /// A vector that may grow up to `limit` bytes.
    Vec {
        buf: &'a mut Vec<u8>,
        limit: usize,
        start: usize,
    },
}

impl Out<'_> {
    pub(crate) fn remaining(&self) -> usize {
        match self {
            Out::Slice { buf, pos } => buf.len() - *pos,
            Out::Vec { buf, limit, .. } => limit.saturating_sub(buf.len()),
        }
    }

    /// Appends `data`, which must fit `remaining()`.
    pub(crate) fn put(&mut self, data: &[u8]) {
        match self {
            Out::Slice { buf, pos } => {
                buf[*pos..*pos + data.len()].copy_from_slice(data);
                *pos += data.len();
            }
            Out::Vec { buf, .. } => buf.extend_from_slice(data),
        }
    }

    pub(crate) fn written(&self) -> usize {
        match self {
            Out::Slice { pos, .. } => *pos,
            Out::Vec { buf, start, .. } => buf.len() - *start,
        }
    }
}

enum DecoderKind {
    Identity,
    Zstd {
        decoder: Box<zstd::stream::raw::Decoder<'static>>,
        /// Whether the input so far ends exactly after a complete frame.
        frame_complete: bool,
    },
    Lz4(Box<Lz4FrameDecoder>),
}

/// A push-based decompressor of one body (a sequence of zstd or LZ4 frames, or plain
/// bytes for [`Compression::Uncompressed`]).
pub struct Decompressor {
    codec: Compression,
    kind: DecoderKind,
    piece_size: usize,
    total_in: u64,
    total_out: u64,
    failed: Option<CodecError>,
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("codec", &self.codec)
            .field("piece_size", &self.piece_size)
            .field("total_in", &self.total_in)
            .field("total_out", &self.total_out)
            .finish_non_exhaustive()
    }
}

impl Decompressor {
    /// A decompressor for `codec`.
    pub fn new(codec: Compression) -> Result<Self, CodecError> {
        let kind = match codec {
            Compression::Uncompressed => DecoderKind::Identity,
            Compression::Zstd => {
                let decoder =
                    zstd::stream::raw::Decoder::new().map_err(|e| CodecError::Decompress {
                        codec,
                        offset: 0,
                        detail: e.to_string(),
                    })?;
                DecoderKind::Zstd {
                    decoder: Box::new(decoder),
                    frame_complete: true,
                }
            }
            Compression::Lz4Frame => DecoderKind::Lz4(Box::new(Lz4FrameDecoder::new())),
        };
        Ok(Decompressor {
            codec,
            kind,
            piece_size: DEFAULT_PIECE_SIZE,
            total_in: 0,
            total_out: 0,
            failed: None,
        })
    }

    /// Sets the largest piece [`feed`](Self::feed) yields (at least 1 byte).
    pub fn with_piece_size(mut self, piece_size: usize) -> Self {
        self.piece_size = piece_size.max(1);
        self
    }

    /// The codec.
    pub fn codec(&self) -> Compression {
        self.codec
    }

    /// The largest piece [`feed`](Self::feed) yields.
    pub fn piece_size(&self) -> usize {
        self.piece_size
    }

    /// Compressed bytes consumed so far.
    pub fn total_in(&self) -> u64 {
        self.total_in
    }

    /// Decompressed bytes produced so far.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    /// Decompresses from `input` into `output`. Consumes as much input as it can without
    /// producing more than `output.len()` bytes; call again with the unconsumed rest
    /// (or an empty slice, to drain output held back by a full `output`) until it makes
    /// no progress.
    pub fn decompress_into(
        &mut self,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<Progress, CodecError> {
        let mut out = Out::Slice {
            buf: output,
            pos: 0,
        };
        self.step(input, &mut out)
    }

    /// Decompresses from `input`, appending at most `max_output` bytes to `output`.
    pub fn decompress_to_vec(
        &mut self,
        input: &[u8],
        output: &mut Vec<u8>,
        max_output: usize,
    ) -> Result<Progress, CodecError> {
        let start = output.len();
        let limit = start.saturating_add(max_output);
        let mut out = Out::Vec {
            buf: output,
            limit,
            start,
        };
        self.step(input, &mut out)
    }

    fn step(&mut self, input: &[u8], out: &mut Out<'_>) -> Result<Progress, CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = match &mut self.kind {
            DecoderKind::Identity => {
                let n = input.len().min(out.remaining());
                out.put(&input[..n]);
                Ok(Progress {
                    consumed: n,
                    produced: n,
                })
            }
            DecoderKind::Zstd {
                decoder,
                frame_complete,
            } => zstd_step(decoder, frame_complete, input, out),
            DecoderKind::Lz4(decoder) => decoder.decode(input, out),
        };
        match result {
            Ok(p) => {
                self.total_in += p.consumed as u64;
                self.total_out += p.produced as u64;
                Ok(p)
            }
            Err(detail) => {
                let e = CodecError::Decompress {
                    codec: self.codec,
                    offset: self.total_in,
                    detail,
                };
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Feeds a slice of compressed input; the returned iterator decompresses it lazily
    /// and yields output pieces of at most [`piece_size`](Self::piece_size) bytes. The
    /// whole slice is consumed once the iterator returns `None`; dropping the iterator
    /// early abandons the unconsumed rest (see [`DecompressPieces::consumed`]).
    pub fn feed<'a>(&'a mut self, input: &'a [u8]) -> DecompressPieces<'a> {
        DecompressPieces {
            decompressor: self,
            input,
            pos: 0,
            done: false,
        }
    }

    /// Declares the end of input: an error if it stopped inside a frame.
    pub fn finish(&mut self) -> Result<(), CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let complete = match &self.kind {
            DecoderKind::Identity => Ok(()),
            DecoderKind::Zstd { frame_complete, .. } => {
                if *frame_complete {
                    Ok(())
                } else {
                    Err("the input ends inside a zstd frame")
                }
            }
            DecoderKind::Lz4(d) => {
                if d.at_frame_boundary() {
                    Ok(())
                } else {
                    Err(d.position())
                }
            }
        };
        complete.map_err(|what| CodecError::Truncated {
            offset: self.total_in,
            detail: format!("{} stream incomplete: {what}", self.codec),
        })
    }
}

fn zstd_step(
    decoder: &mut zstd::stream::raw::Decoder<'static>,
    frame_complete: &mut bool,
    input: &[u8],
    out: &mut Out<'_>,
) -> Result<Progress, String> {
    let mut inb = InBuffer::around(input);
    let (hint, produced) = match out {
        Out::Slice { buf, pos } => {
            let mut outb = OutBuffer::around_pos(&mut **buf, *pos);
            let hint = decoder
                .run(&mut inb, &mut outb)
                .map_err(|e| e.to_string())?;
            let produced = outb.pos() - *pos;
            *pos = outb.pos();
            (hint, produced)
        }
        Out::Vec { buf, limit, .. } => {
            let len = buf.len();
            let want = limit.saturating_sub(len);
            if want == 0 {
                return Ok(Progress::default());
            }
            if buf.capacity() < *limit {
                buf.reserve_exact(*limit - len);
            }
            if buf.capacity() <= *limit {
                // zstd writes into the spare capacity, which ends at `limit`.
                let hint = {
                    let mut outb = OutBuffer::around_pos(&mut **buf, len);
                    decoder
                        .run(&mut inb, &mut outb)
                        .map_err(|e| e.to_string())?
                };
                (hint, buf.len() - len)
            } else {
                // The vector is larger than the limit: decode into exactly the free space.
                let mut piece = Vec::with_capacity(want);
                let hint = {
                    let mut outb = OutBuffer::around(&mut piece);
                    decoder
                        .run(&mut inb, &mut outb)
                        .map_err(|e| e.to_string())?
                };
                piece.truncate(want);
                buf.extend_from_slice(&piece);
                (hint, piece.len())
            }
        }
    };
    let consumed = inb.pos();
    if hint == 0 {
        *frame_complete = true;
    } else if consumed > 0 || produced > 0 {
        *frame_complete = false;
    }
    Ok(Progress { consumed, produced })
}

/// The output pieces of one [`Decompressor::feed`] call.
pub struct DecompressPieces<'a> {
    decompressor: &'a mut Decompressor,
    input: &'a [u8],
    pos: usize,
    done: bool,
}

impl DecompressPieces<'_> {
    /// Input bytes consumed so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }
}

impl Iterator for DecompressPieces<'_> {
    type Item = Result<Bytes, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let piece_size = self.decompressor.piece_size;
        let mut piece = Vec::with_capacity(piece_size);
        loop {
            let rest = &self.input[self.pos..];
            let p = match self
                .decompressor
                .decompress_to_vec(rest, &mut piece, piece_size)
            {
                Ok(p) => p,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            self.pos += p.consumed;
            if piece.len() == piece_size {
                return Some(Ok(Bytes::from(piece)));
            }
            if p.consumed == 0 && p.produced == 0 {
                self.done = true;
                if self.pos < self.input.len() {
                    // Never drop input silently: a decoder that takes none is stuck.
                    return Some(Err(CodecError::Decompress {
                        codec: self.decompressor.codec,
                        offset: self.decompressor.total_in,
                        detail: "the decoder made no progress".into(),
                    }));
                }
                // Input used up (possibly buffered inside the decoder) and no output is
                // held back: this feed is done.
                return if piece.is_empty() {
                    None
                } else {
                    Some(Ok(Bytes::from(piece)))
                };
            }
        }
    }
}

enum EncoderKind {
    Identity,
    Zstd(Box<zstd::stream::raw::Encoder<'static>>),
    Lz4(Box<lz4_flex::frame::FrameEncoder<Vec<u8>>>),
}

/// A push-based compressor producing one zstd frame or one LZ4 frame (or the input
/// unchanged for [`Compression::Uncompressed`]).
pub struct Compressor {
    codec: Compression,
    kind: EncoderKind,
    finished: bool,
    total_in: u64,
    total_out: u64,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("codec", &self.codec)
            .field("finished", &self.finished)
            .field("total_in", &self.total_in)
            .field("total_out", &self.total_out)
            .finish_non_exhaustive()
    }
}

impl Compressor {
    /// A compressor with the default level ([`DEFAULT_ZSTD_LEVEL`] for zstd; LZ4 has no
    /// levels). LZ4 frames use 64 KiB independent blocks and a content checksum.
    pub fn new(codec: Compression) -> Result<Self, CodecError> {
        Self::with_level(codec, DEFAULT_ZSTD_LEVEL)
    }

    /// A compressor with a zstd `level` (ignored by the other codecs).
    pub fn with_level(codec: Compression, level: i32) -> Result<Self, CodecError> {
        let kind = match codec {
            Compression::Uncompressed => EncoderKind::Identity,
            Compression::Zstd => {
                if !zstd::compression_level_range().contains(&level) {
                    return Err(CodecError::Compress {
                        codec,
                        detail: format!(
                            "zstd level {level} is outside {:?}",
                            zstd::compression_level_range()
                        ),
                    });
                }
                let enc =
                    zstd::stream::raw::Encoder::new(level).map_err(|e| CodecError::Compress {
                        codec,
                        detail: e.to_string(),
                    })?;
                EncoderKind::Zstd(Box::new(enc))
            }
            Compression::Lz4Frame => {
                let info = lz4_flex::frame::FrameInfo::new()
                    .block_size(lz4_flex::frame::BlockSize::Max64KB)
                    .block_mode(lz4_flex::frame::BlockMode::Independent)
                    .content_checksum(true);
                EncoderKind::Lz4(Box::new(lz4_flex::frame::FrameEncoder::with_frame_info(
                    info,
                    Vec::new(),
                )))
            }
        };
        Ok(Compressor {
            codec,
            kind,
            finished: false,
            total_in: 0,
            total_out: 0,
        })
    }

    /// The codec.
    pub fn codec(&self) -> Compression {
        self.codec
    }

    /// Plain bytes consumed so far.
    pub fn total_in(&self) -> u64 {
        self.total_in
    }

    /// Compressed bytes produced so far.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    /// Compresses `input`, returning the compressed bytes produced so far (possibly
    /// none: the codecs buffer up to a block internally).
    pub fn compress(&mut self, input: &[u8]) -> Result<Bytes, CodecError> {
        if self.finished {
            return Err(CodecError::AfterFinish("compress()"));
        }
        self.total_in += input.len() as u64;
        let out = match &mut self.kind {
            EncoderKind::Identity => Bytes::copy_from_slice(input),
            EncoderKind::Zstd(enc) => {
                let mut out: Vec<u8> =
                    Vec::with_capacity(zstd::zstd_safe::compress_bound(input.len()).min(1 << 20));
                let mut inb = InBuffer::around(input);
                while inb.pos() < input.len() {
                    if out.capacity() - out.len() < 1024 {
                        out.reserve(out.capacity().max(64 * 1024));
                    }
                    let pos = out.len();
                    let mut outb = OutBuffer::around_pos(&mut out, pos);
                    enc.run(&mut inb, &mut outb)
                        .map_err(|e| CodecError::Compress {
                            codec: Compression::Zstd,
                            detail: e.to_string(),
                        })?;
                }
                Bytes::from(out)
            }
            EncoderKind::Lz4(enc) => {
                use std::io::Write;
                enc.write_all(input).map_err(|e| CodecError::Compress {
                    codec: Compression::Lz4Frame,
                    detail: e.to_string(),
                })?;
                Bytes::from(std::mem::take(enc.get_mut()))
            }
        };
        self.total_out += out.len() as u64;
        Ok(out)
    }

    /// Ends the frame, returning its last bytes. The compressor cannot be used after.
    pub fn finish(&mut self) -> Result<Bytes, CodecError> {
        if self.finished {
            return Err(CodecError::AfterFinish("finish()"));
        }
        self.finished = true;
        let out = match &mut self.kind {
            EncoderKind::Identity => Bytes::new(),
            EncoderKind::Zstd(enc) => {
                let mut out: Vec<u8> = Vec::with_capacity(1024);
                loop {
                    if out.capacity() - out.len() < 1024 {
                        out.reserve(out.capacity().max(16 * 1024));
                    }
                    let pos = out.len();
                    let mut outb = OutBuffer::around_pos(&mut out, pos);
                    let remaining =
                        enc.finish(&mut outb, true)
                            .map_err(|e| CodecError::Compress {
                                codec: Compression::Zstd,
                                detail: e.to_string(),
                            })?;
                    if remaining == 0 {
                        break;
                    }
                }
                Bytes::from(out)
            }
            EncoderKind::Lz4(enc) => {
                enc.try_finish().map_err(|e| CodecError::Compress {
                    codec: Compression::Lz4Frame,
                    detail: e.to_string(),
                })?;
                Bytes::from(std::mem::take(enc.get_mut()))
            }
        };
        self.total_out += out.len() as u64;
        Ok(out)
    }
}

/// Compresses `data` in one call (one frame).
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut c = Compressor::new(codec)?;
    let mut out = c.compress(data)?.to_vec();
    out.extend_from_slice(&c.finish()?);
    Ok(out)
}

/// Decompresses a complete body in one call, failing with [`CodecError::Decompress`] when
/// the output would exceed `max_output` bytes.
pub fn decompress(
    codec: Compression,
    data: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, CodecError> {
    let mut d = Decompressor::new(codec)?;
    let mut out = Vec::new();
    for piece in d.feed(data) {
        let piece = piece?;
        if out.len() + piece.len() > max_output {
            return Err(CodecError::Decompress {
                codec,
                offset: 0,
                detail: format!("output exceeds the limit of {max_output} bytes"),
            });
        }
        out.extend_from_slice(&piece);
    }
    d.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| ((i * 7919) % 251) as u8 ^ if i % 1000 < 500 { 0 } else { (i % 13) as u8 })
            .collect()
    }

    fn roundtrip_with_chunks(codec: Compression, data: &[u8], chunk: usize, piece: usize) {
        let mut c = Compressor::new(codec).unwrap();
        let mut compressed = Vec::new();
        for part in data.chunks(chunk.max(1)) {
            compressed.extend_from_slice(&c.compress(part).unwrap());
        }
        compressed.extend_from_slice(&c.finish().unwrap());
        let mut d = Decompressor::new(codec).unwrap().with_piece_size(piece);
        let mut out = Vec::new();
        for part in compressed.chunks(chunk.max(1)) {
            for p in d.feed(part) {
                let p = p.unwrap();
                assert!(p.len() <= piece);
                assert!(!p.is_empty());
                out.extend_from_slice(&p);
            }
        }
        d.finish().unwrap();
        assert_eq!(out, data, "{codec} chunk {chunk} piece {piece}");
        assert_eq!(d.total_out(), data.len() as u64);
        assert_eq!(d.total_in(), compressed.len() as u64);
    }

    #[test]
    fn round_trips() {
        let data = sample(300_000);
        for codec in [
            Compression::Uncompressed,
            Compression::Zstd,
            Compression::Lz4Frame,
        ] {
            for (chunk, piece) in [(1, 7), (13, 1000), (4096, 65536), (1 << 20, 1 << 20)] {
                if chunk == 1 && data.len() > 20_000 {
                    roundtrip_with_chunks(codec, &data[..20_000], chunk, piece);
                } else {
                    roundtrip_with_chunks(codec, &data, chunk, piece);
                }
            }
            roundtrip_with_chunks(codec, &[], 10, 10);
        }
    }

    #[test]
    fn lz4_flex_frames_decode() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
        use std::io::Write;
        let data = sample(700_000);
        for (mode, size, block_ck, content_ck, content_size) in [
            (BlockMode::Linked, BlockSize::Max64KB, true, true, true),
            (
                BlockMode::Independent,
                BlockSize::Max256KB,
                false,
                true,
                false,
            ),
            (BlockMode::Linked, BlockSize::Max1MB, true, false, true),
            (
                BlockMode::Independent,
                BlockSize::Max4MB,
                false,
                false,
                false,
            ),
        ] {
            let info = FrameInfo::new()
                .block_mode(mode)
                .block_size(size)
                .block_checksums(block_ck)
                .content_checksum(content_ck)
                .content_size(content_size.then_some(data.len() as u64));
            let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(&data).unwrap();
            let frame = enc.finish().unwrap();
            // Two concatenated frames, a skippable frame in between.
            let mut body = frame.clone();
            body.extend_from_slice(&[0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]);
            body.extend_from_slice(&frame);
            for chunk in [1usize, 977, 1 << 22] {
                if chunk == 1 && mode == BlockMode::Independent {
                    continue;
                }
                let mut d = Decompressor::new(Compression::Lz4Frame).unwrap();
                let mut out = Vec::new();
                for part in body.chunks(chunk) {
                    for p in d.feed(part) {
                        out.extend_from_slice(&p.unwrap());
                    }
                }
                d.finish().unwrap();
                assert_eq!(out.len(), data.len() * 2);
                assert_eq!(&out[..data.len()], &data[..]);
                assert_eq!(&out[data.len()..], &data[..]);
            }
        }
    }

    #[test]
    fn concatenated_zstd_frames() {
        let mut body = compress(Compression::Zstd, b"hello ").unwrap();
        body.extend_from_slice(&compress(Compression::Zstd, b"world").unwrap());
        assert_eq!(
            decompress(Compression::Zstd, &body, 100).unwrap(),
            b"hello world"
        );
    }

    #[test]
    fn truncation_is_detected() {
        let data = sample(100_000);
        for codec in [Compression::Zstd, Compression::Lz4Frame] {
            let body = compress(codec, &data).unwrap();
            for cut in [1, 3, 4, 7, 11, body.len() / 2, body.len() - 1] {
                let mut d = Decompressor::new(codec).unwrap();
                for p in d.feed(&body[..cut]) {
                    p.unwrap();
                }
                let e = d.finish().unwrap_err();
                assert!(e.is_truncated(), "{codec} cut {cut}: {e}");
            }
        }
    }

    #[test]
    fn corruption_is_an_error() {
        let data = sample(100_000);
        for codec in [Compression::Zstd, Compression::Lz4Frame] {
            let body = compress(codec, &data).unwrap();
            let mut bad = body.clone();
            bad[0] ^= 0xFF;
            let e = decompress(codec, &bad, 1 << 20).unwrap_err();
            assert!(matches!(e, CodecError::Decompress { .. }), "{e}");
            // A flipped payload byte: the checksum (lz4 content checksum, zstd
            // checksum-less frames may decode garbage) or the decoder must object, or at
            // least the output must differ.
            let mut bad = body.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0x55;
            match decompress(codec, &bad, 1 << 20) {
                Ok(out) => assert_ne!(out, data),
                Err(e) => assert!(
                    matches!(
                        e,
                        CodecError::Decompress { .. } | CodecError::Truncated { .. }
                    ),
                    "{e}"
                ),
            }
        }
    }

    #[test]
    fn lz4_checksums_are_verified() {
        let data = sample(10_000);
        let body = compress(Compression::Lz4Frame, &data).unwrap();
        // Header checksum (byte 6: magic 4 + FLG + BD, then HC).
        let mut bad = body.clone();
        bad[6] ^= 1;
        let e = decompress(Compression::Lz4Frame, &bad, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("descriptor checksum"), "{e}");
        // Content checksum: the last 4 bytes.
        let mut bad = body.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let e = decompress(Compression::Lz4Frame, &bad, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("content checksum"), "{e}");
        // An unknown magic number.
        let e = decompress(Compression::Lz4Frame, b"\x01\x02\x03\x04", 10).unwrap_err();
        assert!(e.to_string().contains("not an LZ4 frame"), "{e}");
    }

    #[test]
    fn after_finish() {
        let mut c = Compressor::new(Compression::Zstd).unwrap();
        c.finish().unwrap();
        assert_eq!(
            c.compress(b"x").unwrap_err(),
            CodecError::AfterFinish("compress()")
        );
        assert_eq!(c.finish().unwrap_err(), CodecError::AfterFinish("finish()"));
    }

    #[test]
    fn bomb_yields_bounded_pieces() {
        let data = vec![0u8; 50 << 20];
        for codec in [Compression::Zstd, Compression::Lz4Frame] {
            let body = compress(codec, &data).unwrap();
            assert!(body.len() < 1 << 20);
            let mut d = Decompressor::new(codec).unwrap().with_piece_size(4096);
            let mut pieces = d.feed(&body);
            // Taking one piece decodes at most one piece (plus one LZ4 block internally).
            let first = pieces.next().unwrap().unwrap();
            assert_eq!(first.len(), 4096);
            assert!(pieces.consumed() < body.len());
        }
    }

    #[test]
    fn decompress_limit() {
        let body = compress(Compression::Zstd, &[7u8; 10_000]).unwrap();
        assert!(decompress(Compression::Zstd, &body, 9_999).is_err());
        assert_eq!(
            decompress(Compression::Zstd, &body, 10_000).unwrap().len(),
            10_000
        );
    }

    #[test]
    fn invalid_level() {
        assert!(Compressor::with_level(Compression::Zstd, 1000).is_err());
    }
}
