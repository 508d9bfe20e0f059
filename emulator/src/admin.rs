//! The admin API (`/admin/v1/…`, JSON; see `README.md`) and a blocking typed client for
//! it, for test setup, independent verification and fault injection.
//!
//! | Method and path | Body | Answer |
//! |---|---|---|
//! | `GET /admin/v1/tables` | | `[TableInfo]` |
//! | `POST /admin/v1/tables` | [`TableDef`] | [`TableInfo`] |
//! | `GET /admin/v1/tables/<p>/<s>/<t>` | | [`TableInfo`] |
//! | `DELETE /admin/v1/tables/<p>/<s>/<t>` | | `{}` |
//! | `POST /admin/v1/tables/<p>/<s>/<t>/rows[?partition=…&overwrite=true]` | Arrow IPC stream | `{"Rows": n, "Version": v}` |
//! | `GET /admin/v1/tables/<p>/<s>/<t>/rows[?partition=…]` | | Arrow IPC stream |
//! | `POST /admin/v1/instances` | [`InstanceDef`] | `{"InstanceId": id}` |
//! | `GET /admin/v1/sessions` | | `[SessionStats]` |
//! | `GET`/`POST`/`DELETE /admin/v1/faults` | [`FaultSpec`] (POST) | list / `{}` |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use arrow_array::RecordBatch;
use http::{Method, Response};
use hyper::body::Incoming;
use maxstorage_codec::read::{ArrowStreamDecoder, DecoderOptions, decode_body};
use maxstorage_codec::write::{conform_batch, encode_stream};
use maxstorage_protocol::sign::{SignedParts, authorization, canonical_string, date_header};
use maxstorage_protocol::url::{encode_component, parse_query};
use maxstorage_protocol::{Compression, Credentials, SignatureVersion, header};
use serde::{Deserialize, Serialize};

use crate::body::ResponseBody;
use crate::error::{ApiError, Error};
use crate::fault::FaultSpec;
use crate::http_client::{HttpResponse, send};
use crate::service::{Faulted, Reply, State, authenticate, into_response, read_body};
use crate::store::{Replace, Stager, Table, TableDef};
use crate::util::lock;
use crate::{instance, read};

/// A table as the admin API describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    /// Persistent table id.
    #[serde(rename = "Id")]
    pub id: u64,
    /// The definition.
    #[serde(rename = "Definition")]
    pub definition: TableDef,
    /// Latest commit version.
    #[serde(rename = "Version")]
    pub version: u64,
    /// Committed rows.
    #[serde(rename = "RecordCount")]
    pub record_count: u64,
    /// Partitions holding data, as `k=v/k2=v2`.
    #[serde(rename = "Partitions")]
    pub partitions: Vec<String>,
    /// Number of data files.
    #[serde(rename = "FileCount")]
    pub file_count: usize,
}

/// A live read or write session as the admin API describes it
/// (`GET /admin/v1/sessions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStats {
    /// The session id (its route token names it).
    #[serde(rename = "SessionId")]
    pub session_id: String,
    /// `read` or `write`.
    #[serde(rename = "Kind")]
    pub kind: String,
    /// The table, as `project.schema.table`.
    #[serde(rename = "Table")]
    pub table: String,
    /// Requests to this session that carried a route token issued to another session
    /// (served, since the emulator was not started with strict route tokens).
    #[serde(rename = "RouteTokenMismatches")]
    pub route_token_mismatches: u64,
}

/// A query result to create from a table (`POST /admin/v1/instances`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceDef {
    /// Project of the instance and of the table.
    pub project: String,
    /// Schema of the table (default `default`).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// The table.
    pub table: String,
    /// Columns of the result (default all).
    #[serde(default)]
    pub columns: Vec<String>,
    /// Only this partition.
    #[serde(default)]
    pub partition: Option<String>,
    /// At most this many rows.
    #[serde(default)]
    pub limit: Option<u64>,
}

fn default_schema() -> String {
    "default".into()
}

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
    let mut decoder = ArrowStreamDecoder::new(DecoderOptions {
        normalize_timestamp_structs: false,
        ..DecoderOptions::default()
    });
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

/// A blocking client of the admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    addr: SocketAddr,
    credentials: Option<Credentials>,
}

impl AdminClient {
    /// A client of the emulator at `addr`, sending unsigned requests.
    pub fn new(addr: SocketAddr) -> AdminClient {
        AdminClient {
            addr,
            credentials: None,
        }
    }

    /// Signs requests with this access key.
    #[must_use]
    pub fn with_credentials(mut self, access_id: &str, access_key: &str) -> AdminClient {
        self.credentials = Some(Credentials::new(access_id, access_key));
        self
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        content_type: &str,
        body: &[u8],
    ) -> Result<HttpResponse, Error> {
        let now = SystemTime::now();
        let mut headers = vec![
            (header::CONTENT_TYPE.to_string(), content_type.to_string()),
            (header::DATE.to_string(), date_header(now)),
        ];
        if let Some(c) = &self.credentials {
            let canonical = canonical_string(&SignedParts {
                method,
                resource: path,
                query,
                headers: &headers,
            });
            headers.push((
                header::AUTHORIZATION.to_string(),
                authorization(c, &SignatureVersion::Legacy, &canonical, now),
            ));
        }
        let mut target = path.to_string();
        if !query.is_empty() {
            target.push('?');
            target.push_str(&maxstorage_protocol::url::encode_query(query));
        }
        let r = send(self.addr, method, &target, &headers, body)
            .map_err(|e| Error::io(format!("admin {method} {path}"), e))?;
        if r.status != 200 {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            return Err(Error::Api(ApiError::new(
                r.status,
                v["Code"].as_str().unwrap_or("Unknown"),
                v["Message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(&r.body).into_owned()),
            )));
        }
        Ok(r)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&impl Serialize>,
    ) -> Result<T, Error> {
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| Error::InvalidResponse(e.to_string()))?,
            None => Vec::new(),
        };
        let r = self.call(method, path, query, "application/json", &bytes)?;
        serde_json::from_slice(&r.body).map_err(|e| Error::InvalidResponse(e.to_string()))
    }

    fn table_path(project: &str, schema: &str, name: &str) -> String {
        format!(
            "/admin/v1/tables/{}/{}/{}",
            encode_component(project),
            encode_component(schema),
            encode_component(name)
        )
    }

    /// Creates a table.
    pub fn create_table(&self, def: &TableDef) -> Result<TableInfo, Error> {
        self.json("POST", "/admin/v1/tables", &[], Some(def))
    }

    /// Describes a table.
    pub fn describe(&self, project: &str, schema: &str, name: &str) -> Result<TableInfo, Error> {
        self.json::<TableInfo>(
            "GET",
            &Self::table_path(project, schema, name),
            &[],
            None::<&()>,
        )
    }

    /// Lists the live read and write sessions with their route-token mismatch counts.
    pub fn sessions(&self) -> Result<Vec<SessionStats>, Error> {
        self.json("GET", "/admin/v1/sessions", &[], None::<&()>)
    }

    /// Lists the tables.
    pub fn list_tables(&self) -> Result<Vec<TableInfo>, Error> {
        self.json("GET", "/admin/v1/tables", &[], None::<&()>)
    }

    /// Drops a table.
    pub fn drop_table(&self, project: &str, schema: &str, name: &str) -> Result<(), Error> {
        self.call(
            "DELETE",
            &Self::table_path(project, schema, name),
            &[],
            "application/json",
            &[],
        )
        .map(|_| ())
    }

    fn rows_query(partition: Option<&str>, overwrite: bool) -> Vec<(String, String)> {
        let mut q = Vec::new();
        if let Some(p) = partition {
            q.push(("partition".to_string(), p.to_string()));
        }
        if overwrite {
            q.push(("overwrite".to_string(), "true".to_string()));
        }
        q
    }

    /// Inserts rows (an Arrow IPC stream of the data columns, then the partition columns
    /// not fixed by `partition`) as one commit; the new version.
    pub fn insert_ipc(
        &self,
        project: &str,
        schema: &str,
        name: &str,
        partition: Option<&str>,
        overwrite: bool,
        ipc: &[u8],
    ) -> Result<u64, Error> {
        let path = format!("{}/rows", Self::table_path(project, schema, name));
        let r = self.call(
            "POST",
            &path,
            &Self::rows_query(partition, overwrite),
            header::ARROW_STREAM,
            ipc,
        )?;
        let v: serde_json::Value =
            serde_json::from_slice(&r.body).map_err(|e| Error::InvalidResponse(e.to_string()))?;
        v["Version"]
            .as_u64()
            .ok_or_else(|| Error::InvalidResponse("no Version in the insert answer".into()))
    }

    /// Inserts record batches (see [`insert_ipc`](Self::insert_ipc)).
    pub fn insert(
        &self,
        project: &str,
        name: &str,
        partition: Option<&str>,
        batches: &[RecordBatch],
    ) -> Result<u64, Error> {
        let Some(first) = batches.first() else {
            return Err(Error::Config("no batches to insert".into()));
        };
        let ipc = encode_stream(first.schema(), batches, Compression::Uncompressed)
            .map_err(|e| Error::InvalidResponse(e.to_string()))?;
        self.insert_ipc(project, "default", name, partition, false, &ipc)
    }

    /// The rows of a table (or a partition) as an Arrow IPC stream.
    pub fn dump_ipc(
        &self,
        project: &str,
        schema: &str,
        name: &str,
        partition: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        let path = format!("{}/rows", Self::table_path(project, schema, name));
        Ok(self
            .call(
                "GET",
                &path,
                &Self::rows_query(partition, false),
                "application/json",
                &[],
            )?
            .body)
    }

    /// The rows of a table in the `default` schema (or a partition) as record batches.
    pub fn dump(
        &self,
        project: &str,
        name: &str,
        partition: Option<&str>,
    ) -> Result<Vec<RecordBatch>, Error> {
        let ipc = self.dump_ipc(project, "default", name, partition)?;
        decode_body(&ipc, DecoderOptions::default())
            .map(|d| d.batches)
            .map_err(|e| Error::InvalidResponse(e.to_string()))
    }

    /// Creates a query result from a table; its instance id.
    pub fn create_instance(&self, def: &InstanceDef) -> Result<String, Error> {
        let v: serde_json::Value = self.json("POST", "/admin/v1/instances", &[], Some(def))?;
        v["InstanceId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::InvalidResponse("no InstanceId in the answer".into()))
    }

    /// Arms a fault.
    pub fn inject_fault(&self, spec: &FaultSpec) -> Result<(), Error> {
        self.json::<serde_json::Value>("POST", "/admin/v1/faults", &[], Some(spec))
            .map(|_| ())
    }

    /// The armed faults.
    pub fn faults(&self) -> Result<Vec<FaultSpec>, Error> {
        self.json("GET", "/admin/v1/faults", &[], None::<&()>)
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) -> Result<(), Error> {
        self.call("DELETE", "/admin/v1/faults", &[], "application/json", &[])
            .map(|_| ())
    }
}
