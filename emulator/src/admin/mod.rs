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
//! | `GET`/`POST`/`DELETE /admin/v1/faults` | [`FaultSpec`](crate::fault::FaultSpec) (POST) | list / `{}` |
//!
//! The server side (the handlers the emulator mounts under `/admin/v1/`) is
//! in the private `server` module; [`AdminClient`] is the client, on the crate's
//! [`http_client`](crate::http_client).

use serde::{Deserialize, Serialize};

use crate::store::TableDef;

mod client;
mod server;

pub use client::AdminClient;
pub(crate) use server::handle;

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
