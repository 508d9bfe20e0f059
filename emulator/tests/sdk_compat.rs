//! What the official Python SDKs send and read, call by call through their user guide
//! (issue 9): each test sends the SDK's own request shapes as raw HTTP, so it fails when
//! the emulator refuses what an SDK sends, answers without what it reads, or accepts what
//! the service refuses.

mod common;

use std::sync::Arc;

use arrow_array::{ArrayRef, BinaryArray, Int64Array, LargeStringArray, RecordBatch};
use base64::Engine as _;
use common::*;
use maxstorage_emulator::BlobLayout;
use maxstorage_emulator::admin::InstanceDef;
use maxstorage_emulator::http_client::send;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::frame::{BlobItemHeader, ChecksumType, crc32c_deframe, encode_items};
use maxstorage_protocol::header;
use serde_json::Value;

const TARGET: &str = "Target=projects.p.tables.t";
const TOKEN_HEADER: &str = header::ROUTE_TOKEN;

/// An emulator that accepts the unsigned requests these tests send.
fn unsigned() -> Env {
    start_with(|b| b.no_auth())
}

/// Asserts an error answer: its status and `Code`, and returns its message.
fn refused(r: &(u16, Value), status: u16, code: &str) -> String {
    assert_eq!(r.0, status, "{}", r.1);
    assert_eq!(r.1["Code"], code, "{}", r.1);
    r.1["Message"].as_str().unwrap_or_default().to_string()
}

fn make_table(env: &Env, columns: &[(&str, &str)]) {
    env.admin
        .create_table(&TableDef::new(
            "p",
            "t",
            columns.iter().map(|&(n, t)| ColumnDef::new(n, t)).collect(),
        ))
        .unwrap();
}

fn write_session(env: &Env) -> String {
    let (s, v) = raw_json(
        env,
        "POST",
        &format!("Action=TableCreateWriteSession&{TARGET}"),
        "{}",
    );
    assert_eq!(s, 200, "{v}");
    v["SessionId"].as_str().unwrap().to_string()
}

/// `TableCreateWriteStream` as the user-guide SDK sends it: no exactly-once flag.
fn create_stream(env: &Env, sid: &str, stream: &str) -> Value {
    let (s, v) = raw_json(
        env,
        "POST",
        &format!("Action=TableCreateWriteStream&{TARGET}&SessionId={sid}"),
        &format!(r#"{{"StreamId": "{stream}", "StreamVersion": 1}}"#),
    );
    assert_eq!(s, 200, "{v}");
    v
}

fn get_stream(env: &Env, sid: &str, stream: &str, exactly_once: bool) -> (u16, Value) {
    let eo = if exactly_once {
        "&ExactlyOnceMode=true"
    } else {
        ""
    };
    raw_json(
        env,
        "GET",
        &format!(
            "Action=TableGetWriteStream&{TARGET}&SessionId={sid}&StreamId={stream}&StreamVersion=1{eo}"
        ),
        "",
    )
}

/// `TableWrite` with the SDK's exactly-once parameters (the offset in the query, the
/// token in its header).
fn write(
    env: &Env,
    sid: &str,
    stream: &str,
    eo: Option<(i64, &str)>,
    batch: &RecordBatch,
) -> (u16, Value) {
    let body = ipc(
        std::slice::from_ref(batch),
        maxstorage_protocol::Compression::Uncompressed,
    );
    let mut headers = Vec::new();
    let mut offset = String::new();
    if let Some((row_offset, token)) = eo {
        offset = format!("&RowOffset={row_offset}");
        headers.push((header::WRITE_ACCESS_TOKEN.to_string(), token.to_string()));
    }
    let r = send(
        env.emulator.addr(),
        "POST",
        &format!(
            "/api/storage/v2?Action=TableWrite&{TARGET}&SessionId={sid}&StreamId={stream}&StreamVersion=1&Count={}{offset}",
            batch.num_rows()
        ),
        &headers,
        &body,
    )
    .unwrap();
    status_json(&r)
}

fn close_and_commit(env: &Env, sid: &str, streams: &[&str]) {
    for stream in streams {
        let (s, v) = raw_json(
            env,
            "POST",
            &format!("Action=TableCloseWriteStream&{TARGET}&SessionId={sid}"),
            &format!(r#"{{"StreamId": "{stream}", "StreamVersion": 1}}"#),
        );
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = raw_json(
        env,
        "POST",
        &format!("Action=TableCommitWriteSession&{TARGET}&SessionId={sid}"),
        "{}",
    );
    assert_eq!(s, 200, "{v}");
}

fn dump_a(env: &Env) -> Vec<i64> {
    col_a(&env.admin.dump("p", "t", None).unwrap())
}

#[test]
fn bucket_ids_given_as_strings_are_accepted() {
    let env = unsigned();
    env.admin
        .create_table(
            &TableDef::new(
                "p",
                "t",
                vec![ColumnDef::new("a", "bigint"), ColumnDef::new("b", "string")],
            )
            .with_buckets(4, vec!["a".into()]),
        )
        .unwrap();
    for ids in [r#"["0", "1"]"#, "[0, 1]", "[]"] {
        let (s, v) = raw_json(
            &env,
            "POST",
            &format!("Action=TableCreateReadSession&{TARGET}"),
            &format!(r#"{{"RequiredBucketIds": {ids}}}"#),
        );
        assert_eq!(s, 200, "{ids}: {v}");
    }
    let r = raw_json(
        &env,
        "POST",
        &format!("Action=TableCreateReadSession&{TARGET}"),
        r#"{"RequiredBucketIds": ["zero"]}"#,
    );
    refused(&r, 400, "InvalidParameter");
}

#[test]
fn exactly_once_asked_for_by_get_write_stream_is_honoured() {
    let env = unsigned();
    make_table(&env, &[("a", "bigint"), ("b", "string")]);
    let sid = write_session(&env);
    let created = create_stream(&env, &sid, "eo");
    assert!(created["AccessToken"].is_null(), "{created}");
    // The user-guide SDK's only exactly-once signal.
    let (s, v) = get_stream(&env, &sid, "eo", true);
    assert_eq!(s, 200, "{v}");
    let token = v["AccessToken"]
        .as_str()
        .expect("an access token")
        .to_string();
    assert_eq!(v["RowOffset"], 0);
    let rows = batch(&[1, 2], &["x", "y"]);
    let (s, v) = write(&env, &sid, "eo", Some((0, &token)), &rows);
    assert_eq!(
        (s, &v["ExactlyOnceRowOffset"]),
        (200, &Value::from(2)),
        "{v}"
    );
    // A retried write (same offset, same rows) is stored once.
    let (s, _) = write(&env, &sid, "eo", Some((0, &token)), &rows);
    assert_eq!(s, 200);
    // A wrong offset and a wrong token fail.
    let third = batch(&[3], &["z"]);
    assert_eq!(write(&env, &sid, "eo", Some((7, &token)), &third).0, 409);
    refused(
        &write(&env, &sid, "eo", Some((2, "forged")), &third),
        403,
        "InvalidAccessToken",
    );
    assert_eq!(write(&env, &sid, "eo", Some((2, &token)), &third).0, 200);
    // Asking again returns the same token and the next offset.
    let (_, v) = get_stream(&env, &sid, "eo", true);
    assert_eq!(
        (v["AccessToken"].as_str(), &v["RowOffset"]),
        (Some(token.as_str()), &Value::from(3))
    );

    // A plain stream refuses exactly-once parameters instead of ignoring them.
    create_stream(&env, &sid, "plain");
    let r = write(&env, &sid, "plain", Some((0, &token)), &rows);
    let message = refused(&r, 400, "InvalidParameter");
    assert!(message.contains("exactly-once"), "{message}");
    let r = send_v2(
        &env,
        "POST",
        &format!(
            "Action=TableWrite&{TARGET}&SessionId={sid}&StreamId=plain&StreamVersion=1&Count=2&RowOffset=0"
        ),
        None,
        &ipc(
            std::slice::from_ref(&rows),
            maxstorage_protocol::Compression::Uncompressed,
        ),
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(write(&env, &sid, "plain", None, &rows).0, 200);
    // A stream that holds rows cannot become exactly-once afterwards.
    let r = get_stream(&env, &sid, "plain", true);
    refused(&r, 409, "InvalidState");

    close_and_commit(&env, &sid, &["eo", "plain"]);
    let mut a = dump_a(&env);
    a.sort();
    assert_eq!(a, vec![1, 1, 2, 2, 3]);
}

#[test]
fn stream_status_is_answered_in_every_sdk_spelling() {
    let env = unsigned();
    make_table(&env, &[("a", "bigint"), ("b", "string")]);
    let sid = write_session(&env);
    create_stream(&env, &sid, "0");
    assert_eq!(
        write(&env, &sid, "0", None, &batch(&[1, 2, 3], &["a", "b", "c"])).0,
        200
    );
    let (s, v) = get_stream(&env, &sid, "0", false);
    assert_eq!(s, 200, "{v}");
    // What the user-guide SDK reads, next to the Java spellings.
    assert_eq!(v["Status"], "OPEN", "{v}");
    assert_eq!(v["RecordCount"], 3, "{v}");
    assert_eq!(v["recordCount"], 3, "{v}");
    assert!(v["status"].is_number(), "{v}");
    assert!(v["ByteSize"].as_i64().is_some_and(|n| n > 0), "{v}");
    let (s, _) = raw_json(
        &env,
        "POST",
        &format!("Action=TableCloseWriteStream&{TARGET}&SessionId={sid}"),
        r#"{"StreamId": "0", "StreamVersion": 1}"#,
    );
    assert_eq!(s, 200);
    let (_, v) = get_stream(&env, &sid, "0", false);
    assert_eq!(v["Status"], "CLOSED", "{v}");
}

#[test]
fn instance_read_sessions_count_their_splits() {
    let env = unsigned();
    make_table(&env, &[("a", "bigint"), ("b", "string")]);
    env.admin
        .insert("p", "t", None, &[batch(&[1, 2, 3], &["a", "b", "c"])])
        .unwrap();
    let id = env
        .admin
        .create_instance(&InstanceDef {
            project: "p".into(),
            schema: "default".into(),
            table: "t".into(),
            columns: vec!["a".into()],
            partition: None,
            limit: None,
        })
        .unwrap();
    let target = format!("Target=projects.p.instances.{id}");
    let (s, v) = raw_json(
        &env,
        "POST",
        &format!("Action=InstanceCreateReadSession&{target}"),
        "{}",
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["SplitsCount"], 1, "{v}");
    let sid = v["DownloadID"].as_str().unwrap();
    let mut read = 0;
    for index in 0..v["SplitsCount"].as_i64().unwrap() {
        let r = send_v2(
            &env,
            "POST",
            &format!("Action=InstanceRead&{target}&SessionId={sid}&Index={index}"),
            None,
            b"{}",
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        read += rows(&decode(&r.body));
    }
    assert_eq!(read, 3);
    let r = raw_json(
        &env,
        "POST",
        &format!("Action=InstanceRead&{target}&SessionId={sid}&Index=1"),
        "{}",
    );
    refused(&r, 400, "InvalidParameter");
}

#[test]
fn lossless_variants_of_the_column_types_are_written() {
    // pandas >= 3 gives large_string for str columns.
    let env = unsigned();
    make_table(&env, &[("a", "bigint"), ("b", "string")]);
    let sid = write_session(&env);
    create_stream(&env, &sid, "0");
    let large = RecordBatch::try_from_iter(vec![
        ("a", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        (
            "b",
            Arc::new(LargeStringArray::from(vec!["x", "y"])) as ArrayRef,
        ),
    ])
    .unwrap();
    let (s, v) = write(&env, &sid, "0", None, &large);
    assert_eq!(s, 200, "{v}");
    // A lossy variant is still refused.
    let lossy = RecordBatch::try_from_iter(vec![
        ("a", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("b", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
    ])
    .unwrap();
    assert_eq!(write(&env, &sid, "0", None, &lossy).0, 400);
    close_and_commit(&env, &sid, &["0"]);
    assert_eq!(dump_a(&env), vec![1, 2]);
}

fn upload(env: &Env, sid: &str, column: i64, batch: Option<&[u8]>) -> (u16, Value) {
    let (mode, body): (&str, &[u8]) = match batch {
        Some(b) => ("&Mode=Batch", b),
        None => ("", b"blob bytes"),
    };
    let r = send_v2(
        env,
        "POST",
        &format!(
            "Action=TableWriteBlob&{TARGET}&SessionId={sid}&StreamId=0&StreamVersion=1&PartitionValues=&ColumnIndex={column}{mode}"
        ),
        None,
        body,
    );
    status_json(&r)
}

fn blob_rows(ids: &[i64], refs: &[&[u8]]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("a", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
        ("c", Arc::new(BinaryArray::from(refs.to_vec())) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn misplaced_blobs_and_empty_split_plans_are_refused() {
    let env = unsigned();
    // No BLOB column at all.
    make_table(&env, &[("a", "bigint"), ("b", "string")]);
    let sid = write_session(&env);
    create_stream(&env, &sid, "0");
    let m = refused(&upload(&env, &sid, 1, None), 400, "InvalidParameter");
    assert!(m.contains("no BLOB column"), "{m}");
    // SplitNumber 0 cannot make a Parallelism plan.
    let r = raw_json(
        &env,
        "POST",
        &format!("Action=TableCreateReadSession&{TARGET}"),
        r#"{"SplitOptions": {"SplitMode": "Parallelism", "SplitNumber": 0}}"#,
    );
    let m = refused(&r, 400, "InvalidParameter");
    assert!(m.contains("SplitNumber"), "{m}");

    // A table with a BLOB column `c` (column id 1) and another table with one.
    env.admin.drop_table("p", "default", "t").unwrap();
    make_table(&env, &[("a", "bigint"), ("c", "blob")]);
    env.admin
        .create_table(&TableDef::new(
            "p",
            "other",
            vec![ColumnDef::new("a", "bigint"), ColumnDef::new("c", "blob")],
        ))
        .unwrap();
    let sid = write_session(&env);
    create_stream(&env, &sid, "0");
    let m = refused(&upload(&env, &sid, 0, None), 400, "InvalidParameter");
    assert!(m.contains("ColumnIndex 0 is not a BLOB column"), "{m}");
    let items = |column: i64| {
        encode_items(&[(
            BlobItemHeader::for_column(column),
            &b"framed"[..],
            ChecksumType::Md5,
        )])
    };
    let m = refused(
        &upload(&env, &sid, 1, Some(&items(0))),
        400,
        "InvalidParameter",
    );
    assert!(m.contains("ColumnIndex 0"), "{m}");
    let (s, v) = upload(&env, &sid, 1, Some(&items(1)));
    assert_eq!(s, 200, "{v}");
    let (s, v) = upload(&env, &sid, 1, None);
    assert_eq!(s, 200, "{v}");
    let ours = base64::engine::general_purpose::STANDARD
        .decode(v["BlobReference"].as_str().unwrap())
        .unwrap();
    // A blob uploaded for the other table.
    let (s, v) = raw_json(
        &env,
        "POST",
        "Action=TableCreateWriteSession&Target=projects.p.tables.other",
        "{}",
    );
    assert_eq!(s, 200, "{v}");
    let other_sid = v["SessionId"].as_str().unwrap().to_string();
    let (s, _) = raw_json(
        &env,
        "POST",
        &format!(
            "Action=TableCreateWriteStream&Target=projects.p.tables.other&SessionId={other_sid}"
        ),
        r#"{"StreamId": "0", "StreamVersion": 1}"#,
    );
    assert_eq!(s, 200);
    let r = send_v2(
        &env,
        "POST",
        &format!(
            "Action=TableWriteBlob&Target=projects.p.tables.other&SessionId={other_sid}&StreamId=0&StreamVersion=1&ColumnIndex=1"
        ),
        None,
        b"foreign",
    );
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let foreign = base64::engine::general_purpose::STANDARD
        .decode(v["BlobReference"].as_str().unwrap())
        .unwrap();

    for (value, why) in [
        (&b"not a reference"[..], "is not a blob reference"),
        (b"blob:b0000000000", "does not exist"),
        (&foreign[..], "another table"),
    ] {
        let r = write(&env, &sid, "0", None, &blob_rows(&[1], &[value]));
        let m = refused(&r, 400, "InvalidData");
        assert!(m.contains(why), "{why}: {m}");
    }
    let (s, v) = write(&env, &sid, "0", None, &blob_rows(&[1, 2], &[&ours, &ours]));
    assert_eq!(s, 200, "{v}");
    close_and_commit(&env, &sid, &["0"]);
    assert_eq!(dump_a(&env), vec![1, 2]);
}

/// Uploads one blob to a table with a BLOB column and reads it back zstd-compressed.
fn blob_read_body(layout: BlobLayout, payload: &[u8]) -> Vec<u8> {
    let env = start_with(|b| b.no_auth().blob_layout(layout));
    make_table(&env, &[("a", "bigint"), ("c", "blob")]);
    let sid = write_session(&env);
    create_stream(&env, &sid, "0");
    let r = send_v2(
        &env,
        "POST",
        &format!(
            "Action=TableWriteBlob&{TARGET}&SessionId={sid}&StreamId=0&StreamVersion=1&ColumnIndex=1"
        ),
        None,
        payload,
    );
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let reference = v["BlobReference"].as_str().unwrap();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("Accept-Encoding".to_string(), "zstd".to_string()),
    ];
    headers.push((TOKEN_HEADER.to_string(), String::new()));
    let r = send(
        env.emulator.addr(),
        "POST",
        &format!("/api/storage/v2?Action=BlobRead&{TARGET}"),
        &headers,
        format!(r#"{{"BlobReferences": ["{reference}"]}}"#).as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("Content-Encoding"), Some("zstd"));
    r.body.to_vec()
}

#[test]
fn blob_reads_put_the_crc_blocks_where_the_layout_says() {
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 97) as u8).collect();
    let unzstd = |b: &[u8]| {
        maxstorage_codec::compress::decompress(maxstorage_protocol::Compression::Zstd, b, 1 << 30)
            .unwrap()
    };
    // Outside (the service): CRC blocks around the compressed stream.
    let body = blob_read_body(BlobLayout::CrcOutside, &payload);
    assert_eq!(unzstd(&crc32c_deframe(&body).unwrap()), payload);
    // Inside (the user-guide SDK): a compressed stream of CRC blocks.
    let body = blob_read_body(BlobLayout::CrcInside, &payload);
    assert!(crc32c_deframe(&body).is_err());
    assert_eq!(crc32c_deframe(&unzstd(&body)).unwrap(), payload);
}

fn read_session(env: &Env) -> (String, String) {
    let r = send_v2(
        env,
        "POST",
        &format!("Action=TableCreateReadSession&{TARGET}"),
        None,
        b"{}",
    );
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    (
        v["SessionId"].as_str().unwrap().to_string(),
        r.header(TOKEN_HEADER).unwrap().to_string(),
    )
}

fn read_split(env: &Env, sid: &str, token: Option<&str>) -> (u16, Value) {
    let r = send_v2(
        env,
        "POST",
        &format!("Action=TableRead&{TARGET}&SessionId={sid}&Index=0"),
        token,
        b"{}",
    );
    let v = if r.status == 200 {
        Value::from(rows(&decode(&r.body)))
    } else {
        serde_json::from_slice(&r.body).unwrap_or(Value::Null)
    };
    (r.status, v)
}

#[test]
fn another_sessions_route_token_is_counted_or_refused() {
    for strict in [false, true] {
        let env = start_with(|b| b.no_auth().strict_route_tokens(strict));
        make_table(&env, &[("a", "bigint"), ("b", "string")]);
        env.admin
            .insert("p", "t", None, &[batch(&[1, 2], &["a", "b"])])
            .unwrap();
        let (first, first_token) = read_session(&env);
        let (second, second_token) = read_session(&env);
        assert_ne!(first_token, second_token);
        // Its own token, or none (C++ sends an empty one before it has a token), passes.
        for token in [Some(first_token.as_str()), None, Some("")] {
            assert_eq!(read_split(&env, &first, token), (200, Value::from(2)));
        }
        // The user-guide SDK's leak: the second session's token on the first session.
        let r = read_split(&env, &first, Some(&second_token));
        let sessions = env.admin.sessions().unwrap();
        let mismatches = |id: &str| {
            sessions
                .iter()
                .find(|s| s.session_id == id)
                .map(|s| (s.kind.as_str(), s.route_token_mismatches))
        };
        if strict {
            let m = refused(&r, 409, "InvalidRouteToken");
            assert!(m.contains(&second) && m.contains(&first), "{m}");
            assert_eq!(mismatches(&first), Some(("read", 0)));
        } else {
            assert_eq!(r, (200, Value::from(2)));
            assert_eq!(mismatches(&first), Some(("read", 1)));
        }
        assert_eq!(mismatches(&second), Some(("read", 0)));
        // Write sessions check their tokens the same way.
        let sid = write_session(&env);
        let r = send_v2(
            &env,
            "POST",
            &format!("Action=TableCreateWriteStream&{TARGET}&SessionId={sid}"),
            Some(&first_token),
            br#"{"StreamId": "0", "StreamVersion": 1}"#,
        );
        assert_eq!(r.status, if strict { 409 } else { 200 });
        let written = env
            .admin
            .sessions()
            .unwrap()
            .into_iter()
            .find(|s| s.session_id == sid)
            .unwrap();
        assert_eq!(
            (written.kind.as_str(), written.route_token_mismatches),
            ("write", u64::from(!strict))
        );
    }
}
