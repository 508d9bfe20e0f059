//! `maxstorage bench`: measures read or write throughput against any Storage API endpoint
//! (the embedded emulator, the reference perf server of `shared/perf/`, a real MaxCompute)
//! and prints one JSON line per measurement, in the `--extra` contract of the reference
//! harness (`shared/perf/README.md`):
//!
//! ```text
//! maxstorage bench read  --endpoint URL --project P --table T --client blocking|async --threads N [--compression none|zstd|lz4]
//! maxstorage bench write --endpoint URL --project P --table T --client blocking|async --threads N [--compression none|zstd|lz4] --input FILE...
//! ```
//!
//! * **Reads**: one read session over the whole table. With 1 thread the splits are read
//!   one after another; with N threads N workers (threads, or tasks on a multi-threaded
//!   Tokio runtime with one worker per core) each take the next unread split until none is
//!   left. Every batch is consumed
//!   (rows counted, Arrow memory summed) and dropped at once: memory stays bounded.
//! * **Writes**: the input files (Arrow IPC streams, any compression the codec reads) are
//!   loaded into memory *before* the timed region. With 1 thread every file goes through
//!   one stream; with N threads each file gets its own stream and N workers write them in
//!   parallel; then the session is committed once.
//!
//! The timed region (`wall_s`) runs from the first Storage API call (creating the session)
//! to the last batch of a read or to the commit of a write.
//!
//! Fields of the line: `direction` (`read`/`write`), `client`, `codec`, `requested_compression`,
//! `threads`, `wall_s`, `rows`, `batches`, `splits` or `streams`, `wire_bytes`,
//! `logical_bytes`, `requests` (data requests seen), `cpu_user_s` and `cpu_sys_s` (CPU time
//! of the whole process during the timed region), `rss_before_kb` (resident set before it)
//! and `peak_rss_kb` (the process's peak resident set).
//!
//! `codec` is what actually travelled, observed on the wire by a metering wrapper around
//! the client's HTTP transport (the clients' public [`HttpTransport`] seam, so neither
//! client is changed for it): `body-zstd` / `body-lz4` when the data bodies were compressed
//! as a whole (`Content-Encoding`, or a zstd / LZ4 frame magic), otherwise the Arrow IPC
//! buffer compression of the first record batch message (`none`, `zstd`, `lz4`). Several
//! values joined by `+` mean the bodies differed; `unknown` means a body could not be
//! classified. `wire_bytes` counts the bytes of the data bodies (`TableRead` responses,
//! `TableWrite` requests) as they crossed the transport, without HTTP framing.
//!
//! `logical_bytes` is the Arrow in-memory size of the data: the bytes of every buffer of
//! every decoded column (validity bitmaps, offsets, values, children). The harness's
//! 239,832,512 for its table is the size of its uncompressed IPC stream files; the in-memory
//! size of the same data is within a fraction of a percent of it (the IPC framing and
//! padding are the difference).
//!
//! Credentials come from `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET`
//! (and `ALIBABA_CLOUD_SECURITY_TOKEN`), as the clients' `credentials_from_env`.
//!
//! [`HttpTransport`]: maxstorage_blocking::HttpTransport

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use arrow_array::{Array, RecordBatch};
use arrow_data::ArrayData;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use maxstorage_codec::read::{
    ArrowStreamDecoder, ArrowStreamReader, DecoderOptions, IPC_MAGIC, LZ4_FRAME_MAGIC, ZSTD_MAGIC,
};
use maxstorage_protocol::profile::{
    ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN, credentials_from_env,
};
use maxstorage_protocol::read::{ReadSessionOptions, RowSelection};
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};
use maxstorage_protocol::{Action, Compression, Credentials, TableId};
use serde_json::json;

use crate::CliError;

/// `maxstorage bench`: a read or a write measurement.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// The direction of a measurement.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BenchCommand {
    /// Read the whole table through one read session (1 thread: the splits one after
    /// another; N threads: N workers, one split at a time each).
    Read(ReadArgs),
    /// Write Arrow IPC stream files (loaded before the timed region) through one write
    /// session and commit it (1 thread: one stream; N threads: one stream per file).
    Write(WriteArgs),
    /// Decode response bodies held in memory (loaded before the timed region) on one
    /// thread, with the clients' decoder: the in-memory reference a read is compared to.
    Decode(DecodeArgs),
}

/// Options of `bench decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    /// Response bodies to decode, one after another: Arrow IPC streams (any buffer
    /// compression) or whole-body zstd / LZ4 frames of one (e.g. the perf harness's
    /// `split<i>.<codec>.arrows` / `.bin`).
    #[arg(long, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
}

/// Options of `bench read`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReadArgs {
    /// Where and how to measure.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `bench write`.
#[derive(Debug, clap::Args)]
pub(crate) struct WriteArgs {
    /// Where and how to measure.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Arrow IPC stream files to write (e.g. the perf harness's `split<i>.none.arrows`).
    #[arg(long, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
}

/// Options shared by both directions.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CommonArgs {
    /// The tunnel (storage) endpoint, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    pub endpoint: String,
    /// The project.
    #[arg(long)]
    pub project: String,
    /// The table: `name`, or `schema.name`.
    #[arg(long)]
    pub table: String,
    /// Which client to measure.
    #[arg(long, value_enum)]
    pub client: ClientKind,
    /// Parallel streams: threads of the blocking client, tasks of the async one (on a
    /// multi-threaded runtime with one worker per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
    /// Compression to ask for (reads) or to send with (writes).
    #[arg(long, value_enum, default_value_t = Codec::None)]
    pub compression: Codec,
}

/// The client under measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ClientKind {
    /// `maxstorage-blocking` (ureq, threads).
    Blocking,
    /// `maxstorage-async` (hyper, Tokio tasks).
    Async,
}

impl ClientKind {
    fn name(self) -> &'static str {
        match self {
            ClientKind::Blocking => "blocking",
            ClientKind::Async => "async",
        }
    }
}

/// A compression choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Codec {
    /// No compression.
    None,
    /// Zstandard.
    Zstd,
    /// LZ4 frames.
    Lz4,
}

impl Codec {
    /// The compression this choice names.
    pub(crate) fn compression(self) -> Compression {
        match self {
            Codec::None => Compression::Uncompressed,
            Codec::Zstd => Compression::Zstd,
            Codec::Lz4 => Compression::Lz4Frame,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Zstd => "zstd",
            Codec::Lz4 => "lz4",
        }
    }
}

/// Runs `maxstorage bench` and prints its JSON line on standard output.
pub(crate) fn run(args: &BenchArgs) -> Result<(), CliError> {
    let line = match &args.command {
        BenchCommand::Read(a) => measure_read(&a.common)?,
        BenchCommand::Write(a) => measure_write(&a.common, &a.input)?,
        BenchCommand::Decode(a) => measure_decode(&a.input)?,
    };
    println!("{line}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Setup shared by the measurements.

fn credentials() -> Result<Credentials, CliError> {
    credentials_from_env(|k| std::env::var(k).ok()).ok_or_else(|| {
        CliError::Usage(format!(
            "no credentials: set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} (and \
             {ENV_SECURITY_TOKEN} for STS credentials); the reference perf server and an \
             emulator started with --no-auth accept any values"
        ))
    })
}

fn table_id(args: &CommonArgs) -> Result<TableId, CliError> {
    Ok(maxstorage_client_core::table::resolve_table(
        &args.table,
        Some(&args.project),
        None,
    )?)
}

/// The async client's runtime: Tokio's default multi-threaded runtime (one worker per
/// core), as an application would run it. `--threads` sets the parallel streams (tasks),
/// not the workers: the client overlaps each stream's network and decode / encode work on
/// the workers, as the blocking client does on threads of its own.
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn blocking_client(
    args: &CommonArgs,
    meter: &Arc<Meter>,
) -> Result<maxstorage_blocking::Client, CliError> {
    let transport = MeteredBlocking {
        inner: maxstorage_blocking::UreqTransport::default(),
        meter: meter.clone(),
    };
    Ok(maxstorage_blocking::Client::builder()
        .endpoint(&args.endpoint)
        .credentials(credentials()?)
        .project(&args.project)
        .transport(Arc::new(transport))
        .build()?)
}

async fn async_client(
    args: &CommonArgs,
    meter: &Arc<Meter>,
) -> Result<maxstorage_async::Client, CliError> {
    let inner = maxstorage_async::HyperTransport::new(&Default::default())
        .map_err(maxstorage_async::Error::from)?;
    let transport = MeteredAsync {
        inner,
        meter: meter.clone(),
    };
    Ok(maxstorage_async::Client::builder()
        .endpoint(&args.endpoint)
        .credentials(credentials()?)
        .project(&args.project)
        .transport(Arc::new(transport))
        .build()
        .await?)
}

/// What the timed region of a measurement produced.
#[derive(Debug, Default)]
struct Outcome {
    tally: Tally,
    /// Splits read or streams written.
    parts: usize,
}

// ---------------------------------------------------------------------------------------
// Reads.

fn measure_read(args: &CommonArgs) -> Result<serde_json::Value, CliError> {
    let meter = Arc::new(Meter::default());
    let table = table_id(args)?;
    let threads = args.threads as usize;
    let options = maxstorage_blocking::ReadOptions::default()
        .with_compression(Some(args.compression.compression()));
    let (outcome, region) = match args.client {
        ClientKind::Blocking => {
            let client = blocking_client(args, &meter)?;
            let table = client.table(table);
            let region = Region::start();
            let outcome = read_blocking(&table, &options, threads)?;
            (outcome, region.stop())
        }
        ClientKind::Async => {
            let rt = runtime()?;
            rt.block_on(async {
                let client = async_client(args, &meter).await?;
                let table = client.table(table);
                let region = Region::start();
                let outcome = read_async(&table, &options, threads).await?;
                Ok::<_, CliError>((outcome, region.stop()))
            })?
        }
    };
    Ok(report(
        "read",
        args,
        &meter.read,
        &outcome,
        &region,
        "splits",
    ))
}

fn read_blocking(
    table: &maxstorage_blocking::TableClient,
    options: &maxstorage_blocking::ReadOptions,
    threads: usize,
) -> Result<Outcome, CliError> {
    let session = table.create_read_session(ReadSessionOptions::default())?;
    let splits = session.splits();
    let read_one = |selection: RowSelection, tally: &mut Tally| -> Result<(), CliError> {
        for batch in table.read_rows(&session, selection, options) {
            tally.add(&batch?);
        }
        Ok(())
    };
    let mut tally = Tally::default();
    if threads == 1 {
        for selection in &splits {
            read_one(*selection, &mut tally)?;
        }
    } else {
        let next = AtomicUsize::new(0);
        let results: Vec<Result<Tally, CliError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads.min(splits.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut tally = Tally::default();
                        while let Some(selection) = splits.get(next.fetch_add(1, Ordering::Relaxed))
                        {
                            read_one(*selection, &mut tally)?;
                        }
                        Ok(tally)
                    })
                })
                .collect();
            handles.into_iter().map(join_worker).collect()
        });
        for r in results {
            tally.merge(&r?);
        }
    }
    Ok(Outcome {
        tally,
        parts: splits.len(),
    })
}

async fn read_async(
    table: &maxstorage_async::TableClient,
    options: &maxstorage_async::ReadOptions,
    threads: usize,
) -> Result<Outcome, CliError> {
    let session = Arc::new(
        table
            .create_read_session(ReadSessionOptions::default())
            .await?,
    );
    let splits = Arc::new(session.splits());
    let mut tally = Tally::default();
    if threads == 1 {
        for selection in splits.iter() {
            read_split_async(table, &session, *selection, options, &mut tally).await?;
        }
    } else {
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..threads.min(splits.len()))
            .map(|_| {
                let (table, session, splits, next, options) = (
                    table.clone(),
                    session.clone(),
                    splits.clone(),
                    next.clone(),
                    options.clone(),
                );
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    while let Some(selection) = splits.get(next.fetch_add(1, Ordering::Relaxed)) {
                        read_split_async(&table, &session, *selection, &options, &mut tally)
                            .await?;
                    }
                    Ok::<_, CliError>(tally)
                })
            })
            .collect();
        for task in tasks {
            let result = task
                .await
                .map_err(|e| CliError::Failed(format!("a read task failed: {e}")))?;
            tally.merge(&result?);
        }
    }
    Ok(Outcome {
        tally,
        parts: splits.len(),
    })
}

async fn read_split_async(
    table: &maxstorage_async::TableClient,
    session: &maxstorage_async::TableReadSession,
    selection: RowSelection,
    options: &maxstorage_async::ReadOptions,
    tally: &mut Tally,
) -> Result<(), CliError> {
    let mut batches = table.read_rows(session, selection, options);
    while let Some(batch) = batches.next().await {
        tally.add(&batch?);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Writes.

fn measure_write(args: &CommonArgs, inputs: &[PathBuf]) -> Result<serde_json::Value, CliError> {
    let meter = Arc::new(Meter::default());
    let table = table_id(args)?;
    let threads = args.threads as usize;
    let (files, input) = load_inputs(inputs)?;
    let options = maxstorage_blocking::StreamOptions::default()
        .with_compression(Some(args.compression.compression()));
    let (written, region) = match args.client {
        ClientKind::Blocking => {
            let client = blocking_client(args, &meter)?;
            let table = client.table(table);
            let region = Region::start();
            let written = write_blocking(&table, &files, &options, threads)?;
            (written, region.stop())
        }
        ClientKind::Async => {
            let rt = runtime()?;
            let files = Arc::new(files);
            rt.block_on(async {
                let client = async_client(args, &meter).await?;
                let table = client.table(table);
                let region = Region::start();
                let written = write_async(&table, files, &options, threads).await?;
                Ok::<_, CliError>((written, region.stop()))
            })?
        }
    };
    let rows = written.tally.rows;
    if rows != input.rows {
        return Err(CliError::Failed(format!(
            "the service acknowledged {rows} rows; the input has {}",
            input.rows
        )));
    }
    // The service acknowledges rows, not batches or bytes: those are the input's.
    let outcome = Outcome {
        tally: input,
        parts: written.parts,
    };
    Ok(report(
        "write",
        args,
        &meter.write,
        &outcome,
        &region,
        "streams",
    ))
}

/// `bench decode`: every input decoded from memory, one after another, on this thread.
fn measure_decode(inputs: &[PathBuf]) -> Result<serde_json::Value, CliError> {
    let mut bodies = Vec::with_capacity(inputs.len());
    for path in inputs {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", path.display())))?;
        bodies.push(Bytes::from(bytes));
    }
    let codecs: BTreeSet<&str> = bodies
        .iter()
        .map(|b| classify(b, true).unwrap_or(WireCodec::Unknown).label())
        .collect();
    let wire_bytes: u64 = bodies.iter().map(|b| b.len() as u64).sum();
    let region = Region::start();
    let mut tally = Tally::default();
    for (path, body) in inputs.iter().zip(bodies) {
        let failed =
            |e: maxstorage_codec::CodecError| CliError::Failed(format!("{}: {e}", path.display()));
        let mut decoder = ArrowStreamDecoder::new(DecoderOptions::default());
        decoder.feed_bytes(body).map_err(failed)?;
        while let Some(batch) = decoder.next_batch().map_err(failed)? {
            tally.add(&batch);
        }
        decoder.finish().map_err(failed)?;
        while let Some(batch) = decoder.next_batch().map_err(failed)? {
            tally.add(&batch);
        }
    }
    let region = region.stop();
    let mut line = json!({
        "direction": "read",
        "client": "decode",
        "codec": codecs.into_iter().collect::<Vec<_>>().join("+"),
        "threads": 1,
        "wall_s": region.wall_s,
        "rows": tally.rows,
        "batches": tally.batches,
        "wire_bytes": wire_bytes,
        "logical_bytes": tally.logical_bytes,
    });
    let obj = line
        .as_object_mut()
        .expect("json! of an object literal is an object");
    add_process_stats(obj, &region);
    Ok(line)
}

/// The record batches of each input file, and their totals.
fn load_inputs(paths: &[PathBuf]) -> Result<(Vec<Vec<RecordBatch>>, Tally), CliError> {
    let mut files = Vec::with_capacity(paths.len());
    let mut tally = Tally::default();
    for path in paths {
        let file = File::open(path)
            .map_err(|e| CliError::Failed(format!("cannot open {}: {e}", path.display())))?;
        let reader = ArrowStreamReader::new(
            BufReader::with_capacity(1 << 20, file),
            DecoderOptions::default(),
        );
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
        for b in &batches {
            tally.add(b);
        }
        files.push(batches);
    }
    Ok((files, tally))
}

/// The streams of a write: with one worker, one stream carrying every file; otherwise one
/// stream per file.
fn stream_plan(files: usize, threads: usize) -> Vec<Vec<usize>> {
    if threads == 1 {
        vec![(0..files).collect()]
    } else {
        (0..files).map(|f| vec![f]).collect()
    }
}

fn write_blocking(
    table: &maxstorage_blocking::TableClient,
    files: &[Vec<RecordBatch>],
    options: &maxstorage_blocking::StreamOptions,
    threads: usize,
) -> Result<Outcome, CliError> {
    let session = table.create_write_session(WriteSessionOptions::default())?;
    let plan = stream_plan(files.len(), threads);
    let write_stream = |k: usize| -> Result<u64, CliError> {
        let mut writer =
            session.stream_writer(StreamRef::new(k.to_string(), 1), options.clone())?;
        for &f in &plan[k] {
            for batch in &files[f] {
                writer.write(batch)?;
            }
        }
        Ok(writer.finish()?.rows.max(0) as u64)
    };
    let mut rows = 0;
    if plan.len() == 1 {
        rows = write_stream(0)?;
    } else {
        let next = AtomicUsize::new(0);
        let results: Vec<Result<u64, CliError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads.min(plan.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut rows = 0;
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            if k >= plan.len() {
                                return Ok(rows);
                            }
                            rows += write_stream(k)?;
                        }
                    })
                })
                .collect();
            handles.into_iter().map(join_worker).collect()
        });
        for r in results {
            rows += r?;
        }
    }
    session.commit()?;
    Ok(Outcome {
        tally: Tally {
            rows,
            ..Tally::default()
        },
        parts: plan.len(),
    })
}

async fn write_async(
    table: &maxstorage_async::TableClient,
    files: Arc<Vec<Vec<RecordBatch>>>,
    options: &maxstorage_async::StreamOptions,
    threads: usize,
) -> Result<Outcome, CliError> {
    let session = table
        .create_write_session(WriteSessionOptions::default())
        .await?;
    let plan = Arc::new(stream_plan(files.len(), threads));
    async fn write_stream(
        session: &maxstorage_async::WriteSessionHandle,
        files: &[Vec<RecordBatch>],
        plan: &[Vec<usize>],
        options: &maxstorage_async::StreamOptions,
        k: usize,
    ) -> Result<u64, CliError> {
        let mut writer = session
            .stream_writer(StreamRef::new(k.to_string(), 1), options.clone())
            .await?;
        for &f in &plan[k] {
            for batch in &files[f] {
                writer.write(batch).await?;
            }
        }
        Ok(writer.finish().await?.rows.max(0) as u64)
    }
    let mut rows = 0;
    if plan.len() == 1 {
        rows = write_stream(&session, &files, &plan, options, 0).await?;
    } else {
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..threads.min(plan.len()))
            .map(|_| {
                let (session, files, plan, next, options) = (
                    session.clone(),
                    files.clone(),
                    plan.clone(),
                    next.clone(),
                    options.clone(),
                );
                tokio::spawn(async move {
                    let mut rows = 0;
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= plan.len() {
                            return Ok::<_, CliError>(rows);
                        }
                        rows += write_stream(&session, &files, &plan, &options, k).await?;
                    }
                })
            })
            .collect();
        for task in tasks {
            rows += task
                .await
                .map_err(|e| CliError::Failed(format!("a write task failed: {e}")))??;
        }
    }
    session.commit().await?;
    Ok(Outcome {
        tally: Tally {
            rows,
            ..Tally::default()
        },
        parts: plan.len(),
    })
}

fn join_worker<T>(
    handle: std::thread::ScopedJoinHandle<'_, Result<T, CliError>>,
) -> Result<T, CliError> {
    handle
        .join()
        .unwrap_or_else(|_| Err(CliError::Failed("a worker thread panicked".into())))
}

// ---------------------------------------------------------------------------------------
// The JSON line.

fn report(
    direction: &str,
    args: &CommonArgs,
    channel: &ChannelMeter,
    outcome: &Outcome,
    region: &Measured,
    parts_name: &str,
) -> serde_json::Value {
    let codecs = channel.codecs.lock().map(|c| c.clone()).unwrap_or_default();
    let codec = if codecs.is_empty() {
        "none".to_string()
    } else {
        codecs.into_iter().collect::<Vec<_>>().join("+")
    };
    let mut line = json!({
        "direction": direction,
        "client": args.client.name(),
        "codec": codec,
        "requested_compression": args.compression.name(),
        "threads": args.threads,
        "wall_s": region.wall_s,
        "rows": outcome.tally.rows,
        "batches": outcome.tally.batches,
        "wire_bytes": channel.bytes.load(Ordering::Relaxed),
        "logical_bytes": outcome.tally.logical_bytes,
        "requests": channel.bodies.load(Ordering::Relaxed),
    });
    let obj = line
        .as_object_mut()
        .expect("json! of an object literal is an object");
    obj.insert(parts_name.into(), outcome.parts.into());
    add_process_stats(obj, region);
    line
}

/// The CPU times and resident sets of a measured region, when known.
fn add_process_stats(obj: &mut serde_json::Map<String, serde_json::Value>, region: &Measured) {
    if let Some((user, sys)) = region.cpu_s {
        obj.insert("cpu_user_s".into(), json!(round4(user)));
        obj.insert("cpu_sys_s".into(), json!(round4(sys)));
    }
    // The harness reads both or neither.
    if let (Some(before), Some(peak)) = (region.rss_before_kb, region.peak_rss_kb) {
        obj.insert("rss_before_kb".into(), before.into());
        obj.insert("peak_rss_kb".into(), peak.into());
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

// ---------------------------------------------------------------------------------------
// Consuming batches.

/// Rows, batches and Arrow bytes seen.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    rows: u64,
    batches: u64,
    logical_bytes: u64,
}

impl Tally {
    fn add(&mut self, batch: &RecordBatch) {
        self.rows += batch.num_rows() as u64;
        self.batches += 1;
        self.logical_bytes += batch
            .columns()
            .iter()
            .map(|c| data_bytes(&c.to_data()))
            .sum::<u64>();
    }

    fn merge(&mut self, other: &Tally) {
        self.rows += other.rows;
        self.batches += other.batches;
        self.logical_bytes += other.logical_bytes;
    }
}

/// The bytes of an array's buffers (values, offsets, validity) and of its children's: its
/// in-memory size. Buffers shared with others (the zero-copy slices of one IPC message
/// body) count by their own length, not by the allocation they live in.
fn data_bytes(data: &ArrayData) -> u64 {
    let own: usize = data.buffers().iter().map(|b| b.len()).sum();
    let nulls = data.nulls().map_or(0, |n| n.buffer().len());
    (own + nulls) as u64 + data.child_data().iter().map(data_bytes).sum::<u64>()
}

// ---------------------------------------------------------------------------------------
// Process statistics from /proc (Linux; absent elsewhere, and the harness then fills them
// in from /usr/bin/time).

/// The measured region.
#[derive(Debug)]
struct Region {
    started: Instant,
    cpu_s: Option<(f64, f64)>,
    rss_before_kb: Option<u64>,
}

/// What a region measured.
#[derive(Debug)]
struct Measured {
    wall_s: f64,
    cpu_s: Option<(f64, f64)>,
    rss_before_kb: Option<u64>,
    peak_rss_kb: Option<u64>,
}

impl Region {
    fn start() -> Region {
        let rss_before_kb = proc_status_kb("VmRSS:");
        let cpu_s = cpu_times();
        Region {
            started: Instant::now(),
            cpu_s,
            rss_before_kb,
        }
    }

    fn stop(self) -> Measured {
        let wall_s = self.started.elapsed().as_secs_f64();
        let cpu_s = match (self.cpu_s, cpu_times()) {
            (Some((u0, s0)), Some((u1, s1))) => Some((u1 - u0, s1 - s0)),
            _ => None,
        };
        Measured {
            wall_s,
            cpu_s,
            rss_before_kb: self.rss_before_kb,
            peak_rss_kb: proc_status_kb("VmHWM:"),
        }
    }
}

/// User and system CPU seconds of this process (all threads), from `/proc/self/stat`.
fn cpu_times() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); `rest` starts at field 3.
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let hz = clock_ticks_per_second() as f64;
    Some((ticks(11)? as f64 / hz, ticks(12)? as f64 / hz))
}

/// `sysconf(_SC_CLK_TCK)` without libc: the `AT_CLKTCK` entry of the auxiliary vector
/// (100 on every common Linux build, the fallback).
fn clock_ticks_per_second() -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(|| {
        const AT_CLKTCK: u64 = 17;
        let word = size_of::<usize>();
        let word_at = |b: &[u8]| -> u64 {
            match word {
                8 => u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])),
                _ => u64::from(u32::from_ne_bytes(b[..4].try_into().unwrap_or([0; 4]))),
            }
        };
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| {
                auxv.chunks_exact(2 * word)
                    .map(|e| (word_at(&e[..word]), word_at(&e[word..])))
                    .find(|(key, _)| *key == AT_CLKTCK)
                    .map(|(_, value)| value)
            })
            .filter(|hz| *hz > 0)
            .unwrap_or(100)
    })
}

/// A `kB` line of `/proc/self/status` (`VmRSS:`, `VmHWM:`).
fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------
// Metering the transports: bytes of data bodies and what compression they carried.

/// The data channel a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    /// `TableRead`: the response body is data.
    Read,
    /// `TableWrite`: the request body is data.
    Write,
}

/// The tap of a request's body when the request is a data write.
fn write_tap<B>(meter: &Arc<Meter>, request: &http::Request<B>) -> Option<Tap> {
    (channel_of(request.uri()) == Some(Channel::Write)).then(|| {
        let encoding = content_encoding(request.headers());
        Tap::new(meter, Channel::Write, encoding.as_deref())
    })
}

/// The tap of a response's body when it successfully answers a data read (`read`).
fn read_tap<B>(meter: &Arc<Meter>, read: bool, response: &http::Response<B>) -> Option<Tap> {
    (read && response.status().is_success()).then(|| {
        let encoding = content_encoding(response.headers());
        Tap::new(meter, Channel::Read, encoding.as_deref())
    })
}

fn channel_of(uri: &http::Uri) -> Option<Channel> {
    let (_, action) = maxstorage_protocol::url::parse_query(uri.query()?)
        .into_iter()
        .find(|(k, _)| k == "Action")?;
    match action.parse::<Action>().ok()? {
        Action::TableRead => Some(Channel::Read),
        Action::TableWrite => Some(Channel::Write),
        _ => None,
    }
}

fn content_encoding(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Byte and codec counters of both data channels.
#[derive(Debug, Default)]
struct Meter {
    read: ChannelMeter,
    write: ChannelMeter,
}

impl Meter {
    fn channel(&self, channel: Channel) -> &ChannelMeter {
        match channel {
            Channel::Read => &self.read,
            Channel::Write => &self.write,
        }
    }
}

/// Counters of one data channel.
#[derive(Debug, Default)]
struct ChannelMeter {
    /// Body bytes.
    bytes: AtomicU64,
    /// Bodies seen.
    bodies: AtomicU64,
    /// The codec labels of the bodies.
    codecs: Mutex<BTreeSet<&'static str>>,
}

/// Watches one data body go by: counts its bytes and classifies its compression; records
/// the classification when dropped.
#[derive(Debug)]
struct Tap {
    meter: Arc<Meter>,
    channel: Channel,
    sniffer: Sniffer,
    /// Whether any byte went by (a body never read is not recorded).
    seen: bool,
    /// Whether the body has been recorded (at its end, or when dropped).
    recorded: bool,
}

impl Tap {
    fn new(meter: &Arc<Meter>, channel: Channel, content_encoding: Option<&str>) -> Tap {
        Tap {
            meter: meter.clone(),
            channel,
            sniffer: Sniffer::new(content_encoding),
            seen: false,
            recorded: false,
        }
    }

    /// Records the body once: at its end, which the reader sees before the measurement
    /// ends (a body dropped later, e.g. by a read-ahead thread, would race the report),
    /// or when dropped before its end.
    fn record(&mut self) {
        if !self.seen || self.recorded {
            return;
        }
        self.recorded = true;
        let label = self.sniffer.finish().label();
        let meter = self.meter.channel(self.channel);
        meter.bodies.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut codecs) = meter.codecs.lock() {
            codecs.insert(label);
        }
    }

    fn chunk(&mut self, data: &[u8]) {
        self.meter
            .channel(self.channel)
            .bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.seen |= !data.is_empty();
        self.sniffer.push(data);
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.record();
    }
}

/// A blocking body (request or response) with a [`Tap`].
struct TapReader<R> {
    inner: R,
    tap: Tap,
}

impl<R: Read> Read for TapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tap.chunk(&buf[..n]);
        if n == 0 && !buf.is_empty() {
            self.tap.record();
        }
        Ok(n)
    }
}

/// An async body (request or response) with a [`Tap`].
struct TapStream {
    inner: maxstorage_async::ByteStream,
    tap: Tap,
}

impl Stream for TapStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = this.inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => this.tap.chunk(chunk),
            Poll::Ready(None) => this.tap.record(),
            _ => {}
        }
        next
    }
}

/// The blocking client's default transport, metered.
#[derive(Debug)]
struct MeteredBlocking {
    inner: maxstorage_blocking::UreqTransport,
    meter: Arc<Meter>,
}

impl maxstorage_blocking::HttpTransport for MeteredBlocking {
    fn send(
        &self,
        request: http::Request<maxstorage_blocking::RequestBody>,
    ) -> Result<
        http::Response<maxstorage_blocking::ResponseBody>,
        maxstorage_blocking::TransportError,
    > {
        use maxstorage_blocking::RequestBody;
        let read = channel_of(request.uri()) == Some(Channel::Read);
        let request = match write_tap(&self.meter, &request) {
            Some(mut tap) => request.map(|body| match body {
                RequestBody::Empty => RequestBody::Empty,
                RequestBody::Bytes(b) => {
                    tap.chunk(&b);
                    RequestBody::Bytes(b)
                }
                RequestBody::Chunks(chunks) => {
                    chunks.iter().for_each(|c| tap.chunk(c));
                    RequestBody::Chunks(chunks)
                }
                RequestBody::Stream { stream, length } => RequestBody::Stream {
                    stream: Box::new(TapReader { inner: stream, tap }),
                    length,
                },
            }),
            None => request,
        };
        let response = self.inner.send(request)?;
        Ok(match read_tap(&self.meter, read, &response) {
            Some(tap) => response.map(|body| {
                Box::new(TapReader { inner: body, tap }) as maxstorage_blocking::ResponseBody
            }),
            None => response,
        })
    }
}

/// The async client's default transport, metered.
#[derive(Debug)]
struct MeteredAsync {
    inner: maxstorage_async::HyperTransport,
    meter: Arc<Meter>,
}

impl maxstorage_async::HttpTransport for MeteredAsync {
    fn send(
        &self,
        request: http::Request<maxstorage_async::RequestBody>,
    ) -> maxstorage_async::BoxFuture<
        '_,
        Result<http::Response<maxstorage_async::ResponseBody>, maxstorage_async::TransportError>,
    > {
        use maxstorage_async::RequestBody;
        let read = channel_of(request.uri()) == Some(Channel::Read);
        let request = match write_tap(&self.meter, &request) {
            Some(mut tap) => request.map(|body| match body {
                RequestBody::Empty => RequestBody::Empty,
                RequestBody::Bytes(b) => {
                    tap.chunk(&b);
                    RequestBody::Bytes(b)
                }
                RequestBody::Chunks(chunks) => {
                    chunks.iter().for_each(|c| tap.chunk(c));
                    RequestBody::Chunks(chunks)
                }
                RequestBody::Stream { stream, length } => RequestBody::Stream {
                    stream: Box::pin(TapStream { inner: stream, tap }),
                    length,
                },
            }),
            None => request,
        };
        Box::pin(async move {
            let response = self.inner.send(request).await?;
            Ok(match read_tap(&self.meter, read, &response) {
                Some(tap) => response.map(|body| {
                    Box::pin(TapStream { inner: body, tap }) as maxstorage_async::ResponseBody
                }),
                None => response,
            })
        })
    }
}

// ---------------------------------------------------------------------------------------
// Classifying a data body by its first bytes.

/// The compression of a data body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireCodec {
    /// An Arrow IPC stream whose record batches carry this buffer compression.
    Ipc(Compression),
    /// The whole body compressed with this codec.
    Body(Compression),
    /// Not recognised (too short, not Arrow IPC, or undecided within the look-ahead).
    Unknown,
}

impl WireCodec {
    fn label(self) -> &'static str {
        match self {
            WireCodec::Ipc(Compression::Uncompressed) => "none",
            WireCodec::Ipc(Compression::Zstd) => "zstd",
            WireCodec::Ipc(Compression::Lz4Frame) => "lz4",
            WireCodec::Body(Compression::Zstd) => "body-zstd",
            WireCodec::Body(Compression::Lz4Frame) => "body-lz4",
            WireCodec::Body(Compression::Uncompressed) | WireCodec::Unknown => "unknown",
        }
    }
}

/// How far into a body the sniffer looks for its first record batch message.
const SNIFF_LIMIT: usize = 4 << 20;

/// Classifies a body from its `Content-Encoding` and first bytes (at most
/// [`SNIFF_LIMIT`] of them are kept).
#[derive(Debug)]
struct Sniffer {
    prefix: Vec<u8>,
    result: Option<WireCodec>,
}

impl Sniffer {
    fn new(content_encoding: Option<&str>) -> Sniffer {
        let declared = content_encoding.and_then(|v| {
            v.split(',')
                .filter_map(Compression::from_http_token)
                .find(|c| *c != Compression::Uncompressed)
        });
        Sniffer {
            prefix: Vec::new(),
            result: declared.map(WireCodec::Body),
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.result.is_some() || chunk.is_empty() {
            return;
        }
        let room = SNIFF_LIMIT.saturating_sub(self.prefix.len());
        self.prefix
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.result = classify(&self.prefix, self.prefix.len() >= SNIFF_LIMIT);
        if self.result.is_some() {
            self.prefix = Vec::new();
        }
    }

    fn finish(&mut self) -> WireCodec {
        *self
            .result
            .get_or_insert_with(|| classify(&self.prefix, true).unwrap_or(WireCodec::Unknown))
    }
}

/// Classifies a body from its first bytes; `None` while more bytes could decide (`complete`:
/// there are no more).
fn classify(prefix: &[u8], complete: bool) -> Option<WireCodec> {
    let undecided = || complete.then_some(WireCodec::Unknown);
    let Some(magic) = prefix.get(..4) else {
        return undecided();
    };
    if magic == ZSTD_MAGIC {
        return Some(WireCodec::Body(Compression::Zstd));
    }
    if magic == LZ4_FRAME_MAGIC {
        return Some(WireCodec::Body(Compression::Lz4Frame));
    }
    // An Arrow IPC stream: walk its messages to the first one that carries buffers.
    let i32_at = |at: usize| -> Option<i64> {
        Some(i64::from(i32::from_le_bytes(
            prefix.get(at..at + 4)?.try_into().ok()?,
        )))
    };
    let mut at = 0usize;
    loop {
        let Some(word) = prefix.get(at..at + 4) else {
            return undecided();
        };
        // Continuation marker then length, or (legacy framing) the length alone.
        let (len, meta_at) = if word == IPC_MAGIC {
            match i32_at(at + 4) {
                Some(len) => (len, at + 8),
                None => return undecided(),
            }
        } else {
            (i32_at(at)?, at + 4)
        };
        if len == 0 {
            // End of stream before any record batch: nothing was compressed.
            return Some(WireCodec::Ipc(Compression::Uncompressed));
        }
        let Some(meta_end) = usize::try_from(len)
            .ok()
            .and_then(|len| meta_at.checked_add(len))
        else {
            return Some(WireCodec::Unknown);
        };
        let Some(metadata) = prefix.get(meta_at..meta_end) else {
            return undecided();
        };
        let Ok(message) = arrow_ipc::root_as_message(metadata) else {
            return Some(WireCodec::Unknown);
        };
        let buffers = match message.header_type() {
            arrow_ipc::MessageHeader::RecordBatch => message.header_as_record_batch(),
            arrow_ipc::MessageHeader::DictionaryBatch => {
                message.header_as_dictionary_batch().and_then(|d| d.data())
            }
            _ => None,
        };
        if let Some(batch) = buffers {
            return Some(WireCodec::Ipc(
                match batch.compression().map(|c| c.codec()) {
                    None => Compression::Uncompressed,
                    Some(arrow_ipc::CompressionType::ZSTD) => Compression::Zstd,
                    Some(arrow_ipc::CompressionType::LZ4_FRAME) => Compression::Lz4Frame,
                    Some(_) => return Some(WireCodec::Unknown),
                },
            ));
        }
        let Some(next) = usize::try_from(message.bodyLength())
            .ok()
            .and_then(|body| meta_end.checked_add(body))
        else {
            return Some(WireCodec::Unknown);
        };
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipc_stream(compression: Option<arrow_ipc::CompressionType>) -> Vec<u8> {
        use arrow_array::Int64Array;
        let batch = RecordBatch::try_from_iter([(
            "a",
            Arc::new(Int64Array::from_iter_values(0..1000)) as arrow_array::ArrayRef,
        )])
        .unwrap();
        let options = arrow_ipc::writer::IpcWriteOptions::default()
            .try_with_compression(compression)
            .unwrap();
        let mut out = Vec::new();
        let mut w = arrow_ipc::writer::StreamWriter::try_new_with_options(
            &mut out,
            &batch.schema(),
            options,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        out
    }

    fn sniff(content_encoding: Option<&str>, body: &[u8], chunk: usize) -> &'static str {
        let mut s = Sniffer::new(content_encoding);
        for c in body.chunks(chunk.max(1)) {
            s.push(c);
        }
        s.finish().label()
    }

    #[test]
    fn classifies_buffer_and_body_compression_in_any_chunking() {
        let plain = ipc_stream(None);
        let zstd = ipc_stream(Some(arrow_ipc::CompressionType::ZSTD));
        let lz4 = ipc_stream(Some(arrow_ipc::CompressionType::LZ4_FRAME));
        for chunk in [1, 3, 7, 64, 1 << 20] {
            assert_eq!(sniff(None, &plain, chunk), "none");
            assert_eq!(sniff(None, &zstd, chunk), "zstd");
            assert_eq!(sniff(None, &lz4, chunk), "lz4");
            assert_eq!(sniff(Some("zstd"), &plain, chunk), "body-zstd");
            assert_eq!(sniff(Some("x-lz4-frame"), &plain, chunk), "body-lz4");
            assert_eq!(sniff(Some("identity"), &zstd, chunk), "zstd");
        }
        assert_eq!(sniff(None, &ZSTD_MAGIC, 4), "body-zstd");
        assert_eq!(sniff(None, &LZ4_FRAME_MAGIC, 4), "body-lz4");
        assert_eq!(sniff(None, b"{\"Code\"", 8), "unknown");
        assert_eq!(sniff(None, &plain[..20], 8), "unknown");
        assert_eq!(sniff(None, &[], 8), "unknown");
    }

    #[test]
    fn data_channels_are_told_by_their_action() {
        let uri = |q: &str| {
            format!("http://h/api/storage/v2?{q}")
                .parse::<http::Uri>()
                .unwrap()
        };
        assert_eq!(
            channel_of(&uri("Action=TableRead&SessionId=s")),
            Some(Channel::Read)
        );
        assert_eq!(
            channel_of(&uri("SessionId=s&Action=TableWrite")),
            Some(Channel::Write)
        );
        assert_eq!(channel_of(&uri("Action=TableCreateReadSession")), None);
        assert_eq!(channel_of(&"http://h/x".parse().unwrap()), None);
    }

    #[test]
    fn in_memory_size_counts_buffers_not_allocations() {
        use arrow_array::{Int32Array, StringArray};
        let batch = RecordBatch::try_from_iter([
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])) as arrow_array::ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec!["ab", "c", ""])) as arrow_array::ArrayRef,
            ),
        ])
        .unwrap();
        let mut t = Tally::default();
        t.add(&batch);
        // i: 12 value bytes + 1 validity byte; s: 16 offset bytes + 3 value bytes.
        assert_eq!((t.rows, t.batches, t.logical_bytes), (3, 1, 32));
    }

    #[test]
    fn process_statistics_are_read_from_proc() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let (user, sys) = cpu_times().unwrap();
        assert!(user >= 0.0 && sys >= 0.0);
        assert!(proc_status_kb("VmHWM:").unwrap() >= proc_status_kb("VmRSS:").unwrap() / 2);
        assert!(clock_ticks_per_second() > 0);
    }
}
