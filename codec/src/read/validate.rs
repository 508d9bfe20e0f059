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

/// Checks a schema message for everything Arrow's conversion of it assumes instead of
/// checking (`arrow_ipc::convert::fb_to_schema` unwraps missing parts and panics on
/// unknown units and widths): a field list, and for every field (nested ones included) a
/// type table matching its type tag with known parameters, the children its type needs and
/// a valid dictionary index type. Returns the offending column path and what is wrong.
///
/// Nesting is bounded by the flatbuffer verifier's depth limit, which ran before.
pub(crate) fn check_schema_message(schema: arrow_ipc::Schema<'_>) -> Result<(), String> {
    use arrow_ipc::Type;

    fn int_ok(int: Option<arrow_ipc::Int<'_>>) -> bool {
        int.is_some_and(|i| matches!(i.bitWidth(), 8 | 16 | 32 | 64))
    }

    fn field(path: &str, f: arrow_ipc::Field<'_>) -> Result<(), String> {
        let path = format!("{path}{}", f.name().unwrap_or_default());
        let bad = |what: &str| Err(format!("column {path:?}: {what}"));
        if let Some(dictionary) = f.dictionary()
            && !int_ok(dictionary.indexType())
        {
            return bad("a dictionary without a valid index type");
        }
        let children = f.children().map(|c| c.len()).unwrap_or(0);
        let ok = match f.type_type() {
            Type::Null
            | Type::Bool
            | Type::Binary
            | Type::BinaryView
            | Type::LargeBinary
            | Type::Utf8
            | Type::Utf8View
            | Type::LargeUtf8
            | Type::Struct_ => true,
            Type::Int => int_ok(f.type_as_int()),
            Type::FixedSizeBinary => f.type_as_fixed_size_binary().is_some(),
            Type::FloatingPoint => f.type_as_floating_point().is_some_and(|t| {
                matches!(
                    t.precision(),
                    arrow_ipc::Precision::HALF
                        | arrow_ipc::Precision::SINGLE
                        | arrow_ipc::Precision::DOUBLE
                )
            }),
            Type::Date => f.type_as_date().is_some_and(|t| {
                matches!(
                    t.unit(),
                    arrow_ipc::DateUnit::DAY | arrow_ipc::DateUnit::MILLISECOND
                )
            }),
            Type::Time => f.type_as_time().is_some_and(|t| {
                use arrow_ipc::TimeUnit as U;
                matches!(
                    (t.bitWidth(), t.unit()),
                    (32, U::SECOND | U::MILLISECOND) | (64, U::MICROSECOND | U::NANOSECOND)
                )
            }),
            Type::Timestamp => f
                .type_as_timestamp()
                .is_some_and(|t| time_unit_ok(t.unit())),
            Type::Duration => f.type_as_duration().is_some_and(|t| time_unit_ok(t.unit())),
            Type::Interval => f.type_as_interval().is_some_and(|t| {
                use arrow_ipc::IntervalUnit as U;
                matches!(t.unit(), U::YEAR_MONTH | U::DAY_TIME | U::MONTH_DAY_NANO)
            }),
            Type::List | Type::LargeList | Type::ListView | Type::LargeListView => children == 1,
            Type::FixedSizeList => children == 1 && f.type_as_fixed_size_list().is_some(),
            Type::Map => children == 1 && f.type_as_map().is_some(),
            Type::Decimal => f.type_as_decimal().is_some_and(|t| {
                matches!(t.bitWidth(), 32 | 64 | 128 | 256)
                    && u8::try_from(t.precision()).is_ok()
                    && i8::try_from(t.scale()).is_ok()
            }),
            // Unions and run-end encoding never occur in MaxCompute data, and Arrow's
            // decoding of them is not safe on untrusted input.
            _ => return bad(&format!("unsupported type {:?}", f.type_type())),
        };
        if !ok {
            return bad(&format!(
                "a {:?} type with missing or invalid parameters or children",
                f.type_type()
            ));
        }
        match f.children() {
            Some(children) => children
                .iter()
                .try_for_each(|child| field(&format!("{path}."), child)),
            None => Ok(()),
        }
    }

    fn time_unit_ok(unit: arrow_ipc::TimeUnit) -> bool {
        use arrow_ipc::TimeUnit as U;
        matches!(
            unit,
            U::SECOND | U::MILLISECOND | U::MICROSECOND | U::NANOSECOND
        )
    }

    if schema.endianness() == arrow_ipc::Endianness::Big {
        return Err("a big-endian schema (only little-endian data is read)".into());
    }
    let fields = schema
        .fields()
        .ok_or_else(|| "a schema without a field list".to_string())?;
    fields.iter().try_for_each(|f| field("", f))
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

#[cfg(test)]
mod tests {
    use super::check_schema_message;
    use arrow_ipc::{FieldBuilder, IntBuilder, SchemaBuilder, Type};
    use flatbuffers::FlatBufferBuilder;

    /// Builds a one-column schema message whose column is an `Int` of `bit_width` (or a
    /// `List` without children), checks it, and returns what the check says.
    fn check_one_column(kind: Type, bit_width: i32, with_fields: bool) -> Result<(), String> {
        let mut fbb = FlatBufferBuilder::new();
        let name = fbb.create_string("c");
        let int = {
            let mut b = IntBuilder::new(&mut fbb);
            b.add_bitWidth(bit_width);
            b.add_is_signed(true);
            b.finish()
        };
        let field = {
            let mut b = FieldBuilder::new(&mut fbb);
            b.add_name(name);
            b.add_type_type(kind);
            b.add_type_(int.as_union_value());
            b.finish()
        };
        let fields = fbb.create_vector(&[field]);
        let schema = {
            let mut b = SchemaBuilder::new(&mut fbb);
            if with_fields {
                b.add_fields(fields);
            }
            b.finish()
        };
        fbb.finish(schema, None);
        let schema = arrow_ipc::root_as_schema(fbb.finished_data()).expect("a valid flatbuffer");
        check_schema_message(schema)
    }

    #[test]
    fn a_well_formed_schema_passes() {
        assert_eq!(check_one_column(Type::Int, 64, true), Ok(()));
    }

    #[test]
    fn what_arrow_would_panic_on_is_named_instead() {
        let err = check_one_column(Type::Int, 7, true).unwrap_err();
        assert!(err.contains("column \"c\"") && err.contains("Int"), "{err}");
        let err = check_one_column(Type::List, 64, true).unwrap_err();
        assert!(err.contains("List"), "{err}");
        let err = check_one_column(Type::RunEndEncoded, 64, true).unwrap_err();
        assert!(err.contains("unsupported type"), "{err}");
        let err = check_one_column(Type::Int, 64, false).unwrap_err();
        assert!(err.contains("without a field list"), "{err}");
    }
}
