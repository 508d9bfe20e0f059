//! The bodies of the fuzz targets: one function per parser of untrusted bytes. Each takes
//! arbitrary bytes and must return without panicking, overflowing the stack or allocating
//! without bound; what the parser answers (usually an error) does not matter here.
//!
//! | target | parser |
//! |---|---|
//! | [`blob_frames`] | blob item frames (`BlobFrameDecoder`) |
//! | [`crc_blocks`] | CRC32C blocks (`Crc32cDeframer`) |
//! | [`blob_payload`] | blob payloads, raw / framed / detected (`BlobPayloadDecoder`) |
//! | [`blob_read`] | a whole `BlobRead` body, compressed or not (`BlobReadDecoder`) |
//! | [`responses`] | the answer of every call, success and error (`Call::parse`) |
//! | [`arrow_stream`] | Arrow IPC response bodies, fed in chunks (`ArrowStreamDecoder`) |
//! | [`decompress`] | whole-body zstd / LZ4 frame decompression, bounded |
//! | [`decompress_push`] | the push decompressors (zstd, the LZ4 frame decoder) in chunks |
//! | [`storage_request`] | the emulator's request parsing: query, target, partition specs, JSON bodies, type strings |
//! | [`filter`] | the emulator's filter predicates, parsed and evaluated |
//! | [`signature`] | signature verification of a request with arbitrary headers |
//!
//! `fuzz/` (cargo-fuzz, nightly) runs them under libFuzzer; `tests/corpus.rs` replays
//! `fuzz/corpus/<target>/` through them on stable in every `cargo test`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use bytes::Bytes;
use maxstorage_codec::blob::BlobReadDecoder;
use maxstorage_codec::compress::Decompressor;
use maxstorage_codec::read::{ArrowStreamDecoder, BodyEncoding, DecoderOptions};
use maxstorage_protocol::frame::{
    BlobFrameDecoder, BlobPayloadDecoder, Crc32cDeframer, PayloadMode,
};
use maxstorage_protocol::{Call, Compression};

/// A fuzz target: takes any bytes, must not panic.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` call
/// them.
pub const TARGETS: [(&str, Target); 11] = [
    ("blob_frames", blob_frames),
    ("crc_blocks", crc_blocks),
    ("blob_payload", blob_payload),
    ("blob_read", blob_read),
    ("responses", responses),
    ("arrow_stream", arrow_stream),
    ("decompress", decompress),
    ("decompress_push", decompress_push),
    ("storage_request", storage_request),
    ("filter", filter),
    ("signature", signature),
];

/// Most bytes any target lets a decoder produce.
const OUTPUT_LIMIT: usize = 64 * 1024 * 1024;

/// Splits `data` into chunks whose sizes come from `data`'s first byte (1..=256, or the
/// whole input when it is 0), so that every decoder is also fed in odd pieces.
fn chunks(data: &[u8]) -> Vec<Bytes> {
    let Some((&first, rest)) = data.split_first() else {
        return Vec::new();
    };
    let size = if first == 0 {
        rest.len().max(1)
    } else {
        first as usize
    };
    rest.chunks(size).map(Bytes::copy_from_slice).collect()
}

/// Feeds `pieces` one after another to a pull decoder (`decode` takes what it can from
/// the piece, `Ok(None)` when it needs more); false as soon as it fails.
fn feed_all<T, E>(
    pieces: &[Bytes],
    mut decode: impl FnMut(&mut Bytes) -> Result<Option<T>, E>,
) -> bool {
    for piece in pieces {
        let mut piece = piece.clone();
        loop {
            match decode(&mut piece) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return false,
            }
        }
    }
    true
}

/// Blob item frames, fed in chunks.
pub fn blob_frames(data: &[u8]) {
    let mut d = BlobFrameDecoder::new();
    if feed_all(&chunks(data), |p| d.decode(p)) {
        let _ = d.finish();
    }
}

/// CRC32C blocks, fed in chunks.
pub fn crc_blocks(data: &[u8]) {
    let mut d = Crc32cDeframer::new();
    if feed_all(&chunks(data), |p| d.decode(p)) {
        let _ = d.finish();
    }
}

/// Blob payloads in each mode, fed in chunks.
pub fn blob_payload(data: &[u8]) {
    let pieces = chunks(data);
    for mode in [PayloadMode::Raw, PayloadMode::Framed, PayloadMode::Auto] {
        let mut d = BlobPayloadDecoder::new(mode);
        if feed_all(&pieces, |p| d.decode(p)) {
            while let Ok(Some(_)) = d.finish() {}
        }
    }
}

/// A whole `BlobRead` response body, for one and for several references, with each
/// compression.
pub fn blob_read(data: &[u8]) {
    let pieces = chunks(data);
    for compression in [None, Some(Compression::Zstd), Some(Compression::Lz4Frame)] {
        for references in [1, 3] {
            let Ok(mut d) = BlobReadDecoder::new(compression, references) else {
                continue;
            };
            let mut produced = 0usize;
            let mut drain = |d: &mut BlobReadDecoder| loop {
                match d.next_event() {
                    Ok(Some(event)) => {
                        produced += event_len(&event);
                        if produced > OUTPUT_LIMIT {
                            return false;
                        }
                    }
                    Ok(None) => return true,
                    Err(_) => return false,
                }
            };
            let mut going = true;
            for piece in &pieces {
                d.feed(piece);
                going = drain(&mut d);
                if !going {
                    break;
                }
            }
            if going {
                d.finish();
                drain(&mut d);
            }
        }
    }
}

fn event_len(event: &maxstorage_protocol::frame::BlobEvent) -> usize {
    match event {
        maxstorage_protocol::frame::BlobEvent::Data(d) => d.len(),
        _ => 0,
    }
}

/// The answer of every call to arbitrary bytes: the first byte picks the call, the second
/// the status, the rest is the body.
pub fn responses(data: &[u8]) {
    use maxstorage_protocol::blob::{ReadBlobs, WriteBlob, WriteBlobBatch};
    use maxstorage_protocol::discovery::DiscoverTunnel;
    use maxstorage_protocol::instance::{
        CreateInstanceReadSession, GetInstanceReadSession, InstanceRead, InstanceReadOptions,
    };
    use maxstorage_protocol::read::{
        CreateReadSession, GetReadSession, PreviewOptions, PreviewTable, ReadRows, ReadRowsOptions,
        RowSelection,
    };
    use maxstorage_protocol::write::{
        AbortWriteSession, CloseWriteStream, CommitScope, CommitWriteSession, CreateWriteSession,
        CreateWriteStream, GetWriteSchema, GetWriteSession, GetWriteStream, StreamRef, WriteBlock,
        WriteMode, WriteRows,
    };
    use maxstorage_protocol::{InstanceId, TableId};

    let [which, status, body @ ..] = data else {
        return;
    };
    let status = [200u16, 200, 400, 404, 409, 500, 503, 302][(*status % 8) as usize];
    let Ok(mut parts) = http::Response::builder().status(status).body(()) else {
        return;
    };
    if which & 0x80 != 0 {
        parts.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/xml"),
        );
    }
    let (parts, ()) = parts.into_parts();
    let t = TableId::new("p", "t");
    let s = StreamRef::new("0", 1);
    let i = InstanceId::new("p", "i");
    macro_rules! parse {
        ($call:expr) => {{
            let _ = $call.parse(&parts, body);
        }};
    }
    match which % 21 {
        0 => parse!(CreateReadSession {
            table: t,
            options: Default::default()
        }),
        1 => parse!(GetReadSession {
            table: t,
            session_id: "s".into(),
            refresh: false
        }),
        2 => parse!(ReadRows {
            table: t,
            session_id: "s".into(),
            selection: RowSelection::split(0),
            options: ReadRowsOptions::default(),
            compression: Compression::Zstd
        }),
        3 => parse!(PreviewTable {
            table: t,
            options: PreviewOptions::default(),
            compression: Compression::Uncompressed
        }),
        4 => parse!(CreateWriteSession {
            table: t,
            options: Default::default()
        }),
        5 => parse!(GetWriteSession {
            table: t,
            session_id: "s".into(),
            mode: WriteMode::Batch
        }),
        6 => parse!(CommitWriteSession {
            table: t,
            session_id: "s".into(),
            mode: WriteMode::Batch,
            scope: CommitScope::AllClosedStreams
        }),
        7 => parse!(AbortWriteSession {
            table: t,
            session_id: "s".into(),
            mode: WriteMode::Batch
        }),
        8 => parse!(CreateWriteStream {
            table: t,
            session_id: "s".into(),
            mode: WriteMode::Batch,
            stream: s,
            exactly_once: true
        }),
        9 => parse!(GetWriteStream {
            table: t,
            session_id: "s".into(),
            mode: WriteMode::Batch,
            stream: s,
            table_id: None,
            exactly_once: true
        }),
        10 => parse!(WriteRows {
            table: t,
            session_id: "s".into(),
            mode: WriteMode::Batch,
            stream: s,
            record_count: 1,
            row_offset: Some(0),
            access_token: None,
            table_id: None,
            schema_version: None,
            content_length: None
        }),
        11 => parse!(WriteBlock {
            table: t,
            session_id: "s".into(),
            block_number: 0,
            attempt_number: 0,
            quota_token: "q".into(),
            content_length: None
        }),
        12 => parse!(CloseWriteStream {
            table: t,
            session_id: "s".into(),
            mode: WriteMode::Batch,
            stream: s
        }),
        13 => parse!(GetWriteSchema {
            table: t,
            session_id: "s".into(),
            mode: WriteMode::Batch
        }),
        14 => parse!(WriteBlob {
            table: t,
            session_id: "s".into(),
            stream: s,
            partition_values: vec![],
            column_index: 1,
            compression: Compression::Uncompressed,
            content_length: None
        }),
        15 => parse!(WriteBlobBatch {
            table: t,
            session_id: "s".into(),
            stream: s,
            item_count: 2,
            compression: Compression::Uncompressed,
            content_length: None
        }),
        16 => parse!(ReadBlobs {
            project: "p".into(),
            references: vec!["r".into()],
            compression: Compression::Zstd
        }),
        17 => parse!(CreateInstanceReadSession {
            instance: i,
            enable_limit: false
        }),
        18 => parse!(GetInstanceReadSession {
            instance: i,
            session_id: "s".into()
        }),
        19 => parse!(InstanceRead {
            instance: i,
            session_id: "s".into(),
            range: None,
            options: InstanceReadOptions::default(),
            compression: Compression::Lz4Frame
        }),
        _ => parse!(DiscoverTunnel {
            project: "p".into(),
            quota_name: None
        }),
    }
}

/// An Arrow IPC response body, fed in chunks: the second byte picks the declared body
/// encoding (detected, plain, zstd, LZ4 frame).
pub fn arrow_stream(data: &[u8]) {
    let Some((&encoding, rest)) = data.split_first() else {
        return;
    };
    let body_encoding = match encoding % 4 {
        0 => BodyEncoding::Detect,
        1 => BodyEncoding::Known(Compression::Uncompressed),
        2 => BodyEncoding::Known(Compression::Zstd),
        _ => BodyEncoding::Known(Compression::Lz4Frame),
    };
    let options = DecoderOptions::default()
        .with_body_encoding(body_encoding)
        .with_max_message_bytes(OUTPUT_LIMIT)
        .with_max_decompressed_batch_bytes(OUTPUT_LIMIT);
    let pieces = chunks(rest);
    let mut d = ArrowStreamDecoder::new(options);
    for piece in pieces {
        if d.feed_bytes(piece).is_err() {
            return;
        }
        loop {
            match d.next_batch() {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    if d.finish().is_ok() {
        while let Ok(Some(_)) = d.next_batch() {}
    }
}

/// Whole-body decompression with each codec, bounded.
pub fn decompress(data: &[u8]) {
    for codec in [Compression::Zstd, Compression::Lz4Frame] {
        let _ = maxstorage_codec::compress::decompress(codec, data, OUTPUT_LIMIT);
    }
}

/// The push decompressors, fed in chunks, output pulled in bounded pieces.
pub fn decompress_push(data: &[u8]) {
    let pieces = chunks(data);
    for codec in [Compression::Zstd, Compression::Lz4Frame] {
        let Ok(mut d) = Decompressor::new(codec) else {
            continue;
        };
        let mut produced = 0usize;
        'feed: for piece in &pieces {
            let mut input: &[u8] = piece;
            loop {
                let mut out = Vec::new();
                let Ok(p) = d.decompress_to_vec(input, &mut out, 64 * 1024) else {
                    break 'feed;
                };
                input = &input[p.consumed..];
                produced += p.produced;
                if produced > OUTPUT_LIMIT || (p.consumed == 0 && p.produced == 0) {
                    break;
                }
            }
        }
        let _ = d.finish();
    }
}

/// The emulator's request parsing: the query string and target, partition specs, type
/// strings and the JSON bodies of the calls.
pub fn storage_request(data: &[u8]) {
    use maxstorage_protocol::instance::InstanceReadOptions;
    use maxstorage_protocol::read::{PreviewOptions, ReadRowsOptions, ReadSessionOptions};

    let text = String::from_utf8_lossy(data);
    let query = maxstorage_protocol::url::parse_query(&text);
    for version in [
        maxstorage_protocol::ApiVersion::V2,
        maxstorage_protocol::ApiVersion::V3,
    ] {
        let _ = maxstorage_protocol::server::StorageRequest::parse(version, query.clone());
    }
    let _ = maxstorage_protocol::server::parse_partition_spec(&text);
    let _ = maxstorage_protocol::schema::OdpsType::parse(&text);
    let _ = maxstorage_protocol::TableId::parse(&text);
    let _ = maxstorage_protocol::Endpoint::parse(&text);
    let _ = serde_json::from_slice::<ReadSessionOptions>(data);
    let _ = serde_json::from_slice::<ReadRowsOptions>(data);
    let _ = serde_json::from_slice::<PreviewOptions>(data);
    let _ = serde_json::from_slice::<InstanceReadOptions>(data);
    let _ = maxstorage_protocol::frame::BlobItemHeader::from_json(data);
}

/// The emulator's filter predicates, parsed and evaluated on a small batch.
pub fn filter(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])) as ArrayRef,
        ),
    ]);
    let Ok(batch) = batch else { return };
    let partitions = vec![("pt".to_string(), "2024-01-01".to_string())];
    let _ = maxstorage_emulator::fuzzing::filter(&text, &batch, &partitions);
}

/// Signature verification of a request whose headers come from `data`: lines of
/// `name: value`, the first line the path and query.
pub fn signature(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let target = lines.next().unwrap_or("/api/storage/v2");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = maxstorage_protocol::url::parse_query(query);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let request = maxstorage_protocol::server::IncomingRequest {
        method: "POST",
        path,
        query: &query,
        headers: &headers,
    };
    let creds = maxstorage_protocol::Credentials::new("ak", "sk");
    for now in [None, Some(std::time::SystemTime::UNIX_EPOCH)] {
        let _ = maxstorage_protocol::server::verify_request(
            &request,
            &creds,
            now,
            maxstorage_protocol::server::DEFAULT_MAX_CLOCK_SKEW,
        );
    }
    let _ = maxstorage_protocol::server::RequestPath::classify(path);
}
