//! Checking a batch against a stream's write schema.
//!
//! A `TableWrite` body must match the stream's write schema column for column: same
//! names in the same order, same Arrow types (protocol.md B§4.3). Nested field names
//! that carry no meaning — the item of a list, the entries/key/value of a map — may
//! differ (pyarrow and arrow-rs call a list item `item`, the write schema `element`);
//! struct member names must match. Nullability is checked on the data: a null in a
//! non-nullable column (or nested member) is an error; a nullable batch field without
//! nulls is fine.
//!
//! Lossless Arrow variants of a declared type are accepted and cast: `LargeUtf8` and
//! `Utf8View` where `Utf8` is declared (pandas ≥ 3 gives `large_string`), the binary
//! equivalents, `LargeList` for `List` (and back), and dictionary-encoded values. A cast
//! that would lose data (a `LargeUtf8` column over 2 GiB into `Utf8`) fails instead.
//! [`conform_batch`] returns the batch relabelled and cast to the write schema, so the
//! server sees exactly its types.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, LargeListArray, ListArray, MapArray, RecordBatch,
    RecordBatchOptions, StructArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::CodecError;

/// Whether `actual` can be written where `expected` is declared: equal types, except
/// for the names and nullability of list items and map entries/keys/values (and
/// nullability of struct members, which [`check_nulls`] checks on the data).
pub(crate) fn types_compatible(expected: &DataType, actual: &DataType) -> bool {
    use DataType::*;
    match (expected, actual) {
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View)
        | (Binary | LargeBinary | BinaryView, Binary | LargeBinary | BinaryView) => true,
        (List(e) | LargeList(e), List(a) | LargeList(a)) => {
            types_compatible(e.data_type(), a.data_type())
        }
        // Dictionary-encoded leaf values (pandas categoricals).
        (e, Dictionary(_, values)) if !e.is_nested() && !matches!(e, Dictionary(..)) => {
            types_compatible(e, values)
        }
        (FixedSizeList(e, n), FixedSizeList(a, m)) => {
            n == m && types_compatible(e.data_type(), a.data_type())
        }
        (Map(e, _), Map(a, _)) => match (e.data_type(), a.data_type()) {
            (Struct(e), Struct(a)) => {
                e.len() == 2
                    && a.len() == 2
                    && types_compatible(e[0].data_type(), a[0].data_type())
                    && types_compatible(e[1].data_type(), a[1].data_type())
            }
            _ => false,
        },
        (Struct(e), Struct(a)) => {
            e.len() == a.len()
                && e.iter().zip(a.iter()).all(|(e, a)| {
                    e.name() == a.name() && types_compatible(e.data_type(), a.data_type())
                })
        }
        (e, a) => e == a,
    }
}

/// Nulls of `array` at positions where `parent` (the enclosing validity) is valid.
fn nulls_under(array: &dyn Array, parent: Option<&NullBuffer>) -> usize {
    let Some(nulls) = array.logical_nulls() else {
        return 0;
    };
    match parent {
        None => nulls.null_count(),
        Some(p) => (0..array.len())
            .filter(|&i| p.is_valid(i) && nulls.is_null(i))
            .count(),
    }
}

/// The values of a list-like array reachable from its entries.
fn reachable_values(values: &ArrayRef, start: usize, end: usize) -> ArrayRef {
    values.slice(start, end.saturating_sub(start))
}

/// Checks that non-nullable fields of `expected` hold no nulls in `array` (types are
/// compatible).
fn check_nulls(
    path: &str,
    expected: &Field,
    array: &dyn Array,
    parent: Option<&NullBuffer>,
) -> Result<(), CodecError> {
    if !expected.is_nullable() {
        let n = nulls_under(array, parent);
        if n > 0 {
            return Err(CodecError::NullInNonNullableColumn {
                column: path.to_string(),
                nulls: n,
            });
        }
    }
    match expected.data_type() {
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let validity = NullBuffer::union(parent, s.nulls());
            for (f, c) in fields.iter().zip(s.columns()) {
                check_nulls(
                    &format!("{path}.{}", f.name()),
                    f,
                    c.as_ref(),
                    validity.as_ref(),
                )?;
            }
        }
        // The batch may hold the other offset width (a lossless variant).
        DataType::List(f) | DataType::LargeList(f) => {
            let v = match array.data_type() {
                DataType::LargeList(_) => {
                    let l = array.as_list::<i64>();
                    let o = l.value_offsets();
                    reachable_values(l.values(), o[0] as usize, o[o.len() - 1] as usize)
                }
                _ => {
                    let l = array.as_list::<i32>();
                    let o = l.value_offsets();
                    reachable_values(l.values(), o[0] as usize, o[o.len() - 1] as usize)
                }
            };
            check_nulls(&format!("{path}.{}", f.name()), f, v.as_ref(), None)?;
        }
        DataType::FixedSizeList(f, _) => {
            let l = array.as_fixed_size_list();
            check_nulls(
                &format!("{path}.{}", f.name()),
                f,
                l.values().as_ref(),
                None,
            )?;
        }
        DataType::Map(f, _) => {
            let m = array.as_map();
            let o = m.value_offsets();
            let entries: ArrayRef = Arc::new(m.entries().clone());
            let v = reachable_values(&entries, o[0] as usize, o[o.len() - 1] as usize);
            check_nulls(path, f, v.as_ref(), None)?;
        }
        _ => {}
    }
    Ok(())
}

/// Checks the names and types of `actual` against `expected`.
fn check_fields(expected: &Schema, actual: &Schema) -> Result<(), CodecError> {
    let (ef, af) = (expected.fields(), actual.fields());
    if ef.len() != af.len() {
        let names = |s: &Schema| {
            s.fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(CodecError::ColumnCountMismatch {
            expected: ef.len(),
            actual: af.len(),
            expected_names: names(expected),
            actual_names: names(actual),
        });
    }
    for (i, (e, a)) in ef.iter().zip(af.iter()).enumerate() {
        if e.name() != a.name() {
            return Err(CodecError::ColumnNameMismatch {
                index: i,
                expected: e.name().clone(),
                actual: a.name().clone(),
            });
        }
        if !types_compatible(e.data_type(), a.data_type()) {
            return Err(CodecError::ColumnTypeMismatch {
                column: e.name().clone(),
                expected: e.data_type().clone(),
                actual: a.data_type().clone(),
            });
        }
    }
    Ok(())
}

/// Checks `batch` against the write schema `expected` (see the module docs): names,
/// types (lossless variants included) and nulls in non-nullable fields.
pub fn check_batch(expected: &Schema, batch: &RecordBatch) -> Result<(), CodecError> {
    conform_columns(expected, batch).map(drop)
}

/// The columns of `batch` relabelled and cast to the fields of `expected`, after the
/// schema and null checks.
fn conform_columns(expected: &Schema, batch: &RecordBatch) -> Result<Vec<ArrayRef>, CodecError> {
    check_fields(expected, &batch.schema())?;
    expected
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            check_nulls(f.name(), f, c.as_ref(), None)?;
            relabel(c, f.data_type())
        })
        .collect()
}

/// Rebuilds `array` with the (compatible) type `target`.
fn relabel(array: &ArrayRef, target: &DataType) -> Result<ArrayRef, CodecError> {
    use DataType::*;
    if array.data_type() == target {
        return Ok(array.clone());
    }
    let err = CodecError::arrow;
    let cast = |to: &DataType| {
        arrow_cast::cast(array, to).map_err(|e| {
            CodecError::Arrow(format!(
                "cannot convert {} to the declared {to} without loss: {e}",
                array.data_type()
            ))
        })
    };
    match (target, array.data_type()) {
        // Decode dictionaries, then conform their values.
        (_, Dictionary(_, values)) => return relabel(&cast(values)?, target),
        // A leaf variant (string / binary offsets or views): one cast.
        (Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView, _) => {
            return cast(target);
        }
        // A list with the other offset width: change the offsets, keep the items.
        (List(_), LargeList(item)) => return relabel(&cast(&List(item.clone()))?, target),
        (LargeList(_), List(item)) => return relabel(&cast(&LargeList(item.clone()))?, target),
        _ => {}
    }
    Ok(match target {
        List(f) => {
            let l = array.as_list::<i32>();
            let values = relabel(l.values(), f.data_type())?;
            Arc::new(
                ListArray::try_new(f.clone(), l.offsets().clone(), values, l.nulls().cloned())
                    .map_err(err)?,
            )
        }
        LargeList(f) => {
            let l = array.as_list::<i64>();
            let values = relabel(l.values(), f.data_type())?;
            Arc::new(
                LargeListArray::try_new(f.clone(), l.offsets().clone(), values, l.nulls().cloned())
                    .map_err(err)?,
            )
        }
        FixedSizeList(f, n) => {
            let l = array.as_fixed_size_list();
            let values = relabel(l.values(), f.data_type())?;
            Arc::new(
                FixedSizeListArray::try_new(f.clone(), *n, values, l.nulls().cloned())
                    .map_err(err)?,
            )
        }
        Map(f, sorted) => {
            let m = array.as_map();
            let entries: ArrayRef = Arc::new(m.entries().clone());
            let entries = relabel(&entries, f.data_type())?;
            Arc::new(
                MapArray::try_new(
                    f.clone(),
                    m.offsets().clone(),
                    entries.as_struct().clone(),
                    m.nulls().cloned(),
                    *sorted,
                )
                .map_err(err)?,
            )
        }
        Struct(fields) => {
            let s = array.as_struct();
            let children = s
                .columns()
                .iter()
                .zip(fields.iter())
                .map(|(c, f)| relabel(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            Arc::new(
                StructArray::try_new(fields.clone(), children, s.nulls().cloned()).map_err(err)?,
            )
        }
        other => {
            return Err(CodecError::Arrow(format!(
                "cannot relabel {} as {other}",
                array.data_type()
            )));
        }
    })
}

/// Checks `batch` against `schema` and returns it carrying exactly the schema's fields
/// and types (nested field names and nullability relabelled without copying; lossless
/// variants cast).
pub fn conform_batch(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch, CodecError> {
    let columns = conform_columns(schema, batch)?;
    if batch.schema_ref() == schema {
        return Ok(batch.clone());
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options).map_err(CodecError::arrow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int32Builder, ListBuilder};
    use arrow_array::{Int32Array, Int64Array, StringArray};
    use arrow_schema::Fields;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
            Field::new(
                "l",
                DataType::List(Arc::new(Field::new("element", DataType::Int32, false))),
                true,
            ),
        ]))
    }

    fn list(values: Vec<Option<Vec<Option<i32>>>>) -> ArrayRef {
        let mut b = ListBuilder::new(Int32Builder::new());
        for v in values {
            match v {
                Some(items) => {
                    for i in items {
                        b.values().append_option(i);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }

    fn batch(a: Vec<Option<i64>>, l: ArrayRef) -> RecordBatch {
        let n = a.len();
        RecordBatch::try_from_iter(vec![
            ("a", Arc::new(Int64Array::from(a)) as ArrayRef),
            (
                "b",
                Arc::new(StringArray::from(vec![Some("x"); n])) as ArrayRef,
            ),
            ("l", l),
        ])
        .unwrap()
    }

    #[test]
    fn accepts_and_relabels() {
        let b = batch(
            vec![Some(1), Some(2)],
            list(vec![Some(vec![Some(1)]), None]),
        );
        let out = conform_batch(&schema(), &b).unwrap();
        assert_eq!(out.schema(), schema());
    }

    #[test]
    fn null_in_non_nullable_column() {
        let b = batch(vec![Some(1), None], list(vec![None, None]));
        let e = conform_batch(&schema(), &b).unwrap_err();
        assert_eq!(
            e,
            CodecError::NullInNonNullableColumn {
                column: "a".into(),
                nulls: 1
            }
        );
    }

    #[test]
    fn null_in_non_nullable_item() {
        let b = batch(
            vec![Some(1), Some(2)],
            list(vec![Some(vec![Some(1), None]), None]),
        );
        let e = conform_batch(&schema(), &b).unwrap_err();
        assert!(
            matches!(&e, CodecError::NullInNonNullableColumn { column, nulls: 1 } if column == "l.element"),
            "{e}"
        );
    }

    #[test]
    fn mismatches_name_column_and_types() {
        let b = RecordBatch::try_from_iter(vec![
            ("a", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
            ("b", Arc::new(StringArray::from(vec!["x"])) as ArrayRef),
            ("l", list(vec![None])),
        ])
        .unwrap();
        let e = check_batch(&schema(), &b).unwrap_err();
        assert_eq!(
            e,
            CodecError::ColumnTypeMismatch {
                column: "a".into(),
                expected: DataType::Int64,
                actual: DataType::Int32
            }
        );
        assert!(e.to_string().contains("Int64") && e.to_string().contains("Int32"));

        let b = RecordBatch::try_from_iter(vec![
            ("a", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("c", Arc::new(StringArray::from(vec!["x"])) as ArrayRef),
            ("l", list(vec![None])),
        ])
        .unwrap();
        assert!(matches!(
            check_batch(&schema(), &b).unwrap_err(),
            CodecError::ColumnNameMismatch { index: 1, .. }
        ));

        let b = RecordBatch::try_from_iter(vec![(
            "a",
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap();
        let e = check_batch(&schema(), &b).unwrap_err();
        assert!(e.to_string().contains("a, b, l"), "{e}");
    }

    #[test]
    fn lossless_variants_are_cast_to_the_write_schema() {
        use arrow_array::builder::{LargeListBuilder, LargeStringBuilder};
        use arrow_array::types::Int8Type;
        use arrow_array::{DictionaryArray, LargeBinaryArray, LargeStringArray, StringViewArray};
        let expected: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("v", DataType::Utf8, true),
            Field::new("d", DataType::Utf8, true),
            Field::new("b", DataType::Binary, true),
            Field::new(
                "l",
                DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
                true,
            ),
        ]));
        let mut l = LargeListBuilder::new(LargeStringBuilder::new());
        l.values().append_value("x");
        l.values().append_null();
        l.append(true);
        l.append(false);
        let dict: DictionaryArray<Int8Type> = vec!["p", "q"].into_iter().collect();
        let batch = RecordBatch::try_from_iter(vec![
            (
                "s",
                Arc::new(LargeStringArray::from(vec![Some("a"), None])) as ArrayRef,
            ),
            (
                "v",
                Arc::new(StringViewArray::from(vec![
                    "long enough to not be inlined",
                    "b",
                ])),
            ),
            ("d", Arc::new(dict)),
            (
                "b",
                Arc::new(LargeBinaryArray::from(vec![&b"\x00"[..], b"z"])),
            ),
            ("l", Arc::new(l.finish())),
        ])
        .unwrap();
        let out = conform_batch(&expected, &batch).unwrap();
        assert_eq!(out.schema(), expected);
        let s = out.column(0).as_string::<i32>();
        assert_eq!((s.value(0), s.is_null(1)), ("a", true));
        assert_eq!(
            out.column(1).as_string::<i32>().value(0),
            "long enough to not be inlined"
        );
        assert_eq!(out.column(2).as_string::<i32>().value(1), "q");
        assert_eq!(out.column(3).as_binary::<i32>().value(1), b"z");
        let l = out.column(4).as_list::<i32>();
        assert!(l.is_null(1));
        let items = l.value(0);
        assert_eq!(items.as_string::<i32>().value(0), "x");
        assert!(items.is_null(1));
        // A variant of another type is still refused.
        let wrong = RecordBatch::try_from_iter(vec![(
            "s",
            Arc::new(LargeBinaryArray::from(vec![&b"a"[..]])) as ArrayRef,
        )])
        .unwrap();
        let one: SchemaRef = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        assert!(matches!(
            conform_batch(&one, &wrong).unwrap_err(),
            CodecError::ColumnTypeMismatch { .. }
        ));
        // Nulls are checked on the converted data.
        let strict: SchemaRef = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        let nulls = RecordBatch::try_from_iter(vec![(
            "s",
            Arc::new(LargeStringArray::from(vec![Some("a"), None])) as ArrayRef,
        )])
        .unwrap();
        assert!(matches!(
            check_batch(&strict, &nulls).unwrap_err(),
            CodecError::NullInNonNullableColumn { nulls: 1, .. }
        ));
    }

    #[test]
    fn struct_member_names_matter() {
        let e = DataType::Struct(Fields::from(vec![Field::new("x", DataType::Int32, true)]));
        let a = DataType::Struct(Fields::from(vec![Field::new("y", DataType::Int32, true)]));
        assert!(!types_compatible(&e, &a));
        let a = DataType::Struct(Fields::from(vec![Field::new("x", DataType::Int32, false)]));
        assert!(types_compatible(&e, &a));
    }
}
