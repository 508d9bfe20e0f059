//! Operations on one table: read sessions and reads, preview, write sessions, blobs.

use std::sync::Arc;

use tokio::time::Instant;

use maxstorage_protocol::blob::ReadBlobs;
use maxstorage_protocol::read::{
    CreateReadSession, GetReadSession, PreviewOptions, PreviewTable, ReadRows, ReadSessionOptions,
    RowSelection, SessionStatus, SplitMode,
};
use maxstorage_protocol::write::{
    CreateWriteSession, GetWriteSession, WriteMode, WriteSessionOptions,
};
use maxstorage_protocol::{Compression, TableId};

use crate::blob::{BlobReader, BlobStreamReader};
use crate::client::Client;
use crate::exec::Route;
use crate::read::{DecodingBody, ParallelBatches, RawRowsReader, SplitBatches, StreamBatches};
use crate::write::WriteSessionHandle;
use maxstorage_client_core::{Error, Result};
use maxstorage_client_core::{ReadOptions, TableReadSession};

/// Operations on a table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TableClient {
    client: Client,
    table: TableId,
}

impl TableClient {
    pub(crate) fn new(client: Client, table: TableId) -> TableClient {
        TableClient { client, table }
    }

    /// The table.
    pub fn table(&self) -> &TableId {
        &self.table
    }

    fn target(&self) -> String {
        self.table.target()
    }

    /// Creates a read session and waits (polling `TableGetReadSession` every second, up
    /// to the client's session-ready timeout) until it is ready.
    pub async fn create_read_session(
        &self,
        options: ReadSessionOptions,
    ) -> Result<TableReadSession> {
        let rows_per_split = (options.split_options.mode == SplitMode::RowOffset)
            .then_some(options.split_options.number);
        let unit = options.arrow_options.timestamp_unit;
        let call = CreateReadSession {
            table: self.table.clone(),
            options,
        };
        let info = self.client.core.call(&call, Route::default()).await?;
        let target = self.target();
        self.client.core.observe_token(
            &Route::session(&target, &info.session_id),
            info.route_token.as_deref(),
        );
        let mut session = TableReadSession::new(self.table.clone(), info, rows_per_split, unit);
        let started = Instant::now();
        while *session.status() == SessionStatus::Init {
            if started.elapsed() >= self.client.defaults.session_ready_timeout {
                return Err(Error::NotReady {
                    session_id: session.id().to_string(),
                    status: "INIT".into(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(self.client.defaults.session_poll_interval).await;
            let info = self.get_read_session_info(session.id(), false).await?;
            session.replace_info(info);
        }
        match session.status() {
            SessionStatus::Normal => Ok(session),
            other => Err(Error::NotReady {
                session_id: session.id().to_string(),
                status: other.as_str().to_string(),
                waited: started.elapsed(),
            }),
        }
    }

    async fn get_read_session_info(
        &self,
        session_id: &str,
        refresh: bool,
    ) -> Result<maxstorage_protocol::read::ReadSession> {
        let call = GetReadSession {
            table: self.table.clone(),
            session_id: session_id.to_string(),
            refresh,
        };
        let target = self.target();
        self.client
            .core
            .call(&call, Route::session(&target, session_id))
            .await
    }

    /// Re-reads a session (e.g. its status); `refresh` extends its lifetime.
    pub async fn get_read_session(
        &self,
        session: &mut TableReadSession,
        refresh: bool,
    ) -> Result<()> {
        let info = self.get_read_session_info(session.id(), refresh).await?;
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
            self.client.defaults.compression,
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
        let call = ReadRows {
            table: self.table.clone(),
            session_id: session.id().to_string(),
            selection,
            options: options.to_wire(),
            compression: options
                .compression
                .unwrap_or(self.client.defaults.compression),
        };
        let target = self.target();
        let (head, body) = self
            .client
            .core
            .open(&call, Route::session(&target, session.id()))
            .await?;
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
            self.client.defaults.compression,
            workers,
        )
    }

    /// The first rows of the table, without a session (the service may return fewer than
    /// `limit`).
    pub async fn preview(
        &self,
        options: PreviewOptions,
        compression: Option<Compression>,
    ) -> Result<StreamBatches> {
        let call = PreviewTable {
            table: self.table.clone(),
            options,
            compression: compression.unwrap_or(self.client.defaults.compression),
        };
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
        let mode = options.mode;
        let partition = options.partition_spec.clone();
        let call = CreateWriteSession {
            table: self.table.clone(),
            options,
        };
        let info = self.client.core.call(&call, Route::default()).await?;
        let target = self.target();
        self.client.core.observe_token(
            &Route::session(&target, &info.session_id),
            info.route_token.as_deref(),
        );
        Ok(WriteSessionHandle::new(
            self.client.clone(),
            self.table.clone(),
            info.session_id,
            mode,
            partition,
        ))
    }

    /// Attaches to an existing write session (e.g. one created by another process), or to
    /// the implicit `default` session of a streaming mode.
    pub async fn write_session(
        &self,
        session_id: &str,
        mode: WriteMode,
        partition_spec: &str,
    ) -> Result<WriteSessionHandle> {
        if session_id != maxstorage_protocol::write::DEFAULT_SESSION_ID {
            let call = GetWriteSession {
                table: self.table.clone(),
                session_id: session_id.to_string(),
                mode,
            };
            let target = self.target();
            self.client
                .core
                .call(&call, Route::session(&target, session_id))
                .await?;
        }
        Ok(WriteSessionHandle::new(
            self.client.clone(),
            self.table.clone(),
            session_id.to_string(),
            mode,
            partition_spec.to_string(),
        ))
    }

    /// Downloads blobs by reference, as a stream of whole [`crate::Blob`]s.
    pub async fn read_blobs(
        &self,
        references: Vec<String>,
        compression: Option<Compression>,
    ) -> Result<BlobReader> {
        Ok(BlobReader::new(
            self.blob_stream(references, compression).await?,
        ))
    }

    /// Downloads blobs by reference as a streaming reader that moves from blob to blob.
    pub async fn read_blobs_stream(
        &self,
        references: Vec<String>,
        compression: Option<Compression>,
    ) -> Result<BlobStreamReader> {
        self.blob_stream(references, compression).await
    }

    async fn blob_stream(
        &self,
        references: Vec<String>,
        compression: Option<Compression>,
    ) -> Result<BlobStreamReader> {
        let project = self
            .client
            .project()
            .unwrap_or(self.table.project())
            .to_string();
        let count = references.len();
        let call = ReadBlobs {
            project,
            references,
            compression: compression.unwrap_or(self.client.defaults.compression),
        };
        let (head, body) = self.client.core.open(&call, Route::default()).await?;
        BlobStreamReader::new(&head, body, count)
    }
}
