//! Options of reads and writes.

use maxstorage_protocol::Compression;
use maxstorage_protocol::read::ReadRowsOptions;
use maxstorage_protocol::write::{StreamKind, StreamRef, WriteRowsResult};

/// Options of one split read.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Maximum rows per record batch (service default 4096).
    pub max_batch_rows: Option<i64>,
    /// Maximum raw bytes per record batch.
    pub max_batch_raw_size: Option<i64>,
    /// Rows to skip at the start of the split or range.
    pub skip_row_num: i64,
    /// Columns to return (empty = the session's columns).
    pub data_columns: Vec<String>,
    /// Compression to ask for (`None` = the client's default).
    pub compression: Option<Compression>,
    /// How many times a broken read is resumed before failing (default 5).
    pub max_resumes: u32,
}

maxstorage_protocol::option_setters!(ReadOptions {
    with_max_batch_rows => max_batch_rows: Option<i64>,
    with_max_batch_raw_size => max_batch_raw_size: Option<i64>,
    with_skip_row_num => skip_row_num: i64,
    with_data_columns => data_columns: Vec<String>,
    with_compression => compression: Option<Compression>,
    with_max_resumes => max_resumes: u32,
});

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_batch_rows: None,
            max_batch_raw_size: None,
            skip_row_num: 0,
            data_columns: Vec::new(),
            compression: None,
            max_resumes: 5,
        }
    }
}

impl ReadOptions {
    /// The `TableRead` body these options ask for.
    pub fn to_wire(&self) -> ReadRowsOptions {
        let mut o = ReadRowsOptions::default();
        if let Some(n) = self.max_batch_rows {
            o.max_batch_rows = n;
        }
        if let Some(n) = self.max_batch_raw_size {
            o.max_batch_raw_size = n;
        }
        o.skip_row_num = self.skip_row_num;
        o.data_columns = self.data_columns.clone();
        o
    }
}

/// Options of a stream writer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamOptions {
    /// Exactly-once mode: every write carries its row offset and is re-sent safely.
    pub exactly_once: bool,
    /// Arrow IPC buffer compression of the request bodies (`None` = the client's default).
    pub compression: Option<Compression>,
    /// Largest request body (default
    /// [`DEFAULT_TARGET_BODY_BYTES`](maxstorage_codec::write::DEFAULT_TARGET_BODY_BYTES),
    /// 8 MiB).
    pub max_body_bytes: usize,
    /// Threads that compress batches at once (the client's pool; the order of rows is
    /// kept). `0`, the default, uses every core when bodies are compressed: compression
    /// is what bounds a compressed write. Uncompressed batches are always encoded by the
    /// caller (copying is cheaper than handing them over); so is everything with `1`.
    pub encoding_threads: usize,
}

maxstorage_protocol::option_setters!(StreamOptions {
    with_exactly_once => exactly_once: bool,
    with_compression => compression: Option<Compression>,
    with_max_body_bytes => max_body_bytes: usize,
    with_encoding_threads => encoding_threads: usize,
});

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            exactly_once: false,
            compression: None,
            max_body_bytes: maxstorage_codec::write::DEFAULT_TARGET_BODY_BYTES,
            encoding_threads: 0,
        }
    }
}

impl StreamOptions {
    /// The kind of stream these options create.
    pub fn kind(&self) -> StreamKind {
        StreamKind::from_exactly_once(self.exactly_once)
    }
}

/// Where one exactly-once `TableWrite` goes: the row offset of its first row and the
/// stream's access token (both from the stream's state, e.g.
/// `WriteStreamInfo::exactly_once_row_offset` and `access_token`).
#[derive(Clone, PartialEq, Eq)]
pub struct WritePosition {
    /// The row offset of the write's first row within the stream.
    pub row_offset: i64,
    /// The stream's access token.
    pub access_token: String,
}

impl WritePosition {
    /// The position `row_offset` of a stream whose access token is `access_token`.
    pub fn new(row_offset: i64, access_token: impl Into<String>) -> WritePosition {
        WritePosition {
            row_offset,
            access_token: access_token.into(),
        }
    }
}

impl std::fmt::Debug for WritePosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The access token authorises writes to the stream: never printed.
        f.debug_struct("WritePosition")
            .field("row_offset", &self.row_offset)
            .finish_non_exhaustive()
    }
}

/// Options of a single-blob upload: which BLOB column the blob belongs to, the partition
/// it is written into, and the request body's compression.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlobWriteOptions {
    /// The index of the BLOB column among the table's columns.
    pub column_index: i64,
    /// The values of the partition columns (empty for a table without partitions).
    pub partition_values: Vec<String>,
    /// Compression of the upload (`None` = the client's default).
    pub compression: Option<Compression>,
}

impl BlobWriteOptions {
    /// A blob of the column at `column_index`.
    pub fn column(column_index: i64) -> BlobWriteOptions {
        BlobWriteOptions {
            column_index,
            ..BlobWriteOptions::default()
        }
    }

    /// Into the partition with these values of the partition columns.
    pub fn partition_values<I, S>(mut self, values: I) -> BlobWriteOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.partition_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Compressed with `compression`.
    pub fn compression(mut self, compression: Compression) -> BlobWriteOptions {
        self.compression = Some(compression);
        self
    }
}

/// What a finished stream wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// The stream.
    pub stream: StreamRef,
    /// Rows acknowledged by the service.
    pub rows: i64,
    /// The answer to the last `TableWrite`.
    pub last_result: Option<WriteRowsResult>,
}
