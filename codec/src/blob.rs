//! The `BlobRead` response pipeline (protocol.md A1, A12, B§6.4): CRC32C blocks are
//! verified and stripped, the (optional) whole-body compression is removed, then the
//! payload is split into blobs — raw bytes for one reference (or frames), frames for
//! several.
//!
//! The SDKs disagree on the order of the first two layers ([`BlobLayout`]): the service,
//! Java and `odps.maxstorage` put the CRC32C blocks outside the compressed stream, the
//! user-guide SDK (`odps.apis.storage_api_v2`) inside it. A compressed body's layout is
//! detected from its first CRC block (does its checksum hold?), and every CRC is verified
//! either way.
//!
//! Push-based and bounded: [`BlobReadDecoder::feed`] only queues the bytes given;
//! [`BlobReadDecoder::next_event`] pulls them through the stages one CRC block and one
//! decompressed piece at a time, so a decompression bomb never expands further than one
//! piece per event.

use bytes::{Buf, Bytes, BytesMut};
use maxstorage_protocol::Compression;
use maxstorage_protocol::frame::{
    BlobEvent, BlobPayloadDecoder, CRC32C_FRAMED_BLOCK_LEN, Crc32cDeframer, FrameError,
    PayloadMode, crc32c,
};

use crate::compress::{DEFAULT_PIECE_SIZE, Decompressor};
use crate::error::CodecError;

/// An error of the `BlobRead` pipeline.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobReadError {
    /// A CRC32C block or a blob frame was corrupt or truncated.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The compressed stream was corrupt or truncated.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// The order of CRC32C blocks and compression in a compressed `BlobRead` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlobLayout {
    /// CRC32C blocks around the compressed stream (strip CRC, then decompress): the
    /// service, Java and `odps.maxstorage`.
    #[default]
    CrcOutside,
    /// A compressed stream of CRC32C blocks (decompress, then strip CRC): what the
    /// user-guide SDK (`odps.apis.storage_api_v2`) reads.
    CrcInside,
}

/// Whether `head` (the first bytes of a body, a whole block or the whole body) starts
/// with a CRC32C block whose checksum holds.
fn starts_with_crc_block(head: &[u8]) -> bool {
    let n = head.len().min(CRC32C_FRAMED_BLOCK_LEN);
    n > 4 && {
        let (data, crc) = head[..n].split_at(n - 4);
        crc32c(data).to_le_bytes() == crc
    }
}

/// Decodes a `BlobRead` response body into [`BlobEvent`]s.
#[derive(Debug)]
pub struct BlobReadDecoder {
    raw: BytesMut,
    deframer: Crc32cDeframer,
    decompressor: Option<Decompressor>,
    /// `None` until a compressed body's first block arrived.
    layout: Option<BlobLayout>,
    compressed: Bytes,
    /// Decompressed bytes still in CRC32C blocks ([`BlobLayout::CrcInside`]).
    inner: BytesMut,
    plain: Bytes,
    payload: BlobPayloadDecoder,
    input_ended: bool,
    deframer_done: bool,
    decompressor_done: bool,
    payload_finishing: bool,
    payload_done: bool,
}

impl BlobReadDecoder {
    /// A decoder for a response whose `Content-Encoding` named `compression` (`None` or
    /// `Uncompressed`: no compression) to a request for `references` blobs (one reference:
    /// raw bytes or frames, detected; several: frames). The [`BlobLayout`] of a compressed
    /// body is detected.
    pub fn new(
        compression: Option<Compression>,
        references: usize,
    ) -> Result<BlobReadDecoder, BlobReadError> {
        let decompressor = match compression {
            None | Some(Compression::Uncompressed) => None,
            Some(c) => Some(Decompressor::new(c)?),
        };
        let mode = if references == 1 {
            PayloadMode::Auto
        } else {
            PayloadMode::Framed
        };
        Ok(BlobReadDecoder {
            raw: BytesMut::new(),
            deframer: Crc32cDeframer::new(),
            layout: decompressor.is_none().then_some(BlobLayout::CrcOutside),
            decompressor,
            compressed: Bytes::new(),
            inner: BytesMut::new(),
            plain: Bytes::new(),
            payload: BlobPayloadDecoder::new(mode),
            input_ended: false,
            deframer_done: false,
            decompressor_done: false,
            payload_finishing: false,
            payload_done: false,
        })
    }

    /// Queues a chunk of the response body.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.raw.extend_from_slice(chunk);
    }

    /// Declares the end of the body; [`next_event`](Self::next_event) then drains the rest
    /// and fails if the body was cut short.
    pub fn finish(&mut self) {
        self.input_ended = true;
    }

    /// The next event: `Ok(None)` means "feed more" before [`finish`](Self::finish), and
    /// "done" after it.
    pub fn next_event(&mut self) -> Result<Option<BlobEvent>, BlobReadError> {
        if self.payload_done {
            return Ok(None);
        }
        loop {
            if !self.payload_finishing {
                if let Some(ev) = self.payload.decode(&mut self.plain)? {
                    return Ok(Some(ev));
                }
                if self.fill_plain()? {
                    continue;
                }
                let drained = self.input_ended
                    && self.deframer_done
                    && (self.decompressor.is_none() || self.decompressor_done);
                if !drained {
                    return Ok(None);
                }
                self.payload_finishing = true;
            }
            // The payload decoder's finish is called until it has nothing more to say.
            return match self.payload.finish()? {
                Some(ev) => Ok(Some(ev)),
                None => {
                    self.payload_done = true;
                    Ok(None)
                }
            };
        }
    }

    /// The layout of the body: known from the start for an uncompressed body, after the
    /// first CRC block (or the end of a shorter body) for a compressed one.
    pub fn layout(&self) -> Option<BlobLayout> {
        self.layout
    }

    /// Bytes held between the stages (bounded by the chunk fed, one CRC block and one
    /// decompressed piece, plus the payload decoder's header buffer).
    pub fn buffered_len(&self) -> usize {
        self.raw.len()
            + self.deframer.buffered_len()
            + self.compressed.len()
            + self.inner.len()
            + self.plain.len()
            + self.payload.buffered_len()
    }

    /// Produces more payload bytes; `false` when none can be made yet.
    fn fill_plain(&mut self) -> Result<bool, BlobReadError> {
        let layout = match self.layout {
            Some(l) => l,
            None if self.raw.len() >= CRC32C_FRAMED_BLOCK_LEN || self.input_ended => {
                let l = if self.raw.is_empty() || starts_with_crc_block(&self.raw) {
                    BlobLayout::CrcOutside
                } else {
                    BlobLayout::CrcInside
                };
                self.layout = Some(l);
                l
            }
            None => return Ok(false),
        };
        if layout == BlobLayout::CrcInside {
            return self.fill_plain_crc_inside();
        }
        let Some(decompressor) = self.decompressor.as_mut() else {
            return Ok(
                match next_deframed(
                    &mut self.raw,
                    &mut self.deframer,
                    self.input_ended,
                    &mut self.deframer_done,
                )? {
                    Some(b) => {
                        self.plain = b;
                        true
                    }
                    None => false,
                },
            );
        };
        loop {
            let mut out = Vec::new();
            let progress =
                decompressor.decompress_to_vec(&self.compressed, &mut out, DEFAULT_PIECE_SIZE)?;
            self.compressed.advance(progress.consumed);
            if !out.is_empty() {
                self.plain = Bytes::from(out);
                return Ok(true);
            }
            if !self.compressed.is_empty() && progress.consumed > 0 {
                continue;
            }
            match next_deframed(
                &mut self.raw,
                &mut self.deframer,
                self.input_ended,
                &mut self.deframer_done,
            )? {
                Some(b) => self.compressed = b,
                None => {
                    if self.deframer_done && self.compressed.is_empty() && !self.decompressor_done {
                        decompressor.finish()?;
                        self.decompressor_done = true;
                    }
                    return Ok(false);
                }
            }
        }
    }
}

impl BlobReadDecoder {
    /// [`fill_plain`](Self::fill_plain) for [`BlobLayout::CrcInside`]: decompress the
    /// body, then verify and strip the CRC32C blocks of what came out.
    fn fill_plain_crc_inside(&mut self) -> Result<bool, BlobReadError> {
        let Some(decompressor) = self.decompressor.as_mut() else {
            return Ok(false);
        };
        loop {
            if let Some(b) = next_deframed(
                &mut self.inner,
                &mut self.deframer,
                self.decompressor_done,
                &mut self.deframer_done,
            )? {
                self.plain = b;
                return Ok(true);
            }
            if self.decompressor_done {
                return Ok(false);
            }
            if self.compressed.is_empty() {
                self.compressed = self.raw.split().freeze();
            }
            let mut out = Vec::new();
            let progress =
                decompressor.decompress_to_vec(&self.compressed, &mut out, DEFAULT_PIECE_SIZE)?;
            self.compressed.advance(progress.consumed);
            if !out.is_empty() {
                self.inner.extend_from_slice(&out);
                continue;
            }
            if !self.compressed.is_empty() && progress.consumed > 0 {
                continue;
            }
            if self.compressed.is_empty() && self.raw.is_empty() && self.input_ended {
                decompressor.finish()?;
                self.decompressor_done = true;
                continue;
            }
            return Ok(false);
        }
    }
}

/// The next verified block of payload bytes.
fn next_deframed(
    raw: &mut BytesMut,
    deframer: &mut Crc32cDeframer,
    input_ended: bool,
    done: &mut bool,
) -> Result<Option<Bytes>, FrameError> {
    if !raw.is_empty() {
        let mut input = raw.split().freeze();
        let out = deframer.decode(&mut input)?;
        if !input.is_empty() {
            raw.extend_from_slice(&input);
        }
        if out.is_some() {
            return Ok(out);
        }
    }
    if input_ended && raw.is_empty() && !*done {
        let tail = deframer.finish()?;
        if tail.is_none() {
            *done = true;
        }
        return Ok(tail);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxstorage_protocol::frame::{BlobItemHeader, ChecksumType, crc32c_frame, encode_items};

    /// Content type and bytes of each decoded blob.
    type Blobs = Vec<(Option<String>, Vec<u8>)>;

    fn drain(dec: &mut BlobReadDecoder, body: &[u8], chunk: usize) -> Result<Blobs, BlobReadError> {
        let mut blobs = Vec::new();
        let push = |ev: BlobEvent, blobs: &mut Blobs| match ev {
            BlobEvent::ItemStart { header, .. } => blobs.push((header.content_type, Vec::new())),
            BlobEvent::Data(d) => blobs.last_mut().unwrap().1.extend_from_slice(&d),
            BlobEvent::ItemEnd(_) => {}
        };
        for piece in body.chunks(chunk.max(1)) {
            dec.feed(piece);
            while let Some(ev) = dec.next_event()? {
                push(ev, &mut blobs);
            }
        }
        dec.finish();
        while let Some(ev) = dec.next_event()? {
            push(ev, &mut blobs);
        }
        Ok(blobs)
    }

    fn framed_payload() -> Bytes {
        let h1 = BlobItemHeader {
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        let big: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        encode_items(&[
            (h1, &b"hello"[..], ChecksumType::Crc32),
            (BlobItemHeader::default(), &big[..], ChecksumType::Md5),
        ])
    }

    #[test]
    fn crc_then_decompress_then_frames() {
        let payload = framed_payload();
        for codec in [None, Some(Compression::Zstd), Some(Compression::Lz4Frame)] {
            let compressed = match codec {
                Some(c) => crate::compress::compress(c, &payload).unwrap(),
                None => payload.to_vec(),
            };
            let body = crc32c_frame(&compressed);
            for chunk in [1, 7, 4100, 65536] {
                let blobs =
                    drain(&mut BlobReadDecoder::new(codec, 2).unwrap(), &body, chunk).unwrap();
                assert_eq!(blobs.len(), 2, "{codec:?} {chunk}");
                assert_eq!(
                    blobs[0],
                    (Some("text/plain".to_string()), b"hello".to_vec())
                );
                assert_eq!(blobs[1].1.len(), 20_000);
            }
        }
    }

    /// The CRC-inside layout: a compressed stream of CRC32C blocks.
    #[test]
    fn crc_inside_layout_is_detected_and_verified() {
        let payload = framed_payload();
        for codec in [Compression::Zstd, Compression::Lz4Frame] {
            let inside = crate::compress::compress(codec, &crc32c_frame(&payload)).unwrap();
            for chunk in [1, 7, 4100, 65536] {
                let mut dec = BlobReadDecoder::new(Some(codec), 2).unwrap();
                let blobs = drain(&mut dec, &inside, chunk).unwrap();
                assert_eq!(
                    dec.layout(),
                    Some(BlobLayout::CrcInside),
                    "{codec:?} {chunk}"
                );
                assert_eq!(blobs.len(), 2, "{codec:?} {chunk}");
                assert_eq!(blobs[1].1.len(), 20_000);
            }
            let outside = crc32c_frame(&crate::compress::compress(codec, &payload).unwrap());
            let mut dec = BlobReadDecoder::new(Some(codec), 2).unwrap();
            assert_eq!(drain(&mut dec, &outside, 333).unwrap().len(), 2);
            assert_eq!(dec.layout(), Some(BlobLayout::CrcOutside));
            // A short body (less than one block) is detected at its end.
            let small = crate::compress::compress(codec, &crc32c_frame(b"tiny")).unwrap();
            let mut dec = BlobReadDecoder::new(Some(codec), 1).unwrap();
            assert_eq!(
                drain(&mut dec, &small, 3).unwrap(),
                vec![(None, b"tiny".to_vec())]
            );
            assert_eq!(dec.layout(), Some(BlobLayout::CrcInside));
            // Every inner CRC is still verified: corrupt one payload byte before compressing.
            let mut framed = crc32c_frame(&payload).to_vec();
            framed[5000] ^= 0x40;
            let bad = crate::compress::compress(codec, &framed).unwrap();
            assert!(matches!(
                drain(
                    &mut BlobReadDecoder::new(Some(codec), 2).unwrap(),
                    &bad,
                    4096
                ),
                Err(BlobReadError::Frame(_))
            ));
        }
    }

    #[test]
    fn single_raw_blob_and_corruption() {
        let body = crc32c_frame(b"just bytes, no frames");
        let blobs = drain(&mut BlobReadDecoder::new(None, 1).unwrap(), &body, 5).unwrap();
        assert_eq!(blobs, vec![(None, b"just bytes, no frames".to_vec())]);
        let mut bad = body.to_vec();
        bad[3] ^= 1;
        assert!(matches!(
            drain(&mut BlobReadDecoder::new(None, 1).unwrap(), &bad, 5),
            Err(BlobReadError::Frame(_))
        ));
        let cut = &body[..body.len() - 2];
        assert!(drain(&mut BlobReadDecoder::new(None, 1).unwrap(), cut, 5).is_err());
        // Compression inside the CRC blocks, but a body that is not compressed: typed error.
        assert!(matches!(
            drain(
                &mut BlobReadDecoder::new(Some(Compression::Zstd), 1).unwrap(),
                &body,
                64
            ),
            Err(BlobReadError::Codec(_))
        ));
    }
}
