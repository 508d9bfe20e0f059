//! Async-client behaviour against a scripted transport that differs in kind from the
//! blocking client's: retries waiting on tokio's (paused) clock, cancellation (dropped
//! streams and writers), no leaked tasks, 64 concurrent split reads, the async readers and
//! writers of blobs and raw bodies. The scenarios both clients share (resume, retries,
//! exactly-once recovery, route tokens) run in `conformance/tests/scripted.rs`. No network.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use maxstorage_async::{
    BlobWriteOptions, Client, ReadOptions, StreamOptions, TransportErrorKind, WritePosition,
};
use maxstorage_conformance::scripted::{
    Answer, Body, Reply, SESSION, STREAM, Script, Seen, column_a, column_b, data, ipc, json,
    json_reply, rows, session_json, transport_error,
};
use maxstorage_protocol::read::{ReadSessionOptions, RowSelection};
use maxstorage_protocol::retry::RetryPolicy;
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};
use maxstorage_protocol::{Compression, Credentials, TableId};
use tokio::io::AsyncWriteExt;

fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

async fn client(script: Arc<Script>) -> Client {
    Client::builder()
        .endpoint("http://127.0.0.1:9")
        .credentials(Credentials::new("ak", "sk"))
        .project("p")
        .retry_policy(retry_policy())
        .transport(script)
        .build()
        .await
        .unwrap()
}

/// Polls a future once (it must not be ready) and returns it.
async fn poll_once<F: Future + Unpin>(mut fut: F) -> F {
    let pending =
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut fut).poll(cx).is_pending())).await;
    assert!(pending, "the future completed; it should be waiting");
    fut
}

/// Tasks alive on this runtime, after letting it reap finished and aborted ones (bounded
/// by a number of scheduler turns, not by time).
async fn alive_tasks_settled(expected: usize) -> usize {
    let metrics = tokio::runtime::Handle::current().metrics();
    for _ in 0..10_000 {
        if metrics.num_alive_tasks() == expected {
            break;
        }
        tokio::task::yield_now().await;
    }
    metrics.num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn service_unavailable_is_retried_after_retry_after_on_the_runtime_clock() {
    let script = Arc::new(Script::default());
    script.push(|_| {
        let mut r = json_reply(503, r#"{"Code":"ServiceUnavailable","Message":"busy"}"#);
        r.headers.push(("Retry-After", "30".into()));
        Answer::Reply(r)
    });
    script.push(|_| transport_error(TransportErrorKind::Connect));
    script.push(|_| json(200, SESSION));
    let client = client(script.clone()).await;
    let started = tokio::time::Instant::now();
    let session = client
        .table(TableId::new("p", "t"))
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap();
    assert_eq!(session.id(), "rs1");
    assert_eq!(script.actions().len(), 3);
    // The paused clock only moves when the runtime sleeps: the retry slept 30 s on it
    // (a thread sleep would not have advanced it).
    assert!(started.elapsed() >= Duration::from_secs(30));
}

fn exactly_once() -> StreamOptions {
    StreamOptions::default().with_exactly_once(true)
}

#[tokio::test(start_paused = true)]
async fn dropped_split_streams_close_only_their_connection() {
    let script = Arc::new(Script::default());
    script.push(|_| json(200, &session_json(2)));
    // Split 0: one batch arrives, then the server goes quiet.
    script.push(|_| {
        let mut bytes = ipc(&[rows(0, 4)]);
        bytes.truncate(bytes.len() - 8); // no end-of-stream marker
        data(Body::endless(bytes))
    });
    // Split 1: never answers.
    script.push(|_| Answer::Hang);
    // Split 0 again: read to the end after the others were dropped.
    script.push(|_| data(Body::chunked(ipc(&[rows(0, 4)]), 64, None)));
    let client = client(script.clone()).await;
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap();
    let baseline = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let bodies_before = script.drops.bodies_dropped.load(Ordering::SeqCst);

    // Dropped mid-body, after a batch.
    let mut first = table.read_split(&session, 0, &ReadOptions::default());
    assert_eq!(first.next().await.unwrap().unwrap().num_rows(), 4);
    let waiting = poll_once(Box::pin(first.next())).await;
    drop(waiting);
    drop(first);
    assert_eq!(
        script.drops.bodies_dropped.load(Ordering::SeqCst),
        bodies_before + 1,
        "its body (connection) was released"
    );

    // Dropped while its request is on the way.
    let mut second = table.read_split(&session, 1, &ReadOptions::default());
    let waiting = poll_once(Box::pin(second.next())).await;
    drop(waiting);
    drop(second);
    assert_eq!(script.drops.exchanges_cancelled.load(Ordering::SeqCst), 1);

    // Another reader of the same client is unaffected.
    let batches: Vec<_> = table
        .read_split(&session, 0, &ReadOptions::default())
        .collect()
        .await;
    assert_eq!(batches.len(), 1);
    assert_eq!(column_a([batches[0].as_ref().unwrap()]), vec![0, 1, 2, 3]);
    assert_eq!(
        alive_tasks_settled(baseline).await,
        baseline,
        "no task leaked"
    );
    assert_eq!(
        script.actions(),
        [
            "TableCreateReadSession",
            "TableRead",
            "TableRead",
            "TableRead"
        ],
        "no resume after a drop"
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_writers_commit_nothing_and_leak_nothing() {
    let script = Arc::new(Script::default());
    script.push(|_| json(200, r#"{"SessionId":"ws4"}"#));
    script.push(|_| json(200, STREAM));
    // The first write never gets an answer.
    script.push(|s| {
        assert_eq!(s.action(), "TableWrite");
        Answer::Hang
    });
    let client = client(script.clone()).await;
    let baseline = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .await
        .unwrap();

    // An exactly-once stream writer dropped while its write is in flight.
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), exactly_once())
        .await
        .unwrap();
    writer.write(&rows(0, 10)).await.unwrap();
    let flushing = poll_once(Box::pin(writer.flush())).await;
    drop(flushing);
    // A dropped flush leaves the body in flight with the writer (the next flush waits for
    // it again) ...
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        script.drops.exchanges_cancelled.load(Ordering::SeqCst),
        0,
        "a dropped flush does not cancel the body in flight"
    );
    assert!(writer.write(&rows(10, 11)).await.is_ok(), "buffered only");
    // ... and dropping the writer cancels it.
    drop(writer);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        script.drops.exchanges_cancelled.load(Ordering::SeqCst),
        1,
        "the in-flight write was cancelled with its writer"
    );

    // A blob upload dropped mid-body: the service sees a body that never ended.
    let mut blob = session
        .blob_writer(&StreamRef::new("0", 1), BlobWriteOptions::column(2))
        .unwrap();
    blob.write_all(b"part of a blob").await.unwrap();
    drop(blob);
    // A raw writer dropped mid-body.
    let mut raw = session
        .raw_writer_at(&StreamRef::new("1", 1), 10, WritePosition::new(0, "tok"))
        .unwrap();
    raw.write(&ipc(&[rows(0, 10)])[..20]).await.unwrap();
    drop(raw);
    assert_eq!(
        script.drops.request_bodies_cut.load(Ordering::SeqCst),
        2,
        "both bodies were cut short, never completed"
    );
    drop(session);
    drop(client);

    let actions = script.actions();
    assert!(
        !actions
            .iter()
            .any(|a| a.contains("Commit") || a.contains("Close")),
        "nothing was closed or committed: {actions:?}"
    );
    assert_eq!(
        alive_tasks_settled(baseline).await,
        baseline,
        "no task leaked"
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_parallel_read_stops_its_tasks() {
    let script = Arc::new(Script::responding(|s: &Seen| match s.action() {
        "TableCreateReadSession" => json(200, &session_json(16)),
        // Each split sends one batch and then hangs.
        _ => {
            let mut bytes = ipc(&[rows(0, 2)]);
            bytes.truncate(bytes.len() - 8);
            data(Body::endless(bytes))
        }
    }));
    let client = client(script.clone()).await;
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap();
    let baseline = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let mut all = table.read_all(&session, &ReadOptions::default(), 4);
    let (split, batch) = all.next().await.unwrap().unwrap();
    assert!(split < 16);
    assert_eq!(batch.num_rows(), 2);
    assert!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            > baseline,
        "workers run"
    );
    drop(all);
    assert_eq!(
        alive_tasks_settled(baseline).await,
        baseline,
        "no task leaked"
    );
    let reads = script
        .actions()
        .iter()
        .filter(|a| *a == "TableRead")
        .count();
    assert!(reads <= 4, "at most `workers` splits were started: {reads}");
}

fn split_rows(split: i64) -> (i64, i64) {
    (split * 1000, split * 1000 + 300 + split)
}

fn split_script(splits: usize) -> Arc<Script> {
    Arc::new(Script::responding(move |s: &Seen| match s.action() {
        "TableCreateReadSession" => json(200, &session_json(splits)),
        "TableRead" => {
            let split: i64 = s.q("Index").unwrap().parse().unwrap();
            let (from, to) = split_rows(split);
            let mid = from + (to - from) / 2;
            data(Body::chunked(
                ipc(&[rows(from, mid), rows(mid, to)]),
                1000 + split as usize,
                None,
            ))
        }
        other => panic!("unexpected {other}"),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_split_reads_return_correct_data() {
    let script = split_script(64);
    let client = client(script.clone()).await;
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|split| {
            let (table, session) = (table.clone(), session.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut reader = table.read_split(&session, split, &ReadOptions::default());
                while let Some(batch) = reader.next().await {
                    let batch = batch.unwrap();
                    assert!(
                        column_b([&batch])
                            .iter()
                            .zip(column_a([&batch]))
                            .all(|(b, a)| *b == format!("row-{a}"))
                    );
                    got.extend(column_a([&batch]));
                }
                (split, got)
            })
        })
        .collect();
    for task in tasks {
        let (split, got) = task.await.unwrap();
        let (from, to) = split_rows(split);
        assert_eq!(got, (from..to).collect::<Vec<_>>(), "split {split}");
    }
    assert_eq!(script.actions().len(), 65);

    // The same through read_all with bounded concurrency.
    let mut all = table.read_all(&session, &ReadOptions::default(), 8);
    let mut per_split = vec![Vec::new(); 64];
    while let Some(item) = all.next().await {
        let (split, batch) = item.unwrap();
        per_split[split].extend(column_a([&batch]));
    }
    for (split, got) in per_split.into_iter().enumerate() {
        let (from, to) = split_rows(split as i64);
        assert_eq!(got, (from..to).collect::<Vec<_>>(), "split {split}");
    }
}

#[tokio::test(start_paused = true)]
async fn blob_stream_reader_moves_from_blob_to_blob_and_verifies_blocks() {
    use maxstorage_protocol::frame::{BlobItemHeader, ChecksumType, crc32c_frame, encode_items};
    use tokio::io::AsyncReadExt;

    let first = vec![7u8; 10_000];
    let second = b"second blob".to_vec();
    let mut header = BlobItemHeader::for_column(2);
    header.content_type = Some("image/png".into());
    let payload = encode_items(&[
        (header, &first[..], ChecksumType::Md5),
        (
            BlobItemHeader::for_column(2),
            &second[..],
            ChecksumType::Crc32,
        ),
    ]);
    let framed = crc32c_frame(&payload).to_vec();
    let script = Arc::new(Script::default());
    let body = framed.clone();
    script.push(move |s| {
        assert_eq!(s.action(), "BlobRead");
        data(Body::chunked(body.clone(), 999, None))
    });
    // The same body with one flipped bit: the reader must refuse it.
    let mut corrupt = framed.clone();
    corrupt[100] ^= 1;
    script.push(move |_| data(Body::chunked(corrupt.clone(), 999, None)));
    let client = client(script.clone()).await;
    let table = client.table(TableId::new("p", "t"));

    let mut reader = table
        .read_blobs_stream(vec!["r1".into(), "r2".into()])
        .await
        .unwrap();
    let info = reader.next_blob().await.unwrap().unwrap();
    assert_eq!(info.content_type.as_deref(), Some("image/png"));
    let mut got = Vec::new();
    reader.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, first);
    assert_eq!(reader.next_blob().await.unwrap().unwrap().index, 1);
    let mut got = Vec::new();
    reader.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, second);
    assert!(reader.next_blob().await.unwrap().is_none());

    let results: Vec<_> = table
        .read_blobs(vec!["r1".into(), "r2".into()])
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        results.iter().any(|r| matches!(
            r,
            Err(maxstorage_client_core::Error::BlobRead(
                maxstorage_codec::blob::BlobReadError::Frame(
                    maxstorage_protocol::frame::FrameError::CrcMismatch { .. }
                )
            ))
        )),
        "a corrupt CRC32C block is a CRC mismatch: {results:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn blob_writer_streams_its_body_and_checks_the_answer() {
    use maxstorage_protocol::frame::md5_hex;

    let script = Arc::new(Script::default());
    script.push(|_| json(200, r#"{"SessionId":"ws5"}"#));
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let expected = blob.clone();
    script.push(move |s| {
        assert_eq!(s.body, expected, "the whole blob arrived, in order");
        json(
            200,
            &format!(
                r#"{{"BlobReference":"cmVm","Size":{},"MD5Value":"{}"}}"#,
                expected.len(),
                md5_hex(&expected)
            ),
        )
    });
    // A service that stored something else is caught.
    script.push(|_| {
        json(
            200,
            r#"{"BlobReference":"cmVm","Size":3,"MD5Value":"00000000000000000000000000000000"}"#,
        )
    });
    let client = client(script.clone()).await;
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .await
        .unwrap();
    let mut writer = session
        .blob_writer(&StreamRef::new("0", 1), BlobWriteOptions::column(2))
        .unwrap();
    for chunk in blob.chunks(7_000) {
        writer.write_all(chunk).await.unwrap();
    }
    let result = writer.finish().await.unwrap();
    assert_eq!(result.blob_reference, "cmVm");

    let mut writer = session
        .blob_writer(&StreamRef::new("0", 1), BlobWriteOptions::column(2))
        .unwrap();
    writer.write(b"abc").await.unwrap();
    let err = writer.finish().await.unwrap_err();
    assert!(err.to_string().contains("MD5"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn raw_rows_reader_removes_whole_body_compression() {
    use tokio::io::AsyncReadExt;

    let script = Arc::new(Script::default());
    script.push(|_| json(200, SESSION));
    let plain = ipc(&[rows(0, 10)]);
    let compressed = maxstorage_codec::compress::compress(Compression::Zstd, &plain).unwrap();
    script.push(move |_| {
        Answer::Reply(Reply {
            status: 200,
            headers: vec![("content-encoding", "zstd".into())],
            body: Body::chunked(compressed.clone(), 13, None),
        })
    });
    let client = client(script.clone()).await;
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap();
    let mut reader = table
        .read_rows_stream(&session, RowSelection::split(0), &ReadOptions::default())
        .await
        .unwrap();
    let mut got = Vec::new();
    reader.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, plain);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_upload_never_ends_its_body_cleanly() {
    let script = Arc::new(Script::detaching_bodies());
    script.push(|_| json(200, r#"{"SessionId":"ws6"}"#));
    let client = client(script.clone()).await;
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .await
        .unwrap();
    let baseline = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let mut blob = session
        .blob_writer(&StreamRef::new("0", 1), BlobWriteOptions::column(2))
        .unwrap();
    blob.write_all(b"the first half of a blob").await.unwrap();
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        baseline + 1,
        "the transport reads the body on its own task"
    );
    drop(blob);
    assert_eq!(alive_tasks_settled(baseline).await, baseline);
    assert_eq!(
        *script.drops.detached_bodies.lock().unwrap(),
        vec![Err(io::ErrorKind::ConnectionAborted)],
        "the body ended with an error, so the transport aborts it instead of completing it"
    );
}
