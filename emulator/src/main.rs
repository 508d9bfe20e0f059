//! `maxstorage-emulator`: serves the MaxCompute Storage API locally.
//!
//! Prints the bound address (`host:port`) on its first line of standard output and
//! shuts down cleanly on SIGINT or SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use maxstorage_emulator::cli::{ServeArgs, serve};

/// A local MaxCompute Storage API (v2/v3) service.
#[derive(Debug, Parser)]
#[command(name = "maxstorage-emulator", version)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    serve(Args::parse().serve)
}
