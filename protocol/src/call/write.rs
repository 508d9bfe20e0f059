//! Table writes: write sessions, streams, rows, commit and abort (protocol.md B§3.5, §5, §7).

use std::collections::BTreeMap;

use http::response::Parts;
use serde::{Deserialize, Serialize};

use super::{Call, invalid_argument, parse_json, route_token};
use crate::action::Action;
use crate::compression::Compression;
use crate::config::{ApiVersion, TableId, Target};
use crate::error::Error;
use crate::header;
use crate::json::{bool_lenient, i64_lenient, opt_i64_lenient, opt_string_lenient, string_lenient};
use crate::read::{ArrowOptions, SessionStatus};
use crate::request::{Body, RequestContext, RequestSpec};
use crate::schema::{ReadSchema, WriteSchema};

/// The session id of the implicit streaming session (protocol.md B§7.3).
pub const DEFAULT_SESSION_ID: &str = "default";

/// How written data becomes visible (`WriteMode`, protocol.md B§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum WriteMode {
    /// Visible after the session commits (the default).
    #[default]
    Batch,
    /// Block/attempt protocol of the newest Java SDK: blocks are uploaded and committed by
    /// their commit messages.
    BatchCompatible,
    /// Visible after each write; no commit.
    Streaming,
    /// Like `Streaming`, on the service's low-latency pipeline.
    StreamingRealtime,
}

impl WriteMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMode::Batch => "Batch",
            WriteMode::BatchCompatible => "BatchCompatible",
            WriteMode::Streaming => "Streaming",
            WriteMode::StreamingRealtime => "StreamingRealtime",
        }
    }

    /// Parses a wire name (case-insensitive).
    pub fn parse(s: &str) -> Option<WriteMode> {
        [
            WriteMode::Batch,
            WriteMode::BatchCompatible,
            WriteMode::Streaming,
            WriteMode::StreamingRealtime,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether data becomes visible without a commit.
    pub fn is_streaming(self) -> bool {
        matches!(self, WriteMode::Streaming | WriteMode::StreamingRealtime)
    }
}

/// Whether a write-side request carries `WriteMode`: always on API v3; on v2 only the
/// BatchCompatible session, block and commit calls (as the newest Java SDK sends them).
fn with_write_mode(
    spec: RequestSpec,
    version: ApiVersion,
    mode: WriteMode,
    bc_action: bool,
) -> RequestSpec {
    if version.sends_write_mode() || (mode == WriteMode::BatchCompatible && bc_action) {
        spec.param("WriteMode", mode.as_str())
    } else {
        spec
    }
}

/// A stream and its version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamRef {
    /// Stream id (a string on the wire, e.g. `"0"`).
    pub stream_id: String,
    /// Stream version.
    pub version: i64,
}

impl StreamRef {
    /// A stream reference.
    pub fn new(stream_id: impl Into<String>, version: i64) -> StreamRef {
        StreamRef {
            stream_id: stream_id.into(),
            version,
        }
    }
}

/// A stream as listed by `TableGetWriteSession`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Stream id and version.
    pub stream: StreamRef,
    /// Status, when the service lists streams as objects.
    pub status: Option<String>,
    /// Rows written, when the service lists streams as objects.
    pub record_count: Option<i64>,
}

/// A write session (create, get and commit responses share this shape; BatchCompatible
/// sessions add a schema and block limits). Serializes to the superset shape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteSessionInfo {
    /// Session id.
    pub session_id: String,
    /// Status, when the service sends one.
    pub status: Option<SessionStatus>,
    /// A warning to log.
    pub warning_message: String,
    /// The session's streams and versions (`Streams`, a map or a list on the wire).
    pub streams: Vec<StreamInfo>,
    /// The smallest staging id not yet visible (streaming sessions, v3).
    pub min_uncommitted_staging_id: Option<String>,
    /// The session schema (BatchCompatible).
    pub data_schema: Option<ReadSchema>,
    /// Exclusive upper bound of block numbers (BatchCompatible).
    pub max_block_number: Option<i64>,
    /// Whether block commit messages carry checkable statistics (BatchCompatible).
    pub enhance_write_check: bool,
    /// A message from the service (BatchCompatible).
    pub message: String,
    /// The route token of the response.
    pub route_token: Option<String>,
}

#[derive(Deserialize)]
struct RawWriteSession {
    #[serde(rename = "SessionId", default, deserialize_with = "string_lenient")]
    session_id: String,
    #[serde(rename = "SessionStatus", default)]
    status: Option<SessionStatus>,
    #[serde(
        rename = "WarningMessage",
        default,
        deserialize_with = "string_lenient"
    )]
    warning_message: String,
    #[serde(rename = "Streams", default)]
    streams: Option<serde_json::Value>,
    #[serde(
        rename = "MinUncommittedStagingId",
        default,
        deserialize_with = "opt_string_lenient"
    )]
    min_uncommitted_staging_id: Option<String>,
    #[serde(rename = "DataSchema", default)]
    data_schema: Option<ReadSchema>,
    #[serde(
        rename = "MaxBlockNumber",
        default,
        deserialize_with = "opt_i64_lenient"
    )]
    max_block_number: Option<i64>,
    #[serde(
        rename = "EnhanceWriteCheck",
        default,
        deserialize_with = "bool_lenient"
    )]
    enhance_write_check: bool,
    #[serde(rename = "Message", default, deserialize_with = "string_lenient")]
    message: String,
}

#[derive(Deserialize)]
struct RawStreamEntry {
    #[serde(rename = "StreamId", default, deserialize_with = "string_lenient")]
    stream_id: String,
    #[serde(rename = "StreamVersion", default, deserialize_with = "i64_lenient")]
    version: i64,
    #[serde(rename = "Status", default, deserialize_with = "opt_string_lenient")]
    status: Option<String>,
    #[serde(rename = "RecordCount", default, deserialize_with = "opt_i64_lenient")]
    record_count: Option<i64>,
}

fn parse_streams(v: Option<serde_json::Value>) -> Result<Vec<StreamInfo>, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(id, version)| {
                let version = match &version {
                    serde_json::Value::Number(n) => n.as_i64(),
                    serde_json::Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| {
                    format!("stream {id:?} has version {version}, expected an integer")
                })?;
                Ok(StreamInfo {
                    stream: StreamRef::new(id, version),
                    status: None,
                    record_count: None,
                })
            })
            .collect(),
        Some(v @ serde_json::Value::Array(_)) => {
            let entries: Vec<RawStreamEntry> =
                serde_json::from_value(v).map_err(|e| e.to_string())?;
            Ok(entries
                .into_iter()
                .map(|e| StreamInfo {
                    stream: StreamRef::new(e.stream_id, e.version),
                    status: e.status,
                    record_count: e.record_count,
                })
                .collect())
        }
        Some(other) => Err(format!("expected a map or a list, got {other}")),
    }
}

impl<'de> Deserialize<'de> for WriteSessionInfo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawWriteSession::deserialize(d)?;
        let streams = parse_streams(raw.streams)
            .map_err(|e| serde::de::Error::custom(format!("Streams: {e}")))?;
        Ok(WriteSessionInfo {
            session_id: raw.session_id,
            status: raw.status,
            warning_message: raw.warning_message,
            streams,
            min_uncommitted_staging_id: raw.min_uncommitted_staging_id,
            data_schema: raw.data_schema,
            max_block_number: raw.max_block_number,
            enhance_write_check: raw.enhance_write_check,
            message: raw.message,
            route_token: None,
        })
    }
}

impl Serialize for WriteSessionInfo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("SessionId", &self.session_id)?;
        if let Some(status) = &self.status {
            m.serialize_entry("SessionStatus", status)?;
        }
        m.serialize_entry("WarningMessage", &self.warning_message)?;
        let streams: BTreeMap<&str, i64> = self
            .streams
            .iter()
            .map(|s| (s.stream.stream_id.as_str(), s.stream.version))
            .collect();
        m.serialize_entry("Streams", &streams)?;
        if let Some(id) = &self.min_uncommitted_staging_id {
            m.serialize_entry("MinUncommittedStagingId", id)?;
        }
        if let Some(schema) = &self.data_schema {
            m.serialize_entry("DataSchema", schema)?;
        }
        if let Some(n) = self.max_block_number {
            m.serialize_entry("MaxBlockNumber", &n)?;
            m.serialize_entry("EnhanceWriteCheck", &self.enhance_write_check)?;
            m.serialize_entry("Message", &self.message)?;
        }
        m.end()
    }
}

fn parse_session(action: Action, parts: &Parts, body: &[u8]) -> Result<WriteSessionInfo, Error> {
    let mut info: WriteSessionInfo = parse_json(action, parts, body)?;
    info.route_token = route_token(parts);
    Ok(info)
}

/// What a new write session writes to and how.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct WriteSessionOptions {
    /// A static partition such as `pt=20230101` (`,` or `/` between keys); empty for none
    /// or for dynamic partitions.
    pub partition_spec: String,
    /// Replace the partition's (or table's) data on commit.
    pub overwrite: bool,
    /// Further `Flags` entries, sent as given.
    pub extra_flags: BTreeMap<String, serde_json::Value>,
    /// The write mode.
    pub mode: WriteMode,
    /// Arrow options of a BatchCompatible session.
    pub arrow_options: ArrowOptions,
    /// Ask for block commit messages with statistics (BatchCompatible).
    pub enhance_write_check: bool,
    /// Maximum field size in bytes (BatchCompatible; 0 = the service default).
    pub max_field_size: i64,
}

crate::option_setters!(WriteSessionOptions {
    with_partition_spec => partition_spec: String,
    with_overwrite => overwrite: bool,
    with_extra_flags => extra_flags: BTreeMap<String, serde_json::Value>,
    with_mode => mode: WriteMode,
    with_arrow_options => arrow_options: ArrowOptions,
    with_enhance_write_check => enhance_write_check: bool,
    with_max_field_size => max_field_size: i64,
});

#[derive(Serialize)]
struct CreateWriteSessionBody<'a> {
    #[serde(rename = "PartialPartitionSpec")]
    partial_partition_spec: &'a str,
    #[serde(rename = "Flags")]
    flags: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize)]
struct BatchCompatibleSessionBody<'a> {
    #[serde(rename = "PartitionSpec")]
    partition_spec: &'a str,
    #[serde(rename = "Overwrite")]
    overwrite: bool,
    #[serde(rename = "DynamicPartitionOptions")]
    dynamic_partition_options: serde_json::Value,
    #[serde(rename = "ArrowOptions")]
    arrow_options: ArrowOptions,
    #[serde(rename = "SupportWriteCluster")]
    support_write_cluster: bool,
    #[serde(rename = "MaxFieldSize")]
    max_field_size: i64,
    #[serde(rename = "EnhanceWriteCheck")]
    enhance_write_check: bool,
    #[serde(rename = "SupportSaveToPangu")]
    support_save_to_pangu: bool,
}

/// `TableCreateWriteSession`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateWriteSession {
    /// The table.
    pub table: TableId,
    /// Partition, overwrite, mode.
    pub options: WriteSessionOptions,
}

impl Call for CreateWriteSession {
    type Output = WriteSessionInfo;

    fn action(&self) -> Action {
        Action::TableCreateWriteSession
    }

    /// A retry at worst leaves an empty session that is never committed.
    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let o = &self.options;
        let target = Target::Table(self.table.clone());
        let version = ctx.config.endpoint.api_version();
        let spec = if o.mode == WriteMode::BatchCompatible {
            let body = BatchCompatibleSessionBody {
                partition_spec: &o.partition_spec,
                overwrite: o.overwrite,
                dynamic_partition_options: serde_json::json!({"InvalidStrategy": "Exception", "InvalidLimit": -1, "DynamicPartitionLimit": -1}),
                arrow_options: o.arrow_options,
                support_write_cluster: false,
                max_field_size: o.max_field_size,
                enhance_write_check: o.enhance_write_check,
                support_save_to_pangu: false,
            };
            with_write_mode(
                RequestSpec::json(self.action(), target, &body),
                version,
                o.mode,
                true,
            )
            .param("enableQuotaToken", "true")
        } else {
            let mut flags = o.extra_flags.clone();
            if o.overwrite {
                flags.insert("overwrite".into(), serde_json::Value::Bool(true));
            }
            let body = CreateWriteSessionBody {
                partial_partition_spec: &o.partition_spec,
                flags,
            };
            with_write_mode(
                RequestSpec::json(self.action(), target, &body),
                version,
                o.mode,
                true,
            )
        };
        spec.build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteSessionInfo, Error> {
        parse_session(self.action(), parts, body)
    }
}

/// `TableGetWriteSession`: the session's streams and visibility.
#[derive(Debug, Clone, PartialEq)]
pub struct GetWriteSession {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// The session's write mode (sent on v3).
    pub mode: WriteMode,
}

impl Call for GetWriteSession {
    type Output = WriteSessionInfo;

    fn action(&self) -> Action {
        Action::TableGetWriteSession
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let version = ctx.config.endpoint.api_version();
        let spec = RequestSpec::session_call(self.action(), &self.table, &self.session_id);
        let spec = with_write_mode(spec, version, self.mode, false);
        // As the user guide SDK: the route token goes on this call only on v3.
        let spec = if version == ApiVersion::V3 {
            spec.route_token()
        } else {
            spec
        };
        spec.build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteSessionInfo, Error> {
        parse_session(self.action(), parts, body)
    }
}

/// What a commit commits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CommitScope {
    /// Every closed stream of the session (body `{}`).
    #[default]
    AllClosedStreams,
    /// Exactly these streams at these versions (`StreamIds` + `StreamVersions`; needed by
    /// transactional/delta tables).
    Streams(Vec<StreamRef>),
    /// The blocks of a BatchCompatible session, by their commit messages.
    Blocks(Vec<String>),
}

/// `TableCommitWriteSession`.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitWriteSession {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// The session's write mode.
    pub mode: WriteMode,
    /// What to commit.
    pub scope: CommitScope,
}

impl Call for CommitWriteSession {
    type Output = WriteSessionInfo;

    fn action(&self) -> Action {
        Action::TableCommitWriteSession
    }

    /// Committing a committed session again succeeds without effect.
    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let body = match &self.scope {
            CommitScope::AllClosedStreams => serde_json::json!({}),
            CommitScope::Streams(streams) => serde_json::json!({
                "StreamIds": streams.iter().map(|s| s.stream_id.as_str()).collect::<Vec<_>>(),
                "StreamVersions": streams.iter().map(|s| s.version).collect::<Vec<_>>(),
            }),
            CommitScope::Blocks(messages) => serde_json::json!({ "CommitMessages": messages }),
        };
        let spec = RequestSpec::json(self.action(), Target::Table(self.table.clone()), &body);
        // Query order of the official clients: BatchCompatible sends WriteMode first.
        let version = ctx.config.endpoint.api_version();
        let spec = if self.mode == WriteMode::BatchCompatible {
            with_write_mode(spec, version, self.mode, true).param("SessionId", &self.session_id)
        } else {
            with_write_mode(
                spec.param("SessionId", &self.session_id),
                version,
                self.mode,
                true,
            )
        };
        spec.route_token().build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteSessionInfo, Error> {
        parse_session(self.action(), parts, body)
    }
}

/// `TableAbortWriteSession`: discard everything written in the session.
#[derive(Debug, Clone, PartialEq)]
pub struct AbortWriteSession {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// The session's write mode (sent on v3).
    pub mode: WriteMode,
}

impl Call for AbortWriteSession {
    type Output = ();

    fn action(&self) -> Action {
        Action::TableAbortWriteSession
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let spec = RequestSpec::session_call(self.action(), &self.table, &self.session_id);
        with_write_mode(spec, ctx.config.endpoint.api_version(), self.mode, false)
            .route_token()
            .build(ctx)
    }

    /// The response body is ignored (as by every official client).
    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<(), Error> {
        super::check_status(self.action(), parts, body)
    }
}

/// The state of a write stream (`TableCreateWriteStream` / `TableGetWriteStream`);
/// serializes to the superset shape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteStreamInfo {
    /// A warning to log.
    pub warning_message: String,
    /// The columns a `TableWrite` body must have.
    pub table_schema: WriteSchema,
    /// The table's id, echoed on every `TableWrite` when present.
    pub table_id: Option<String>,
    /// The schema version, echoed on every `TableWrite` when present.
    pub schema_version: Option<i64>,
    /// The newest schema version of the table.
    pub latest_schema_version: Option<i64>,
    /// Exactly-once access token.
    pub access_token: Option<String>,
    /// BatchCompatible block reservation.
    pub quota_token: Option<String>,
    /// Whether the table is a transactional (delta) table.
    pub is_delta_table: bool,
    /// The next exactly-once row offset (`TableGetWriteStream`).
    pub row_offset: Option<i64>,
    /// The stream status (`status`: an integer, or a name in older services).
    pub status: Option<serde_json::Value>,
    /// The stream state by name (`Status`: `OPEN`, `CLOSED`, `ERROR`), as the user-guide
    /// SDK (`odps.apis.storage_api_v2`) reads it.
    pub status_name: Option<String>,
    /// Rows written (`recordCount`, also answered as `RecordCount`).
    pub record_count: Option<i64>,
    /// Bytes written (`ByteSize`).
    pub byte_size: Option<i64>,
    /// The Arrow codecs the service accepts for `TableWrite` (response header
    /// `Accept-Encoding`), in its order of preference.
    pub accepted_compressions: Vec<Compression>,
    /// The route token of the response.
    pub route_token: Option<String>,
}

#[derive(Deserialize)]
struct RawWriteStream {
    #[serde(
        rename = "WarningMessage",
        default,
        deserialize_with = "string_lenient"
    )]
    warning_message: String,
    #[serde(rename = "TableSchema", default)]
    table_schema: WriteSchema,
    #[serde(rename = "TableId", default, deserialize_with = "opt_string_lenient")]
    table_id: Option<String>,
    #[serde(
        rename = "SchemaVersion",
        default,
        deserialize_with = "opt_i64_lenient"
    )]
    schema_version: Option<i64>,
    #[serde(
        rename = "LatestSchemaVersion",
        default,
        deserialize_with = "opt_i64_lenient"
    )]
    latest_schema_version: Option<i64>,
    #[serde(
        rename = "AccessToken",
        default,
        deserialize_with = "opt_string_lenient"
    )]
    access_token: Option<String>,
    #[serde(
        rename = "QuotaToken",
        default,
        deserialize_with = "opt_string_lenient"
    )]
    quota_token: Option<String>,
    #[serde(rename = "IsDeltaTable", default, deserialize_with = "bool_lenient")]
    is_delta_table: bool,
    #[serde(rename = "RowOffset", default, deserialize_with = "opt_i64_lenient")]
    row_offset: Option<i64>,
    #[serde(rename = "status", default)]
    status_lower: Option<serde_json::Value>,
    #[serde(rename = "Status", default)]
    status_upper: Option<serde_json::Value>,
    #[serde(rename = "recordCount", default, deserialize_with = "opt_i64_lenient")]
    record_count_lower: Option<i64>,
    #[serde(rename = "RecordCount", default, deserialize_with = "opt_i64_lenient")]
    record_count_upper: Option<i64>,
    #[serde(rename = "ByteSize", default, deserialize_with = "opt_i64_lenient")]
    byte_size: Option<i64>,
}

impl<'de> Deserialize<'de> for WriteStreamInfo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawWriteStream::deserialize(d)?;
        Ok(WriteStreamInfo {
            warning_message: r.warning_message,
            table_schema: r.table_schema,
            table_id: r.table_id,
            schema_version: r.schema_version,
            latest_schema_version: r.latest_schema_version,
            access_token: r.access_token,
            quota_token: r.quota_token,
            is_delta_table: r.is_delta_table,
            row_offset: r.row_offset,
            status_name: r
                .status_upper
                .as_ref()
                .and_then(|v| v.as_str())
                .map(str::to_string),
            status: r.status_lower.or(r.status_upper).filter(|v| !v.is_null()),
            record_count: r.record_count_lower.or(r.record_count_upper),
            byte_size: r.byte_size,
            accepted_compressions: Vec::new(),
            route_token: None,
        })
    }
}

impl Serialize for WriteStreamInfo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("WarningMessage", &self.warning_message)?;
        m.serialize_entry("TableSchema", &self.table_schema)?;
        if let Some(v) = &self.table_id {
            m.serialize_entry("TableId", v)?;
        }
        if let Some(v) = self.schema_version {
            m.serialize_entry("SchemaVersion", &v)?;
        }
        if let Some(v) = self.latest_schema_version {
            m.serialize_entry("LatestSchemaVersion", &v)?;
        }
        if let Some(v) = &self.access_token {
            m.serialize_entry("AccessToken", v)?;
        }
        if let Some(v) = &self.quota_token {
            m.serialize_entry("QuotaToken", v)?;
        }
        m.serialize_entry("IsDeltaTable", &self.is_delta_table)?;
        if let Some(v) = self.row_offset {
            m.serialize_entry("RowOffset", &v)?;
        }
        // Both spellings: Java and odps.maxstorage read `status`/`recordCount`, the
        // user-guide SDK `Status`/`RecordCount`/`ByteSize` (JSON keys are case-sensitive).
        m.serialize_entry(
            "status",
            self.status.as_ref().unwrap_or(&serde_json::Value::from(0)),
        )?;
        m.serialize_entry("Status", self.status_name.as_deref().unwrap_or("OPEN"))?;
        let records = self.record_count.unwrap_or(0);
        m.serialize_entry("recordCount", &records)?;
        m.serialize_entry("RecordCount", &records)?;
        m.serialize_entry("ByteSize", &self.byte_size.unwrap_or(0))?;
        m.end()
    }
}

fn parse_stream(action: Action, parts: &Parts, body: &[u8]) -> Result<WriteStreamInfo, Error> {
    let mut info: WriteStreamInfo = parse_json(action, parts, body)?;
    info.route_token = route_token(parts);
    info.accepted_compressions = header::get_str(&parts.headers, header::ACCEPT_ENCODING)
        .map(|v| {
            v.split(',')
                .filter_map(Compression::from_http_token)
                .filter(|c| *c != Compression::Uncompressed)
                .collect()
        })
        .unwrap_or_default();
    Ok(info)
}

/// Which kind of stream to create or look up.
///
/// A plain stream appends whatever each `TableWrite` carries; an exactly-once stream
/// gives every write a row offset and an access token, so a write whose answer was lost
/// can be re-sent (or looked up) without writing its rows twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StreamKind {
    /// Writes append; a write with an unknown outcome cannot be safely re-sent.
    #[default]
    Plain,
    /// Writes carry row offsets; re-sending a write is safe.
    ExactlyOnce,
}

impl StreamKind {
    /// The kind for an `exactly_once` flag.
    pub fn from_exactly_once(exactly_once: bool) -> StreamKind {
        if exactly_once {
            StreamKind::ExactlyOnce
        } else {
            StreamKind::Plain
        }
    }

    /// Whether this is [`StreamKind::ExactlyOnce`].
    pub fn is_exactly_once(self) -> bool {
        self == StreamKind::ExactlyOnce
    }
}

/// `TableCreateWriteStream`: open a stream (or replace it with a higher version).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateWriteStream {
    /// The table.
    pub table: TableId,
    /// The session id (`default` for implicit streaming sessions).
    pub session_id: String,
    /// The session's write mode (sent on v3).
    pub mode: WriteMode,
    /// The stream.
    pub stream: StreamRef,
    /// Ask for exactly-once semantics (an access token and row offsets).
    pub exactly_once: bool,
}

#[derive(Serialize)]
struct StreamBody<'a> {
    #[serde(rename = "StreamId")]
    stream_id: &'a str,
    #[serde(rename = "StreamVersion")]
    stream_version: i64,
    #[serde(rename = "TableId", skip_serializing_if = "Option::is_none")]
    table_id: Option<&'a str>,
    #[serde(rename = "ExactlyOnceMode", skip_serializing_if = "std::ops::Not::not")]
    exactly_once: bool,
}

impl Call for CreateWriteStream {
    type Output = WriteStreamInfo;

    fn action(&self) -> Action {
        Action::TableCreateWriteStream
    }

    /// Creating the same id and version again yields the same stream.
    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let body = StreamBody {
            stream_id: &self.stream.stream_id,
            stream_version: self.stream.version,
            table_id: None,
            exactly_once: self.exactly_once,
        };
        let spec = RequestSpec::json(self.action(), Target::Table(self.table.clone()), &body)
            .param("SessionId", &self.session_id);
        with_write_mode(spec, ctx.config.endpoint.api_version(), self.mode, false)
            .route_token()
            .build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteStreamInfo, Error> {
        parse_stream(self.action(), parts, body)
    }
}

/// `TableGetWriteStream`: the stream's state, in exactly-once mode its next row offset.
///
/// Sent as a POST with a JSON body (as the Java, C++ and `odps.maxstorage` clients do;
/// protocol.md A1), not as the user guide SDK's bodiless GET.
#[derive(Debug, Clone, PartialEq)]
pub struct GetWriteStream {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// The session's write mode (sent on v3).
    pub mode: WriteMode,
    /// The stream.
    pub stream: StreamRef,
    /// The table id from the create-stream response, if known.
    pub table_id: Option<String>,
    /// Ask for the exactly-once state (row offset, access token).
    pub exactly_once: bool,
}

impl Call for GetWriteStream {
    type Output = WriteStreamInfo;

    fn action(&self) -> Action {
        Action::TableGetWriteStream
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let body = StreamBody {
            stream_id: &self.stream.stream_id,
            stream_version: self.stream.version,
            table_id: self.table_id.as_deref(),
            exactly_once: self.exactly_once,
        };
        let spec = RequestSpec::json(self.action(), Target::Table(self.table.clone()), &body)
            .param("SessionId", &self.session_id)
            .param("StreamId", &self.stream.stream_id)
            .param("StreamVersion", self.stream.version);
        let spec = if self.exactly_once {
            spec.param("ExactlyOnceMode", "true")
        } else {
            spec
        };
        with_write_mode(spec, ctx.config.endpoint.api_version(), self.mode, false)
            .route_token()
            .build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteStreamInfo, Error> {
        parse_stream(self.action(), parts, body)
    }
}

/// The answer to a `TableWrite`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WriteRowsResult {
    /// A warning to log.
    #[serde(
        rename = "WarningMessage",
        default,
        deserialize_with = "string_lenient"
    )]
    pub warning_message: String,
    /// In exactly-once mode: the offset after this write (the next `RowOffset`).
    #[serde(
        rename = "ExactlyOnceRowOffset",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64_lenient"
    )]
    pub exactly_once_row_offset: Option<i64>,
    /// Staging id of this write (streaming visibility tracking).
    #[serde(
        rename = "StagingId",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_lenient"
    )]
    pub staging_id: Option<String>,
    /// Commit message (BatchCompatible blocks; some services send one always).
    #[serde(
        rename = "CommitMessage",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_lenient"
    )]
    pub commit_message: Option<String>,
    /// Rows of the block (BatchCompatible).
    #[serde(
        rename = "RecordCount",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_i64_lenient"
    )]
    pub record_count: Option<i64>,
    /// The route token of the response.
    #[serde(skip)]
    pub route_token: Option<String>,
}

/// `TableWrite`: one request body (a complete Arrow IPC stream) appended to a stream.
///
/// The body is streamed by the caller ([`Body::Streaming`]); its `Content-Type` is
/// `application/octet-stream` and compression is inside the IPC stream (protocol.md A5).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRows {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// The session's write mode (sent on v3).
    pub mode: WriteMode,
    /// The stream.
    pub stream: StreamRef,
    /// Rows in this body (`Count`).
    pub record_count: i64,
    /// Exactly-once: the offset of this body's first row (`RowOffset`).
    pub row_offset: Option<i64>,
    /// Exactly-once access token.
    pub access_token: Option<String>,
    /// Table id from the create-stream response.
    pub table_id: Option<String>,
    /// Schema version from the create-stream response.
    pub schema_version: Option<i64>,
    /// The body length, if known (else the body is sent chunked).
    pub content_length: Option<u64>,
}

impl Call for WriteRows {
    type Output = WriteRowsResult;

    fn action(&self) -> Action {
        Action::TableWrite
    }

    /// Only exactly-once writes (with a `RowOffset`) may be re-sent: the service accepts an
    /// identical replay at an acknowledged offset without writing the rows twice.
    fn is_idempotent(&self) -> bool {
        self.row_offset.is_some()
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        if self.record_count < 0 {
            return Err(invalid_argument(
                "record_count",
                format!("must not be negative, got {}", self.record_count),
            ));
        }
        if self.row_offset.is_some() != self.access_token.is_some() {
            return Err(invalid_argument(
                "access_token",
                "exactly-once writes need both a row offset and an access token",
            ));
        }
        let spec = RequestSpec::streaming(
            self.action(),
            Target::Table(self.table.clone()),
            header::OCTET_STREAM,
            self.content_length,
        )
        .param("SessionId", &self.session_id)
        .param("StreamId", &self.stream.stream_id)
        .param("StreamVersion", self.stream.version)
        .param("Count", self.record_count);
        let spec = with_write_mode(spec, ctx.config.endpoint.api_version(), self.mode, true)
            .param_opt("TableId", self.table_id.as_ref())
            .param_opt("SchemaVersion", self.schema_version)
            .param_opt("RowOffset", self.row_offset)
            .route_token();
        let spec = match &self.access_token {
            Some(token) => spec.header(header::WRITE_ACCESS_TOKEN, token.clone()),
            None => spec,
        };
        spec.build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteRowsResult, Error> {
        let mut r: WriteRowsResult = parse_json(self.action(), parts, body)?;
        r.route_token = route_token(parts);
        Ok(r)
    }
}

/// `TableWrite` of a BatchCompatible block: one uncompressed IPC stream per block attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBlock {
    /// The table.
    pub table: TableId,
    /// The BatchCompatible session id.
    pub session_id: String,
    /// The block number (below the session's `MaxBlockNumber`).
    pub block_number: i64,
    /// The attempt number of this block.
    pub attempt_number: i64,
    /// The `QuotaToken` of the block's create-stream response.
    pub quota_token: String,
    /// The body length, if known.
    pub content_length: Option<u64>,
}

impl WriteBlock {
    /// The stream id of a block attempt: `block-<n>-attempt-<a>`.
    pub fn stream_id(block_number: i64, attempt_number: i64) -> String {
        format!("block-{block_number}-attempt-{attempt_number}")
    }
}

impl Call for WriteBlock {
    type Output = WriteRowsResult;

    fn action(&self) -> Action {
        Action::TableWrite
    }

    /// A block attempt replaces itself: re-sending the same attempt is safe.
    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let spec = RequestSpec::streaming(
            self.action(),
            Target::Table(self.table.clone()),
            header::ARROW_STREAM,
            self.content_length,
        );
        with_write_mode(
            spec,
            ctx.config.endpoint.api_version(),
            WriteMode::BatchCompatible,
            true,
        )
        .param("SessionId", &self.session_id)
        .param("BlockNumber", self.block_number)
        .param("AttemptNumber", self.attempt_number)
        .param("quotaToken", &self.quota_token)
        .route_token()
        .build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteRowsResult, Error> {
        let mut r: WriteRowsResult = parse_json(self.action(), parts, body)?;
        r.route_token = route_token(parts);
        Ok(r)
    }
}

/// `TableCloseWriteStream`: no more writes; the stream is committed with the session.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseWriteStream {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// The session's write mode (sent on v3).
    pub mode: WriteMode,
    /// The stream.
    pub stream: StreamRef,
}

/// The answer to calls that return only a warning.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// A warning to log.
    #[serde(
        rename = "WarningMessage",
        default,
        deserialize_with = "string_lenient"
    )]
    pub warning_message: String,
}

impl Call for CloseWriteStream {
    type Output = Acknowledgement;

    fn action(&self) -> Action {
        Action::TableCloseWriteStream
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let body = serde_json::json!({
            "SessionId": self.session_id,
            "StreamId": self.stream.stream_id,
            "StreamVersion": self.stream.version,
        });
        let spec = RequestSpec::json(self.action(), Target::Table(self.table.clone()), &body)
            .param("SessionId", &self.session_id);
        with_write_mode(spec, ctx.config.endpoint.api_version(), self.mode, false)
            .route_token()
            .build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<Acknowledgement, Error> {
        parse_json(self.action(), parts, body)
    }
}

/// The answer to `TableGetWriteSchema`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WriteSchemaInfo {
    /// The columns a `TableWrite` body must have.
    #[serde(rename = "TableSchema", default)]
    pub table_schema: WriteSchema,
}

/// `TableGetWriteSchema` (sent only by `odps.maxstorage`; the write schema also comes with
/// every create-stream answer).
#[derive(Debug, Clone, PartialEq)]
pub struct GetWriteSchema {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// The session's write mode (sent on v3).
    pub mode: WriteMode,
}

impl Call for GetWriteSchema {
    type Output = WriteSchemaInfo;

    fn action(&self) -> Action {
        Action::TableGetWriteSchema
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let spec = RequestSpec::session_call(self.action(), &self.table, &self.session_id);
        with_write_mode(spec, ctx.config.endpoint.api_version(), self.mode, false)
            .route_token()
            .build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteSchemaInfo, Error> {
        parse_json(self.action(), parts, body)
    }
}
