//! Writes: write sessions, streams and versions, staged writes, exactly-once offsets,
//! commit and abort, the streaming `default` session and BatchCompatible blocks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use maxstorage_codec::read::{ArrowStreamDecoder, DecoderOptions};
use maxstorage_codec::types::{ArrowOptions, odps_to_arrow};
use maxstorage_codec::write::{check_batch, conform_batch};
use maxstorage_protocol::header;
use maxstorage_protocol::read::SessionStatus;
use maxstorage_protocol::schema::OPERATION_COLUMN;
use maxstorage_protocol::server::parse_partition_spec;
use maxstorage_protocol::write::{
    DEFAULT_SESSION_ID, StreamInfo, StreamRef, WriteMode, WriteRowsResult, WriteSessionInfo,
    WriteStreamInfo,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::read::table_of;
use crate::service::{Reply, Request, State};
use crate::session::route_token;
use crate::store::{Replace, StagedFile, Stager, Table, write_layout};
use crate::util::{lock, new_id, now_ms, random_hex};

/// Write codecs the service accepts (the `Accept-Encoding` of create-stream answers).
const ACCEPTED_WRITE_CODECS: &str = "x-lz4-frame,zstd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WStatus {
    Normal,
    Committed,
    Aborted,
}

struct Eo {
    token: String,
    next: i64,
    /// Acknowledged writes: offset → (body digest, offset after it).
    history: BTreeMap<i64, ([u8; 32], i64)>,
}

impl Eo {
    /// Fresh exactly-once state: a new access token, offset 0.
    fn new() -> Eo {
        Eo {
            token: format!("eo-{}", random_hex(24)),
            next: 0,
            history: BTreeMap::new(),
        }
    }
}

struct Stream {
    version: i64,
    closed: bool,
    files: Vec<StagedFile>,
    rows: u64,
    /// Body bytes of the accepted writes (`ByteSize`).
    bytes: u64,
    eo: Option<Eo>,
}

impl Stream {
    /// Turns a stream exactly-once (a no-op if it already is). Only an empty stream can
    /// be converted: rows written without offsets cannot be given offsets afterwards.
    fn make_exactly_once(&mut self, id: &str) -> Result<(), ApiError> {
        if self.eo.is_some() {
            return Ok(());
        }
        if self.rows > 0 {
            return Err(ApiError::invalid_state(format!(
                "stream {id:?} already holds {} rows written without RowOffset: it cannot become exactly-once",
                self.rows
            )));
        }
        self.eo = Some(Eo::new());
        Ok(())
    }
}

struct Block {
    attempt: i64,
    digest: [u8; 32],
    rows: u64,
    message: String,
    files: Vec<StagedFile>,
}

/// A write session.
pub(crate) struct WriteSession {
    id: String,
    table: Arc<Table>,
    mode: WriteMode,
    partial: Vec<(String, String)>,
    overwrite: bool,
    status: WStatus,
    streams: BTreeMap<String, Stream>,
    pub expires_ms: i64,
    write_arrow: SchemaRef,
    is_default: bool,
    blocks: BTreeMap<i64, Block>,
    quota_token: String,
    next_staging: u64,
    enhance_write_check: bool,
    has_dynamic: bool,
}

impl WriteSession {
    /// The session id (of a `default` session, its own id, the one its route token names).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The table written.
    pub(crate) fn table(&self) -> &Table {
        &self.table
    }

    fn info(&self, state: &State) -> WriteSessionInfo {
        let mut info = WriteSessionInfo {
            session_id: self.id.clone(),
            status: Some(match self.status {
                WStatus::Normal => SessionStatus::Normal,
                WStatus::Committed => SessionStatus::Committed,
                WStatus::Aborted => SessionStatus::Other("ABORTED".into()),
            }),
            streams: self
                .streams
                .iter()
                .map(|(id, s)| StreamInfo {
                    stream: StreamRef::new(id.clone(), s.version),
                    status: None,
                    record_count: None,
                })
                .collect(),
            ..WriteSessionInfo::default()
        };
        if self.mode == WriteMode::BatchCompatible {
            info.data_schema = Some(self.table.meta.columns.to_read_schema());
            info.max_block_number = Some(state.config.limits.max_block_number);
            info.enhance_write_check = self.enhance_write_check;
        }
        info
    }

    fn check_table(&self, state: &State) -> Result<(), ApiError> {
        match state.store.table_by_id(self.table.meta.id) {
            Some(t) if Arc::ptr_eq(&t, &self.table) => Ok(()),
            _ => Err(ApiError::not_found(
                "NoSuchTable",
                format!(
                    "table {} (id {}) of write session {} was dropped",
                    self.table.meta.display_name(),
                    self.table.meta.id,
                    self.id
                ),
            )),
        }
    }

    fn check_open(&self) -> Result<(), ApiError> {
        match self.status {
            WStatus::Normal => Ok(()),
            WStatus::Committed => Err(ApiError::invalid_state(format!(
                "write session {} is already committed",
                self.id
            ))),
            WStatus::Aborted => Err(ApiError::invalid_state(format!(
                "write session {} was aborted",
                self.id
            ))),
        }
    }

    fn stream(&mut self, id: &str, version: Option<i64>) -> Result<&mut Stream, ApiError> {
        let sid = self.id.clone();
        let s = self.streams.get_mut(id).ok_or_else(|| {
            ApiError::not_found(
                "NoSuchStream",
                format!("stream {id:?} does not exist in write session {sid}"),
            )
        })?;
        if let Some(v) = version
            && v != s.version
        {
            return Err(ApiError::invalid_state(format!(
                "stream {id:?} is at version {}, the request names version {v}",
                s.version
            )));
        }
        Ok(s)
    }

    fn replace_rule(&self, files: &[StagedFile]) -> Replace {
        if !self.overwrite {
            return Replace::Nothing;
        }
        if self.has_dynamic {
            let mut parts: Vec<Vec<String>> = files.iter().map(|f| f.partition.clone()).collect();
            parts.sort();
            parts.dedup();
            Replace::Partitions(parts)
        } else {
            let pcols = &self.table.meta.columns.partition_columns;
            Replace::PartitionPrefix(
                pcols
                    .iter()
                    .filter_map(|c| {
                        self.partial
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&c.name))
                            .map(|(_, v)| v.clone())
                    })
                    .collect(),
            )
        }
    }
}

fn write_mode(req: &Request) -> Result<WriteMode, ApiError> {
    match req.storage.param("WriteMode").filter(|m| !m.trim().is_empty()) {
        None => Ok(WriteMode::Batch),
        Some(m) => WriteMode::parse(m).ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "unknown WriteMode {m:?}: expected Batch, BatchCompatible, Streaming or StreamingRealtime"
            ))
        }),
    }
}

/// A JSON flag given as a boolean or a string.
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

fn new_session(
    state: &State,
    table: Arc<Table>,
    mode: WriteMode,
    partial: Vec<(String, String)>,
    overwrite: bool,
    is_default: bool,
) -> Result<WriteSession, ApiError> {
    let layout = write_layout(&table.meta, &partial)?;
    let mut fields: Vec<Field> = table
        .meta
        .file_schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for (pi, _) in &layout.dynamic {
        let c = &table.meta.columns.partition_columns[*pi];
        let dt = odps_to_arrow(&c.odps_type, &ArrowOptions::default())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        fields.push(Field::new(&c.name, dt, true));
    }
    if !table.meta.def.primary_key.is_empty() {
        fields.push(Field::new(OPERATION_COLUMN, DataType::Int8, true));
    }
    let ttl = state.config.session_ttl.as_millis() as i64;
    Ok(WriteSession {
        id: if is_default {
            DEFAULT_SESSION_ID.to_string()
        } else {
            new_id("w")
        },
        has_dynamic: !layout.dynamic.is_empty(),
        table,
        mode,
        partial,
        overwrite,
        status: WStatus::Normal,
        streams: BTreeMap::new(),
        expires_ms: now_ms() + ttl,
        write_arrow: Arc::new(Schema::new(fields)),
        is_default,
        blocks: BTreeMap::new(),
        quota_token: format!("qt-{}", random_hex(16)),
        next_staging: 0,
        enhance_write_check: false,
    })
}

/// `TableCreateWriteSession`.
pub(crate) fn create_session(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let table = table_of(state, req)?;
    let mode = write_mode(req)?;
    let body: Value = req.json()?;
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (spec, overwrite, enhance) = if mode == WriteMode::BatchCompatible {
        (
            text("PartitionSpec"),
            flag(body.get("Overwrite")),
            flag(body.get("EnhanceWriteCheck")),
        )
    } else {
        let flags = body.get("Flags");
        (
            text("PartialPartitionSpec"),
            flag(flags.and_then(|f| f.get("overwrite"))),
            false,
        )
    };
    let partial = parse_partition_spec(&spec)?;
    let mut session = new_session(state, table, mode, partial, overwrite, false)?;
    session.enhance_write_check = enhance;
    state
        .sessions
        .purge(state.config.session_ttl.as_millis() as i64);
    let info = session.info(state);
    let id = session.id.clone();
    lock(&state.sessions.write).insert(id.clone(), Arc::new(Mutex::new(session)));
    tracing::debug!(session = %id, ?mode, "write session created");
    Ok(Reply::json(&info).header(header::ROUTE_TOKEN, route_token(&id)))
}

/// Finds a session (for `default`, the table's streaming session of the request's mode,
/// created when `create` is set).
fn session(
    state: &State,
    req: &Request,
    create: bool,
) -> Result<Arc<Mutex<WriteSession>>, ApiError> {
    let id = req.storage.required("SessionId")?;
    if id == DEFAULT_SESSION_ID {
        let table = table_of(state, req)?;
        let mode = match write_mode(req)? {
            WriteMode::Batch if req.storage.param("WriteMode").is_none() => WriteMode::Streaming,
            m => m,
        };
        let key = (table.meta.id, mode);
        let mut defaults = lock(&state.sessions.defaults);
        let existing = defaults
            .get(&key)
            .and_then(|sid| lock(&state.sessions.write).get(sid).cloned());
        if let Some(s) = existing {
            let own = lock(&s).id.clone();
            state
                .sessions
                .check_route_token(state.config.strict_route_tokens, req, &own)?;
            return Ok(s);
        }
        if !create {
            return Err(ApiError::not_found(
                "NoSuchSession",
                format!(
                    "the default {mode:?} session of {} does not exist",
                    table.meta.display_name()
                ),
            ));
        }
        let mut s = new_session(state, table, mode, Vec::new(), false, true)?;
        let internal = new_id("d");
        s.expires_ms = i64::MAX / 2;
        let s = Arc::new(Mutex::new(s));
        lock(&state.sessions.write).insert(internal.clone(), s.clone());
        defaults.insert(key, internal);
        return Ok(s);
    }
    let s = lock(&state.sessions.write)
        .get(id)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(
                "NoSuchSession",
                format!("write session {id:?} does not exist"),
            )
        })?;
    state
        .sessions
        .check_route_token(state.config.strict_route_tokens, req, id)?;
    if let Some(t) = req.storage.table() {
        let g = lock(&s);
        if !(t.project().eq_ignore_ascii_case(&g.table.meta.def.project)
            && t.table().eq_ignore_ascii_case(&g.table.meta.def.name))
        {
            return Err(ApiError::not_found(
                "NoSuchSession",
                format!("write session {id:?} does not belong to table {t}"),
            ));
        }
    }
    Ok(s)
}

/// `TableGetWriteSession`.
pub(crate) fn get_session(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session(state, req, false)?;
    let g = lock(&s);
    let info = g.info(state);
    Ok(Reply::json(&info).header(header::ROUTE_TOKEN, route_token(&g.id)))
}

/// `TableGetWriteSchema`.
pub(crate) fn get_schema(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session(state, req, false)?;
    let g = lock(&s);
    Ok(
        Reply::json(&serde_json::json!({"TableSchema": g.table.meta.write_schema()}))
            .header(header::ROUTE_TOKEN, route_token(&g.id)),
    )
}

#[derive(serde::Deserialize, Default)]
struct StreamBody {
    #[serde(
        rename = "StreamId",
        default,
        deserialize_with = "maxstorage_protocol::json::opt_string_lenient"
    )]
    stream_id: Option<String>,
    #[serde(
        rename = "StreamVersion",
        default,
        deserialize_with = "maxstorage_protocol::json::opt_i64_lenient"
    )]
    stream_version: Option<i64>,
    #[serde(
        rename = "ExactlyOnceMode",
        default,
        deserialize_with = "maxstorage_protocol::json::bool_lenient"
    )]
    exactly_once: bool,
}

/// Stream id and version from the query (GET) or the JSON body (POST).
fn stream_ref(req: &Request) -> Result<(String, Option<i64>, bool), ApiError> {
    let body: StreamBody = req.json()?;
    let id = req
        .storage
        .param("StreamId")
        .map(str::to_string)
        .or(body.stream_id)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("missing StreamId"))?;
    let version = match req.storage.i64_param("StreamVersion")? {
        Some(v) => Some(v),
        None => body.stream_version,
    };
    let eo = body.exactly_once || req.storage.bool_param("ExactlyOnceMode")?.unwrap_or(false);
    Ok((id, version, eo))
}

fn stream_info(g: &WriteSession, id: &str, with_offset: bool) -> WriteStreamInfo {
    let s = g.streams.get(id);
    let eo = s.and_then(|s| s.eo.as_ref());
    WriteStreamInfo {
        table_schema: g.table.meta.write_schema(),
        table_id: Some(g.table.meta.id.to_string()),
        schema_version: Some(0),
        latest_schema_version: Some(0),
        access_token: eo.map(|e| e.token.clone()),
        quota_token: (g.mode == WriteMode::BatchCompatible).then(|| g.quota_token.clone()),
        is_delta_table: !g.table.meta.def.primary_key.is_empty(),
        row_offset: if with_offset || eo.is_some() {
            Some(eo.map_or(0, |e| e.next))
        } else {
            None
        },
        status: Some(Value::from(0)),
        status_name: Some(
            if s.is_some_and(|s| s.closed) {
                "CLOSED"
            } else {
                "OPEN"
            }
            .into(),
        ),
        record_count: Some(s.map_or(0, |s| s.rows as i64)),
        byte_size: Some(s.map_or(0, |s| s.bytes as i64)),
        ..WriteStreamInfo::default()
    }
}

/// `TableCreateWriteStream`.
pub(crate) fn create_stream(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session(state, req, true)?;
    let (id, version, eo) = stream_ref(req)?;
    let version = version.unwrap_or(0);
    let mut g = lock(&s);
    g.check_open()?;
    g.check_table(state)?;
    if let Some(existing) = g.streams.get(&id) {
        if existing.version > version {
            return Err(ApiError::invalid_state(format!(
                "stale stream version: stream {id:?} is at version {}, asked for {version}",
                existing.version
            )));
        }
    } else if g.streams.len() >= state.config.limits.max_streams_per_session {
        return Err(ApiError::invalid_parameter(format!(
            "write session {} already has {} streams (the limit)",
            g.id,
            g.streams.len()
        )));
    }
    let same = g.streams.get(&id).is_some_and(|e| e.version == version);
    if !same {
        g.streams.insert(
            id.clone(),
            Stream {
                version,
                closed: false,
                files: Vec::new(),
                rows: 0,
                bytes: 0,
                eo: eo.then(Eo::new),
            },
        );
    } else if eo && let Some(st) = g.streams.get_mut(&id) {
        st.make_exactly_once(&id)?;
    }
    let info = stream_info(&g, &id, false);
    Ok(Reply::json(&info)
        .header(header::ROUTE_TOKEN, route_token(&g.id))
        .header(header::ACCEPT_ENCODING, ACCEPTED_WRITE_CODECS))
}

/// `TableGetWriteStream` (GET without body or POST with one).
pub(crate) fn get_stream(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session(state, req, false)?;
    let (id, version, eo) = stream_ref(req)?;
    let mut g = lock(&s);
    let st = g.stream(&id, version)?;
    // The user-guide SDK (odps.apis.storage_api_v2) cannot ask for exactly-once when it
    // creates a stream: this lookup is its only signal, so it converts an empty stream.
    if eo {
        st.make_exactly_once(&id)?;
    }
    let info = stream_info(&g, &id, eo);
    Ok(Reply::json(&info).header(header::ROUTE_TOKEN, route_token(&g.id)))
}

/// `TableCloseWriteStream`.
pub(crate) fn close_stream(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session(state, req, false)?;
    let (id, version, _) = stream_ref(req)?;
    let mut g = lock(&s);
    if g.is_default || id == DEFAULT_SESSION_ID {
        return Ok(Reply::json(&serde_json::json!({"WarningMessage": ""})));
    }
    if g.status == WStatus::Aborted {
        g.check_open()?;
    }
    g.stream(&id, version)?.closed = true;
    Ok(Reply::json(&serde_json::json!({"WarningMessage": ""})))
}

/// Decodes a `TableWrite` body and stages its rows; the rows' count.
fn stage_body(
    state: &State,
    table: &Arc<Table>,
    partial: &[(String, String)],
    expected: &SchemaRef,
    req: &Request,
) -> Result<(Vec<StagedFile>, u64), ApiError> {
    let mut options = DecoderOptions::for_content_encoding(req.header(header::CONTENT_ENCODING))
        .map_err(|e| ApiError::invalid_data(e.to_string()))?;
    options.normalize_timestamp_structs = false;
    let mut decoder = ArrowStreamDecoder::new(options);
    let mut stager = Stager::new(&state.store, table.meta.clone(), partial)?;
    let bad = |e: maxstorage_codec::CodecError| {
        ApiError::invalid_data(format!(
            "the TableWrite body is not a valid Arrow IPC stream: {e}"
        ))
    };
    let stage = |decoder: &mut ArrowStreamDecoder,
                 stager: &mut Stager<'_>|
     -> Result<(), ApiError> {
        while let Some(batch) = decoder.next_batch().map_err(bad)? {
            let batch = conform_batch(expected, &batch).map_err(|e| {
                ApiError::invalid_data(format!("the batch does not match the write schema: {e}"))
            })?;
            crate::blob::check_references(state, &table.meta, &batch)?;
            stager.push(&batch)?;
        }
        Ok(())
    };
    for chunk in req.body.chunks(1 << 20) {
        decoder
            .feed_bytes(Bytes::copy_from_slice(chunk))
            .map_err(bad)?;
        stage(&mut decoder, &mut stager)?;
    }
    decoder.finish().map_err(bad)?;
    stage(&mut decoder, &mut stager)?;
    if let Some(schema) = decoder.schema()
        && let Err(e) = check_schema(expected, &schema)
    {
        return Err(e);
    }
    let rows = stager.rows();
    Ok((stager.finish_or_fail(req.fail_store_stage)?, rows))
}

fn check_schema(expected: &Schema, actual: &Schema) -> Result<(), ApiError> {
    let empty = arrow_array::RecordBatch::new_empty(Arc::new(actual.clone()));
    check_batch(expected, &empty).map_err(|e| {
        ApiError::invalid_data(format!(
            "the body schema does not match the write schema: {e}"
        ))
    })
}

fn digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// `TableWrite`.
pub(crate) fn write_rows(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session(state, req, false)?;
    if req.storage.param("BlockNumber").is_some() {
        return write_block(state, req, &s);
    }
    let id = req.storage.required("StreamId")?.to_string();
    let version = req.storage.i64_param("StreamVersion")?;
    let count = req.storage.i64_param("Count")?;
    let row_offset = req.storage.i64_param("RowOffset")?;
    let body_digest = digest(&req.body);
    let (table, partial, expected, session_id) = {
        let mut g = lock(&s);
        g.check_open()?;
        g.check_table(state)?;
        if let Some(tid) = req.storage.param("TableId").filter(|t| !t.is_empty())
            && tid != g.table.meta.id.to_string()
        {
            return Err(ApiError::invalid_state(format!(
                "TableId {tid} is not the id of table {} ({}): it was dropped and recreated",
                g.table.meta.display_name(),
                g.table.meta.id
            )));
        }
        let token = req.header(header::WRITE_ACCESS_TOKEN).map(str::to_string);
        let st = g.stream(&id, version)?;
        if st.closed {
            return Err(ApiError::invalid_state(format!("stream {id:?} is closed")));
        }
        if st.eo.is_none() && (row_offset.is_some() || token.is_some()) {
            // Never accept and ignore: an offset on a plain stream would be a silent
            // promise of exactly-once that nothing keeps.
            return Err(ApiError::invalid_parameter(format!(
                "stream {id:?} is not exactly-once: RowOffset and {} are refused on it (create the stream with ExactlyOnceMode=true, or ask TableGetWriteStream with ExactlyOnceMode=true before the first write)",
                header::WRITE_ACCESS_TOKEN
            )));
        }
        if let Some(eo) = &st.eo {
            if token.as_deref() != Some(eo.token.as_str()) {
                return Err(ApiError::new(
                    403,
                    "InvalidAccessToken",
                    format!(
                        "missing or wrong {} for stream {id:?}",
                        header::WRITE_ACCESS_TOKEN
                    ),
                ));
            }
            let Some(offset) = row_offset else {
                return Err(ApiError::invalid_parameter(format!(
                    "stream {id:?} is exactly-once: RowOffset is required"
                )));
            };
            if offset < eo.next {
                return match eo.history.get(&offset) {
                    Some((d, _)) if *d == body_digest => {
                        let r = WriteRowsResult {
                            exactly_once_row_offset: Some(eo.next),
                            staging_id: Some(eo.next.to_string()),
                            ..WriteRowsResult::default()
                        };
                        Ok(Reply::json(&r).header(header::ROUTE_TOKEN, route_token(&g.id)))
                    }
                    _ => Err(row_offset_conflict(&id, offset, eo.next)),
                };
            }
            if offset > eo.next {
                return Err(row_offset_conflict(&id, offset, eo.next));
            }
        }
        (
            g.table.clone(),
            g.partial.clone(),
            g.write_arrow.clone(),
            g.id.clone(),
        )
    };
    let (files, rows) = stage_body(state, &table, &partial, &expected, req)?;
    if let Some(c) = count
        && c >= 0
        && c as u64 != rows
    {
        return Err(ApiError::invalid_data(format!(
            "Count mismatch: the request says Count={c}, the body holds {rows} rows"
        )));
    }
    let mut g = lock(&s);
    g.check_open()?;
    g.check_table(state)?;
    let streaming = g.mode.is_streaming();
    let st = g.stream(&id, version)?;
    if st.closed {
        return Err(ApiError::invalid_state(format!("stream {id:?} is closed")));
    }
    if let Some(eo) = &st.eo {
        let offset = row_offset.unwrap_or(eo.next);
        if offset != eo.next {
            return Err(row_offset_conflict(&id, offset, eo.next));
        }
    }
    let mut files = files;
    if streaming && !files.is_empty() {
        // Visible right away: each write is its own commit. Nothing is acknowledged (no
        // offset advances) unless it succeeded: a retry then stores the rows, never
        // passes for a replay of rows that were not stored.
        state
            .store
            .commit_or_fail(&table, &mut files, &Replace::Nothing, req.fail_store_commit)?;
    }
    let mut result = WriteRowsResult::default();
    if let Some(eo) = &mut st.eo {
        let offset = eo.next;
        let end = offset + rows as i64;
        eo.history.insert(offset, (body_digest, end));
        eo.next = end;
        result.exactly_once_row_offset = Some(end);
        result.staging_id = Some(end.to_string());
    }
    st.rows += rows;
    st.bytes += req.body.len() as u64;
    if streaming {
        g.next_staging += 1;
        result.staging_id = Some(g.next_staging.to_string());
    } else {
        st.files.extend(files);
    }
    Ok(Reply::json(&result).header(header::ROUTE_TOKEN, route_token(&session_id)))
}

fn row_offset_conflict(stream: &str, got: i64, expected: i64) -> ApiError {
    ApiError::new(
        409,
        "RowOffsetConflict",
        format!(
            "stream {stream:?}: RowOffset {got} conflicts with the acknowledged writes: expected RowOffset {expected} (or an identical replay of an acknowledged write)"
        ),
    )
}

fn commit_message(session: &str, block: i64, attempt: i64, rows: u64) -> String {
    serde_json::json!({
        "SessionId": session,
        "BlockNumber": block,
        "AttemptNumber": attempt,
        "WriterStats": {"RecordNum": rows},
    })
    .to_string()
}

/// `TableWrite` of a BatchCompatible block attempt.
fn write_block(
    state: &State,
    req: &Request,
    s: &Arc<Mutex<WriteSession>>,
) -> Result<Reply, ApiError> {
    let block = req
        .storage
        .i64_param("BlockNumber")?
        .ok_or_else(|| ApiError::invalid_parameter("missing BlockNumber"))?;
    let attempt = req.storage.i64_param("AttemptNumber")?.unwrap_or(0);
    let body_digest = digest(&req.body);
    let (table, partial, expected, sid) = {
        let g = lock(s);
        g.check_open()?;
        g.check_table(state)?;
        if g.mode != WriteMode::BatchCompatible {
            return Err(ApiError::invalid_parameter(format!(
                "BlockNumber is only for BatchCompatible sessions; session {} is {:?}",
                g.id, g.mode
            )));
        }
        if block < 0 || block >= state.config.limits.max_block_number {
            return Err(ApiError::invalid_parameter(format!(
                "BlockNumber {block} is out of range 0..{}",
                state.config.limits.max_block_number
            )));
        }
        if req.storage.param("quotaToken") != Some(g.quota_token.as_str()) {
            return Err(ApiError::new(
                403,
                "InvalidQuotaToken",
                "missing or wrong quotaToken for this BatchCompatible session",
            ));
        }
        if let Some(b) = g.blocks.get(&block) {
            if attempt < b.attempt {
                return Err(ApiError::invalid_state(format!(
                    "block {block}: attempt {attempt} is older than attempt {}",
                    b.attempt
                )));
            }
            if attempt == b.attempt && b.digest == body_digest {
                let r = WriteRowsResult {
                    commit_message: Some(b.message.clone()),
                    record_count: Some(b.rows as i64),
                    ..WriteRowsResult::default()
                };
                return Ok(Reply::json(&r).header(header::ROUTE_TOKEN, route_token(&g.id)));
            }
        }
        (
            g.table.clone(),
            g.partial.clone(),
            g.write_arrow.clone(),
            g.id.clone(),
        )
    };
    let (files, rows) = stage_body(state, &table, &partial, &expected, req)?;
    let mut g = lock(s);
    g.check_open()?;
    if g.blocks.get(&block).is_some_and(|b| b.attempt > attempt) {
        return Err(ApiError::invalid_state(format!(
            "block {block}: a newer attempt was written meanwhile"
        )));
    }
    let message = commit_message(&sid, block, attempt, rows);
    g.blocks.insert(
        block,
        Block {
            attempt,
            digest: body_digest,
            rows,
            message: message.clone(),
            files,
        },
    );
    let r = WriteRowsResult {
        commit_message: Some(message),
        record_count: Some(rows as i64),
        ..WriteRowsResult::default()
    };
    Ok(Reply::json(&r).header(header::ROUTE_TOKEN, route_token(&sid)))
}

/// `TableCommitWriteSession`.
pub(crate) fn commit(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session(state, req, false)?;
    let body: Value = req.json()?;
    let mut g = lock(&s);
    match g.status {
        WStatus::Committed => {
            let info = g.info(state);
            return Ok(Reply::json(&info).header(header::ROUTE_TOKEN, route_token(&g.id)));
        }
        WStatus::Aborted => g.check_open()?,
        WStatus::Normal => {}
    }
    if g.is_default {
        let info = g.info(state);
        return Ok(Reply::json(&info).header(header::ROUTE_TOKEN, route_token(&g.id)));
    }
    g.check_table(state)?;
    let mut files: Vec<StagedFile> = Vec::new();
    // Where each run of `files` came from, to give the files back if the commit fails.
    let mut origins: Vec<(Origin, usize)> = Vec::new();
    if let Some(messages) = body.get("CommitMessages").and_then(Value::as_array) {
        let mut chosen: BTreeMap<i64, i64> = BTreeMap::new();
        for m in messages {
            let text = m
                .as_str()
                .ok_or_else(|| ApiError::invalid_parameter("CommitMessages must be strings"))?;
            let v: Value = serde_json::from_str(text).map_err(|_| {
                ApiError::invalid_parameter(format!(
                    "commit message {text:?} is not one this service issued"
                ))
            })?;
            let (Some(b), Some(a)) = (
                v.get("BlockNumber").and_then(Value::as_i64),
                v.get("AttemptNumber").and_then(Value::as_i64),
            ) else {
                return Err(ApiError::invalid_parameter(format!(
                    "commit message {text:?} has no block"
                )));
            };
            if v.get("SessionId").and_then(Value::as_str) != Some(g.id.as_str()) {
                return Err(ApiError::invalid_parameter(format!(
                    "commit message {text:?} belongs to another session"
                )));
            }
            let e = chosen.entry(b).or_insert(a);
            *e = (*e).max(a);
        }
        for (b, a) in &chosen {
            match g.blocks.get(b) {
                Some(block) if block.attempt == *a => {}
                _ => {
                    return Err(ApiError::invalid_state(format!(
                        "block {b} attempt {a} was not written (or was replaced by a newer attempt)"
                    )));
                }
            }
        }
        for b in chosen.keys() {
            if let Some(block) = g.blocks.get_mut(b) {
                origins.push((Origin::Block(*b), block.files.len()));
                files.append(&mut block.files);
            }
        }
    } else {
        let ids = body.get("StreamIds").and_then(Value::as_array);
        let versions = body.get("StreamVersions").and_then(Value::as_array);
        let listed: Option<Vec<(String, i64)>> = match (ids, versions) {
            (Some(ids), Some(vs)) => {
                if ids.len() != vs.len() {
                    return Err(ApiError::invalid_parameter(
                        "StreamIds and StreamVersions differ in length",
                    ));
                }
                Some(
                    ids.iter()
                        .zip(vs)
                        .map(|(i, v)| {
                            let id = match i {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            let v = v
                                .as_i64()
                                .or_else(|| v.as_str().and_then(|s| s.parse().ok()));
                            v.map(|v| (id, v)).ok_or_else(|| {
                                ApiError::invalid_parameter("StreamVersions must be integers")
                            })
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            (None, None) => None,
            _ => {
                return Err(ApiError::invalid_parameter(
                    "StreamIds and StreamVersions must be given together",
                ));
            }
        };
        let chosen: Vec<String> = match &listed {
            Some(list) => {
                let mut seen = Vec::new();
                for (id, v) in list {
                    if seen.contains(id) {
                        return Err(ApiError::invalid_state(format!(
                            "stream {id:?} is listed twice"
                        )));
                    }
                    let st = g.stream(id, Some(*v))?;
                    if !st.closed {
                        return Err(ApiError::invalid_state(format!(
                            "stream {id:?} is not closed"
                        )));
                    }
                    seen.push(id.clone());
                }
                seen
            }
            None => {
                if let Some((id, _)) = g.streams.iter().find(|(_, s)| !s.closed) {
                    return Err(ApiError::invalid_state(format!(
                        "stream {id:?} is not closed; close it (or list the streams to commit) before committing"
                    )));
                }
                g.streams.keys().cloned().collect()
            }
        };
        for id in chosen {
            if let Some(st) = g.streams.get_mut(&id) {
                origins.push((Origin::Stream(id), st.files.len()));
                files.append(&mut st.files);
            }
        }
    }
    if !g.mode.is_streaming() && (!files.is_empty() || g.overwrite) {
        let rule = g.replace_rule(&files);
        let table = g.table.clone();
        if let Err(e) = state
            .store
            .commit_or_fail(&table, &mut files, &rule, req.fail_store_commit)
        {
            // The store published nothing and moved the files back: give them back to
            // their streams (blocks), so that the retried commit commits them.
            let mut files = files.into_iter();
            for (origin, n) in origins {
                let back = files.by_ref().take(n);
                match origin {
                    Origin::Stream(id) => {
                        if let Some(st) = g.streams.get_mut(&id) {
                            st.files.extend(back);
                        }
                    }
                    Origin::Block(b) => {
                        if let Some(block) = g.blocks.get_mut(&b) {
                            block.files.extend(back);
                        }
                    }
                }
            }
            return Err(e);
        }
    }
    g.blocks.clear();
    g.status = WStatus::Committed;
    for st in g.streams.values_mut() {
        st.files.clear();
    }
    let info = g.info(state);
    tracing::debug!(session = %g.id, "write session committed");
    Ok(Reply::json(&info).header(header::ROUTE_TOKEN, route_token(&g.id)))
}

/// Where staged files of a commit came from.
enum Origin {
    Stream(String),
    Block(i64),
}

/// `TableAbortWriteSession`.
pub(crate) fn abort(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session(state, req, false)?;
    let mut g = lock(&s);
    if g.status == WStatus::Committed && !g.is_default {
        return Err(ApiError::invalid_state(format!(
            "write session {} is already committed",
            g.id
        )));
    }
    if !g.is_default {
        g.status = WStatus::Aborted;
        for st in g.streams.values_mut() {
            st.files.clear();
        }
        g.blocks.clear();
    }
    let _ = state;
    Ok(Reply::json(&serde_json::json!({"WarningMessage": ""})))
}

/// Checks that a blob upload names an open session (and, when given, a known stream).
pub(crate) fn check_blob_target(state: &State, req: &Request) -> Result<BlobTarget, ApiError> {
    let s = session(state, req, false)?;
    let mut g = lock(&s);
    g.check_open()?;
    g.check_table(state)?;
    if let Some(id) = req.storage.param("StreamId").filter(|s| !s.is_empty())
        && !g.is_default
        && g.streams.contains_key(id)
    {
        let version = req.storage.i64_param("StreamVersion")?;
        g.stream(id, version)?;
    }
    let meta = &g.table.meta;
    let blobs = meta.write_schema().blob_columns();
    if blobs.is_empty() {
        return Err(ApiError::invalid_parameter(format!(
            "table {} has no BLOB column: blobs cannot be uploaded for it",
            meta.display_name()
        )));
    }
    let target = BlobTarget {
        table_id: meta.id,
        table_name: meta.display_name(),
        columns: blobs
            .iter()
            .map(|b| (b.column_id.unwrap_or(-1), b.dotted_path()))
            .collect(),
    };
    target.check_column(req.storage.i64_param("ColumnIndex")?)?;
    Ok(target)
}

/// The table a blob upload is for, with its BLOB columns.
pub(crate) struct BlobTarget {
    /// The table's persistent id (recorded with each blob).
    pub(crate) table_id: u64,
    table_name: String,
    /// `(ColumnId, dotted path)` of each BLOB column.
    columns: Vec<(i64, String)>,
}

impl BlobTarget {
    /// Refuses a `ColumnIndex` (query parameter, or batch item header) that is not one of
    /// the table's BLOB columns; an absent index is accepted.
    pub(crate) fn check_column(&self, index: Option<i64>) -> Result<(), ApiError> {
        match index {
            Some(i) if !self.columns.iter().any(|(id, _)| *id == i) => {
                let names = self
                    .columns
                    .iter()
                    .map(|(id, path)| format!("{path} (ColumnIndex {id})"))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(ApiError::invalid_parameter(format!(
                    "ColumnIndex {i} is not a BLOB column of table {}; its BLOB columns: {names}",
                    self.table_name
                )))
            }
            _ => Ok(()),
        }
    }
}
