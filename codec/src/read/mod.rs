//! Push-based decoding of `TableRead` / `TablePreview` / `InstanceRead` response bodies.
//!
//! A body is an Arrow IPC stream (protocol.md B§4.1), possibly with IPC buffer compression
//! (LZ4_FRAME or ZSTD `BodyCompression`), possibly compressed as a whole with zstd or
//! LZ4 frames (A4). [`ArrowStreamDecoder`] takes the body in chunks of any size, in the
//! sans-IO style: [`feed`](ArrowStreamDecoder::feed) bytes as they arrive, take
//! [`next_batch`](ArrowStreamDecoder::next_batch)es as soon as each is complete, and call
//! [`finish`](ArrowStreamDecoder::finish) at the end of the body.
//! [`ArrowStreamReader`] drives it from a `std::io::Read` for blocking callers.
//!
//! ## Choosing the body encoding
//!
//! [`BodyEncoding::from_content_encoding`] maps the response's `Content-Encoding`; without
//! one ([`BodyEncoding::Detect`]) the first four bytes decide: `FF FF FF FF` is an Arrow
//! IPC stream, `28 B5 2F FD` a zstd frame, `04 22 4D 18` an LZ4 frame; anything else is
//! [`CodecError::UnrecognizedBody`] (an error body, for example).
//!
//! ## Completeness
//!
//! A read that breaks must never pass for a complete one: [`finish`] fails with
//! [`CodecError::Truncated`] when the body stops inside a message or a compressed frame,
//! and also when it stops cleanly between two messages but before the end-of-stream
//! marker (`FFFFFFFF 00000000`). Bytes after the marker are [`CodecError::TrailingData`].
//! After any error the decoder is poisoned and returns the same error.
//!
//! ## Memory
//!
//! The decoder never holds a whole body. It keeps the input that was fed but not decoded
//! yet, at most one partial IPC message (whose declared size is checked against
//! [`DecoderOptions::max_message_bytes`] before anything is buffered; its buffer grows
//! with the bytes that arrive), one piece of decompressed output
//! ([`crate::compress::DEFAULT_PIECE_SIZE`]) and decoded batches not taken yet. `feed`
//! decodes only until one batch is ready, and `next_batch` only until the next one is,
//! so a caller that takes batches as they come holds one at a time. The decompressed
//! size of IPC-compressed buffers is checked against
//! [`DecoderOptions::max_decompressed_batch_bytes`] before Arrow allocates it.
//!
//! [`finish`]: ArrowStreamDecoder::finish

mod framer;
mod reader;
mod timestamps;
mod validate;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::Buffer;
use arrow_schema::{Schema, SchemaRef};
use bytes::{Buf, Bytes};
use maxstorage_protocol::Compression;

use crate::compress::{DEFAULT_PIECE_SIZE, Decompressor};
use crate::error::CodecError;
use crate::types::{OdpsType, TimestampUnit};
use framer::{Frame, Framer};
pub use reader::ArrowStreamReader;
use timestamps::Normalizer;

/// First bytes of an Arrow IPC stream (the continuation marker).
pub const IPC_MAGIC: [u8; 4] = [0xFF, 0xFF, 0xFF, 0xFF];
/// First bytes of a zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// First bytes of an LZ4 frame.
pub const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4D, 0x18];

/// Default [`DecoderOptions::max_message_bytes`] (256 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// Default [`DecoderOptions::max_decompressed_batch_bytes`] (1 GiB).
pub const DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES: usize = 1024 * 1024 * 1024;

/// How a response body is encoded on top of the Arrow IPC stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyEncoding {
    /// Decide by the first bytes (no `Content-Encoding` header).
    #[default]
    Detect,
    /// The body is compressed as a whole with this codec (`Uncompressed`: a plain
    /// Arrow IPC stream, the legacy framing without continuation markers included).
    Known(Compression),
}

impl BodyEncoding {
    /// The encoding a `Content-Encoding` header value announces: absent or empty →
    /// [`Detect`](Self::Detect); `identity` → plain IPC; `zstd`; `x-lz4-frame` (and the
    /// aliases of [`Compression::from_http_token`]). A comma-separated list may name at
    /// most one codec besides `identity`.
    pub fn from_content_encoding(value: Option<&str>) -> Result<Self, CodecError> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(BodyEncoding::Detect);
        };
        let mut codec = Compression::Uncompressed;
        for token in value.split(',') {
            match Compression::from_http_token(token) {
                Some(Compression::Uncompressed) => {}
                Some(c) if codec == Compression::Uncompressed => codec = c,
                _ => return Err(CodecError::UnsupportedContentEncoding(value.to_string())),
            }
        }
        Ok(BodyEncoding::Known(codec))
    }
}

/// Options of an [`ArrowStreamDecoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderOptions {
    /// How the body is encoded (default [`BodyEncoding::Detect`]).
    pub body_encoding: BodyEncoding,
    /// Largest IPC message (metadata plus body) accepted, checked against the lengths a
    /// message declares before it is buffered (default 256 MiB).
    pub max_message_bytes: usize,
    /// Largest sum of the decompressed sizes the IPC-compressed buffers of one batch may
    /// declare (default 1 GiB).
    pub max_decompressed_batch_bytes: usize,
    /// Convert `struct<sec: int64, nano: int32>` columns to timestamps (default true).
    pub normalize_timestamp_structs: bool,
    /// The session's timestamp unit, used for converted `struct<sec, nano>` columns
    /// (default nanoseconds).
    pub timestamp_unit: TimestampUnit,
    /// The MaxCompute types of the columns, when known (the read session's schema), by
    /// column name: a `struct<sec, nano>` column whose type is `interval_day_time`
    /// becomes `Duration(Nanosecond)`, one whose type is a `struct` stays as it is.
    pub column_types: Vec<(String, OdpsType)>,
    /// Largest piece of decompressed body processed at once (default 64 KiB).
    pub decompress_piece_bytes: usize,
}

maxstorage_protocol::option_setters!(DecoderOptions {
    with_max_decompressed_batch_bytes => max_decompressed_batch_bytes: usize,
    with_normalize_timestamp_structs => normalize_timestamp_structs: bool,
    with_column_types => column_types: Vec<(String, OdpsType)>,
    with_decompress_piece_bytes => decompress_piece_bytes: usize,
});

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            body_encoding: BodyEncoding::Detect,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_decompressed_batch_bytes: DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES,
            normalize_timestamp_structs: true,
            timestamp_unit: TimestampUnit::Nano,
            column_types: Vec::new(),
            decompress_piece_bytes: DEFAULT_PIECE_SIZE,
        }
    }
}

impl DecoderOptions {
    /// Options for a body with this `Content-Encoding` header value (see
    /// [`BodyEncoding::from_content_encoding`]).
    pub fn for_content_encoding(value: Option<&str>) -> Result<Self, CodecError> {
        Ok(DecoderOptions {
            body_encoding: BodyEncoding::from_content_encoding(value)?,
            ..DecoderOptions::default()
        })
    }

    /// Sets the body encoding.
    pub fn with_body_encoding(mut self, encoding: BodyEncoding) -> Self {
        self.body_encoding = encoding;
        self
    }

    /// Sets the timestamp unit.
    pub fn with_timestamp_unit(mut self, unit: TimestampUnit) -> Self {
        self.timestamp_unit = unit;
        self
    }

    /// Sets the message size limit.
    pub fn with_max_message_bytes(mut self, limit: usize) -> Self {
        self.max_message_bytes = limit;
        self
    }
}

/// Where the body's outer encoding stands.
enum Outer {
    /// Waiting for the first 4 bytes to choose.
    Sniffing,
    /// A plain IPC stream.
    Plain,
    /// A compressed IPC stream.
    Compressed(Box<Decompressor>),
}

/// The push-based decoder of one response body. See the [module docs](self).
pub struct ArrowStreamDecoder {
    options: DecoderOptions,
    outer: Outer,
    /// Fed input not processed yet (compressed, or plain IPC).
    input: VecDeque<Bytes>,
    /// Bytes gathered while sniffing.
    prefix: Vec<u8>,
    /// Decompressed IPC bytes not framed yet.
    ipc: Bytes,
    framer: Framer,
    wire_schema: Option<SchemaRef>,
    schema: Option<SchemaRef>,
    normalizer: Option<Normalizer>,
    dictionaries: HashMap<i64, ArrayRef>,
    ready: VecDeque<RecordBatch>,
    finished: bool,
    failed: Option<CodecError>,
    bytes_fed: u64,
    rows: u64,
    batches: u64,
}

impl std::fmt::Debug for ArrowStreamDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrowStreamDecoder")
            .field("schema", &self.schema)
            .field("bytes_fed", &self.bytes_fed)
            .field("ipc_bytes", &self.framer.offset())
            .field("rows", &self.rows)
            .field("batches", &self.batches)
            .field("ended", &self.framer.ended())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Default for ArrowStreamDecoder {
    fn default() -> Self {
        Self::new(DecoderOptions::default())
    }
}

impl ArrowStreamDecoder {
    /// A decoder with `options`.
    pub fn new(options: DecoderOptions) -> Self {
        let framer = Framer::new(options.max_message_bytes);
        let mut d = ArrowStreamDecoder {
            outer: Outer::Sniffing,
            options,
            input: VecDeque::new(),
            prefix: Vec::new(),
            ipc: Bytes::new(),
            framer,
            wire_schema: None,
            schema: None,
            normalizer: None,
            dictionaries: HashMap::new(),
            ready: VecDeque::new(),
            finished: false,
            failed: None,
            bytes_fed: 0,
            rows: 0,
            batches: 0,
        };
        if let BodyEncoding::Known(codec) = d.options.body_encoding
            && let Err(e) = d.choose(codec)
        {
            d.failed = Some(e);
        }
        d
    }

    fn choose(&mut self, codec: Compression) -> Result<(), CodecError> {
        tracing::debug!(%codec, "response body encoding");
        self.outer = match codec {
            Compression::Uncompressed => Outer::Plain,
            c => Outer::Compressed(Box::new(
                Decompressor::new(c)?.with_piece_size(self.options.decompress_piece_bytes),
            )),
        };
        Ok(())
    }

    /// Feeds the next chunk of the body (copied). Decodes until one batch is ready or the
    /// input is used up.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CodecError> {
        self.feed_bytes(Bytes::copy_from_slice(chunk))
    }

    /// Feeds the next chunk of the body without copying it.
    pub fn feed_bytes(&mut self, chunk: Bytes) -> Result<(), CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.finished {
            return Err(self.fail(CodecError::AfterFinish("feed()")));
        }
        self.bytes_fed += chunk.len() as u64;
        if !chunk.is_empty() {
            self.input.push_back(chunk);
        }
        self.pump(true)
    }

    /// The next decoded batch, decoding more of the fed input if needed; `None` when the
    /// input fed so far holds no further complete batch (or the stream has ended).
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, CodecError> {
        if let Some(b) = self.ready.pop_front() {
            return Ok(Some(b));
        }
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.pump(true)?;
        Ok(self.ready.pop_front())
    }

    /// Declares the end of the body: decodes all remaining input (its batches stay
    /// available from [`next_batch`](Self::next_batch)) and fails unless the stream was
    /// complete, up to its end-of-stream marker. Idempotent.
    pub fn finish(&mut self) -> Result<(), CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        self.pump(false)?;
        let truncated = |offset: u64, detail: String| CodecError::Truncated { offset, detail };
        let result = match &mut self.outer {
            Outer::Sniffing => Err(truncated(
                0,
                if self.prefix.is_empty() {
                    "the body is empty".to_string()
                } else {
                    format!(
                        "the body ends after {} bytes, before its format is known",
                        self.prefix.len()
                    )
                },
            )),
            Outer::Compressed(d) => d.finish(),
            Outer::Plain => Ok(()),
        };
        result.map_err(|e| self.fail(e))?;
        if !self.framer.ended() {
            let offset = self.framer.offset();
            let detail = if !self.framer.at_boundary() {
                format!("the stream ends {}", self.framer.position())
            } else if self.wire_schema.is_none() {
                "the stream ends before its schema message".to_string()
            } else {
                format!(
                    "the stream ends after {} record batch(es) without its end-of-stream marker",
                    self.batches
                )
            };
            return Err(self.fail(truncated(offset, detail)));
        }
        tracing::debug!(
            rows = self.rows,
            batches = self.batches,
            bytes = self.bytes_fed,
            "response body complete"
        );
        Ok(())
    }

    /// The schema of the decoded batches (after timestamp normalisation), once the schema
    /// message has been decoded.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    /// The schema as sent in the stream (before timestamp normalisation).
    pub fn wire_schema(&self) -> Option<SchemaRef> {
        self.wire_schema.clone()
    }

    /// The outer encoding, once known.
    pub fn body_encoding(&self) -> Option<Compression> {
        match &self.outer {
            Outer::Sniffing => None,
            Outer::Plain => Some(Compression::Uncompressed),
            Outer::Compressed(d) => Some(d.codec()),
        }
    }

    /// Whether the end-of-stream marker has been decoded.
    pub fn is_complete(&self) -> bool {
        self.framer.ended()
    }

    /// Body bytes fed so far (as received, possibly compressed).
    pub fn bytes_fed(&self) -> u64 {
        self.bytes_fed
    }

    /// Body bytes fed but not decoded yet.
    pub fn bytes_pending(&self) -> u64 {
        self.input.iter().map(|b| b.len() as u64).sum::<u64>() + self.prefix.len() as u64
    }

    /// Bytes of the Arrow IPC stream decoded so far (after whole-body decompression).
    pub fn ipc_bytes(&self) -> u64 {
        self.framer.offset()
    }

    /// Rows of the batches decoded so far (taken or not).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Record batches decoded so far (taken or not).
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// Batches decoded but not taken yet.
    pub fn batches_ready(&self) -> usize {
        self.ready.len()
    }

    fn fail(&mut self, e: CodecError) -> CodecError {
        if self.failed.is_none() {
            tracing::debug!(error = %e, "response body decoding failed");
            self.failed = Some(e.clone());
        }
        e
    }

    /// Decodes input until a batch is ready (`stop_at_batch`) or no input is left.
    fn pump(&mut self, stop_at_batch: bool) -> Result<(), CodecError> {
        match self.pump_inner(stop_at_batch) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn pump_inner(&mut self, stop_at_batch: bool) -> Result<(), CodecError> {
        loop {
            if stop_at_batch && !self.ready.is_empty() {
                return Ok(());
            }
            if !self.ipc.is_empty() {
                let mut ipc = std::mem::take(&mut self.ipc);
                let frame = self.framer.push(&mut ipc);
                self.ipc = ipc;
                match frame? {
                    Some(Frame::Message {
                        offset,
                        metadata,
                        body,
                    }) => self.handle_message(offset, &metadata, &body)?,
                    Some(Frame::EndOfStream) => {
                        tracing::trace!(offset = self.framer.offset(), "end-of-stream marker");
                    }
                    None => {}
                }
                continue;
            }
            if !self.refill()? {
                return Ok(());
            }
        }
    }

    /// Moves more input into `self.ipc`; false when nothing more can be produced now.
    fn refill(&mut self) -> Result<bool, CodecError> {
        loop {
            match &mut self.outer {
                Outer::Sniffing => {
                    while self.prefix.len() < 4 {
                        let Some(front) = self.input.front_mut() else {
                            return Ok(false);
                        };
                        let n = (4 - self.prefix.len()).min(front.len());
                        self.prefix.extend_from_slice(&front[..n]);
                        front.advance(n);
                        if front.is_empty() {
                            self.input.pop_front();
                        }
                    }
                    let codec = match <[u8; 4]>::try_from(&self.prefix[..]) {
                        Ok(IPC_MAGIC) => Compression::Uncompressed,
                        Ok(ZSTD_MAGIC) => Compression::Zstd,
                        Ok(LZ4_FRAME_MAGIC) => Compression::Lz4Frame,
                        _ => {
                            return Err(CodecError::UnrecognizedBody {
                                prefix: self.prefix.clone(),
                            });
                        }
                    };
                    self.choose(codec)?;
                    let prefix = Bytes::from(std::mem::take(&mut self.prefix));
                    self.input.push_front(prefix);
                }
                Outer::Plain => {
                    return Ok(match self.input.pop_front() {
                        Some(b) => {
                            self.ipc = b;
                            true
                        }
                        None => false,
                    });
                }
                Outer::Compressed(d) => {
                    let piece_size = self.options.decompress_piece_bytes.max(1);
                    let mut piece = Vec::new();
                    loop {
                        let empty = Bytes::new();
                        let front = self.input.front().unwrap_or(&empty);
                        let room = piece_size - piece.len();
                        let p = d.decompress_to_vec(front, &mut piece, room)?;
                        if let Some(front) = self.input.front_mut() {
                            front.advance(p.consumed);
                            if front.is_empty() {
                                self.input.pop_front();
                            }
                        }
                        if piece.len() == piece_size {
                            break;
                        }
                        if p.consumed == 0 && p.produced == 0 {
                            if self.input.is_empty() {
                                break;
                            }
                            return Err(CodecError::Decompress {
                                codec: d.codec(),
                                offset: d.total_in(),
                                detail: "the decoder made no progress".into(),
                            });
                        }
                    }
                    if piece.is_empty() {
                        return Ok(false);
                    }
                    self.ipc = Bytes::from(piece);
                    return Ok(true);
                }
            }
        }
    }

    fn handle_message(
        &mut self,
        offset: u64,
        metadata: &[u8],
        body: &Buffer,
    ) -> Result<(), CodecError> {
        let invalid = |detail: String| CodecError::InvalidIpc { offset, detail };
        let message = arrow_ipc::root_as_message(metadata)
            .map_err(|e| invalid(format!("invalid message flatbuffer: {e}")))?;
        let version = message.version();
        if version != arrow_ipc::MetadataVersion::V4 && version != arrow_ipc::MetadataVersion::V5 {
            return Err(invalid(format!("unsupported metadata version {version:?}")));
        }
        match message.header_type() {
            arrow_ipc::MessageHeader::Schema => {
                if self.wire_schema.is_some() {
                    return Err(invalid("a second schema message".into()));
                }
                let fb = message
                    .header_as_schema()
                    .ok_or_else(|| invalid("schema message without a schema".into()))?;
                validate::check_schema_message(fb)
                    .map_err(|e| invalid(format!("invalid schema: {e}")))?;
                let schema = guard(offset, || arrow_ipc::convert::fb_to_schema(fb))?;
                validate::check_schema_types(&schema)
                    .map_err(|e| invalid(format!("invalid schema: {e}")))?;
                self.set_schema(schema);
            }
            arrow_ipc::MessageHeader::RecordBatch => {
                let schema = self
                    .wire_schema
                    .clone()
                    .ok_or_else(|| invalid("a record batch before the schema message".into()))?;
                let rb = message
                    .header_as_record_batch()
                    .ok_or_else(|| invalid("record batch message without a record batch".into()))?;
                validate::check_record_batch(
                    &rb,
                    body.as_slice(),
                    offset,
                    self.options.max_decompressed_batch_bytes,
                )?;
                let dictionaries = &self.dictionaries;
                let batch = guard(offset, || {
                    arrow_ipc::reader::read_record_batch(
                        body,
                        rb,
                        schema,
                        dictionaries,
                        None,
                        &version,
                    )
                })?
                .map_err(|e| invalid(e.to_string()))?;
                let batch = match &self.normalizer {
                    Some(n) => n.apply(&batch)?,
                    None => batch,
                };
                self.rows += batch.num_rows() as u64;
                self.batches += 1;
                tracing::trace!(offset, rows = batch.num_rows(), "record batch");
                self.ready.push_back(batch);
            }
            arrow_ipc::MessageHeader::DictionaryBatch => {
                let schema = self.wire_schema.clone().ok_or_else(|| {
                    invalid("a dictionary batch before the schema message".into())
                })?;
                let db = message
                    .header_as_dictionary_batch()
                    .ok_or_else(|| invalid("dictionary message without a dictionary".into()))?;
                let data = db
                    .data()
                    .ok_or_else(|| invalid("dictionary batch without data".into()))?;
                validate::check_record_batch(
                    &data,
                    body.as_slice(),
                    offset,
                    self.options.max_decompressed_batch_bytes,
                )?;
                let dictionaries = &mut self.dictionaries;
                guard(offset, || {
                    arrow_ipc::reader::read_dictionary(body, db, &schema, dictionaries, &version)
                })?
                .map_err(|e| invalid(e.to_string()))?;
            }
            arrow_ipc::MessageHeader::NONE => {}
            other => {
                return Err(invalid(format!("unsupported message type {other:?}")));
            }
        }
        Ok(())
    }

    fn set_schema(&mut self, schema: Schema) {
        let schema = Arc::new(schema);
        self.normalizer = if self.options.normalize_timestamp_structs {
            Normalizer::plan(
                &schema,
                self.options.timestamp_unit,
                &self.options.column_types,
            )
        } else {
            None
        };
        self.schema = Some(match &self.normalizer {
            Some(n) => n.schema().clone(),
            None => schema.clone(),
        });
        tracing::debug!(columns = schema.fields().len(), "stream schema");
        self.wire_schema = Some(schema);
    }
}

/// Runs an Arrow decoding step on untrusted input, turning a panic inside Arrow into
/// [`CodecError::InvalidIpc`].
///
/// Every length and offset a message declares is validated before Arrow sees it
/// ([`validate`]), so this is defence in depth against decoder bugs in Arrow, not the
/// primary check; it has no effect when the binary is built with `panic = "abort"`.
fn guard<T>(offset: u64, f: impl FnOnce() -> T) -> Result<T, CodecError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        tracing::warn!(offset, %what, "the Arrow decoder panicked on a message");
        CodecError::InvalidIpc {
            offset,
            detail: format!("the Arrow decoder rejected the message: {what}"),
        }
    })
}

/// A decoded body: its schema and all its batches.
#[derive(Debug, Clone)]
pub struct DecodedBody {
    /// The schema (after timestamp normalisation).
    pub schema: SchemaRef,
    /// The batches.
    pub batches: Vec<RecordBatch>,
}

impl DecodedBody {
    /// Total rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Decodes a complete body held in memory (tests, small previews, fuzzing).
pub fn decode_body(body: &[u8], options: DecoderOptions) -> Result<DecodedBody, CodecError> {
    let mut d = ArrowStreamDecoder::new(options);
    let mut batches = Vec::new();
    d.feed(body)?;
    while let Some(b) = d.next_batch()? {
        batches.push(b);
    }
    d.finish()?;
    while let Some(b) = d.next_batch()? {
        batches.push(b);
    }
    let schema = d.schema().ok_or_else(|| CodecError::Truncated {
        offset: 0,
        detail: "the stream has no schema".into(),
    })?;
    Ok(DecodedBody { schema, batches })
}
