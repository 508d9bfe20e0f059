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

maxstorage_client_core::table_client!(;);

impl TableClient {
    /// Reads every split of the session with `workers` threads; batches arrive in
    /// completion order, tagged with their split's position in [`TableReadSession::splits`].
    pub fn read_all(
        &self,
        session: &TableReadSession,
        options: &ReadOptions,
        workers: usize,
    ) -> ParallelBatches {
        ParallelBatches::start(
            self.client.core.clone(),
            Arc::new(session.clone()),
            options.clone(),
            self.client.defaults.clone(),
            workers,
        )
    }
}
