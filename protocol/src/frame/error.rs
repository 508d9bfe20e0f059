//! The error type of the frame layer.

use std::fmt;

use super::checksum::Checksum;

/// Which part of a blob frame item (see [`crate::frame`]) an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FramePart {
    /// The 8-byte little-endian length prefix of the header JSON.
    HeaderLength,
    /// The header JSON.
    Header,
    /// The 8-byte little-endian length prefix of the item data.
    DataLength,
    /// The item data.
    Data,
    /// The 8-byte little-endian length prefix of the footer JSON.
    FooterLength,
    /// The footer JSON.
    Footer,
}

impl fmt::Display for FramePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramePart::HeaderLength => "header length prefix",
            FramePart::Header => "header JSON",
            FramePart::DataLength => "data length prefix",
            FramePart::Data => "data",
            FramePart::FooterLength => "footer length prefix",
            FramePart::Footer => "footer JSON",
        })
    }
}

/// Why a header or footer JSON document was rejected (without stream position; the
/// frame decoder wraps it in [`FrameError::InvalidJson`] together with the item index and
/// byte offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JsonError {
    message: String,
}

impl JsonError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        JsonError {
            message: message.into(),
        }
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Everything that can go wrong while encoding or decoding blob frames and CRC32C blocks.
///
/// Item indexes are 0-based and count items from the start of the stream; byte offsets
/// are 0-based positions in the stream the failing encoder or decoder handles (the
/// frame stream for blob frame errors, the CRC32C-blocked stream for CRC errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A length prefix holds a negative value.
    #[error(
        "blob frame item {item}: the declared length of its {part} at byte offset {offset} is negative ({length})"
    )]
    NegativeLength {
        /// Index of the item.
        item: u64,
        /// The part whose length is declared ([`FramePart::Header`], [`FramePart::Data`]
        /// or [`FramePart::Footer`]).
        part: FramePart,
        /// Byte offset of the length prefix.
        offset: u64,
        /// The value read.
        length: i64,
    },
    /// A length is larger than the configured (or wire-imposed) limit.
    #[error(
        "blob frame item {item}: the declared length of its {part} at byte offset {offset} is {length} bytes, more than the limit of {limit} bytes"
    )]
    LengthTooLarge {
        /// Index of the item.
        item: u64,
        /// The part whose length is declared.
        part: FramePart,
        /// Byte offset of the length prefix.
        offset: u64,
        /// The declared length.
        length: u64,
        /// The largest length accepted.
        limit: u64,
    },
    /// A header or footer is not the JSON document the protocol expects.
    #[error("blob frame item {item}: the {part} at byte offset {offset} is invalid: {reason}")]
    InvalidJson {
        /// Index of the item.
        item: u64,
        /// [`FramePart::Header`] or [`FramePart::Footer`].
        part: FramePart,
        /// Byte offset of the first byte of the JSON text.
        offset: u64,
        /// What is wrong with it.
        reason: JsonError,
    },
    /// The stream ended in the middle of an item.
    #[error(
        "blob frame stream ended at byte offset {offset} inside item {item}: {missing} more byte(s) of its {part} were expected"
    )]
    Truncated {
        /// Index of the unfinished item.
        item: u64,
        /// The part being read when the stream ended.
        part: FramePart,
        /// Byte offset of the end of the stream.
        offset: u64,
        /// How many more bytes that part needed.
        missing: u64,
    },
    /// The footer's checksum does not match the item data.
    #[error(
        "blob frame item {item}: the footer at byte offset {offset} declares {expected}, but its {data_len} data byte(s) hash to {actual}"
    )]
    ChecksumMismatch {
        /// Index of the item.
        item: u64,
        /// Byte offset of the footer's length prefix.
        offset: u64,
        /// Length of the item data.
        data_len: u64,
        /// The checksum the footer declares.
        expected: Checksum,
        /// The checksum of the data received.
        actual: Checksum,
    },
    /// A CRC32C block's trailer does not match its data.
    #[error(
        "CRC32C block {block} at byte offset {offset} ({data_len} data bytes): its trailer declares {expected:#010x}, but the data hashes to {actual:#010x}"
    )]
    CrcMismatch {
        /// Index of the block.
        block: u64,
        /// Byte offset of the block's first data byte in the CRC32C-blocked stream.
        offset: u64,
        /// Number of data bytes in the block.
        data_len: u64,
        /// The CRC32C of the trailer.
        expected: u32,
        /// The CRC32C of the data received.
        actual: u32,
    },
    /// A CRC32C-blocked stream ends with a fragment too short to hold a block (at least
    /// one data byte plus the 4-byte CRC32C).
    #[error(
        "CRC32C stream ends with a {length}-byte fragment at byte offset {offset} (block {block}); a block needs 1..=4096 data bytes followed by a 4-byte CRC32C"
    )]
    CrcTrailingFragment {
        /// Index the block would have had.
        block: u64,
        /// Byte offset of the fragment.
        offset: u64,
        /// Length of the fragment (1..=4).
        length: u64,
    },
    /// The encoder was given a different number of data bytes than the item declared.
    #[error(
        "blob item {item}: declared a data length of {declared} bytes, but {actual} byte(s) were supplied"
    )]
    LengthMismatch {
        /// Index of the item.
        item: u64,
        /// The data length declared in `begin_item`.
        declared: u64,
        /// The number of bytes supplied (so far, when too many).
        actual: u64,
    },
    /// An encoder or decoder method was called in a state that does not allow it.
    #[error("{operation} is not allowed now: {reason}")]
    InvalidState {
        /// The method called.
        operation: &'static str,
        /// Why it is not allowed.
        reason: &'static str,
    },
}

impl FrameError {
    /// Whether the error means the received bytes are damaged or incomplete (as opposed to
    /// a misuse of the API): such a download may succeed when retried.
    pub fn is_corruption(&self) -> bool {
        !matches!(
            self,
            FrameError::LengthMismatch { .. } | FrameError::InvalidState { .. }
        )
    }
}
