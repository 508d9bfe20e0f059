//! `maxstorage read`: a table, or some of its partitions, columns and rows, to a file.

use std::path::PathBuf;
use std::time::Instant;

use maxstorage_blocking::ReadOptions;
use maxstorage_protocol::read::{ReadSessionOptions, SplitOptions};

use crate::CliError;
use crate::connect::ConnectArgs;
use crate::format::{Format, Sink};
use crate::progress::Progress;
use crate::report::JsonArg;

/// Arguments of `maxstorage read`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReadArgs {
    /// The table: `name` or `schema.name`.
    pub table: String,
    /// The file to write (`-`: standard output, with --format).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The output format (default: from the file's extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A partition to read, e.g. `pt=20240101` (repeat for several; default: all).
    #[arg(long)]
    pub partition: Vec<String>,
    /// Columns to read, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// A filter the service applies, e.g. `id > 100 AND name = 'x'`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Write at most this many rows.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Splits read at once (rows then arrive in no particular order; 1 keeps split order).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    /// The outcome as JSON.
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to connect.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs `maxstorage read`.
pub(crate) fn run(args: &ReadArgs) -> Result<(), CliError> {
    args.json.check_output(&args.output)?;
    let format = Format::of(args.format, &args.output)?;
    let client = args.connect.client()?;
    let table = client.table_named(&args.table)?;
    let started = Instant::now();
    let workers = args.workers as usize;
    let session = table.create_read_session(
        ReadSessionOptions::default()
            .with_required_data_columns(args.columns.clone())
            .with_required_partitions(args.partition.clone())
            .with_filter_predicate(args.filter.clone().unwrap_or_default())
            .with_split_options(if workers > 1 {
                SplitOptions::by_parallelism(workers as i64)
            } else {
                SplitOptions::default()
            }),
    )?;
    let expected = match args.limit {
        Some(limit) => limit.min(session.record_count().max(0) as u64),
        None => session.record_count().max(0) as u64,
    };
    let progress = Progress::rows(expected, "reading");
    // The batches carry the session's schema (data columns, then partition columns): the
    // file has its columns even when no row comes.
    let mut sink = Sink::create(format, &args.output, &session.arrow_schema()?)?;
    let mut rows = 0u64;
    let limit = args.limit.unwrap_or(u64::MAX);
    for item in table.read_all(&session, &ReadOptions::default(), workers) {
        if rows >= limit {
            break;
        }
        let (_, batch) = item?;
        let take = (batch.num_rows() as u64).min(limit - rows) as usize;
        let batch = batch.slice(0, take);
        sink.write(&batch)?;
        rows += take as u64;
        progress.advance(take as u64);
    }
    sink.finish()?;
    progress.done();
    let seconds = started.elapsed().as_secs_f64();
    args.json.report(
        serde_json::json!({
            "table": table.table().to_string(),
            "session": session.id(),
            "rows": rows,
            "seconds": seconds,
            "output": args.output,
        }),
        || {
            format!(
                "read {rows} rows of {} in {seconds:.2} s to {}",
                table.table(),
                args.output.display()
            )
        },
    )
}
