//! `maxstorage load`: a Parquet, CSV or Arrow file into a table (or one partition of it),
//! through parallel exactly-once streams and one commit — all the rows or none.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use arrow_array::RecordBatch;
use maxstorage_blocking::{StreamOptions, StreamSummary, WriteSessionHandle};
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};

use crate::CliError;
use crate::bench::Codec;
use crate::connect::ConnectArgs;
use crate::format::{self, Format};
use crate::progress::Progress;
use crate::report::JsonArg;
use crate::session::commit_all_or_nothing;

/// Arguments of `maxstorage load`.
#[derive(Debug, clap::Args)]
pub(crate) struct LoadArgs {
    /// The file to load (Parquet, CSV with a header line, or Arrow IPC).
    pub file: PathBuf,
    /// The table: `name` or `schema.name`.
    pub table: String,
    /// The input format (default: from the file's extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The partition to write, e.g. `pt=20240101` (default: none, or the partition
    /// columns in the file).
    #[arg(long)]
    pub partition: Option<String>,
    /// Replace the partition's (or table's) rows instead of adding to them.
    #[arg(long)]
    pub overwrite: bool,
    /// Streams written at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub streams: u32,
    /// Compression of the request bodies.
    #[arg(long, value_enum, default_value_t = Codec::Zstd)]
    pub compression: Codec,
    /// The outcome as JSON.
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to connect.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs `maxstorage load`.
pub(crate) fn run(args: &LoadArgs) -> Result<(), CliError> {
    let format = Format::of(args.format, &args.file)?;
    let client = args.connect.client()?;
    let table = client.table_named(&args.table)?;
    let started = Instant::now();
    let session = table.create_write_session(
        WriteSessionOptions::default()
            .with_partition_spec(args.partition.clone().unwrap_or_default())
            .with_overwrite(args.overwrite),
    )?;
    let rows = commit_all_or_nothing(&session, || write_all(args, format, &session))?;
    let seconds = started.elapsed().as_secs_f64();
    args.json.report(
        serde_json::json!({
            "table": table.table().to_string(),
            "session": session.id(),
            "partition": args.partition,
            "overwrite": args.overwrite,
            "rows": rows,
            "seconds": seconds,
        }),
        || {
            format!(
                "loaded {rows} rows into {} in {seconds:.2} s",
                table.table()
            )
        },
    )
}

/// Writes every batch of the file through the streams; the rows acknowledged, which must
/// be the rows read.
fn write_all(
    args: &LoadArgs,
    format: Format,
    session: &WriteSessionHandle,
) -> Result<u64, CliError> {
    let options = StreamOptions::default()
        .with_exactly_once(true)
        .with_compression(Some(args.compression.compression()));
    let mut writers = (0..args.streams)
        .map(|i| session.stream_writer(StreamRef::new(i.to_string(), 1), options.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    // CSV is parsed with the table's columns (those a body carries).
    let schema = writers[0].schema().clone();
    let reader = format::open(format, &args.file, &schema)?;
    let total = match format {
        Format::Parquet | Format::Arrow => rows_hint(&args.file, format),
        _ => None,
    };
    let progress = Progress::rows(total.unwrap_or(0), "loading");
    let (read, written) = thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for mut writer in writers.drain(..) {
            let (tx, rx) = mpsc::sync_channel::<RecordBatch>(2);
            senders.push(tx);
            let progress = &progress;
            workers.push(scope.spawn(move || -> Result<StreamSummary, CliError> {
                for batch in rx {
                    writer.write(&batch)?;
                    progress.advance(batch.num_rows() as u64);
                }
                Ok(writer.finish()?)
            }));
        }
        let mut read = 0u64;
        let mut failure = None;
        for (i, batch) in reader.enumerate() {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    failure = Some(format::read_error(&args.file, e));
                    break;
                }
            };
            read += batch.num_rows() as u64;
            // A worker that failed dropped its receiver: its error is collected below.
            if senders[i % senders.len()].send(batch).is_err() {
                break;
            }
        }
        drop(senders);
        let mut written = 0u64;
        for worker in workers {
            match worker.join() {
                Ok(Ok(summary)) => written += summary.rows as u64,
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(_) => {
                    failure = failure.or(Some(CliError::Failed("a writing thread panicked".into())))
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok((read, written)),
        }
    })?;
    progress.done();
    if read != written {
        return Err(CliError::Failed(format!(
            "{read} rows were read from {} but {written} acknowledged; nothing was committed",
            args.file.display()
        )));
    }
    Ok(written)
}

/// The rows a Parquet or Arrow file says it holds (for the progress bar only).
fn rows_hint(path: &std::path::Path, format: Format) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    match format {
        Format::Parquet => {
            let reader = parquet::file::reader::SerializedFileReader::new(file).ok()?;
            let rows = parquet::file::reader::FileReader::metadata(&reader)
                .file_metadata()
                .num_rows();
            u64::try_from(rows).ok()
        }
        _ => None,
    }
}
