//! Client behaviour against a scripted transport, no network: a [`Script`] answers each
//! request with what its test queued (a reply, a transport failure, a body cut short, an
//! answer that never comes) and records what it saw. One `Script` is the transport of
//! either client (it implements both `HttpTransport` traits), so the scenarios that are
//! the same for both ([`scenarios`]: resume after a broken read, retries, exactly-once
//! recovery, route tokens) are written once against [`StorageClient`](crate::StorageClient)
//! and run for each client by `tests/scripted.rs`; what differs in kind (cancellation
//! and the runtime clock of the async client, the upload threads of the blocking one)
//! stays in each client's `tests/scripted.rs`, on the same `Script`.
//!
//! | module | holds |
//! |---|---|
//! | `script` | [`Script`], what it answers ([`Answer`], [`Reply`], [`Body`]) and what it counts ([`Drops`]) |
//! | [`scenarios`] | the scenarios both clients run |
//! | here | [`Seen`] (a request as the script saw it), the session and stream answers, the rows |

pub mod scenarios;
mod script;

pub use script::{
    Answer, Body, Drops, Reply, Script, data, json, json_reply, transport_error, with_token,
};

use std::sync::Arc;

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
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

/// [`SESSION`] with `splits` splits.
pub fn session_json(splits: usize) -> String {
    SESSION.replace("\"SplitsCount\":1", &format!("\"SplitsCount\":{splits}"))
}

/// A `TableCreateWriteStream` answer for [`SESSION`]'s columns, access token `tok`.
pub const STREAM: &str = r#"{"TableSchema":{"DataColumns":[{"columnType":{"Type":0,"MemberName":"a","ColumnId":0,"Nullable":true}},
    {"columnType":{"Type":4,"MemberName":"b","ColumnId":1,"Nullable":true}}],"PartitionColumns":[],"SystemColumns":[]},
    "TableId":"tid","SchemaVersion":0,"AccessToken":"tok"}"#;

/// Column `a` of batches of [`rows`].
pub fn column_a<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> Vec<i64> {
    batches
        .into_iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("column a is bigint")
                .values()
                .to_vec()
        })
        .collect()
}

/// Column `b` of batches of [`rows`].
pub fn column_b<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> Vec<String> {
    batches
        .into_iter()
        .flat_map(|b| {
            let b = b
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("column b is string");
            (0..b.len())
                .map(|i| b.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `batches` as a zstd-compressed Arrow IPC stream (a `TableRead` body).
pub fn ipc(batches: &[RecordBatch]) -> Vec<u8> {
    encode_stream(batches[0].schema(), batches, Compression::Zstd).unwrap()
}
