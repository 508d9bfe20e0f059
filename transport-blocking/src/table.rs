//! Operations on one table: read sessions and reads, preview, write sessions, blobs.

use maxstorage_client_core::operation::SessionReady;
use maxstorage_client_core::table::TableCalls;
use maxstorage_client_core::{ReadOptions, Result, TableReadSession};
use maxstorage_protocol::read::{PreviewOptions, ReadSessionOptions, RowSelection};
use maxstorage_protocol::write::{WriteMode, WriteSessionOptions};
use maxstorage_protocol::{Compression, TableId};

use crate::blob::{BlobReader, BlobStreamReader};
use crate::client::Client;
use crate::exec::Route;
use crate::read::{ParallelBatches, RawRowsReader, SplitBatches, StreamBatches};
use crate::write::WriteSessionHandle;

maxstorage_surface::table_client!(;);
