//! State-machine tests: exactly-once retries and resyncs, session guards.

use maxstorage_protocol::error::ServiceError;
use maxstorage_protocol::state::write_session::{SessionState, StreamStatus, WriteSession};
use maxstorage_protocol::state::write_stream::{
    Recovery, ResyncOutcome, StreamState, WriteFailure, WriteStream,
};
use maxstorage_protocol::write::{
    CommitScope, StreamKind, StreamRef, WriteMode, WriteRowsResult, WriteStreamInfo,
};
use maxstorage_protocol::{Action, Error, TableId, UsageError};

fn eo_stream() -> WriteStream {
    let mut s = WriteStream::new(
        TableId::new("p", "t"),
        "sess",
        WriteMode::Batch,
        StreamRef::new("0", 1),
        StreamKind::ExactlyOnce,
    );
    let info = WriteStreamInfo {
        access_token: Some("tok".into()),
        table_id: Some("tid".into()),
        schema_version: Some(0),
        ..Default::default()
    };
    s.on_created(&info).unwrap();
    s
}

fn ack(offset: i64) -> WriteRowsResult {
    WriteRowsResult {
        exactly_once_row_offset: Some(offset),
        ..Default::default()
    }
}

fn service(status: u16, code: &str) -> WriteFailure {
    WriteFailure::Service(ServiceError {
        action: Action::TableWrite,
        status,
        code: code.into(),
        message: "m".into(),
        request_id: None,
        retry_after: None,
    })
}

fn at_offset(offset: i64) -> WriteStreamInfo {
    WriteStreamInfo {
        row_offset: Some(offset),
        access_token: Some("tok".into()),
        ..Default::default()
    }
}

#[test]
fn timeout_resends_identical_offset_after_resync_says_not_applied() {
    let mut s = eo_stream();
    let w1 = s.begin_write(3, Some(100)).unwrap();
    assert_eq!(
        (
            w1.row_offset,
            w1.access_token.as_deref(),
            w1.table_id.as_deref()
        ),
        (Some(0), Some("tok"), Some("tid"))
    );
    s.on_written(&ack(3)).unwrap();
    let w2 = s.begin_write(5, Some(200)).unwrap();
    assert_eq!(w2.row_offset, Some(3));
    // The connection broke after the body was sent: unknown outcome → resync.
    let Recovery::Resync(get) = s.on_write_failed(WriteFailure::Unknown) else {
        panic!("expected a resync")
    };
    assert!(get.exactly_once);
    // The resync names the table id the create answer gave, as every write does.
    assert_eq!(get.table_id.as_deref(), Some("tid"));
    assert_eq!(s.state(), StreamState::Resyncing);
    // The service did not apply it: re-send the same bytes at the same offset.
    let ResyncOutcome::Resend(again) = s.on_resync(&at_offset(3)).unwrap() else {
        panic!("expected a resend")
    };
    assert_eq!(*again, w2, "identical request, same offset");
    s.on_written(&ack(8)).unwrap();
    assert_eq!((s.next_offset(), s.rows_written()), (8, 8));
}

#[test]
fn retryable_status_resends_same_offset_without_resync() {
    let mut s = eo_stream();
    let w = s.begin_write(4, None).unwrap();
    let Recovery::Resend(again) = s.on_write_failed(service(503, "ServiceUnavailable")) else {
        panic!()
    };
    assert_eq!(again, w);
    assert_eq!(s.in_flight().unwrap().attempts, 2);
    s.on_written(&ack(4)).unwrap();
    assert_eq!(s.next_offset(), 4);
}

#[test]
fn conflict_after_applied_write_moves_on_without_duplicating() {
    let mut s = eo_stream();
    s.begin_write(10, None).unwrap();
    s.on_written(&ack(10)).unwrap();
    s.begin_write(6, None).unwrap();
    let Recovery::Resync(_) = s.on_write_failed(service(409, "RowOffsetConflict")) else {
        panic!()
    };
    // The write had been applied before the answer got lost.
    assert_eq!(s.on_resync(&at_offset(16)).unwrap(), ResyncOutcome::Applied);
    assert_eq!(
        (s.state(), s.next_offset(), s.rows_written()),
        (StreamState::Open, 16, 16)
    );
    let next = s.begin_write(1, None).unwrap();
    assert_eq!(next.row_offset, Some(16));
}

#[test]
fn resync_to_an_unexplained_offset_fails_loudly() {
    let mut s = eo_stream();
    s.begin_write(5, None).unwrap();
    let Recovery::Resync(_) = s.on_write_failed(WriteFailure::Unknown) else {
        panic!()
    };
    let err = s.on_resync(&at_offset(2)).unwrap_err();
    assert!(err.to_string().contains("lose or duplicate"), "{err}");
    assert_eq!(s.state(), StreamState::Failed);
}

#[test]
fn mismatching_acknowledged_offset_is_an_error() {
    let mut s = eo_stream();
    s.begin_write(5, None).unwrap();
    assert!(matches!(
        s.on_written(&ack(4)),
        Err(Error::InvalidResponse(_))
    ));
}

#[test]
fn exactly_once_needs_an_access_token() {
    let mut s = WriteStream::new(
        TableId::new("p", "t"),
        "sess",
        WriteMode::Batch,
        StreamRef::new("0", 1),
        StreamKind::ExactlyOnce,
    );
    assert!(
        matches!(
            s.on_created(&WriteStreamInfo::default()),
            Err(Error::InvalidResponse(ref r)) if r.field.as_deref() == Some("AccessToken")
        ),
        "an exactly-once stream without an access token is an invalid answer"
    );
    assert_eq!(s.state(), StreamState::Failed);
}

#[test]
fn normal_mode_never_retries_an_unknown_outcome() {
    let mut s = WriteStream::new(
        TableId::new("p", "t"),
        "sess",
        WriteMode::Batch,
        StreamRef::new("0", 1),
        StreamKind::Plain,
    );
    s.on_created(&WriteStreamInfo::default()).unwrap();
    let w = s.begin_write(3, None).unwrap();
    assert_eq!((w.row_offset, w.access_token.as_deref()), (None, None));
    // Nothing sent: safe to resend.
    let Recovery::Resend(again) = s.on_write_failed(WriteFailure::NotSent) else {
        panic!()
    };
    assert_eq!(again, w);
    // Sent, outcome unknown: fail, naming the risk.
    let Recovery::Fail(e) = s.on_write_failed(WriteFailure::Unknown) else {
        panic!()
    };
    assert!(e.to_string().contains("unknown"), "{e}");
    // A retryable status on a non-exactly-once write is also not retried blindly.
    let mut s = WriteStream::new(
        TableId::new("p", "t"),
        "sess",
        WriteMode::Batch,
        StreamRef::new("1", 1),
        StreamKind::Plain,
    );
    s.on_created(&WriteStreamInfo::default()).unwrap();
    s.begin_write(1, None).unwrap();
    assert!(matches!(
        s.on_write_failed(service(503, "ServiceUnavailable")),
        Recovery::Fail(Error::Service(_))
    ));
}

#[test]
fn stream_guards() {
    let mut s = eo_stream();
    s.begin_write(1, None).unwrap();
    // One write in flight at a time; no close with a write in flight.
    assert_refused(s.begin_write(1, None), "write");
    assert_refused(s.close_call(), "close");
    s.on_written(&ack(1)).unwrap();
    let close = s.close_call().unwrap().unwrap();
    assert_eq!(close.stream, StreamRef::new("0", 1));
    s.on_closed();
    assert_refused(s.begin_write(1, None), "write");
    let mut d = WriteStream::new(
        TableId::new("p", "t"),
        "default",
        WriteMode::Streaming,
        StreamRef::new("s0", 1),
        StreamKind::Plain,
    );
    d.on_created(&WriteStreamInfo::default()).unwrap();
    assert_eq!(
        d.close_call().unwrap(),
        None,
        "streams of the implicit session are not closed"
    );
}

#[test]
fn session_guards() {
    let mut session = WriteSession::new(TableId::new("p", "t"), "sess", WriteMode::Batch);
    let _ = session.register_stream(&StreamRef::new("0", 1)).unwrap();
    let _ = session.register_stream(&StreamRef::new("1", 1)).unwrap();
    assert_refused(
        session.register_stream(&StreamRef::new("1", 0)),
        "stream_version",
    );
    let err = session.commit_call().unwrap_err();
    assert!(err.to_string().contains("still open"), "{err}");
    session.stream_closed(&StreamRef::new("0", 1)).unwrap();
    session.stream_closed(&StreamRef::new("1", 1)).unwrap();
    assert_refused(session.stream_closed(&StreamRef::new("2", 1)), "stream");
    let commit = session.commit_listing_streams_call().unwrap();
    assert_eq!(
        commit.scope,
        CommitScope::Streams(vec![StreamRef::new("0", 1), StreamRef::new("1", 1)])
    );
    assert_refused(session.abort_call(), "abort");
    session.on_committed();
    assert_eq!(session.state(), SessionState::Committed);
    assert_refused(
        session.register_stream(&StreamRef::new("3", 1)),
        "create stream",
    );
    assert_refused(session.commit_call(), "commit");

    // A stream the service refused to create does not block the commit, and a refused
    // replacement brings the version it replaced back.
    let mut refused = WriteSession::new(TableId::new("p", "t"), "s3", WriteMode::Batch);
    let _ = refused.register_stream(&StreamRef::new("0", 1)).unwrap();
    refused.stream_closed(&StreamRef::new("0", 1)).unwrap();
    let r = refused.register_stream(&StreamRef::new("0", 2)).unwrap();
    refused.stream_refused(r);
    let r = refused.register_stream(&StreamRef::new("1", 1)).unwrap();
    // Stream 1 is open until refused.
    assert_refused(refused.commit_call(), "commit");
    refused.stream_refused(r);
    assert_eq!(
        refused.streams().collect::<Vec<_>>(),
        vec![(StreamRef::new("0", 1), StreamStatus::Closed)]
    );
    refused.commit_call().unwrap();

    let mut aborted = WriteSession::new(TableId::new("p", "t"), "s2", WriteMode::Batch);
    aborted.abort_call().unwrap();
    aborted.on_aborted();
    assert_refused(aborted.check_writable("write"), "write");

    // Committing listed streams (written elsewhere) moves the session like any commit,
    // whatever this handle opened: a success commits it, a failure reopens it.
    let mut listed = WriteSession::new(TableId::new("p", "t"), "s4", WriteMode::Batch);
    let _ = listed.register_stream(&StreamRef::new("mine", 1)).unwrap();
    let call = listed
        .commit_streams_call(vec![StreamRef::new("theirs", 3)])
        .unwrap();
    assert_eq!(
        call.scope,
        CommitScope::Streams(vec![StreamRef::new("theirs", 3)])
    );
    // An unsettled commit may be sent again (commits are idempotent).
    let _ = listed.commit_streams_call(vec![]).unwrap();
    let _ = listed.commit_streams_call(vec![]).unwrap();
    listed.on_committed();
    assert_eq!(listed.state(), SessionState::Committed);
    assert_refused(
        listed.register_stream(&StreamRef::new("late", 1)),
        "create stream",
    );

    let mut streaming = WriteSession::new(TableId::new("p", "t"), "default", WriteMode::Streaming);
    assert_refused(streaming.commit_call(), "commit");
    assert_refused(streaming.commit_streams_call(vec![]), "commit");
}

/// A failed commit call is settled by the session's status: an attempt whose answer was
/// lost may have committed, and a later attempt's error must not be reported as the truth.
#[test]
fn a_failed_commit_is_settled_by_the_sessions_status() {
    use maxstorage_protocol::read::SessionStatus;
    use maxstorage_protocol::write::WriteSessionInfo;
    let info = |status: SessionStatus| WriteSessionInfo {
        session_id: "s".into(),
        status: Some(status),
        ..WriteSessionInfo::default()
    };
    let mut s = WriteSession::new(TableId::new("p", "t"), "s", WriteMode::Batch);
    let _ = s.commit_call().unwrap();
    let ask = s.on_commit_failed();
    assert_eq!((ask.session_id.as_str(), ask.table.table()), ("s", "t"));
    assert_eq!(
        s.state(),
        SessionState::Committing,
        "unsettled until the answer"
    );
    assert_eq!(s.on_commit_status(&info(SessionStatus::Normal)), Ok(false));
    assert_eq!(
        s.state(),
        SessionState::Open,
        "not committed: open for a retry"
    );

    // Still deciding: the outcome is unknown, and the commit may be sent again.
    let _ = s.commit_call().unwrap();
    let _ = s.on_commit_failed();
    let unknown = s
        .on_commit_status(&info(SessionStatus::Committing))
        .unwrap_err();
    assert!(matches!(unknown, Error::OutcomeUnknown { .. }), "{unknown}");
    assert_eq!(s.state(), SessionState::Open);
    let mut no_status = info(SessionStatus::Normal);
    no_status.status = None;
    let _ = s.commit_call().unwrap();
    assert!(
        s.on_commit_status(&no_status).is_err(),
        "no status: unknown"
    );

    // A commit interrupted before its outcome was settled can be sent again.
    let _ = s.commit_call().unwrap();
    assert_eq!(s.state(), SessionState::Committing);
    let _ = s.commit_call().unwrap();
    let _ = s.on_commit_failed();
    assert_eq!(
        s.on_commit_status(&info(SessionStatus::Committed)),
        Ok(true)
    );
    assert_eq!(s.state(), SessionState::Committed);

    let mut aborted = WriteSession::new(TableId::new("p", "t"), "a", WriteMode::Batch);
    let _ = aborted.commit_call().unwrap();
    let _ = aborted.on_commit_failed();
    assert_eq!(
        aborted.on_commit_status(&info(SessionStatus::Aborted)),
        Ok(false)
    );
    assert_eq!(aborted.state(), SessionState::Aborted);

    let mut unknown = WriteSession::new(TableId::new("p", "t"), "u", WriteMode::Batch);
    let _ = unknown.commit_call().unwrap();
    let _ = unknown.on_commit_failed();
    let err = unknown.commit_unresolved(&"HTTP 503", &"connection reset");
    let text = err.to_string();
    assert!(
        text.contains("HTTP 503")
            && text.contains("connection reset")
            && text.contains("may be committed"),
        "{text}"
    );
    assert_eq!(unknown.state(), SessionState::Open, "a retry is allowed");
}

/// Asserts that `result` is a usage error naming `what`: the operation refused in the
/// current state, or the argument refused.
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match &result {
        Err(Error::Usage(UsageError::InvalidState { operation, .. })) if *operation == what => {}
        Err(Error::Usage(UsageError::InvalidArgument { name, .. })) if *name == what => {}
        other => panic!("expected a usage error about {what:?}, got {other:?}"),
    }
}

#[test]
fn a_write_is_recovered_at_most_max_recoveries_times() {
    let mut s = eo_stream().with_max_recoveries(2);
    let _ = s.begin_write(3, Some(100)).unwrap();
    for _ in 0..2 {
        let Recovery::Resend(again) = s.on_write_failed(service(503, "ServiceUnavailable")) else {
            panic!("expected a resend")
        };
        assert_eq!(again.row_offset, Some(0));
    }
    assert_eq!(
        s.on_write_failed(service(503, "ServiceUnavailable")),
        Recovery::GiveUp
    );
    assert_eq!(s.state(), StreamState::Failed);
    // The count is per write: the next stream's write starts afresh.
    let mut s = eo_stream();
    let _ = s.begin_write(3, Some(100)).unwrap();
    let Recovery::Resend(_) = s.on_write_failed(service(503, "ServiceUnavailable")) else {
        panic!("expected a resend")
    };
    s.on_written(&ack(3)).unwrap();
    let _ = s.begin_write(1, Some(10)).unwrap();
    for _ in 0..maxstorage_protocol::state::write_stream::DEFAULT_MAX_RECOVERIES {
        assert!(matches!(
            s.on_write_failed(service(503, "ServiceUnavailable")),
            Recovery::Resend(_)
        ));
    }
    assert_eq!(
        s.on_write_failed(service(503, "ServiceUnavailable")),
        Recovery::GiveUp
    );
}
