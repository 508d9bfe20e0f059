//! Client behaviour against a scripted transport: resume after a broken read, retries with
//! `Retry-After` (on tokio's paused clock), exactly-once recovery, route tokens per
//! session, cancellation (dropped streams and writers), no leaked tasks, and 64 concurrent
//! split reads. No network.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use maxstorage_async::{
    BlobWriteOptions, BoxFuture, Client, HttpTransport, ReadOptions, RequestBody, ResponseBody,
    StreamOptions, TransportError, TransportErrorKind, WritePosition,
};
use maxstorage_conformance::scripted::{SESSION, Seen, ipc, rows};
use maxstorage_protocol::read::{ReadSessionOptions, RowSelection};
use maxstorage_protocol::retry::RetryPolicy;
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};
use maxstorage_protocol::{Compression, Credentials, TableId};
use tokio::io::AsyncWriteExt;

/// What a handler answers.
enum Answer {
    /// A response.
    Reply(Reply),
    /// A transport failure.
    Fail(TransportError),
    /// No answer, ever (the exchange hangs until it is cancelled).
    Hang,
}

type Handler = Box<dyn FnMut(&Seen) -> Answer + Send>;
type Responder = Box<dyn Fn(&Seen) -> Answer + Send + Sync>;

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: ResponseBody,
}

/// Counts what was dropped: response bodies, hung exchanges, unfinished request bodies.
#[derive(Debug, Default)]
struct Drops {
    bodies_dropped: AtomicUsize,
    exchanges_cancelled: AtomicUsize,
    request_bodies_cut: AtomicUsize,
    /// How streamed bodies read on a task of their own ended: `Ok(bytes)` cleanly, or the
    /// error they ended with.
    detached_bodies: Mutex<Vec<Result<usize, io::ErrorKind>>>,
}

#[derive(Default)]
struct Script {
    seen: Mutex<Vec<Seen>>,
    handlers: Mutex<VecDeque<Handler>>,
    responder: Option<Responder>,
    drops: Arc<Drops>,
    /// Read streamed request bodies on a task of their own, as hyper does on its
    /// connection task, and never answer those requests.
    detach_bodies: bool,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").finish_non_exhaustive()
    }
}

impl Script {
    fn actions(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.action().to_string())
            .collect()
    }
}

/// Increments a counter when dropped, unless disarmed.
struct DropGuard<'a> {
    counter: &'a AtomicUsize,
    armed: bool,
}

impl Drop for DropGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.counter.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl HttpTransport for Script {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, TransportError>> {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // A body in pieces is looked at as the stream the transport sends.
            let body = match body {
                RequestBody::Chunks(chunks) => RequestBody::Stream {
                    length: None,
                    stream: Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok))),
                },
                body => body,
            };
            let body = match body {
                RequestBody::Empty => Vec::new(),
                RequestBody::Chunks(_) => unreachable!("turned into a stream above"),
                RequestBody::Bytes(b) => b.to_vec(),
                RequestBody::Stream { mut stream, .. } if self.detach_bodies => {
                    let drops = self.drops.clone();
                    tokio::spawn(async move {
                        let mut len = 0;
                        let outcome = loop {
                            match stream.next().await {
                                Some(Ok(chunk)) => len += chunk.len(),
                                Some(Err(e)) => break Err(e.kind()),
                                None => break Ok(len),
                            }
                        };
                        drops.detached_bodies.lock().unwrap().push(outcome);
                    });
                    return std::future::pending().await;
                }
                RequestBody::Stream { mut stream, .. } => {
                    let mut cut = DropGuard {
                        counter: &self.drops.request_bodies_cut,
                        armed: true,
                    };
                    let mut v = Vec::new();
                    while let Some(chunk) = stream.next().await {
                        v.extend_from_slice(&chunk.expect("request body chunk"));
                    }
                    cut.armed = false;
                    v
                }
            };
            let seen = Seen::new(&parts, body);
            self.seen.lock().unwrap().push(seen.clone());
            let queued = self.handlers.lock().unwrap().pop_front();
            let answer = match (queued, &self.responder) {
                (Some(mut h), _) => h(&seen),
                (None, Some(r)) => r(&seen),
                (None, None) => panic!("unexpected request {}", seen.action()),
            };
            let reply = match answer {
                Answer::Reply(r) => r,
                Answer::Fail(e) => return Err(e),
                Answer::Hang => {
                    let _cancelled = DropGuard {
                        counter: &self.drops.exchanges_cancelled,
                        armed: true,
                    };
                    std::future::pending::<()>().await;
                    unreachable!("a pending future never completes");
                }
            };
            let mut b = http::Response::builder().status(reply.status);
            for (k, v) in reply.headers {
                b = b.header(k, v);
            }
            let body: ResponseBody = Box::pin(Tracked {
                inner: reply.body,
                drops: self.drops.clone(),
            });
            Ok(b.body(body).unwrap())
        })
    }
}

/// A response body that counts its drop (the connection it stands for is closed).
struct Tracked {
    inner: ResponseBody,
    drops: Arc<Drops>,
}

impl Stream for Tracked {
    type Item = io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.bodies_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// A body of `data` in chunks of `chunk` bytes; with `cut_after`, it fails with a
/// connection reset after that many bytes.
fn chunked(data: Vec<u8>, chunk: usize, cut_after: Option<usize>) -> ResponseBody {
    let limit = cut_after.unwrap_or(data.len()).min(data.len());
    let mut items: Vec<io::Result<Bytes>> = data[..limit]
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    if cut_after.is_some() {
        items.push(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "cut by the script",
        )));
    }
    Box::pin(futures_util::stream::iter(items))
}

/// A body that sends `data` and then never ends.
fn endless(data: Vec<u8>) -> ResponseBody {
    Box::pin(
        futures_util::stream::iter(vec![Ok(Bytes::from(data))])
            .chain(futures_util::stream::pending()),
    )
}

fn json(status: u16, body: &str) -> Answer {
    Answer::Reply(json_reply(status, body))
}

fn json_reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("x-odps-request-id", "req".into())],
        body: chunked(body.as_bytes().to_vec(), 1 << 20, None),
    }
}

fn with_token(mut r: Reply, token: &str) -> Answer {
    r.headers
        .push(("x-odps-max-storage-route-token", token.to_string()));
    Answer::Reply(r)
}

fn data(body: ResponseBody) -> Answer {
    Answer::Reply(Reply {
        status: 200,
        headers: vec![],
        body,
    })
}

fn transport_error(kind: TransportErrorKind) -> Answer {
    Answer::Fail(TransportError {
        kind,
        host: "x".into(),
        message: "scripted".into(),
    })
}

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

fn push(script: &Script, h: impl FnMut(&Seen) -> Answer + Send + 'static) {
    script.handlers.lock().unwrap().push_back(Box::new(h));
}

fn session_json(splits: usize) -> String {
    SESSION.replace("\"SplitsCount\":1", &format!("\"SplitsCount\":{splits}"))
}

fn column_a(batch: &RecordBatch) -> Vec<i64> {
    batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec()
}

fn column_b(batch: &RecordBatch) -> Vec<String> {
    let b = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    (0..b.len()).map(|i| b.value(i).to_string()).collect()
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
async fn broken_read_resumes_at_the_next_row_with_identical_data() {
    let script = Arc::new(Script::default());
    push(&script, |_| {
        with_token(json_reply(200, SESSION), "rt;rs1;1")
    });
    // First response: batches of rows 0..4 and 4..8, cut inside the second batch.
    let first = ipc(&[rows(0, 4), rows(4, 8), rows(8, 10)]);
    let first_batch_end = ipc(&[rows(0, 4)]).len() - 8; // schema + first batch, without EOS
    push(&script, move |s| {
        assert_eq!((s.q("Index"), s.q("Offset")), (Some("0"), None));
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;rs1;1"));
        data(chunked(first.clone(), 7, Some(first_batch_end + 10)))
    });
    // The resume asks for the rest of split 0 from row 4.
    push(&script, |s| {
        assert_eq!(
            (s.q("Index"), s.q("Offset"), s.q("Count")),
            (Some("0"), Some("4"), None)
        );
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;rs1;1"));
        data(chunked(ipc(&[rows(4, 10)]), 5, None))
    });
    let client = client(script.clone()).await;
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap();
    let mut reader = table.read_rows(&session, RowSelection::split(0), &ReadOptions::default());
    let mut a = Vec::new();
    let mut b = Vec::new();
    while let Some(batch) = reader.next().await {
        let batch = batch.unwrap();
        a.extend(column_a(&batch));
        b.extend(column_b(&batch));
    }
    assert_eq!(a, (0..10).collect::<Vec<_>>(), "every row exactly once");
    assert_eq!(
        b,
        (0..10).map(|i| format!("row-{i}")).collect::<Vec<_>>(),
        "identical data after the resume"
    );
    assert_eq!((reader.resumes(), reader.rows()), (1, 10));
    assert!(reader.schema().is_some());
    assert_eq!(
        script.drops.bodies_dropped.load(Ordering::SeqCst),
        3,
        "the session answer, the broken body and the finished body were all released"
    );
}

#[tokio::test(start_paused = true)]
async fn read_fails_loudly_when_resumes_are_exhausted() {
    let script = Arc::new(Script::default());
    push(&script, |_| json(200, SESSION));
    let body = ipc(&[rows(0, 10)]);
    for _ in 0..3 {
        let body = body.clone();
        push(&script, move |_| data(chunked(body.clone(), 16, Some(50))));
    }
    let client = client(script.clone()).await;
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap();
    let options = ReadOptions::default().with_max_resumes(2);
    let results: Vec<_> = table.read_split(&session, 0, &options).collect().await;
    assert_eq!(results.len(), 1, "no batch was complete before the cuts");
    let err = results.last().unwrap().as_ref().unwrap_err();
    assert!(
        err.is_retryable(),
        "the read ends with the connection error, never silently short: {err}"
    );
    assert_eq!(
        script.actions(),
        [
            "TableCreateReadSession",
            "TableRead",
            "TableRead",
            "TableRead"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn service_unavailable_is_retried_after_retry_after_on_the_runtime_clock() {
    let script = Arc::new(Script::default());
    push(&script, |_| {
        let mut r = json_reply(503, r#"{"Code":"ServiceUnavailable","Message":"busy"}"#);
        r.headers.push(("Retry-After", "30".into()));
        Answer::Reply(r)
    });
    push(&script, |_| transport_error(TransportErrorKind::Connect));
    push(&script, |_| json(200, SESSION));
    let client = client(script.clone()).await;
    let started = tokio::time::Instant::now();
    let session = client
        .table(TableId::new("p", "t"))
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap();
    assert_eq!(session.id(), "rs1");
    assert_eq!(script.seen.lock().unwrap().len(), 3);
    // The paused clock only moves when the runtime sleeps: the retry slept 30 s on it
    // (a thread sleep would not have advanced it).
    assert!(started.elapsed() >= Duration::from_secs(30));

    // A 4xx is not retried.
    let script = Arc::new(Script::default());
    push(&script, |_| {
        json(404, r#"{"Code":"NoSuchTable","Message":"no"}"#)
    });
    let err = self::client(script.clone())
        .await
        .table(TableId::new("p", "t"))
        .create_read_session(ReadSessionOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.service_code(), Some("NoSuchTable"));
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}

const STREAM: &str = r#"{"TableSchema":{"DataColumns":[{"columnType":{"Type":0,"MemberName":"a","ColumnId":0,"Nullable":true}},
    {"columnType":{"Type":4,"MemberName":"b","ColumnId":1,"Nullable":true}}],"PartitionColumns":[],"SystemColumns":[]},
    "TableId":"tid","SchemaVersion":0,"AccessToken":"tok"}"#;

fn exactly_once() -> StreamOptions {
    StreamOptions::default().with_exactly_once(true)
}

#[tokio::test(start_paused = true)]
async fn exactly_once_write_survives_a_lost_answer_without_duplicates() {
    let script = Arc::new(Script::default());
    push(&script, |_| {
        with_token(
            json_reply(200, r#"{"SessionId":"ws1","WarningMessage":""}"#),
            "rt;ws1;1",
        )
    });
    push(&script, |s| {
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;ws1;1"));
        assert!(String::from_utf8_lossy(&s.body).contains("\"ExactlyOnceMode\":true"));
        json(200, STREAM)
    });
    let bodies = Arc::new(Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    // First write: the service applied it but the connection broke before the answer.
    let b = bodies.clone();
    push(&script, move |s| {
        assert_eq!((s.q("RowOffset"), s.q("Count")), (Some("0"), Some("10")));
        assert_eq!(s.h("x-odps-max-storage-write-access-token"), Some("tok"));
        b.lock()
            .unwrap()
            .push((s.q("RowOffset").unwrap().into(), s.body.clone()));
        transport_error(TransportErrorKind::Io)
    });
    // The retry re-sends the identical bytes at the same offset: the service answers 200.
    let b = bodies.clone();
    push(&script, move |s| {
        b.lock()
            .unwrap()
            .push((s.q("RowOffset").unwrap().into(), s.body.clone()));
        json(200, r#"{"ExactlyOnceRowOffset":10,"WarningMessage":""}"#)
    });
    push(&script, |s| {
        assert_eq!(s.action(), "TableCloseWriteStream");
        json(200, r#"{"WarningMessage":""}"#)
    });
    push(&script, |s| {
        assert_eq!(s.action(), "TableCommitWriteSession");
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;ws1;1"));
        json(200, r#"{"SessionId":"ws1","SessionStatus":"COMMITTED"}"#)
    });
    let client = client(script.clone()).await;
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_write_session(WriteSessionOptions::default())
        .await
        .unwrap();
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), exactly_once())
        .await
        .unwrap();
    writer.write(&rows(0, 10)).await.unwrap();
    let summary = writer.finish().await.unwrap();
    assert_eq!(summary.rows, 10);
    session.commit().await.unwrap();
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[0], bodies[1],
        "the retry sends identical bytes at the same offset"
    );
}

#[tokio::test(start_paused = true)]
async fn exactly_once_conflict_resyncs_and_moves_on() {
    let script = Arc::new(Script::default());
    push(&script, |_| json(200, r#"{"SessionId":"ws2"}"#));
    push(&script, |_| json(200, STREAM));
    push(&script, |_| {
        json(
            409,
            r#"{"Code":"RowOffsetConflict","Message":"expected RowOffset 10"}"#,
        )
    });
    push(&script, |s| {
        assert_eq!(
            (s.action(), s.q("ExactlyOnceMode")),
            ("TableGetWriteStream", Some("true"))
        );
        assert_eq!(s.method, "POST");
        json(
            200,
            r#"{"RowOffset":10,"AccessToken":"tok","TableSchema":{}}"#,
        )
    });
    push(&script, |s| {
        assert_eq!(
            s.q("RowOffset"),
            Some("10"),
            "the next write continues after the applied one"
        );
        json(200, r#"{"ExactlyOnceRowOffset":15}"#)
    });
    let client = client(script.clone()).await;
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .await
        .unwrap();
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), exactly_once())
        .await
        .unwrap();
    writer.write(&rows(0, 10)).await.unwrap();
    writer.flush().await.unwrap();
    writer.write(&rows(10, 15)).await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(writer.rows_written(), 15);
    assert_eq!(
        script.actions(),
        [
            "TableCreateWriteSession",
            "TableCreateWriteStream",
            "TableWrite",
            "TableGetWriteStream",
            "TableWrite"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn normal_write_with_unknown_outcome_is_an_error_not_a_retry() {
    let script = Arc::new(Script::default());
    push(&script, |_| json(200, r#"{"SessionId":"ws3"}"#));
    push(&script, |_| json(200, STREAM));
    push(&script, |_| transport_error(TransportErrorKind::Io));
    let client = client(script.clone()).await;
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .await
        .unwrap();
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), StreamOptions::default())
        .await
        .unwrap();
    writer.write(&rows(0, 3)).await.unwrap();
    let err = writer.flush().await.unwrap_err();
    assert!(err.to_string().contains("unknown"), "{err}");
    assert_eq!(
        script
            .actions()
            .iter()
            .filter(|a| *a == "TableWrite")
            .count(),
        1,
        "never re-sent"
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_split_streams_close_only_their_connection() {
    let script = Arc::new(Script::default());
    push(&script, |_| json(200, &session_json(2)));
    // Split 0: one batch arrives, then the server goes quiet.
    push(&script, |_| {
        let mut bytes = ipc(&[rows(0, 4)]);
        bytes.truncate(bytes.len() - 8); // no end-of-stream marker
        data(endless(bytes))
    });
    // Split 1: never answers.
    push(&script, |_| Answer::Hang);
    // Split 0 again: read to the end after the others were dropped.
    push(&script, |_| data(chunked(ipc(&[rows(0, 4)]), 64, None)));
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
    assert_eq!(column_a(batches[0].as_ref().unwrap()), vec![0, 1, 2, 3]);
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
    push(&script, |_| json(200, r#"{"SessionId":"ws4"}"#));
    push(&script, |_| json(200, STREAM));
    // The first write never gets an answer.
    push(&script, |s| {
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
    let script = Arc::new(Script {
        responder: Some(Box::new(|s: &Seen| match s.action() {
            "TableCreateReadSession" => json(200, &session_json(16)),
            // Each split sends one batch and then hangs.
            _ => {
                let mut bytes = ipc(&[rows(0, 2)]);
                bytes.truncate(bytes.len() - 8);
                data(endless(bytes))
            }
        })),
        ..Script::default()
    });
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
    Arc::new(Script {
        responder: Some(Box::new(move |s: &Seen| match s.action() {
            "TableCreateReadSession" => json(200, &session_json(splits)),
            "TableRead" => {
                let split: i64 = s.q("Index").unwrap().parse().unwrap();
                let (from, to) = split_rows(split);
                let mid = from + (to - from) / 2;
                data(chunked(
                    ipc(&[rows(from, mid), rows(mid, to)]),
                    1000 + split as usize,
                    None,
                ))
            }
            other => panic!("unexpected {other}"),
        })),
        ..Script::default()
    })
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
                        column_b(&batch)
                            .iter()
                            .zip(column_a(&batch))
                            .all(|(b, a)| *b == format!("row-{a}"))
                    );
                    got.extend(column_a(&batch));
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
        per_split[split].extend(column_a(&batch));
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
    push(&script, move |s| {
        assert_eq!(s.action(), "BlobRead");
        data(chunked(body.clone(), 999, None))
    });
    // The same body with one flipped bit: the reader must refuse it.
    let mut corrupt = framed.clone();
    corrupt[100] ^= 1;
    push(&script, move |_| data(chunked(corrupt.clone(), 999, None)));
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
    push(&script, |_| json(200, r#"{"SessionId":"ws5"}"#));
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let expected = blob.clone();
    push(&script, move |s| {
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
    push(&script, |_| {
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
    push(&script, |_| json(200, SESSION));
    let plain = ipc(&[rows(0, 10)]);
    let compressed = maxstorage_codec::compress::compress(Compression::Zstd, &plain).unwrap();
    push(&script, move |_| {
        Answer::Reply(Reply {
            status: 200,
            headers: vec![("content-encoding", "zstd".into())],
            body: chunked(compressed.clone(), 13, None),
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
    let script = Arc::new(Script {
        detach_bodies: true,
        ..Script::default()
    });
    push(&script, |_| json(200, r#"{"SessionId":"ws6"}"#));
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
