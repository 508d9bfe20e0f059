//! The scenarios: every code example of the Storage API user guide, the fault scenarios
//! and the exactly-once guarantees. Each takes a client and a running [`TestEnv`], uses
//! its own table, and asserts on the data (independently checked through the emulator's
//! admin dump where writes are involved), not just on success.

use arrow_array::RecordBatch;
use base64::Engine as _;
use maxstorage_client_core::{BlobItem, ReadOptions, StreamOptions};
use maxstorage_emulator::admin::InstanceDef;
use maxstorage_emulator::fault::FaultSpec;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::frame::ChecksumType;
use maxstorage_protocol::read::{
    ArrowOptions, IncrementalReadOptions, PreviewOptions, ReadSessionOptions, RowRange,
    RowSelection, SessionStatus, SplitMode, SplitOptions, TimestampUnit,
};
use maxstorage_protocol::write::{CommitScope, StreamRef, WriteMode, WriteSessionOptions};
use maxstorage_protocol::{Compression, InstanceId, TableId};

use crate::client::{StorageClient, WriteSession, decode_raw};
use crate::data::{self, COLUMNS};
use crate::env::{PROJECT, TestEnv};

/// A scenario: a name and the function that runs it.
pub type Scenario<C> = (&'static str, fn(&C, &TestEnv));

/// The scenarios whose reads are compressed: run them again against an emulator that
/// compresses whole bodies, so both server behaviours (protocol.md A4) are covered.
pub fn compressed_reads<C: StorageClient>() -> Vec<Scenario<C>> {
    vec![
        ("compression", compression::<C>),
        ("wide_table_each_codec", wide_table_each_codec::<C>),
        ("blobs", blobs::<C>),
    ]
}

/// Every scenario, in user-guide order.
pub fn all<C: StorageClient>() -> Vec<Scenario<C>> {
    vec![
        ("read_default_session", read_default_session::<C>),
        (
            "read_columns_and_partitions",
            read_columns_and_partitions::<C>,
        ),
        ("split_by_size", split_by_size::<C>),
        ("split_by_parallelism", split_by_parallelism::<C>),
        ("split_by_row_offset", split_by_row_offset::<C>),
        ("split_by_bucket", split_by_bucket::<C>),
        ("read_raw_stream", read_raw_stream::<C>),
        ("read_range_within_split", read_range_within_split::<C>),
        ("batch_sizing", batch_sizing::<C>),
        ("skip_rows_and_columns", skip_rows_and_columns::<C>),
        ("parallel_read", parallel_read::<C>),
        ("refresh_session", refresh_session::<C>),
        ("incremental_read", incremental_read::<C>),
        ("instance_read", instance_read::<C>),
        ("preview", preview::<C>),
        ("write_and_commit", write_and_commit::<C>),
        (
            "write_partition_and_overwrite",
            write_partition_and_overwrite::<C>,
        ),
        ("parallel_streams", parallel_streams::<C>),
        ("raw_stream_write", raw_stream_write::<C>),
        ("exactly_once_write", exactly_once_write::<C>),
        ("abort", abort::<C>),
        ("session_and_stream_status", session_and_stream_status::<C>),
        ("commit_with_stream_ids", commit_with_stream_ids::<C>),
        ("route_token_override", route_token_override::<C>),
        ("streaming_default_session", streaming_default_session::<C>),
        ("blobs", blobs::<C>),
        ("compression", compression::<C>),
        ("wide_table_each_codec", wide_table_each_codec::<C>),
        ("filters", filters::<C>),
        ("arrow_options", arrow_options::<C>),
        (
            "fault_service_unavailable_burst",
            fault_service_unavailable_burst::<C>,
        ),
        ("fault_read_cut_resumes", fault_read_cut_resumes::<C>),
        (
            "fault_exactly_once_write_cut",
            fault_exactly_once_write_cut::<C>,
        ),
        (
            "fault_non_idempotent_write_cut",
            fault_non_idempotent_write_cut::<C>,
        ),
        ("guards", guards::<C>),
    ]
}

fn table_with_rows(env: &TestEnv, name: &str, rows: i64) -> TableId {
    let t = env.create_table(name, &COLUMNS, &[]);
    if rows > 0 {
        env.insert(&t, None, &data::batches(0, rows, 1000));
    }
    t
}

fn read_session<C: StorageClient>(
    c: &C,
    t: &TableId,
    o: ReadSessionOptions,
) -> maxstorage_client_core::TableReadSession {
    c.create_read_session(t, o)
        .unwrap_or_else(|e| panic!("[{}] create read session: {e}", c.name()))
}

fn read_everything<C: StorageClient>(
    c: &C,
    s: &maxstorage_client_core::TableReadSession,
    o: &ReadOptions,
) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for split in s.splits() {
        out.extend(
            c.read(s, split, o)
                .unwrap_or_else(|e| panic!("[{}] read {split:?}: {e}", c.name())),
        );
    }
    out
}

fn expected(from: i64, to: i64) -> Vec<(i64, String, u64)> {
    data::content(&[data::rows(from, to)])
}

/// User guide: create a read session with default options, read every split.
fn read_default_session<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "read_default", 2500);
    let s = read_session(c, &t, ReadSessionOptions::default());
    assert_eq!(*s.status(), SessionStatus::Normal);
    assert_eq!(s.record_count(), 2500);
    assert!(s.info().expiration_time > 0);
    let names: Vec<&str> = s
        .info()
        .data_schema
        .iter()
        .map(|(_, col)| col.name.as_str())
        .collect();
    assert_eq!(names, ["id", "name", "value"]);
    assert_eq!(
        data::content(&read_everything(c, &s, &ReadOptions::default())),
        expected(0, 2500)
    );
}

/// User guide: required data columns, partition columns and partitions.
fn read_columns_and_partitions<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("read_parts", &COLUMNS, &[("pt", "string")]);
    env.insert(&t, Some("pt=20230101"), &[data::rows(0, 100)]);
    env.insert(&t, Some("pt=20230102"), &[data::rows(100, 300)]);
    let o = ReadSessionOptions::default()
        .with_required_data_columns(vec!["id".into(), "name".into()])
        .with_required_partition_columns(vec!["pt".into()])
        .with_required_partitions(vec!["pt=20230101".into()]);
    let s = read_session(c, &t, o);
    let batches = read_everything(c, &s, &ReadOptions::default());
    assert_eq!(data::ids(&batches), (0..100).collect::<Vec<_>>());
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "name", "pt"]);
    assert!(
        data::column_str(&batches, "pt")
            .iter()
            .all(|p| p == "20230101")
    );
}

/// User guide: split by size (bytes per split) gives a real multi-split plan.
fn split_by_size<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("split_size", &COLUMNS, &[]);
    for i in 0..8 {
        env.insert(&t, None, &[data::rows(i * 5000, (i + 1) * 5000)]);
    }
    let s = read_session(
        c,
        &t,
        ReadSessionOptions::default().with_split_options(SplitOptions::by_size(64 * 1024)),
    );
    assert!(
        s.info().splits_count > 2,
        "a multi-split plan, got {}",
        s.info().splits_count
    );
    assert_eq!(
        data::content(&read_everything(c, &s, &ReadOptions::default())),
        expected(0, 40_000)
    );
}

/// User guide: split by parallelism (10 splits).
fn split_by_parallelism<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "split_par", 1000);
    let s = read_session(
        c,
        &t,
        ReadSessionOptions::default().with_split_options(SplitOptions::by_parallelism(10)),
    );
    assert_eq!(s.info().split_mode, SplitMode::Parallelism);
    assert_eq!(s.info().splits_count, 10);
    assert_eq!(
        data::content(&read_everything(c, &s, &ReadOptions::default())),
        expected(0, 1000)
    );
}

/// User guide: split by row offset (rows per split), read as row ranges.
fn split_by_row_offset<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "split_rows", 1000);
    let s = read_session(
        c,
        &t,
        ReadSessionOptions::default().with_split_options(SplitOptions::by_row_offset(300)),
    );
    assert_eq!(s.info().split_mode, SplitMode::RowOffset);
    let splits = s.splits();
    assert_eq!(
        splits,
        vec![
            RowSelection::range(0, 300),
            RowSelection::range(300, 300),
            RowSelection::range(600, 300),
            RowSelection::range(900, 100)
        ]
    );
    let batches = read_everything(c, &s, &ReadOptions::default());
    assert_eq!(
        data::ids(&batches),
        (0..1000).collect::<Vec<_>>(),
        "ranges in order, each row once"
    );
}

/// User guide: bucket ids (clustered tables) and split by bucket.
fn split_by_bucket<C: StorageClient>(c: &C, env: &TestEnv) {
    let mut def = TableDef::new(
        PROJECT,
        "buckets",
        COLUMNS
            .iter()
            .map(|(n, t)| ColumnDef::new(*n, *t))
            .collect(),
    );
    def.bucket_count = Some(4);
    def.cluster_columns = vec!["id".into()];
    let t = env.create_table_def(&def);
    env.insert(&t, None, &data::batches(0, 2000, 500));
    let s = read_session(
        c,
        &t,
        ReadSessionOptions::default().with_split_options(SplitOptions::by_bucket()),
    );
    assert_eq!(s.info().splits_count, 4);
    let per_bucket: Vec<Vec<RecordBatch>> = s
        .splits()
        .into_iter()
        .map(|sel| c.read(&s, sel, &ReadOptions::default()).unwrap())
        .collect();
    assert_eq!(data::content(&per_bucket.concat()), expected(0, 2000));
    let s1 = read_session(
        c,
        &t,
        ReadSessionOptions::default()
            .with_required_bucket_ids(vec![1])
            .with_split_options(SplitOptions::by_bucket()),
    );
    let only1 = read_everything(c, &s1, &ReadOptions::default());
    assert_eq!(
        data::content(&only1),
        data::content(&per_bucket[1]),
        "RequiredBucketIds selects that bucket"
    );
}

/// User guide: raw byte stream + an Arrow reader over it.
fn read_raw_stream<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "raw_read", 300);
    let s = read_session(c, &t, ReadSessionOptions::default());
    let raw = c
        .read_raw(&s, RowSelection::split(0), &ReadOptions::default())
        .unwrap();
    assert_eq!(&raw[..4], &[0xFF; 4], "an Arrow IPC stream");
    assert_eq!(data::content(&decode_raw(&raw).unwrap()), expected(0, 300));
}

/// User guide: read 500 rows starting at row 1000 of a split.
fn read_range_within_split<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "range_read", 3000);
    let s = read_session(c, &t, ReadSessionOptions::default());
    assert_eq!(s.info().splits_count, 1);
    let batches = c
        .read(
            &s,
            RowSelection::split_range(0, 1000, 500),
            &ReadOptions::default(),
        )
        .unwrap();
    assert_eq!(data::ids(&batches), (1000..1500).collect::<Vec<_>>());
}

/// User guide: `max_batch_rows` and `max_batch_raw_size` bound each batch.
fn batch_sizing<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "batch_size", 5000);
    let s = read_session(c, &t, ReadSessionOptions::default());
    let batches = c
        .read(
            &s,
            RowSelection::split(0),
            &ReadOptions::default().with_max_batch_rows(Some(1024)),
        )
        .unwrap();
    assert!(
        batches.iter().all(|b| b.num_rows() <= 1024),
        "{:?}",
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>()
    );
    assert_eq!(data::row_count(&batches), 5000);
    let small = c
        .read(
            &s,
            RowSelection::split(0),
            &ReadOptions::default().with_max_batch_raw_size(Some(8 * 1024)),
        )
        .unwrap();
    assert!(small.len() > 5, "small raw-size batches: {}", small.len());
    assert_eq!(data::content(&small), expected(0, 5000));
}

/// User guide: skip rows; return only some columns.
fn skip_rows_and_columns<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "skip_cols", 400);
    let s = read_session(c, &t, ReadSessionOptions::default());
    let skipped = c
        .read(
            &s,
            RowSelection::split(0),
            &ReadOptions::default().with_skip_row_num(100),
        )
        .unwrap();
    assert_eq!(data::ids(&skipped), (100..400).collect::<Vec<_>>());
    let cols = c
        .read(
            &s,
            RowSelection::split(0),
            &ReadOptions::default().with_data_columns(vec!["id".into(), "name".into()]),
        )
        .unwrap();
    assert_eq!(cols[0].num_columns(), 2);
    assert_eq!(data::column_str(&cols, "name")[7], "name-7");
}

/// User guide: parallel reading of all splits.
fn parallel_read<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "parallel_read", 20_000);
    let s = read_session(
        c,
        &t,
        ReadSessionOptions::default().with_split_options(SplitOptions::by_parallelism(8)),
    );
    let tagged = c.read_all(&s, &ReadOptions::default(), 4).unwrap();
    let splits: std::collections::BTreeSet<usize> = tagged.iter().map(|(i, _)| *i).collect();
    assert_eq!(splits.len(), 8);
    let batches: Vec<RecordBatch> = tagged.into_iter().map(|(_, b)| b).collect();
    assert_eq!(data::content(&batches), expected(0, 20_000));
}

/// User guide: get a session's status and refresh it.
fn refresh_session<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "refresh", 10);
    let mut s = read_session(c, &t, ReadSessionOptions::default());
    let before = s.info().expiration_time;
    c.get_read_session(&mut s, false).unwrap();
    assert_eq!(*s.status(), SessionStatus::Normal);
    assert_eq!(
        s.info().expiration_time,
        before,
        "a plain get does not extend the session"
    );
    // Expiration times are in milliseconds: let one pass, so a refresh must move it.
    std::thread::sleep(std::time::Duration::from_millis(5));
    c.get_read_session(&mut s, true).unwrap();
    assert!(
        s.info().expiration_time > before,
        "refresh extends the session ({} → {})",
        before,
        s.info().expiration_time
    );
    assert_eq!(
        data::row_count(&read_everything(c, &s, &ReadOptions::default())),
        10
    );
}

/// User guide: incremental read by version.
fn incremental_read<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("incremental", &COLUMNS, &[]);
    env.insert(&t, None, &[data::rows(0, 10)]);
    let v1 = env
        .admin()
        .describe(PROJECT, "default", "incremental")
        .unwrap()
        .version as i64;
    env.insert(&t, None, &[data::rows(10, 25)]);
    let o = ReadSessionOptions::default()
        .with_incremental_read(true)
        .with_incremental_read_options(Some(
            IncrementalReadOptions::default().with_start_version(Some(v1)),
        ));
    let s = read_session(c, &t, o);
    assert!(s.info().latest_version > v1);
    assert_eq!(
        data::content(&read_everything(c, &s, &ReadOptions::default())),
        expected(10, 25),
        "only rows committed after the start version"
    );
}

/// User guide: read a SQL instance's result.
fn instance_read<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "instance_src", 700);
    let id = env
        .admin()
        .create_instance(&InstanceDef {
            project: PROJECT.into(),
            schema: "default".into(),
            table: t.table().into(),
            columns: vec![],
            partition: None,
            limit: Some(500),
        })
        .unwrap();
    let (session, batches) = c
        .read_instance(&InstanceId::new(PROJECT, id.clone()), None, vec![])
        .unwrap();
    assert_eq!(session.record_count, 500);
    assert_eq!(data::row_count(&batches), 500);
    let (_, part) = c
        .read_instance(
            &InstanceId::new(PROJECT, id),
            Some(RowRange {
                offset: 100,
                count: 50,
            }),
            vec!["id".into()],
        )
        .unwrap();
    assert_eq!(part[0].num_columns(), 1);
    assert_eq!(
        data::ids(&part),
        (100..150).collect::<Vec<i64>>(),
        "rows [100, 150) of the result"
    );
}

/// User guide: preview with a limit, a partition, columns.
fn preview<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("preview", &COLUMNS, &[("pt", "string")]);
    env.insert(&t, Some("pt=20230101"), &[data::rows(0, 50)]);
    env.insert(&t, Some("pt=20230102"), &[data::rows(50, 100)]);
    let rows = c
        .preview(&t, PreviewOptions::default().with_limit(Some(10)))
        .unwrap();
    assert_eq!(data::row_count(&rows), 10);
    let part = c
        .preview(
            &t,
            PreviewOptions::default()
                .with_limit(Some(10))
                .with_partition(Some("pt=20230102".into()))
                .with_columns(Some(vec!["id".into(), "name".into()])),
        )
        .unwrap();
    assert_eq!(part[0].num_columns(), 2);
    assert!(data::ids(&part).iter().all(|i| (50..100).contains(i)));
}

/// User guide: write session → stream → write → close → commit.
fn write_and_commit<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("write_basic", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    let summary = s
        .write_stream(
            StreamRef::new("0", 1),
            StreamOptions::default(),
            &data::batches(0, 3000, 700),
        )
        .unwrap();
    assert_eq!(summary.rows, 3000);
    assert!(
        env.dump(&t, None).is_empty(),
        "nothing visible before commit"
    );
    s.commit().unwrap();
    assert_eq!(data::content(&env.dump(&t, None)), expected(0, 3000));
}

/// User guide: write to a partition; overwrite it.
fn write_partition_and_overwrite<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("write_parts", &COLUMNS, &[("pt", "string")]);
    let o = WriteSessionOptions::default().with_partition_spec("pt=20230101".into());
    let s = c.create_write_session(&t, o.clone()).unwrap();
    s.write_stream(
        StreamRef::new("0", 1),
        StreamOptions::default(),
        &[data::rows(0, 100)],
    )
    .unwrap();
    s.commit().unwrap();
    let s = c.create_write_session(&t, o.clone()).unwrap();
    s.write_stream(
        StreamRef::new("0", 1),
        StreamOptions::default(),
        &[data::rows(100, 150)],
    )
    .unwrap();
    s.commit().unwrap();
    assert_eq!(data::row_count(&env.dump(&t, Some("pt=20230101"))), 150);
    let s = c.create_write_session(&t, o.with_overwrite(true)).unwrap();
    s.write_stream(
        StreamRef::new("0", 1),
        StreamOptions::default(),
        &[data::rows(500, 520)],
    )
    .unwrap();
    s.commit().unwrap();
    assert_eq!(
        data::ids(&env.dump(&t, Some("pt=20230101"))),
        (500..520).collect::<Vec<_>>(),
        "overwrite replaced the partition"
    );
}

/// User guide: parallel writing with several streams of one session.
fn parallel_streams<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("parallel_write", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    std::thread::scope(|scope| {
        for i in 0..3i64 {
            let s = &s;
            scope.spawn(move || {
                s.write_stream(
                    StreamRef::new(i.to_string(), 1),
                    StreamOptions::default(),
                    &[data::rows(i * 1000, (i + 1) * 1000)],
                )
                .unwrap()
            });
        }
    });
    s.commit().unwrap();
    assert_eq!(data::content(&env.dump(&t, None)), expected(0, 3000));
}

/// User guide: raw byte stream writes (an IPC stream written by the caller).
fn raw_stream_write<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("raw_write", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    let stream = StreamRef::new("0", 1);
    s.create_stream(&stream, false).unwrap();
    let body = maxstorage_codec::write::encode_stream(
        data::schema(),
        &[data::rows(0, 3)],
        Compression::Uncompressed,
    )
    .unwrap();
    s.write_raw(&stream, 3, &body).unwrap();
    s.close_stream(&stream).unwrap();
    s.commit().unwrap();
    assert_eq!(data::content(&env.dump(&t, None)), expected(0, 3));
}

/// User guide: exactly-once writes and the write offset.
fn exactly_once_write<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("eo_write", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    let stream = StreamRef::new("0", 1);
    let options = StreamOptions::default()
        .with_exactly_once(true)
        .with_max_body_bytes(64 * 1024);
    let summary = s
        .write_stream(stream.clone(), options, &data::batches(0, 20_000, 5000))
        .unwrap();
    assert_eq!(summary.rows, 20_000);
    assert_eq!(
        summary.last_result.and_then(|r| r.exactly_once_row_offset),
        Some(20_000)
    );
    let status = s.stream_status(&stream, true).unwrap();
    assert_eq!(status.row_offset, Some(20_000));
    s.commit().unwrap();
    assert_eq!(data::content(&env.dump(&t, None)), expected(0, 20_000));
}

/// User guide: abort discards everything written.
fn abort<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("abort", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    s.write_stream(
        StreamRef::new("0", 1),
        StreamOptions::default(),
        &[data::rows(0, 10)],
    )
    .unwrap();
    s.abort().unwrap();
    usage_error(s.commit(), "commit");
    assert!(env.dump(&t, None).is_empty());
}

/// User guide: write session and stream status.
fn session_and_stream_status<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("status", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    s.write_stream(
        StreamRef::new("0", 1),
        StreamOptions::default(),
        &[data::rows(0, 9)],
    )
    .unwrap();
    s.write_stream(
        StreamRef::new("1", 2),
        StreamOptions::default(),
        &[data::rows(9, 12)],
    )
    .unwrap();
    let info = s.status().unwrap();
    let mut streams: Vec<(String, i64)> = info
        .streams
        .iter()
        .map(|x| (x.stream.stream_id.clone(), x.stream.version))
        .collect();
    streams.sort();
    assert_eq!(streams, vec![("0".to_string(), 1), ("1".to_string(), 2)]);
    let st = s.stream_status(&StreamRef::new("0", 1), false).unwrap();
    assert_eq!(st.record_count, Some(9));
}

/// User guide: commit with explicit stream ids and versions (delta tables).
fn commit_with_stream_ids<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("commit_ids", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    s.write_stream(
        StreamRef::new("stream-1", 1),
        StreamOptions::default(),
        &[data::rows(0, 5)],
    )
    .unwrap();
    s.write_stream(
        StreamRef::new("stream-2", 1),
        StreamOptions::default(),
        &[data::rows(5, 8)],
    )
    .unwrap();
    s.commit_streams(vec![
        StreamRef::new("stream-1", 1),
        StreamRef::new("stream-2", 1),
    ])
    .unwrap();
    assert_eq!(data::content(&env.dump(&t, None)), expected(0, 8));
    let _ = CommitScope::AllClosedStreams;
}

/// User guide: route tokens are kept per session; an explicit one overrides. The suite's
/// emulator refuses another session's token, so a client that leaks one fails here.
fn route_token_override<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "route", 100);
    // Two read sessions and two write sessions, used interleaved.
    let first = read_session(c, &t, ReadSessionOptions::default());
    let second = read_session(c, &t, ReadSessionOptions::default());
    for s in [&first, &second, &first] {
        assert_eq!(
            data::content(&read_everything(c, s, &ReadOptions::default())),
            expected(0, 100)
        );
    }
    let w1 = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    let w2 = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    for (i, s) in [&w1, &w2].into_iter().enumerate() {
        let i = i as i64;
        s.write_stream(
            StreamRef::new("0", 1),
            StreamOptions::default(),
            &[data::rows(100 + i * 4, 104 + i * 4)],
        )
        .unwrap();
    }
    w2.commit().unwrap();
    w1.commit().unwrap();
    assert_eq!(data::content(&env.dump(&t, None)), expected(0, 108));
    // An explicit token is the one sent: another session's is refused, its own passes.
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    let foreign = s.with_route_token(&format!("{};emulator-0;1", w1.id()));
    let e = foreign
        .write_stream(
            StreamRef::new("0", 1),
            StreamOptions::default(),
            &[data::rows(200, 204)],
        )
        .unwrap_err();
    assert!(
        matches!(&e, maxstorage_client_core::Error::Protocol(p) if p.status() == Some(409)),
        "{e}"
    );
    // The refused stream was never created: it does not block the commit.
    let explicit = s.with_route_token(&format!("{};emulator-0;1", s.id()));
    explicit
        .write_stream(
            StreamRef::new("1", 1),
            StreamOptions::default(),
            &[data::rows(200, 204)],
        )
        .unwrap();
    explicit.commit().unwrap();
    assert_eq!(data::row_count(&env.dump(&t, None)), 112);
}

/// v3 streaming: the implicit `default` session makes rows visible on each write.
fn streaming_default_session<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("streaming", &COLUMNS, &[]);
    let s = c
        .write_session(&t, "default", WriteMode::Streaming, "")
        .unwrap();
    s.write_stream(
        StreamRef::new("s0", 1),
        StreamOptions::default(),
        &[data::rows(0, 6)],
    )
    .unwrap();
    assert_eq!(
        data::content(&env.dump(&t, None)),
        expected(0, 6),
        "visible without a commit"
    );
}

/// User guide: blob stream write, batch write (checksums), iterator and streaming reads,
/// compression.
pub fn blobs<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table(
        "blobs",
        &[("id", "bigint"), ("content", "blob")],
        &[("pt", "string")],
    );
    let s = c
        .create_write_session(
            &t,
            WriteSessionOptions::default().with_partition_spec("pt=test".into()),
        )
        .unwrap();
    let stream = StreamRef::new("0", 1);
    let info = s.create_stream(&stream, false).unwrap();
    let column = info.table_schema.blob_columns()[0]
        .column_id
        .expect("blob column id");
    let big: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let single = s
        .upload_blob(
            &stream,
            vec!["pt=test".into()],
            column,
            None,
            b"your blob data here",
        )
        .unwrap();
    let zstd = s
        .upload_blob(
            &stream,
            vec!["pt=test".into()],
            column,
            Some(Compression::Zstd),
            &big,
        )
        .unwrap();
    assert_eq!(zstd.size, 50_000);
    let items = vec![
        BlobItem {
            content_type: Some("image/png".into()),
            checksum: ChecksumType::Md5,
            partition_values: vec!["pt=test".into()],
            ..BlobItem::new(&b"hello world"[..], column)
        },
        BlobItem {
            checksum: ChecksumType::Crc32,
            ..BlobItem::new(&b"foo bar"[..], column)
        },
        BlobItem {
            checksum: ChecksumType::None,
            ..BlobItem::new(&b""[..], column)
        },
    ];
    let batch = s.upload_blob_batch(&stream, &items, None).unwrap();
    assert_eq!(batch.blob_references.len(), 3);
    s.close_stream(&stream).unwrap();
    s.commit().unwrap();
    let mut refs = vec![single.blob_reference.clone(), zstd.blob_reference.clone()];
    refs.extend(batch.blob_references.iter().cloned());
    let blobs = c.read_blobs(&t, refs.clone(), None).unwrap();
    let datas: Vec<&[u8]> = blobs.iter().map(|b| b.data.as_slice()).collect();
    assert_eq!(
        datas,
        vec![
            &b"your blob data here"[..],
            &big[..],
            b"hello world",
            b"foo bar",
            b""
        ]
    );
    assert_eq!(blobs[2].content_type.as_deref(), Some("image/png"));
    for compression in [Compression::Zstd, Compression::Lz4Frame] {
        let again = c.read_blobs(&t, refs.clone(), Some(compression)).unwrap();
        assert_eq!(again, blobs, "{compression}");
    }
    let streamed = c.read_blobs_streaming(&t, refs.clone(), 4096).unwrap();
    assert_eq!(
        streamed.iter().map(|b| b.data.clone()).collect::<Vec<_>>(),
        blobs.iter().map(|b| b.data.clone()).collect::<Vec<_>>()
    );
    let one = c
        .read_blobs(&t, vec![zstd.blob_reference.clone()], None)
        .unwrap();
    assert_eq!(one[0].data, big);
    // References decode to bytes that go into BLOB cells.
    assert!(
        base64::engine::general_purpose::STANDARD
            .decode(&single.blob_reference)
            .is_ok()
    );
}

/// User guide: compressed writes and reads (zstd, LZ4 frame).
fn compression<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("compression", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    s.write_stream(
        StreamRef::new("0", 1),
        StreamOptions::default().with_compression(Some(Compression::Zstd)),
        &[data::rows(0, 500)],
    )
    .unwrap();
    s.write_stream(
        StreamRef::new("1", 1),
        StreamOptions::default().with_compression(Some(Compression::Lz4Frame)),
        &[data::rows(500, 1000)],
    )
    .unwrap();
    s.commit().unwrap();
    let session = read_session(c, &t, ReadSessionOptions::default());
    for compression in [
        Compression::Uncompressed,
        Compression::Zstd,
        Compression::Lz4Frame,
    ] {
        let got = read_everything(
            c,
            &session,
            &ReadOptions::default().with_compression(Some(compression)),
        );
        assert_eq!(data::content(&got), expected(0, 1000), "{compression}");
    }
}

/// The perf harness's table shape (nulls, long strings, nanosecond timestamps, dates)
/// written with each codec and read back with each codec, every value compared.
fn wide_table_each_codec<C: StorageClient>(c: &C, env: &TestEnv) {
    const CODECS: [Compression; 3] = [
        Compression::Uncompressed,
        Compression::Zstd,
        Compression::Lz4Frame,
    ];
    let t = env.create_table("wide", &data::WIDE_COLUMNS, &[]);
    let written: Vec<Vec<RecordBatch>> = (0..3)
        .map(|i| {
            (0..3)
                .map(|b| {
                    let from = i * 12_288 + b * 4096;
                    data::wide_rows(from, from + 4096)
                })
                .collect()
        })
        .collect();
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    for (i, (codec, batches)) in CODECS.iter().zip(&written).enumerate() {
        s.write_stream(
            StreamRef::new(i.to_string(), 1),
            StreamOptions::default().with_compression(Some(*codec)),
            batches,
        )
        .unwrap_or_else(|e| panic!("[{}] write {codec}: {e}", c.name()));
    }
    s.commit().unwrap();
    let mut want: Vec<RecordBatch> = written.into_iter().flatten().collect();
    want.sort_by_key(|b| data::ids(std::slice::from_ref(b))[0]);
    let session = read_session(c, &t, ReadSessionOptions::default());
    for codec in CODECS {
        let mut got = read_everything(
            c,
            &session,
            &ReadOptions::default().with_compression(Some(codec)),
        );
        got.sort_by_key(|b| data::ids(std::slice::from_ref(b))[0]);
        data::assert_same_rows(&got, &want, &format!("[{}] read {codec}", c.name()));
    }
}

/// User guide: filter predicates.
fn filters<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "filters", 1000);
    let s = read_session(
        c,
        &t,
        ReadSessionOptions::default()
            .with_filter_predicate("id > 100 AND name = 'name-150'".into()),
    );
    assert_eq!(
        data::ids(&read_everything(c, &s, &ReadOptions::default())),
        vec![150]
    );
    let s = read_session(
        c,
        &t,
        ReadSessionOptions::default()
            .with_filter_predicate("id < 3 OR id >= 998".into())
            .with_filter_predicate_fallback(true),
    );
    assert_eq!(
        data::ids(&read_everything(c, &s, &ReadOptions::default())),
        vec![0, 1, 2, 998, 999]
    );
    let err = c
        .create_read_session(
            &t,
            ReadSessionOptions::default().with_filter_predicate("id IN (1, 2)".into()),
        )
        .unwrap_err();
    assert_eq!(err.service_code(), Some("UnsupportedOperation"), "{err}");
}

/// User guide: Arrow options (timestamp precision).
fn arrow_options<C: StorageClient>(c: &C, env: &TestEnv) {
    use arrow_array::{Array, TimestampMicrosecondArray, TimestampNanosecondArray};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    let t = env.create_table("timestamps", &[("id", "bigint"), ("ts", "timestamp")], &[]);
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            std::sync::Arc::new(arrow_array::Int64Array::from(vec![1, 2])),
            std::sync::Arc::new(TimestampNanosecondArray::from(vec![
                1_700_000_000_123_456_789,
                5_000,
            ])),
        ],
    )
    .unwrap();
    env.insert(&t, None, &[batch]);
    let s = read_session(
        c,
        &t,
        ReadSessionOptions::default()
            .with_arrow_options(ArrowOptions::default().with_timestamp_unit(TimestampUnit::Micro)),
    );
    let got = read_everything(c, &s, &ReadOptions::default());
    let ts = got[0]
        .column(1)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("microsecond timestamps");
    assert_eq!(
        (ts.value(0), ts.value(1), ts.len()),
        (1_700_000_000_123_456, 5, 2)
    );
}

/// Fault: a burst of 503s with Retry-After is retried; the call succeeds.
fn fault_service_unavailable_burst<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "fault_503", 20);
    env.inject(&FaultSpec {
        count: Some(2),
        retry_after: Some(0),
        ..FaultSpec::status("TableCreateReadSession", 503)
    });
    let s = read_session(c, &t, ReadSessionOptions::default());
    env.inject(&FaultSpec {
        count: Some(2),
        retry_after: Some(0),
        ..FaultSpec::status("TableRead", 503)
    });
    assert_eq!(
        data::content(&read_everything(c, &s, &ReadOptions::default())),
        expected(0, 20)
    );
    env.assert_faults_fired();
    env.clear_faults();
}

/// Fault: the connection is cut after N bytes of a TableRead: the read resumes and the
/// data is identical.
fn fault_read_cut_resumes<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = table_with_rows(env, "fault_cut", 20_000);
    let s = read_session(c, &t, ReadSessionOptions::default());
    env.inject(&FaultSpec {
        action: "TableRead".into(),
        count: Some(2),
        cut_after_bytes: Some(30_000),
        ..FaultSpec::default()
    });
    let got = c
        .read(
            &s,
            RowSelection::split(0),
            &ReadOptions::default().with_max_batch_rows(Some(1000)),
        )
        .unwrap();
    assert_eq!(
        data::ids(&got),
        (0..20_000).collect::<Vec<_>>(),
        "every row once, in order"
    );
    env.assert_faults_fired();
    env.clear_faults();
}

/// Fault: an exactly-once TableWrite is applied but its answer is lost (and another is cut
/// before it is applied): every row is committed exactly once.
fn fault_exactly_once_write_cut<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("fault_eo", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    env.inject(&FaultSpec {
        action: "TableWrite".into(),
        every_nth: Some(3),
        count: Some(2),
        drop_after_apply: true,
        ..FaultSpec::default()
    });
    env.inject(&FaultSpec {
        count: Some(1),
        ..FaultSpec::status("TableWrite", 503)
    });
    let options = StreamOptions::default()
        .with_exactly_once(true)
        .with_max_body_bytes(16 * 1024);
    let summary = s
        .write_stream(
            StreamRef::new("0", 1),
            options,
            &data::batches(0, 10_000, 1000),
        )
        .unwrap();
    env.assert_faults_fired();
    env.clear_faults();
    assert_eq!(summary.rows, 10_000);
    s.commit().unwrap();
    let dump = env.dump(&t, None);
    assert_eq!(
        data::content(&dump),
        expected(0, 10_000),
        "no row lost or duplicated"
    );
}

/// Fault: a normal (not exactly-once) write whose outcome is unknown fails with a typed
/// error instead of being re-sent or silently succeeding.
fn fault_non_idempotent_write_cut<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("fault_plain", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    env.inject(&FaultSpec {
        action: "TableWrite".into(),
        count: Some(1),
        drop_after_apply: true,
        ..FaultSpec::default()
    });
    let err = s
        .write_stream(
            StreamRef::new("0", 1),
            StreamOptions::default(),
            &[data::rows(0, 10)],
        )
        .unwrap_err();
    env.assert_faults_fired();
    env.clear_faults();
    assert!(err.to_string().contains("unknown"), "{err}");
    s.abort().unwrap();
    assert!(env.dump(&t, None).is_empty());
}

/// Asserts that `result` is the client refusing, before anything is sent, the operation
/// (or argument) `what`.
fn usage_error<T: std::fmt::Debug>(result: maxstorage_client_core::Result<T>, what: &str) {
    use maxstorage_protocol::UsageError;
    match &result {
        Err(maxstorage_client_core::Error::Protocol(maxstorage_protocol::Error::Usage(
            UsageError::InvalidState { operation, .. },
        ))) if *operation == what => {}
        Err(maxstorage_client_core::Error::Protocol(maxstorage_protocol::Error::Usage(
            UsageError::InvalidArgument { name, .. },
        ))) if *name == what => {}
        other => panic!("expected the client to refuse {what:?}, got {other:?}"),
    }
}

/// Guards: commit with an open stream, writes after commit, stale stream versions,
/// unknown sessions.
fn guards<C: StorageClient>(c: &C, env: &TestEnv) {
    let t = env.create_table("guards", &COLUMNS, &[]);
    let s = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    s.create_stream(&StreamRef::new("0", 1), false).unwrap();
    // Commit with an open stream is refused.
    usage_error(s.commit(), "commit");
    s.close_stream(&StreamRef::new("0", 1)).unwrap();
    s.commit().unwrap();
    // No write after commit.
    usage_error(
        s.write_stream(
            StreamRef::new("1", 1),
            StreamOptions::default(),
            &[data::rows(0, 1)],
        ),
        "create stream",
    );
    let other = c
        .create_write_session(&t, WriteSessionOptions::default())
        .unwrap();
    other.create_stream(&StreamRef::new("0", 2), false).unwrap();
    usage_error(
        other.create_stream(&StreamRef::new("0", 1), false),
        "stream_version",
    );
    let mut bogus = read_session(
        c,
        &table_with_rows(env, "guards_read", 1),
        ReadSessionOptions::default(),
    );
    let bogus_table = TableId::new(PROJECT, "no_such_table");
    let err = c
        .create_read_session(&bogus_table, ReadSessionOptions::default())
        .unwrap_err();
    assert_eq!(err.service_code(), Some("NoSuchTable"));
    c.get_read_session(&mut bogus, false).unwrap();
}
