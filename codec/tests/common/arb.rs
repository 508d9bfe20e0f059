//! Random Arrow schemas (every type the codec maps, nested lists/structs/maps) and
//! deterministic random batches for the property tests.

use std::sync::Arc;

use arrow_array::types::*;
use arrow_array::*;
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields, IntervalUnit, Schema, SchemaRef, TimeUnit};
use proptest::prelude::*;

/// A small deterministic RNG (xorshift64*).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn leaf() -> impl Strategy<Value = DataType> {
    prop_oneof![
        Just(DataType::Int8),
        Just(DataType::Int16),
        Just(DataType::Int32),
        Just(DataType::Int64),
        Just(DataType::Float32),
        Just(DataType::Float64),
        Just(DataType::Boolean),
        Just(DataType::Utf8),
        Just(DataType::LargeUtf8),
        Just(DataType::Binary),
        Just(DataType::Date32),
        prop_oneof![
            Just(TimeUnit::Second),
            Just(TimeUnit::Millisecond),
            Just(TimeUnit::Microsecond),
            Just(TimeUnit::Nanosecond)
        ]
        .prop_map(|u| DataType::Timestamp(u, None)),
        (1u8..=38)
            .prop_flat_map(|p| (Just(p), 0..=p as i8))
            .prop_map(|(p, s)| DataType::Decimal128(p, s)),
        Just(DataType::Interval(IntervalUnit::YearMonth)),
        Just(DataType::Duration(TimeUnit::Nanosecond)),
    ]
}

fn key_type() -> impl Strategy<Value = DataType> {
    prop_oneof![
        Just(DataType::Utf8),
        Just(DataType::Int64),
        Just(DataType::Int32)
    ]
}

/// A random column type, nested up to 3 levels.
pub(crate) fn data_type() -> impl Strategy<Value = DataType> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), any::<bool>())
                .prop_map(|(t, n)| DataType::List(Arc::new(Field::new("element", t, n)))),
            (key_type(), inner.clone(), any::<bool>()).prop_map(|(k, v, n)| {
                DataType::Map(
                    Arc::new(Field::new(
                        "entries",
                        DataType::Struct(Fields::from(vec![
                            Field::new("key", k, false),
                            Field::new("value", v, n),
                        ])),
                        false,
                    )),
                    false,
                )
            }),
            prop::collection::vec((inner, any::<bool>()), 1..4).prop_map(|members| {
                DataType::Struct(Fields::from(
                    members
                        .into_iter()
                        .enumerate()
                        .map(|(i, (t, n))| Field::new(format!("m{i}"), t, n))
                        .collect::<Vec<_>>(),
                ))
            }),
        ]
    })
}

/// A random schema of 1..6 columns.
pub(crate) fn schema() -> impl Strategy<Value = SchemaRef> {
    prop::collection::vec((data_type(), any::<bool>()), 1..6).prop_map(|cols| {
        Arc::new(Schema::new(
            cols.into_iter()
                .enumerate()
                .map(|(i, (t, n))| Field::new(format!("c{i}"), t, n))
                .collect::<Vec<_>>(),
        ))
    })
}

fn nulls(len: usize, nullable: bool, rng: &mut Rng) -> Option<NullBuffer> {
    if !nullable || rng.chance(30) {
        return None;
    }
    let pct = rng.below(60);
    Some(NullBuffer::from(
        (0..len).map(|_| !rng.chance(pct)).collect::<Vec<bool>>(),
    ))
}

fn text(rng: &mut Rng) -> String {
    const ALPHABET: [&str; 8] = ["a", "b", "Z", "0", " ", "é", "✓", "𝄞"];
    (0..rng.below(12))
        .map(|_| ALPHABET[rng.below(8) as usize])
        .collect()
}

fn offsets(len: usize, nulls: Option<&NullBuffer>, rng: &mut Rng) -> (OffsetBuffer<i32>, usize) {
    let lens: Vec<usize> = (0..len)
        .map(|i| {
            if nulls.is_some_and(|n| n.is_null(i)) {
                0
            } else {
                rng.below(4) as usize
            }
        })
        .collect();
    let total = lens.iter().sum();
    (OffsetBuffer::from_lengths(lens), total)
}

/// A random array of `dt` with `len` rows; no nulls unless `nullable`.
pub(crate) fn array(dt: &DataType, len: usize, nullable: bool, rng: &mut Rng) -> ArrayRef {
    let n = nulls(len, nullable, rng);
    macro_rules! prim {
        ($t:ty, $gen:expr) => {{
            let values: Vec<<$t as ArrowPrimitiveType>::Native> = (0..len).map(|_| $gen).collect();
            Arc::new(PrimitiveArray::<$t>::new(ScalarBuffer::from(values), n)) as ArrayRef
        }};
    }
    match dt {
        DataType::Int8 => prim!(Int8Type, rng.next() as i8),
        DataType::Int16 => prim!(Int16Type, rng.next() as i16),
        DataType::Int32 => prim!(Int32Type, rng.next() as i32),
        DataType::Int64 => prim!(Int64Type, rng.next() as i64),
        DataType::Float32 => prim!(Float32Type, (rng.next() as i32) as f32 / 7.0),
        DataType::Float64 => prim!(Float64Type, (rng.next() as i64) as f64 / 3.0),
        DataType::Date32 => prim!(Date32Type, (rng.below(2_000_000) as i32) - 1_000_000),
        DataType::Interval(IntervalUnit::YearMonth) => {
            prim!(IntervalYearMonthType, rng.below(20_000) as i32 - 10_000)
        }
        DataType::Duration(TimeUnit::Nanosecond) => {
            prim!(DurationNanosecondType, rng.next() as i64)
        }
        DataType::Timestamp(u, None) => {
            let values: Vec<i64> = (0..len).map(|_| rng.next() as i64 >> 8).collect();
            let values = ScalarBuffer::from(values);
            match u {
                TimeUnit::Second => Arc::new(TimestampSecondArray::new(values, n)),
                TimeUnit::Millisecond => Arc::new(TimestampMillisecondArray::new(values, n)),
                TimeUnit::Microsecond => Arc::new(TimestampMicrosecondArray::new(values, n)),
                TimeUnit::Nanosecond => Arc::new(TimestampNanosecondArray::new(values, n)),
            }
        }
        DataType::Decimal128(p, s) => {
            let bound = 10i128.pow(u32::from(*p));
            let values: Vec<i128> = (0..len)
                .map(|_| ((rng.next() as i128) << 64 | rng.next() as i128) % bound)
                .collect();
            Arc::new(
                Decimal128Array::new(ScalarBuffer::from(values), n)
                    .with_precision_and_scale(*p, *s)
                    .unwrap(),
            )
        }
        DataType::Boolean => Arc::new(BooleanArray::new(
            (0..len).map(|_| rng.chance(50)).collect(),
            n,
        )),
        DataType::Utf8 => {
            Arc::new(StringArray::from_iter((0..len).map(|i| {
                (!n.as_ref().is_some_and(|n| n.is_null(i))).then(|| text(rng))
            })))
        }
        DataType::LargeUtf8 => {
            Arc::new(LargeStringArray::from_iter((0..len).map(|i| {
                (!n.as_ref().is_some_and(|n| n.is_null(i))).then(|| text(rng))
            })))
        }
        DataType::Binary => Arc::new(BinaryArray::from_iter((0..len).map(|i| {
            (!n.as_ref().is_some_and(|n| n.is_null(i))).then(|| {
                (0..rng.below(9))
                    .map(|_| rng.next() as u8)
                    .collect::<Vec<u8>>()
            })
        }))),
        DataType::List(f) => {
            let (offs, total) = offsets(len, n.as_ref(), rng);
            let values = array(f.data_type(), total, f.is_nullable(), rng);
            Arc::new(ListArray::new(f.clone(), offs, values, n))
        }
        DataType::Map(f, sorted) => {
            let DataType::Struct(kv) = f.data_type() else {
                unreachable!()
            };
            let (offs, total) = offsets(len, n.as_ref(), rng);
            let keys = array(kv[0].data_type(), total, false, rng);
            let values = array(kv[1].data_type(), total, kv[1].is_nullable(), rng);
            let entries = StructArray::new(kv.clone(), vec![keys, values], None);
            Arc::new(MapArray::new(f.clone(), offs, entries, n, *sorted))
        }
        DataType::Struct(fields) => {
            // Children of a non-nullable member must not hold nulls even under struct
            // nulls, so give such children no nulls at all.
            let children = fields
                .iter()
                .map(|f| array(f.data_type(), len, f.is_nullable(), rng))
                .collect();
            Arc::new(StructArray::new(fields.clone(), children, n))
        }
        other => unreachable!("generator does not produce {other}"),
    }
}

/// A random batch of `schema` with `rows` rows.
pub(crate) fn batch(schema: &SchemaRef, rows: usize, rng: &mut Rng) -> RecordBatch {
    let columns = schema
        .fields()
        .iter()
        .map(|f| array(f.data_type(), rows, f.is_nullable(), rng))
        .collect();
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .unwrap()
}
