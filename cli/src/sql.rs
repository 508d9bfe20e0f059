//! `maxstorage sql`: a SQL query over the project's tables with DataFusion, here or on a
//! Ballista cluster; the result printed as a table or written to a file like `read`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures_util::StreamExt;
use maxstorage_datafusion::ballista::remote_context;
use maxstorage_datafusion::{Connector, MaxComputeCatalog};

use crate::CliError;
use crate::connect::ConnectArgs;
use crate::format::{Format, Sink};
use crate::report::JsonArg;

/// Arguments of `maxstorage sql`.
#[derive(Debug, clap::Args)]
pub(crate) struct SqlArgs {
    /// The query. Tables are the project's, by name (`people`, `schema.people`);
    /// `INSERT INTO` and `INSERT OVERWRITE` write them exactly once.
    pub query: String,
    /// Write the result to this file instead of printing it (`-`: standard output, with
    /// --format).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The output format (default: from the file's extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Rows printed at most; the rest are counted (with no --output).
    #[arg(long, default_value_t = 100)]
    pub max_rows: usize,
    /// Partitions the query runs on (default: the cores here).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub partitions: Option<u32>,
    /// Submit the query to a Ballista scheduler (e.g. `df://host:50050`) instead of running
    /// it here. Its scheduler and executors must carry maxstorage-datafusion's codecs and
    /// their own credentials: none are sent.
    #[arg(long, value_name = "URL")]
    pub ballista: Option<String>,
    /// The outcome as JSON.
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to connect.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs `maxstorage sql`.
pub(crate) fn run(args: &SqlArgs) -> Result<(), CliError> {
    if let Some(output) = &args.output {
        args.json.check_output(output)?;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(query(args))
}

async fn query(args: &SqlArgs) -> Result<(), CliError> {
    let (client, _embedded) = args.connect.async_client().await?;
    let project = client
        .project()
        .ok_or_else(|| {
            CliError::Usage(
                "sql needs a project for its tables: pass --project or set MAXSTORAGE_PROJECT"
                    .into(),
            )
        })?
        .to_string();
    let ctx = context(args, &project).await?;
    ctx.register_catalog(
        &project,
        Arc::new(MaxComputeCatalog::new(&client, &project)),
    );
    let started = Instant::now();
    let frame = ctx.sql(&args.query).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let mut batches = frame.execute_stream().await?;
    let mut rows = 0u64;
    match &args.output {
        Some(output) => {
            let format = Format::of(args.format, output)?;
            let mut sink = Sink::create(format, output, &schema)?;
            while let Some(batch) = batches.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                sink.write(&batch)?;
            }
            sink.finish()?;
        }
        None => {
            let mut shown: Vec<RecordBatch> = Vec::new();
            let mut room = args.max_rows;
            while let Some(batch) = batches.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                let take = batch.num_rows().min(room);
                if take > 0 {
                    shown.push(batch.slice(0, take));
                    room -= take;
                }
            }
            if !args.json.json {
                let table =
                    arrow_cast::pretty::pretty_format_batches_with_schema(schema.clone(), &shown)?;
                println!("{table}");
                if rows > args.max_rows as u64 {
                    println!(
                        "({} of {rows} rows shown; --max-rows, or -o FILE for all)",
                        args.max_rows
                    );
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    args.json.report(
        serde_json::json!({
            "query": args.query,
            "rows": rows,
            "seconds": seconds,
            "output": args.output,
            "ballista": args.ballista,
        }),
        || format!("{rows} rows in {seconds:.2} s"),
    )
}

/// The DataFusion context: the project is the default catalog (its `default` schema the
/// default schema), here or submitting to the Ballista scheduler `--ballista` names (plans
/// decoded there connect with that process's own credentials).
async fn context(args: &SqlArgs, project: &str) -> Result<SessionContext, CliError> {
    let config = match &args.ballista {
        Some(_) => {
            use maxstorage_datafusion::ballista::SessionConfigExt as _;
            SessionConfig::new_with_ballista()
        }
        None => SessionConfig::new(),
    };
    let mut config = config
        .with_default_catalog_and_schema(project, "default")
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(true);
    if let Some(partitions) = args.partitions {
        config = config.with_target_partitions(partitions as usize);
    }
    Ok(match &args.ballista {
        Some(url) => remote_context(url, config, Connector::from_env()).await?,
        None => SessionContext::new_with_config(config),
    })
}
