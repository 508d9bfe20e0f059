//! `maxstorage instance read`: a finished query's result (an instance), or a row range of
//! it, to a file.

use std::path::PathBuf;
use std::time::Instant;

use maxstorage_protocol::InstanceId;
use maxstorage_protocol::instance::InstanceReadOptions;
use maxstorage_protocol::read::RowRange;

use crate::CliError;
use crate::connect::ConnectArgs;
use crate::format::{Format, Sink};
use crate::progress::Progress;
use crate::report::JsonArg;

/// What to do with an instance.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum InstanceCommand {
    /// Read a query's result to Parquet, CSV, Arrow or JSON lines.
    Read(InstanceReadArgs),
}

/// Arguments of `maxstorage instance read`.
#[derive(Debug, clap::Args)]
pub(crate) struct InstanceReadArgs {
    /// The instance id of a finished query.
    pub id: String,
    /// The file to write (`-`: standard output, with --format).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The output format (default: from the file's extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Columns to read, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// The first row to read.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Read at most this many rows (default: to the end).
    #[arg(long)]
    pub count: Option<u64>,
    /// The outcome as JSON.
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to connect.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs `maxstorage instance ...`.
pub(crate) fn run(command: &InstanceCommand) -> Result<(), CliError> {
    match command {
        InstanceCommand::Read(args) => read(args),
    }
}

fn read(args: &InstanceReadArgs) -> Result<(), CliError> {
    args.json.check_output(&args.output)?;
    let format = Format::of(args.format, &args.output)?;
    let client = args.connect.client()?;
    let project = client.project().ok_or_else(|| {
        CliError::Usage("no project: pass --project or set MAXSTORAGE_PROJECT".into())
    })?;
    let instance = client.instance(InstanceId::new(project, &args.id));
    let started = Instant::now();
    let session = instance.create_read_session()?;
    let total = session.record_count.max(0) as u64;
    let offset = args.offset.min(total);
    let count = args.count.unwrap_or(u64::MAX).min(total - offset);
    let options = InstanceReadOptions::default().with_columns(args.columns.clone());
    let progress = Progress::rows(count, "reading");
    let mut batches = if offset == 0 && count == total {
        instance.read(&session, &options)?
    } else {
        let range = RowRange {
            offset: offset as i64,
            count: count as i64,
        };
        instance.read_range(&session, range, &options)?
    };
    let mut sink: Option<Sink> = None;
    let mut rows = 0u64;
    for batch in batches.by_ref() {
        let batch = batch?;
        let out = match &mut sink {
            Some(s) => s,
            None => sink.insert(Sink::create(format, &args.output, &batch.schema())?),
        };
        out.write(&batch)?;
        rows += batch.num_rows() as u64;
        progress.advance(batch.num_rows() as u64);
    }
    let sink = match sink {
        Some(s) => s,
        // No rows: the file still has the result's columns, from the body's schema.
        None => {
            let schema = batches
                .schema()
                .unwrap_or_else(|| std::sync::Arc::new(arrow_schema::Schema::empty()));
            Sink::create(format, &args.output, &schema)?
        }
    };
    sink.finish()?;
    progress.done();
    if rows != count {
        return Err(CliError::Failed(format!(
            "instance {}: the service sent {rows} rows where {count} were asked for",
            args.id
        )));
    }
    let seconds = started.elapsed().as_secs_f64();
    args.json.report(
        serde_json::json!({
            "instance": args.id,
            "rows": rows,
            "offset": offset,
            "seconds": seconds,
            "output": args.output,
        }),
        || {
            format!(
                "read {rows} rows of instance {} in {seconds:.2} s to {}",
                args.id,
                args.output.display()
            )
        },
    )
}
