//! Blobs, instances, v3 write modes, and both variants of every conflicting request
//! (protocol.md A9).

mod common;

use base64::Engine as _;
use common::*;
use maxstorage_emulator::admin::InstanceDef;
use maxstorage_emulator::http_client::send;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::blob::{ReadBlobs, WriteBlob, WriteBlobBatch};
use maxstorage_protocol::frame::{BlobItemHeader, ChecksumType, crc32c_deframe, encode_items};
use maxstorage_protocol::instance::{
    CreateInstanceReadSession, GetInstanceReadSession, InstanceRead, InstanceReadOptions,
};
use maxstorage_protocol::write::{
    CloseWriteStream, CommitScope, CommitWriteSession, CreateWriteSession, CreateWriteStream,
    GetWriteSession, StreamRef, WriteBlock, WriteMode, WriteRows, WriteSessionOptions,
};
use maxstorage_protocol::{Compression, InstanceId, TableId};
use serde_json::Value;

#[test]
fn conflicting_variants_are_all_accepted() {
    let env = start_with(|b| b.no_auth());
    env.admin
        .create_table(
            &TableDef::new(
                "p",
                "t",
                vec![ColumnDef::new("a", "bigint"), ColumnDef::new("b", "string")],
            )
            .with_partitions(vec![
                ColumnDef::new("pt", "string"),
                ColumnDef::new("r", "string"),
            ]),
        )
        .unwrap();
    // 4-part target, '/' separator, overwrite as a string flag, /api/api prefix.
    let r = send(
        env.emulator.addr(),
        "POST",
        "/api/api/storage/v2?Action=TableCreateWriteSession&Target=projects.p.tables.t",
        &[],
        br#"{"PartialPartitionSpec": "pt=1/r=a", "Flags": {"overwrite": "true"}}"#,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        r.header("x-odps-max-storage-route-token")
            .unwrap()
            .split(';')
            .count()
            >= 3
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let sid = v["SessionId"].as_str().unwrap().to_string();
    assert_eq!(v["WarningMessage"], "");
    // ',' separator and overwrite as a bool.
    let (s, _) = raw_json(
        &env,
        "POST",
        "Action=TableCreateWriteSession&Target=projects.p.schemas.default.tables.t",
        r#"{"PartialPartitionSpec": "pt=1,r=a", "Flags": {"overwrite": true}}"#,
    );
    assert_eq!(s, 200);
    // Stream, then GET (no body) and POST TableGetWriteStream.
    let (s, v) = raw_json(
        &env,
        "POST",
        &format!("Action=TableCreateWriteStream&Target=projects.p.tables.t&SessionId={sid}"),
        r#"{"StreamId": "1", "StreamVersion": 0, "ExactlyOnceMode": true}"#,
    );
    assert_eq!(s, 200);
    assert!(v["AccessToken"].is_string() && v["TableSchema"]["DataColumns"].is_array());
    assert_eq!(
        v["TableSchema"]["DataColumns"][0]["columnType"]["Nullable"],
        true
    );
    let (s, v) = raw_json(
        &env,
        "GET",
        &format!(
            "Action=TableGetWriteStream&Target=projects.p.tables.t&SessionId={sid}&StreamId=1&StreamVersion=0&ExactlyOnceMode=true"
        ),
        "",
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["RowOffset"], 0);
    assert_eq!(v["WarningMessage"], "");
    let (s, _) = raw_json(
        &env,
        "POST",
        &format!("Action=TableGetWriteStream&Target=projects.p.tables.t&SessionId={sid}"),
        r#"{"StreamId": "1", "StreamVersion": 0}"#,
    );
    assert_eq!(s, 200);
    // Both IncrementalReadOptions shapes.
    for inc in [
        r#"{"StartVersion": 0, "EndVersion": 0}"#,
        r#"{"Mode": "append", "From": 0}"#,
    ] {
        let (s, v) = raw_json(
            &env,
            "POST",
            "Action=TableCreateReadSession&Target=projects.p.tables.t",
            &format!(
                r#"{{"IncrementalRead": true, "IncrementalReadOptions": {inc}, "RequiredBucketIds": []}}"#
            ),
        );
        assert_eq!(s, 200, "{v}");
        for k in [
            "SessionId",
            "ExpirationTime",
            "SessionStatus",
            "TableSchema",
            "SplitsCount",
            "SplitBucketId",
            "RecordCount",
            "Message",
            "SessionType",
            "SupportedDataFormat",
            "EnableLargeString",
            "LatestVersion",
            "SplitMode",
        ] {
            assert!(v.get(k).is_some(), "missing {k} in {v}");
        }
        for k in [
            "StartVersion",
            "EndVersion",
            "StartTimeStamp",
            "EndTimeStamp",
            "Mode",
        ] {
            assert!(v["IncrementalReadOptions"].get(k).is_some(), "missing {k}");
        }
    }
    // ACCEPT-ENCODING in any case; errors carry Code, Message, RequestId.
    let (s, v) = raw_json(
        &env,
        "POST",
        "Action=TableRead&Target=projects.p.tables.t&SessionId=nope&Index=0",
        "{}",
    );
    assert_eq!(s, 404);
    assert_eq!(v["Code"], "NoSuchSession");
    assert!(v["RequestId"].is_string());
    // Tunnel discovery.
    for path in [
        "/projects/p/tunnel?service",
        "/api/projects/p/tunnel?service&curr_project=p",
    ] {
        let r = send(env.emulator.addr(), "GET", path, &[], b"").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            env.emulator.addr().to_string()
        );
    }
}

#[test]
fn blobs_round_trip() {
    let env = start();
    env.admin
        .create_table(&TableDef::new(
            "p",
            "t",
            vec![ColumnDef::new("a", "bigint"), ColumnDef::new("b", "blob")],
        ))
        .unwrap();
    let table = TableId::new("p", "t");
    let sid = env
        .call(
            &CreateWriteSession {
                table: table.clone(),
                options: Default::default(),
            },
            &[],
        )
        .unwrap()
        .session_id;
    let stream = StreamRef::new("0", 1);
    env.call(
        &CreateWriteStream {
            table: table.clone(),
            session_id: sid.clone(),
            mode: WriteMode::Batch,
            stream: stream.clone(),
            exactly_once: false,
        },
        &[],
    )
    .unwrap();
    let data = b"hello blob world".repeat(1000);
    let zipped = maxstorage_codec::compress::compress(Compression::Zstd, &data).unwrap();
    let single = env
        .call(
            &WriteBlob {
                table: table.clone(),
                session_id: sid.clone(),
                stream: stream.clone(),
                partition_values: vec![],
                column_index: 1,
                compression: Compression::Zstd,
                content_length: Some(zipped.len() as u64),
            },
            &zipped,
        )
        .unwrap();
    assert_eq!(single.size, data.len() as i64);
    assert_eq!(single.md5_value, maxstorage_protocol::frame::md5_hex(&data));
    let items = encode_items(&[
        (
            BlobItemHeader {
                content_type: Some("text/plain".into()),
                ..BlobItemHeader::for_column(1)
            },
            &b"one"[..],
            ChecksumType::Crc32,
        ),
        (
            BlobItemHeader::for_column(1),
            &b"two!"[..],
            ChecksumType::Md5,
        ),
    ]);
    let batch = env
        .call(
            &WriteBlobBatch {
                table: table.clone(),
                session_id: sid.clone(),
                stream: stream.clone(),
                item_count: 2,
                compression: Compression::Uncompressed,
                content_length: None,
            },
            &items,
        )
        .unwrap();
    assert_eq!(batch.blob_references.len(), 2);
    // A corrupted checksum is refused.
    let mut bad = items.to_vec();
    let n = bad.len();
    bad[n - 3] ^= 1;
    let r = env.raw(
        &WriteBlobBatch {
            table: table.clone(),
            session_id: sid.clone(),
            stream: stream.clone(),
            item_count: 2,
            compression: Compression::Uncompressed,
            content_length: None,
        },
        None,
        &bad,
    );
    assert_eq!(r.status, 400);
    // One reference (base64 form): raw bytes in CRC32C blocks, compressed inside.
    let r = env.raw(
        &ReadBlobs {
            project: "p".into(),
            references: vec![single.blob_reference.clone()],
            compression: Compression::Lz4Frame,
        },
        None,
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("x-lz4-frame"));
    let payload = crc32c_deframe(&r.body).unwrap();
    let plain =
        maxstorage_codec::compress::decompress(Compression::Lz4Frame, &payload, 1 << 30).unwrap();
    assert_eq!(plain, data);
    // Several references (decoded text form): frames.
    let decoded: Vec<String> = batch
        .blob_references
        .iter()
        .map(|r| {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(r).unwrap()).unwrap()
        })
        .collect();
    let r = env.raw(
        &ReadBlobs {
            project: "p".into(),
            references: decoded,
            compression: Compression::Uncompressed,
        },
        None,
        &[],
    );
    assert_eq!(r.status, 200);
    let payload = crc32c_deframe(&r.body).unwrap();
    let mut dec = maxstorage_protocol::frame::BlobFrameDecoder::new();
    let mut input = payload.clone();
    let mut got = Vec::new();
    while let Some(ev) = dec.decode(&mut input).unwrap() {
        if let maxstorage_protocol::frame::BlobEvent::Data(d) = ev {
            got.extend_from_slice(&d);
        }
    }
    dec.finish().unwrap();
    assert_eq!(got, b"onetwo!");
    let r = env.raw(
        &ReadBlobs {
            project: "p".into(),
            references: vec!["nope".into()],
            compression: Compression::Uncompressed,
        },
        None,
        &[],
    );
    assert_eq!(r.status, 404);
}

#[test]
fn instances_streaming_and_batch_compatible() {
    let env = start();
    env.admin
        .create_table(&TableDef::new(
            "p",
            "t",
            vec![ColumnDef::new("a", "bigint"), ColumnDef::new("b", "string")],
        ))
        .unwrap();
    env.admin
        .insert(
            "p",
            "t",
            None,
            &[batch(&[1, 2, 3, 4], &["a", "b", "c", "d"])],
        )
        .unwrap();
    let id = env
        .admin
        .create_instance(&InstanceDef {
            project: "p".into(),
            schema: "default".into(),
            table: "t".into(),
            columns: vec!["a".into()],
            partition: None,
            limit: Some(3),
        })
        .unwrap();
    let inst = InstanceId::new("p", &id);
    let s = env
        .call(
            &CreateInstanceReadSession {
                instance: inst.clone(),
                enable_limit: false,
            },
            &[],
        )
        .unwrap();
    assert_eq!((s.record_count, s.status.as_str()), (3, "normal"));
    let g = env
        .call(
            &GetInstanceReadSession {
                instance: inst.clone(),
                session_id: s.session_id.clone(),
            },
            &[],
        )
        .unwrap();
    assert_eq!(g.session_id, s.session_id);
    let (st, _) = {
        let r = send(
            env.emulator.addr(),
            "POST",
            &format!(
                "/api/storage/v2?Action=InstanceGetReadSession&Target=projects.p.instances.{id}&SessionId={}",
                s.session_id
            ),
            &[],
            b"{}",
        );
        let r = r.unwrap();
        (r.status, r.body)
    };
    // Unsigned: refused (the emulator has credentials).
    assert_eq!(st, 401);
    let r = env.raw(
        &InstanceRead {
            instance: inst,
            session_id: s.session_id,
            range: Some(maxstorage_protocol::read::RowRange {
                offset: 1,
                count: 5,
            }),
            options: InstanceReadOptions::default(),
            compression: Compression::Zstd,
        },
        None,
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(col_a(&decode(&r.body)), vec![2, 3]);

    // v3 streaming: the default session, visible after each write.
    let v3 = env.v3();
    let table = TableId::new("p", "t");
    let stream = StreamRef::new("default", 0);
    env.call_with(
        &v3,
        &CreateWriteStream {
            table: table.clone(),
            session_id: "default".into(),
            mode: WriteMode::Streaming,
            stream: stream.clone(),
            exactly_once: false,
        },
        &[],
    )
    .unwrap();
    let body = ipc(&[batch(&[10], &["s"])], Compression::Lz4Frame);
    let w = env
        .call_with(
            &v3,
            &WriteRows {
                table: table.clone(),
                session_id: "default".into(),
                mode: WriteMode::Streaming,
                stream,
                record_count: 1,
                row_offset: None,
                access_token: None,
                table_id: None,
                schema_version: None,
                content_length: None,
            },
            &body,
        )
        .unwrap();
    assert!(w.staging_id.is_some());
    let mut a = col_a(&env.admin.dump("p", "t", None).unwrap());
    a.sort();
    assert_eq!(a, vec![1, 2, 3, 4, 10]);
    let info = env
        .call_with(
            &v3,
            &GetWriteSession {
                table: table.clone(),
                session_id: "default".into(),
                mode: WriteMode::Streaming,
            },
            &[],
        )
        .unwrap();
    assert_eq!(info.min_uncommitted_staging_id, None);

    // BatchCompatible: blocks and attempts, newest attempt wins, commit by messages.
    let sess = env
        .call_with(
            &v3,
            &CreateWriteSession {
                table: table.clone(),
                options: WriteSessionOptions::default()
                    .with_mode(WriteMode::BatchCompatible)
                    .with_overwrite(true),
            },
            &[],
        )
        .unwrap();
    assert!(sess.data_schema.is_some() && sess.max_block_number.is_some());
    let mut messages = Vec::new();
    for (block, attempt, value) in [(0, 0, 100), (0, 1, 101), (1, 0, 200)] {
        let s = env
            .call_with(
                &v3,
                &CreateWriteStream {
                    table: table.clone(),
                    session_id: sess.session_id.clone(),
                    mode: WriteMode::BatchCompatible,
                    stream: StreamRef::new(WriteBlock::stream_id(block, attempt), 1),
                    exactly_once: false,
                },
                &[],
            )
            .unwrap();
        let body = ipc(&[batch(&[value], &["bc"])], Compression::Uncompressed);
        let r = env
            .call_with(
                &v3,
                &WriteBlock {
                    table: table.clone(),
                    session_id: sess.session_id.clone(),
                    block_number: block,
                    attempt_number: attempt,
                    quota_token: s.quota_token.unwrap(),
                    content_length: None,
                },
                &body,
            )
            .unwrap();
        assert_eq!(r.record_count, Some(1));
        messages.push(r.commit_message.unwrap());
    }
    let done = env
        .call_with(
            &v3,
            &CommitWriteSession {
                table: table.clone(),
                session_id: sess.session_id.clone(),
                mode: WriteMode::BatchCompatible,
                scope: CommitScope::Blocks(messages),
            },
            &[],
        )
        .unwrap();
    assert_eq!(done.status.unwrap().as_str(), "COMMITTED");
    let mut a = col_a(&env.admin.dump("p", "t", None).unwrap());
    a.sort();
    assert_eq!(a, vec![101, 200]);
    let _ = CloseWriteStream {
        table,
        session_id: String::new(),
        mode: WriteMode::Batch,
        stream: StreamRef::new("x", 0),
    };
}
