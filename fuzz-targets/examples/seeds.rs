//! Writes the seed corpora of the fuzz targets into `fuzz/corpus/<target>/seed-*`:
//! well-formed inputs for every parser, from the encoders of this workspace.
//!
//! `cargo run -p maxstorage-fuzz-targets --example seeds`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use bytes::BytesMut;
use maxstorage_codec::compress::compress;
use maxstorage_codec::write::encode_stream;
use maxstorage_protocol::Compression;
use maxstorage_protocol::frame::{BlobItemHeader, ChecksumType, Crc32cFramer, encode_items};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let write = |target: &str, seeds: Vec<Vec<u8>>| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seeds.into_iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
        }
    };
    // Chunked targets take a first byte choosing the chunk size.
    let chunked = |size: u8, body: &[u8]| {
        let mut v = vec![size];
        v.extend_from_slice(body);
        v
    };
    let items = encode_items(&[
        (
            BlobItemHeader {
                content_type: Some("text/plain".into()),
                ..BlobItemHeader::for_column(1)
            },
            &b"hello"[..],
            ChecksumType::Crc32,
        ),
        (
            BlobItemHeader::for_column(1),
            &b"world!"[..],
            ChecksumType::Md5,
        ),
    ]);
    let framed = |payload: &[u8]| {
        let mut f = Crc32cFramer::new();
        let mut out = BytesMut::new();
        f.push(payload, &mut out);
        f.finish(&mut out);
        out.to_vec()
    };
    let blob = b"a blob's bytes ".repeat(100);
    write("blob_frames", vec![chunked(0, &items), chunked(7, &items)]);
    write(
        "crc_blocks",
        vec![chunked(0, &framed(&blob)), chunked(13, &framed(&items))],
    );
    write("blob_payload", vec![chunked(0, &items), chunked(5, &blob)]);
    write(
        "blob_read",
        vec![
            chunked(0, &framed(&blob)),
            chunked(0, &framed(&items)),
            chunked(9, &framed(&compress(Compression::Zstd, &blob).unwrap())),
            chunked(0, &compress(Compression::Lz4Frame, &framed(&blob)).unwrap()),
        ],
    );
    let batch = RecordBatch::try_from_iter(vec![
        (
            "a",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
        ),
        (
            "b",
            Arc::new(StringArray::from(vec![Some("x"), Some("yy"), None])) as ArrayRef,
        ),
    ])
    .unwrap();
    let stream = |c| encode_stream(batch.schema(), &[batch.clone(), batch.clone()], c).unwrap();
    let plain = stream(Compression::Uncompressed);
    write(
        "arrow_stream",
        vec![
            chunked(0, &chunked(0, &plain)),
            chunked(1, &chunked(17, &plain)),
            chunked(0, &chunked(0, &stream(Compression::Zstd))),
            chunked(0, &chunked(3, &stream(Compression::Lz4Frame))),
            chunked(
                2,
                &chunked(0, &compress(Compression::Zstd, &plain).unwrap()),
            ),
            chunked(
                3,
                &chunked(0, &compress(Compression::Lz4Frame, &plain).unwrap()),
            ),
        ],
    );
    let zstd = compress(Compression::Zstd, &blob).unwrap();
    let lz4 = compress(Compression::Lz4Frame, &blob).unwrap();
    write("decompress", vec![zstd.clone(), lz4.clone()]);
    write(
        "decompress_push",
        vec![chunked(0, &zstd), chunked(11, &lz4)],
    );
    let response = |call: u8, status: u8, body: &str| {
        let mut v = vec![call, status];
        v.extend_from_slice(body.as_bytes());
        v
    };
    write(
        "responses",
        vec![
            response(
                0,
                0,
                r#"{"SessionId":"r1","SessionStatus":"NORMAL","ExpirationTime":1,"SplitsCount":2,"RecordCount":10,"DataSchema":{"DataColumns":[{"Name":"a","Type":"bigint","Nullable":true}],"PartitionColumns":[]},"SupportedDataFormat":[{"Type":"ARROW","Version":"V5"}]}"#,
            ),
            response(
                4,
                0,
                r#"{"SessionId":"w1","SessionStatus":"NORMAL","ExpirationTime":1,"DataSchema":{"DataColumns":[],"PartitionColumns":[]},"MaxBlockNumber":20000}"#,
            ),
            response(
                8,
                0,
                r#"{"StreamId":"0","StreamVersion":1,"AccessToken":"t","RowOffset":0,"TableSchema":{"DataColumns":[{"columnType":{"Type":0,"Nullable":true,"SubTypes":[]},"label":"","comment":""}]}}"#,
            ),
            response(10, 0, r#"{"ExactlyOnceRowOffset":5,"WarningMessage":""}"#),
            response(
                6,
                2,
                r#"{"Code":"InvalidParameter","Message":"bad","RequestId":"x"}"#,
            ),
            response(
                0x85,
                5,
                "<Error><Code>InternalError</Code><Message>m</Message></Error>",
            ),
            response(16, 0, r#"{"BlobReferences":["YmxvYjph"]}"#),
            response(20, 0, "127.0.0.1:8080"),
        ],
    );
    write(
        "storage_request",
        vec![
            b"Action=TableRead&Target=projects.p.schemas.default.tables.t&SessionId=s&Index=0".to_vec(),
            b"Action=TableCreateWriteSession&Target=projects/p/tables/t&quotaName=q".to_vec(),
            b"pt=2024-01-01,region=cn/a=b".to_vec(),
            b"map<string,array<struct<a:decimal(10,2),b:varchar(5)>>>".to_vec(),
            br#"{"RequiredDataColumns":["a"],"SplitOptions":{"SplitMode":"Size","SplitNumber":1048576},"RequiredBucketIds":["0",1]}"#.to_vec(),
        ],
    );
    write(
        "filter",
        vec![
            b"id > 1 AND (name = 'b' OR 3 <= id)".to_vec(),
            b"pt <> '2024-01-01' or id == 1 and name != 'x'".to_vec(),
            b"((((id = 1))))".to_vec(),
        ],
    );
    let date = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    let _ = SystemTime::now();
    let text = format!(
        "/api/storage/v2?Action=TableRead&Target=projects.p.tables.t\nDate: {}\nContent-Type: application/json\nAuthorization: ODPS ak:c2lnbmF0dXJl\nx-odps-user-agent: fuzz\n",
        maxstorage_protocol::time::format_http_date(date)
    );
    write("signature", vec![text.into_bytes()]);
}
