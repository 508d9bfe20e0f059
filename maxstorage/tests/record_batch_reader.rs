//! Split reads as Arrow `RecordBatchReader`s, through the facade crate, against the
//! emulator: the schema is known before the first batch is taken, batches match it, an
//! empty split still has its schema, and client errors arrive as Arrow errors.

use std::sync::Arc;

use maxstorage::arrow_array::{ArrayRef, Int64Array, RecordBatch, RecordBatchReader, StringArray};
use maxstorage::arrow_schema::{ArrowError, DataType};
use maxstorage::prelude::*;

mod common;

#[test]
fn a_split_reads_as_a_record_batch_reader() {
    let local = common::Local::start("reader");
    for name in ["t", "empty"] {
        local.table(name, &[("id", "bigint"), ("name", "string")]);
    }
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..1000)) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                (0..1000).map(|i| format!("n{i}")),
            )) as ArrayRef,
        ),
    ])
    .unwrap();
    local.admin.insert("p", "t", None, &[batch]).unwrap();
    let client = local.client();

    let table = client.table(TableId::new("p", "t"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    let options = ReadOptions::default().with_max_batch_rows(Some(100));
    let reader = table
        .read_split(&session, 0, &options)
        .into_reader()
        .unwrap();
    let schema = reader.schema();
    assert_eq!(
        schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type().clone()))
            .collect::<Vec<_>>(),
        [("id", DataType::Int64), ("name", DataType::Utf8)]
    );
    // Any RecordBatchReader consumer: every batch has the declared schema.
    let boxed: Box<dyn RecordBatchReader> = Box::new(reader);
    let batches: Vec<RecordBatch> = boxed.collect::<Result<_, ArrowError>>().unwrap();
    assert_eq!(batches.len(), 10);
    assert!(batches.iter().all(|b| b.schema() == schema));
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        1000
    );

    // An empty table's split: no batch, but the schema.
    let empty = client.table(TableId::new("p", "empty"));
    let session = empty
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    assert!(
        !session.splits().is_empty(),
        "an empty table still has a split to read"
    );
    for split in session.splits() {
        let mut reader = empty
            .read_rows(&session, split, &ReadOptions::default())
            .into_reader()
            .unwrap();
        assert_eq!(reader.schema().fields().len(), 2);
        assert!(reader.next().is_none());
    }

    // The async client: a stream whose schema is known before its first item.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use futures_util::TryStreamExt;
        let client = local.async_client().await;
        let table = client.table(TableId::new("p", "t"));
        let session = table
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        let stream = table
            .read_split(&session, 0, &options)
            .into_schema_stream()
            .await
            .unwrap();
        let schema = stream.schema();
        assert_eq!(schema.fields().len(), 2);
        let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            1000
        );
        assert!(batches.iter().all(|b| b.schema() == schema));
    });

    // A client error surfaces as an Arrow error that carries it.
    let err: ArrowError =
        maxstorage::Error::Config(maxstorage::ConfigError::Other("boom".into())).into();
    assert!(
        matches!(&err, ArrowError::ExternalError(e) if e.to_string().contains("boom")),
        "{err}"
    );
}

/// The schema comes from the read session: a reader (and its async twin) has it, partition
/// columns included, before anything is requested — here, with the service already gone.
#[test]
fn the_schema_is_the_sessions_before_the_first_byte() {
    use maxstorage_emulator::store::{ColumnDef, TableDef};
    let mut local = common::Local::start("reader-session-schema");
    let mut def = TableDef::new(
        common::PROJECT,
        "parted",
        vec![
            ColumnDef::new("id", "bigint"),
            ColumnDef::new("ts", "timestamp"),
        ],
    );
    def.partition_columns = vec![ColumnDef::new("pt", "string")];
    local.admin.create_table(&def).unwrap();
    let batch = RecordBatch::try_from_iter(vec![(
        "id",
        Arc::new(Int64Array::from_iter_values(0..10)) as ArrayRef,
    )])
    .unwrap();
    let ts = arrow_array::TimestampNanosecondArray::from_iter_values(0..10);
    let batch = RecordBatch::try_from_iter(vec![
        ("id", batch.column(0).clone()),
        ("ts", Arc::new(ts) as ArrayRef),
    ])
    .unwrap();
    local
        .admin
        .insert(common::PROJECT, "parted", Some("pt=a"), &[batch])
        .unwrap();
    let client = local.client();
    let table = client.table(TableId::new(common::PROJECT, "parted"));
    let session = table
        .create_read_session(ReadSessionOptions::default())
        .unwrap();
    let expected = session.arrow_schema().unwrap();
    let names: Vec<&str> = expected
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["id", "ts", "pt"]);

    // While the service is up: every batch carries exactly the session's schema.
    let reader = table
        .read_split(&session, 0, &ReadOptions::default())
        .into_reader()
        .unwrap();
    assert_eq!(reader.schema(), expected);
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, ArrowError>>().unwrap();
    assert!(batches.iter().all(|b| b.schema() == expected));
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 10);

    // The whole table, read by two workers, as one RecordBatchReader (and its async twin).
    let reader = table
        .read_all(&session, &ReadOptions::default(), 2)
        .into_reader()
        .unwrap();
    assert_eq!(reader.schema(), expected);
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, ArrowError>>().unwrap();
    assert!(batches.iter().all(|b| b.schema() == expected));
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 10);

    // With the service gone: the reader still opens with its schema; the first batch
    // then fails (no retries to wait for).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let async_client = rt.block_on(local.async_client());
    let async_session = rt
        .block_on(
            async_client
                .table(TableId::new(common::PROJECT, "parted"))
                .create_read_session(ReadSessionOptions::default()),
        )
        .unwrap();
    local.stop();
    let once = ReadOptions::default().with_max_resumes(0);
    let mut reader = table.read_split(&session, 0, &once).into_reader().unwrap();
    assert_eq!(reader.schema(), expected);
    assert!(matches!(reader.next(), Some(Err(_))));
    rt.block_on(async {
        let stream = async_client
            .table(TableId::new(common::PROJECT, "parted"))
            .read_split(&async_session, 0, &once)
            .into_schema_stream()
            .await
            .unwrap();
        assert_eq!(stream.schema(), expected);
    });
}

#[test]
fn an_async_table_read_is_a_stream_with_the_sessions_schema() {
    use futures_util::TryStreamExt;
    let local = common::Local::start("reader-async-table");
    local.table("t", &[("id", "bigint"), ("name", "string")]);
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..500)) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                (0..500).map(|i| format!("n{i}")),
            )) as ArrayRef,
        ),
    ])
    .unwrap();
    local.admin.insert("p", "t", None, &[batch]).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let table = local.async_client().await.table(TableId::new("p", "t"));
        let session = table
            .create_read_session(ReadSessionOptions::default())
            .await
            .unwrap();
        let stream = table
            .read_all(&session, &ReadOptions::default(), 2)
            .into_schema_stream()
            .await
            .unwrap();
        let expected = session.arrow_schema().unwrap();
        assert_eq!(stream.schema(), expected);
        let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
        assert!(batches.iter().all(|b| b.schema() == expected));
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            500
        );
    });
}
