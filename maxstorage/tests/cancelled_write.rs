//! An async `write` cancelled part-way (its future dropped after it started) loses
//! nothing and duplicates nothing: the batch was taken whole when the write was first
//! polled, and the next call writes it — the committed table holds it exactly once.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use maxstorage::arrow_array::{ArrayRef, Int64Array, RecordBatch};
use maxstorage::prelude::*;

mod common;

#[test]
fn a_cancelled_write_is_still_written_exactly_once() {
    let local = common::Local::start("cancel");
    local.table("t", &[("id", "bigint")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let batch = RecordBatch::try_from_iter(vec![(
        "id",
        Arc::new(Int64Array::from_iter_values(0..400_000)) as ArrayRef,
    )])
    .unwrap();
    rt.block_on(async {
        let client = local.async_client().await;
        let table = client.table(TableId::new("p", "t"));
        let session = table
            .create_write_session(WriteSessionOptions::default())
            .await
            .unwrap();
        let options = StreamOptions::default()
            .with_exactly_once(true)
            .with_compression(Some(Compression::Zstd))
            .with_max_body_bytes(64 * 1024)
            .with_encoding_threads(4);
        // Poll a write once and drop it while it waits (retry until one is caught
        // part-way; it nearly always is on the first try).
        let mut cancelled = None;
        for version in 1..=20 {
            let mut writer = session
                .stream_writer(StreamRef::new("0", version), options.clone())
                .await
                .unwrap();
            let pending = {
                let mut write = Box::pin(writer.write(&batch));
                let mut cx = Context::from_waker(Waker::noop());
                matches!(write.as_mut().poll(&mut cx), Poll::Pending)
            };
            if pending {
                cancelled = Some(writer);
                break;
            }
        }
        let mut writer = cancelled.expect("a write caught part-way");
        // The next call carries the cancelled batch on; then a second batch.
        writer.flush().await.unwrap();
        writer.write(&batch.slice(0, 1000)).await.unwrap();
        let summary = writer.finish().await.unwrap();
        assert_eq!(summary.rows, 401_000);
        session.commit().await.unwrap();
        let read = table
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        assert_eq!(read.record_count(), 401_000, "every row once");
    });
}
