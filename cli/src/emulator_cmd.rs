//! `maxstorage emulator`: serve the emulator in the foreground, or administer a running
//! one from a shell (create a table, insert a file's rows, dump a table to a file) through
//! its admin API.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use arrow_array::RecordBatch;
use maxstorage_emulator::admin::{AdminClient, InstanceDef};
use maxstorage_emulator::cli::{DEFAULT_LISTEN, ServeArgs};
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::profile::{ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET};

use crate::CliError;
use crate::connect::{Embedded, embedded_project};
use crate::format::{self, Format, Sink};

/// Arguments of `maxstorage emulator`.
#[derive(Debug, clap::Args)]
pub(crate) struct EmulatorArgs {
    /// Administer a running emulator instead of serving one.
    #[command(subcommand)]
    pub admin: Option<AdminCommand>,
    /// How to serve (ignored with a subcommand).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// What to do to a running emulator.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AdminCommand {
    /// Create a table.
    CreateTable {
        /// The table: `name` or `schema.name`.
        table: String,
        /// A column as `NAME:TYPE` (MaxCompute types, e.g. `id:bigint`,
        /// `price:decimal(10,2)`); repeat for each.
        #[arg(long = "column", required = true)]
        columns: Vec<String>,
        /// A partition column as `NAME:TYPE`; repeat for each.
        #[arg(long = "partition-column")]
        partition_columns: Vec<String>,
        /// Where the emulator is.
        #[command(flatten)]
        target: AdminTarget,
    },
    /// Insert the rows of a Parquet, CSV (header line, types inferred) or Arrow file,
    /// bypassing the Storage API.
    Insert {
        /// The table (in the `default` schema).
        table: String,
        /// The file.
        file: PathBuf,
        /// The partition, e.g. `pt=20240101`.
        #[arg(long)]
        partition: Option<String>,
        /// The input format (default: from the file's extension).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Where the emulator is.
        #[command(flatten)]
        target: AdminTarget,
    },
    /// Make a query result (an instance) out of a table's rows, as a finished SQL query
    /// would leave; prints its id (for `maxstorage instance read`).
    CreateInstance {
        /// The table (in the `default` schema unless `schema.name`).
        table: String,
        /// Columns of the result, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Only this partition, e.g. `pt=20240101`.
        #[arg(long)]
        partition: Option<String>,
        /// At most this many rows.
        #[arg(long)]
        limit: Option<u64>,
        /// Where the emulator is.
        #[command(flatten)]
        target: AdminTarget,
    },
    /// Write the committed rows of a table (or a partition) to a file.
    Dump {
        /// The table (in the `default` schema).
        table: String,
        /// The partition, e.g. `pt=20240101`.
        #[arg(long)]
        partition: Option<String>,
        /// The file to write (`-`: standard output, with --format).
        #[arg(short, long)]
        output: PathBuf,
        /// The output format (default: from the file's extension).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Where the emulator is.
        #[command(flatten)]
        target: AdminTarget,
    },
}

/// Where a running emulator is, and who asks.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminTarget {
    /// The emulator's endpoint [default: $MAXSTORAGE_ENDPOINT, else
    /// http://127.0.0.1:8780, where `maxstorage emulator` listens by default].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The project [default: $MAXSTORAGE_PROJECT; with --emulator, `local`].
    #[arg(long)]
    pub project: Option<String>,
    /// Administer the data directory DIR through an emulator inside this command instead
    /// of a running one (what `--emulator=DIR` of `read`, `load`... then serves).
    #[arg(long, value_name = "DIR", require_equals = true)]
    pub emulator: Option<PathBuf>,
}

impl AdminTarget {
    /// The admin client (signed with `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` when set),
    /// the project, and the embedded emulator behind them if there is one.
    fn connect(&self) -> Result<(AdminClient, String, Option<Embedded>), CliError> {
        if let Some(dir) = &self.emulator {
            let embedded = Embedded::start(Some(dir))?;
            return Ok((
                embedded.admin(),
                embedded_project(self.project.as_deref()),
                Some(embedded),
            ));
        }
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| std::env::var("MAXSTORAGE_ENDPOINT").ok())
            .unwrap_or_else(|| format!("http://{DEFAULT_LISTEN}"));
        let project = self
            .project
            .clone()
            .or_else(|| std::env::var("MAXSTORAGE_PROJECT").ok())
            .ok_or_else(|| {
                CliError::Usage("no project: pass --project or set MAXSTORAGE_PROJECT".into())
            })?;
        let mut client = AdminClient::new(socket_addr(&endpoint)?);
        if let (Ok(id), Ok(key)) = (
            std::env::var(ENV_ACCESS_KEY_ID),
            std::env::var(ENV_ACCESS_KEY_SECRET),
        ) {
            client = client.with_credentials(&id, &key);
        }
        Ok((client, project, None))
    }
}

/// The address of `http://host:port[/path]` (or `host:port`).
fn socket_addr(endpoint: &str) -> Result<SocketAddr, CliError> {
    let bad = || CliError::Usage(format!("endpoint {endpoint:?} is not http://HOST:PORT"));
    let rest = endpoint
        .strip_prefix("http://")
        .unwrap_or(endpoint)
        .split('/')
        .next()
        .ok_or_else(bad)?;
    rest.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// `NAME:TYPE` as a column.
fn column(spec: &str) -> Result<ColumnDef, CliError> {
    match spec.split_once(':') {
        Some((name, ty)) if !name.trim().is_empty() && !ty.trim().is_empty() => {
            Ok(ColumnDef::new(name.trim(), ty.trim()))
        }
        _ => Err(CliError::Usage(format!(
            "column {spec:?}: expected NAME:TYPE, e.g. id:bigint"
        ))),
    }
}

/// Runs `maxstorage emulator`.
pub(crate) fn run(args: EmulatorArgs) -> Result<ExitCode, CliError> {
    let Some(admin) = args.admin else {
        return Ok(maxstorage_emulator::cli::serve(args.serve));
    };
    match admin {
        AdminCommand::CreateTable {
            table,
            columns,
            partition_columns,
            target,
        } => {
            let (client, project, _embedded) = target.connect()?;
            let (schema, name) = match table.split_once('.') {
                Some((s, n)) => (s.to_string(), n.to_string()),
                None => ("default".to_string(), table.clone()),
            };
            let mut def = TableDef::new(
                project,
                name,
                columns
                    .iter()
                    .map(|c| column(c))
                    .collect::<Result<_, _>>()?,
            );
            def.schema = schema;
            def.partition_columns = partition_columns
                .iter()
                .map(|c| column(c))
                .collect::<Result<_, _>>()?;
            client.create_table(&def)?;
            eprintln!("created table {table}");
        }
        AdminCommand::Insert {
            table,
            file,
            partition,
            format,
            target,
        } => {
            let (client, project, _embedded) = target.connect()?;
            let format = Format::of(format, &file)?;
            let schema = match format {
                Format::Csv => Some(infer_csv_schema(&file)?),
                _ => None,
            };
            let reader = format::open(
                format,
                &file,
                &schema.unwrap_or_else(|| Arc::new(arrow_schema::Schema::empty())),
            )?;
            let batches = reader
                .collect::<Result<Vec<RecordBatch>, _>>()
                .map_err(|e| format::read_error(&file, e))?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            if rows > 0 {
                client.insert(&project, &table, partition.as_deref(), &batches)?;
            }
            eprintln!("inserted {rows} rows into {table}");
        }
        AdminCommand::CreateInstance {
            table,
            columns,
            partition,
            limit,
            target,
        } => {
            let (client, project, _embedded) = target.connect()?;
            let (schema, table) = match table.split_once('.') {
                Some((s, n)) => (s.to_string(), n.to_string()),
                None => ("default".to_string(), table),
            };
            let id = client.create_instance(&InstanceDef {
                project,
                schema,
                table,
                columns,
                partition,
                limit,
            })?;
            println!("{id}");
        }
        AdminCommand::Dump {
            table,
            partition,
            output,
            format,
            target,
        } => {
            let (client, project, _embedded) = target.connect()?;
            let format = Format::of(format, &output)?;
            let batches = client.dump(&project, &table, partition.as_deref())?;
            let schema = batches
                .first()
                .map(RecordBatch::schema)
                .unwrap_or_else(|| Arc::new(arrow_schema::Schema::empty()));
            let mut sink = Sink::create(format, &output, &schema)?;
            for b in &batches {
                sink.write(b)?;
            }
            sink.finish()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The schema of a CSV file with a header line, its types inferred from its values.
fn infer_csv_schema(path: &std::path::Path) -> Result<arrow_schema::SchemaRef, CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::Failed(format!("cannot open {}: {e}", path.display())))?;
    let (schema, _) = arrow_csv::reader::Format::default()
        .with_header(true)
        .infer_schema(file, Some(10_000))
        .map_err(|e| format::read_error(path, e))?;
    Ok(Arc::new(schema))
}
