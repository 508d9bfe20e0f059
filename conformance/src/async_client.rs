//! The async client under test: each call runs on a multi-threaded Tokio runtime owned by
//! the adapter, so the same scenarios drive both clients.

use std::sync::Arc;

use arrow_array::RecordBatch;
use futures_util::TryStreamExt;
use maxstorage_async::{Client, ClientBuilder, WriteSessionHandle};
use maxstorage_client_core::{
    Blob, BlobItem, Error, ReadOptions, Result, StreamOptions, StreamSummary, TableReadSession,
};
use maxstorage_protocol::blob::{WriteBlobBatchResult, WriteBlobResult};
use maxstorage_protocol::instance::{InstanceReadOptions, InstanceReadSession};
use maxstorage_protocol::read::{PreviewOptions, ReadSessionOptions, RowRange, RowSelection};
use maxstorage_protocol::write::{
    StreamKind, StreamRef, WriteMode, WriteRowsResult, WriteSessionInfo, WriteSessionOptions,
    WriteStreamInfo,
};
use maxstorage_protocol::{Compression, Credentials, InstanceId, TableId};
use tokio::io::AsyncReadExt;
use tokio::runtime::Runtime;

use crate::client::{StorageClient, WriteSession, blob_options};

/// The async client and the runtime its calls run on.
#[derive(Clone)]
pub struct Async {
    client: Client,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for Async {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Async").finish_non_exhaustive()
    }
}

impl Async {
    /// An async client for `endpoint`, on its own two-worker runtime.
    pub fn connect(endpoint: &str, credentials: Credentials, project: &str) -> Result<Async> {
        Async::connect_configured(endpoint, credentials, project, |b| b)
    }

    /// [`connect`](Self::connect) with more settings applied by `configure` (a retry
    /// policy, for example).
    pub fn connect_configured(
        endpoint: &str,
        credentials: Credentials,
        project: &str,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<Async> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the Tokio runtime", e))?;
        let client = rt.block_on(
            configure(
                Client::builder()
                    .endpoint(endpoint)
                    .credentials(credentials)
                    .project(project),
            )
            .build(),
        )?;
        Ok(Async {
            client,
            rt: Arc::new(rt),
        })
    }
}

/// A write session of the async client.
#[derive(Clone)]
pub struct AsyncSession {
    handle: WriteSessionHandle,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for AsyncSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSession")
            .field("id", &self.handle.id())
            .finish_non_exhaustive()
    }
}

impl StorageClient for Async {
    type Session = AsyncSession;

    fn name(&self) -> &'static str {
        "async"
    }

    fn create_read_session(
        &self,
        table: &TableId,
        options: ReadSessionOptions,
    ) -> Result<TableReadSession> {
        self.rt.block_on(
            self.client
                .table(table.clone())
                .create_read_session(options),
        )
    }

    fn get_read_session(&self, session: &mut TableReadSession, refresh: bool) -> Result<()> {
        let table = self.client.table(session.table().clone());
        if refresh {
            self.rt.block_on(table.refresh_read_session(session))
        } else {
            self.rt.block_on(table.get_read_session(session))
        }
    }

    fn read(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
    ) -> Result<Vec<RecordBatch>> {
        self.rt.block_on(
            self.client
                .table(session.table().clone())
                .read_rows(session, selection, options)
                .try_collect(),
        )
    }

    fn read_raw(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
    ) -> Result<Vec<u8>> {
        self.rt.block_on(async {
            let mut raw = self
                .client
                .table(session.table().clone())
                .read_rows_stream(session, selection, options)
                .await?;
            let mut out = Vec::new();
            raw.read_to_end(&mut out)
                .await
                .map_err(|e| Error::io("reading the raw stream", e))?;
            Ok(out)
        })
    }

    fn read_all(
        &self,
        session: &TableReadSession,
        options: &ReadOptions,
        workers: usize,
    ) -> Result<Vec<(usize, RecordBatch)>> {
        self.rt.block_on(
            self.client
                .table(session.table().clone())
                .read_all(session, options, workers)
                .try_collect(),
        )
    }

    fn preview(&self, table: &TableId, options: PreviewOptions) -> Result<Vec<RecordBatch>> {
        self.rt.block_on(async {
            self.client
                .table(table.clone())
                .preview(options)
                .await?
                .try_collect()
                .await
        })
    }

    fn create_write_session(
        &self,
        table: &TableId,
        options: WriteSessionOptions,
    ) -> Result<AsyncSession> {
        let handle = self.rt.block_on(
            self.client
                .table(table.clone())
                .create_write_session(options),
        )?;
        Ok(AsyncSession {
            handle,
            rt: self.rt.clone(),
        })
    }

    fn write_session(
        &self,
        table: &TableId,
        session_id: &str,
        mode: WriteMode,
        partition: &str,
    ) -> Result<AsyncSession> {
        let handle = self.rt.block_on(
            self.client
                .table(table.clone())
                .write_session(session_id, mode, partition),
        )?;
        Ok(AsyncSession {
            handle,
            rt: self.rt.clone(),
        })
    }

    fn read_instance(
        &self,
        instance: &InstanceId,
        range: Option<RowRange>,
        columns: Vec<String>,
    ) -> Result<(InstanceReadSession, Vec<RecordBatch>)> {
        self.rt.block_on(async {
            let client = self.client.instance(instance.clone());
            let session = client.create_read_session().await?;
            let options = InstanceReadOptions {
                columns,
                ..InstanceReadOptions::default()
            };
            let batches = match range {
                Some(range) => client.read_range(&session, range, &options).await?,
                None => client.read(&session, &options).await?,
            }
            .try_collect()
            .await?;
            Ok((session, batches))
        })
    }

    fn read_blobs(
        &self,
        table: &TableId,
        references: Vec<String>,
        compression: Option<Compression>,
    ) -> Result<Vec<Blob>> {
        let client = match compression {
            Some(c) => self.client.with_compression(c),
            None => self.client.clone(),
        };
        self.rt.block_on(async {
            client
                .table(table.clone())
                .read_blobs(references)
                .await?
                .try_collect()
                .await
        })
    }

    fn read_blobs_streaming(
        &self,
        table: &TableId,
        references: Vec<String>,
        chunk: usize,
    ) -> Result<Vec<Blob>> {
        self.rt.block_on(async {
            let mut reader = self
                .client
                .table(table.clone())
                .read_blobs_stream(references)
                .await?;
            let mut out = Vec::new();
            while let Some(info) = reader.next_blob().await? {
                let mut data = Vec::new();
                let mut buf = vec![0u8; chunk.max(1)];
                loop {
                    let n = reader
                        .read(&mut buf)
                        .await
                        .map_err(|e| Error::io("reading a blob", e))?;
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
        })
    }
}

impl WriteSession for AsyncSession {
    fn id(&self) -> String {
        self.handle.id().to_string()
    }

    fn with_route_token(&self, token: &str) -> Self {
        AsyncSession {
            handle: self.handle.clone().with_route_token(token),
            rt: self.rt.clone(),
        }
    }

    fn write_stream(
        &self,
        stream: StreamRef,
        options: StreamOptions,
        batches: &[RecordBatch],
    ) -> Result<StreamSummary> {
        self.rt.block_on(async {
            let mut writer = self.handle.stream_writer(stream, options).await?;
            for b in batches {
                writer.write(b).await?;
            }
            writer.finish().await
        })
    }

    fn create_stream(&self, stream: &StreamRef, exactly_once: bool) -> Result<WriteStreamInfo> {
        self.rt.block_on(
            self.handle
                .create_stream(stream, StreamKind::from_exactly_once(exactly_once)),
        )
    }

    fn write_raw(&self, stream: &StreamRef, rows: i64, body: &[u8]) -> Result<WriteRowsResult> {
        self.rt.block_on(async {
            let mut w = self.handle.raw_writer(stream, rows)?;
            w.write(body).await?;
            w.finish().await
        })
    }

    fn close_stream(&self, stream: &StreamRef) -> Result<()> {
        self.rt.block_on(self.handle.close_stream(stream))
    }

    fn commit(&self) -> Result<WriteSessionInfo> {
        self.rt.block_on(self.handle.commit())
    }

    fn commit_listing_streams(&self) -> Result<WriteSessionInfo> {
        self.rt.block_on(self.handle.commit_listing_streams())
    }

    fn commit_streams(&self, streams: Vec<StreamRef>) -> Result<WriteSessionInfo> {
        self.rt.block_on(self.handle.commit_streams(streams))
    }

    fn abort(&self) -> Result<()> {
        self.rt.block_on(self.handle.abort())
    }

    fn status(&self) -> Result<WriteSessionInfo> {
        self.rt.block_on(self.handle.status())
    }

    fn stream_status(&self, stream: &StreamRef, exactly_once: bool) -> Result<WriteStreamInfo> {
        self.rt.block_on(
            self.handle
                .stream_status(stream, StreamKind::from_exactly_once(exactly_once)),
        )
    }

    fn upload_blob(
        &self,
        stream: &StreamRef,
        partition_values: Vec<String>,
        column: i64,
        compression: Option<Compression>,
        data: &[u8],
    ) -> Result<WriteBlobResult> {
        self.rt.block_on(async {
            let mut w = self
                .handle
                .blob_writer(stream, blob_options(partition_values, column, compression))?;
            for chunk in data.chunks(1000) {
                w.write(chunk).await?;
            }
            w.finish().await
        })
    }

    fn upload_blob_batch(
        &self,
        stream: &StreamRef,
        items: &[BlobItem],
        compression: Option<Compression>,
    ) -> Result<WriteBlobBatchResult> {
        self.rt.block_on(self.handle.write_blob_batch(
            stream,
            items,
            compression.unwrap_or(Compression::Uncompressed),
        ))
    }
}
