//! `maxstorage`: move tables in and out of MaxCompute through the Storage API, or try it
//! all locally on the embedded emulator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod connect;
mod format;
mod load;
mod progress;
mod quickstart;
mod read;

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
    /// Serve the local emulator in the foreground (prints its address first).
    Emulator(maxstorage_emulator::cli::ServeArgs),
    /// Measure read or write throughput against an endpoint; prints one JSON line in the
    /// reference perf harness's `--extra` contract.
    Bench(bench::BenchArgs),
    /// Read a table (or some partitions, columns, rows) to Parquet, CSV, Arrow or JSON
    /// lines.
    Read(read::ReadArgs),
    /// Load a Parquet, CSV or Arrow file into a table or partition: parallel exactly-once
    /// streams, one commit, all rows or none.
    Load(load::LoadArgs),
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
        Command::Emulator(args) => return maxstorage_emulator::cli::serve(args),
        Command::Bench(args) => bench::run(&args),
        Command::Read(args) => read::run(&args),
        Command::Load(args) => load::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("maxstorage: {e}");
            ExitCode::FAILURE
        }
    }
}
