//! Frames of the blob protocol (protocol.md B§6, design.md §2 "Frames"): sans-IO,
//! push-based, bounded in memory, never trusting a length.
//!
//! # Layers
//!
//! A `TableWriteBlob` `Mode=Batch` request body is a **blob frame stream**; per item:
//!
//! ```text
//! [i64 LE header_len][header JSON][i64 LE data_len][data][i64 LE footer_len][footer JSON]
//! ```
//!
//! with a [`BlobItemHeader`] and a footer carrying a [`Checksum`]. Encode it with
//! [`BlobFrameEncoder`] (streaming) or [`encode_items`]; decode it with
//! [`BlobFrameDecoder`].
//!
//! A `BlobRead` response body is, from the outside in (B§6.4):
//! 1. CRC32C blocks (`[1..=4096 data bytes][u32 LE CRC-32C]`, all full but the last):
//!    [`Crc32cFramer`] / [`Crc32cDeframer`];
//! 2. optional whole-body compression (not handled here);
//! 3. the payload: blob frames, or for a single reference possibly the raw blob:
//!    [`BlobPayloadDecoder`].
//!
//! # Decoder API
//!
//! Decoders take input as [`bytes::Bytes`] and consume from its front:
//! `decode(&mut self, &mut Bytes) -> Result<Option<Event>, FrameError>` returns one
//! event at a time and `Ok(None)` when the input is used up. Data is passed on as
//! zero-copy slices of the input whenever it lies whole in one input. `finish` declares
//! the end of input and reports truncation. After an error a decoder is poisoned and
//! returns the same error again. `buffered_len` reports the bytes held inside, which
//! never exceed `max_buffered_len` (or [`CRC32C_FRAMED_BLOCK_LEN`]).

mod blob;
pub mod checksum;
mod crc_block;
mod decoder;
mod error;
mod json;
mod payload;

pub use blob::{BlobFrameEncoder, BlobItemHeader, LENGTH_PREFIX_LEN, encode_items};
pub use checksum::{
    Checksum, ChecksumHasher, ChecksumType, crc32, crc32c, crc32c_append, md5, md5_hex,
};
pub use crc_block::{
    CRC32C_BLOCK_LEN, CRC32C_FRAMED_BLOCK_LEN, CRC32C_TRAILER_LEN, Crc32cDeframer, Crc32cFramer,
    crc32c_deframe, crc32c_frame, crc32c_framed_len,
};
pub use decoder::{BlobDecoderOptions, BlobEvent, BlobFrameDecoder, DEFAULT_MAX_JSON_LEN, ItemEnd};
pub use error::{FrameError, FramePart, JsonError};
pub use payload::{BlobPayloadDecoder, PayloadMode};
