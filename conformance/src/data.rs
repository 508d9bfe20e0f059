//! Test data: deterministic rows and comparisons that say what differs.

use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

/// The columns of the standard test table.
pub const COLUMNS: [(&str, &str); 3] = [("id", "bigint"), ("name", "string"), ("value", "double")];

/// The Arrow schema of the standard test table.
pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
    ]))
}

/// Rows `from..to` of the standard table: `id`, `name-<id>`, `id / 4`.
pub fn rows(from: i64, to: i64) -> RecordBatch {
    let ids: Vec<i64> = (from..to).collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("name-{i}")),
            )),
            Arc::new(Float64Array::from_iter_values(
                ids.iter().map(|i| *i as f64 / 4.0),
            )),
        ],
    )
    .expect("valid batch")
}

/// Rows `from..to` in batches of `batch` rows.
pub fn batches(from: i64, to: i64, batch: i64) -> Vec<RecordBatch> {
    (from..to)
        .step_by(batch as usize)
        .map(|s| rows(s, (s + batch).min(to)))
        .collect()
}

/// The `id` column of batches, in order.
pub fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    column_i64(batches, "id")
}

/// An `Int64` column of batches, in order.
pub fn column_i64(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", b.schema()));
        let a = col
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap_or_else(|| panic!("column {name} is {:?}", col.data_type()));
        out.extend((0..a.len()).map(|i| a.value(i)));
    }
    out
}

/// A `Utf8` column of batches, in order.
pub fn column_str(batches: &[RecordBatch], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"));
        let a = col
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap_or_else(|| panic!("column {name} is {:?}", col.data_type()));
        out.extend((0..a.len()).map(|i| a.value(i).to_string()));
    }
    out
}

/// Rows as `(id, name, value bits)` tuples, sorted: compares content, not order.
pub fn content(batches: &[RecordBatch]) -> Vec<(i64, String, u64)> {
    let mut out = Vec::new();
    for b in batches {
        let id = b
            .column_by_name("id")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
            .expect("id");
        let name = b
            .column_by_name("name")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            .expect("name");
        let value = b
            .column_by_name("value")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned())
            .expect("value");
        for i in 0..b.num_rows() {
            out.push((
                id.value(i),
                name.value(i).to_string(),
                value.value(i).to_bits(),
            ));
        }
    }
    out.sort();
    out
}

/// Total rows of batches.
pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// The columns of the reference perf harness's table (`shared/perf/gen_data.py`): every
/// width, nulls, short and long strings, nanosecond timestamps and dates.
pub const WIDE_COLUMNS: [(&str, &str); 8] = [
    ("id", "bigint"),
    ("i32", "int"),
    ("f64", "double"),
    ("flag", "boolean"),
    ("short_str", "string"),
    ("long_str", "string"),
    ("ts", "timestamp"),
    ("dt", "date"),
];

/// Rows `from..to` shaped like the perf harness's table: `f64` null every 7th row,
/// `long_str` (about 64 characters) null every 11th, `ts` in nanoseconds.
pub fn wide_rows(from: i64, to: i64) -> RecordBatch {
    use arrow_array::{BooleanArray, Date32Array, Int32Array, TimestampNanosecondArray};
    let ids: Vec<i64> = (from..to).collect();
    let long = |i: i64| {
        format!(
            "{i:016}-{}",
            "abcdefghijklmnopqrstuvwxyz0123456789"[..(i % 37) as usize].repeat(2)
        )
    };
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int32Array::from_iter_values(
            ids.iter().map(|i| (*i as i32).wrapping_mul(7)),
        )),
        Arc::new(Float64Array::from_iter(
            ids.iter().map(|i| (i % 7 != 0).then_some(*i as f64 * 0.5)),
        )),
        Arc::new(BooleanArray::from_iter(
            ids.iter().map(|i| Some(i % 3 == 0)),
        )),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| format!("s{:015}", i)),
        )),
        Arc::new(StringArray::from_iter(
            ids.iter().map(|i| (i % 11 != 0).then(|| long(*i))),
        )),
        Arc::new(TimestampNanosecondArray::from_iter_values(
            ids.iter()
                .map(|i| 1_700_000_000_000_000_000 + i * 1_000_003),
        )),
        Arc::new(Date32Array::from_iter_values(
            ids.iter().map(|i| 19_000 + (*i % 1000) as i32),
        )),
    ];
    let fields: Vec<Field> = WIDE_COLUMNS
        .iter()
        .zip(&columns)
        .map(|((name, _), c)| Field::new(*name, c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("valid batch")
}

/// Asserts that `got` holds exactly the rows of `want`, in order, column by column
/// (values and nulls; the Arrow types must match too).
pub fn assert_same_rows(got: &[RecordBatch], want: &[RecordBatch], what: &str) {
    if let Err(e) = compare_rows(got, want, what) {
        panic!("{e}");
    }
}

/// Whether `got` holds exactly the rows of `want`, in order, column by column (values and
/// nulls; the Arrow types must match too); the error says what differs first.
pub fn compare_rows(got: &[RecordBatch], want: &[RecordBatch], what: &str) -> Result<(), String> {
    let (Some(g), Some(w)) = (got.first(), want.first()) else {
        return if row_count(got) == row_count(want) {
            Ok(())
        } else {
            Err(format!(
                "{what}: {} rows, want {}",
                row_count(got),
                row_count(want)
            ))
        };
    };
    let concat = |b: &RecordBatch, all: &[RecordBatch]| {
        arrow_select::concat::concat_batches(&b.schema(), all)
            .map_err(|e| format!("{what}: batches of different schemas: {e}"))
    };
    let got = concat(g, got)?;
    let want = concat(w, want)?;
    if got.num_rows() != want.num_rows() {
        return Err(format!(
            "{what}: {} rows, want {}",
            got.num_rows(),
            want.num_rows()
        ));
    }
    for (i, field) in want.schema().fields().iter().enumerate() {
        let name = field.name();
        let column = got
            .column_by_name(name)
            .ok_or_else(|| format!("{what}: column {name} missing"))?;
        if column.data_type() != field.data_type() {
            return Err(format!(
                "{what}: column {name} is {}, want {}",
                column.data_type(),
                field.data_type()
            ));
        }
        if column.as_ref() != want.column(i).as_ref() {
            let first = (0..want.num_rows())
                .find(|r| column.slice(*r, 1).as_ref() != want.column(i).slice(*r, 1).as_ref())
                .unwrap_or(0);
            return Err(format!(
                "{what}: column {name} differs, first at row {first}: got {:?}, want {:?}",
                column.slice(first, 1),
                want.column(i).slice(first, 1)
            ));
        }
    }
    Ok(())
}

/// Batches as one batch sorted by their `id` column (no batch if there are no rows).
pub fn sorted_by_id(batches: &[RecordBatch]) -> Vec<RecordBatch> {
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let all = arrow_select::concat::concat_batches(&first.schema(), batches).expect("one schema");
    let ids = ids(std::slice::from_ref(&all));
    let mut order: Vec<u32> = (0..ids.len() as u32).collect();
    order.sort_by_key(|i| ids[*i as usize]);
    let indices = arrow_array::UInt32Array::from(order);
    vec![arrow_select::take::take_record_batch(&all, &indices).expect("indices in range")]
}
