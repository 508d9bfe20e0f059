//! A read session as the client keeps it: the service's description plus what the client
//! needs to enumerate and decode its splits. Serializable, so splits can be handed to other
//! threads, processes or hosts.

use maxstorage_codec::read::DecoderOptions;
use maxstorage_protocol::TableId;
use maxstorage_protocol::read::{
    ReadSession, RowSelection, SessionStatus, SplitMode, TimestampUnit,
};
use serde::{Deserialize, Serialize};

/// A table read session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableReadSession {
    table: TableId,
    session: ReadSession,
    /// Rows per split of a RowOffset session (the service does not echo it).
    rows_per_split: Option<i64>,
    /// The timestamp unit the session was created with (the service does not echo it).
    timestamp_unit: TimestampUnit,
}

impl TableReadSession {
    /// A session the service described; `rows_per_split` and `timestamp_unit` are the
    /// options it was created with.
    pub fn new(
        table: TableId,
        session: ReadSession,
        rows_per_split: Option<i64>,
        timestamp_unit: TimestampUnit,
    ) -> TableReadSession {
        TableReadSession {
            table,
            session,
            rows_per_split,
            timestamp_unit,
        }
    }

    /// The table.
    pub fn table(&self) -> &TableId {
        &self.table
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.session.session_id
    }

    /// The service's description (status, counts, schema, expiration…).
    pub fn info(&self) -> &ReadSession {
        &self.session
    }

    /// The status.
    pub fn status(&self) -> &SessionStatus {
        &self.session.status
    }

    /// Total rows (exact in RowOffset mode, as reported otherwise).
    pub fn record_count(&self) -> i64 {
        self.session.record_count
    }

    /// Replaces the service's description (after a get or refresh).
    pub fn replace_info(&mut self, session: ReadSession) {
        self.session = session;
    }

    /// The splits to read: split indexes for Size, Parallelism and Bucket sessions; row
    /// ranges of `rows_per_split` rows over `RecordCount` for RowOffset sessions.
    pub fn splits(&self) -> Vec<RowSelection> {
        match self.session.split_mode {
            SplitMode::RowOffset => {
                let step = self.rows_per_split.filter(|n| *n > 0).unwrap_or(i64::MAX);
                let total = self.session.record_count.max(0);
                let mut out = Vec::new();
                let mut offset = 0;
                while offset < total {
                    let count = step.min(total - offset);
                    out.push(RowSelection::range(offset, count));
                    offset += count;
                }
                out
            }
            _ => (0..self.session.splits_count.max(0))
                .map(RowSelection::split)
                .collect(),
        }
    }

    /// The Arrow schema of the session's batches — its data columns, then its partition
    /// columns, as the split reads return them — known before the first byte is read.
    pub fn arrow_schema(&self) -> crate::Result<arrow_schema::SchemaRef> {
        let options =
            maxstorage_codec::ArrowOptions::default().with_timestamp_unit(self.timestamp_unit);
        let schema = &self.session.data_schema;
        let columns = schema
            .data_columns
            .iter()
            .chain(&schema.partition_columns)
            .map(|c| (c.name.as_str(), &c.odps_type, c.nullable));
        Ok(std::sync::Arc::new(maxstorage_codec::types::odps_schema(
            columns, &options,
        )?))
    }

    /// The schema the batches of a read with `options` carry, known before anything is
    /// read: the session's ([`arrow_schema`](Self::arrow_schema)) — or `None` when the read
    /// asks for other columns ([`ReadOptions::data_columns`](crate::ReadOptions)), whose
    /// names and order only the service's answer tells.
    pub fn batch_schema(&self, options: &crate::ReadOptions) -> Option<arrow_schema::SchemaRef> {
        if options.data_columns.is_empty() {
            self.arrow_schema().ok()
        } else {
            None
        }
    }

    /// Decoder options for this session's bodies: its timestamp unit and column types.
    pub fn decoder_options(&self) -> DecoderOptions {
        let schema = &self.session.data_schema;
        let column_types = schema
            .iter()
            .map(|(_, c)| (c.name.clone(), c.odps_type.clone()))
            .collect();
        DecoderOptions::default()
            .with_column_types(column_types)
            .with_timestamp_unit(self.timestamp_unit)
    }
}
