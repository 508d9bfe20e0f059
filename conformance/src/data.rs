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
