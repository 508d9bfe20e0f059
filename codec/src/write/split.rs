//! Splitting batches so that each encoded IPC message stays under a byte target.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// IPC overhead per buffer (alignment padding) and per message (metadata), as estimated.
const PER_BUFFER: usize = 8;
const PER_MESSAGE: usize = 512;
const PER_FIELD_METADATA: usize = 48;

/// Estimated bytes of the buffers of `array` that an IPC encoding of it writes
/// (uncompressed): only the slice's part of each buffer, following list offsets into
/// child values.
pub fn estimated_array_size(array: &dyn Array) -> usize {
    let len = array.len();
    let validity = if array.null_count() > 0 {
        len.div_ceil(8)
    } else {
        0
    } + PER_BUFFER;
    let own = match array.data_type() {
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let o = l.value_offsets();
            let (s, e) = (o[0] as usize, o[len] as usize);
            (len + 1) * 4 + PER_BUFFER + estimated_array_size(l.values().slice(s, e - s).as_ref())
        }
        DataType::LargeList(_) => {
            let l = array.as_list::<i64>();
            let o = l.value_offsets();
            let (s, e) = (o[0] as usize, o[len] as usize);
            (len + 1) * 8 + PER_BUFFER + estimated_array_size(l.values().slice(s, e - s).as_ref())
        }
        DataType::Map(_, _) => {
            let m = array.as_map();
            let o = m.value_offsets();
            let (s, e) = (o[0] as usize, o[len] as usize);
            (len + 1) * 4 + PER_BUFFER + estimated_array_size(&m.entries().slice(s, e - s))
        }
        DataType::FixedSizeList(_, _) => {
            estimated_array_size(array.as_fixed_size_list().values().as_ref())
        }
        DataType::Struct(_) => array
            .as_struct()
            .columns()
            .iter()
            .map(|c| estimated_array_size(c.as_ref()))
            .sum(),
        _ => {
            let data = array.to_data();
            data.get_slice_memory_size()
                .unwrap_or_else(|_| array.get_buffer_memory_size())
                + 2 * PER_BUFFER
        }
    };
    validity + own
}

/// Estimated size of the IPC record batch message of `batch`, without compression.
pub fn estimated_ipc_size(batch: &RecordBatch) -> usize {
    let fields = count_fields(
        &batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect::<Vec<_>>(),
    );
    PER_MESSAGE
        + fields * PER_FIELD_METADATA
        + batch
            .columns()
            .iter()
            .map(|c| estimated_array_size(c.as_ref()))
            .sum::<usize>()
}

fn count_fields(types: &[DataType]) -> usize {
    types
        .iter()
        .map(|t| {
            1 + match t {
                DataType::List(f)
                | DataType::LargeList(f)
                | DataType::FixedSizeList(f, _)
                | DataType::Map(f, _) => count_fields(std::slice::from_ref(f.data_type())),
                DataType::Struct(fs) => {
                    count_fields(&fs.iter().map(|f| f.data_type().clone()).collect::<Vec<_>>())
                }
                _ => 0,
            }
        })
        .sum()
}

/// Splits `batch` into consecutive zero-copy slices whose estimated uncompressed IPC
/// size ([`estimated_ipc_size`]) is at most `max_bytes`. A single row larger than
/// `max_bytes` becomes a slice of its own. An empty batch yields no slice.
pub fn split_batch(batch: &RecordBatch, max_bytes: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let rows = batch.num_rows();
    if rows == 0 {
        return out;
    }
    let total = estimated_ipc_size(batch);
    if total <= max_bytes {
        out.push(batch.clone());
        return out;
    }
    // A first guess from the average row size, refined by halving slices that are
    // still too large (rows of uneven size).
    let per_slice = ((rows as u128 * max_bytes as u128) / total as u128).max(1) as usize;
    let mut start = 0;
    while start < rows {
        let len = per_slice.min(rows - start);
        split_into(&batch.slice(start, len), max_bytes, &mut out);
        start += len;
    }
    out
}

fn split_into(batch: &RecordBatch, max_bytes: usize, out: &mut Vec<RecordBatch>) {
    let rows = batch.num_rows();
    if rows <= 1 || estimated_ipc_size(batch) <= max_bytes {
        out.push(batch.clone());
        return;
    }
    let half = rows / 2;
    split_into(&batch.slice(0, half), max_bytes, out);
    split_into(&batch.slice(half, rows - half), max_bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn slices_cover_rows_in_order_under_target() {
        let n = 10_000;
        let strings: Vec<String> = (0..n).map(|i| "x".repeat(i % 300)).collect();
        let mut lb = ListBuilder::new(StringBuilder::new());
        for i in 0..n {
            for j in 0..(i % 7) {
                lb.values().append_value(format!("{j}"));
            }
            lb.append(true);
        }
        let batch = RecordBatch::try_from_iter(vec![
            (
                "a",
                Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef,
            ),
            ("s", Arc::new(StringArray::from(strings)) as ArrayRef),
            ("l", Arc::new(lb.finish()) as ArrayRef),
        ])
        .unwrap();
        let max = 64 * 1024;
        let parts = split_batch(&batch, max);
        assert!(parts.len() > 10);
        let mut next = 0i64;
        for p in &parts {
            assert!(estimated_ipc_size(p) <= max);
            let a = p.column(0).as_primitive::<arrow_array::types::Int64Type>();
            for v in a.values() {
                assert_eq!(*v, next);
                next += 1;
            }
        }
        assert_eq!(next, n as i64);
        // A sliced list is estimated by its own values, not its parent's.
        let one = batch.slice(5000, 1);
        assert!(estimated_ipc_size(&one) < 2048);
    }

    #[test]
    fn oversized_row_is_alone() {
        let batch = RecordBatch::try_from_iter(vec![(
            "s",
            Arc::new(StringArray::from(vec!["y".repeat(10_000), "z".into()])) as ArrayRef,
        )])
        .unwrap();
        let parts = split_batch(&batch, 1000);
        assert_eq!(parts.len(), 2);
        assert!(split_batch(&batch.slice(0, 0), 1000).is_empty());
    }
}
