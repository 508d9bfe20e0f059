//! `maxstorage blob put` / `blob get`: files into a table's BLOB column (one row per file,
//! one commit) and back out to files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BinaryArray, RecordBatch, StringArray};
use base64::Engine as _;
use maxstorage_blocking::{BlobWriteOptions, StreamOptions, TableClient, WriteSessionHandle};
use maxstorage_protocol::read::ReadSessionOptions;
use maxstorage_protocol::schema::OdpsType;
use maxstorage_protocol::write::{StreamKind, StreamRef, WriteSessionOptions};

use crate::CliError;
use crate::bench::Codec;
use crate::connect::ConnectArgs;
use crate::format::create_output;
use crate::report::JsonArg;
use crate::session::commit_all_or_nothing;

/// References asked for in one `BlobRead` request.
const REFERENCES_PER_REQUEST: usize = 64;

/// What to do with blobs.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BlobCommand {
    /// Upload files into a BLOB column: one new row per file (its name in --name-column
    /// if given, other columns null), all committed at once.
    Put(PutArgs),
    /// Download the blobs of a BLOB column into a directory, or blobs by reference.
    Get(GetArgs),
}

/// Arguments of `maxstorage blob put`.
#[derive(Debug, clap::Args)]
pub(crate) struct PutArgs {
    /// The table: `name` or `schema.name`.
    pub table: String,
    /// The files to upload.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The BLOB column (default: the table's only BLOB column).
    #[arg(long)]
    pub column: Option<String>,
    /// A string column to hold each file's name.
    #[arg(long)]
    pub name_column: Option<String>,
    /// The partition to write, e.g. `pt=20240101`.
    #[arg(long)]
    pub partition: Option<String>,
    /// Compression of the uploads.
    #[arg(long, value_enum, default_value_t = Codec::Zstd)]
    pub compression: Codec,
    /// The outcome as JSON (the files and their references).
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to connect.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Arguments of `maxstorage blob get`.
#[derive(Debug, clap::Args)]
pub(crate) struct GetArgs {
    /// The table: `name` or `schema.name`.
    pub table: String,
    /// The directory to write the blobs to (created if missing); with --reference, the
    /// file to write (`-`: standard output).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Download this reference (base64, as `blob put` prints it) instead of a column.
    #[arg(long, conflicts_with_all = ["column", "name_column", "filter", "partition"])]
    pub reference: Option<String>,
    /// The BLOB column (default: the table's only BLOB column).
    #[arg(long)]
    pub column: Option<String>,
    /// A column naming each blob's file (default: `row-N.blob`).
    #[arg(long)]
    pub name_column: Option<String>,
    /// A filter the service applies to the rows, e.g. `id > 100`.
    #[arg(long)]
    pub filter: Option<String>,
    /// A partition to read, e.g. `pt=20240101` (repeat for several; default: all).
    #[arg(long)]
    pub partition: Vec<String>,
    /// Compression of the downloads.
    #[arg(long, value_enum, default_value_t = Codec::Zstd)]
    pub compression: Codec,
    /// The outcome as JSON.
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to connect.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs `maxstorage blob ...`.
pub(crate) fn run(command: &BlobCommand) -> Result<(), CliError> {
    match command {
        BlobCommand::Put(args) => put(args),
        BlobCommand::Get(args) => get(args),
    }
}

fn put(args: &PutArgs) -> Result<(), CliError> {
    let client = args.connect.client()?;
    let table = client.table_named(&args.table)?;
    let session = table.create_write_session(
        WriteSessionOptions::default()
            .with_partition_spec(args.partition.clone().unwrap_or_default()),
    )?;
    let references = commit_all_or_nothing(&session, || put_rows(args, &session))?;
    let files: Vec<_> = args
        .files
        .iter()
        .zip(&references)
        .map(|(file, reference)| serde_json::json!({"file": file, "reference": reference}))
        .collect();
    args.json.report(
        serde_json::json!({"table": table.table().to_string(), "blobs": files}),
        || format!("put {} blobs into {}", references.len(), table.table()),
    )
}

/// Uploads the files and writes their rows; their references, in file order.
fn put_rows(args: &PutArgs, session: &WriteSessionHandle) -> Result<Vec<String>, CliError> {
    let blobs = StreamRef::new("blobs", 1);
    let info = session.create_stream(&blobs, StreamKind::Plain)?;
    let blob_columns: Vec<_> = info
        .table_schema
        .blob_columns()
        .into_iter()
        .filter(|c| !c.is_nested())
        .collect();
    let column = match &args.column {
        Some(name) => blob_columns
            .iter()
            .find(|c| c.column_name().eq_ignore_ascii_case(name))
            .ok_or_else(|| CliError::Usage(format!("{}: no BLOB column {name:?}", args.table)))?,
        None => match blob_columns.as_slice() {
            [only] => only,
            [] => {
                return Err(CliError::Usage(format!(
                    "{} has no BLOB column",
                    args.table
                )));
            }
            _ => {
                return Err(CliError::Usage(format!(
                    "{} has several BLOB columns: name one with --column",
                    args.table
                )));
            }
        },
    };
    let (column_name, column_id) = (column.column_name().to_string(), column.column_id);
    let column_id = column_id.ok_or_else(|| {
        CliError::Failed(format!("the service gave BLOB column {column_name} no id"))
    })?;
    let partition_values: Vec<String> = args
        .partition
        .iter()
        .flat_map(|p| p.split([',', '/']))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let mut references = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let mut input = std::fs::File::open(file)
            .map_err(|e| CliError::Failed(format!("cannot open {}: {e}", file.display())))?;
        let mut upload = session.blob_writer(
            &blobs,
            BlobWriteOptions::column(column_id)
                .partition_values(partition_values.clone())
                .compression(args.compression.compression()),
        )?;
        std::io::copy(&mut input, &mut upload)
            .map_err(|e| CliError::Failed(format!("uploading {}: {e}", file.display())))?;
        references.push(upload.finish()?.blob_reference);
    }
    session.close_stream(&blobs)?;

    let mut writer = session.stream_writer(StreamRef::new("rows", 1), StreamOptions::default())?;
    let schema = writer.schema().clone();
    let cells = references
        .iter()
        .map(|r| base64::engine::general_purpose::STANDARD.decode(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            CliError::Failed(format!(
                "the service sent a reference that is not base64: {e}"
            ))
        })?;
    let names: Vec<String> = args
        .files
        .iter()
        .map(|f| {
            f.file_name()
                .unwrap_or(f.as_os_str())
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut named = false;
    let columns = schema
        .fields()
        .iter()
        .map(|field| -> Result<ArrayRef, CliError> {
            let array: ArrayRef = if field.name().eq_ignore_ascii_case(&column_name) {
                Arc::new(BinaryArray::from_iter_values(cells.iter()))
            } else if args
                .name_column
                .as_ref()
                .is_some_and(|n| field.name().eq_ignore_ascii_case(n))
            {
                named = true;
                Arc::new(StringArray::from_iter_values(names.iter()))
            } else {
                return Ok(arrow_array::new_null_array(field.data_type(), cells.len()));
            };
            Ok(arrow_cast::cast(&array, field.data_type())?)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(name) = &args.name_column
        && !named
    {
        return Err(CliError::Usage(format!(
            "{}: no column {name:?}",
            args.table
        )));
    }
    writer.write(&RecordBatch::try_new(schema, columns)?)?;
    let summary = writer.finish()?;
    if summary.rows as usize != references.len() {
        return Err(CliError::Failed(format!(
            "{} rows were written but {} acknowledged; nothing was committed",
            references.len(),
            summary.rows
        )));
    }
    Ok(references)
}

fn get(args: &GetArgs) -> Result<(), CliError> {
    let client = args.connect.client()?;
    let table = client
        .table_named(&args.table)?
        .with_compression(args.compression.compression());
    if let Some(reference) = &args.reference {
        let bytes = download(&table, std::slice::from_ref(reference), |_| {
            create_output(&args.output)
        })?;
        return args.json.report(
            serde_json::json!({"reference": reference, "output": args.output, "bytes": bytes}),
            || format!("got {bytes} bytes to {}", args.output.display()),
        );
    }
    if args.json.json && args.output == Path::new("-") {
        args.json.check_output(&args.output)?;
    }
    let (references, names) = references(args, &table)?;
    std::fs::create_dir_all(&args.output)?;
    let mut seen = HashSet::new();
    let paths = names
        .iter()
        .map(|name| {
            // Only the last component of a stored name: a blob never lands outside the
            // directory.
            let file = Path::new(name)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .filter(|f| !f.is_empty())
                .ok_or_else(|| {
                    CliError::Failed(format!("blob name {name:?} is not a file name"))
                })?;
            if !seen.insert(file.clone()) {
                return Err(CliError::Failed(format!(
                    "two blobs are named {file:?}: pick a --name-column whose values differ"
                )));
            }
            Ok(args.output.join(file))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut bytes = 0;
    for (chunk, chunk_paths) in references
        .chunks(REFERENCES_PER_REQUEST)
        .zip(paths.chunks(REFERENCES_PER_REQUEST))
    {
        bytes += download(&table, chunk, |i| create_output(&chunk_paths[i]))?;
    }
    args.json.report(
        serde_json::json!({
            "table": table.table().to_string(),
            "blobs": references.len(),
            "bytes": bytes,
            "output": args.output,
            "files": paths,
        }),
        || {
            format!(
                "got {} blobs ({bytes} bytes) of {} into {}",
                references.len(),
                table.table(),
                args.output.display()
            )
        },
    )
}

/// The references in the BLOB column of the rows asked for, and a file name for each.
fn references(args: &GetArgs, table: &TableClient) -> Result<(Vec<String>, Vec<String>), CliError> {
    let probe = table.create_read_session(ReadSessionOptions::default())?;
    let blob_columns: Vec<String> = probe
        .info()
        .data_schema
        .data_columns
        .iter()
        .filter(|c| c.odps_type == OdpsType::Blob)
        .map(|c| c.name.clone())
        .collect();
    let column = match (&args.column, blob_columns.as_slice()) {
        (Some(name), _) => name.clone(),
        (None, [only]) => only.clone(),
        (None, []) => {
            return Err(CliError::Usage(format!(
                "{} has no BLOB column",
                args.table
            )));
        }
        (None, _) => {
            return Err(CliError::Usage(format!(
                "{} has several BLOB columns: name one with --column",
                args.table
            )));
        }
    };
    let mut columns = vec![column.clone()];
    columns.extend(args.name_column.clone());
    let session = table.create_read_session(
        ReadSessionOptions::default()
            .with_required_data_columns(columns)
            .with_required_partitions(args.partition.clone())
            .with_filter_predicate(args.filter.clone().unwrap_or_default()),
    )?;
    let (mut references, mut names) = (Vec::new(), Vec::new());
    for item in table.read_all(&session, &maxstorage_blocking::ReadOptions::default(), 1) {
        let (_, batch) = item?;
        let cells = batch
            .column_by_name(&column)
            .or_else(|| batch.columns().first())
            .ok_or_else(|| CliError::Failed(format!("no column {column:?} in the rows read")))?;
        let cells = arrow_cast::cast(cells, &arrow_schema::DataType::Binary)?;
        let cells = cells
            .as_any()
            .downcast_ref::<BinaryArray>()
            .ok_or_else(|| CliError::Failed(format!("column {column:?} is not binary")))?;
        let labels = match &args.name_column {
            Some(name) => {
                let labels = batch.column_by_name(name).ok_or_else(|| {
                    CliError::Failed(format!("no column {name:?} in the rows read"))
                })?;
                Some(arrow_cast::cast(labels, &arrow_schema::DataType::Utf8)?)
            }
            None => None,
        };
        let labels = labels
            .as_ref()
            .and_then(|l| l.as_any().downcast_ref::<StringArray>());
        for i in 0..batch.num_rows() {
            if cells.is_null(i) {
                continue;
            }
            references.push(base64::engine::general_purpose::STANDARD.encode(cells.value(i)));
            names.push(match labels {
                Some(l) if l.is_valid(i) => l.value(i).to_string(),
                _ => format!("row-{}.blob", names.len()),
            });
        }
    }
    Ok((references, names))
}

/// Downloads `references` in one request, each into the writer `open(i)` gives; the
/// bytes written.
fn download(
    table: &TableClient,
    references: &[String],
    mut open: impl FnMut(usize) -> Result<Box<dyn std::io::Write + Send>, CliError>,
) -> Result<u64, CliError> {
    let mut reader = table.read_blobs_stream(references.to_vec())?;
    let mut bytes = 0;
    let mut index = 0;
    while reader.next_blob()?.is_some() {
        let mut out = open(index)?;
        bytes += std::io::copy(&mut reader, &mut out)?;
        out.flush()?;
        index += 1;
    }
    Ok(bytes)
}
