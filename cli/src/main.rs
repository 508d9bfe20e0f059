//! `maxstorage`: move tables in and out of MaxCompute through the Storage API, or try it
//! all locally on the embedded emulator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod blob;
mod connect;
mod emulator_cmd;
mod format;
mod inspect;
mod instance;
mod load;
mod progress;
mod quickstart;
mod read;
mod report;
mod session;
mod sql;

/// The maxstorage command-line tool.
#[derive(Debug, Parser)]
#[command(name = "maxstorage", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole path end to end on an embedded emulator: parallel exactly-once
    /// writes, a parallel multi-split read verified row by row, a preview, blobs.
    Quickstart(quickstart::QuickstartArgs),
    /// Serve the local emulator in the foreground (prints its address first; by default
    /// on 127.0.0.1:8780 from ~/.local/share/maxstorage/emulator), or administer one:
    /// `create-table`, `insert`, `dump`, `create-instance`.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Emulator(emulator_cmd::EmulatorArgs),
    /// Measure read or write throughput against an endpoint; prints one JSON line in the
    /// reference perf harness's `--extra` contract.
    Bench(bench::BenchArgs),
    /// Read a table (or some partitions, columns, rows) to Parquet, CSV, Arrow or JSON
    /// lines.
    Read(read::ReadArgs),
    /// Load a Parquet, CSV or Arrow file into a table or partition: parallel exactly-once
    /// streams, one commit, all rows or none.
    Load(load::LoadArgs),
    /// Upload files into a table's BLOB column, or download its blobs.
    #[command(subcommand)]
    Blob(blob::BlobCommand),
    /// Read a finished query's result (an instance).
    #[command(subcommand)]
    Instance(instance::InstanceCommand),
    /// Run a SQL query over the project's tables with DataFusion (here, or on a Ballista
    /// cluster with --ballista): print the result or write it to a file; INSERT writes
    /// tables exactly once.
    Sql(sql::SqlArgs),
    /// Show a table's columns and partition columns.
    Schema(inspect::SchemaArgs),
    /// Show a table's first rows.
    Preview(inspect::PreviewArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Wrong arguments.
    #[error("{0}")]
    Usage(String),
    /// A check failed.
    #[error("{0}")]
    Failed(String),
    /// The client failed.
    #[error(transparent)]
    Client(#[from] maxstorage_blocking::Error),
    /// The emulator failed.
    #[error(transparent)]
    Emulator(#[from] maxstorage_emulator::Error),
    /// Arrow failed.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// I/O failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The SQL engine failed (planning or running a query).
    #[error(transparent)]
    Sql(#[from] datafusion::error::DataFusionError),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quickstart(args) => quickstart::run(&args),
        Command::Emulator(args) => match emulator_cmd::run(args) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Bench(args) => bench::run(&args),
        Command::Read(args) => read::run(&args),
        Command::Load(args) => load::run(&args),
        Command::Blob(command) => blob::run(&command),
        Command::Instance(command) => instance::run(&command),
        Command::Sql(args) => sql::run(&args),
        Command::Schema(args) => inspect::schema(&args),
        Command::Preview(args) => inspect::preview(&args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "maxstorage", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("maxstorage: {e}");
            ExitCode::FAILURE
        }
    }
}
