//! Reads of query results (instances), protocol.md B§3.4. Instances are read-only.

use http::Method;
use http::response::Parts;
use serde::{Deserialize, Serialize};

use super::{Call, StreamingResponse, parse_json, parse_streaming};
use crate::action::Action;
use crate::compression::Compression;
use crate::config::{InstanceId, Target};
use crate::error::Error;
use crate::json::{bool_lenient, i64_lenient, opt_i64_lenient, string_lenient};
use crate::read::{RowRange, accept_encoding};
use crate::request::{Body, RequestContext, RequestSpec};
use crate::schema::WriteSchema;

/// An instance read session (the service calls its id `DownloadID`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InstanceReadSession {
    /// The session id.
    #[serde(rename = "DownloadID", default, deserialize_with = "string_lenient")]
    pub session_id: String,
    /// Rows in the result.
    #[serde(rename = "RecordCount", default, deserialize_with = "i64_lenient")]
    pub record_count: i64,
    /// Tunnel-style status in lower case (`initiating`, `normal`).
    #[serde(rename = "Status", default, deserialize_with = "string_lenient")]
    pub status: String,
    /// The result schema (write-schema format).
    #[serde(rename = "TableSchema", default)]
    pub table_schema: WriteSchema,
    /// The quota used.
    #[serde(rename = "QuotaName", default, deserialize_with = "string_lenient")]
    pub quota_name: String,
    /// Splits to read with `Index` (the user-guide SDK iterates `range(splits_count)`);
    /// absent from services that answer in the tunnel shape only.
    #[serde(
        rename = "SplitsCount",
        default,
        deserialize_with = "opt_i64_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub splits_count: Option<i64>,
}

impl InstanceReadSession {
    /// Whether the session is still being prepared (poll again).
    pub fn is_initiating(&self) -> bool {
        self.status.eq_ignore_ascii_case("initiating") || self.status.eq_ignore_ascii_case("init")
    }
}

#[derive(Serialize)]
struct EnableLimit {
    #[serde(rename = "EnableLimit")]
    enable_limit: bool,
}

/// `InstanceCreateReadSession`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateInstanceReadSession {
    /// The instance.
    pub instance: InstanceId,
    /// Apply the SQL `LIMIT` of the query (`EnableLimit`).
    pub enable_limit: bool,
}

impl Call for CreateInstanceReadSession {
    type Output = InstanceReadSession;

    fn action(&self) -> Action {
        Action::InstanceCreateReadSession
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        RequestSpec::json(
            self.action(),
            Target::Instance(self.instance.clone()),
            &EnableLimit {
                enable_limit: self.enable_limit,
            },
        )
        .build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<InstanceReadSession, Error> {
        parse_json(self.action(), parts, body)
    }
}

/// `InstanceGetReadSession` (a GET without body, as the Java and `odps.maxstorage`
/// clients send it).
#[derive(Debug, Clone, PartialEq)]
pub struct GetInstanceReadSession {
    /// The instance.
    pub instance: InstanceId,
    /// The session (`DownloadID`).
    pub session_id: String,
}

impl Call for GetInstanceReadSession {
    type Output = InstanceReadSession;

    fn action(&self) -> Action {
        Action::InstanceGetReadSession
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let mut spec = RequestSpec::json(
            self.action(),
            Target::Instance(self.instance.clone()),
            &serde_json::json!({}),
        )
        .param("SessionId", &self.session_id);
        spec.method = Method::GET;
        spec.body = Body::Empty;
        spec.content_type = Some(crate::header::JSON_CONTENT_TYPE);
        spec.build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<InstanceReadSession, Error> {
        parse_json(self.action(), parts, body)
    }
}

/// The body of `InstanceRead`, with the official SDKs' defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceReadOptions {
    /// The SQL task name (default `AnonymousSQLTask`).
    #[serde(rename = "TaskName", default, deserialize_with = "string_lenient")]
    pub task_name: String,
    /// The query id within the task.
    #[serde(rename = "QueryId", default, deserialize_with = "i64_lenient")]
    pub query_id: i64,
    /// Apply the SQL `LIMIT`.
    #[serde(rename = "EnableLimit", default, deserialize_with = "bool_lenient")]
    pub enable_limit: bool,
    /// Columns to return (`[]` = all).
    #[serde(rename = "Columns", default)]
    pub columns: Vec<String>,
}

crate::option_setters!(InstanceReadOptions {
    with_task_name => task_name: String,
    with_query_id => query_id: i64,
    with_enable_limit => enable_limit: bool,
    with_columns => columns: Vec<String>,
});

impl Default for InstanceReadOptions {
    fn default() -> InstanceReadOptions {
        InstanceReadOptions {
            task_name: "AnonymousSQLTask".into(),
            query_id: 0,
            enable_limit: false,
            columns: Vec::new(),
        }
    }
}

/// `InstanceRead`: rows of a query result as an Arrow IPC stream.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRead {
    /// The instance.
    pub instance: InstanceId,
    /// The session (`DownloadID`).
    pub session_id: String,
    /// Rows to read (`Offset`, `Count`); `None` = all.
    pub range: Option<RowRange>,
    /// Task, query and columns.
    pub options: InstanceReadOptions,
    /// Compression to ask for (`ACCEPT-ENCODING`).
    pub compression: Compression,
}

impl Call for InstanceRead {
    type Output = StreamingResponse;

    fn action(&self) -> Action {
        Action::InstanceRead
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let mut spec = RequestSpec::json(
            self.action(),
            Target::Instance(self.instance.clone()),
            &self.options,
        )
        .param("SessionId", &self.session_id);
        if let Some(r) = self.range {
            spec = spec.param("Offset", r.offset);
            if r.count > 0 {
                spec = spec.param("Count", r.count);
            }
        }
        accept_encoding(spec, self.compression).build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<StreamingResponse, Error> {
        parse_streaming(self.action(), parts, body)
    }
}
