//! Blob uploads and downloads (protocol.md B§6).

use http::response::Parts;
use serde::{Deserialize, Serialize};

use super::{Call, StreamingResponse, parse_json, parse_streaming};
use crate::action::Action;
use crate::compression::Compression;
use crate::config::{TableId, Target};
use crate::error::{Error, InvalidResponse};
use crate::header;
use crate::json::{i64_lenient, string_lenient, vec_lenient};
use crate::read::accept_encoding;
use crate::request::{Body, RequestContext, RequestSpec};
use crate::write::StreamRef;

/// The answer to a single-blob upload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WriteBlobResult {
    /// The reference to put into the BLOB cell (base64 text, as the service returned it).
    #[serde(rename = "BlobReference", default, deserialize_with = "string_lenient")]
    pub blob_reference: String,
    /// Uncompressed size in bytes.
    #[serde(rename = "Size", default, deserialize_with = "i64_lenient")]
    pub size: i64,
    /// Lower-case hex MD5 of the uncompressed data, to compare with the client's own.
    #[serde(rename = "MD5Value", default, deserialize_with = "string_lenient")]
    pub md5_value: String,
    /// A warning to log.
    #[serde(
        rename = "WarningMessage",
        default,
        deserialize_with = "string_lenient"
    )]
    pub warning_message: String,
}

/// `TableWriteBlob`: upload one blob as the raw (optionally compressed) request body.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBlob {
    /// The table.
    pub table: TableId,
    /// The write session id.
    pub session_id: String,
    /// The stream the blob belongs to.
    pub stream: StreamRef,
    /// Partition values (`k=v` items; joined with `,` on the wire; empty for none).
    pub partition_values: Vec<String>,
    /// The service's ColumnId of the BLOB column (or nested BLOB node).
    pub column_index: i64,
    /// Whole-body compression (`Content-Encoding`).
    pub compression: Compression,
    /// The body length, if known (else chunked).
    pub content_length: Option<u64>,
}

impl Call for WriteBlob {
    type Output = WriteBlobResult;

    fn action(&self) -> Action {
        Action::TableWriteBlob
    }

    /// A repeated upload only leaves an unreferenced blob behind.
    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let spec = RequestSpec::streaming(
            self.action(),
            Target::Table(self.table.clone()),
            header::OCTET_STREAM,
            self.content_length,
        )
        .param("SessionId", &self.session_id)
        .param("StreamId", &self.stream.stream_id)
        .param("StreamVersion", self.stream.version)
        .param("PartitionValues", self.partition_values.join(","))
        .param("ColumnIndex", self.column_index);
        content_encoding(spec, self.compression).build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteBlobResult, Error> {
        parse_json(self.action(), parts, body)
    }
}

fn content_encoding(spec: RequestSpec, compression: Compression) -> RequestSpec {
    match compression.http_token() {
        Some(token) => spec.header(header::CONTENT_ENCODING, token),
        None => spec,
    }
}

/// The answer to a batch blob upload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WriteBlobBatchResult {
    /// One reference per item, in item order.
    #[serde(rename = "BlobReferences", default, deserialize_with = "vec_lenient")]
    pub blob_references: Vec<String>,
    /// Total uncompressed size in bytes.
    #[serde(rename = "Size", default, deserialize_with = "i64_lenient")]
    pub size: i64,
    /// A warning to log.
    #[serde(
        rename = "WarningMessage",
        default,
        deserialize_with = "string_lenient"
    )]
    pub warning_message: String,
}

/// `TableWriteBlob` with `Mode=Batch`: several blobs as frames (see
/// [`crate::frame`]), optionally compressed as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBlobBatch {
    /// The table.
    pub table: TableId,
    /// The write session id.
    pub session_id: String,
    /// The stream the blobs belong to.
    pub stream: StreamRef,
    /// Number of items in the body; the answer must carry as many references.
    pub item_count: usize,
    /// Whole-body compression (`Content-Encoding`).
    pub compression: Compression,
    /// The body length, if known (else chunked).
    pub content_length: Option<u64>,
}

impl Call for WriteBlobBatch {
    type Output = WriteBlobBatchResult;

    fn action(&self) -> Action {
        Action::TableWriteBlob
    }

    /// A repeated upload only leaves unreferenced blobs behind.
    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        let spec = RequestSpec::streaming(
            self.action(),
            Target::Table(self.table.clone()),
            header::OCTET_STREAM,
            self.content_length,
        )
        .param("SessionId", &self.session_id)
        .param("StreamId", &self.stream.stream_id)
        .param("StreamVersion", self.stream.version)
        .param("Mode", "Batch");
        content_encoding(spec, self.compression).build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<WriteBlobBatchResult, Error> {
        let r: WriteBlobBatchResult = parse_json(self.action(), parts, body)?;
        if r.blob_references.len() != self.item_count {
            return Err(Error::InvalidResponse(InvalidResponse {
                action: self.action(),
                field: Some("BlobReferences".into()),
                detail: format!(
                    "{} references for {} uploaded items",
                    r.blob_references.len(),
                    self.item_count
                ),
                request_id: super::request_id(parts),
            }));
        }
        Ok(r)
    }
}

/// `BlobRead`: download blobs by reference. The body is CRC32C-blocked (and optionally
/// compressed inside the blocks); one reference gives the raw bytes (or a frame), several
/// give frames — see [`crate::frame`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBlobs {
    /// The project the request is made in (`curr_project`).
    pub project: String,
    /// The references, sent as given (the base64 text the service returned on upload).
    pub references: Vec<String>,
    /// Compression to ask for (`ACCEPT-ENCODING`).
    pub compression: Compression,
}

impl Call for ReadBlobs {
    type Output = StreamingResponse;

    fn action(&self) -> Action {
        Action::BlobRead
    }

    fn is_idempotent(&self) -> bool {
        true
    }

    fn build(&self, ctx: &RequestContext<'_>) -> Result<http::Request<Body>, Error> {
        if self.references.is_empty() {
            return Err(super::invalid_argument(
                "references",
                "at least one blob reference is needed",
            ));
        }
        let body = serde_json::json!({ "BlobReferences": self.references });
        let spec = RequestSpec::json(
            self.action(),
            Target::Blob {
                project: self.project.clone(),
            },
            &body,
        );
        accept_encoding(spec, self.compression).build(ctx)
    }

    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<StreamingResponse, Error> {
        parse_streaming(self.action(), parts, body)
    }
}
