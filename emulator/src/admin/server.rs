//! The admin API's handlers: tables, rows, instances, sessions, faults.

use std::sync::Arc;

use http::{Method, Response};
use hyper::body::Incoming;
use maxstorage_codec::read::{ArrowStreamDecoder, DecoderOptions};
use maxstorage_codec::write::conform_batch;
use maxstorage_protocol::Compression;
use maxstorage_protocol::url::parse_query;

use super::{InstanceDef, SessionStats, TableInfo};
use crate::body::ResponseBody;
use crate::error::ApiError;
use crate::fault::FaultSpec;
use crate::service::{Faulted, Reply, State, authenticate, into_response, read_body};
use crate::store::{Replace, Stager, Table, TableDef};
use crate::util::lock;
use crate::{instance, read};

fn info(table: &Table) -> TableInfo {
    let m = table.snapshot();
    let mut partitions: Vec<String> = m
        .files
        .iter()
        .filter(|f| !f.partition.is_empty())
        .map(|f| {
            let pairs: Vec<(String, String)> = table
                .meta
                .columns
                .partition_columns
                .iter()
                .map(|c| c.name.clone())
                .zip(f.partition.iter().cloned())
                .collect();
            maxstorage_protocol::server::format_partition_spec(&pairs)
        })
        .collect();
    partitions.sort();
    partitions.dedup();
    TableInfo {
        id: table.meta.id,
        definition: table.meta.def.clone(),
        version: m.version,
        record_count: m.files.iter().map(|f| f.rows).sum(),
        partitions,
        file_count: m.files.len(),
    }
}

type Outcome = Result<Result<Response<ResponseBody>, ApiError>, Faulted>;

/// Handles an admin request.
pub(crate) async fn handle(state: Arc<State>, req: http::Request<Incoming>) -> Outcome {
    Ok(handle_inner(state, req).await)
}

async fn handle_inner(
    state: Arc<State>,
    req: http::Request<Incoming>,
) -> Result<Response<ResponseBody>, ApiError> {
    let (parts, body) = req.into_parts();
    let query = parse_query(parts.uri.query().unwrap_or(""));
    authenticate(
        &state,
        &parts.method,
        parts.uri.path(),
        &query,
        &parts.headers,
    )?;
    let body = read_body(body, state.config.limits.max_data_body).await?;
    let path: Vec<String> = parts
        .uri
        .path()
        .trim_end_matches('/')
        .split('/')
        .skip(3)
        .map(maxstorage_protocol::url::decode_component)
        .collect();
    let method = parts.method.clone();
    let st = state.clone();
    let reply = tokio::task::spawn_blocking(move || route(&st, &method, &path, &query, &body))
        .await
        .map_err(|e| ApiError::internal(format!("admin handler failed: {e}")))??;
    Ok(into_response(reply))
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_parameter(format!("malformed admin request body: {e}")))
}

fn route(
    state: &State,
    method: &Method,
    path: &[String],
    query: &[(String, String)],
    body: &[u8],
) -> Result<Reply, ApiError> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match (method.as_str(), p.as_slice()) {
        ("GET", ["tables"]) => {
            let list: Vec<TableInfo> = state.store.tables().iter().map(|t| info(t)).collect();
            Ok(Reply::json(&list))
        }
        ("POST", ["tables"]) => {
            let def: TableDef = json_body(body)?;
            let t = state.store.create_table(def)?;
            Ok(Reply::json(&info(&t)))
        }
        ("GET", ["tables", project, schema, name]) => {
            let t = state.store.table(project, schema, name)?;
            Ok(Reply::json(&info(&t)))
        }
        ("DELETE", ["tables", project, schema, name]) => {
            state.store.drop_table(project, schema, name)?;
            Ok(Reply::json(&serde_json::json!({})))
        }
        ("POST", ["tables", project, schema, name, "rows"]) => {
            let table = state.store.table(project, schema, name)?;
            insert(state, &table, query, body)
        }
        ("GET", ["tables", project, schema, name, "rows"]) => {
            let table = state.store.table(project, schema, name)?;
            dump(&table, query)
        }
        ("POST", ["instances"]) => {
            let def: InstanceDef = json_body(body)?;
            let table = state.store.table(&def.project, &def.schema, &def.table)?;
            let id = instance::create_from_table(
                state,
                &def.project,
                &table,
                &def.columns,
                def.partition.as_deref(),
                def.limit,
            )?;
            Ok(Reply::json(&serde_json::json!({"InstanceId": id})))
        }
        ("GET", ["sessions"]) => Ok(Reply::json(&sessions(state))),
        ("GET", ["faults"]) => Ok(Reply::json(&lock(&state.faults).list())),
        ("POST", ["faults"]) => {
            let spec: FaultSpec = json_body(body)?;
            lock(&state.faults).add(spec)?;
            Ok(Reply::json(&serde_json::json!({})))
        }
        ("DELETE", ["faults"]) => {
            lock(&state.faults).clear();
            Ok(Reply::json(&serde_json::json!({})))
        }
        _ => Err(ApiError::not_found(
            "NoSuchObject",
            format!("no admin resource {method} /admin/v1/{}", path.join("/")),
        )),
    }
}

/// Every live read and write session, sorted by id.
fn sessions(state: &State) -> Vec<SessionStats> {
    let stats = |kind: &str, id: &str, table: String| SessionStats {
        session_id: id.to_string(),
        kind: kind.to_string(),
        table,
        route_token_mismatches: state.sessions.route_mismatches(id),
    };
    let reads: Vec<_> = lock(&state.sessions.read).values().cloned().collect();
    let writes: Vec<_> = lock(&state.sessions.write).values().cloned().collect();
    let mut list: Vec<SessionStats> = reads
        .iter()
        .map(|s| stats("read", &s.id, s.table.meta.display_name()))
        .chain(writes.iter().map(|s| {
            let g = lock(s);
            stats("write", g.id(), g.table().meta.display_name())
        }))
        .collect();
    list.sort_by(|a, b| a.session_id.cmp(&b.session_id));
    list
}

/// Inserts an Arrow IPC stream (data columns, then the partition columns not given in
/// `?partition=`) as one commit.
fn insert(
    state: &State,
    table: &Arc<Table>,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Reply, ApiError> {
    let partial =
        maxstorage_protocol::server::parse_partition_spec(param(query, "partition").unwrap_or(""))?;
    let overwrite = param(query, "overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let layout = crate::store::write_layout(&table.meta, &partial)?;
    let mut fields: Vec<arrow_schema::Field> = table
        .meta
        .file_schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for (pi, _) in &layout.dynamic {
        let c = &table.meta.columns.partition_columns[*pi];
        let dt = maxstorage_codec::types::odps_to_arrow(
            &c.odps_type,
            &maxstorage_codec::types::ArrowOptions::default(),
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
        fields.push(arrow_schema::Field::new(&c.name, dt, true));
    }
    let expected = Arc::new(arrow_schema::Schema::new(fields));
    let mut decoder =
        ArrowStreamDecoder::new(DecoderOptions::default().with_normalize_timestamp_structs(false));
    let mut stager = Stager::new(&state.store, table.meta.clone(), &partial)?;
    let bad = |e: maxstorage_codec::CodecError| {
        ApiError::invalid_data(format!("the body is not a valid Arrow IPC stream: {e}"))
    };
    decoder.feed(body).map_err(bad)?;
    decoder.finish().map_err(bad)?;
    while let Some(batch) = decoder.next_batch().map_err(bad)? {
        let batch = conform_batch(&expected, &batch)
            .map_err(|e| ApiError::invalid_data(format!("the rows do not match the table: {e}")))?;
        stager.push(&batch)?;
    }
    let rows = stager.rows();
    let mut files = stager.finish()?;
    let replace = if !overwrite {
        Replace::Nothing
    } else if !layout.dynamic.is_empty() {
        let mut parts: Vec<Vec<String>> = files.iter().map(|f| f.partition.clone()).collect();
        parts.sort();
        parts.dedup();
        Replace::Partitions(parts)
    } else {
        Replace::PartitionPrefix(layout.static_values.iter().flatten().cloned().collect())
    };
    let version = state.store.commit(table, &mut files, &replace)?;
    Ok(Reply::json(
        &serde_json::json!({"Rows": rows, "Version": version}),
    ))
}

/// Dumps a table (or one partition) as an Arrow IPC stream: data columns, then partition
/// columns.
fn dump(table: &Arc<Table>, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let partitions: Vec<String> = param(query, "partition")
        .map(str::to_string)
        .into_iter()
        .collect();
    let sel = read::Selection {
        partitions: &partitions,
        ..read::Selection::default()
    };
    let plan = read::plan_table(
        table,
        &sel,
        maxstorage_codec::types::ArrowOptions::default(),
    )?;
    let columns = plan.columns.clone();
    let segs = plan.all();
    read::arrow_reply(
        plan,
        columns,
        segs,
        64 * 1024,
        0,
        read::Encoding {
            ipc: Compression::Uncompressed,
            body: Compression::Uncompressed,
        },
    )
}
