//! Operations on one table: read sessions and reads, preview, write sessions, blobs.

use std::sync::Arc;

use maxstorage_client_core::operation::SessionReady;
use maxstorage_client_core::table::TableCalls;
use maxstorage_client_core::{ReadOptions, Result, TableReadSession};
use maxstorage_protocol::read::{PreviewOptions, ReadSessionOptions, RowSelection};
use maxstorage_protocol::write::{WriteMode, WriteSessionOptions};
use maxstorage_protocol::{Compression, TableId};

use crate::blob::{BlobReader, BlobStreamReader};
use crate::client::Client;
use crate::exec::Route;
use crate::read::{DecodingBody, ParallelBatches, RawRowsReader, SplitBatches, StreamBatches};
use crate::write::WriteSessionHandle;

/// Operations on a table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TableClient {
    client: Client,
    calls: TableCalls,
    target: String,
}

impl TableClient {
    pub(crate) fn new(client: Client, table: TableId) -> TableClient {
        TableClient {
            client,
            target: table.target(),
            calls: TableCalls { table },
        }
    }

    /// The table.
    pub fn table(&self) -> &TableId {
        &self.calls.table
    }

    /// The same table through a client whose default compression is `compression` (see
    /// [`Client::with_compression`]).
    pub fn with_compression(&self, compression: Compression) -> TableClient {
        TableClient {
            client: self.client.with_compression(compression),
            ..self.clone()
        }
    }

    /// Creates a read session and waits (polling `TableGetReadSession` every second, up
    /// to the client's session-ready timeout) until it is ready.
    pub async fn create_read_session(
        &self,
        options: ReadSessionOptions,
    ) -> Result<TableReadSession> {
        let (call, shape) = self.calls.create_read_session(options);
        let info = self.client.core.call(&call, Route::default()).await?;
        self.client.core.observe_token(
            &Route::session(&self.target, &info.session_id),
            info.route_token.as_deref(),
        );
        let session_id = info.session_id.clone();
        let session = self.calls.read_session(info, shape);
        let wait = SessionReady::new(session, &self.client.defaults);
        let route = Route::session(&self.target, &session_id);
        self.client.core.drive(wait, route).await
    }

    /// Re-reads a session (e.g. its status and splits).
    pub async fn get_read_session(&self, session: &mut TableReadSession) -> Result<()> {
        self.reload_read_session(session, false).await
    }

    /// Re-reads a session and extends its lifetime (sessions expire a day after they were
    /// created or last refreshed).
    pub async fn refresh_read_session(&self, session: &mut TableReadSession) -> Result<()> {
        self.reload_read_session(session, true).await
    }

    async fn reload_read_session(
        &self,
        session: &mut TableReadSession,
        refresh: bool,
    ) -> Result<()> {
        let call = self.calls.get_read_session(session.id(), refresh);
        let route = Route::session(&self.target, session.id());
        let info = self.client.core.call(&call, route).await?;
        session.replace_info(info);
        Ok(())
    }

    /// Streams the record batches of a split (index `i` for Size, Parallelism and Bucket
    /// sessions), resuming after a broken connection.
    pub fn read_split(
        &self,
        session: &TableReadSession,
        split_index: i64,
        options: &ReadOptions,
    ) -> SplitBatches {
        self.read_rows(session, RowSelection::split(split_index), options)
    }

    /// Streams the record batches of any selection: a split, a row range of a RowOffset
    /// session, or a row range within a split.
    pub fn read_rows(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
    ) -> SplitBatches {
        SplitBatches::new(
            self.client.core.clone(),
            session,
            selection,
            options,
            &self.client.defaults,
        )
    }

    /// The raw Arrow IPC bytes of a selection (see [`RawRowsReader`]); read them with
    /// `maxstorage_codec::read::ArrowStreamReader` or any Arrow IPC stream reader.
    pub async fn read_rows_stream(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
    ) -> Result<RawRowsReader> {
        let call = self.calls.read_rows(
            session,
            selection,
            options,
            self.client.defaults.compression,
        );
        let route = Route::session(&self.target, session.id());
        let (head, body) = self.client.core.open(&call, route).await?;
        RawRowsReader::new(&head, body)
    }

    /// Reads every split of the session with up to `workers` concurrent tasks; batches
    /// arrive in completion order, tagged with their split's position in
    /// [`TableReadSession::splits`].
    pub fn read_all(
        &self,
        session: &TableReadSession,
        options: &ReadOptions,
        workers: usize,
    ) -> ParallelBatches {
        ParallelBatches::new(
            self.client.core.clone(),
            Arc::new(session.clone()),
            options.clone(),
            self.client.defaults.clone(),
            workers,
        )
    }

    /// The first rows of the table, without a session (the service may return fewer than
    /// `limit`), compressed as the client's default asks
    /// ([`Client::with_compression`](crate::Client::with_compression)).
    pub async fn preview(&self, options: PreviewOptions) -> Result<StreamBatches> {
        let call = self
            .calls
            .preview(options, self.client.defaults.compression);
        let (head, body) = self.client.core.open(&call, Route::default()).await?;
        Ok(StreamBatches::new(DecodingBody::new(
            &head,
            body,
            Default::default(),
        )?))
    }

    /// Creates a write session.
    pub async fn create_write_session(
        &self,
        options: WriteSessionOptions,
    ) -> Result<WriteSessionHandle> {
        let (mode, partition) = (options.mode, options.partition_spec.clone());
        let call = self.calls.create_write_session(options);
        let info = self.client.core.call(&call, Route::default()).await?;
        self.client.core.observe_token(
            &Route::session(&self.target, &info.session_id),
            info.route_token.as_deref(),
        );
        Ok(self.write_session_handle(info.session_id, mode, partition))
    }

    /// Attaches to an existing write session (e.g. one created by another process), or to
    /// the implicit `default` session of a streaming mode.
    pub async fn write_session(
        &self,
        session_id: &str,
        mode: WriteMode,
        partition_spec: &str,
    ) -> Result<WriteSessionHandle> {
        if let Some(call) = self.calls.attach_write_session(session_id, mode) {
            let route = Route::session(&self.target, session_id);
            self.client.core.call(&call, route).await?;
        }
        Ok(self.write_session_handle(session_id.to_string(), mode, partition_spec.to_string()))
    }

    fn write_session_handle(
        &self,
        session_id: String,
        mode: WriteMode,
        partition_spec: String,
    ) -> WriteSessionHandle {
        WriteSessionHandle::new(
            self.client.clone(),
            self.calls.table.clone(),
            session_id,
            mode,
            partition_spec,
        )
    }

    /// Downloads blobs by reference, as a stream of whole [`crate::Blob`]s.
    pub async fn read_blobs(&self, references: Vec<String>) -> Result<BlobReader> {
        Ok(BlobReader::new(self.read_blobs_stream(references).await?))
    }

    /// Downloads blobs by reference as a streaming reader that moves from blob to blob.
    pub async fn read_blobs_stream(&self, references: Vec<String>) -> Result<BlobStreamReader> {
        let count = references.len();
        let compression = self.client.defaults.compression;
        let call = self
            .calls
            .read_blobs(self.client.project(), references, compression);
        let (head, body) = self.client.core.open(&call, Route::default()).await?;
        BlobStreamReader::new(&head, body, count)
    }
}
