//! Progress of long reads and writes: a client's listener is told about every batch a
//! split read hands over and every body the service acknowledges, in both clients; the
//! ready-made counters add up to exactly the rows moved.

use std::sync::Arc;

use futures_util::TryStreamExt;
use maxstorage::arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use maxstorage::prelude::*;
use maxstorage::{ProgressCounters, WriteSessionOptions as Options};

mod common;

const ROWS: i64 = 20_000;

fn batch(from: i64, rows: i64) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(from..from + rows)) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                (from..from + rows).map(|i| format!("name {i} {}", "x".repeat(40))),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// Small bodies, so every stream makes several writes.
fn stream_options() -> StreamOptions {
    StreamOptions::default()
        .with_exactly_once(true)
        .with_max_body_bytes(64 * 1024)
}

#[test]
fn the_blocking_client_reports_every_body_written_and_every_batch_read() {
    let local = common::Local::start("progress-blocking");
    local.table("t", &[("id", "bigint"), ("name", "string")]);
    let counters = Arc::new(ProgressCounters::default());
    let client = local.client().with_progress(counters.clone());
    let table = client.table(TableId::new("p", "t"));

    let session = table.create_write_session(Options::default()).unwrap();
    for (i, from) in [0, ROWS / 2].into_iter().enumerate() {
        let mut writer = session
            .stream_writer(StreamRef::new(i.to_string(), 1), stream_options())
            .unwrap();
        for chunk in (from..from + ROWS / 2).step_by(1000) {
            writer.write(&batch(chunk, 1000)).unwrap();
        }
        let summary = writer.finish().unwrap();
        assert_eq!(summary.rows, ROWS / 2);
    }
    session.commit().unwrap();
    assert_eq!(counters.rows_written(), ROWS as u64);
    // Every body counted: each holds at least its rows' ids.
    assert!(counters.bytes_written() >= ROWS as u64 * 8);
    assert_eq!(counters.rows_read(), 0);

    let read = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    let options = ReadOptions::default().with_max_batch_rows(Some(512));
    let rows: usize = table
        .read_all(&read, &options, 2)
        .map(|item| item.map(|(_, b)| b.num_rows()))
        .sum::<maxstorage::Result<usize>>()
        .unwrap();
    assert_eq!(rows as i64, ROWS);
    assert_eq!(counters.rows_read(), ROWS as u64);
    assert!(counters.bytes_read() > 0);
    // A client without the listener reports nothing to it.
    let before = counters.rows_read();
    let quiet = local.client().table(TableId::new("p", "t"));
    let _ = quiet.read_split(&read, 0, &ReadOptions::default()).count();
    assert_eq!(counters.rows_read(), before);
}

#[test]
fn the_async_client_reports_every_body_written_and_every_batch_read() {
    let local = common::Local::start("progress-async");
    local.table("t", &[("id", "bigint"), ("name", "string")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let counters = Arc::new(ProgressCounters::default());
    rt.block_on(async {
        let client = local.async_client().await.with_progress(counters.clone());
        let table = client.table(TableId::new("p", "t"));
        let session = table
            .create_write_session(Options::default())
            .await
            .unwrap();
        let mut writer = session
            .stream_writer(StreamRef::new("0", 1), stream_options())
            .await
            .unwrap();
        for chunk in (0..ROWS).step_by(1000) {
            writer.write(&batch(chunk, 1000)).await.unwrap();
        }
        writer.finish().await.unwrap();
        session.commit().await.unwrap();
        assert_eq!(counters.rows_written(), ROWS as u64);
        assert!(counters.bytes_written() >= ROWS as u64 * 8);

        let read = table
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        let batches: Vec<(usize, RecordBatch)> = table
            .read_all(&read, &ReadOptions::default(), 2)
            .try_collect()
            .await
            .unwrap();
        let rows: usize = batches.iter().map(|(_, b)| b.num_rows()).sum();
        assert_eq!(rows as i64, ROWS);
        assert_eq!(counters.rows_read(), ROWS as u64);
        assert!(counters.bytes_read() > 0);
    });
}
