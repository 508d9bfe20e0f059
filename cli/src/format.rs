//! The file formats `read` writes and `load` reads: Parquet, CSV, Arrow IPC (file and
//! stream) and JSON lines, chosen by `--format` or by the file's extension.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};

use crate::CliError;

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Comma-separated values with a header line (`.csv`).
    Csv,
    /// The Arrow IPC file format (`.arrow`, `.feather`, `.ipc`).
    Arrow,
    /// The Arrow IPC stream format (`.arrows`).
    Arrows,
    /// One JSON object per row (`.jsonl`, `.ndjson`; written by `read` only).
    Jsonl,
}

impl Format {
    /// `explicit`, else the format `path`'s extension names.
    pub(crate) fn of(explicit: Option<Format>, path: &Path) -> Result<Format, CliError> {
        if let Some(f) = explicit {
            return Ok(f);
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("parquet" | "pq") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            Some("arrow" | "feather" | "ipc") => Ok(Format::Arrow),
            Some("arrows") => Ok(Format::Arrows),
            Some("jsonl" | "ndjson") => Ok(Format::Jsonl),
            _ => Err(CliError::Usage(format!(
                "cannot tell the format of {}: pass --format (parquet, csv, arrow, arrows, jsonl)",
                path.display()
            ))),
        }
    }
}

/// Where `read` writes batches.
pub(crate) enum Sink {
    /// Parquet.
    Parquet(parquet::arrow::ArrowWriter<Box<dyn Write + Send>>),
    /// CSV.
    Csv(arrow_csv::Writer<Box<dyn Write + Send>>),
    /// Arrow IPC file.
    Arrow(arrow_ipc::writer::FileWriter<Box<dyn Write + Send>>),
    /// Arrow IPC stream.
    Arrows(arrow_ipc::writer::StreamWriter<Box<dyn Write + Send>>),
    /// JSON lines.
    Jsonl(arrow_json::LineDelimitedWriter<Box<dyn Write + Send>>),
}

/// A buffered writer of the file `path`, created (or standard output for `-`).
pub(crate) fn create_output(path: &Path) -> Result<Box<dyn Write + Send>, CliError> {
    if path == Path::new("-") {
        return Ok(Box::new(BufWriter::with_capacity(
            1 << 20,
            std::io::stdout(),
        )));
    }
    let file = File::create(path)
        .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", path.display())))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 20, file)))
}

impl Sink {
    /// A sink writing `format` with `schema` to `path` (`-`: standard output).
    pub(crate) fn create(
        format: Format,
        path: &Path,
        schema: &SchemaRef,
    ) -> Result<Sink, CliError> {
        let out = create_output(path)?;
        Ok(match format {
            Format::Parquet => Sink::Parquet(
                parquet::arrow::ArrowWriter::try_new(out, schema.clone(), None)
                    .map_err(|e| CliError::Failed(format!("parquet: {e}")))?,
            ),
            Format::Csv => Sink::Csv(arrow_csv::WriterBuilder::new().with_header(true).build(out)),
            Format::Arrow => Sink::Arrow(arrow_ipc::writer::FileWriter::try_new(out, schema)?),
            Format::Arrows => Sink::Arrows(arrow_ipc::writer::StreamWriter::try_new(out, schema)?),
            Format::Jsonl => Sink::Jsonl(arrow_json::LineDelimitedWriter::new(out)),
        })
    }

    /// Writes a batch.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), CliError> {
        match self {
            Sink::Parquet(w) => w
                .write(batch)
                .map_err(|e| CliError::Failed(format!("parquet: {e}"))),
            Sink::Csv(w) => Ok(w.write(batch)?),
            Sink::Arrow(w) => Ok(w.write(batch)?),
            Sink::Arrows(w) => Ok(w.write(batch)?),
            Sink::Jsonl(w) => Ok(w.write(batch)?),
        }
    }

    /// Ends the file (footers, end-of-stream marker) and flushes it.
    pub(crate) fn finish(self) -> Result<(), CliError> {
        let mut out = match self {
            Sink::Parquet(w) => w
                .into_inner()
                .map_err(|e| CliError::Failed(format!("parquet: {e}")))?,
            Sink::Csv(w) => w.into_inner(),
            Sink::Arrow(mut w) => {
                w.finish()?;
                w.into_inner()?
            }
            Sink::Arrows(mut w) => {
                w.finish()?;
                w.into_inner()?
            }
            Sink::Jsonl(mut w) => {
                w.finish()?;
                w.into_inner()
            }
        };
        Ok(out.flush()?)
    }
}

/// The batches of a file `load` reads. CSV has no types of its own: it is parsed with
/// `schema`, the table's.
pub(crate) fn open(
    format: Format,
    path: &Path,
    schema: &SchemaRef,
) -> Result<Box<dyn RecordBatchReader + Send>, CliError> {
    let file = File::open(path)
        .map_err(|e| CliError::Failed(format!("cannot open {}: {e}", path.display())))?;
    let bad = |e: &dyn std::fmt::Display| {
        CliError::Failed(format!(
            "{} is not a valid {format:?} file: {e}",
            path.display()
        ))
    };
    Ok(match format {
        Format::Parquet => Box::new(
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| bad(&e))?
                .build()
                .map_err(|e| bad(&e))?,
        ),
        Format::Csv => Box::new(
            arrow_csv::ReaderBuilder::new(schema.clone())
                .with_header(true)
                .build(BufReader::new(file))
                .map_err(|e| bad(&e))?,
        ),
        Format::Arrow => {
            Box::new(arrow_ipc::reader::FileReader::try_new(file, None).map_err(|e| bad(&e))?)
        }
        Format::Arrows => Box::new(
            arrow_ipc::reader::StreamReader::try_new(BufReader::new(file), None)
                .map_err(|e| bad(&e))?,
        ),
        Format::Jsonl => {
            return Err(CliError::Usage(
                "loading JSON lines is not supported: convert to Parquet, CSV or Arrow".into(),
            ));
        }
    })
}

/// An Arrow error reading `path`, as one line.
pub(crate) fn read_error(path: &Path, e: ArrowError) -> CliError {
    CliError::Failed(format!("reading {}: {e}", path.display()))
}
