//! Table reads: read sessions, split reads and preview (protocol.md B§3.4).

use http::response::Parts;
use serde::{Deserialize, Serialize};

use super::{Call, StreamingResponse, parse_json, parse_streaming, route_token};
use crate::action::Action;
use crate::compression::Compression;
use crate::config::{TableId, Target};
use crate::error::Error;
use crate::header;
use crate::json::{
    bool_lenient, i64_lenient, opt_i64_lenient, string_lenient, vec_i64_lenient, vec_lenient,
};
use crate::request::{Body, RequestContext, RequestSpec};
use crate::schema::{ReadSchema, WriteSchema};

/// How a read session divides the table into splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SplitMode {
    /// By data size: `split_number` bytes per split (the default).
    #[default]
    Size,
    /// By parallelism: `split_number` splits.
    Parallelism,
    /// By row offset: `split_number` rows per split; clients read row ranges.
    RowOffset,
    /// One split per bucket of a clustered table.
    Bucket,
}

/// The default bytes per split of [`SplitMode::Size`]: 256 MiB.
pub const DEFAULT_SPLIT_SIZE: i64 = 256 * 1024 * 1024;

/// Split options of a read session (`SplitOptions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SplitOptions {
    /// The split mode.
    #[serde(rename = "SplitMode", default)]
    pub mode: SplitMode,
    /// The unit of `split_number` as sent by the official clients (`ByteSize`).
    #[serde(rename = "SplitUnit", default = "default_split_unit")]
    pub unit: String,
    /// Bytes per split, number of splits, or rows per split, per the mode.
    #[serde(
        rename = "SplitNumber",
        default = "default_split_number",
        deserialize_with = "i64_lenient"
    )]
    pub number: i64,
    /// Whether a split may span partitions.
    #[serde(
        rename = "CrossPartition",
        default = "default_true",
        deserialize_with = "bool_lenient"
    )]
    pub cross_partition: bool,
}

crate::option_setters!(SplitOptions {
    with_mode => mode: SplitMode,
    with_unit => unit: String,
    with_number => number: i64,
    with_cross_partition => cross_partition: bool,
});

fn default_split_unit() -> String {
    "ByteSize".to_string()
}
fn default_split_number() -> i64 {
    DEFAULT_SPLIT_SIZE
}
fn default_true() -> bool {
    true
}

impl Default for SplitOptions {
    fn default() -> SplitOptions {
        SplitOptions {
            mode: SplitMode::Size,
            unit: default_split_unit(),
            number: DEFAULT_SPLIT_SIZE,
            cross_partition: true,
        }
    }
}

impl SplitOptions {
    /// Splits of about `bytes` bytes each.
    pub fn by_size(bytes: i64) -> SplitOptions {
        SplitOptions {
            mode: SplitMode::Size,
            number: bytes,
            ..SplitOptions::default()
        }
    }

    /// `splits` splits.
    pub fn by_parallelism(splits: i64) -> SplitOptions {
        SplitOptions {
            mode: SplitMode::Parallelism,
            number: splits,
            ..SplitOptions::default()
        }
    }

    /// Splits of `rows` rows each, read as row ranges.
    pub fn by_row_offset(rows: i64) -> SplitOptions {
        SplitOptions {
            mode: SplitMode::RowOffset,
            number: rows,
            ..SplitOptions::default()
        }
    }

    /// One split per bucket.
    pub fn by_bucket() -> SplitOptions {
        SplitOptions {
            mode: SplitMode::Bucket,
            ..SplitOptions::default()
        }
    }
}

/// Precision of timestamp columns in Arrow results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TimestampUnit {
    /// Seconds.
    #[serde(rename = "second")]
    Second,
    /// Milliseconds.
    #[serde(rename = "milli")]
    Milli,
    /// Microseconds.
    #[serde(rename = "micro")]
    Micro,
    /// Nanoseconds.
    #[default]
    #[serde(rename = "nano")]
    Nano,
}

impl TimestampUnit {
    /// The wire name (`second`, `milli`, `micro`, `nano`).
    pub fn wire_name(self) -> &'static str {
        match self {
            TimestampUnit::Second => "second",
            TimestampUnit::Milli => "milli",
            TimestampUnit::Micro => "micro",
            TimestampUnit::Nano => "nano",
        }
    }

    /// How many units make one second.
    pub fn per_second(self) -> i64 {
        match self {
            TimestampUnit::Second => 1,
            TimestampUnit::Milli => 1_000,
            TimestampUnit::Micro => 1_000_000,
            TimestampUnit::Nano => 1_000_000_000,
        }
    }
}

impl std::fmt::Display for TimestampUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// The error of parsing a [`TimestampUnit`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timestamp unit {0:?}: expected second, milli, micro or nano")]
pub struct UnknownTimestampUnit(pub String);

impl std::str::FromStr for TimestampUnit {
    type Err = UnknownTimestampUnit;

    /// Parses `second`/`s`, `milli`/`ms`, `micro`/`us`, `nano`/`ns` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "second" | "seconds" | "s" => Ok(TimestampUnit::Second),
            "milli" | "millis" | "ms" => Ok(TimestampUnit::Milli),
            "micro" | "micros" | "us" => Ok(TimestampUnit::Micro),
            "nano" | "nanos" | "ns" => Ok(TimestampUnit::Nano),
            _ => Err(UnknownTimestampUnit(s.to_string())),
        }
    }
}

/// Arrow format options of a read session (`ArrowOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArrowOptions {
    /// Unit of `timestamp` / `timestamp_ntz` columns (default nano).
    #[serde(rename = "TimestampUnit", default)]
    pub timestamp_unit: TimestampUnit,
    /// Unit of `datetime` columns (default milli).
    #[serde(rename = "DatetimeUnit", default = "default_datetime_unit")]
    pub datetime_unit: TimestampUnit,
}

crate::option_setters!(ArrowOptions {
    with_timestamp_unit => timestamp_unit: TimestampUnit,
    with_datetime_unit => datetime_unit: TimestampUnit,
});

fn default_datetime_unit() -> TimestampUnit {
    TimestampUnit::Milli
}

impl Default for ArrowOptions {
    fn default() -> ArrowOptions {
        ArrowOptions {
            timestamp_unit: TimestampUnit::Nano,
            datetime_unit: TimestampUnit::Milli,
        }
    }
}

/// Options of an incremental read (`IncrementalReadOptions`); unset fields are not sent.
///
/// The user guide SDK sends `StartVersion`/`EndVersion` or `StartTimeStamp`/`EndTimeStamp`
/// (and `Mode`); `odps.maxstorage` sends `Mode`, `From`, `To` — both shapes are modelled.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IncrementalReadOptions {
    /// Read mode, e.g. `append` or `cdc`.
    #[serde(rename = "Mode", default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Start of a time range, e.g. `2023-01-01 00:00:00`.
    #[serde(
        rename = "StartTimeStamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub start_timestamp: Option<String>,
    /// End of a time range.
    #[serde(
        rename = "EndTimeStamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub end_timestamp: Option<String>,
    /// First commit version to read.
    #[serde(
        rename = "StartVersion",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64_lenient"
    )]
    pub start_version: Option<i64>,
    /// Last commit version to read.
    #[serde(
        rename = "EndVersion",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64_lenient"
    )]
    pub end_version: Option<i64>,
    /// Start of the range in the `odps.maxstorage` shape (version or time).
    #[serde(rename = "From", default, skip_serializing_if = "Option::is_none")]
    pub from: Option<serde_json::Value>,
    /// End of the range in the `odps.maxstorage` shape.
    #[serde(rename = "To", default, skip_serializing_if = "Option::is_none")]
    pub to: Option<serde_json::Value>,
}

crate::option_setters!(IncrementalReadOptions {
    with_mode => mode: Option<String>,
    with_start_timestamp => start_timestamp: Option<String>,
    with_end_timestamp => end_timestamp: Option<String>,
    with_start_version => start_version: Option<i64>,
    with_end_version => end_version: Option<i64>,
    with_from => from: Option<serde_json::Value>,
    with_to => to: Option<serde_json::Value>,
});

/// The body of `TableCreateReadSession`, with the official SDK's defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReadSessionOptions {
    /// Data columns to read (`[]` = all).
    #[serde(
        rename = "RequiredDataColumns",
        default,
        deserialize_with = "vec_lenient"
    )]
    pub required_data_columns: Vec<String>,
    /// Partition columns to return (`[]` = none requested explicitly).
    #[serde(
        rename = "RequiredPartitionColumns",
        default,
        deserialize_with = "vec_lenient"
    )]
    pub required_partition_columns: Vec<String>,
    /// Partitions to read, e.g. `pt=20230101` (`[]` = all).
    #[serde(
        rename = "RequiredPartitions",
        default,
        deserialize_with = "vec_lenient"
    )]
    pub required_partitions: Vec<String>,
    /// Buckets to read (clustered tables; `[]` = all).
    #[serde(
        rename = "RequiredBucketIds",
        default,
        deserialize_with = "vec_i64_lenient"
    )]
    pub required_bucket_ids: Vec<i64>,
    /// How to split.
    #[serde(rename = "SplitOptions", default)]
    pub split_options: SplitOptions,
    /// Arrow precision options.
    #[serde(rename = "ArrowOptions", default)]
    pub arrow_options: ArrowOptions,
    /// A filter such as `id > 100 AND name = 'test'` (`""` = none).
    #[serde(
        rename = "FilterPredicate",
        default,
        deserialize_with = "string_lenient"
    )]
    pub filter_predicate: String,
    /// Fall back to server-side filtering when pushdown fails.
    #[serde(
        rename = "FilterPredicateFallback",
        default,
        deserialize_with = "bool_lenient"
    )]
    pub filter_predicate_fallback: bool,
    /// Maximum files per split (0 = no limit).
    #[serde(rename = "SplitMaxFileNum", default, deserialize_with = "i64_lenient")]
    pub split_max_file_num: i64,
    /// Incremental read.
    #[serde(rename = "IncrementalRead", default, deserialize_with = "bool_lenient")]
    pub incremental_read: bool,
    /// Incremental read options (sent only when set).
    #[serde(
        rename = "IncrementalReadOptions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub incremental_read_options: Option<IncrementalReadOptions>,
}

crate::option_setters!(ReadSessionOptions {
    with_required_data_columns => required_data_columns: Vec<String>,
    with_required_partition_columns => required_partition_columns: Vec<String>,
    with_required_partitions => required_partitions: Vec<String>,
    with_required_bucket_ids => required_bucket_ids: Vec<i64>,
    with_split_options => split_options: SplitOptions,
    with_arrow_options => arrow_options: ArrowOptions,
    with_filter_predicate => filter_predicate: String,
    with_filter_predicate_fallback => filter_predicate_fallback: bool,
    with_split_max_file_num => split_max_file_num: i64,
    with_incremental_read => incremental_read: bool,
    with_incremental_read_options => incremental_read_options: Option<IncrementalReadOptions>,
});

/// The status of a session (`SessionStatus`), parsed case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum SessionStatus {
    /// Initializing: poll until `Normal`.
    Init,
    /// Ready.
    #[default]
    Normal,
    /// Failed.
    Critical,
    /// Expired: refresh or recreate.
    Expired,
    /// A write session being committed.
    Committing,
    /// A committed write session.
    Committed,
    /// An aborted write session (emulator).
    Aborted,
    /// Any other value, verbatim.
    Other(String),
}

impl SessionStatus {
    /// Parses a status case-insensitively.
    pub fn parse(s: &str) -> SessionStatus {
        match s.trim().to_ascii_uppercase().as_str() {
            "INIT" | "INITIATING" => SessionStatus::Init,
            "NORMAL" => SessionStatus::Normal,
            "CRITICAL" => SessionStatus::Critical,
            "EXPIRED" => SessionStatus::Expired,
            "COMMITTING" => SessionStatus::Committing,
            "COMMITTED" => SessionStatus::Committed,
            "ABORTED" => SessionStatus::Aborted,
            _ => SessionStatus::Other(s.to_string()),
        }
    }

    /// The wire spelling (upper case).
    pub fn as_str(&self) -> &str {
        match self {
            SessionStatus::Init => "INIT",
            SessionStatus::Normal => "NORMAL",
            SessionStatus::Critical => "CRITICAL",
            SessionStatus::Expired => "EXPIRED",
            SessionStatus::Committing => "COMMITTING",
            SessionStatus::Committed => "COMMITTED",
            SessionStatus::Aborted => "ABORTED",
            SessionStatus::Other(s) => s,
        }
    }
}

impl Serialize for SessionStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SessionStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string_lenient(d)?;
        Ok(SessionStatus::parse(&s))
    }
}

/// A data format (`{Type, Version}`); the only one in use is Arrow V5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFormat {
    /// Format name, `Arrow`.
    #[serde(rename = "Type", default, deserialize_with = "string_lenient")]
    pub kind: String,
    /// Format version, `V5`.
    #[serde(rename = "Version", default, deserialize_with = "string_lenient")]
    pub version: String,
}

impl Default for DataFormat {
    fn default() -> DataFormat {
        DataFormat {
            kind: "Arrow".into(),
            version: "V5".into(),
        }
    }
}

/// Size estimates of a read session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionStats {
    /// Estimated bytes.
    #[serde(rename = "EstimatedSize", default, deserialize_with = "i64_lenient")]
    pub estimated_size: i64,
    /// Estimated rows.
    #[serde(
        rename = "EstimatedRowCount",
        default,
        deserialize_with = "i64_lenient"
    )]
    pub estimated_row_count: i64,
}

/// A read session as the service describes it (`TableCreateReadSession` /
/// `TableGetReadSession`); serializes to the superset shape every SDK accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadSession {
    /// Session id.
    #[serde(rename = "SessionId", default, deserialize_with = "string_lenient")]
    pub session_id: String,
    /// Session type (e.g. `BatchRead`).
    #[serde(rename = "SessionType", default, deserialize_with = "string_lenient")]
    pub session_type: String,
    /// Status.
    #[serde(rename = "SessionStatus", default)]
    pub status: SessionStatus,
    /// Expiration time as an integer (the unit is the service's; the emulator uses
    /// milliseconds since the epoch, as the recorded responses do).
    #[serde(rename = "ExpirationTime", default, deserialize_with = "i64_lenient")]
    pub expiration_time: i64,
    /// Number of splits (Size, Parallelism, Bucket modes); `-1` in RowOffset mode.
    #[serde(rename = "SplitsCount", default, deserialize_with = "i64_lenient")]
    pub splits_count: i64,
    /// Bucket ids of the splits (Bucket mode).
    #[serde(
        rename = "SplitBucketId",
        default,
        deserialize_with = "vec_i64_lenient"
    )]
    pub split_bucket_ids: Vec<i64>,
    /// Total rows (RowOffset mode reads ranges of it).
    #[serde(rename = "RecordCount", default, deserialize_with = "i64_lenient")]
    pub record_count: i64,
    /// The split mode used.
    #[serde(rename = "SplitMode", default)]
    pub split_mode: SplitMode,
    /// The schema of the data returned (read-schema format).
    #[serde(rename = "DataSchema", default)]
    pub data_schema: ReadSchema,
    /// The same schema in write-schema format (read by the C++ SDK).
    #[serde(
        rename = "TableSchema",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub table_schema: Option<WriteSchema>,
    /// Supported formats.
    #[serde(
        rename = "SupportedDataFormat",
        default,
        deserialize_with = "vec_lenient"
    )]
    pub supported_data_format: Vec<DataFormat>,
    /// Size estimates.
    #[serde(rename = "SessionStats", default)]
    pub stats: SessionStats,
    /// Latest commit version (incremental reads).
    #[serde(rename = "LatestVersion", default, deserialize_with = "i64_lenient")]
    pub latest_version: i64,
    /// A message from the service.
    #[serde(rename = "Message", default, deserialize_with = "string_lenient")]
    pub message: String,
    /// Whether string/binary columns use 64-bit offsets.
    #[serde(
        rename = "EnableLargeString",
        default,
        deserialize_with = "bool_lenient"
    )]
    pub enable_large_string: bool,
    /// Echo of the incremental options.
    #[serde(
        rename = "IncrementalReadOptions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub incremental_read_options: Option<IncrementalReadOptions>,
    /// The route token of the response (a header, not part of the JSON).
    #[serde(skip)]
    pub route_token: Option<String>,
}

/// `TableCreateReadSession`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateReadSession {
    /// The table.
    pub table: TableId,
    /// The session options.
    pub options: ReadSessionOptions,
}

impl Call for CreateReadSession {
    type Output = ReadSession;

    fn action(&self) -> Action {
        Action::TableCreateReadSession
    }

    /// Creating another read session changes no data; a retry at worst leaves an unused
    /// session to expire.
    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        RequestSpec::json(
            self.action(),
            Target::Table(self.table.clone()),
            &self.options,
        )
        .build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<ReadSession, Error> {
        parse_read_session(self.action(), parts, body)
    }
}

fn parse_read_session(action: Action, parts: &Parts, body: &[u8]) -> Result<ReadSession, Error> {
    let mut session: ReadSession = parse_json(action, parts, body)?;
    session.route_token = route_token(parts);
    Ok(session)
}

/// `TableGetReadSession`, optionally refreshing (extending) the session.
#[derive(Debug, Clone, PartialEq)]
pub struct GetReadSession {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// Extend the session's lifetime (`session_refresh=true`).
    pub refresh: bool,
}

impl Call for GetReadSession {
    type Output = ReadSession;

    fn action(&self) -> Action {
        Action::TableGetReadSession
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let spec = RequestSpec::session_call(self.action(), &self.table, &self.session_id);
        // As the user guide SDK: the flag is sent only when refreshing.
        let spec = if self.refresh {
            spec.param("session_refresh", "true")
        } else {
            spec
        };
        spec.build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<ReadSession, Error> {
        parse_read_session(self.action(), parts, body)
    }
}

/// The body of `TableRead` with the official SDK's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReadRowsOptions {
    /// Maximum rows per record batch (default 4096).
    #[serde(
        rename = "MaxBatchRows",
        default = "default_max_batch_rows",
        deserialize_with = "i64_lenient"
    )]
    pub max_batch_rows: i64,
    /// Rows to skip at the start of the split or range.
    #[serde(rename = "SkipRowNum", default, deserialize_with = "i64_lenient")]
    pub skip_row_num: i64,
    /// Maximum raw bytes per record batch (0 = unlimited).
    #[serde(rename = "MaxBatchRawSize", default, deserialize_with = "i64_lenient")]
    pub max_batch_raw_size: i64,
    /// The data format (Arrow V5).
    #[serde(rename = "DataFormat", default)]
    pub data_format: DataFormat,
    /// Columns to return (`[]` = the session's columns).
    #[serde(rename = "DataColumns", default, deserialize_with = "vec_lenient")]
    pub data_columns: Vec<String>,
    /// Whether the columns may come in any order.
    #[serde(
        rename = "DataColumnsUnordered",
        default,
        deserialize_with = "bool_lenient"
    )]
    pub data_columns_unordered: bool,
}

crate::option_setters!(ReadRowsOptions {
    with_max_batch_rows => max_batch_rows: i64,
    with_skip_row_num => skip_row_num: i64,
    with_max_batch_raw_size => max_batch_raw_size: i64,
    with_data_format => data_format: DataFormat,
    with_data_columns => data_columns: Vec<String>,
    with_data_columns_unordered => data_columns_unordered: bool,
});

fn default_max_batch_rows() -> i64 {
    4096
}

impl Default for ReadRowsOptions {
    fn default() -> ReadRowsOptions {
        ReadRowsOptions {
            max_batch_rows: 4096,
            skip_row_num: 0,
            max_batch_raw_size: 0,
            data_format: DataFormat::default(),
            data_columns: Vec::new(),
            data_columns_unordered: false,
        }
    }
}

/// Which rows of a session a `TableRead` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowSelection {
    /// The split index (`Index`), for Size, Parallelism and Bucket splits.
    pub split_index: Option<i64>,
    /// A row range (`Offset`, `Count`): for RowOffset splits, or within a split.
    pub row_range: Option<RowRange>,
}

/// A range of rows: `count` rows starting at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowRange {
    /// The first row.
    pub offset: i64,
    /// The number of rows.
    pub count: i64,
}

impl RowSelection {
    /// A whole split.
    pub fn split(index: i64) -> RowSelection {
        RowSelection {
            split_index: Some(index),
            row_range: None,
        }
    }

    /// A row range of a RowOffset session.
    pub fn range(offset: i64, count: i64) -> RowSelection {
        RowSelection {
            split_index: None,
            row_range: Some(RowRange { offset, count }),
        }
    }

    /// A row range within a split.
    pub fn split_range(index: i64, offset: i64, count: i64) -> RowSelection {
        RowSelection {
            split_index: Some(index),
            row_range: Some(RowRange { offset, count }),
        }
    }
}

/// `TableRead`: the rows of a split or range as an Arrow IPC stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRows {
    /// The table.
    pub table: TableId,
    /// The read session id.
    pub session_id: String,
    /// Which rows.
    pub selection: RowSelection,
    /// Batch sizing and columns.
    pub options: ReadRowsOptions,
    /// Compression to ask for (`ACCEPT-ENCODING`).
    pub compression: Compression,
}

impl Call for ReadRows {
    type Output = StreamingResponse;

    fn action(&self) -> Action {
        Action::TableRead
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let mut spec = RequestSpec::json(
            self.action(),
            Target::Table(self.table.clone()),
            &self.options,
        )
        .param("SessionId", &self.session_id)
        .param_opt("Index", self.selection.split_index)
        .route_token();
        if let Some(range) = self.selection.row_range {
            spec = spec.param("Offset", range.offset);
            // As the user guide SDK: a non-positive count means "to the end" and is not sent.
            if range.count > 0 {
                spec = spec.param("Count", range.count);
            }
        }
        accept_encoding(spec, self.compression).build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<StreamingResponse, Error> {
        parse_streaming(self.action(), parts, body)
    }
}

pub(crate) fn accept_encoding(spec: RequestSpec, compression: Compression) -> RequestSpec {
    match compression.http_token() {
        Some(token) => spec.header(header::ACCEPT_ENCODING, token),
        None => spec,
    }
}

/// The body of `TablePreview`; unset fields are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PreviewOptions {
    /// Maximum rows (the service may return fewer).
    #[serde(
        rename = "Limit",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64_lenient"
    )]
    pub limit: Option<i64>,
    /// A partition spec such as `pt=20230101`.
    #[serde(rename = "Partition", default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Columns to return.
    #[serde(rename = "Columns", default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
}

crate::option_setters!(PreviewOptions {
    with_limit => limit: Option<i64>,
    with_partition => partition: Option<String>,
    with_columns => columns: Option<Vec<String>>,
});

/// `TablePreview`: the first rows of a table without a session.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewTable {
    /// The table.
    pub table: TableId,
    /// Limit, partition, columns.
    pub options: PreviewOptions,
    /// Compression to ask for (`ACCEPT-ENCODING`).
    pub compression: Compression,
}

impl Call for PreviewTable {
    type Output = StreamingResponse;

    fn action(&self) -> Action {
        Action::TablePreview
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let spec = RequestSpec::json(
            self.action(),
            Target::Table(self.table.clone()),
            &self.options,
        )
        .param_opt("Limit", self.options.limit)
        .param_opt("Partition", self.options.partition.as_ref());
        accept_encoding(spec, self.compression).build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<StreamingResponse, Error> {
        parse_streaming(self.action(), parts, body)
    }
}
