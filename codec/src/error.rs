//! The error type of the codec.

use arrow_schema::DataType;
use maxstorage_protocol::Compression;
use maxstorage_protocol::schema::OdpsType;

use crate::types::TimestampUnit;

/// Everything that can go wrong while decoding, encoding, (de)compressing or mapping types.
///
/// Errors are `Clone + PartialEq` so tests and state machines can compare them; errors of
/// the underlying libraries (Arrow, zstd, I/O) are kept as their message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input ended before the stream was complete: inside a message, inside a
    /// compressed frame, or without the Arrow end-of-stream marker. A read that breaks
    /// must never be taken for a complete one, so a missing end-of-stream marker is
    /// reported here even when the input stops at a message boundary.
    #[error("stream truncated after {offset} bytes: {detail}")]
    Truncated {
        /// Bytes of the (decompressed) Arrow IPC stream that were complete when it ended,
        /// or compressed bytes consumed for a truncated compressed stream.
        offset: u64,
        /// What was missing.
        detail: String,
    },

    /// An IPC message declares a size larger than the configured limit, so it is
    /// rejected before any of it is buffered.
    #[error(
        "Arrow IPC message at offset {offset} declares {declared} bytes, over the limit of {limit} bytes"
    )]
    MessageTooLarge {
        /// Offset of the message in the IPC stream.
        offset: u64,
        /// Metadata plus body length the message declares.
        declared: u64,
        /// The configured `max_message_bytes`.
        limit: u64,
    },

    /// The compressed buffers of a record batch declare more decompressed bytes than the
    /// configured limit (a decompression bomb or corrupt lengths).
    #[error(
        "Arrow IPC message at offset {offset} declares {declared} decompressed bytes, over the limit of {limit} bytes"
    )]
    DecompressedTooLarge {
        /// Offset of the message in the IPC stream.
        offset: u64,
        /// Sum of the decompressed lengths the buffers declare.
        declared: u64,
        /// The configured `max_decompressed_batch_bytes`.
        limit: u64,
    },

    /// The bytes are not a valid Arrow IPC stream (bad framing, flatbuffer, buffer
    /// layout, or data that Arrow rejects).
    #[error("invalid Arrow IPC stream at offset {offset}: {detail}")]
    InvalidIpc {
        /// Offset of the offending message in the IPC stream.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// Bytes follow the Arrow end-of-stream marker.
    #[error("unexpected data after the Arrow end-of-stream marker at offset {offset}")]
    TrailingData {
        /// Offset of the first byte after the end-of-stream marker.
        offset: u64,
    },

    /// Without a `Content-Encoding`, the first bytes of a body are neither an Arrow IPC
    /// stream, a zstd frame nor an LZ4 frame.
    #[error(
        "unrecognised body: starts with {prefix:02X?}; expected an Arrow IPC stream (FF FF FF FF), a zstd frame (28 B5 2F FD) or an LZ4 frame (04 22 4D 18)"
    )]
    UnrecognizedBody {
        /// The first bytes of the body (up to 4).
        prefix: Vec<u8>,
    },

    /// A `Content-Encoding` this crate cannot decode.
    #[error("unsupported Content-Encoding {0:?}: expected zstd, x-lz4-frame or identity")]
    UnsupportedContentEncoding(String),

    /// A compressed stream is corrupt.
    #[error("{codec} decompression failed after {offset} compressed bytes: {detail}")]
    Decompress {
        /// The codec of the stream.
        codec: Compression,
        /// Compressed bytes consumed before the failure.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// Compression failed (an invalid level, or an error of the compression library).
    #[error("{codec} compression failed: {detail}")]
    Compress {
        /// The codec used.
        codec: Compression,
        /// What went wrong.
        detail: String,
    },

    /// A batch has a different number of columns than the write schema.
    #[error(
        "the write schema has {expected} columns [{expected_names}] but the batch has {actual} [{actual_names}]"
    )]
    ColumnCountMismatch {
        /// Columns of the write schema.
        expected: usize,
        /// Columns of the batch.
        actual: usize,
        /// Comma-separated names of the write schema's columns.
        expected_names: String,
        /// Comma-separated names of the batch's columns.
        actual_names: String,
    },

    /// A batch column has another name than the write schema's column at that position.
    #[error(
        "column {index} of the batch is named {actual:?} but the write schema expects {expected:?}"
    )]
    ColumnNameMismatch {
        /// Zero-based column position.
        index: usize,
        /// The write schema's column name.
        expected: String,
        /// The batch's column name.
        actual: String,
    },

    /// A batch column (or a nested member, written `col.member`) has another Arrow type
    /// than the write schema.
    #[error("column {column:?} has Arrow type {actual} but the write schema expects {expected}")]
    ColumnTypeMismatch {
        /// Column path, e.g. `c` or `c.member` / `c.element` / `c.key` for nested values.
        column: String,
        /// The write schema's type.
        expected: DataType,
        /// The batch's type.
        actual: DataType,
    },

    /// A non-nullable column (or nested member) of the write schema holds nulls.
    #[error("column {column:?} is not nullable but the batch holds {nulls} null value(s) in it")]
    NullInNonNullableColumn {
        /// Column path.
        column: String,
        /// How many nulls were found.
        nulls: usize,
    },

    /// A `struct<sec, nano>` timestamp does not fit a 64-bit timestamp in the session unit.
    #[error(
        "column {column:?}: timestamp {seconds}s + {nanos}ns does not fit a 64-bit Arrow timestamp in unit {unit} (a coarser session timestamp unit can hold it)"
    )]
    TimestampOverflow {
        /// Column path.
        column: String,
        /// The `sec` value.
        seconds: i64,
        /// The `nano` value.
        nanos: i32,
        /// The unit converted to.
        unit: TimestampUnit,
    },

    /// A MaxCompute type has no Arrow representation in this crate.
    #[error("MaxCompute type {odps_type:?} cannot be mapped to Arrow: {reason}")]
    UnmappableOdpsType {
        /// The type.
        odps_type: OdpsType,
        /// Why.
        reason: &'static str,
    },

    /// An Arrow type has no MaxCompute equivalent.
    #[error("column {column:?}: Arrow type {data_type} has no MaxCompute equivalent")]
    UnmappableArrowType {
        /// Column path.
        column: String,
        /// The Arrow type.
        data_type: DataType,
    },

    /// An Arrow type the IPC encoder of this crate does not write (dictionary, view and
    /// run-end encoded types never appear in MaxCompute tables).
    #[error("column {column:?}: Arrow type {data_type} is not supported by the stream encoder")]
    UnsupportedArrowType {
        /// Column path.
        column: String,
        /// The Arrow type.
        data_type: DataType,
    },

    /// A method was called after `finish()` ended the stream.
    #[error("{0} called after finish()")]
    AfterFinish(&'static str),

    /// An option has an invalid value.
    #[error("invalid option: {0}")]
    InvalidOption(String),

    /// An Arrow operation on well-formed input failed (encoding, slicing, building arrays).
    #[error("Arrow error: {0}")]
    Arrow(String),

    /// An I/O error of a reader or writer wrapped by the `std::io` adapters.
    #[error("I/O error ({kind:?}): {message}")]
    Io {
        /// The error kind.
        kind: std::io::ErrorKind,
        /// The error message.
        message: String,
    },
}

impl CodecError {
    /// Whether the error means the input ended too early (so a retry/resume may succeed),
    /// as opposed to corrupt or invalid input.
    pub fn is_truncated(&self) -> bool {
        match self {
            CodecError::Truncated { .. } => true,
            CodecError::Io { kind, .. } => *kind == std::io::ErrorKind::UnexpectedEof,
            _ => false,
        }
    }

    pub(crate) fn arrow(e: arrow_schema::ArrowError) -> Self {
        CodecError::Arrow(e.to_string())
    }
}

impl From<std::io::Error> for CodecError {
    fn from(e: std::io::Error) -> Self {
        CodecError::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl From<CodecError> for std::io::Error {
    fn from(e: CodecError) -> Self {
        let kind = match &e {
            CodecError::Io { kind, .. } => *kind,
            CodecError::Truncated { .. } => std::io::ErrorKind::UnexpectedEof,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}
