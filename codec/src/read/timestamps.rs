//! Conversion of `struct<sec: int64, nano: int32>` columns to Arrow timestamps.
//!
//! Some MaxCompute servers (and the classic tunnel) send nanosecond timestamps as a struct
//! of seconds and nanoseconds; the Python SDK turns every such column into a timestamp.
//! This module does the same, in the session's [`TimestampUnit`], and also inside lists,
//! maps and structs. When the caller knows the MaxCompute types of the columns
//! ([`DecoderOptions::column_types`](super::DecoderOptions::column_types)), an
//! `interval_day_time` column in that layout becomes `Duration(Nanosecond)` and a genuine
//! `struct<sec:bigint,nano:int>` column stays a struct.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, FixedSizeListArray, LargeListArray, ListArray, MapArray,
    PrimitiveArray, RecordBatch, RecordBatchOptions, StructArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};

use crate::error::CodecError;
use crate::types::{OdpsType, TimestampUnit, TimestampUnitExt};

/// Whether `dt` is `struct<sec: int64, nano: int32>` (names and order as the SDKs check).
pub(crate) fn is_timestamp_struct(dt: &DataType) -> bool {
    match dt {
        DataType::Struct(f) => {
            f.len() == 2
                && f[0].name() == "sec"
                && f[0].data_type() == &DataType::Int64
                && f[1].name() == "nano"
                && f[1].data_type() == &DataType::Int32
        }
        _ => false,
    }
}

/// The converted type of `dt`, or `None` when nothing in it changes.
fn convert_type(dt: &DataType, hint: Option<&OdpsType>, unit: TimestampUnit) -> Option<DataType> {
    if is_timestamp_struct(dt) {
        return match hint {
            Some(OdpsType::Struct(_)) => None,
            Some(OdpsType::IntervalDayTime) => Some(DataType::Duration(TimeUnit::Nanosecond)),
            _ => Some(DataType::Timestamp(unit.to_arrow(), None)),
        };
    }
    let item_hint = match hint {
        Some(OdpsType::Array(t)) => Some(t.as_ref()),
        _ => None,
    };
    let field = |f: &FieldRef, h: Option<&OdpsType>| -> Option<FieldRef> {
        convert_type(f.data_type(), h, unit).map(|t| Arc::new(Field::clone(f).with_data_type(t)))
    };
    match dt {
        DataType::List(f) => field(f, item_hint).map(DataType::List),
        DataType::LargeList(f) => field(f, item_hint).map(DataType::LargeList),
        DataType::FixedSizeList(f, n) => {
            field(f, item_hint).map(|f| DataType::FixedSizeList(f, *n))
        }
        DataType::Map(entries, sorted) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return None;
            };
            if kv.len() != 2 {
                return None;
            }
            let (kh, vh) = match hint {
                Some(OdpsType::Map(k, v)) => (Some(k.as_ref()), Some(v.as_ref())),
                _ => (None, None),
            };
            let k = field(&kv[0], kh);
            let v = field(&kv[1], vh);
            if k.is_none() && v.is_none() {
                return None;
            }
            let kv = Fields::from(vec![
                k.unwrap_or_else(|| kv[0].clone()),
                v.unwrap_or_else(|| kv[1].clone()),
            ]);
            Some(DataType::Map(
                Arc::new(Field::clone(entries).with_data_type(DataType::Struct(kv))),
                *sorted,
            ))
        }
        DataType::Struct(fields) => {
            let members = match hint {
                Some(OdpsType::Struct(m)) => Some(m),
                _ => None,
            };
            let mut changed = false;
            let new: Vec<FieldRef> = fields
                .iter()
                .map(|f| {
                    let h =
                        members.and_then(|m| m.iter().find(|(n, _)| n == f.name()).map(|(_, t)| t));
                    match field(f, h) {
                        Some(nf) => {
                            changed = true;
                            nf
                        }
                        None => f.clone(),
                    }
                })
                .collect();
            changed.then(|| DataType::Struct(Fields::from(new)))
        }
        _ => None,
    }
}

/// The conversion of one stream's batches.
#[derive(Debug, Clone)]
pub(crate) struct Normalizer {
    schema: SchemaRef,
    /// For each column, its converted type when it changes.
    targets: Vec<Option<DataType>>,
}

impl Normalizer {
    /// Plans the conversion of a stream schema; `None` when no column changes.
    pub(crate) fn plan(
        schema: &Schema,
        unit: TimestampUnit,
        hints: &[(String, OdpsType)],
    ) -> Option<Normalizer> {
        let targets: Vec<Option<DataType>> = schema
            .fields()
            .iter()
            .map(|f| {
                let hint = hints.iter().find(|(n, _)| n == f.name()).map(|(_, t)| t);
                convert_type(f.data_type(), hint, unit)
            })
            .collect();
        if targets.iter().all(Option::is_none) {
            return None;
        }
        let fields: Vec<FieldRef> = schema
            .fields()
            .iter()
            .zip(&targets)
            .map(|(f, t)| match t {
                Some(t) => Arc::new(Field::clone(f).with_data_type(t.clone())),
                None => f.clone(),
            })
            .collect();
        Some(Normalizer {
            schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            targets,
        })
    }

    /// The schema of converted batches.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Converts a batch of the planned stream.
    pub(crate) fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, CodecError> {
        let columns = batch
            .columns()
            .iter()
            .zip(&self.targets)
            .zip(self.schema.fields())
            .map(|((c, t), f)| match t {
                Some(t) => convert_array(c, t, f.name()),
                None => Ok(c.clone()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
            .map_err(CodecError::arrow)
    }
}

fn convert_array(array: &ArrayRef, target: &DataType, path: &str) -> Result<ArrayRef, CodecError> {
    if array.data_type() == target {
        return Ok(array.clone());
    }
    let err = CodecError::arrow;
    match (array.data_type(), target) {
        (src, DataType::Timestamp(u, _)) if is_timestamp_struct(src) => {
            let u = TimestampUnit::from_arrow(*u);
            match u {
                TimestampUnit::Second => combine::<TimestampSecondType>(array, u, path),
                TimestampUnit::Milli => combine::<TimestampMillisecondType>(array, u, path),
                TimestampUnit::Micro => combine::<TimestampMicrosecondType>(array, u, path),
                TimestampUnit::Nano => combine::<TimestampNanosecondType>(array, u, path),
            }
        }
        (src, DataType::Duration(u)) if is_timestamp_struct(src) => {
            let u = TimestampUnit::from_arrow(*u);
            match u {
                TimestampUnit::Second => combine::<DurationSecondType>(array, u, path),
                TimestampUnit::Milli => combine::<DurationMillisecondType>(array, u, path),
                TimestampUnit::Micro => combine::<DurationMicrosecondType>(array, u, path),
                TimestampUnit::Nano => combine::<DurationNanosecondType>(array, u, path),
            }
        }
        (DataType::List(_), DataType::List(f)) => {
            let l = array.as_list::<i32>();
            let values = convert_array(l.values(), f.data_type(), &format!("{path}.{}", f.name()))?;
            Ok(Arc::new(
                ListArray::try_new(f.clone(), l.offsets().clone(), values, l.nulls().cloned())
                    .map_err(err)?,
            ))
        }
        (DataType::LargeList(_), DataType::LargeList(f)) => {
            let l = array.as_list::<i64>();
            let values = convert_array(l.values(), f.data_type(), &format!("{path}.{}", f.name()))?;
            Ok(Arc::new(
                LargeListArray::try_new(f.clone(), l.offsets().clone(), values, l.nulls().cloned())
                    .map_err(err)?,
            ))
        }
        (DataType::FixedSizeList(_, _), DataType::FixedSizeList(f, n)) => {
            let l = array.as_fixed_size_list();
            let values = convert_array(l.values(), f.data_type(), &format!("{path}.{}", f.name()))?;
            Ok(Arc::new(
                FixedSizeListArray::try_new(f.clone(), *n, values, l.nulls().cloned())
                    .map_err(err)?,
            ))
        }
        (DataType::Map(_, _), DataType::Map(f, sorted)) => {
            let m = array.as_map();
            let entries: ArrayRef = Arc::new(m.entries().clone());
            let entries = convert_array(&entries, f.data_type(), path)?;
            Ok(Arc::new(
                MapArray::try_new(
                    f.clone(),
                    m.offsets().clone(),
                    entries.as_struct().clone(),
                    m.nulls().cloned(),
                    *sorted,
                )
                .map_err(err)?,
            ))
        }
        (DataType::Struct(_), DataType::Struct(fields)) => {
            let s = array.as_struct();
            let children = s
                .columns()
                .iter()
                .zip(fields)
                .map(|(c, f)| convert_array(c, f.data_type(), &format!("{path}.{}", f.name())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Arc::new(
                StructArray::try_new(fields.clone(), children, s.nulls().cloned()).map_err(err)?,
            ))
        }
        (from, to) => Err(CodecError::Arrow(format!(
            "column {path:?}: cannot convert {from} to {to}"
        ))),
    }
}

/// `sec * per_second + floor(nano / (1e9 / per_second))` for every valid row.
fn combine<T: ArrowPrimitiveType<Native = i64>>(
    array: &ArrayRef,
    unit: TimestampUnit,
    path: &str,
) -> Result<ArrayRef, CodecError> {
    let s = array.as_struct();
    let sec = s.column(0).as_primitive::<Int64Type>();
    let nano = s.column(1).as_primitive::<Int32Type>();
    let nulls = NullBuffer::union(
        s.nulls(),
        NullBuffer::union(sec.nulls(), nano.nulls()).as_ref(),
    );
    let per_second = unit.per_second();
    let divisor = 1_000_000_000 / per_second;
    let mut values = Vec::with_capacity(s.len());
    for i in 0..s.len() {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            values.push(0);
            continue;
        }
        let (sv, nv) = (sec.value(i), nano.value(i));
        let v = sv
            .checked_mul(per_second)
            .and_then(|x| x.checked_add(i64::from(nv).div_euclid(divisor)))
            .ok_or_else(|| CodecError::TimestampOverflow {
                column: path.to_string(),
                seconds: sv,
                nanos: nv,
                unit,
            })?;
        values.push(v);
    }
    Ok(Arc::new(PrimitiveArray::<T>::new(values.into(), nulls)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        Int32Array, Int64Array, TimestampMillisecondArray, TimestampNanosecondArray,
    };

    fn ts_struct(
        sec: Vec<Option<i64>>,
        nano: Vec<Option<i32>>,
        nulls: Option<Vec<bool>>,
    ) -> StructArray {
        StructArray::try_new(
            Fields::from(vec![
                Field::new("sec", DataType::Int64, true),
                Field::new("nano", DataType::Int32, true),
            ]),
            vec![
                Arc::new(Int64Array::from(sec)) as ArrayRef,
                Arc::new(Int32Array::from(nano)) as ArrayRef,
            ],
            nulls.map(NullBuffer::from),
        )
        .unwrap()
    }

    #[test]
    fn converts_units_and_nulls() {
        let s = ts_struct(
            vec![Some(1), Some(-1), None, Some(5)],
            vec![Some(999_999_999), Some(500_000_000), Some(0), Some(1)],
            Some(vec![true, true, true, false]),
        );
        let schema = Schema::new(vec![Field::new("t", s.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(s)]).unwrap();

        let n = Normalizer::plan(&schema, TimestampUnit::Nano, &[]).unwrap();
        let out = n.apply(&batch).unwrap();
        let expected = TimestampNanosecondArray::from(vec![
            Some(1_999_999_999),
            Some(-500_000_000),
            None,
            None,
        ]);
        assert_eq!(out.column(0).as_ref(), &expected as &dyn Array);

        let n = Normalizer::plan(&schema, TimestampUnit::Milli, &[]).unwrap();
        let out = n.apply(&batch).unwrap();
        let expected = TimestampMillisecondArray::from(vec![Some(1_999), Some(-500), None, None]);
        assert_eq!(out.column(0).as_ref(), &expected as &dyn Array);
    }

    #[test]
    fn overflow_names_column() {
        let s = ts_struct(vec![Some(i64::MAX / 10)], vec![Some(0)], None);
        let schema = Schema::new(vec![Field::new("big", s.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(s)]).unwrap();
        let n = Normalizer::plan(&schema, TimestampUnit::Nano, &[]).unwrap();
        let e = n.apply(&batch).unwrap_err();
        assert!(
            matches!(e, CodecError::TimestampOverflow { ref column, .. } if column == "big"),
            "{e}"
        );
    }

    #[test]
    fn hints() {
        let st = ts_struct(vec![Some(1)], vec![Some(2)], None)
            .data_type()
            .clone();
        let schema = Schema::new(vec![
            Field::new("a", st.clone(), true),
            Field::new("b", st.clone(), true),
            Field::new(
                "c",
                DataType::List(Arc::new(Field::new("item", st.clone(), true))),
                true,
            ),
        ]);
        let hints = vec![
            ("a".to_string(), OdpsType::IntervalDayTime),
            (
                "b".to_string(),
                OdpsType::Struct(vec![
                    ("sec".into(), OdpsType::Bigint),
                    ("nano".into(), OdpsType::Int),
                ]),
            ),
        ];
        let n = Normalizer::plan(&schema, TimestampUnit::Micro, &hints).unwrap();
        let s = n.schema();
        assert_eq!(
            s.field(0).data_type(),
            &DataType::Duration(TimeUnit::Nanosecond)
        );
        assert_eq!(s.field(1).data_type(), &st);
        assert_eq!(
            s.field(2).data_type(),
            &DataType::List(Arc::new(Field::new(
                "item",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true
            )))
        );
        assert!(
            Normalizer::plan(
                &Schema::new(vec![Field::new("x", DataType::Int64, true)]),
                TimestampUnit::Nano,
                &[]
            )
            .is_none()
        );
    }
}
