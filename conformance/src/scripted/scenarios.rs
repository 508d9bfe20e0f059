//! The scripted scenarios both clients run: each takes a client whose transport is
//! `script` (fresh, with nothing queued) and panics on a failed expectation.
//! `tests/scripted.rs` runs every one for each client; [`ALL`] names them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use maxstorage_client_core::{Error, ReadOptions, StreamOptions, TransportErrorKind};
use maxstorage_protocol::TableId;
use maxstorage_protocol::read::{ReadSessionOptions, RowSelection};
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};

use super::{
    Answer, Body, SESSION, STREAM, Script, column_a, column_b, data, ipc, json, json_reply, rows,
    transport_error, with_token,
};
use crate::client::{StorageClient, WriteSession};

/// The name of every scenario here, in the order `tests/scripted.rs` lists them.
pub const ALL: [&str; 7] = [
    "broken_read_resumes_at_the_next_row_with_identical_data",
    "read_fails_loudly_when_resumes_are_exhausted",
    "service_unavailable_and_refused_connections_are_retried",
    "client_errors_are_not_retried",
    "exactly_once_write_survives_a_lost_answer_without_duplicates",
    "exactly_once_conflict_resyncs_and_moves_on",
    "normal_write_with_unknown_outcome_is_an_error_not_a_retry",
];

/// The table every scenario uses.
fn table() -> TableId {
    TableId::new("p", "t")
}

/// Waits (a bounded number of scheduler turns, then up to 10 s) until `done` holds: for
/// what another thread or task finishes just after the client returned.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::yield_now();
    }
}

/// A read cut inside its second batch resumes at the first undelivered row, on the
/// session's route, and delivers every row exactly once; every body is released.
pub fn broken_read_resumes_at_the_next_row_with_identical_data<C: StorageClient>(
    client: &C,
    script: &Script,
) {
    script.push(|_| with_token(json_reply(200, SESSION), "rt;rs1;1"));
    // First response: batches of rows 0..4 and 4..8, cut inside the second batch.
    let first = ipc(&[rows(0, 4), rows(4, 8), rows(8, 10)]);
    let first_batch_end = ipc(&[rows(0, 4)]).len() - 8; // schema + first batch, without EOS
    script.push(move |s| {
        assert_eq!((s.q("Index"), s.q("Offset")), (Some("0"), None));
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;rs1;1"));
        data(Body::chunked(first.clone(), 7, Some(first_batch_end + 10)))
    });
    // The resume asks for the rest of split 0 from row 4.
    script.push(|s| {
        assert_eq!(
            (s.q("Index"), s.q("Offset"), s.q("Count")),
            (Some("0"), Some("4"), None)
        );
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;rs1;1"));
        data(Body::chunked(ipc(&[rows(4, 10)]), 5, None))
    });
    let session = client
        .create_read_session(&table(), ReadSessionOptions::default())
        .unwrap();
    let batches = client
        .read(&session, RowSelection::split(0), &ReadOptions::default())
        .unwrap();
    assert_eq!(
        column_a(&batches),
        (0..10).collect::<Vec<_>>(),
        "every row exactly once"
    );
    assert_eq!(
        column_b(&batches),
        (0..10).map(|i| format!("row-{i}")).collect::<Vec<_>>(),
        "identical data after the resume"
    );
    assert_eq!(
        script.actions(),
        ["TableCreateReadSession", "TableRead", "TableRead"]
    );
    eventually(
        "the session answer, the broken body and the finished body are all released",
        || {
            script
                .drops
                .bodies_dropped
                .load(std::sync::atomic::Ordering::SeqCst)
                == 3
        },
    );
}

/// A read whose every attempt breaks before a whole batch ends with the break that
/// exhausted its resumes — an error, never a silently short result.
pub fn read_fails_loudly_when_resumes_are_exhausted<C: StorageClient>(client: &C, script: &Script) {
    script.push(|_| json(200, SESSION));
    let body = ipc(&[rows(0, 10)]);
    for _ in 0..3 {
        let body = body.clone();
        script.push(move |_| data(Body::chunked(body.clone(), 16, Some(50))));
    }
    let session = client
        .create_read_session(&table(), ReadSessionOptions::default())
        .unwrap();
    let options = ReadOptions::default().with_max_resumes(2);
    let err = client
        .read(&session, RowSelection::split(0), &options)
        .unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.is_retryable(),
        "the read ends with the connection error: {err}"
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

/// A 503 with `Retry-After` and a refused connection are retried; the third attempt
/// succeeds.
pub fn service_unavailable_and_refused_connections_are_retried<C: StorageClient>(
    client: &C,
    script: &Script,
) {
    script.push(|_| {
        let mut r = json_reply(503, r#"{"Code":"ServiceUnavailable","Message":"busy"}"#);
        r.headers.push(("Retry-After", "0".into()));
        Answer::Reply(r)
    });
    script.push(|_| transport_error(TransportErrorKind::Connect));
    script.push(|_| json(200, SESSION));
    let session = client
        .create_read_session(&table(), ReadSessionOptions::default())
        .unwrap();
    assert_eq!(session.id(), "rs1");
    assert_eq!(script.actions().len(), 3);
}

/// A 4xx answer is the caller's error: it is not retried.
pub fn client_errors_are_not_retried<C: StorageClient>(client: &C, script: &Script) {
    script.push(|_| json(404, r#"{"Code":"NoSuchTable","Message":"no"}"#));
    let err = client
        .create_read_session(&table(), ReadSessionOptions::default())
        .unwrap_err();
    assert_eq!(err.service_code(), Some("NoSuchTable"));
    assert_eq!(script.actions().len(), 1);
}

/// An exactly-once write whose answer is lost re-sends the identical bytes at the same
/// offset, on the session's route, and commits once.
pub fn exactly_once_write_survives_a_lost_answer_without_duplicates<C: StorageClient>(
    client: &C,
    script: &Script,
) {
    script.push(|_| {
        with_token(
            json_reply(200, r#"{"SessionId":"ws1","WarningMessage":""}"#),
            "rt;ws1;1",
        )
    });
    script.push(|s| {
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;ws1;1"));
        assert!(String::from_utf8_lossy(&s.body).contains("\"ExactlyOnceMode\":true"));
        json(200, STREAM)
    });
    let bodies = Arc::new(Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    // First write: the service applied it but the connection broke before the answer.
    let b = bodies.clone();
    script.push(move |s| {
        assert_eq!((s.q("RowOffset"), s.q("Count")), (Some("0"), Some("10")));
        assert_eq!(s.h("x-odps-max-storage-write-access-token"), Some("tok"));
        b.lock()
            .unwrap()
            .push((s.q("RowOffset").unwrap().into(), s.body.clone()));
        transport_error(TransportErrorKind::Io)
    });
    // The retry re-sends the identical bytes at the same offset: the service answers 200.
    let b = bodies.clone();
    script.push(move |s| {
        b.lock()
            .unwrap()
            .push((s.q("RowOffset").unwrap().into(), s.body.clone()));
        json(200, r#"{"ExactlyOnceRowOffset":10,"WarningMessage":""}"#)
    });
    script.push(|s| {
        assert_eq!(s.action(), "TableCloseWriteStream");
        json(200, r#"{"WarningMessage":""}"#)
    });
    script.push(|s| {
        assert_eq!(s.action(), "TableCommitWriteSession");
        assert_eq!(s.h("x-odps-max-storage-route-token"), Some("rt;ws1;1"));
        json(200, r#"{"SessionId":"ws1","SessionStatus":"COMMITTED"}"#)
    });
    let session = client
        .create_write_session(&table(), WriteSessionOptions::default())
        .unwrap();
    let summary = session
        .write_stream(
            StreamRef::new("0", 1),
            StreamOptions::default().with_exactly_once(true),
            &[rows(0, 10)],
        )
        .unwrap();
    assert_eq!(summary.rows, 10);
    session.commit().unwrap();
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[0], bodies[1],
        "the retry sends identical bytes at the same offset"
    );
}

/// A row-offset conflict on an exactly-once write resynchronises with the stream's state
/// (the body was applied) and the next body continues after it.
pub fn exactly_once_conflict_resyncs_and_moves_on<C: StorageClient>(client: &C, script: &Script) {
    script.push(|_| json(200, r#"{"SessionId":"ws2"}"#));
    script.push(|_| json(200, STREAM));
    script.push(|_| {
        json(
            409,
            r#"{"Code":"RowOffsetConflict","Message":"expected RowOffset 10"}"#,
        )
    });
    script.push(|s| {
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
    script.push(|s| {
        assert_eq!(
            s.q("RowOffset"),
            Some("10"),
            "the next write continues after the applied one"
        );
        json(200, r#"{"ExactlyOnceRowOffset":15}"#)
    });
    script.push(|_| json(200, r#"{"WarningMessage":""}"#));
    let session = client
        .create_write_session(&table(), WriteSessionOptions::default())
        .unwrap();
    let summary = session
        .write_bodies(
            StreamRef::new("0", 1),
            StreamOptions::default().with_exactly_once(true),
            &[rows(0, 10), rows(10, 15)],
        )
        .unwrap();
    assert_eq!(summary.rows, 15);
    assert_eq!(
        script.actions(),
        [
            "TableCreateWriteSession",
            "TableCreateWriteStream",
            "TableWrite",
            "TableGetWriteStream",
            "TableWrite",
            "TableCloseWriteStream"
        ]
    );
}

/// A plain (not exactly-once) write whose outcome is unknown fails: re-sending it could
/// duplicate its rows.
pub fn normal_write_with_unknown_outcome_is_an_error_not_a_retry<C: StorageClient>(
    client: &C,
    script: &Script,
) {
    script.push(|_| json(200, r#"{"SessionId":"ws3"}"#));
    script.push(|_| json(200, STREAM));
    script.push(|_| transport_error(TransportErrorKind::Io));
    let session = client
        .create_write_session(&table(), WriteSessionOptions::default())
        .unwrap();
    let err = session
        .write_bodies(
            StreamRef::new("0", 1),
            StreamOptions::default(),
            &[rows(0, 3)],
        )
        .unwrap_err();
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
