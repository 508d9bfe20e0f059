//! `maxstorage schema` and `maxstorage preview`: look at a table without writing a file.

use std::io::Write;

use maxstorage_protocol::read::{PreviewOptions, ReadSessionOptions};

use crate::CliError;
use crate::connect::ConnectArgs;

/// Arguments of `maxstorage schema`.
#[derive(Debug, clap::Args)]
pub(crate) struct SchemaArgs {
    /// The table: `name` or `schema.name`.
    pub table: String,
    /// One JSON object (`{"columns": [...], "partition_columns": [...]}`) instead of a
    /// table.
    #[arg(long)]
    pub json: bool,
    /// Where to connect.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Arguments of `maxstorage preview`.
#[derive(Debug, clap::Args)]
pub(crate) struct PreviewArgs {
    /// The table: `name` or `schema.name`.
    pub table: String,
    /// Rows to show (the service may return fewer).
    #[arg(long, default_value_t = 10)]
    pub limit: i64,
    /// A partition, e.g. `pt=20240101`.
    #[arg(long)]
    pub partition: Option<String>,
    /// Columns, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where to connect.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs `maxstorage schema`: the columns and partition columns, as a read session
/// describes them.
pub(crate) fn schema(args: &SchemaArgs) -> Result<(), CliError> {
    let client = args.connect.client()?;
    let table = client.table_named(&args.table)?;
    let session = table.create_read_session(ReadSessionOptions::default())?;
    let schema = &session.info().data_schema;
    let mut out = std::io::stdout().lock();
    if args.json {
        let column = |c: &maxstorage_protocol::schema::ReadColumn| {
            serde_json::json!({
                "name": c.name,
                "type": c.odps_type.to_string(),
                "nullable": c.nullable,
                "comment": c.comment,
            })
        };
        let doc = serde_json::json!({
            "table": table.table().to_string(),
            "columns": schema.data_columns.iter().map(column).collect::<Vec<_>>(),
            "partition_columns": schema.partition_columns.iter().map(column).collect::<Vec<_>>(),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    let rows = schema
        .data_columns
        .iter()
        .map(|c| ("", c))
        .chain(schema.partition_columns.iter().map(|c| ("partition", c)));
    let lines: Vec<[String; 4]> = rows
        .map(|(kind, c)| {
            [
                c.name.clone(),
                c.odps_type.to_string(),
                if c.nullable { "" } else { "not null" }.to_string(),
                [kind, c.comment.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    let width = |i: usize| lines.iter().map(|l| l[i].len()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    for l in &lines {
        let line = format!("{:w0$}  {:w1$}  {:w2$}  {}", l[0], l[1], l[2], l[3]);
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Runs `maxstorage preview`: the first rows, without a read session.
pub(crate) fn preview(args: &PreviewArgs) -> Result<(), CliError> {
    let client = args.connect.client()?;
    let table = client.table_named(&args.table)?;
    let options = PreviewOptions::default()
        .with_limit(Some(args.limit))
        .with_partition(args.partition.clone())
        .with_columns((!args.columns.is_empty()).then(|| args.columns.clone()));
    let batches = table.preview(options)?.collect::<Result<Vec<_>, _>>()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
        for b in &batches {
            writer.write(b)?;
        }
        writer.finish()?;
    } else {
        writeln!(
            out,
            "{}",
            arrow_cast::pretty::pretty_format_batches(&batches)?
        )?;
    }
    Ok(())
}
