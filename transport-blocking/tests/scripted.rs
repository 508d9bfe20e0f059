//! Client behaviour against a scripted transport: resume after a broken read, retries with
//! `Retry-After`, exactly-once recovery, route tokens per session. No network.

use std::collections::VecDeque;
use std::io::{Cursor, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::Int64Array;
use maxstorage_blocking::{
    BlobWriteOptions, Client, HttpTransport, ReadOptions, RequestBody, ResponseBody, StreamOptions,
    TransportError, TransportErrorKind,
};
use maxstorage_conformance::scripted::{SESSION, Seen, ipc, rows};
use maxstorage_protocol::read::{ReadSessionOptions, RowSelection};
use maxstorage_protocol::retry::RetryPolicy;
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};
use maxstorage_protocol::{Credentials, TableId};

type Handler = Box<dyn FnMut(&Seen) -> Result<Reply, TransportError> + Send>;

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Box<dyn Read + Send>,
}

fn json(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("x-odps-request-id", "req".into())],
        body: Box::new(Cursor::new(body.as_bytes().to_vec())),
    }
}

fn with_token(mut r: Reply, token: &str) -> Reply {
    r.headers
        .push(("x-odps-max-storage-route-token", token.to_string()));
    r
}

/// A reader that fails with a connection reset after `limit` bytes.
struct CutAfter {
    data: Cursor<Vec<u8>>,
    limit: usize,
    read: usize,
}

impl Read for CutAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read >= self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "cut by the script",
            ));
        }
        let n = buf.len().min(self.limit - self.read);
        let n = self.data.read(&mut buf[..n])?;
        self.read += n;
        Ok(n)
    }
}

#[derive(Default)]
struct Script {
    seen: Mutex<Vec<Seen>>,
    broken_bodies: Mutex<Vec<String>>,
    handlers: Mutex<VecDeque<Handler>>,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").finish_non_exhaustive()
    }
}

impl HttpTransport for Script {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let (parts, body) = request.into_parts();
        let body = match body {
            RequestBody::Empty => Vec::new(),
            RequestBody::Bytes(b) => b.to_vec(),
            RequestBody::Chunks(chunks) => chunks.concat(),
            RequestBody::Stream { mut stream, .. } => {
                let mut v = Vec::new();
                if let Err(e) = stream.read_to_end(&mut v) {
                    self.broken_bodies.lock().unwrap().push(e.to_string());
                    return Err(TransportError {
                        kind: TransportErrorKind::Io,
                        host: "script".into(),
                        message: e.to_string(),
                    });
                }
                v
            }
        };
        let seen = Seen::new(&parts, body);
        self.seen.lock().unwrap().push(seen.clone());
        let mut handler = self
            .handlers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected request {}", seen.action()));
        let reply = handler(&seen)?;
        let mut b = http::Response::builder().status(reply.status);
        for (k, v) in reply.headers {
            b = b.header(k, v);
        }
        Ok(b.body(reply.body).unwrap())
    }
}

fn client(script: Arc<Script>) -> Client {
    let retry = RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5));
    Client::builder()
        .endpoint("http://127.0.0.1:9")
        .credentials(Credentials::new("ak", "sk"))
        .project("p")
        .retry_policy(retry)
        .transport(script)
        .build()
        .unwrap()
}

fn push(script: &Script, h: impl FnMut(&Seen) -> Result<Reply, TransportError> + Send + 'static) {
    script.handlers.lock().unwrap().push_back(Box::new(h));
}

#[test]
fn broken_read_resumes_at_the_next_row_with_identical_data() {
    let script = Arc::new(Script::default());
    push(&script, |_| Ok(with_token(json(200, SESSION), "rt;rs1;1")));
    // First response: batches of rows 0..4 and 4..8, cut inside the second batch.
    let first = ipc(&[rows(0, 4), rows(4, 8), rows(8, 10)]);
    let first_batch_end = ipc(&[rows(0, 4)]).len() - 8; // schema + first batch, without EOS
    push(&script, move |s| {
        assert_eq!((s.q("Index"), s.q("Offset")), (Some("0"), None));
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;rs1;1"));
        Ok(Reply {
            status: 200,
            headers: vec![],
            body: Box::new(CutAfter {
                data: Cursor::new(first.clone()),
                limit: first_batch_end + 10,
                read: 0,
            }),
        })
    });
    // The resume asks for the rest of split 0 from row 4.
    push(&script, |s| {
        assert_eq!(
            (s.q("Index"), s.q("Offset"), s.q("Count")),
            (Some("0"), Some("4"), None)
        );
        Ok(Reply {
            status: 200,
            headers: vec![],
            body: Box::new(Cursor::new(ipc(&[rows(4, 10)]))),
        })
    });
    let client = client(script.clone());
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    let mut reader = table.read_rows(&session, RowSelection::split(0), &ReadOptions::default());
    let mut got = Vec::new();
    for batch in reader.by_ref() {
        let batch = batch.unwrap();
        let a = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        got.extend(a.values().iter().copied());
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>(), "every row exactly once");
    assert_eq!(reader.resumes(), 1);
}

#[test]
fn read_fails_loudly_when_resumes_are_exhausted() {
    let script = Arc::new(Script::default());
    push(&script, |_| Ok(json(200, SESSION)));
    let body = ipc(&[rows(0, 10)]);
    for _ in 0..3 {
        let body = body.clone();
        push(&script, move |_| {
            Ok(Reply {
                status: 200,
                headers: vec![],
                body: Box::new(CutAfter {
                    data: Cursor::new(body.clone()),
                    limit: 50,
                    read: 0,
                }),
            })
        });
    }
    let client = client(script);
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    let options = ReadOptions::default().with_max_resumes(2);
    let results: Vec<_> = table.read_split(&session, 0, &options).collect();
    assert!(
        results.iter().all(|r| r.is_err()),
        "a 50-byte cut holds no complete batch: {results:?}"
    );
    let last = results.last().unwrap().as_ref().unwrap_err();
    // The last break (the connection cut mid-body) is what ended the read.
    assert!(
        matches!(last, maxstorage_blocking::Error::Io { .. }),
        "the read must end with the break that exhausted the resumes, never silently short: {last:?}"
    );
    assert_eq!(results.len(), 1, "one error ends the iterator");
}

#[test]
fn service_unavailable_is_retried_after_retry_after() {
    let script = Arc::new(Script::default());
    push(&script, |_| {
        let mut r = json(503, r#"{"Code":"ServiceUnavailable","Message":"busy"}"#);
        r.headers.push(("Retry-After", "0".into()));
        Ok(r)
    });
    push(&script, |_| {
        Err(TransportError {
            kind: TransportErrorKind::Connect,
            host: "x".into(),
            message: "refused".into(),
        })
    });
    push(&script, |_| Ok(json(200, SESSION)));
    let client = client(script.clone());
    let session = client
        .table(TableId::new("p", "t"))
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    assert_eq!(session.id(), "rs1");
    assert_eq!(script.seen.lock().unwrap().len(), 3);

    // A 4xx is not retried.
    let script = Arc::new(Script::default());
    push(&script, |_| {
        Ok(json(404, r#"{"Code":"NoSuchTable","Message":"no"}"#))
    });
    let err = client_err(script.clone());
    assert_eq!(err.service_code(), Some("NoSuchTable"));
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}

fn client_err(script: Arc<Script>) -> maxstorage_blocking::Error {
    client(script)
        .table(TableId::new("p", "t"))
        .create_read_session(ReadSessionOptions::default())
        .unwrap_err()
}

const STREAM: &str = r#"{"TableSchema":{"DataColumns":[{"columnType":{"Type":0,"MemberName":"a","ColumnId":0,"Nullable":true}},
    {"columnType":{"Type":4,"MemberName":"b","ColumnId":1,"Nullable":true}}],"PartitionColumns":[],"SystemColumns":[]},
    "TableId":"tid","SchemaVersion":0,"AccessToken":"tok"}"#;

#[test]
fn exactly_once_write_survives_a_lost_answer_without_duplicates() {
    let script = Arc::new(Script::default());
    push(&script, |_| {
        Ok(with_token(
            json(200, r#"{"SessionId":"ws1","WarningMessage":""}"#),
            "rt;ws1;1",
        ))
    });
    push(&script, |s| {
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;ws1;1"));
        assert!(String::from_utf8_lossy(&s.body).contains("\"ExactlyOnceMode\":true"));
        Ok(json(200, STREAM))
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
        Err(TransportError {
            kind: TransportErrorKind::Io,
            host: "x".into(),
            message: "reset".into(),
        })
    });
    // The retry re-sends the identical bytes at the same offset: the service answers 200.
    let b = bodies.clone();
    push(&script, move |s| {
        b.lock()
            .unwrap()
            .push((s.q("RowOffset").unwrap().into(), s.body.clone()));
        Ok(json(
            200,
            r#"{"ExactlyOnceRowOffset":10,"WarningMessage":""}"#,
        ))
    });
    push(&script, |s| {
        assert_eq!(s.action(), "TableCloseWriteStream");
        Ok(json(200, r#"{"WarningMessage":""}"#))
    });
    push(&script, |s| {
        assert_eq!(s.action(), "TableCommitWriteSession");
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;ws1;1"));
        Ok(json(
            200,
            r#"{"SessionId":"ws1","SessionStatus":"COMMITTED"}"#,
        ))
    });
    let client = client(script.clone());
    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_write_session(WriteSessionOptions::default())
        .unwrap();
    let mut writer = session
        .stream_writer(
            StreamRef::new("0", 1),
            StreamOptions::default().with_exactly_once(true),
        )
        .unwrap();
    writer.write(&rows(0, 10)).unwrap();
    let summary = writer.finish().unwrap();
    assert_eq!(summary.rows, 10);
    session.commit().unwrap();
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[0], bodies[1],
        "the retry sends identical bytes at the same offset"
    );
}

#[test]
fn exactly_once_conflict_resyncs_and_moves_on() {
    let script = Arc::new(Script::default());
    push(&script, |_| Ok(json(200, r#"{"SessionId":"ws2"}"#)));
    push(&script, |_| Ok(json(200, STREAM)));
    push(&script, |_| {
        Ok(json(
            409,
            r#"{"Code":"RowOffsetConflict","Message":"expected RowOffset 10"}"#,
        ))
    });
    push(&script, |s| {
        assert_eq!(
            (s.action(), s.q("ExactlyOnceMode")),
            ("TableGetWriteStream", Some("true"))
        );
        assert_eq!(s.method, "POST");
        Ok(json(
            200,
            r#"{"RowOffset":10,"AccessToken":"tok","TableSchema":{}}"#,
        ))
    });
    push(&script, |s| {
        assert_eq!(
            s.q("RowOffset"),
            Some("10"),
            "the next write continues after the applied one"
        );
        Ok(json(200, r#"{"ExactlyOnceRowOffset":15}"#))
    });
    let client = client(script.clone());
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .unwrap();
    let mut writer = session
        .stream_writer(
            StreamRef::new("0", 1),
            StreamOptions::default().with_exactly_once(true),
        )
        .unwrap();
    writer.write(&rows(0, 10)).unwrap();
    writer.flush().unwrap();
    writer.write(&rows(10, 15)).unwrap();
    writer.flush().unwrap();
    assert_eq!(writer.rows_written(), 15);
}

#[test]
fn normal_write_with_unknown_outcome_is_an_error_not_a_retry() {
    let script = Arc::new(Script::default());
    push(&script, |_| Ok(json(200, r#"{"SessionId":"ws3"}"#)));
    push(&script, |_| Ok(json(200, STREAM)));
    push(&script, |_| {
        Err(TransportError {
            kind: TransportErrorKind::Io,
            host: "x".into(),
            message: "reset".into(),
        })
    });
    let client = client(script.clone());
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .unwrap();
    let mut writer = session
        .stream_writer(StreamRef::new("0", 1), StreamOptions::default())
        .unwrap();
    writer.write(&rows(0, 3)).unwrap();
    let err = writer.flush().unwrap_err();
    assert!(err.to_string().contains("unknown"), "{err}");
    assert_eq!(
        script
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.action() == "TableWrite")
            .count(),
        1,
        "never re-sent"
    );
}

#[test]
fn a_dropped_blob_writer_never_completes_its_upload() {
    let script = Arc::new(Script::default());
    push(&script, |_| Ok(json(200, r#"{"SessionId":"ws4"}"#)));
    let client = client(script.clone());
    let session = client
        .table(TableId::new("p", "t"))
        .create_write_session(WriteSessionOptions::default())
        .unwrap();
    let mut writer = session
        .blob_writer(&StreamRef::new("0", 1), BlobWriteOptions::column(3))
        .unwrap();
    std::io::Write::write_all(&mut writer, b"half of a blob").unwrap();
    drop(writer);
    // The upload thread sees the body end with an error, not a clean end.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while script.broken_bodies.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the dropped upload's body never failed"
        );
        std::thread::yield_now();
    }
    assert!(script.broken_bodies.lock().unwrap()[0].contains("dropped before finish"));
    assert!(
        script
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.action() != "TableWriteBlob"),
        "no upload completed"
    );
}
