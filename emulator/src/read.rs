//! Reads: read sessions (split plans, projection, partition/bucket/incremental/filter
//! selection, expiry and refresh), `TableRead` streaming from files, and preview.
//!
//! A session fixes a *plan*: the data files to read (each a [`View`], with a selection
//! mask when a filter applies), the output columns, and the splits — runs of rows of
//! those views. Rows are addressed by their position in the session ("logical" rows:
//! after filtering). `TableRead` streams the chosen rows from the files batch by batch
//! without holding a split in memory.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, StringArray};
use arrow_ipc::reader::FileReader;
use arrow_schema::{Field, Schema, SchemaRef};
use bytes::Bytes;
use maxstorage_codec::compress::Compressor;
use maxstorage_codec::types::{ArrowOptions, TimestampUnit as CodecUnit, odps_to_arrow};
use maxstorage_codec::write::{IpcMessageEncoder, split_batch};
use maxstorage_protocol::read::{
    IncrementalReadOptions, PreviewOptions, ReadRowsOptions, ReadSession as ReadSessionJson,
    ReadSessionOptions, SessionStats, SessionStatus, SplitMode, TimestampUnit,
};
use maxstorage_protocol::schema::{Column, TableColumns};
use maxstorage_protocol::server::parse_partition_spec;
use maxstorage_protocol::{Compression, header};
use serde_json::Value;

use crate::ReadCompression;
use crate::body::ChunkSender;
use crate::error::ApiError;
use crate::filter::{self, Expr};
use crate::service::{Reply, Request, State};
use crate::session::route_token;
use crate::store::{DataFile, Table};
use crate::util::{lock, new_id, now_ms};

/// Default rows per output batch.
const DEFAULT_BATCH_ROWS: i64 = 4096;
/// Largest `MaxBatchRows` honoured.
const MAX_BATCH_ROWS: i64 = 1 << 20;

/// Where an output column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Column `i` of the data files.
    Data(usize),
    /// Partition column `i` (constant per file).
    Partition(usize),
}

/// An output column of a plan.
#[derive(Debug, Clone)]
pub(crate) struct OutColumn {
    pub column: Column,
    pub source: Source,
}

/// One data file as a plan reads it.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub path: PathBuf,
    pub partition: Vec<(String, String)>,
    pub bucket: Option<u32>,
    /// Rows after filtering.
    pub rows: u64,
    pub bytes: u64,
    /// Rows of each batch in the file.
    pub batch_rows: Vec<u64>,
    /// Rows of each batch after filtering.
    pub batch_logical: Vec<u64>,
    /// Selection over the file's physical rows (a filter), if any.
    pub mask: Option<Arc<Vec<bool>>>,
}

/// What a read returns: columns and the files they come from.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub columns: Vec<OutColumn>,
    pub views: Vec<View>,
    pub file_schema: SchemaRef,
    pub arrow: ArrowOptions,
}

impl Plan {
    /// Total rows.
    pub(crate) fn rows(&self) -> u64 {
        self.views.iter().map(|v| v.rows).sum()
    }

    /// Every row, as segments.
    pub(crate) fn all(&self) -> Vec<Seg> {
        self.views
            .iter()
            .enumerate()
            .filter(|(_, v)| v.rows > 0)
            .map(|(i, v)| Seg {
                view: i,
                start: 0,
                end: v.rows,
            })
            .collect()
    }

    /// A plan over the same files with the named subset of columns (all when empty).
    pub(crate) fn project(&self, names: &[String]) -> Result<Vec<OutColumn>, ApiError> {
        if names.is_empty() {
            return Ok(self.columns.clone());
        }
        names
            .iter()
            .map(|n| {
                self.columns
                    .iter()
                    .find(|c| c.column.name.eq_ignore_ascii_case(n))
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(format!(
                            "column {n:?} is not among the session's columns [{}]",
                            self.columns
                                .iter()
                                .map(|c| c.column.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })
            })
            .collect()
    }
}

/// A run of logical rows `[start, end)` of one view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seg {
    pub view: usize,
    pub start: u64,
    pub end: u64,
}

/// The rows `[offset, offset + count)` of a list of segments (`count` `None` = to the end).
pub(crate) fn window(segs: &[Seg], offset: u64, count: Option<u64>) -> Vec<Seg> {
    let end = count.map_or(u64::MAX, |c| offset.saturating_add(c));
    let mut out = Vec::new();
    let mut pos = 0u64;
    for s in segs {
        let len = s.end - s.start;
        let (lo, hi) = (pos, pos + len);
        pos = hi;
        let a = offset.max(lo);
        let b = end.min(hi);
        if a < b {
            out.push(Seg {
                view: s.view,
                start: s.start + (a - lo),
                end: s.start + (b - lo),
            });
        }
        if pos >= end {
            break;
        }
    }
    out
}

/// A split of a read session.
#[derive(Debug, Clone)]
pub(crate) struct Split {
    pub segs: Vec<Seg>,
}

/// A table read session.
pub(crate) struct ReadSession {
    pub id: String,
    pub table: Arc<Table>,
    pub plan: Plan,
    pub splits: Vec<Split>,
    pub mode: SplitMode,
    pub bucket_ids: Vec<i64>,
    pub latest_version: i64,
    pub incremental: Option<IncrementalReadOptions>,
    expires_ms: AtomicI64,
    ttl_ms: i64,
}

impl ReadSession {
    pub(crate) fn expires_ms(&self) -> i64 {
        self.expires_ms.load(Ordering::Relaxed)
    }

    fn is_expired(&self) -> bool {
        self.expires_ms() <= now_ms()
    }

    fn refresh(&self) {
        self.expires_ms
            .store(now_ms() + self.ttl_ms, Ordering::Relaxed);
    }

    fn json(&self, status: SessionStatus) -> Value {
        let columns = TableColumns {
            data_columns: self
                .plan
                .columns
                .iter()
                .filter(|c| matches!(c.source, Source::Data(_)))
                .map(|c| c.column.clone())
                .collect(),
            partition_columns: self
                .plan
                .columns
                .iter()
                .filter(|c| matches!(c.source, Source::Partition(_)))
                .map(|c| c.column.clone())
                .collect(),
            system_columns: Vec::new(),
        };
        let est_size: u64 = self
            .plan
            .views
            .iter()
            .map(|v| {
                let phys: u64 = v.batch_rows.iter().sum();
                (v.bytes * v.rows).checked_div(phys).unwrap_or(0)
            })
            .sum();
        let session = ReadSessionJson {
            session_id: self.id.clone(),
            session_type: "BatchRead".into(),
            status,
            expiration_time: self.expires_ms(),
            splits_count: if self.mode == SplitMode::RowOffset {
                -1
            } else {
                self.splits.len() as i64
            },
            split_bucket_ids: self.bucket_ids.clone(),
            record_count: self.plan.rows() as i64,
            split_mode: self.mode,
            data_schema: columns.to_read_schema(),
            table_schema: Some(columns.to_write_schema()),
            supported_data_format: vec![Default::default()],
            stats: SessionStats {
                estimated_size: est_size as i64,
                estimated_row_count: self.plan.rows() as i64,
            },
            latest_version: self.latest_version,
            message: String::new(),
            enable_large_string: false,
            incremental_read_options: None,
            route_token: None,
        };
        let mut v = serde_json::to_value(&session).unwrap_or(Value::Null);
        let inc = self.incremental.clone().unwrap_or_default();
        if let Value::Object(m) = &mut v {
            // Every field present: the C++ SDK looks each one up.
            m.insert(
                "IncrementalReadOptions".into(),
                serde_json::json!({
                    "Mode": inc.mode.unwrap_or_default(),
                    "StartTimeStamp": inc.start_timestamp.unwrap_or_default(),
                    "EndTimeStamp": inc.end_timestamp.unwrap_or_default(),
                    "StartVersion": inc.start_version.unwrap_or(0),
                    "EndVersion": inc.end_version.unwrap_or(0),
                }),
            );
        }
        v
    }
}

/// Converts the protocol's timestamp unit to the codec's.
pub(crate) fn codec_unit(u: TimestampUnit) -> CodecUnit {
    match u {
        TimestampUnit::Second => CodecUnit::Second,
        TimestampUnit::Milli => CodecUnit::Milli,
        TimestampUnit::Micro => CodecUnit::Micro,
        TimestampUnit::Nano => CodecUnit::Nano,
    }
}

/// Which rows of a table a plan selects.
#[derive(Default)]
pub(crate) struct Selection<'a> {
    pub data_columns: &'a [String],
    pub partition_columns: Option<&'a [String]>,
    pub partitions: &'a [String],
    pub bucket_ids: &'a [i64],
    pub filter: Option<&'a Expr>,
    pub versions: Option<(i64, i64)>,
    pub times: Option<(i64, i64)>,
}

fn unknown_column(table: &Table, name: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "column {name:?} does not exist in table {}",
        table.meta.display_name()
    ))
}

/// Plans a read of `table`.
pub(crate) fn plan_table(
    table: &Table,
    sel: &Selection<'_>,
    arrow: ArrowOptions,
) -> Result<Plan, ApiError> {
    let meta = &table.meta;
    let cols = &meta.columns;
    let mut out = Vec::new();
    let mut part_named = Vec::new();
    if sel.data_columns.is_empty() {
        for (i, c) in cols.data_columns.iter().enumerate() {
            out.push(OutColumn {
                column: c.clone(),
                source: Source::Data(i),
            });
        }
    } else {
        for n in sel.data_columns {
            if let Some(i) = cols
                .data_columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(n))
            {
                out.push(OutColumn {
                    column: cols.data_columns[i].clone(),
                    source: Source::Data(i),
                });
            } else if cols
                .partition_columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(n))
            {
                part_named.push(n.clone());
            } else {
                return Err(unknown_column(table, n));
            }
        }
    }
    let part_list: Vec<String> = match sel.partition_columns {
        Some(list) if !list.is_empty() => list.to_vec(),
        _ if !part_named.is_empty() => part_named,
        _ => cols
            .partition_columns
            .iter()
            .map(|c| c.name.clone())
            .collect(),
    };
    for n in &part_list {
        let i = cols
            .partition_columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(n))
            .ok_or_else(|| unknown_column(table, n))?;
        out.push(OutColumn {
            column: cols.partition_columns[i].clone(),
            source: Source::Partition(i),
        });
    }
    for c in &out {
        odps_to_arrow(&c.column.odps_type, &arrow)
            .map_err(|e| ApiError::unsupported(format!("column {}: {e}", c.column.name)))?;
    }
    let specs: Vec<Vec<(String, String)>> = sel
        .partitions
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let pairs = parse_partition_spec(s)?;
            for (k, _) in &pairs {
                if !cols
                    .partition_columns
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(k))
                {
                    return Err(ApiError::invalid_partition(format!(
                        "{k:?} in partition {s:?} is not a partition column of {}",
                        meta.display_name()
                    )));
                }
            }
            Ok(pairs)
        })
        .collect::<Result<_, ApiError>>()?;
    if !sel.bucket_ids.is_empty() {
        let Some(n) = meta.def.bucket_count else {
            return Err(ApiError::invalid_parameter(format!(
                "table {} is not bucketed; RequiredBucketIds cannot be used",
                meta.display_name()
            )));
        };
        if let Some(b) = sel
            .bucket_ids
            .iter()
            .find(|b| **b < 0 || **b >= i64::from(n))
        {
            return Err(ApiError::invalid_parameter(format!(
                "bucket id {b} is out of range 0..{n}"
            )));
        }
    }
    let mut filter_cols = Vec::new();
    if let Some(f) = sel.filter {
        f.columns(&mut filter_cols);
        for c in &filter_cols {
            if cols.find(c).is_none() {
                return Err(unknown_column(table, c));
            }
        }
    }
    let manifest = table.snapshot();
    let mut views = Vec::new();
    for f in &manifest.files {
        let partition: Vec<(String, String)> = cols
            .partition_columns
            .iter()
            .map(|c| c.name.clone())
            .zip(f.partition.iter().cloned())
            .collect();
        if !specs.is_empty()
            && !specs.iter().any(|spec| {
                spec.iter().all(|(k, v)| {
                    partition
                        .iter()
                        .any(|(pk, pv)| pk.eq_ignore_ascii_case(k) && pv == v)
                })
            })
        {
            continue;
        }
        if !sel.bucket_ids.is_empty()
            && !f
                .bucket
                .is_some_and(|b| sel.bucket_ids.contains(&i64::from(b)))
        {
            continue;
        }
        if let Some((lo, hi)) = sel.versions
            && !(f.version as i64 > lo && f.version as i64 <= hi)
        {
            continue;
        }
        if let Some((lo, hi)) = sel.times
            && !(f.commit_ms >= lo && f.commit_ms < hi)
        {
            continue;
        }
        let mut view = view_of(table.file_path(&f.name), f, partition);
        if let Some(expr) = sel.filter {
            apply_filter(&mut view, table, expr, &filter_cols)?;
        }
        views.push(view);
    }
    Ok(Plan {
        columns: out,
        views,
        file_schema: meta.file_schema.clone(),
        arrow,
    })
}

pub(crate) fn view_of(path: PathBuf, f: &DataFile, partition: Vec<(String, String)>) -> View {
    View {
        path,
        partition,
        bucket: f.bucket,
        rows: f.rows,
        bytes: f.bytes,
        batch_rows: f.batch_rows.clone(),
        batch_logical: f.batch_rows.clone(),
        mask: None,
    }
}

fn apply_filter(
    view: &mut View,
    table: &Table,
    expr: &Expr,
    filter_cols: &[String],
) -> Result<(), ApiError> {
    let data = &table.meta.columns.data_columns;
    let projection: Vec<usize> = filter_cols
        .iter()
        .filter_map(|c| data.iter().position(|d| d.name.eq_ignore_ascii_case(c)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let file = File::open(&view.path)?;
    let reader = FileReader::try_new_buffered(file, Some(projection))
        .map_err(|e| ApiError::internal(format!("cannot read {}: {e}", view.path.display())))?;
    let mut mask = Vec::with_capacity(view.rows as usize);
    let mut logical = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ApiError::internal(format!("cannot read data: {e}")))?;
        let m = filter::mask(expr, &batch, &view.partition)?;
        logical.push(m.iter().filter(|x| **x).count() as u64);
        mask.extend(m);
    }
    view.rows = logical.iter().sum();
    view.batch_logical = logical;
    view.mask = Some(Arc::new(mask));
    Ok(())
}

/// Cuts the rows of a plan into splits.
fn make_splits(
    plan: &Plan,
    mode: SplitMode,
    number: i64,
    cross_partition: bool,
    bucket_ids: &mut Vec<i64>,
    bucket_count: Option<u32>,
) -> Result<Vec<Split>, ApiError> {
    let all = plan.all();
    let total = plan.rows();
    match mode {
        SplitMode::Size | SplitMode::RowOffset | SplitMode::Parallelism => {
            let mut splits: Vec<Split> = Vec::new();
            let mut cur: Vec<Seg> = Vec::new();
            let mut acc = 0u64;
            let (target, by_rows) = match mode {
                SplitMode::Size => (
                    if number > 0 {
                        number as u64
                    } else {
                        maxstorage_protocol::read::DEFAULT_SPLIT_SIZE as u64
                    },
                    false,
                ),
                SplitMode::Parallelism => {
                    if number <= 0 {
                        return Err(ApiError::invalid_parameter(format!(
                            "SplitOptions: SplitMode Parallelism needs SplitNumber >= 1 (the number of splits), got {number}"
                        )));
                    }
                    let n = number as u64;
                    (total.div_ceil(n).max(1), true)
                }
                _ => (number.max(1) as u64, true),
            };
            let mut last_partition: Option<&Vec<(String, String)>> = None;
            for s in &all {
                let v = &plan.views[s.view];
                if !cross_partition
                    && last_partition.is_some_and(|p| *p != v.partition)
                    && !cur.is_empty()
                {
                    splits.push(Split {
                        segs: std::mem::take(&mut cur),
                    });
                    acc = 0;
                }
                last_partition = Some(&v.partition);
                let phys: u64 = v.batch_rows.iter().sum::<u64>().max(1);
                let row_bytes = (v.bytes / phys).max(1);
                let mut start = s.start;
                while start < s.end {
                    let unit = if by_rows { 1 } else { row_bytes };
                    let room_rows = (target.saturating_sub(acc)).div_ceil(unit).max(1);
                    let end = s.end.min(start + room_rows);
                    cur.push(Seg {
                        view: s.view,
                        start,
                        end,
                    });
                    acc += (end - start) * unit;
                    start = end;
                    if acc >= target {
                        splits.push(Split {
                            segs: std::mem::take(&mut cur),
                        });
                        acc = 0;
                    }
                }
            }
            if !cur.is_empty() || splits.is_empty() {
                splits.push(Split { segs: cur });
            }
            Ok(splits)
        }
        SplitMode::Bucket => {
            let Some(n) = bucket_count else {
                return Err(ApiError::invalid_parameter(
                    "SplitMode Bucket needs a bucketed (clustered) table",
                ));
            };
            if bucket_ids.is_empty() {
                *bucket_ids = (0..i64::from(n)).collect();
            }
            bucket_ids.sort_unstable();
            bucket_ids.dedup();
            Ok(bucket_ids
                .iter()
                .map(|b| Split {
                    segs: all
                        .iter()
                        .filter(|s| plan.views[s.view].bucket.map(i64::from) == Some(*b))
                        .copied()
                        .collect(),
                })
                .collect())
        }
    }
}

/// The body of `TableCreateReadSession` (bucket ids as numbers or strings are both
/// accepted by the protocol's parser).
fn session_options(req: &Request) -> Result<ReadSessionOptions, ApiError> {
    let v: Value = req.json()?;
    serde_json::from_value(v).map_err(|e| {
        ApiError::invalid_parameter(format!("malformed TableCreateReadSession body: {e}"))
    })
}

/// An inclusive-exclusive range of versions or times.
type Range = (i64, i64);

/// The version and time ranges of incremental options (both shapes, protocol.md A9).
fn incremental_ranges(
    o: &IncrementalReadOptions,
    latest: i64,
) -> Result<(Option<Range>, Option<Range>), ApiError> {
    let time = |s: &str, what: &str| -> Result<i64, ApiError> {
        if let Ok(n) = s.trim().parse::<i64>() {
            return Ok(n);
        }
        filter::parse_datetime(s)
            .map(|(secs, nanos)| secs * 1000 + nanos / 1_000_000)
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "IncrementalReadOptions.{what} {s:?} is not a time (YYYY-MM-DD HH:MM:SS)"
                ))
            })
    };
    let mut versions = None;
    let mut times = None;
    if o.start_version.is_some() || o.end_version.is_some() {
        let hi = o.end_version.filter(|v| *v > 0).unwrap_or(latest);
        versions = Some((o.start_version.unwrap_or(0), hi));
    }
    let start_ts = o
        .start_timestamp
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    let end_ts = o.end_timestamp.as_deref().filter(|s| !s.trim().is_empty());
    if start_ts.is_some() || end_ts.is_some() {
        times = Some((
            start_ts
                .map(|s| time(s, "StartTimeStamp"))
                .transpose()?
                .unwrap_or(i64::MIN),
            end_ts
                .map(|s| time(s, "EndTimeStamp"))
                .transpose()?
                .unwrap_or(i64::MAX),
        ));
    }
    // The odps.maxstorage shape: From/To are versions (numbers) or times (strings).
    let bound = |v: &Option<Value>| -> Result<Option<(bool, i64)>, ApiError> {
        Ok(match v {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_i64().map(|n| (true, n)),
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
                s.trim().parse::<i64>().ok().map(|n| (true, n))
            }
            Some(Value::String(s)) => Some((false, time(s, "From/To")?)),
            Some(other) => {
                return Err(ApiError::invalid_parameter(format!(
                    "IncrementalReadOptions From/To must be a version or a time, got {other}"
                )));
            }
        })
    };
    let (from, to) = (bound(&o.from)?, bound(&o.to)?);
    if from.is_some() || to.is_some() {
        if from.is_none_or(|x| x.0) && to.is_none_or(|x| x.0) {
            versions = Some((from.map_or(0, |x| x.1), to.map_or(latest, |x| x.1)));
        } else {
            times = Some((from.map_or(i64::MIN, |x| x.1), to.map_or(i64::MAX, |x| x.1)));
        }
    }
    Ok((versions, times))
}

pub(crate) fn table_of(state: &State, req: &Request) -> Result<Arc<Table>, ApiError> {
    let t = req.storage.table().ok_or_else(|| {
        ApiError::invalid_parameter(format!(
            "{} needs a table Target, got {}",
            req.storage.action,
            req.storage.target.value()
        ))
    })?;
    state.store.table(t.project(), t.schema(), t.table())
}

/// `TableCreateReadSession`.
pub(crate) fn create_session(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let table = table_of(state, req)?;
    let opts = session_options(req)?;
    let filter = filter::parse(&opts.filter_predicate)?;
    let arrow = ArrowOptions::default()
        .with_timestamp_unit(codec_unit(opts.arrow_options.timestamp_unit))
        .with_datetime_unit(codec_unit(opts.arrow_options.datetime_unit));
    let latest = table.snapshot().version as i64;
    let (versions, times) = match (&opts.incremental_read, &opts.incremental_read_options) {
        (true, Some(o)) => incremental_ranges(o, latest)?,
        _ => (None, None),
    };
    let sel = Selection {
        data_columns: &opts.required_data_columns,
        partition_columns: Some(&opts.required_partition_columns),
        partitions: &opts.required_partitions,
        bucket_ids: &opts.required_bucket_ids,
        filter: filter.as_ref(),
        versions,
        times,
    };
    let plan = plan_table(&table, &sel, arrow)?;
    let mut bucket_ids = opts.required_bucket_ids.clone();
    let mode = opts.split_options.mode;
    let splits = make_splits(
        &plan,
        mode,
        opts.split_options.number,
        opts.split_options.cross_partition,
        &mut bucket_ids,
        table.meta.def.bucket_count,
    )?;
    if mode != SplitMode::Bucket {
        bucket_ids.clear();
    }
    let ttl_ms = state.config.session_ttl.as_millis() as i64;
    state.sessions.purge(ttl_ms);
    let session = Arc::new(ReadSession {
        id: new_id("r"),
        table,
        plan,
        splits,
        mode,
        bucket_ids,
        latest_version: latest,
        incremental: opts
            .incremental_read
            .then(|| opts.incremental_read_options.clone())
            .flatten(),
        expires_ms: AtomicI64::new(now_ms() + ttl_ms),
        ttl_ms,
    });
    lock(&state.sessions.read).insert(session.id.clone(), session.clone());
    tracing::debug!(session = %session.id, splits = session.splits.len(), rows = session.plan.rows(), "read session created");
    Ok(Reply::json(&session.json(SessionStatus::Normal))
        .header(header::ROUTE_TOKEN, route_token(&session.id)))
}

fn session_for(state: &State, req: &Request) -> Result<Arc<ReadSession>, ApiError> {
    let id = req.storage.required("SessionId")?;
    let s = state.sessions.read_session(id)?;
    state
        .sessions
        .check_route_token(state.config.strict_route_tokens, req, &s.id)?;
    let t = req.storage.table();
    if let Some(t) = t
        && !(t.project().eq_ignore_ascii_case(&s.table.meta.def.project)
            && t.table().eq_ignore_ascii_case(&s.table.meta.def.name))
    {
        return Err(ApiError::not_found(
            "NoSuchSession",
            format!("read session {id:?} does not belong to table {}", t),
        ));
    }
    Ok(s)
}

/// `TableGetReadSession` (with `session_refresh=true` the lifetime is extended).
pub(crate) fn get_session(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session_for(state, req)?;
    if req.storage.bool_param("session_refresh")?.unwrap_or(false) {
        s.refresh();
    }
    let status = if s.is_expired() {
        SessionStatus::Expired
    } else {
        SessionStatus::Normal
    };
    Ok(Reply::json(&s.json(status)).header(header::ROUTE_TOKEN, route_token(&s.id)))
}

/// How a read answer is compressed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Encoding {
    pub ipc: Compression,
    pub body: Compression,
}

/// The encoding for a request's `ACCEPT-ENCODING` in the configured mode.
pub(crate) fn encoding(state: &State, req: &Request) -> Encoding {
    let asked = req
        .header(header::ACCEPT_ENCODING)
        .and_then(Compression::first_supported)
        .unwrap_or(Compression::Uncompressed);
    match state.config.read_compression {
        ReadCompression::Ipc => Encoding {
            ipc: asked,
            body: Compression::Uncompressed,
        },
        ReadCompression::Body => Encoding {
            ipc: Compression::Uncompressed,
            body: asked,
        },
    }
}

/// A streaming Arrow answer for rows `segs` of `plan`.
pub(crate) fn arrow_reply(
    plan: Plan,
    columns: Vec<OutColumn>,
    segs: Vec<Seg>,
    max_rows: usize,
    max_bytes: usize,
    enc: Encoding,
) -> Result<Reply, ApiError> {
    let schema = output_schema(&columns, &plan.arrow)?;
    let mut reply = Reply::stream(
        header::OCTET_STREAM,
        Box::new(move |tx: &ChunkSender| {
            stream_rows(
                &plan, &columns, &schema, &segs, max_rows, max_bytes, enc, tx,
            )
        }),
    );
    if let Some(token) = enc.body.http_token() {
        reply = reply.header(header::CONTENT_ENCODING, token);
    }
    Ok(reply)
}

/// `TableRead`.
pub(crate) fn read_rows(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let s = session_for(state, req)?;
    if s.is_expired() {
        return Err(ApiError::new(
            400,
            "SessionExpired",
            format!(
                "read session {} has expired; refresh it with session_refresh=true",
                s.id
            ),
        ));
    }
    if state.store.table_by_id(s.table.meta.id).is_none() {
        return Err(ApiError::not_found(
            "NoSuchTable",
            format!(
                "table {} of read session {} was dropped",
                s.table.meta.display_name(),
                s.id
            ),
        ));
    }
    let opts: ReadRowsOptions = req.json()?;
    let index = req.storage.i64_param("Index")?;
    let offset = req.storage.i64_param("Offset")?;
    let count = req
        .storage
        .i64_param("Count")?
        .filter(|c| *c > 0)
        .map(|c| c as u64);
    if offset.is_some_and(|o| o < 0) || opts.skip_row_num < 0 {
        return Err(ApiError::invalid_parameter(
            "Offset and SkipRowNum must not be negative",
        ));
    }
    let base: Vec<Seg> = match index {
        Some(i) => {
            let split = usize::try_from(i)
                .ok()
                .and_then(|i| s.splits.get(i))
                .ok_or_else(|| {
                    ApiError::invalid_parameter(format!(
                        "split index {i} is out of range: the session has {} split(s)",
                        s.splits.len()
                    ))
                })?;
            split.segs.clone()
        }
        None => s.plan.all(),
    };
    let selected = if offset.is_some() || count.is_some() {
        window(&base, offset.unwrap_or(0) as u64, count)
    } else {
        base
    };
    let segs = window(&selected, opts.skip_row_num as u64, None);
    let columns = s.plan.project(&opts.data_columns)?;
    let max_rows = batch_rows(opts.max_batch_rows);
    let max_bytes = usize::try_from(opts.max_batch_raw_size.max(0)).unwrap_or(usize::MAX);
    arrow_reply(
        s.plan.clone(),
        columns,
        segs,
        max_rows,
        max_bytes,
        encoding(state, req),
    )
}

pub(crate) fn batch_rows(n: i64) -> usize {
    if n <= 0 || n > MAX_BATCH_ROWS {
        DEFAULT_BATCH_ROWS as usize
    } else {
        n as usize
    }
}

/// `TablePreview`.
pub(crate) fn preview(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let table = table_of(state, req)?;
    let opts: PreviewOptions = req.json()?;
    let limit = match opts.limit {
        Some(l) => Some(l),
        None => req.storage.i64_param("Limit")?,
    };
    let partition = opts
        .partition
        .clone()
        .or_else(|| req.storage.param("Partition").map(str::to_string))
        .filter(|p| !p.trim().is_empty());
    let partitions: Vec<String> = partition.into_iter().collect();
    let columns = opts.columns.clone().unwrap_or_default();
    let sel = Selection {
        data_columns: &[],
        partitions: &partitions,
        ..Selection::default()
    };
    let plan = plan_table(&table, &sel, ArrowOptions::default())?;
    let out = plan.project(&columns)?;
    let segs = window(&plan.all(), 0, limit.filter(|l| *l > 0).map(|l| l as u64));
    arrow_reply(
        plan,
        out,
        segs,
        DEFAULT_BATCH_ROWS as usize,
        0,
        encoding(state, req),
    )
}

/// The Arrow schema of output columns.
pub(crate) fn output_schema(
    columns: &[OutColumn],
    arrow: &ArrowOptions,
) -> Result<SchemaRef, ApiError> {
    let fields = columns
        .iter()
        .map(|c| {
            Ok(Field::new(
                &c.column.name,
                odps_to_arrow(&c.column.odps_type, arrow)
                    .map_err(|e| ApiError::unsupported(format!("column {}: {e}", c.column.name)))?,
                c.column.nullable || matches!(c.source, Source::Partition(_)),
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// Writes encoded bytes, through the whole-body compressor when there is one.
struct Out<'a> {
    tx: &'a ChunkSender,
    compressor: Option<Compressor>,
}

impl Out<'_> {
    fn send(&mut self, b: Bytes) -> Result<(), ApiError> {
        let b = match &mut self.compressor {
            Some(c) => c
                .compress(&b)
                .map_err(|e| ApiError::internal(format!("compression: {e}")))?,
            None => b,
        };
        if self.tx.send(b) {
            Ok(())
        } else {
            Err(ApiError::internal("the client went away"))
        }
    }

    fn finish(mut self) -> Result<(), ApiError> {
        if let Some(mut c) = self.compressor.take() {
            let tail = c
                .finish()
                .map_err(|e| ApiError::internal(format!("compression: {e}")))?;
            if !self.tx.send(tail) {
                return Err(ApiError::internal("the client went away"));
            }
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn stream_rows(
    plan: &Plan,
    columns: &[OutColumn],
    schema: &SchemaRef,
    segs: &[Seg],
    max_rows: usize,
    max_bytes: usize,
    enc: Encoding,
    tx: &ChunkSender,
) -> Result<(), ApiError> {
    let mut encoder = IpcMessageEncoder::new(schema.clone(), enc.ipc, None)
        .map_err(|e| ApiError::internal(format!("encoder: {e}")))?;
    let compressor = match enc.body {
        Compression::Uncompressed => None,
        c => Some(Compressor::new(c).map_err(|e| ApiError::internal(e.to_string()))?),
    };
    let mut out = Out { tx, compressor };
    let m = encoder.schema_message().clone();
    out.send(m.header)?;
    out.send(m.body)?;
    let mut emit = |batch: RecordBatch| -> Result<(), ApiError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let n = max_rows.min(batch.num_rows() - offset);
            let piece = batch.slice(offset, n);
            offset += n;
            let pieces = if max_bytes > 0 {
                split_batch(&piece, max_bytes)
            } else {
                vec![piece]
            };
            for p in pieces {
                let m = encoder
                    .encode_batch(&p)
                    .map_err(|e| ApiError::internal(format!("encoder: {e}")))?;
                out.send(m.header)?;
                out.send(m.body)?;
            }
        }
        Ok(())
    };
    for seg in segs {
        read_segment(plan, columns, schema, seg, &mut emit)?;
    }
    out.send(IpcMessageEncoder::end_of_stream())?;
    out.finish()
}

/// Reads the logical rows of one segment, calling `emit` with output batches.
fn read_segment(
    plan: &Plan,
    columns: &[OutColumn],
    schema: &SchemaRef,
    seg: &Seg,
    emit: &mut dyn FnMut(RecordBatch) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let view = &plan.views[seg.view];
    let data_idx: Vec<usize> = columns
        .iter()
        .filter_map(|c| match c.source {
            Source::Data(i) => Some(i),
            Source::Partition(_) => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let file = File::open(&view.path)
        .map_err(|e| ApiError::internal(format!("cannot open {}: {e}", view.path.display())))?;
    let mut reader = FileReader::try_new_buffered(file, Some(data_idx.clone()))
        .map_err(|e| ApiError::internal(format!("cannot read {}: {e}", view.path.display())))?;
    let mut logical_at = 0u64;
    let mut phys_at = 0u64;
    let mut b = 0usize;
    while b < view.batch_logical.len() && logical_at + view.batch_logical[b] <= seg.start {
        logical_at += view.batch_logical[b];
        phys_at += view.batch_rows[b];
        b += 1;
    }
    reader
        .set_index(b)
        .map_err(|e| ApiError::internal(format!("cannot seek in {}: {e}", view.path.display())))?;
    while logical_at < seg.end && b < view.batch_logical.len() {
        let batch = reader
            .next()
            .ok_or_else(|| ApiError::internal(format!("{} ends early", view.path.display())))?
            .map_err(|e| ApiError::internal(format!("cannot read {}: {e}", view.path.display())))?;
        let n_logical = view.batch_logical[b];
        let batch = match &view.mask {
            Some(mask) => {
                let lo = phys_at as usize;
                let m = BooleanArray::from(mask[lo..lo + batch.num_rows()].to_vec());
                arrow_select::filter::filter_record_batch(&batch, &m)
                    .map_err(|e| ApiError::internal(e.to_string()))?
            }
            None => batch,
        };
        let lo = seg.start.saturating_sub(logical_at);
        let hi = (seg.end - logical_at).min(n_logical);
        if hi > lo {
            let piece = batch.slice(lo as usize, (hi - lo) as usize);
            emit(shape(plan, columns, schema, &data_idx, view, &piece)?)?;
        }
        logical_at += n_logical;
        phys_at += view.batch_rows[b];
        b += 1;
    }
    Ok(())
}

/// Builds the output batch: projected data columns in output order (cast to the
/// session's Arrow types) and constant partition columns.
fn shape(
    plan: &Plan,
    columns: &[OutColumn],
    schema: &SchemaRef,
    data_idx: &[usize],
    view: &View,
    batch: &RecordBatch,
) -> Result<RecordBatch, ApiError> {
    let n = batch.num_rows();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (c, field) in columns.iter().zip(schema.fields()) {
        let a: ArrayRef = match c.source {
            Source::Data(i) => {
                let pos = data_idx.iter().position(|d| *d == i).unwrap_or(0);
                batch.column(pos).clone()
            }
            Source::Partition(i) => {
                let v = view.partition.get(i).map(|(_, v)| v.as_str()).unwrap_or("");
                Arc::new(StringArray::from(vec![v; n])) as ArrayRef
            }
        };
        let a = if a.data_type() == field.data_type() {
            a
        } else {
            arrow_cast::cast(&a, field.data_type()).map_err(|e| {
                ApiError::internal(format!("column {}: cannot convert: {e}", c.column.name))
            })?
        };
        arrays.push(a);
    }
    let _ = &plan.file_schema;
    RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )
    .map_err(|e| ApiError::internal(e.to_string()))
}

/// Calls `f` with the output batches of rows `segs` of `plan` (admin dump, instances).
pub(crate) fn for_each_batch(
    plan: &Plan,
    columns: &[OutColumn],
    segs: &[Seg],
    f: &mut dyn FnMut(RecordBatch) -> Result<(), ApiError>,
) -> Result<SchemaRef, ApiError> {
    let schema = output_schema(columns, &plan.arrow)?;
    for seg in segs {
        read_segment(plan, columns, &schema, seg, f)?;
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let segs = vec![
            Seg {
                view: 0,
                start: 0,
                end: 10,
            },
            Seg {
                view: 1,
                start: 5,
                end: 8,
            },
        ];
        assert_eq!(
            window(&segs, 8, Some(3)),
            vec![
                Seg {
                    view: 0,
                    start: 8,
                    end: 10
                },
                Seg {
                    view: 1,
                    start: 5,
                    end: 6
                }
            ]
        );
        assert_eq!(
            window(&segs, 12, None),
            vec![Seg {
                view: 1,
                start: 7,
                end: 8
            }]
        );
        assert!(window(&segs, 13, None).is_empty());
    }
}
