//! Checks of a record batch message against its body before Arrow decodes it.
//!
//! Arrow's decoder trusts some fields of the message: buffer offsets and lengths are
//! sliced without bounds checks (a panic on corrupt input), and compressed buffers are
//! decompressed into an allocation of the size their 8-byte prefix declares (an abort on
//! absurd sizes). Everything a length field says is checked here first.

use crate::error::CodecError;

/// Largest row count accepted for a batch or a field node (`i32::MAX`, the largest
/// length Arrow's 32-bit offsets can address).
pub(crate) const MAX_NODE_LENGTH: i64 = i32::MAX as i64;

/// Validates the layout of a record batch (or the data of a dictionary batch).
pub(crate) fn check_record_batch(
    batch: &arrow_ipc::RecordBatch<'_>,
    body: &[u8],
    offset: u64,
    max_decompressed: usize,
) -> Result<(), CodecError> {
    let invalid = |detail: String| CodecError::InvalidIpc { offset, detail };
    let length = batch.length();
    if !(0..=MAX_NODE_LENGTH).contains(&length) {
        return Err(invalid(format!("invalid record batch length {length}")));
    }
    let nodes = batch
        .nodes()
        .ok_or_else(|| invalid("record batch without field nodes".into()))?;
    for (i, node) in nodes.iter().enumerate() {
        let (len, nulls) = (node.length(), node.null_count());
        if !(0..=MAX_NODE_LENGTH).contains(&len) || nulls < 0 || nulls > len {
            return Err(invalid(format!(
                "field node {i} has length {len} and null count {nulls}"
            )));
        }
    }
    let buffers = batch
        .buffers()
        .ok_or_else(|| invalid("record batch without buffers".into()))?;
    let body_len = body.len() as u64;
    let compressed = match batch.compression() {
        None => false,
        Some(c) => {
            if c.codec() != arrow_ipc::CompressionType::LZ4_FRAME
                && c.codec() != arrow_ipc::CompressionType::ZSTD
            {
                return Err(invalid(format!(
                    "unsupported buffer compression codec {:?}",
                    c.codec()
                )));
            }
            if c.method() != arrow_ipc::BodyCompressionMethod::BUFFER {
                return Err(invalid(format!(
                    "unsupported buffer compression method {:?}",
                    c.method()
                )));
            }
            true
        }
    };
    let mut decompressed: u64 = 0;
    for (i, b) in buffers.iter().enumerate() {
        let (start, len) = (b.offset(), b.length());
        if start < 0 || len < 0 {
            return Err(invalid(format!(
                "buffer {i} has offset {start} and length {len}"
            )));
        }
        // Both are non-negative.
        let (start, len) = (start as u64, len as u64);
        if start.checked_add(len).is_none_or(|end| end > body_len) {
            return Err(invalid(format!(
                "buffer {i} ({len} bytes at {start}) lies outside the {body_len}-byte body"
            )));
        }
        if !compressed || len == 0 {
            continue;
        }
        if len < 8 {
            return Err(invalid(format!(
                "compressed buffer {i} has {len} bytes, fewer than its 8-byte length prefix"
            )));
        }
        // `start + 8 <= start + len <= body.len()`.
        let s = start as usize;
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&body[s..s + 8]);
        let declared = i64::from_le_bytes(prefix);
        match declared {
            -1 => {}
            d if d < 0 => {
                return Err(invalid(format!(
                    "compressed buffer {i} declares a negative length {d}"
                )));
            }
            d => decompressed = decompressed.saturating_add(d as u64),
        }
    }
    if decompressed > max_decompressed as u64 {
        return Err(CodecError::DecompressedTooLarge {
            offset,
            declared: decompressed,
            limit: max_decompressed as u64,
        });
    }
    Ok(())
}

/// Rejects types of a stream schema that Arrow's decoder cannot handle safely from
/// untrusted input (negative fixed sizes panic in `arrow-data`; union buffers are sliced
/// without bounds checks) or that never occur in MaxCompute data (unions, run-end
/// encoding). Returns the offending column path and type.
pub(crate) fn check_schema_types(schema: &arrow_schema::Schema) -> Result<(), String> {
    fn walk(path: &str, dt: &arrow_schema::DataType) -> Result<(), String> {
        use arrow_schema::DataType::*;
        let child = |f: &arrow_schema::Field| walk(&format!("{path}.{}", f.name()), f.data_type());
        match dt {
            FixedSizeBinary(n) if *n < 0 => Err(format!("column {path:?} has type {dt}")),
            FixedSizeList(_, n) if *n < 0 => Err(format!("column {path:?} has type {dt}")),
            Union(_, _) | RunEndEncoded(_, _) => {
                Err(format!("column {path:?} has unsupported type {dt}"))
            }
            List(f)
            | LargeList(f)
            | ListView(f)
            | LargeListView(f)
            | FixedSizeList(f, _)
            | Map(f, _) => child(f),
            Struct(fs) => fs.iter().try_for_each(|f| child(f)),
            Dictionary(_, v) => walk(path, v),
            _ => Ok(()),
        }
    }
    schema
        .fields()
        .iter()
        .try_for_each(|f| walk(f.name(), f.data_type()))
}
