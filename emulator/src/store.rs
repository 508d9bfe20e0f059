//! Durable table storage under the data directory.
//!
//! Layout:
//!
//! ```text
//! <data dir>/catalog.json                     tables (definition, persistent id), next id
//! <data dir>/tables/<id>/manifest.json        committed version, commit times, data files
//! <data dir>/tables/<id>/data/<name>.arrow    committed data (Arrow IPC files)
//! <data dir>/staging/                         uncommitted data of write sessions
//! <data dir>/blobs/, instances/               see the blob and instance modules
//! ```
//!
//! Every JSON document is replaced atomically: written to a temporary file, fsynced,
//! renamed over the old one, and the directory fsynced. A commit first moves its
//! (already fsynced) staged files into the table's data directory and fsyncs it, then
//! replaces the manifest: a crash at any point leaves the table with the old manifest or
//! the new one, never a part of a commit. Files no manifest references (a commit cut
//! short, replaced data) and everything in `staging/` are removed when the store opens.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_ipc::writer::FileWriter;
use arrow_schema::{DataType, Schema, SchemaRef};
use maxstorage_codec::types::{ArrowOptions, odps_to_arrow};
use maxstorage_protocol::schema::{Column, OdpsType, TableColumns, WriteSchema};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Error};
use crate::util::{lock, now_ms, random_hex};

/// A column of a table definition (admin API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// Column name.
    pub name: String,
    /// MaxCompute type string, e.g. `bigint`, `decimal(10,2)`, `array<string>`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether NULL is allowed (default true).
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Comment.
    #[serde(default)]
    pub comment: String,
}

fn yes() -> bool {
    true
}

fn default_schema() -> String {
    "default".to_string()
}

impl ColumnDef {
    /// A nullable column.
    pub fn new(name: impl Into<String>, type_name: impl Into<String>) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            type_name: type_name.into(),
            nullable: true,
            comment: String::new(),
        }
    }
}

/// A table definition (admin API `POST /admin/v1/tables`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    /// Project.
    pub project: String,
    /// Schema (default `default`).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Data columns.
    pub columns: Vec<ColumnDef>,
    /// Partition columns, in partition-level order.
    #[serde(default)]
    pub partition_columns: Vec<ColumnDef>,
    /// Primary key columns (marked as distribution keys in write schemas; the table gets
    /// the `__operation` system column).
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Number of hash buckets (clustered table), for `RequiredBucketIds` and Bucket splits.
    #[serde(default)]
    pub bucket_count: Option<u32>,
    /// Columns whose values choose the bucket (default: the primary key).
    #[serde(default)]
    pub cluster_columns: Vec<String>,
}

impl TableDef {
    /// A table in the `default` schema with these data columns.
    pub fn new(
        project: impl Into<String>,
        name: impl Into<String>,
        columns: Vec<ColumnDef>,
    ) -> TableDef {
        TableDef {
            project: project.into(),
            schema: default_schema(),
            name: name.into(),
            columns,
            partition_columns: Vec::new(),
            primary_key: Vec::new(),
            bucket_count: None,
            cluster_columns: Vec::new(),
        }
    }

    /// This table with partition columns.
    #[must_use]
    pub fn with_partitions(mut self, partition_columns: Vec<ColumnDef>) -> TableDef {
        self.partition_columns = partition_columns;
        self
    }

    /// This table with hash buckets over `cluster_columns`.
    #[must_use]
    pub fn with_buckets(mut self, bucket_count: u32, cluster_columns: Vec<String>) -> TableDef {
        self.bucket_count = Some(bucket_count);
        self.cluster_columns = cluster_columns;
        self
    }

    /// This table with a primary key.
    #[must_use]
    pub fn with_primary_key(mut self, primary_key: Vec<String>) -> TableDef {
        self.primary_key = primary_key;
        self
    }
}

/// The key of a table: lower-case project, schema and name.
pub(crate) type TableKey = (String, String, String);

pub(crate) fn table_key(project: &str, schema: &str, name: &str) -> TableKey {
    (
        project.to_ascii_lowercase(),
        schema.to_ascii_lowercase(),
        name.to_ascii_lowercase(),
    )
}

/// A table as stored: its definition and persistent id, with derived schemas.
#[derive(Debug)]
pub struct TableMeta {
    /// Persistent id (never reused).
    pub id: u64,
    /// Definition.
    pub def: TableDef,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Columns with their types and ids.
    pub columns: TableColumns,
    /// Arrow schema of the data files (data columns, default Arrow options).
    pub file_schema: SchemaRef,
    /// Indexes (in data columns) of the cluster columns, for bucketed tables.
    pub cluster_indexes: Vec<usize>,
}

#[derive(Serialize, Deserialize)]
struct StoredTable {
    id: u64,
    def: TableDef,
    created_ms: i64,
}

#[derive(Serialize, Deserialize, Default)]
struct CatalogFile {
    next_table_id: u64,
    tables: Vec<StoredTable>,
}

impl TableMeta {
    fn build(id: u64, def: TableDef, created_ms: i64) -> Result<TableMeta, ApiError> {
        let bad = |m: String| ApiError::invalid_parameter(format!("table {}: {m}", def.name));
        for (what, v) in [
            ("project", &def.project),
            ("schema", &def.schema),
            ("name", &def.name),
        ] {
            if v.is_empty() || v.contains(['.', '/', ' ']) {
                return Err(bad(format!("invalid {what} {v:?}")));
            }
        }
        if def.columns.is_empty() {
            return Err(bad("a table needs at least one data column".into()));
        }
        let mut seen: Vec<String> = Vec::new();
        let mut convert = |c: &ColumnDef, partition: bool| -> Result<Column, ApiError> {
            let lower = c.name.to_ascii_lowercase();
            if c.name.is_empty() || seen.contains(&lower) {
                return Err(bad(format!(
                    "column name {:?} is empty or repeated",
                    c.name
                )));
            }
            seen.push(lower);
            let ty = OdpsType::parse(&c.type_name)
                .map_err(|e| bad(format!("column {}: {e}", c.name)))?;
            odps_to_arrow(&ty, &ArrowOptions::default())
                .map_err(|e| bad(format!("column {}: {e}", c.name)))?;
            if partition && ty.is_complex() {
                return Err(bad(format!(
                    "partition column {} must be a primitive type",
                    c.name
                )));
            }
            Ok(Column::new(c.name.clone(), ty)
                .with_nullable(c.nullable && !partition)
                .with_comment(c.comment.clone()))
        };
        let mut columns = TableColumns {
            data_columns: def
                .columns
                .iter()
                .map(|c| convert(c, false))
                .collect::<Result<_, _>>()?,
            partition_columns: def
                .partition_columns
                .iter()
                .map(|c| convert(c, true))
                .collect::<Result<_, _>>()?,
            system_columns: Vec::new(),
        };
        for k in &def.primary_key {
            if !columns
                .data_columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(k))
            {
                return Err(bad(format!(
                    "primary key column {k:?} is not a data column"
                )));
            }
        }
        if !def.primary_key.is_empty() {
            columns.system_columns.push(
                Column::new(
                    maxstorage_protocol::schema::OPERATION_COLUMN,
                    OdpsType::Tinyint,
                )
                .with_nullable(true),
            );
        }
        columns.assign_missing_column_ids();
        let cluster: &[String] = if def.cluster_columns.is_empty() {
            &def.primary_key
        } else {
            &def.cluster_columns
        };
        let mut cluster_indexes = Vec::new();
        if let Some(n) = def.bucket_count {
            if n == 0 || n > 4096 {
                return Err(bad(format!("bucket_count {n} must be in 1..=4096")));
            }
            if cluster.is_empty() {
                return Err(bad("a bucketed table needs cluster columns".into()));
            }
            for c in cluster {
                let i = columns
                    .data_columns
                    .iter()
                    .position(|d| d.name.eq_ignore_ascii_case(c))
                    .ok_or_else(|| bad(format!("cluster column {c:?} is not a data column")))?;
                cluster_indexes.push(i);
            }
        }
        let fields = columns
            .data_columns
            .iter()
            .map(|c| {
                maxstorage_codec::types::odps_field(
                    &c.name,
                    &c.odps_type,
                    c.nullable,
                    &ArrowOptions::default(),
                )
                .map_err(|e| bad(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TableMeta {
            id,
            def,
            created_ms,
            columns,
            file_schema: Arc::new(Schema::new(fields)),
            cluster_indexes,
        })
    }

    /// The write schema with distribution keys flagged.
    pub fn write_schema(&self) -> WriteSchema {
        let mut ws = self.columns.to_write_schema();
        for c in ws.data_columns.iter_mut() {
            if self
                .def
                .primary_key
                .iter()
                .any(|k| k.eq_ignore_ascii_case(c.name()))
            {
                c.column_type.is_distribution_key = true;
            }
        }
        ws
    }

    /// `project.schema.table`.
    pub fn display_name(&self) -> String {
        format!("{}.{}.{}", self.def.project, self.def.schema, self.def.name)
    }

    /// Whether the table has partition columns.
    pub fn is_partitioned(&self) -> bool {
        !self.columns.partition_columns.is_empty()
    }
}

/// One committed data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// File name in the table's data directory.
    pub name: String,
    /// Partition values, in partition-column order.
    pub partition: Vec<String>,
    /// Bucket of a bucketed table.
    pub bucket: Option<u32>,
    /// Rows.
    pub rows: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Rows of each record batch in the file.
    pub batch_rows: Vec<u64>,
    /// The commit version that added it.
    pub version: u64,
    /// The commit time, ms since the epoch.
    pub commit_ms: i64,
}

/// The committed state of a table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Table id.
    pub table_id: u64,
    /// Latest commit version (0 = nothing committed).
    pub version: u64,
    /// Data files.
    pub files: Vec<DataFile>,
}

/// A table: its metadata and committed state.
#[derive(Debug)]
pub struct Table {
    /// Definition and schemas.
    pub meta: Arc<TableMeta>,
    manifest: RwLock<Arc<Manifest>>,
    commit_lock: Mutex<()>,
    dir: PathBuf,
}

impl Table {
    /// The current committed state.
    pub fn snapshot(&self) -> Arc<Manifest> {
        match self.manifest.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The path of a data file.
    pub fn file_path(&self, name: &str) -> PathBuf {
        self.dir.join("data").join(name)
    }
}

/// A file of uncommitted rows, written and fsynced in the staging directory.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    /// Partition values.
    pub partition: Vec<String>,
    /// Bucket.
    pub bucket: Option<u32>,
    /// Rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
    batch_rows: Vec<u64>,
    committed: bool,
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Which committed files a commit replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replace {
    /// None (append).
    Nothing,
    /// Files whose partition starts with these values (an empty prefix is every file).
    PartitionPrefix(Vec<String>),
    /// Files of exactly these partitions.
    Partitions(Vec<Vec<String>>),
}

/// The catalog of tables and their committed data.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    catalog: Mutex<CatalogState>,
    staged_counter: AtomicU64,
}

#[derive(Debug, Default)]
struct CatalogState {
    next_table_id: u64,
    tables: BTreeMap<TableKey, Arc<Table>>,
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, directory fsync.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("path without a directory"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        random_hex(8)
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Fsyncs a directory (so renames and creations in it are durable).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Store {
    /// Opens (creating if needed) the store under `root`, removing staged and orphaned
    /// files.
    pub fn open(root: &Path) -> Result<Store, Error> {
        let ctx = |what: &str, p: &Path| format!("{what} {}", p.display());
        for d in ["tables", "staging", "blobs", "instances"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(|e| Error::io(ctx("cannot create", &p), e))?;
        }
        let staging = root.join("staging");
        for entry in
            fs::read_dir(&staging).map_err(|e| Error::io(ctx("cannot list", &staging), e))?
        {
            let entry = entry.map_err(|e| Error::io(ctx("cannot list", &staging), e))?;
            let p = entry.path();
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
        let catalog_path = root.join("catalog.json");
        let catalog: CatalogFile = match fs::read(&catalog_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::Corrupt(format!("{}: {e}", catalog_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CatalogFile::default(),
            Err(e) => return Err(Error::io(ctx("cannot read", &catalog_path), e)),
        };
        let mut state = CatalogState {
            next_table_id: catalog.next_table_id.max(1),
            tables: BTreeMap::new(),
        };
        let mut live_dirs = Vec::new();
        for stored in catalog.tables {
            let meta = TableMeta::build(stored.id, stored.def, stored.created_ms)
                .map_err(|e| Error::Corrupt(format!("table {}: {}", stored.id, e.message)))?;
            let dir = root.join("tables").join(stored.id.to_string());
            let manifest_path = dir.join("manifest.json");
            let manifest: Manifest = serde_json::from_slice(
                &fs::read(&manifest_path)
                    .map_err(|e| Error::io(ctx("cannot read", &manifest_path), e))?,
            )
            .map_err(|e| Error::Corrupt(format!("{}: {e}", manifest_path.display())))?;
            let data = dir.join("data");
            fs::create_dir_all(&data).map_err(|e| Error::io(ctx("cannot create", &data), e))?;
            for entry in fs::read_dir(&data).map_err(|e| Error::io(ctx("cannot list", &data), e))? {
                let entry = entry.map_err(|e| Error::io(ctx("cannot list", &data), e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !manifest.files.iter().any(|f| f.name == name) {
                    tracing::debug!(file = %entry.path().display(), "removing unreferenced file");
                    let _ = fs::remove_file(entry.path());
                }
            }
            for f in &manifest.files {
                if !data.join(&f.name).is_file() {
                    return Err(Error::Corrupt(format!(
                        "table {} references missing file {}",
                        meta.display_name(),
                        f.name
                    )));
                }
            }
            live_dirs.push(stored.id.to_string());
            let key = table_key(&meta.def.project, &meta.def.schema, &meta.def.name);
            state.tables.insert(
                key,
                Arc::new(Table {
                    meta: Arc::new(meta),
                    manifest: RwLock::new(Arc::new(manifest)),
                    commit_lock: Mutex::new(()),
                    dir,
                }),
            );
        }
        let tables_dir = root.join("tables");
        if let Ok(entries) = fs::read_dir(&tables_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !live_dirs.contains(&name) {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(Store {
            root: root.to_path_buf(),
            catalog: Mutex::new(state),
            staged_counter: AtomicU64::new(0),
        })
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn save_catalog(&self, state: &CatalogState) -> std::io::Result<()> {
        let file = CatalogFile {
            next_table_id: state.next_table_id,
            tables: state
                .tables
                .values()
                .map(|t| StoredTable {
                    id: t.meta.id,
                    def: t.meta.def.clone(),
                    created_ms: t.meta.created_ms,
                })
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        write_atomic(&self.root.join("catalog.json"), &bytes)
    }

    /// Creates a table.
    pub fn create_table(&self, def: TableDef) -> Result<Arc<Table>, ApiError> {
        let mut state = lock(&self.catalog);
        let key = table_key(&def.project, &def.schema, &def.name);
        if state.tables.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "TableAlreadyExists",
                format!(
                    "table {}.{}.{} already exists",
                    def.project, def.schema, def.name
                ),
            ));
        }
        let id = state.next_table_id;
        let meta = TableMeta::build(id, def, now_ms())?;
        let dir = self.root.join("tables").join(id.to_string());
        fs::create_dir_all(dir.join("data"))?;
        let manifest = Manifest {
            table_id: id,
            version: 0,
            files: Vec::new(),
        };
        write_atomic(
            &dir.join("manifest.json"),
            &serde_json::to_vec(&manifest).map_err(std::io::Error::other)?,
        )?;
        sync_dir(&self.root.join("tables"))?;
        let table = Arc::new(Table {
            meta: Arc::new(meta),
            manifest: RwLock::new(Arc::new(manifest)),
            commit_lock: Mutex::new(()),
            dir,
        });
        state.next_table_id = id + 1;
        state.tables.insert(key.clone(), table.clone());
        if let Err(e) = self.save_catalog(&state) {
            state.tables.remove(&key);
            return Err(e.into());
        }
        Ok(table)
    }

    /// Drops a table; its files are removed.
    pub fn drop_table(&self, project: &str, schema: &str, name: &str) -> Result<(), ApiError> {
        let mut state = lock(&self.catalog);
        let key = table_key(project, schema, name);
        let Some(table) = state.tables.remove(&key) else {
            return Err(no_such_table(project, schema, name));
        };
        if let Err(e) = self.save_catalog(&state) {
            state.tables.insert(key, table);
            return Err(e.into());
        }
        // Hold the commit lock so no commit is moving files in while the directory goes.
        let _guard = lock(&table.commit_lock);
        let _ = fs::remove_dir_all(&table.dir);
        Ok(())
    }

    /// A table by name.
    pub fn table(&self, project: &str, schema: &str, name: &str) -> Result<Arc<Table>, ApiError> {
        lock(&self.catalog)
            .tables
            .get(&table_key(project, schema, name))
            .cloned()
            .ok_or_else(|| no_such_table(project, schema, name))
    }

    /// Every table.
    pub fn tables(&self) -> Vec<Arc<Table>> {
        lock(&self.catalog).tables.values().cloned().collect()
    }

    /// Whether the table with this id still exists.
    pub fn table_by_id(&self, id: u64) -> Option<Arc<Table>> {
        lock(&self.catalog)
            .tables
            .values()
            .find(|t| t.meta.id == id)
            .cloned()
    }

    /// A new path in the staging directory.
    pub(crate) fn staging_path(&self, ext: &str) -> PathBuf {
        let n = self.staged_counter.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("staging")
            .join(format!("{n:08}-{}.{ext}", random_hex(6)))
    }

    /// Commits staged files to a table, replacing the files `replace` selects, as one
    /// new version. Fails if the table was dropped (or dropped and recreated) since. On
    /// failure nothing is published and every file is moved back to staging: the files
    /// stay the caller's, to commit again.
    pub fn commit(
        &self,
        table: &Arc<Table>,
        files: &mut [StagedFile],
        replace: &Replace,
    ) -> Result<u64, ApiError> {
        self.commit_or_fail(table, files, replace, false)
    }

    /// [`commit`](Self::commit), failing with an injected I/O error after the files were
    /// moved when `inject_failure` (the `fail_store_commit` fault).
    pub(crate) fn commit_or_fail(
        &self,
        table: &Arc<Table>,
        files: &mut [StagedFile],
        replace: &Replace,
        inject_failure: bool,
    ) -> Result<u64, ApiError> {
        let _guard = lock(&table.commit_lock);
        match self.table_by_id(table.meta.id) {
            Some(t) if Arc::ptr_eq(&t, table) => {}
            _ => {
                return Err(ApiError::not_found(
                    "NoSuchTable",
                    format!(
                        "table {} (id {}) was dropped; its sessions can no longer commit",
                        table.meta.display_name(),
                        table.meta.id
                    ),
                ));
            }
        }
        let data_dir = table.dir.join("data");
        let mut moved: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(files.len());
        let result =
            self.commit_moving(table, files, replace, &data_dir, &mut moved, inject_failure);
        if result.is_err() {
            // Nothing was published: put every file back where it was staged, so that the
            // session still holds its rows and a retried commit commits them.
            for (staged, committed) in moved.into_iter().rev() {
                if let Err(e) = fs::rename(&committed, &staged) {
                    tracing::error!(file = %committed.display(), error = %e, "cannot move a file back to staging after a failed commit");
                }
            }
            for f in files.iter_mut() {
                f.committed = false;
            }
        }
        result
    }

    /// The body of [`commit`](Self::commit): moves the files into the table and publishes
    /// the new manifest; `moved` records every move made, for the caller to undo on error.
    fn commit_moving(
        &self,
        table: &Arc<Table>,
        files: &mut [StagedFile],
        replace: &Replace,
        data_dir: &Path,
        moved: &mut Vec<(PathBuf, PathBuf)>,
        inject_failure: bool,
    ) -> Result<u64, ApiError> {
        let old = table.snapshot();
        let version = old.version + 1;
        let commit_ms = now_ms();
        let mut added = Vec::with_capacity(files.len());
        for f in files.iter_mut() {
            let name = format!("v{version:06}-{}.arrow", random_hex(8));
            let target = data_dir.join(&name);
            fs::rename(&f.path, &target)?;
            moved.push((f.path.clone(), target));
            f.committed = true;
            added.push(DataFile {
                name,
                partition: f.partition.clone(),
                bucket: f.bucket,
                rows: f.rows,
                bytes: f.bytes,
                batch_rows: f.batch_rows.clone(),
                version,
                commit_ms,
            });
        }
        sync_dir(data_dir)?;
        if inject_failure {
            return Err(std::io::Error::other(
                "injected fault: the table commit failed after moving its files",
            )
            .into());
        }
        let mut kept: Vec<DataFile> = old
            .files
            .iter()
            .filter(|f| !replaces(replace, &f.partition))
            .cloned()
            .collect();
        kept.extend(added);
        let manifest = Manifest {
            table_id: table.meta.id,
            version,
            files: kept,
        };
        write_atomic(
            &table.dir.join("manifest.json"),
            &serde_json::to_vec(&manifest).map_err(std::io::Error::other)?,
        )?;
        let removed: Vec<String> = old
            .files
            .iter()
            .filter(|f| replaces(replace, &f.partition))
            .map(|f| f.name.clone())
            .collect();
        match table.manifest.write() {
            Ok(mut g) => *g = Arc::new(manifest),
            Err(p) => *p.into_inner() = Arc::new(manifest),
        }
        if !removed.is_empty() {
            tracing::debug!(table = %table.meta.display_name(), files = removed.len(), "replaced files kept until restart for open read sessions");
        }
        Ok(version)
    }
}

fn replaces(replace: &Replace, partition: &[String]) -> bool {
    match replace {
        Replace::Nothing => false,
        Replace::PartitionPrefix(prefix) => partition.starts_with(prefix),
        Replace::Partitions(list) => list.iter().any(|p| p.as_slice() == partition),
    }
}

pub(crate) fn no_such_table(project: &str, schema: &str, name: &str) -> ApiError {
    ApiError::not_found(
        "NoSuchTable",
        format!("table {project}.{schema}.{name} does not exist"),
    )
}

/// Writes incoming rows into staged files, one per partition (and bucket).
///
/// Batches arrive in the *write layout*: the table's data columns, then the partition
/// columns not fixed by the static partition (dynamic partitions). Rows are grouped by
/// their partition values (and bucket), and the data columns are written.
pub struct Stager<'a> {
    store: &'a Store,
    meta: Arc<TableMeta>,
    static_values: Vec<Option<String>>,
    /// For each partition column not fixed statically, its index in the write layout.
    dynamic: Vec<(usize, usize)>,
    writers: HashMap<(Vec<String>, Option<u32>), OpenStaged>,
    rows: u64,
}

struct OpenStaged {
    path: PathBuf,
    writer: FileWriter<BufWriter<File>>,
    rows: u64,
    batch_rows: Vec<u64>,
}

impl Drop for Stager<'_> {
    fn drop(&mut self) {
        for (_, w) in self.writers.drain() {
            let _ = fs::remove_file(&w.path);
        }
    }
}

impl<'a> Stager<'a> {
    /// A stager for `meta` with the static partition `partial` (pairs of the session's
    /// partition spec).
    pub fn new(
        store: &'a Store,
        meta: Arc<TableMeta>,
        partial: &[(String, String)],
    ) -> Result<Stager<'a>, ApiError> {
        let layout = write_layout(&meta, partial)?;
        Ok(Stager {
            store,
            static_values: layout.static_values,
            dynamic: layout.dynamic,
            meta,
            writers: HashMap::new(),
            rows: 0,
        })
    }

    /// Rows staged so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Stages one batch in the write layout (already checked against it).
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), ApiError> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let data_cols = self.meta.columns.data_columns.len();
        let dyn_values: Vec<(usize, Vec<Option<String>>)> = self
            .dynamic
            .iter()
            .map(|(pi, col)| Ok((*pi, string_values(batch.column(*col))?)))
            .collect::<Result<_, ApiError>>()?;
        let bucket_keys: Option<Vec<Vec<Option<String>>>> = if self.meta.def.bucket_count.is_some()
        {
            Some(
                self.meta
                    .cluster_indexes
                    .iter()
                    .map(|i| string_values(batch.column(*i)))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            None
        };
        let mut groups: HashMap<(Vec<String>, Option<u32>), Vec<u32>> = HashMap::new();
        for row in 0..n {
            let mut part = Vec::with_capacity(self.static_values.len());
            for (pi, sv) in self.static_values.iter().enumerate() {
                match sv {
                    Some(v) => part.push(v.clone()),
                    None => {
                        let values = &dyn_values
                            .iter()
                            .find(|(i, _)| *i == pi)
                            .map(|(_, v)| v)
                            .ok_or_else(|| ApiError::internal("dynamic partition layout"))?;
                        match &values[row] {
                            Some(v) if !v.is_empty() && !v.contains(['/', ',', '=']) => {
                                part.push(v.clone())
                            }
                            other => {
                                return Err(ApiError::invalid_partition(format!(
                                    "row {row}: dynamic partition column {} has the invalid value {other:?}",
                                    self.meta.columns.partition_columns[pi].name
                                )));
                            }
                        }
                    }
                }
            }
            let bucket = match (&bucket_keys, self.meta.def.bucket_count) {
                (Some(keys), Some(count)) => Some(bucket_of(keys, row, count)),
                _ => None,
            };
            groups.entry((part, bucket)).or_default().push(row as u32);
        }
        let data_batch = batch
            .project(&(0..data_cols).collect::<Vec<_>>())
            .map_err(|e| ApiError::invalid_data(e.to_string()))?;
        let data_batch =
            RecordBatch::try_new(self.meta.file_schema.clone(), data_batch.columns().to_vec())
                .map_err(|e| ApiError::invalid_data(e.to_string()))?;
        let single = groups.len() == 1;
        for (key, rows) in groups {
            let part = if single {
                data_batch.clone()
            } else {
                let idx = UInt32Array::from(rows);
                arrow_select::take::take_record_batch(&data_batch, &idx)
                    .map_err(|e| ApiError::internal(e.to_string()))?
            };
            let w = match self.writers.entry(key) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let path = self.store.staging_path("arrow");
                    let file = File::create(&path)?;
                    let writer = FileWriter::try_new_buffered(file, &self.meta.file_schema)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    v.insert(OpenStaged {
                        path,
                        writer,
                        rows: 0,
                        batch_rows: Vec::new(),
                    })
                }
            };
            w.writer
                .write(&part)
                .map_err(|e| ApiError::internal(format!("staging write: {e}")))?;
            w.rows += part.num_rows() as u64;
            w.batch_rows.push(part.num_rows() as u64);
        }
        self.rows += n as u64;
        Ok(())
    }

    /// Finishes the staged files (fsynced).
    pub fn finish(self) -> Result<Vec<StagedFile>, ApiError> {
        self.finish_or_fail(false)
    }

    /// [`finish`](Self::finish), failing as if the first file's fsync had failed when
    /// `inject_failure` (the `fail_store_stage` fault). On any failure no staged file is
    /// left behind.
    pub(crate) fn finish_or_fail(
        mut self,
        inject_failure: bool,
    ) -> Result<Vec<StagedFile>, ApiError> {
        let mut out = Vec::new();
        let writers: Vec<_> = self.writers.drain().collect();
        let mut err = None;
        for ((partition, bucket), mut w) in writers {
            if err.is_some() {
                let _ = fs::remove_file(&w.path);
                continue;
            }
            let result = (|| -> Result<u64, ApiError> {
                w.writer
                    .finish()
                    .map_err(|e| ApiError::internal(format!("staging write: {e}")))?;
                let file = w
                    .writer
                    .into_inner()
                    .map_err(|e| ApiError::internal(format!("staging write: {e}")))?
                    .into_inner()
                    .map_err(|e| ApiError::internal(format!("staging write: {e}")))?;
                file.sync_all()?;
                if inject_failure {
                    return Err(std::io::Error::other(
                        "injected fault: fsync of a staged file failed",
                    )
                    .into());
                }
                Ok(file.metadata()?.len())
            })();
            match result {
                Ok(bytes) => out.push(StagedFile {
                    path: w.path,
                    partition,
                    bucket,
                    rows: w.rows,
                    bytes,
                    batch_rows: w.batch_rows,
                    committed: false,
                }),
                Err(e) => {
                    let _ = fs::remove_file(&w.path);
                    err = Some(e);
                }
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

/// How incoming rows map to a table for a given static partition.
pub(crate) struct WriteLayout {
    /// Per partition column: its static value, or `None` when written dynamically.
    pub static_values: Vec<Option<String>>,
    /// (partition column index, index in the write layout) of dynamic partition columns.
    pub dynamic: Vec<(usize, usize)>,
}

/// Checks a static partition spec against the table and works out the write layout.
pub(crate) fn write_layout(
    meta: &TableMeta,
    partial: &[(String, String)],
) -> Result<WriteLayout, ApiError> {
    let pcols = &meta.columns.partition_columns;
    for (k, _) in partial {
        if !pcols.iter().any(|c| c.name.eq_ignore_ascii_case(k)) {
            return Err(ApiError::invalid_partition(format!(
                "{k:?} is not a partition column of {} (partition columns: [{}])",
                meta.display_name(),
                pcols
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut static_values = Vec::new();
    let mut dynamic = Vec::new();
    let data = meta.columns.data_columns.len();
    for (i, c) in pcols.iter().enumerate() {
        match partial
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&c.name))
        {
            Some((_, v)) => static_values.push(Some(v.clone())),
            None => {
                dynamic.push((i, data + dynamic.len()));
                static_values.push(None);
            }
        }
    }
    Ok(WriteLayout {
        static_values,
        dynamic,
    })
}

/// The bucket of a row: CRC-32 of its cluster values.
fn bucket_of(keys: &[Vec<Option<String>>], row: usize, count: u32) -> u32 {
    let mut text = String::new();
    for k in keys {
        text.push_str(k[row].as_deref().unwrap_or("\u{0}"));
        text.push('\u{1}');
    }
    maxstorage_protocol::frame::crc32(text.as_bytes()) % count
}

/// The values of a column as text (for partition values and bucket keys).
pub(crate) fn string_values(array: &ArrayRef) -> Result<Vec<Option<String>>, ApiError> {
    let strings = arrow_cast::cast(array, &DataType::Utf8)
        .map_err(|e| ApiError::invalid_data(format!("cannot read values as text: {e}")))?;
    let strings = strings
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .ok_or_else(|| ApiError::internal("cast to Utf8 did not give strings"))?;
    Ok((0..strings.len())
        .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string()))
        .collect())
}
