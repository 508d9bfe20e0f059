//! Blobs: single and batch uploads (`TableWriteBlob`) and downloads (`BlobRead`).
//!
//! A blob is kept as `<data dir>/blobs/<id>` with a JSON sidecar (content type, file
//! name, size, MD5), written and fsynced before the upload is acknowledged. Its reference
//! is the text `blob:<id>`, returned base64-encoded (`BlobReference`); `BlobRead` accepts
//! either form (protocol.md A9).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Read;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use maxstorage_codec::compress::{Compressor, decompress};
use maxstorage_protocol::blob::{WriteBlobBatchResult, WriteBlobResult};
use maxstorage_protocol::frame::{
    BlobEvent, BlobFrameDecoder, BlobFrameEncoder, BlobItemHeader, ChecksumType, Crc32cFramer,
    md5_hex,
};
use maxstorage_protocol::schema::OdpsType;
use maxstorage_protocol::{ApiVersion, Compression, header};
use serde::{Deserialize, Serialize};

use crate::BlobLayout;
use crate::error::ApiError;
use crate::service::{Reply, Request, State};
use crate::store::{TableMeta, write_atomic};
use crate::util::new_id;

/// Bytes read from a blob file at a time when serving it.
const READ_PIECE: usize = 256 * 1024;

#[derive(Serialize, Deserialize)]
struct BlobMeta {
    size: u64,
    md5: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
    /// The persistent id of the table the blob was uploaded for (absent in data
    /// directories written before it was recorded: such blobs match any table).
    #[serde(default)]
    table_id: Option<u64>,
}

fn blob_dir(state: &State) -> PathBuf {
    state.store.root().join("blobs")
}

/// Stores one blob durably; its reference text.
fn store_blob(
    state: &State,
    table_id: u64,
    data: &[u8],
    content_type: Option<String>,
    file_name: Option<String>,
) -> Result<(String, BlobMeta), ApiError> {
    let id = new_id("b");
    let dir = blob_dir(state);
    write_atomic(&dir.join(&id), data)?;
    let meta = BlobMeta {
        size: data.len() as u64,
        md5: md5_hex(data),
        content_type,
        file_name,
        table_id: Some(table_id),
    };
    write_atomic(
        &dir.join(format!("{id}.json")),
        &serde_json::to_vec(&meta).map_err(std::io::Error::other)?,
    )?;
    Ok((format!("blob:{id}"), meta))
}

fn remove_blob(state: &State, reference: &str) {
    if let Some(id) = reference.strip_prefix("blob:") {
        let dir = blob_dir(state);
        let _ = fs::remove_file(dir.join(id));
        let _ = fs::remove_file(dir.join(format!("{id}.json")));
    }
}

/// The uploaded body, decompressed per `Content-Encoding`.
fn upload_body(state: &State, req: &Request) -> Result<Vec<u8>, ApiError> {
    let encoding = req
        .header(header::CONTENT_ENCODING)
        .map(str::trim)
        .filter(|e| !e.is_empty());
    match encoding {
        None => Ok(req.body.to_vec()),
        Some(e) => {
            let codec = Compression::from_http_token(e).ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "unsupported Content-Encoding {e:?}: expected zstd or x-lz4-frame"
                ))
            })?;
            if codec == Compression::Uncompressed {
                return Ok(req.body.to_vec());
            }
            decompress(codec, &req.body, state.config.limits.max_blob_bytes).map_err(|err| {
                ApiError::invalid_data(format!("the {e} body cannot be decompressed: {err}"))
            })
        }
    }
}

/// `TableWriteBlob` (single, or `Mode=Batch`).
pub(crate) fn write_blob(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let target = crate::write::check_blob_target(state, req)?;
    let table_id = target.table_id;
    let data = upload_body(state, req)?;
    let batch = req
        .storage
        .param("Mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("batch"));
    if !batch {
        let (reference, meta) = store_blob(state, table_id, &data, None, None)?;
        let r = WriteBlobResult {
            blob_reference: base64::engine::general_purpose::STANDARD.encode(reference),
            size: meta.size as i64,
            md5_value: meta.md5,
            warning_message: String::new(),
        };
        return Ok(Reply::json(&r));
    }
    let mut decoder = BlobFrameDecoder::new();
    let mut input = Bytes::from(data);
    let mut stored: Vec<String> = Vec::new();
    let mut total = 0u64;
    let mut current: Option<(BlobItemHeader, BytesMut)> = None;
    let result = (|| -> Result<(), ApiError> {
        let bad = |e: maxstorage_protocol::frame::FrameError| {
            ApiError::invalid_data(format!("malformed blob batch: {e}"))
        };
        loop {
            match decoder.decode(&mut input).map_err(bad)? {
                None => break,
                Some(BlobEvent::ItemStart {
                    header, data_len, ..
                }) => {
                    target.check_column(header.column_index)?;
                    let len = data_len.unwrap_or(0);
                    if len > state.config.limits.max_blob_bytes as u64 {
                        return Err(ApiError::too_large(format!(
                            "blob of {len} bytes exceeds the limit"
                        )));
                    }
                    current = Some((header, BytesMut::new()));
                }
                Some(BlobEvent::Data(d)) => {
                    if let Some((_, buf)) = &mut current {
                        buf.extend_from_slice(&d);
                    }
                }
                Some(BlobEvent::ItemEnd(_)) => {
                    if let Some((h, buf)) = current.take() {
                        let (reference, meta) =
                            store_blob(state, table_id, &buf, h.content_type, h.custom_file_name)?;
                        total += meta.size;
                        stored.push(reference);
                    }
                }
            }
        }
        decoder.finish().map_err(bad)
    })();
    if let Err(e) = result {
        for r in &stored {
            remove_blob(state, r);
        }
        return Err(e);
    }
    let r = WriteBlobBatchResult {
        blob_references: stored
            .iter()
            .map(|r| base64::engine::general_purpose::STANDARD.encode(r))
            .collect(),
        size: total as i64,
        warning_message: String::new(),
    };
    Ok(Reply::json(&r))
}

/// Resolves a reference given as text or base64 text to a blob id.
fn resolve(state: &State, reference: &str) -> Result<String, ApiError> {
    let r = reference.trim();
    let text = if r.starts_with("blob:") {
        r.to_string()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(r)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    };
    let id = text
        .strip_prefix("blob:")
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| {
            ApiError::not_found(
                "NoSuchBlob",
                format!("{reference:?} is not a blob reference"),
            )
        })?;
    if !blob_dir(state).join(id).is_file() {
        return Err(ApiError::not_found(
            "NoSuchBlob",
            format!("blob {reference:?} does not exist"),
        ));
    }
    Ok(id.to_string())
}

/// Checks that every value of the batch's top-level BLOB columns is a reference to a
/// blob uploaded for `table` (a write must not store dangling or foreign references).
pub(crate) fn check_references(
    state: &State,
    table: &TableMeta,
    batch: &RecordBatch,
) -> Result<(), ApiError> {
    let mut known: HashSet<Vec<u8>> = HashSet::new();
    for (i, column) in table.columns.data_columns.iter().enumerate() {
        if column.odps_type != OdpsType::Blob {
            continue;
        }
        let Some(values) = batch.columns().get(i) else {
            continue;
        };
        let values: Vec<Option<&[u8]>> = match values.data_type() {
            DataType::Binary => values.as_binary::<i32>().iter().collect(),
            DataType::LargeBinary => values.as_binary::<i64>().iter().collect(),
            other => {
                return Err(ApiError::invalid_data(format!(
                    "BLOB column {} holds {other} values, expected blob references (binary)",
                    column.name
                )));
            }
        };
        for (row, value) in values.into_iter().enumerate() {
            let Some(value) = value else { continue };
            if known.contains(value) {
                continue;
            }
            let text = String::from_utf8_lossy(value);
            let refused = |why: String| {
                ApiError::invalid_data(format!(
                    "BLOB column {} row {row}: {why}; a BLOB value must be a reference returned by TableWriteBlob for table {}",
                    column.name,
                    table.display_name()
                ))
            };
            let id = resolve(state, &text).map_err(|e| refused(e.message))?;
            let meta: BlobMeta = fs::read(blob_dir(state).join(format!("{id}.json")))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| refused(format!("blob {id} has no readable metadata")))?;
            if meta.table_id.is_some_and(|t| t != table.id) {
                return Err(refused(format!("blob {id} was uploaded for another table")));
            }
            known.insert(value.to_vec());
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct ReadBody {
    #[serde(rename = "BlobReferences", default)]
    references: Vec<String>,
}

/// `BlobRead`: payload → optional compression → CRC32C blocks (protocol.md A12).
pub(crate) fn read_blobs(state: &State, req: &Request) -> Result<Reply, ApiError> {
    let body: ReadBody = req.json()?;
    if body.references.is_empty() {
        return Err(ApiError::invalid_parameter("BlobReferences is empty"));
    }
    let ids = body
        .references
        .iter()
        .map(|r| resolve(state, r))
        .collect::<Result<Vec<_>, _>>()?;
    let dir = blob_dir(state);
    let mut items = Vec::new();
    for id in ids {
        let meta: BlobMeta = fs::read(dir.join(format!("{id}.json")))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| ApiError::internal(format!("blob {id} has no readable metadata")))?;
        items.push((dir.join(&id), meta));
    }
    let codec = req
        .header(header::ACCEPT_ENCODING)
        .and_then(Compression::first_supported)
        .unwrap_or(Compression::Uncompressed);
    let v3 = req.storage.version == ApiVersion::V3;
    let crc_inside = state.config.blob_layout == BlobLayout::CrcInside;
    let mut reply = Reply::stream(
        header::OCTET_STREAM,
        Box::new(move |tx| {
            let mut compressor = match codec {
                Compression::Uncompressed => None,
                c => Some(Compressor::new(c).map_err(|e| ApiError::internal(e.to_string()))?),
            };
            let mut framer = Crc32cFramer::new();
            let internal = |e: maxstorage_codec::CodecError| ApiError::internal(e.to_string());
            // CRC outside (the service): payload → compress → CRC blocks. CRC inside (the
            // user-guide SDK): payload → CRC blocks → compress.
            let mut send = |payload: &[u8], last: bool| -> Result<(), ApiError> {
                let mut out = BytesMut::new();
                match &mut compressor {
                    None => framer.push(payload, &mut out),
                    Some(c) if crc_inside => {
                        let mut framed = BytesMut::new();
                        framer.push(payload, &mut framed);
                        if last {
                            framer.finish(&mut framed);
                        }
                        out.extend_from_slice(&c.compress(&framed).map_err(internal)?);
                        if last {
                            out.extend_from_slice(&c.finish().map_err(internal)?);
                        }
                    }
                    Some(c) => {
                        let mut compressed = c.compress(payload).map_err(internal)?.to_vec();
                        if last {
                            compressed.extend_from_slice(&c.finish().map_err(internal)?);
                        }
                        framer.push(&compressed, &mut out);
                    }
                }
                if last && !(crc_inside && compressor.is_some()) {
                    framer.finish(&mut out);
                }
                if tx.send(out.freeze()) {
                    Ok(())
                } else {
                    Err(ApiError::internal("the client went away"))
                }
            };
            let framed = items.len() > 1;
            let mut encoder = BlobFrameEncoder::new();
            let mut buf = vec![0u8; READ_PIECE];
            for (path, meta) in &items {
                if framed {
                    let h = BlobItemHeader {
                        content_type: Some(
                            meta.content_type
                                .clone()
                                .unwrap_or_else(|| "application/octet-stream".into()),
                        ),
                        custom_file_name: if v3 { meta.file_name.clone() } else { None },
                        ..BlobItemHeader::default()
                    };
                    let head = encoder
                        .begin_item(&h, meta.size, ChecksumType::Md5)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    send(&head, false)?;
                }
                let mut f = File::open(path)?;
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    if framed {
                        encoder
                            .item_data(&buf[..n])
                            .map_err(|e| ApiError::internal(e.to_string()))?;
                    }
                    send(&buf[..n], false)?;
                }
                if framed {
                    let foot = encoder
                        .end_item()
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    send(&foot, false)?;
                }
            }
            send(&[], true)
        }),
    );
    if let Some(token) = codec.http_token() {
        reply = reply.header(header::CONTENT_ENCODING, token);
    }
    Ok(reply)
}
