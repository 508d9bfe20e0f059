//! Arrow IPC streaming decode/encode and HTTP body (de)compression for the MaxCompute
//! (ODPS) Storage API.
//!
//! This crate holds all the Arrow knowledge of the workspace (`maxstorage-protocol` has
//! no Arrow dependency). It does no I/O of its own: every decoder and encoder is
//! push-based (sans-IO) and the `std::io` adapters are thin wrappers for blocking callers.
//!
//! | module | for |
//! |---|---|
//! | [`read`] | `TableRead` / `TablePreview` / `InstanceRead` response bodies → `RecordBatch`es ([`read::ArrowStreamDecoder`], [`read::ArrowStreamReader`]) |
//! | [`write`](mod@write) | `RecordBatch`es → `TableWrite` request bodies ([`write::ArrowStreamEncoder`]) and IPC streams ([`write::IpcMessageEncoder`]) |
//! | [`compress`] | streaming zstd / LZ4-frame bodies: blobs, whole-body compressed reads ([`compress::Compressor`], [`compress::Decompressor`], [`compress::io`]) |
//! | [`types`] | MaxCompute ⇄ Arrow type mapping ([`types::odps_to_arrow`], [`types::arrow_to_odps`]) |
//! | [`error`] | [`CodecError`] |
//!
//! Reading a response body as it arrives:
//!
//! ```
//! # use std::sync::Arc;
//! # use arrow_array::{ArrayRef, Int64Array, RecordBatch};
//! # use maxstorage_protocol::Compression;
//! use maxstorage_codec::read::{ArrowStreamDecoder, DecoderOptions};
//! # let batch = RecordBatch::try_from_iter(vec![
//! #     ("a", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
//! # ]).unwrap();
//! # let body = maxstorage_codec::write::encode_stream(batch.schema(), &[batch], Compression::Zstd).unwrap();
//! // `Content-Encoding` of the response, if any.
//! let options = DecoderOptions::for_content_encoding(None)?;
//! let mut decoder = ArrowStreamDecoder::new(options);
//! for chunk in body.chunks(1000) {
//!     decoder.feed(chunk)?;
//!     while let Some(batch) = decoder.next_batch()? {
//!         assert_eq!(batch.num_rows(), 3);
//!     }
//! }
//! decoder.finish()?; // fails on a truncated body
//! assert_eq!(decoder.rows(), 3);
//! # Ok::<(), maxstorage_codec::CodecError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blob;
pub mod compress;
pub mod error;
pub mod read;
pub mod types;
pub mod write;

pub use error::CodecError;
pub use maxstorage_protocol::Compression;
pub use types::{ArrowOptions, OdpsType, TimestampUnit};
