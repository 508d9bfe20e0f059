//! `maxstorage quickstart`: the whole path end to end on an embedded emulator — parallel
//! exactly-once writes with zstd, a parallel multi-split read verified row by row, a
//! preview, and blobs written and read back — with the throughput of each phase.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{
    Array, BinaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use base64::Engine as _;
use maxstorage_blocking::{BlobWriteOptions, Client, ReadOptions, StreamOptions};
use maxstorage_emulator::Emulator;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::read::{PreviewOptions, ReadSessionOptions, SplitOptions};
use maxstorage_protocol::write::{StreamKind, StreamRef, WriteSessionOptions};
use maxstorage_protocol::{Compression, Credentials, TableId};

use crate::CliError;

const PROJECT: &str = "quickstart";
const ACCESS_ID: &str = "quickstart-id";
const ACCESS_KEY: &str = "quickstart-key";
/// Rows per record batch written.
const BATCH_ROWS: u64 = 64 * 1024;

/// Options of the quickstart.
#[derive(Debug, clap::Args)]
pub(crate) struct QuickstartArgs {
    /// Rows to write and read back.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Parallel exactly-once write streams.
    #[arg(long, default_value_t = 4)]
    pub streams: u64,
    /// Parallel read workers.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Bytes per read split (small enough to give a multi-split plan).
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub split_bytes: i64,
    /// Keep the emulator's data in this directory instead of a temporary one.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// The content of row `i` (deterministic, so the read can be checked).
fn row(i: u64) -> (i64, String, f64, i64) {
    (
        i as i64,
        format!("event-{i:08}"),
        (i % 1000) as f64 * 0.5,
        1_700_000_000_000_000_000 + i as i64 * 1_000_000,
    )
}

/// An order-independent checksum of rows.
fn mix(id: i64, name: &str, value: f64, ts: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id
        .to_le_bytes()
        .iter()
        .chain(name.as_bytes())
        .chain(&value.to_bits().to_le_bytes())
        .chain(&ts.to_le_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn events_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
    ]))
}

fn events_batch(from: u64, to: u64) -> Result<RecordBatch, CliError> {
    let rows: Vec<_> = (from..to).map(row).collect();
    Ok(RecordBatch::try_new(
        events_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.1.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(TimestampNanosecondArray::from_iter_values(
                rows.iter().map(|r| r.3),
            )),
        ],
    )?)
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// Runs the quickstart.
pub(crate) fn run(args: &QuickstartArgs) -> Result<(), CliError> {
    if args.rows == 0 || args.streams == 0 {
        return Err(CliError::Usage(
            "--rows and --streams must be positive".into(),
        ));
    }
    let temp = tempfile::tempdir()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let emulator = Emulator::builder()
        .data_dir(&data_dir)
        .credentials(ACCESS_ID, ACCESS_KEY)
        .start()?;
    println!(
        "emulator  listening on {} (data in {})",
        emulator.endpoint(),
        data_dir.display()
    );
    let admin = AdminClient::new(emulator.addr()).with_credentials(ACCESS_ID, ACCESS_KEY);
    admin.create_table(&TableDef::new(
        PROJECT,
        "events",
        vec![
            ColumnDef::new("id", "bigint"),
            ColumnDef::new("name", "string"),
            ColumnDef::new("value", "double"),
            ColumnDef::new("ts", "timestamp"),
        ],
    ))?;
    let client = Client::builder()
        .endpoint(emulator.endpoint())
        .credentials(Credentials::new(ACCESS_ID, ACCESS_KEY))
        .project(PROJECT)
        .compression(Compression::Zstd)
        .build()?;
    let table = client.table(TableId::new(PROJECT, "events"));

    // Write: parallel exactly-once streams, zstd IPC compression.
    let started = Instant::now();
    let session = table.create_write_session(WriteSessionOptions::default())?;
    let per_stream = args.rows.div_ceil(args.streams);
    let written: Vec<Result<(i64, u64), CliError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.streams)
            .map(|s| {
                let session = &session;
                scope.spawn(move || -> Result<(i64, u64), CliError> {
                    let (from, to) = (s * per_stream, ((s + 1) * per_stream).min(args.rows));
                    let options = StreamOptions::default()
                        .with_exactly_once(true)
                        .with_compression(Some(Compression::Zstd));
                    let mut writer =
                        session.stream_writer(StreamRef::new(s.to_string(), 1), options)?;
                    let mut bytes = 0u64;
                    let mut at = from;
                    while at < to {
                        let end = (at + BATCH_ROWS).min(to);
                        let batch = events_batch(at, end)?;
                        bytes += batch.get_array_memory_size() as u64;
                        writer.write(&batch)?;
                        at = end;
                    }
                    Ok((writer.finish()?.rows, bytes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(CliError::Failed("a writer thread panicked".into())))
            })
            .collect()
    });
    let mut rows_written = 0i64;
    let mut bytes_written = 0u64;
    for w in written {
        let (rows, bytes) = w?;
        rows_written += rows;
        bytes_written += bytes;
    }
    session.commit()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "write     {rows_written} rows through {} exactly-once streams (zstd) in {secs:.2} s: {:.0} rows/s, {:.1} MB/s of Arrow data",
        args.streams,
        rows_written as f64 / secs,
        mb_per_s(bytes_written, secs)
    );
    if rows_written as u64 != args.rows {
        return Err(CliError::Failed(format!(
            "wrote {rows_written} rows, expected {}",
            args.rows
        )));
    }

    // Read: a multi-split session read by parallel workers, verified row by row.
    let started = Instant::now();
    let read_session = table.create_read_session(
        ReadSessionOptions::default().with_split_options(SplitOptions::by_size(args.split_bytes)),
    )?;
    let splits = read_session.splits().len();
    let expected: u64 = (0..args.rows)
        .map(|i| {
            let r = row(i);
            mix(r.0, &r.1, r.2, r.3)
        })
        .fold(0u64, u64::wrapping_add);
    let (mut rows_read, mut checksum, mut bytes_read) = (0u64, 0u64, 0u64);
    let options = ReadOptions::default().with_compression(Some(Compression::Zstd));
    for item in table.read_all(&read_session, &options, args.workers) {
        let (_, batch) = item?;
        bytes_read += batch.get_array_memory_size() as u64;
        rows_read += batch.num_rows() as u64;
        checksum = checksum.wrapping_add(batch_checksum(&batch)?);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "read      {rows_read} rows from {splits} splits with {} workers in {secs:.2} s: {:.0} rows/s, {:.1} MB/s of Arrow data",
        args.workers,
        rows_read as f64 / secs,
        mb_per_s(bytes_read, secs)
    );
    if rows_read != args.rows || checksum != expected {
        return Err(CliError::Failed(format!(
            "read {rows_read} rows with checksum {checksum:016x}; expected {} rows with {expected:016x}",
            args.rows
        )));
    }
    println!("verify    row count and content checksum {checksum:016x} match");

    // Preview.
    let started = Instant::now();
    let preview: Vec<RecordBatch> = table
        .preview(PreviewOptions::default().with_limit(Some(5)))?
        .collect::<Result<_, _>>()?;
    println!(
        "preview   5 rows in {:.1} ms:",
        started.elapsed().as_secs_f64() * 1e3
    );
    println!("{}", arrow_cast::pretty::pretty_format_batches(&preview)?);

    blobs(&admin, &client)?;
    emulator.shutdown();
    Ok(())
}

fn batch_checksum(batch: &RecordBatch) -> Result<u64, CliError> {
    let col = |i: usize| batch.column(i).as_any();
    let bad = || CliError::Failed(format!("unexpected read schema {:?}", batch.schema()));
    let ids = col(0).downcast_ref::<Int64Array>().ok_or_else(bad)?;
    let names = col(1).downcast_ref::<StringArray>().ok_or_else(bad)?;
    let values = col(2).downcast_ref::<Float64Array>().ok_or_else(bad)?;
    let ts = col(3)
        .downcast_ref::<TimestampNanosecondArray>()
        .ok_or_else(bad)?;
    Ok((0..batch.num_rows())
        .map(|i| mix(ids.value(i), names.value(i), values.value(i), ts.value(i)))
        .fold(0u64, u64::wrapping_add))
}

/// Writes a few blobs, stores their references in a table, reads the table and downloads
/// the blobs by those references.
fn blobs(admin: &AdminClient, client: &Client) -> Result<(), CliError> {
    admin.create_table(&TableDef::new(
        PROJECT,
        "assets",
        vec![
            ColumnDef::new("id", "bigint"),
            ColumnDef::new("content", "blob"),
        ],
    ))?;
    let table = client.table(TableId::new(PROJECT, "assets"));
    let started = Instant::now();
    let session = table.create_write_session(WriteSessionOptions::default())?;
    let stream = StreamRef::new("0", 1);
    let info = session.create_stream(&stream, StreamKind::Plain)?;
    let column = info
        .table_schema
        .blob_columns()
        .first()
        .and_then(|b| b.column_id)
        .ok_or_else(|| CliError::Failed("the assets table has no BLOB column".into()))?;
    let contents: Vec<Vec<u8>> = (0..4u8)
        .map(|i| {
            (0..(1000 * (i as usize + 1)))
                .map(|j| (j as u8).wrapping_mul(i + 1))
                .collect()
        })
        .collect();
    let mut references = Vec::new();
    for data in &contents {
        let mut w = session.blob_writer(
            &stream,
            BlobWriteOptions::column(column).compression(Compression::Zstd),
        )?;
        std::io::Write::write_all(&mut w, data)?;
        references.push(w.finish()?.blob_reference);
    }
    session.close_stream(&stream)?;
    let reference_bytes: Vec<Vec<u8>> = references
        .iter()
        .map(|r| {
            base64::engine::general_purpose::STANDARD
                .decode(r)
                .map_err(|e| CliError::Failed(format!("blob reference {r:?} is not base64: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("content", DataType::Binary, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..contents.len() as i64)),
            Arc::new(BinaryArray::from_iter_values(reference_bytes.iter())),
        ],
    )?;
    let mut writer = session.stream_writer(StreamRef::new("1", 1), StreamOptions::default())?;
    writer.write(&batch)?;
    writer.finish()?;
    session.commit()?;

    // Read the references back from the table and download the blobs.
    let read = table.create_read_session(ReadSessionOptions::default())?;
    let mut cells = Vec::new();
    for item in table.read_all(&read, &ReadOptions::default(), 1) {
        let (_, batch) = item?;
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| CliError::Failed("id column".into()))?;
        let refs = batch
            .column(1)
            .as_any()
            .downcast_ref::<BinaryArray>()
            .ok_or_else(|| CliError::Failed("content column".into()))?;
        for i in 0..batch.num_rows() {
            cells.push((
                ids.value(i),
                base64::engine::general_purpose::STANDARD.encode(refs.value(i)),
            ));
        }
    }
    cells.sort();
    let refs: Vec<String> = cells.into_iter().map(|(_, r)| r).collect();
    let mut total = 0usize;
    for (i, blob) in table
        .with_compression(Compression::Zstd)
        .read_blobs(refs)?
        .enumerate()
    {
        let blob = blob?;
        if blob.data != contents[i] {
            return Err(CliError::Failed(format!(
                "blob {i} read back differs from what was written"
            )));
        }
        total += blob.data.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "blobs     {} blobs ({total} bytes) uploaded, referenced from a table and read back identical in {:.1} ms",
        contents.len(),
        secs * 1e3
    );
    Ok(())
}
