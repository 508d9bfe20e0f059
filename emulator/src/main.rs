//! `maxstorage-emulator`: serves the MaxCompute Storage API locally.
//!
//! Prints the bound address (`host:port`) on its first line of standard output and
//! shuts down cleanly on SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use maxstorage_emulator::{Emulator, ReadCompression};

/// A local MaxCompute Storage API (v2/v3) service.
#[derive(Debug, Parser)]
#[command(name = "maxstorage-emulator", version)]
struct Args {
    /// Directory for tables, blobs and query results (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Access key id requests must be signed with.
    #[arg(long, required_unless_present = "no_auth")]
    access_id: Option<String>,
    /// Access key secret requests must be signed with.
    #[arg(long, required_unless_present = "no_auth")]
    access_key: Option<String>,
    /// Accept unsigned requests.
    #[arg(long)]
    no_auth: bool,
    /// How compressed reads are answered: `ipc` (Arrow IPC buffer compression) or `body`
    /// (whole-body compression with Content-Encoding).
    #[arg(long, default_value = "ipc")]
    read_compression: ReadCompression,
    /// Session lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    session_ttl: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut builder = Emulator::builder()
        .data_dir(args.data_dir)
        .listen(args.listen)
        .read_compression(args.read_compression)
        .session_ttl(Duration::from_secs(args.session_ttl.max(1)));
    builder = match (args.no_auth, &args.access_id, &args.access_key) {
        (false, Some(id), Some(key)) => builder.credentials(id, key),
        _ => builder.no_auth(),
    };
    let emulator = match builder.start() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("maxstorage-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", emulator.addr());
    let _ = out.flush();
    wait_for_signal().await;
    emulator.shutdown();
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
