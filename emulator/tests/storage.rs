//! End-to-end tests over loopback HTTP with requests built by the protocol core.

mod common;

use common::*;
use maxstorage_emulator::fault::FaultSpec;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::read::{
    CreateReadSession, GetReadSession, PreviewOptions, PreviewTable, ReadRows, ReadRowsOptions,
    ReadSessionOptions, RowSelection, SplitMode, SplitOptions,
};
use maxstorage_protocol::write::{
    AbortWriteSession, CloseWriteStream, CommitScope, CommitWriteSession, CreateWriteSession,
    CreateWriteStream, GetWriteSession, GetWriteStream, StreamRef, WriteMode, WriteRows,
    WriteSessionOptions,
};
use maxstorage_protocol::{Compression, TableId};

fn table() -> TableId {
    TableId::new("p", "t")
}

fn make_table(env: &Env, partitioned: bool) {
    let mut def = TableDef::new(
        "p",
        "t",
        vec![ColumnDef::new("a", "bigint"), ColumnDef::new("b", "string")],
    );
    if partitioned {
        def = def.with_partitions(vec![ColumnDef::new("pt", "string")]);
    }
    env.admin.create_table(&def).unwrap();
}

fn write_session(env: &Env, partition: &str) -> String {
    env.call(
        &CreateWriteSession {
            table: table(),
            options: WriteSessionOptions::default().with_partition_spec(partition.into()),
        },
        &[],
    )
    .unwrap()
    .session_id
}

fn create_stream(env: &Env, sid: &str, id: &str, version: i64, eo: bool) -> Option<String> {
    env.call(
        &CreateWriteStream {
            table: table(),
            session_id: sid.into(),
            mode: WriteMode::Batch,
            stream: StreamRef::new(id, version),
            exactly_once: eo,
        },
        &[],
    )
    .unwrap()
    .access_token
}

/// A plain `TableWrite` of `count` rows to stream `id` version `version`.
fn rows_call(sid: &str, id: &str, version: i64, body: &[u8], count: i64) -> WriteRows {
    WriteRows {
        table: table(),
        session_id: sid.into(),
        mode: WriteMode::Batch,
        stream: StreamRef::new(id, version),
        record_count: count,
        row_offset: None,
        access_token: None,
        table_id: None,
        schema_version: None,
        content_length: Some(body.len() as u64),
    }
}

fn write(
    env: &Env,
    sid: &str,
    id: &str,
    version: i64,
    body: &[u8],
    count: i64,
) -> Result<maxstorage_protocol::write::WriteRowsResult, maxstorage_protocol::Error> {
    env.call(&rows_call(sid, id, version, body, count), body)
}

/// An exactly-once write (sent chunked) to stream `0` version 0 of session `sid`.
fn eo_write(
    env: &Env,
    sid: &str,
    token: &str,
    offset: i64,
    body: &[u8],
    count: i64,
) -> Result<maxstorage_protocol::write::WriteRowsResult, maxstorage_protocol::Error> {
    let call = WriteRows {
        row_offset: Some(offset),
        access_token: Some(token.into()),
        content_length: None,
        ..rows_call(sid, "0", 0, body, count)
    };
    env.call(&call, body)
}

fn close(env: &Env, sid: &str, id: &str, version: i64) {
    env.call(
        &CloseWriteStream {
            table: table(),
            session_id: sid.into(),
            mode: WriteMode::Batch,
            stream: StreamRef::new(id, version),
        },
        &[],
    )
    .unwrap();
}

fn commit(env: &Env, sid: &str, scope: CommitScope) -> Result<(), maxstorage_protocol::Error> {
    env.call(
        &CommitWriteSession {
            table: table(),
            session_id: sid.into(),
            mode: WriteMode::Batch,
            scope,
        },
        &[],
    )
    .map(|_| ())
}

fn read_all(env: &Env, opts: ReadSessionOptions) -> Vec<i64> {
    let s = env
        .call(
            &CreateReadSession {
                table: table(),
                options: opts,
            },
            &[],
        )
        .unwrap();
    let mut out = Vec::new();
    if s.split_mode == SplitMode::RowOffset {
        let r = read(
            env,
            &s.session_id,
            RowSelection::range(0, s.record_count),
            ReadRowsOptions::default(),
            Compression::Uncompressed,
        );
        out.extend(col_a(&r));
    } else {
        for i in 0..s.splits_count {
            let r = read(
                env,
                &s.session_id,
                RowSelection::split(i),
                ReadRowsOptions::default(),
                Compression::Uncompressed,
            );
            out.extend(col_a(&r));
        }
    }
    out
}

fn read(
    env: &Env,
    sid: &str,
    sel: RowSelection,
    options: ReadRowsOptions,
    compression: Compression,
) -> Vec<arrow_array::RecordBatch> {
    let r = env.raw(
        &ReadRows {
            table: table(),
            session_id: sid.into(),
            selection: sel,
            options,
            compression,
        },
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    decode(&r.body)
}

fn dump_a(env: &Env) -> Vec<i64> {
    let mut a = col_a(&env.admin.dump("p", "t", None).unwrap());
    a.sort();
    a
}

#[test]
fn write_commit_read_round_trip() {
    let env = start();
    make_table(&env, true);
    let sid = write_session(&env, "pt=x");
    create_stream(&env, &sid, "0", 1, false);
    let body = ipc(&[batch(&[1, 2, 3], &["a", "b", "c"])], Compression::Zstd);
    write(&env, &sid, "0", 1, &body, 3).unwrap();
    // Nothing visible before the commit.
    assert!(dump_a(&env).is_empty());
    // Commit with an open stream is refused.
    let e = commit(&env, &sid, CommitScope::AllClosedStreams).unwrap_err();
    assert_eq!(e.status(), Some(409));
    close(&env, &sid, "0", 1);
    commit(&env, &sid, CommitScope::AllClosedStreams).unwrap();
    // Idempotent second commit; write after commit refused.
    commit(&env, &sid, CommitScope::AllClosedStreams).unwrap();
    let e = write(&env, &sid, "0", 1, &body, 3).unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(dump_a(&env), vec![1, 2, 3]);
    let info = env.admin.describe("p", "default", "t").unwrap();
    assert_eq!(info.partitions, vec!["pt=x".to_string()]);
    let mut got = read_all(&env, ReadSessionOptions::default());
    got.sort();
    assert_eq!(got, vec![1, 2, 3]);
}

#[test]
fn bad_writes_leave_state_unchanged() {
    let env = start();
    make_table(&env, false);
    let sid = write_session(&env, "");
    create_stream(&env, &sid, "s", 2, false);
    let good = ipc(&[batch(&[1, 2], &["x", "y"])], Compression::Uncompressed);
    // Count mismatch.
    let e = write(&env, &sid, "s", 2, &good, 5).unwrap_err();
    assert_eq!(e.status(), Some(400));
    // Wrong stream version.
    let e = write(&env, &sid, "s", 1, &good, 2).unwrap_err();
    assert_eq!(e.status(), Some(409));
    // Lower version cannot replace.
    let e = env
        .call(
            &CreateWriteStream {
                table: table(),
                session_id: sid.clone(),
                mode: WriteMode::Batch,
                stream: StreamRef::new("s", 1),
                exactly_once: false,
            },
            &[],
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    // Schema mismatch.
    let other = arrow_array::RecordBatch::try_from_iter(vec![(
        "zz",
        std::sync::Arc::new(arrow_array::Int32Array::from(vec![1])) as arrow_array::ArrayRef,
    )])
    .unwrap();
    let e = write(
        &env,
        &sid,
        "s",
        2,
        &ipc(&[other], Compression::Uncompressed),
        1,
    )
    .unwrap_err();
    assert_eq!(e.status(), Some(400));
    // Malformed IPC.
    let e = write(&env, &sid, "s", 2, b"\xff\xff\xff\xffgarbage", 1).unwrap_err();
    assert_eq!(e.status(), Some(400));
    // Unknown session.
    let e = write(&env, "nope", "s", 2, &good, 2).unwrap_err();
    assert_eq!(e.status(), Some(404));
    close(&env, &sid, "s", 2);
    commit(&env, &sid, CommitScope::AllClosedStreams).unwrap();
    assert!(dump_a(&env).is_empty());
    // Abort after commit is refused; commit after abort is refused.
    let e = env
        .call(
            &AbortWriteSession {
                table: table(),
                session_id: sid.clone(),
                mode: WriteMode::Batch,
            },
            &[],
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    let sid2 = write_session(&env, "");
    env.call(
        &AbortWriteSession {
            table: table(),
            session_id: sid2.clone(),
            mode: WriteMode::Batch,
        },
        &[],
    )
    .unwrap();
    assert_eq!(
        commit(&env, &sid2, CommitScope::AllClosedStreams)
            .unwrap_err()
            .status(),
        Some(409)
    );
}

#[test]
fn exactly_once_offsets() {
    let env = start();
    make_table(&env, false);
    let sid = write_session(&env, "");
    let token = create_stream(&env, &sid, "0", 0, true).expect("access token");
    let eo =
        |offset: i64, body: &[u8], count: i64| eo_write(&env, &sid, &token, offset, body, count);
    let b1 = ipc(&[batch(&[1, 2], &["a", "b"])], Compression::Uncompressed);
    let b2 = ipc(&[batch(&[3], &["c"])], Compression::Uncompressed);
    assert_eq!(eo(0, &b1, 2).unwrap().exactly_once_row_offset, Some(2));
    // Identical replay: accepted, not applied twice.
    assert_eq!(eo(0, &b1, 2).unwrap().exactly_once_row_offset, Some(2));
    // Different bytes at a used offset; a gap.
    let e = eo(0, &b2, 1).unwrap_err();
    assert!(
        matches!(&e, maxstorage_protocol::Error::Service(s) if s.code == "RowOffsetConflict" && s.message.contains("expected RowOffset 2")),
        "{e}"
    );
    assert_eq!(eo(5, &b2, 1).unwrap_err().status(), Some(409));
    assert_eq!(eo(2, &b2, 1).unwrap().exactly_once_row_offset, Some(3));
    let info = env
        .call(
            &GetWriteStream {
                table: table(),
                session_id: sid.clone(),
                mode: WriteMode::Batch,
                stream: StreamRef::new("0", 0),
                table_id: None,
                exactly_once: true,
            },
            &[],
        )
        .unwrap();
    assert_eq!(info.row_offset, Some(3));
    assert_eq!(info.access_token.as_deref(), Some(token.as_str()));
    close(&env, &sid, "0", 0);
    commit(
        &env,
        &sid,
        CommitScope::Streams(vec![StreamRef::new("0", 0)]),
    )
    .unwrap();
    assert_eq!(dump_a(&env), vec![1, 2, 3]);
}

#[test]
fn splits_offsets_and_compression() {
    let env = start();
    make_table(&env, false);
    let a: Vec<i64> = (0..1000).collect();
    let b: Vec<String> = a.iter().map(|i| format!("row-{i}")).collect();
    let bs: Vec<&str> = b.iter().map(String::as_str).collect();
    env.admin.insert("p", "t", None, &[batch(&a, &bs)]).unwrap();
    for (mode, n) in [
        (SplitOptions::by_parallelism(7), 7),
        (SplitOptions::by_size(4000), 0),
        (SplitOptions::by_row_offset(300), 0),
    ] {
        let opts = ReadSessionOptions::default().with_split_options(mode);
        let s = env
            .call(
                &CreateReadSession {
                    table: table(),
                    options: opts.clone(),
                },
                &[],
            )
            .unwrap();
        if n > 0 {
            assert_eq!(s.splits_count, n);
        }
        if s.split_mode == SplitMode::Size {
            assert!(s.splits_count > 1, "size splits: {}", s.splits_count);
        }
        assert_eq!(read_all(&env, opts), a);
    }
    let s = env
        .call(
            &CreateReadSession {
                table: table(),
                options: ReadSessionOptions::default()
                    .with_split_options(SplitOptions::by_parallelism(4)),
            },
            &[],
        )
        .unwrap();
    // Offset/Count within split 1 (rows 250..500), then SkipRowNum.
    let r = read(
        &env,
        &s.session_id,
        RowSelection::split_range(1, 10, 20),
        ReadRowsOptions::default()
            .with_skip_row_num(5)
            .with_max_batch_rows(4),
        Compression::Lz4Frame,
    );
    assert_eq!(col_a(&r), (265..280).collect::<Vec<_>>());
    assert!(r.iter().all(|b| b.num_rows() <= 4));
    // Whole-session Offset without Index; Count ≤ 0 means to the end.
    let r = read(
        &env,
        &s.session_id,
        RowSelection::range(990, 0),
        ReadRowsOptions::default(),
        Compression::Zstd,
    );
    assert_eq!(col_a(&r), (990..1000).collect::<Vec<_>>());
    // DataColumns.
    let r = read(
        &env,
        &s.session_id,
        RowSelection::split(0),
        ReadRowsOptions::default().with_data_columns(vec!["b".into()]),
        Compression::Uncompressed,
    );
    assert_eq!(r[0].num_columns(), 1);
    // Bad split index.
    let resp = env.raw(
        &ReadRows {
            table: table(),
            session_id: s.session_id.clone(),
            selection: RowSelection::split(9),
            options: ReadRowsOptions::default(),
            compression: Compression::Uncompressed,
        },
        None,
        &[],
    );
    assert_eq!(resp.status, 400);
    // Refresh (expiration times are in milliseconds: let one pass first).
    std::thread::sleep(std::time::Duration::from_millis(5));
    let g = env
        .call(
            &GetReadSession {
                table: table(),
                session_id: s.session_id.clone(),
                refresh: true,
            },
            &[],
        )
        .unwrap();
    assert!(
        g.expiration_time > s.expiration_time,
        "refresh extends the session"
    );
}

#[test]
fn filters_partitions_and_preview() {
    let env = start();
    make_table(&env, true);
    env.admin
        .insert(
            "p",
            "t",
            Some("pt=1"),
            &[batch(&[1, 2, 3], &["a", "b", "c"])],
        )
        .unwrap();
    env.admin
        .insert(
            "p",
            "t",
            Some("pt=2"),
            &[batch(&[4, 5, 6], &["d", "e", "f"])],
        )
        .unwrap();
    let mut got = read_all(
        &env,
        ReadSessionOptions::default()
            .with_filter_predicate("a > 1 AND (b <> 'e' OR pt = '1')".into()),
    );
    got.sort();
    assert_eq!(got, vec![2, 3, 4, 6]);
    let got = read_all(
        &env,
        ReadSessionOptions::default().with_required_partitions(vec!["pt=2".into()]),
    );
    assert_eq!(got, vec![4, 5, 6]);
    let r = env.raw(
        &CreateReadSession {
            table: table(),
            options: ReadSessionOptions::default().with_filter_predicate("a IN (1)".into()),
        },
        None,
        &[],
    );
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("UnsupportedOperation"));
    let r = env.raw(
        &PreviewTable {
            table: table(),
            options: PreviewOptions::default()
                .with_limit(Some(2))
                .with_partition(Some("pt=2".into()))
                .with_columns(Some(vec!["a".into()])),
            compression: Compression::Uncompressed,
        },
        None,
        &[],
    );
    assert_eq!(r.status, 200);
    let b = decode(&r.body);
    assert_eq!(col_a(&b), vec![4, 5]);
    assert_eq!(b[0].num_columns(), 1);
}

#[test]
fn signatures_and_faults() {
    let env = start();
    make_table(&env, false);
    let mut bad = env.config.clone();
    bad.credentials = maxstorage_protocol::Credentials::new(ID, "wrong");
    let e = env
        .call_with(
            &bad,
            &GetWriteSession {
                table: table(),
                session_id: "x".into(),
                mode: WriteMode::Batch,
            },
            &[],
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    // A stale Date.
    let ctx = maxstorage_protocol::RequestContext::new(
        &env.config,
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    let req = maxstorage_protocol::Call::build(
        &CreateReadSession {
            table: table(),
            options: Default::default(),
        },
        &ctx,
    )
    .unwrap();
    let r = maxstorage_emulator::http_client::send_request(
        env.emulator.addr(),
        &req,
        req.body().bytes().unwrap(),
    )
    .unwrap();
    assert_eq!(r.status, 403);
    assert!(r.header("x-odps-request-id").is_some());
    // Faults: a 503 with Retry-After, then normal service.
    env.admin
        .inject_fault(&FaultSpec::status("TableCreateWriteSession", 503).retry_after(2))
        .unwrap();
    let r = env.raw(
        &CreateWriteSession {
            table: table(),
            options: Default::default(),
        },
        None,
        &[],
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("2"));
    let sid = write_session(&env, "");
    // Drop after apply: the commit happens, the client sees no answer.
    create_stream(&env, &sid, "0", 1, false);
    write(
        &env,
        &sid,
        "0",
        1,
        &ipc(&[batch(&[7], &["z"])], Compression::Uncompressed),
        1,
    )
    .unwrap();
    close(&env, &sid, "0", 1);
    env.admin
        .inject_fault(&FaultSpec::drop_after_apply("TableCommitWriteSession"))
        .unwrap();
    let ctx = maxstorage_protocol::RequestContext::new(&env.config, std::time::SystemTime::now());
    let req = maxstorage_protocol::Call::build(
        &CommitWriteSession {
            table: table(),
            session_id: sid.clone(),
            mode: WriteMode::Batch,
            scope: CommitScope::AllClosedStreams,
        },
        &ctx,
    )
    .unwrap();
    assert!(
        maxstorage_emulator::http_client::send_request(env.emulator.addr(), &req, b"{}").is_err()
    );
    assert_eq!(dump_a(&env), vec![7]);
    commit(&env, &sid, CommitScope::AllClosedStreams).unwrap();
    // Cut after N bytes.
    let s = env
        .call(
            &CreateReadSession {
                table: table(),
                options: Default::default(),
            },
            &[],
        )
        .unwrap();
    env.admin
        .inject_fault(&FaultSpec::cut_after("TableRead", 10))
        .unwrap();
    let ctx = maxstorage_protocol::RequestContext::new(&env.config, std::time::SystemTime::now());
    let req = maxstorage_protocol::Call::build(
        &ReadRows {
            table: table(),
            session_id: s.session_id.clone(),
            selection: RowSelection::split(0),
            options: ReadRowsOptions::default(),
            compression: Compression::Uncompressed,
        },
        &ctx,
    )
    .unwrap();
    let got = maxstorage_emulator::http_client::send_request(
        env.emulator.addr(),
        &req,
        req.body().bytes().unwrap(),
    );
    assert!(got.is_err() || got.unwrap().body.len() <= 10);
    assert!(env.admin.faults().unwrap().is_empty());
}

#[test]
fn expired_sessions_refuse_reads_until_refreshed() {
    let env = start_with(|b| b.session_ttl(std::time::Duration::from_secs(1)));
    make_table(&env, false);
    env.admin
        .insert("p", "t", None, &[batch(&[1, 2, 3], &["x", "y", "z"])])
        .unwrap();
    let s = env
        .call(
            &CreateReadSession {
                table: table(),
                options: ReadSessionOptions::default(),
            },
            &[],
        )
        .unwrap();
    let get = |refresh: bool| {
        env.call(
            &GetReadSession {
                table: table(),
                session_id: s.session_id.clone(),
                refresh,
            },
            &[],
        )
        .unwrap()
    };
    // Poll (with a deadline) until the session has expired.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get(false).status != maxstorage_protocol::read::SessionStatus::Expired {
        assert!(
            std::time::Instant::now() < deadline,
            "the session never expired"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = env.raw(
        &ReadRows {
            table: table(),
            session_id: s.session_id.clone(),
            selection: RowSelection::split(0),
            options: ReadRowsOptions::default(),
            compression: Compression::Uncompressed,
        },
        None,
        &[],
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("SessionExpired"));
    // A refresh brings it back; the data is unchanged.
    let refreshed = get(true);
    assert_eq!(
        refreshed.status,
        maxstorage_protocol::read::SessionStatus::Normal
    );
    assert!(refreshed.expiration_time > s.expiration_time);
    let rows = read(
        &env,
        &s.session_id,
        RowSelection::split(0),
        ReadRowsOptions::default(),
        Compression::Uncompressed,
    );
    assert_eq!(col_a(&rows), vec![1, 2, 3]);
}

#[test]
fn a_table_commit_that_fails_loses_no_rows_and_its_retry_stores_them_once() {
    let env = start();
    make_table(&env, false);
    // Batch: the commit fails after its files were moved into the table.
    let sid = write_session(&env, "");
    for (stream, rows) in [("0", [1, 2]), ("1", [3, 4])] {
        create_stream(&env, &sid, stream, 1, false);
        let body = ipc(&[batch(&rows, &["a", "b"])], Compression::Uncompressed);
        write(&env, &sid, stream, 1, &body, 2).unwrap();
        close(&env, &sid, stream, 1);
    }
    env.admin
        .inject_fault(&FaultSpec::fail_store_commit("TableCommitWriteSession"))
        .unwrap();
    let e = commit(&env, &sid, CommitScope::AllClosedStreams).unwrap_err();
    assert_eq!(e.status(), Some(500), "{e}");
    assert!(dump_a(&env).is_empty(), "nothing published");
    commit(&env, &sid, CommitScope::AllClosedStreams).unwrap();
    assert_eq!(
        dump_a(&env),
        vec![1, 2, 3, 4],
        "the retry committed every row once"
    );

    // Streaming, exactly-once: the write's own commit fails; the offset must not advance,
    // so the retry stores the rows instead of passing for a replay.
    let v3 = env.v3();
    let stream = StreamRef::new("s", 0);
    let token = env
        .call_with(
            &v3,
            &CreateWriteStream {
                table: table(),
                session_id: "default".into(),
                mode: WriteMode::Streaming,
                stream: stream.clone(),
                exactly_once: true,
            },
            &[],
        )
        .unwrap()
        .access_token
        .expect("an exactly-once stream");
    let body = ipc(&[batch(&[10, 11], &["x", "y"])], Compression::Uncompressed);
    let eo_write = |offset: i64| {
        env.call_with(
            &v3,
            &WriteRows {
                table: table(),
                session_id: "default".into(),
                mode: WriteMode::Streaming,
                stream: stream.clone(),
                record_count: 2,
                row_offset: Some(offset),
                access_token: Some(token.clone()),
                table_id: None,
                schema_version: None,
                content_length: None,
            },
            &body,
        )
    };
    env.admin
        .inject_fault(&FaultSpec::fail_store_commit("TableWrite"))
        .unwrap();
    assert_eq!(eo_write(0).unwrap_err().status(), Some(500));
    assert_eq!(dump_a(&env), vec![1, 2, 3, 4], "nothing published");
    assert_eq!(eo_write(0).unwrap().exactly_once_row_offset, Some(2));
    assert_eq!(dump_a(&env), vec![1, 2, 3, 4, 10, 11]);
    // A replay of the acknowledged write is still not stored twice.
    assert_eq!(eo_write(0).unwrap().exactly_once_row_offset, Some(2));
    assert_eq!(dump_a(&env), vec![1, 2, 3, 4, 10, 11]);
}

#[test]
fn a_request_with_two_date_headers_is_refused() {
    let env = start();
    make_table(&env, false);
    let ctx = maxstorage_protocol::RequestContext::new(&env.config, std::time::SystemTime::now());
    let call = CreateWriteSession {
        table: table(),
        options: WriteSessionOptions::default(),
    };
    let req = maxstorage_protocol::Call::build(&call, &ctx).unwrap();
    let body = match req.body() {
        maxstorage_protocol::Body::Json(b) => b.to_vec(),
        _ => Vec::new(),
    };
    // As signed it is accepted ...
    let (parts, _) = req.into_parts();
    let ok = http::Request::from_parts(parts.clone(), maxstorage_protocol::Body::Empty);
    let r =
        maxstorage_emulator::http_client::send_request(env.emulator.addr(), &ok, &body).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // ... with a second Date it is not, whichever one the signature covers.
    let mut twice = http::Request::from_parts(parts, maxstorage_protocol::Body::Empty);
    twice.headers_mut().append(
        http::header::DATE,
        http::HeaderValue::from_static("Mon, 01 Jan 2024 00:00:00 GMT"),
    );
    let r =
        maxstorage_emulator::http_client::send_request(env.emulator.addr(), &twice, &body).unwrap();
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("2 date headers"));
}

#[test]
fn a_write_whose_staging_fails_acknowledges_nothing_and_leaves_no_file() {
    let env = start();
    make_table(&env, false);
    let sid = write_session(&env, "");
    let token = create_stream(&env, &sid, "0", 0, true).expect("access token");
    let body = ipc(&[batch(&[7, 8], &["a", "b"])], Compression::Uncompressed);
    let first_write = || eo_write(&env, &sid, &token, 0, &body, 2);
    env.admin
        .inject_fault(&FaultSpec::fail_store_stage("TableWrite"))
        .unwrap();
    assert_eq!(first_write().unwrap_err().status(), Some(500));
    let staging = env.emulator.data_dir().join("staging");
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "no staged file is left behind"
    );
    let info = env
        .call(
            &GetWriteStream {
                table: table(),
                session_id: sid.clone(),
                mode: WriteMode::Batch,
                stream: StreamRef::new("0", 0),
                table_id: None,
                exactly_once: true,
            },
            &[],
        )
        .unwrap();
    assert_eq!(info.row_offset, Some(0), "nothing was acknowledged");
    // The retry is a first write, not a replay.
    assert_eq!(first_write().unwrap().exactly_once_row_offset, Some(2));
    close(&env, &sid, "0", 0);
    commit(&env, &sid, CommitScope::AllClosedStreams).unwrap();
    assert_eq!(dump_a(&env), vec![7, 8]);
}

#[test]
fn requests_dropped_before_apply_or_cut_mid_upload_change_nothing() {
    let env = start();
    make_table(&env, false);
    let sid = write_session(&env, "");
    let token = create_stream(&env, &sid, "0", 0, true).expect("access token");
    let body = ipc(&[batch(&[7, 8], &["a", "b"])], Compression::Uncompressed);
    let send = |fault: FaultSpec| {
        env.admin.inject_fault(&fault).unwrap();
        let call = WriteRows {
            row_offset: Some(0),
            access_token: Some(token.clone()),
            ..rows_call(&sid, "0", 0, &body, 2)
        };
        let ctx =
            maxstorage_protocol::RequestContext::new(&env.config, std::time::SystemTime::now());
        let req = maxstorage_protocol::Call::build(&call, &ctx).unwrap();
        let got = maxstorage_emulator::http_client::send_request(env.emulator.addr(), &req, &body);
        assert!(got.is_err(), "the connection closes unanswered: {got:?}");
        assert!(env.admin.faults().unwrap().is_empty(), "the fault fired");
    };
    let offset = || {
        env.call(
            &GetWriteStream {
                table: table(),
                session_id: sid.clone(),
                mode: WriteMode::Batch,
                stream: StreamRef::new("0", 0),
                table_id: None,
                exactly_once: true,
            },
            &[],
        )
        .unwrap()
        .row_offset
    };
    send(FaultSpec::drop_before_apply("TableWrite"));
    assert_eq!(
        offset(),
        Some(0),
        "a request dropped before apply wrote nothing"
    );
    send(FaultSpec::cut_request_after("TableWrite", 10));
    assert_eq!(offset(), Some(0), "an upload cut mid-body wrote nothing");
    // The same write then succeeds as a first write.
    assert_eq!(
        eo_write(&env, &sid, &token, 0, &body, 2)
            .unwrap()
            .exactly_once_row_offset,
        Some(2)
    );
    close(&env, &sid, "0", 0);
    env.admin
        .inject_fault(&FaultSpec::drop_before_apply("TableCommitWriteSession"))
        .unwrap();
    let ctx = maxstorage_protocol::RequestContext::new(&env.config, std::time::SystemTime::now());
    let commit_all = CommitWriteSession {
        table: table(),
        session_id: sid.clone(),
        mode: WriteMode::Batch,
        scope: CommitScope::AllClosedStreams,
    };
    let req = maxstorage_protocol::Call::build(&commit_all, &ctx).unwrap();
    assert!(
        maxstorage_emulator::http_client::send_request(env.emulator.addr(), &req, b"{}").is_err()
    );
    assert_eq!(
        dump_a(&env),
        Vec::<i64>::new(),
        "a dropped commit committed nothing"
    );
    commit(&env, &sid, CommitScope::AllClosedStreams).unwrap();
    assert_eq!(dump_a(&env), vec![7, 8]);
}
