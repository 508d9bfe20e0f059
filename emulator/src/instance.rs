//! Query results (instances): created from a table with the admin API, read with
//! `InstanceCreateReadSession`, `InstanceGetReadSession` and `InstanceRead`.
//!
//! A result is kept as `<data dir>/instances/<project>/<id>/result.arrow` with a
//! `meta.json` (columns, rows, batch sizes).

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_ipc::writer::FileWriter;
use maxstorage_codec::types::ArrowOptions;
use maxstorage_protocol::instance::{InstanceReadOptions, InstanceReadSession};
use maxstorage_protocol::read::RowRange;
use maxstorage_protocol::schema::{Column, OdpsType, TableColumns};
use maxstorage_protocol::{InstanceId, Target};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::read::{self, OutColumn, Plan, Source, View, arrow_reply, window};
use crate::service::{Reply, Request, State};
use crate::store::{ColumnDef, DataFile, write_atomic};
use crate::util::{lock, new_id, now_ms};

#[derive(Serialize, Deserialize)]
struct InstanceMeta {
    columns: Vec<ColumnDef>,
    rows: u64,
    bytes: u64,
    batch_rows: Vec<u64>,
}

/// A live instance read session.
pub(crate) struct InstanceSession {
    pub id: String,
    pub instance: InstanceId,
    pub expires_ms: i64,
}

fn dir(state: &State, project: &str, id: &str) -> PathBuf {
    state
        .store
        .root()
        .join("instances")
        .join(project.to_ascii_lowercase())
        .join(id)
}

/// Creates a query result from rows of a table (admin API); its instance id.
pub(crate) fn create_from_table(
    state: &State,
    project: &str,
    table: &crate::store::Table,
    columns: &[String],
    partition: Option<&str>,
    limit: Option<u64>,
) -> Result<String, ApiError> {
    let partitions: Vec<String> = partition.map(str::to_string).into_iter().collect();
    let sel = read::Selection {
        partitions: &partitions,
        ..read::Selection::default()
    };
    let plan = read::plan_table(table, &sel, ArrowOptions::default())?;
    let out = plan.project(columns)?;
    let segs = window(&plan.all(), 0, limit);
    let id = format!("{}{}", chrono_like_stamp(), &new_id("")[..12]);
    let d = dir(state, project, &id);
    fs::create_dir_all(&d)?;
    let schema = read::output_schema(&out, &plan.arrow)?;
    let file = File::create(d.join("result.arrow"))?;
    let mut writer = FileWriter::try_new(BufWriter::new(file), &schema)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut batch_rows = Vec::new();
    read::for_each_batch(&plan, &out, &segs, &mut |b| {
        batch_rows.push(b.num_rows() as u64);
        writer
            .write(&b)
            .map_err(|e| ApiError::internal(e.to_string()))
    })?;
    writer
        .finish()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let file = writer
        .into_inner()
        .map_err(|e| ApiError::internal(e.to_string()))?
        .into_inner()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    file.sync_all()?;
    let meta = InstanceMeta {
        columns: out
            .iter()
            .map(|c| ColumnDef {
                name: c.column.name.clone(),
                type_name: c.column.odps_type.to_string(),
                nullable: c.column.nullable,
                comment: c.column.comment.clone(),
            })
            .collect(),
        rows: batch_rows.iter().sum(),
        bytes: file.metadata()?.len(),
        batch_rows,
    };
    write_atomic(
        &d.join("meta.json"),
        &serde_json::to_vec(&meta).map_err(std::io::Error::other)?,
    )?;
    Ok(id)
}

/// A sortable time stamp prefix for instance ids (like the service's `yyyyMMddHHmmss`).
fn chrono_like_stamp() -> String {
    format!("{:013}", now_ms())
}

fn plan_of(state: &State, inst: &InstanceId) -> Result<(Plan, TableColumns), ApiError> {
    let d = dir(state, inst.project(), inst.instance());
    let not_found = || {
        ApiError::not_found(
            "NoSuchInstance",
            format!(
                "instance {} of project {} does not exist",
                inst.instance(),
                inst.project()
            ),
        )
    };
    if inst.instance().contains(['/', '\\', '.']) {
        return Err(not_found());
    }
    let meta: InstanceMeta = fs::read(d.join("meta.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(not_found)?;
    let mut columns = TableColumns::default();
    for c in &meta.columns {
        let ty = OdpsType::parse(&c.type_name)
            .map_err(|e| ApiError::internal(format!("instance column {}: {e}", c.name)))?;
        columns.data_columns.push(
            Column::new(c.name.clone(), ty)
                .with_nullable(c.nullable)
                .with_comment(c.comment.clone()),
        );
    }
    columns.assign_missing_column_ids();
    let out: Vec<OutColumn> = columns
        .data_columns
        .iter()
        .enumerate()
        .map(|(i, c)| OutColumn {
            column: c.clone(),
            source: Source::Data(i),
        })
        .collect();
    let file = DataFile {
        name: "result.arrow".into(),
        partition: Vec::new(),
        bucket: None,
        rows: meta.rows,
        bytes: meta.bytes,
        batch_rows: meta.batch_rows.clone(),
        version: 0,
        commit_ms: 0,
    };
    let view: View = read::view_of(d.join("result.arrow"), &file, Vec::new());
    let file_schema = read::output_schema(&out, &ArrowOptions::default())?;
    Ok((
        Plan {
            columns: out,
            views: vec![view],
            file_schema,
            arrow: ArrowOptions::default(),
        },
        columns,
    ))
}

fn instance_of(req: &Request) -> Result<InstanceId, ApiError> {
    match &req.storage.target {
        Target::Instance(i) => Ok(i.clone()),
        other => Err(ApiError::invalid_parameter(format!(
            "{} needs an instance Target (projects.<p>.instances.<id>), got {}",
            req.storage.action,
            other.value()
        ))),
    }
}

fn session_json(id: &str, plan: &Plan, columns: &TableColumns) -> InstanceReadSession {
    InstanceReadSession {
        session_id: id.to_string(),
        record_count: plan.rows() as i64,
        status: "normal".into(),
        table_schema: columns.to_write_schema(),
        quota_name: String::new(),
        // A query result is served as one split: `Index=0` reads all of it.
        splits_count: Some(1),
    }
}

/// `InstanceCreateReadSession`.
pub(crate) fn create_session(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let inst = instance_of(req)?;
    let (plan, columns) = plan_of(state, &inst)?;
    let ttl = state.config.session_ttl.as_millis() as i64;
    let s = Arc::new(InstanceSession {
        id: new_id("i"),
        instance: inst,
        expires_ms: now_ms() + ttl,
    });
    lock(&state.sessions.instance).insert(s.id.clone(), s.clone());
    Ok(Reply::json(&session_json(&s.id, &plan, &columns)))
}

fn session_of(
    state: &State,
    req: &Request,
    inst: &InstanceId,
) -> Result<Arc<InstanceSession>, ApiError> {
    let id = req.storage.required("SessionId")?;
    let s = lock(&state.sessions.instance)
        .get(id)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(
                "NoSuchSession",
                format!("instance read session {id:?} does not exist"),
            )
        })?;
    if s.instance != *inst {
        return Err(ApiError::not_found(
            "NoSuchSession",
            format!("instance read session {id:?} belongs to another instance"),
        ));
    }
    Ok(s)
}

/// `InstanceGetReadSession` (GET or POST).
pub(crate) fn get_session(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let inst = instance_of(req)?;
    let s = session_of(state, req, &inst)?;
    let (plan, columns) = plan_of(state, &inst)?;
    Ok(Reply::json(&session_json(&s.id, &plan, &columns)))
}

/// `InstanceRead` (with a session, or a direct read without one).
pub(crate) fn read(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let inst = instance_of(req)?;
    if req
        .storage
        .param("SessionId")
        .is_some_and(|s| !s.is_empty())
    {
        session_of(state, req, &inst)?;
    }
    if let Some(i) = req.storage.i64_param("Index")?
        && i != 0
    {
        return Err(ApiError::invalid_parameter(format!(
            "Index {i} is out of range: an instance read session has 1 split (SplitsCount 1)"
        )));
    }
    let (plan, _) = plan_of(state, &inst)?;
    let opts: InstanceReadOptions = req.json()?;
    let offset = req.storage.i64_param("Offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid_parameter("Offset must not be negative"));
    }
    let range = RowRange {
        offset,
        count: req.storage.i64_param("Count")?.unwrap_or(0),
    };
    let count = (range.count > 0).then_some(range.count as u64);
    let segs = window(&plan.all(), range.offset as u64, count);
    let columns = plan.project(&opts.columns)?;
    arrow_reply(plan, columns, segs, 4096, 0, read::encoding(state, req))
}
