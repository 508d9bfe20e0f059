//! What the clients' scripted-transport tests (`transport-*/tests/scripted.rs`) share: the
//! request a script saw, the read session its replies describe, and that session's rows
//! as Arrow IPC. The scripts themselves (an `HttpTransport` each) differ in kind — one
//! blocking, one async — and stay with their clients.

use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use maxstorage_client_core::reexport::http;
use maxstorage_codec::write::encode_stream;
use maxstorage_protocol::Compression;
use maxstorage_protocol::url::parse_query;

/// A request as a scripted transport saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Seen {
    /// What a transport saw of a request with this head and body.
    pub fn new(parts: &http::request::Parts, body: Vec<u8>) -> Seen {
        Seen {
            method: parts.method.to_string(),
            query: parse_query(parts.uri.query().unwrap_or("")),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
                .collect(),
            body,
        }
    }

    /// The query parameter `name`.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The header `name` (lower-case).
    pub fn h(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Action` query parameter (empty if none).
    pub fn action(&self) -> &str {
        self.q("Action").unwrap_or("")
    }
}

/// A read session `rs1` of one split and 10 rows, columns `a bigint` and `b string`.
pub const SESSION: &str = r#"{"SessionId":"rs1","SessionStatus":"NORMAL","SplitsCount":1,"RecordCount":10,"SplitMode":"Size",
    "DataSchema":{"DataColumns":[{"Name":"a","Type":"bigint","Nullable":true,"ColumnId":0},{"Name":"b","Type":"string","Nullable":true,"ColumnId":1}],"PartitionColumns":[]}}"#;

/// Rows `from..to` of [`SESSION`]'s table: `a` the row number, `b` `row-{a}`.
pub fn rows(from: i64, to: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8, true),
    ]));
    let a: Vec<i64> = (from..to).collect();
    let b: Vec<String> = a.iter().map(|i| format!("row-{i}")).collect();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(a)),
            Arc::new(StringArray::from(b)),
        ],
    )
    .unwrap()
}

/// `batches` as a zstd-compressed Arrow IPC stream (a `TableRead` body).
pub fn ipc(batches: &[RecordBatch]) -> Vec<u8> {
    encode_stream(batches[0].schema(), batches, Compression::Zstd).unwrap()
}
