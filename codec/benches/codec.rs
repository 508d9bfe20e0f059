//! Throughput of the codec on a ~100 MB mixed-type table.
//!
//! * `encode/<compression>`: batches → IPC request bodies (64 MiB target), IPC buffer
//!   compression none / zstd / lz4.
//! * `decode/<compression>`: IPC stream → batches, fed in 1 MiB chunks, for IPC buffer
//!   compression and whole-body (`body-*`) compression.
//! * `push_decode/<chunk>`: the uncompressed stream fed in 4 KiB, 64 KiB and 1 MiB chunks.
//!
//! Throughput is in bytes of the *uncompressed* IPC stream, so the numbers compare.
//! Run: `cargo bench -p maxstorage-codec` (add `-- --measurement-time 5` for a quick run).

use std::hint::black_box;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StructArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Fields};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use maxstorage_codec::compress;
use maxstorage_codec::read::{ArrowStreamDecoder, DecoderOptions};
use maxstorage_codec::write::{ArrowStreamEncoder, EncoderOptions, encode_stream};
use maxstorage_protocol::Compression;

const ROWS: usize = 1_200_000;
const BATCH_ROWS: usize = 65_536;

fn table() -> Vec<RecordBatch> {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut batches = Vec::new();
    let mut start = 0;
    while start < ROWS {
        let n = BATCH_ROWS.min(ROWS - start);
        let ids = Int64Array::from_iter_values((start as i64)..(start + n) as i64);
        let f = Float64Array::from_iter_values((0..n).map(|_| (next() % 1_000_000) as f64 / 7.0));
        let mut s = StringBuilder::new();
        for i in 0..n {
            if i % 10 == 0 {
                s.append_null();
            } else {
                s.append_value(format!("customer-{:08}-{}", next() % 100_000_000, i % 7));
            }
        }
        let flags = BooleanArray::from_iter((0..n).map(|i| Some(i % 3 == 0)));
        let ts = TimestampNanosecondArray::from_iter_values(
            (0..n).map(|_| 1_600_000_000_000_000_000 + (next() % 1_000_000_000_000_000) as i64),
        );
        let dec =
            Decimal128Array::from_iter_values((0..n).map(|_| (next() % 10_000_000_000) as i128))
                .with_precision_and_scale(18, 2)
                .unwrap();
        let mut l = ListBuilder::new(Int32Builder::new());
        for i in 0..n {
            for j in 0..(i % 5) {
                l.values().append_value((j * 31 + i) as i32);
            }
            l.append(true);
        }
        let st = StructArray::new(
            Fields::from(vec![
                Field::new("k", DataType::Int32, true),
                Field::new("v", DataType::Utf8, true),
            ]),
            vec![
                Arc::new(Int32Array::from_iter_values((0..n).map(|i| i as i32))) as ArrayRef,
                Arc::new(arrow_array::StringArray::from_iter_values(
                    (0..n).map(|i| format!("v{}", i % 1000)),
                )) as ArrayRef,
            ],
            None,
        );
        batches.push(
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(ids) as ArrayRef),
                ("amount", Arc::new(f) as ArrayRef),
                ("name", Arc::new(s.finish()) as ArrayRef),
                ("flag", Arc::new(flags) as ArrayRef),
                ("ts", Arc::new(ts) as ArrayRef),
                ("price", Arc::new(dec) as ArrayRef),
                ("tags", Arc::new(l.finish()) as ArrayRef),
                ("attrs", Arc::new(st) as ArrayRef),
            ])
            .unwrap(),
        );
        start += n;
    }
    batches
}

fn decode(body: &[u8], chunk: usize) -> usize {
    let mut d = ArrowStreamDecoder::new(DecoderOptions::default());
    let mut rows = 0;
    for c in body.chunks(chunk) {
        d.feed(c).unwrap();
        while let Some(b) = d.next_batch().unwrap() {
            rows += b.num_rows();
        }
    }
    d.finish().unwrap();
    while let Some(b) = d.next_batch().unwrap() {
        rows += b.num_rows();
    }
    rows
}

fn benches(c: &mut Criterion) {
    let batches = table();
    let schema = batches[0].schema();
    let plain = encode_stream(schema.clone(), &batches, Compression::Uncompressed).unwrap();
    let ipc_bytes = plain.len() as u64;
    eprintln!("table: {ROWS} rows, {ipc_bytes} bytes of uncompressed IPC");

    let codecs = [
        ("none", Compression::Uncompressed),
        ("zstd", Compression::Zstd),
        ("lz4", Compression::Lz4Frame),
    ];

    let mut g = c.benchmark_group("encode");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(ipc_bytes));
    for (name, codec) in codecs {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut enc = ArrowStreamEncoder::new(
                    schema.clone(),
                    EncoderOptions::with_compression(codec),
                )
                .unwrap();
                let mut total = 0u64;
                for batch in &batches {
                    enc.write(batch).unwrap();
                    while let Some(body) = enc.next_body() {
                        total += body.len();
                    }
                }
                while let Some(body) = enc.flush() {
                    total += body.len();
                }
                black_box(total)
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("decode");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(ipc_bytes));
    for (name, codec) in codecs {
        let body = encode_stream(schema.clone(), &batches, codec).unwrap();
        eprintln!(
            "decode/{name}: IPC buffer compression, {} bytes",
            body.len()
        );
        g.bench_function(name, |b| {
            b.iter(|| assert_eq!(decode(black_box(&body), 1 << 20), ROWS))
        });
    }
    for (name, codec) in &codecs[1..] {
        let body = compress::compress(*codec, &plain).unwrap();
        eprintln!(
            "decode/body-{name}: whole-body compression, {} bytes",
            body.len()
        );
        g.bench_function(format!("body-{name}"), |b| {
            b.iter(|| assert_eq!(decode(black_box(&body), 1 << 20), ROWS))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("push_decode");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(ipc_bytes));
    for (label, chunk) in [("4KiB", 4 << 10), ("64KiB", 64 << 10), ("1MiB", 1 << 20)] {
        g.bench_with_input(BenchmarkId::from_parameter(label), &chunk, |b, &chunk| {
            b.iter(|| assert_eq!(decode(black_box(&plain), chunk), ROWS))
        });
    }
    g.finish();
}

/// The criterion group (the macro generates an undocumented public function).
mod group {
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(codec, benches);
}
criterion_main!(group::codec);
