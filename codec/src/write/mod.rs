//! Encoding `RecordBatch`es into Arrow IPC streams for `TableWrite` request bodies (and
//! for read responses served by the emulator).
//!
//! Two levels:
//!
//! * [`IpcMessageEncoder`] turns a schema and batches into the messages of one IPC
//!   stream — schema message, record batch messages, end-of-stream marker — each as
//!   [`Bytes`] chunks ready for a streaming body, with optional IPC buffer compression
//!   (`Compression::Zstd` / `Lz4Frame` → `BodyCompression` ZSTD / LZ4_FRAME).
//! * [`ArrowStreamEncoder`] builds `TableWrite` bodies on top: it checks each batch
//!   against the stream's write schema ([`check_batch`]), splits large batches
//!   ([`split_batch`]), and cuts the output into [`EncodedBody`]s — each a complete IPC
//!   stream of at most [`EncoderOptions::target_body_bytes`] (except a single row larger
//!   than that) — counting the rows of each for the `Count` query parameter. A body's
//!   bytes are final when it is handed out, so an exactly-once retry can re-send them
//!   unchanged.
//!
//! Dictionary-encoded columns are rejected: MaxCompute types never map to them, and each
//! body must stand alone.

mod check;
mod split;

use std::collections::VecDeque;

use arrow_array::RecordBatch;
use arrow_ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions};
use arrow_schema::{DataType, SchemaRef};
use bytes::{BufMut, Bytes, BytesMut};
use maxstorage_protocol::Compression;

use crate::error::CodecError;
pub use check::{check_batch, conform_batch};
pub use split::{estimated_array_size, estimated_ipc_size, split_batch};

/// Default [`EncoderOptions::target_body_bytes`]: 8 MiB. The official SDKs flush at
/// 64 MiB; a writer holds one body until it is acknowledged (exactly-once retries resend
/// it), so a smaller body bounds its memory — four parallel streams stay within 64 MiB
/// above their input — at no throughput cost we could measure (BENCHMARKS.md).
pub const DEFAULT_TARGET_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The Arrow IPC end-of-stream marker.
pub const END_OF_STREAM: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];

/// Buffer alignment in written streams (that of pyarrow and the Java SDK).
const ALIGNMENT: usize = 8;

/// The zstd level of IPC buffer compression when none is given: 1, the default of Arrow
/// C++ (pyarrow, so the official Python SDK's writer). arrow-rs would use 3, which costs
/// about twice the CPU per byte for bodies a few per cent smaller (BENCHMARKS.md) — and on
/// a write the client's compression competes with the network and the service.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// Options of an [`ArrowStreamEncoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncoderOptions {
    /// IPC buffer compression (default none).
    pub compression: Compression,
    /// zstd level for [`Compression::Zstd`] (default [`DEFAULT_ZSTD_LEVEL`]).
    pub zstd_level: Option<i32>,
    /// Largest body to produce (default [`DEFAULT_TARGET_BODY_BYTES`]). Batches are split so that each message
    /// fits; a body holds as many messages as fit.
    pub target_body_bytes: usize,
}

maxstorage_protocol::option_setters!(EncoderOptions {
    with_zstd_level => zstd_level: Option<i32>,
    with_target_body_bytes => target_body_bytes: usize,
});

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            compression: Compression::Uncompressed,
            zstd_level: None,
            target_body_bytes: DEFAULT_TARGET_BODY_BYTES,
        }
    }
}

impl EncoderOptions {
    /// Options with `compression` and the defaults otherwise.
    pub fn with_compression(compression: Compression) -> Self {
        EncoderOptions {
            compression,
            ..EncoderOptions::default()
        }
    }
}

/// One encoded IPC message: its framed metadata and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedMessage {
    /// Continuation marker, metadata length, metadata flatbuffer and padding.
    pub header: Bytes,
    /// The message body (possibly empty).
    pub body: Bytes,
}

impl EncodedMessage {
    /// Total encoded length.
    pub fn len(&self) -> usize {
        self.header.len() + self.body.len()
    }

    /// Whether the message has no bytes (never true for a real message).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn reject_dictionaries(path: &str, dt: &DataType) -> Result<(), CodecError> {
    let nested = |name: &str, dt: &DataType| reject_dictionaries(&format!("{path}.{name}"), dt);
    match dt {
        DataType::Dictionary(_, _) => Err(CodecError::UnsupportedArrowType {
            column: path.to_string(),
            data_type: dt.clone(),
        }),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::Map(f, _) => nested(f.name(), f.data_type()),
        DataType::Struct(fs) => fs.iter().try_for_each(|f| nested(f.name(), f.data_type())),
        DataType::Union(fs, _) => fs
            .iter()
            .try_for_each(|(_, f)| nested(f.name(), f.data_type())),
        DataType::RunEndEncoded(_, v) => nested(v.name(), v.data_type()),
        _ => Ok(()),
    }
}

/// Frames an encoded flatbuffer message and body as the IPC stream format does.
fn frame(metadata: &[u8], body: Vec<u8>) -> EncodedMessage {
    let padded = (8 + metadata.len()).div_ceil(ALIGNMENT) * ALIGNMENT - 8;
    let mut header = BytesMut::with_capacity(8 + padded);
    header.put_slice(&[0xFF; 4]);
    // Metadata is a flatbuffer Arrow produced: far below 2 GiB.
    header.put_i32_le(i32::try_from(padded).unwrap_or(i32::MAX));
    header.put_slice(metadata);
    header.put_bytes(0, padded - metadata.len());
    EncodedMessage {
        header: header.freeze(),
        body: Bytes::from(body),
    }
}

/// Encodes the messages of one Arrow IPC stream (no schema check, no splitting).
pub struct IpcMessageEncoder {
    schema: SchemaRef,
    compression: Compression,
    zstd_level: Option<i32>,
    options: IpcWriteOptions,
    generator: IpcDataGenerator,
    tracker: DictionaryTracker,
    context: IpcWriteContext,
    schema_message: EncodedMessage,
}

impl std::fmt::Debug for IpcMessageEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcMessageEncoder")
            .field("schema", &self.schema)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

impl IpcMessageEncoder {
    /// An encoder of streams of `schema` with IPC buffer `compression` (and a zstd
    /// level for zstd; [`DEFAULT_ZSTD_LEVEL`] when not given).
    pub fn new(
        schema: SchemaRef,
        compression: Compression,
        zstd_level: Option<i32>,
    ) -> Result<Self, CodecError> {
        for f in schema.fields() {
            reject_dictionaries(f.name(), f.data_type())?;
        }
        let compress_err = |e: arrow_schema::ArrowError| CodecError::Compress {
            codec: compression,
            detail: e.to_string(),
        };
        let mut options =
            IpcWriteOptions::try_new(ALIGNMENT, false, arrow_ipc::MetadataVersion::V5)
                .map_err(CodecError::arrow)?;
        let ipc_codec = match compression {
            Compression::Uncompressed => None,
            Compression::Zstd => Some(arrow_ipc::CompressionType::ZSTD),
            Compression::Lz4Frame => Some(arrow_ipc::CompressionType::LZ4_FRAME),
        };
        options = options
            .try_with_compression(ipc_codec)
            .map_err(compress_err)?;
        if compression == Compression::Zstd {
            options = options
                .try_with_compression_level(Some(zstd_level.unwrap_or(DEFAULT_ZSTD_LEVEL)))
                .map_err(compress_err)?;
        }
        let generator = IpcDataGenerator::default();
        let mut tracker = DictionaryTracker::new(false);
        let encoded =
            generator.schema_to_bytes_with_dictionary_tracker(&schema, &mut tracker, &options);
        let schema_message = frame(&encoded.ipc_message, encoded.arrow_data);
        Ok(IpcMessageEncoder {
            schema,
            compression,
            zstd_level,
            options,
            generator,
            tracker,
            context: IpcWriteContext::default(),
            schema_message,
        })
    }

    /// The stream schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The IPC buffer compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Another encoder of the same streams (same schema, compression and level) with
    /// contexts of its own: encoders are not shared between threads, so each thread that
    /// encodes batches of a stream takes one.
    pub fn fresh(&self) -> Result<IpcMessageEncoder, CodecError> {
        IpcMessageEncoder::new(self.schema.clone(), self.compression, self.zstd_level)
    }

    /// The schema message that starts every stream.
    pub fn schema_message(&self) -> &EncodedMessage {
        &self.schema_message
    }

    /// Encodes one record batch message. The batch must have the stream's columns (see
    /// [`conform_batch`]); it is not checked here.
    pub fn encode_batch(&mut self, batch: &RecordBatch) -> Result<EncodedMessage, CodecError> {
        let (dictionaries, data) = self
            .generator
            .encode(batch, &mut self.tracker, &self.options, &mut self.context)
            .map_err(|e| CodecError::Compress {
                codec: self.compression,
                detail: e.to_string(),
            })?;
        if !dictionaries.is_empty() {
            return Err(CodecError::Arrow(
                "dictionary-encoded columns are not supported".into(),
            ));
        }
        Ok(frame(&data.ipc_message, data.arrow_data))
    }

    /// The end-of-stream marker.
    pub fn end_of_stream() -> Bytes {
        Bytes::from_static(&END_OF_STREAM)
    }
}

/// Encodes `batches` as one complete IPC stream (no size target), for responses and
/// tests.
pub fn encode_stream(
    schema: SchemaRef,
    batches: &[RecordBatch],
    compression: Compression,
) -> Result<Vec<u8>, CodecError> {
    let mut enc = IpcMessageEncoder::new(schema.clone(), compression, None)?;
    let mut out = Vec::new();
    let m = enc.schema_message().clone();
    out.extend_from_slice(&m.header);
    out.extend_from_slice(&m.body);
    for b in batches {
        let b = conform_batch(&schema, b)?;
        let m = enc.encode_batch(&b)?;
        out.extend_from_slice(&m.header);
        out.extend_from_slice(&m.body);
    }
    out.extend_from_slice(&END_OF_STREAM);
    Ok(out)
}

/// One `TableWrite` request body: a complete Arrow IPC stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedBody {
    chunks: Vec<Bytes>,
    rows: u64,
    len: u64,
    batches: usize,
}

impl EncodedBody {
    /// Rows in the body: the `Count` query parameter.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Length of the body in bytes (`Content-Length`).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body has no bytes (never true for a body the encoder produced).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Record batch messages in the body.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// The body as chunks, in order (cheap to clone: reference-counted).
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// The chunks, consuming the body.
    pub fn into_chunks(self) -> Vec<Bytes> {
        self.chunks
    }

    /// The body as one contiguous buffer (copies unless it is a single chunk).
    pub fn to_bytes(&self) -> Bytes {
        if self.chunks.len() == 1 {
            return self.chunks[0].clone();
        }
        let mut out = BytesMut::with_capacity(self.len as usize);
        for c in &self.chunks {
            out.put_slice(c);
        }
        out.freeze()
    }
}

/// Chunks smaller than this are merged with their neighbours to avoid tiny writes.
const COALESCE_BELOW: usize = 64 * 1024;

/// A body being built.
#[derive(Debug, Default)]
struct BodyBuilder {
    chunks: Vec<Bytes>,
    small: BytesMut,
    rows: u64,
    len: u64,
    batches: usize,
}

impl BodyBuilder {
    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len() as u64;
        if chunk.len() < COALESCE_BELOW {
            self.small.put_slice(&chunk);
            if self.small.len() >= COALESCE_BELOW {
                self.chunks.push(self.small.split().freeze());
            }
        } else {
            if !self.small.is_empty() {
                self.chunks.push(self.small.split().freeze());
            }
            self.chunks.push(chunk);
        }
    }

    fn finish(mut self) -> EncodedBody {
        self.push(Bytes::from_static(&END_OF_STREAM));
        if !self.small.is_empty() {
            self.chunks.push(self.small.split().freeze());
        }
        EncodedBody {
            chunks: self.chunks,
            rows: self.rows,
            len: self.len,
            batches: self.batches,
        }
    }
}

/// Builds `TableWrite` request bodies from batches. See the [module docs](self).
///
/// ```
/// # use std::sync::Arc;
/// # use arrow_array::{ArrayRef, Int64Array, RecordBatch};
/// # use maxstorage_codec::write::{ArrowStreamEncoder, EncoderOptions};
/// let batch = RecordBatch::try_from_iter(vec![
///     ("a", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
/// ]).unwrap();
/// let mut enc = ArrowStreamEncoder::new(batch.schema(), EncoderOptions::default()).unwrap();
/// enc.write(&batch).unwrap();
/// while let Some(body) = enc.flush() {
///     // Send `body.chunks()` with `Count=body.rows()`.
///     assert_eq!(body.rows(), 3);
/// }
/// ```
#[derive(Debug)]
pub struct ArrowStreamEncoder {
    messages: IpcMessageEncoder,
    target: usize,
    current: Option<BodyBuilder>,
    ready: VecDeque<EncodedBody>,
    rows: u64,
    bodies: u64,
}

impl ArrowStreamEncoder {
    /// An encoder for a stream whose write schema is `schema`.
    pub fn new(schema: SchemaRef, options: EncoderOptions) -> Result<Self, CodecError> {
        let messages = IpcMessageEncoder::new(schema, options.compression, options.zstd_level)?;
        let overhead = messages.schema_message().len() + END_OF_STREAM.len();
        if options.target_body_bytes <= overhead {
            return Err(CodecError::InvalidOption(format!(
                "target_body_bytes {} leaves no room for data after the {overhead}-byte schema message and end-of-stream marker",
                options.target_body_bytes
            )));
        }
        Ok(ArrowStreamEncoder {
            messages,
            target: options.target_body_bytes,
            current: None,
            ready: VecDeque::new(),
            rows: 0,
            bodies: 0,
        })
    }

    /// The write schema.
    pub fn schema(&self) -> &SchemaRef {
        self.messages.schema()
    }

    /// Changes the size of the bodies built from now on (the body being built closes as
    /// soon as it reaches the new size). A size too small to hold the schema message and
    /// the end-of-stream marker is raised to the smallest that can.
    pub fn set_target_body_bytes(&mut self, bytes: usize) {
        let overhead = self.messages.schema_message().len() + END_OF_STREAM.len();
        self.target = bytes.max(overhead + 1);
    }

    /// Rows written so far (all bodies).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows in the body being built.
    pub fn current_rows(&self) -> u64 {
        self.current.as_ref().map_or(0, |b| b.rows)
    }

    /// Bytes of the body being built (without its end-of-stream marker).
    pub fn current_bytes(&self) -> u64 {
        self.current.as_ref().map_or(0, |b| b.len)
    }

    /// Whether a body has reached the target and waits in [`next_body`](Self::next_body):
    /// time to start a request.
    pub fn has_full_body(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Checks `batch` against the write schema, splits it and encodes it. Bodies that
    /// reach the target become available from [`next_body`](Self::next_body). Empty
    /// batches add nothing.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), CodecError> {
        for slice in self.slices(batch)? {
            let message = self.messages.encode_batch(&slice)?;
            self.push_message(message, slice.num_rows());
        }
        Ok(())
    }

    /// The first half of [`write`](Self::write), for encoding on several threads:
    /// `batch` checked against the write schema and split into slices that each fit a
    /// body (none for an empty batch). Encode each slice with an encoder of its own
    /// ([`message_encoder`](Self::message_encoder)) and hand the messages to
    /// [`push_message`](Self::push_message) in the order of the slices.
    pub fn slices(&self, batch: &RecordBatch) -> Result<Vec<RecordBatch>, CodecError> {
        let batch = conform_batch(self.messages.schema(), batch)?;
        if batch.num_rows() == 0 {
            return Ok(Vec::new());
        }
        let room = self.target - self.messages.schema_message().len() - END_OF_STREAM.len();
        Ok(split_batch(&batch, room))
    }

    /// An encoder of this stream's record batch messages, for another thread (see
    /// [`slices`](Self::slices)).
    pub fn message_encoder(&self) -> Result<IpcMessageEncoder, CodecError> {
        self.messages.fresh()
    }

    /// The second half of [`write`](Self::write): places the encoded message of a slice
    /// of `rows` rows (from [`slices`](Self::slices), in order) into the body being built.
    pub fn push_message(&mut self, message: EncodedMessage, rows: usize) {
        let size = message.len() as u64;
        if let Some(cur) = &self.current
            && cur.batches > 0
            && cur.len + size + END_OF_STREAM.len() as u64 > self.target as u64
        {
            self.close_current();
        }
        let cur = self.current.get_or_insert_with(|| {
            let mut b = BodyBuilder::default();
            let schema = self.messages.schema_message();
            b.push(schema.header.clone());
            b.push(schema.body.clone());
            b
        });
        cur.push(message.header);
        cur.push(message.body);
        cur.rows += rows as u64;
        cur.batches += 1;
        self.rows += rows as u64;
        if cur.len + END_OF_STREAM.len() as u64 >= self.target as u64 {
            self.close_current();
        }
    }

    fn close_current(&mut self) {
        if let Some(b) = self.current.take() {
            let body = b.finish();
            tracing::debug!(rows = body.rows, bytes = body.len, "request body ready");
            self.bodies += 1;
            self.ready.push_back(body);
        }
    }

    /// A body that reached the target, if any.
    pub fn next_body(&mut self) -> Option<EncodedBody> {
        self.ready.pop_front()
    }

    /// The next body to send: a full one if any, otherwise the body being built
    /// (closed now, below the target); `None` when nothing is left.
    pub fn flush(&mut self) -> Option<EncodedBody> {
        if self.ready.is_empty() {
            self.close_current();
        }
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{DecoderOptions, decode_body};
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use arrow_ipc::writer::StreamWriter;
    use std::sync::Arc;

    fn batch(n: usize, offset: i64) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "a",
                Arc::new(Int64Array::from_iter_values(offset..offset + n as i64)) as ArrayRef,
            ),
            (
                "b",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("value-{i}-{}", "x".repeat(i % 50))),
                )) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn slices_encoded_on_other_encoders_make_the_same_bodies() {
        let options = EncoderOptions {
            compression: Compression::Zstd,
            target_body_bytes: 16 * 1024,
            ..EncoderOptions::default()
        };
        let b = batch(3000, 0);
        let bodies = |enc: &mut ArrowStreamEncoder| {
            let mut out = Vec::new();
            while let Some(body) = enc.flush() {
                out.push(body);
            }
            out
        };
        let mut serial = ArrowStreamEncoder::new(b.schema(), options).unwrap();
        serial.write(&b).unwrap();
        let mut parallel = ArrowStreamEncoder::new(b.schema(), options).unwrap();
        let slices = parallel.slices(&b).unwrap();
        assert!(slices.len() > 2, "{} slices", slices.len());
        // Two encoders, slices encoded last first, placed in order.
        let mut encoders = [
            parallel.message_encoder().unwrap(),
            parallel.message_encoder().unwrap(),
        ];
        let mut messages: Vec<(usize, EncodedMessage)> = slices
            .iter()
            .enumerate()
            .rev()
            .map(|(i, s)| (i, encoders[i % 2].encode_batch(s).unwrap()))
            .collect();
        messages.sort_by_key(|(i, _)| *i);
        for ((_, m), s) in messages.into_iter().zip(&slices) {
            parallel.push_message(m, s.num_rows());
        }
        assert_eq!(parallel.rows(), 3000);
        let want = bodies(&mut serial);
        assert!(want.len() > 1, "several bodies");
        assert_eq!(bodies(&mut parallel), want);
        let empty = b.slice(0, 0);
        assert!(parallel.slices(&empty).unwrap().is_empty());
    }

    #[test]
    fn framing_matches_arrow_stream_writer() {
        let b = batch(100, 0);
        let ours = encode_stream(
            b.schema(),
            std::slice::from_ref(&b),
            Compression::Uncompressed,
        )
        .unwrap();
        let options = IpcWriteOptions::try_new(8, false, arrow_ipc::MetadataVersion::V5).unwrap();
        let mut theirs = Vec::new();
        let mut w = StreamWriter::try_new_with_options(&mut theirs, &b.schema(), options).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        drop(w);
        assert_eq!(ours, theirs);
    }

    #[test]
    fn bodies_respect_target_and_count_rows() {
        for compression in [
            Compression::Uncompressed,
            Compression::Zstd,
            Compression::Lz4Frame,
        ] {
            let schema = batch(1, 0).schema();
            let target = 32 * 1024;
            let mut enc = ArrowStreamEncoder::new(
                schema,
                EncoderOptions {
                    compression,
                    zstd_level: None,
                    target_body_bytes: target,
                },
            )
            .unwrap();
            let mut bodies = Vec::new();
            let mut offset = 0;
            for n in [10, 5000, 1, 20_000, 0, 7] {
                enc.write(&batch(n, offset)).unwrap();
                offset += n as i64;
                while let Some(b) = enc.next_body() {
                    bodies.push(b);
                }
            }
            while let Some(b) = enc.flush() {
                bodies.push(b);
            }
            assert!(bodies.len() > 3, "{compression}");
            assert_eq!(enc.rows(), offset as u64);
            let mut next = 0i64;
            for body in &bodies {
                assert!(body.len() <= target as u64, "{compression}: {}", body.len());
                assert_eq!(body.len(), body.to_bytes().len() as u64);
                let decoded = decode_body(&body.to_bytes(), DecoderOptions::default()).unwrap();
                assert_eq!(decoded.num_rows() as u64, body.rows());
                for rb in &decoded.batches {
                    let a = rb.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                    for v in a.values() {
                        assert_eq!(*v, next);
                        next += 1;
                    }
                }
            }
            assert_eq!(next, offset);
        }
    }

    #[test]
    fn rejects_dictionaries_and_tiny_targets() {
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "d",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        )]));
        assert!(matches!(
            ArrowStreamEncoder::new(schema, EncoderOptions::default()),
            Err(CodecError::UnsupportedArrowType { .. })
        ));
        let b = batch(1, 0);
        let e = ArrowStreamEncoder::new(
            b.schema(),
            EncoderOptions {
                target_body_bytes: 64,
                ..EncoderOptions::default()
            },
        )
        .unwrap_err();
        assert!(matches!(e, CodecError::InvalidOption(_)));
    }

    #[test]
    fn single_large_row_gets_its_own_body() {
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "s",
            DataType::Utf8,
            true,
        )]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![
                "x".repeat(10_000),
                "y".into(),
                "z".into(),
            ]))],
        )
        .unwrap();
        let mut enc = ArrowStreamEncoder::new(
            schema,
            EncoderOptions {
                target_body_bytes: 2048,
                ..EncoderOptions::default()
            },
        )
        .unwrap();
        enc.write(&b).unwrap();
        let mut rows = Vec::new();
        while let Some(body) = enc.flush() {
            rows.push(body.rows());
        }
        assert_eq!(rows.iter().sum::<u64>(), 3);
        assert_eq!(rows[0], 1);
    }
}
