//! The client operations the scenarios use, one trait for every client: the blocking client
//! implements it directly; the async client through a runtime (see its test file).

use std::io::Read;

use arrow_array::RecordBatch;
use maxstorage_blocking::{Client, WriteSessionHandle};
use maxstorage_client_core::{
    Blob, BlobItem, BlobWriteOptions, Error, ReadOptions, Result, StreamOptions, StreamSummary,
    TableReadSession,
};
use maxstorage_codec::read::{ArrowStreamReader, DecoderOptions};
use maxstorage_protocol::blob::{WriteBlobBatchResult, WriteBlobResult};
use maxstorage_protocol::instance::{InstanceReadOptions, InstanceReadSession};
use maxstorage_protocol::read::{PreviewOptions, ReadSessionOptions, RowRange, RowSelection};
use maxstorage_protocol::write::{
    StreamKind, StreamRef, WriteMode, WriteRowsResult, WriteSessionInfo, WriteSessionOptions,
    WriteStreamInfo,
};
use maxstorage_protocol::{Compression, InstanceId, TableId};

/// A client under test.
pub trait StorageClient: Send + Sync {
    /// Its write-session handle.
    type Session: WriteSession;

    /// A name for test output.
    fn name(&self) -> &'static str;
    /// Creates a read session (waiting until it is ready).
    fn create_read_session(
        &self,
        table: &TableId,
        options: ReadSessionOptions,
    ) -> Result<TableReadSession>;
    /// Re-reads (and optionally refreshes) a read session.
    fn get_read_session(&self, session: &mut TableReadSession, refresh: bool) -> Result<()>;
    /// Reads a selection to the end (resuming after breaks) and collects the batches.
    fn read(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
    ) -> Result<Vec<RecordBatch>>;
    /// Reads a selection as raw bytes (an Arrow IPC stream).
    fn read_raw(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
    ) -> Result<Vec<u8>>;
    /// Reads every split with `workers` parallel readers.
    fn read_all(
        &self,
        session: &TableReadSession,
        options: &ReadOptions,
        workers: usize,
    ) -> Result<Vec<(usize, RecordBatch)>>;
    /// Previews a table.
    fn preview(&self, table: &TableId, options: PreviewOptions) -> Result<Vec<RecordBatch>>;
    /// Creates a write session.
    fn create_write_session(
        &self,
        table: &TableId,
        options: WriteSessionOptions,
    ) -> Result<Self::Session>;
    /// Attaches to a write session (or the implicit `default` streaming session).
    fn write_session(
        &self,
        table: &TableId,
        session_id: &str,
        mode: WriteMode,
        partition: &str,
    ) -> Result<Self::Session>;
    /// Creates an instance read session and reads a range of it.
    fn read_instance(
        &self,
        instance: &InstanceId,
        range: Option<RowRange>,
        columns: Vec<String>,
    ) -> Result<(InstanceReadSession, Vec<RecordBatch>)>;
    /// Downloads blobs.
    fn read_blobs(
        &self,
        table: &TableId,
        references: Vec<String>,
        compression: Option<Compression>,
    ) -> Result<Vec<Blob>>;
    /// Downloads blobs through the streaming reader, `chunk` bytes at a time.
    fn read_blobs_streaming(
        &self,
        table: &TableId,
        references: Vec<String>,
        chunk: usize,
    ) -> Result<Vec<Blob>>;
}

/// The write-session operations the scenarios use.
pub trait WriteSession: Send + Sync {
    /// The session id.
    fn id(&self) -> String;
    /// The same session sending an explicit route token.
    fn with_route_token(&self, token: &str) -> Self;
    /// Creates a stream, writes the batches, closes it.
    fn write_stream(
        &self,
        stream: StreamRef,
        options: StreamOptions,
        batches: &[RecordBatch],
    ) -> Result<StreamSummary>;
    /// Creates a stream, writes each batch in a request body of its own (flushing after
    /// each), closes it.
    fn write_bodies(
        &self,
        stream: StreamRef,
        options: StreamOptions,
        batches: &[RecordBatch],
    ) -> Result<StreamSummary>;
    /// Creates a stream without writing.
    fn create_stream(&self, stream: &StreamRef, exactly_once: bool) -> Result<WriteStreamInfo>;
    /// Writes one raw body (an Arrow IPC stream of `rows` rows) to a created stream.
    fn write_raw(&self, stream: &StreamRef, rows: i64, body: &[u8]) -> Result<WriteRowsResult>;
    /// Closes a created stream.
    fn close_stream(&self, stream: &StreamRef) -> Result<()>;
    /// Commits all closed streams.
    fn commit(&self) -> Result<WriteSessionInfo>;
    /// Commits the handle's streams, listed by id and version.
    fn commit_listing_streams(&self) -> Result<WriteSessionInfo>;
    /// Commits exactly these streams.
    fn commit_streams(&self, streams: Vec<StreamRef>) -> Result<WriteSessionInfo>;
    /// Aborts.
    fn abort(&self) -> Result<()>;
    /// The session's state.
    fn status(&self) -> Result<WriteSessionInfo>;
    /// A stream's state.
    fn stream_status(&self, stream: &StreamRef, exactly_once: bool) -> Result<WriteStreamInfo>;
    /// Uploads one blob through the streaming writer.
    fn upload_blob(
        &self,
        stream: &StreamRef,
        partition_values: Vec<String>,
        column: i64,
        compression: Option<Compression>,
        data: &[u8],
    ) -> Result<WriteBlobResult>;
    /// Uploads several blobs in one request.
    fn upload_blob_batch(
        &self,
        stream: &StreamRef,
        items: &[BlobItem],
        compression: Option<Compression>,
    ) -> Result<WriteBlobBatchResult>;
}

/// The blocking client under test.
#[derive(Debug, Clone)]
pub struct Blocking(pub Client);

/// A write session of the blocking client.
#[derive(Debug, Clone)]
pub struct BlockingSession(pub WriteSessionHandle);

impl Blocking {
    fn client(&self) -> &Client {
        &self.0
    }

    fn session(&self, handle: WriteSessionHandle) -> BlockingSession {
        BlockingSession(handle)
    }
}

impl BlockingSession {
    fn handle(&self) -> &WriteSessionHandle {
        &self.0
    }

    fn with_handle(&self, handle: WriteSessionHandle) -> BlockingSession {
        BlockingSession(handle)
    }
}

/// Runs an adapter body in place.
macro_rules! run {
    ($adapter:expr, $body:block) => {
        $body
    };
}

/// Collects the items of a read.
fn gather<T>(items: impl IntoIterator<Item = Result<T>>) -> Result<Vec<T>> {
    items.into_iter().collect()
}

/// Writes bytes to an upload.
fn put(writer: &mut impl std::io::Write, bytes: &[u8]) -> Result<()> {
    writer
        .write_all(bytes)
        .map_err(|e| Error::io("writing an upload", e))
}

crate::adapter::adapter!(Blocking, BlockingSession, "blocking";);

/// The options of a blob upload as the scenarios give them.
pub fn blob_options(
    partition_values: Vec<String>,
    column: i64,
    compression: Option<Compression>,
) -> BlobWriteOptions {
    let options = BlobWriteOptions::column(column).partition_values(partition_values);
    match compression {
        Some(c) => options.compression(c),
        None => options,
    }
}

/// Decodes a raw Arrow IPC stream (what [`StorageClient::read_raw`] returns).
pub fn decode_raw(raw: &[u8]) -> Result<Vec<RecordBatch>> {
    ArrowStreamReader::new(raw, DecoderOptions::default())
        .map(|b| b.map_err(Into::into))
        .collect()
}
