//! The async client under test: each call runs on a multi-threaded Tokio runtime owned by
//! the adapter, so the same scenarios drive both clients.

use std::sync::Arc;

use arrow_array::RecordBatch;
use futures_util::Stream;
use futures_util::TryStreamExt;
use maxstorage_async::{BlobWriter, Client, ClientBuilder, RawRowsWriter, WriteSessionHandle};
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

impl Async {
    fn client(&self) -> &Client {
        &self.client
    }

    fn session(&self, handle: WriteSessionHandle) -> AsyncSession {
        AsyncSession {
            handle,
            rt: self.rt.clone(),
        }
    }
}

impl AsyncSession {
    fn handle(&self) -> &WriteSessionHandle {
        &self.handle
    }

    fn with_handle(&self, handle: WriteSessionHandle) -> AsyncSession {
        AsyncSession {
            handle,
            rt: self.rt.clone(),
        }
    }
}

/// Runs an adapter body on the adapter's runtime.
macro_rules! run {
    ($adapter:expr, $body:block) => {
        $adapter.rt.block_on(async $body)
    };
}

/// Collects the items of a read.
async fn gather<T>(items: impl Stream<Item = Result<T>>) -> Result<Vec<T>> {
    items.try_collect().await
}

/// An upload the scenarios write bytes to.
trait Upload {
    /// Sends `bytes`.
    async fn send(&mut self, bytes: &[u8]) -> Result<()>;
}

impl Upload for RawRowsWriter {
    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.write(bytes).await
    }
}

impl Upload for BlobWriter {
    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.write(bytes).await
    }
}

/// Writes bytes to an upload.
async fn put(writer: &mut impl Upload, bytes: &[u8]) -> Result<()> {
    writer.send(bytes).await
}

crate::adapter::adapter!(Async, AsyncSession, "async"; .await);
