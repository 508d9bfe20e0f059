//! The client operations the scenarios use, one trait for every client: the blocking client
//! implements it directly; the async client through a runtime (see its test file).

use std::io::Read;

use arrow_array::RecordBatch;
use maxstorage_blocking::{Client, WriteSessionHandle};
use maxstorage_client_core::{
    Blob, BlobItem, BlobWriteOptions, ReadOptions, Result, StreamOptions, StreamSummary,
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

impl StorageClient for Blocking {
    type Session = WriteSessionHandle;

    fn name(&self) -> &'static str {
        "blocking"
    }

    fn create_read_session(
        &self,
        table: &TableId,
        options: ReadSessionOptions,
    ) -> Result<TableReadSession> {
        self.0.table(table.clone()).create_read_session(options)
    }

    fn get_read_session(&self, session: &mut TableReadSession, refresh: bool) -> Result<()> {
        let table = self.0.table(session.table().clone());
        if refresh {
            table.refresh_read_session(session)
        } else {
            table.get_read_session(session)
        }
    }

    fn read(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
    ) -> Result<Vec<RecordBatch>> {
        self.0
            .table(session.table().clone())
            .read_rows(session, selection, options)
            .collect()
    }

    fn read_raw(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
    ) -> Result<Vec<u8>> {
        let mut raw = self
            .0
            .table(session.table().clone())
            .read_rows_stream(session, selection, options)?;
        let mut out = Vec::new();
        raw.read_to_end(&mut out)
            .map_err(|e| maxstorage_client_core::Error::io("reading the raw stream", e))?;
        Ok(out)
    }

    fn read_all(
        &self,
        session: &TableReadSession,
        options: &ReadOptions,
        workers: usize,
    ) -> Result<Vec<(usize, RecordBatch)>> {
        self.0
            .table(session.table().clone())
            .read_all(session, options, workers)
            .collect()
    }

    fn preview(&self, table: &TableId, options: PreviewOptions) -> Result<Vec<RecordBatch>> {
        self.0.table(table.clone()).preview(options)?.collect()
    }

    fn create_write_session(
        &self,
        table: &TableId,
        options: WriteSessionOptions,
    ) -> Result<WriteSessionHandle> {
        self.0.table(table.clone()).create_write_session(options)
    }

    fn write_session(
        &self,
        table: &TableId,
        session_id: &str,
        mode: WriteMode,
        partition: &str,
    ) -> Result<WriteSessionHandle> {
        self.0
            .table(table.clone())
            .write_session(session_id, mode, partition)
    }

    fn read_instance(
        &self,
        instance: &InstanceId,
        range: Option<RowRange>,
        columns: Vec<String>,
    ) -> Result<(InstanceReadSession, Vec<RecordBatch>)> {
        let client = self.0.instance(instance.clone());
        let session = client.create_read_session()?;
        let options = InstanceReadOptions {
            columns,
            ..InstanceReadOptions::default()
        };
        let batches = match range {
            Some(range) => client.read_range(&session, range, &options)?,
            None => client.read(&session, &options)?,
        }
        .collect::<Result<Vec<_>>>()?;
        Ok((session, batches))
    }

    fn read_blobs(
        &self,
        table: &TableId,
        references: Vec<String>,
        compression: Option<Compression>,
    ) -> Result<Vec<Blob>> {
        let client = match compression {
            Some(c) => self.0.with_compression(c),
            None => self.0.clone(),
        };
        client
            .table(table.clone())
            .read_blobs(references)?
            .collect()
    }

    fn read_blobs_streaming(
        &self,
        table: &TableId,
        references: Vec<String>,
        chunk: usize,
    ) -> Result<Vec<Blob>> {
        let mut reader = self.0.table(table.clone()).read_blobs_stream(references)?;
        let mut out = Vec::new();
        while let Some(info) = reader.next_blob()? {
            let mut data = Vec::new();
            let mut buf = vec![0u8; chunk.max(1)];
            loop {
                let n = reader
                    .read(&mut buf)
                    .map_err(|e| maxstorage_client_core::Error::io("reading a blob", e))?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            out.push(Blob {
                data,
                content_type: info.content_type,
                file_name: info.file_name,
            });
        }
        Ok(out)
    }
}

impl WriteSession for WriteSessionHandle {
    fn id(&self) -> String {
        WriteSessionHandle::id(self).to_string()
    }

    fn with_route_token(&self, token: &str) -> Self {
        self.clone().with_route_token(token)
    }

    fn write_stream(
        &self,
        stream: StreamRef,
        options: StreamOptions,
        batches: &[RecordBatch],
    ) -> Result<StreamSummary> {
        let mut writer = self.stream_writer(stream, options)?;
        for b in batches {
            writer.write(b)?;
        }
        writer.finish()
    }

    fn create_stream(&self, stream: &StreamRef, exactly_once: bool) -> Result<WriteStreamInfo> {
        WriteSessionHandle::create_stream(self, stream, StreamKind::from_exactly_once(exactly_once))
    }

    fn write_raw(&self, stream: &StreamRef, rows: i64, body: &[u8]) -> Result<WriteRowsResult> {
        let mut w = self.raw_writer(stream, rows)?;
        std::io::Write::write_all(&mut w, body)
            .map_err(|e| maxstorage_client_core::Error::io("writing a raw body", e))?;
        w.finish()
    }

    fn close_stream(&self, stream: &StreamRef) -> Result<()> {
        WriteSessionHandle::close_stream(self, stream)
    }

    fn commit(&self) -> Result<WriteSessionInfo> {
        WriteSessionHandle::commit(self)
    }

    fn commit_listing_streams(&self) -> Result<WriteSessionInfo> {
        WriteSessionHandle::commit_listing_streams(self)
    }

    fn commit_streams(&self, streams: Vec<StreamRef>) -> Result<WriteSessionInfo> {
        WriteSessionHandle::commit_streams(self, streams)
    }

    fn abort(&self) -> Result<()> {
        WriteSessionHandle::abort(self)
    }

    fn status(&self) -> Result<WriteSessionInfo> {
        WriteSessionHandle::status(self)
    }

    fn stream_status(&self, stream: &StreamRef, exactly_once: bool) -> Result<WriteStreamInfo> {
        WriteSessionHandle::stream_status(self, stream, StreamKind::from_exactly_once(exactly_once))
    }

    fn upload_blob(
        &self,
        stream: &StreamRef,
        partition_values: Vec<String>,
        column: i64,
        compression: Option<Compression>,
        data: &[u8],
    ) -> Result<WriteBlobResult> {
        let mut w =
            self.blob_writer(stream, blob_options(partition_values, column, compression))?;
        for chunk in data.chunks(1000) {
            std::io::Write::write_all(&mut w, chunk)
                .map_err(|e| maxstorage_client_core::Error::io("writing a blob", e))?;
        }
        w.finish()
    }

    fn upload_blob_batch(
        &self,
        stream: &StreamRef,
        items: &[BlobItem],
        compression: Option<Compression>,
    ) -> Result<WriteBlobBatchResult> {
        self.write_blob_batch(
            stream,
            items,
            compression.unwrap_or(Compression::Uncompressed),
        )
    }
}

/// The options of a blob upload as the scenarios give them.
pub fn blob_options(
    partition_values: Vec<String>,
    column: i64,
    compression: Option<Compression>,
) -> BlobWriteOptions {
    BlobWriteOptions {
        column_index: column,
        partition_values,
        compression,
    }
}

/// Decodes a raw Arrow IPC stream (what [`StorageClient::read_raw`] returns).
pub fn decode_raw(raw: &[u8]) -> Result<Vec<RecordBatch>> {
    ArrowStreamReader::new(raw, DecoderOptions::default())
        .map(|b| b.map_err(Into::into))
        .collect()
}
