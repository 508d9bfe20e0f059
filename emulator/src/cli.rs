//! Serving the emulator from a command line: the flags of the `maxstorage-emulator` binary
//! and of `maxstorage emulator`, and the foreground loop both run.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::{BlobLayout, Emulator, ReadCompression};

/// The flags of a foreground emulator.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Directory for tables, blobs and query results (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Access key id requests must be signed with.
    #[arg(long, required_unless_present = "no_auth")]
    pub access_id: Option<String>,
    /// Access key secret requests must be signed with.
    #[arg(long, required_unless_present = "no_auth")]
    pub access_key: Option<String>,
    /// Accept unsigned requests.
    #[arg(long)]
    pub no_auth: bool,
    /// How compressed reads are answered: `ipc` (Arrow IPC buffer compression) or `body`
    /// (whole-body compression with Content-Encoding).
    #[arg(long, default_value = "ipc")]
    pub read_compression: ReadCompression,
    /// Where compressed `BlobRead` bodies put their CRC32C blocks: `outside` the
    /// compressed stream (the service, Java, `odps.maxstorage`) or `inside` it (what the
    /// user-guide SDK `odps.apis.storage_api_v2` reads).
    #[arg(long, default_value = "outside", value_parser = parse_blob_crc)]
    pub blob_crc: BlobLayout,
    /// Refuse (409 InvalidRouteToken) a request carrying another session's route token
    /// instead of serving it and counting the mismatch.
    #[arg(long)]
    pub strict_route_tokens: bool,
    /// Session lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub session_ttl: u64,
}

/// Parses `--blob-crc`.
fn parse_blob_crc(s: &str) -> Result<BlobLayout, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "outside" => Ok(BlobLayout::CrcOutside),
        "inside" => Ok(BlobLayout::CrcInside),
        other => Err(format!(
            "unknown blob CRC layout {other:?}: expected outside or inside"
        )),
    }
}

/// Serves the emulator in the foreground until SIGINT or SIGTERM: prints the bound address
/// on the first line of standard output, then blocks.
pub fn serve(args: ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("maxstorage-emulator: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve_async(args))
}

async fn serve_async(args: ServeArgs) -> ExitCode {
    let mut builder = Emulator::builder()
        .data_dir(args.data_dir)
        .listen(args.listen)
        .read_compression(args.read_compression)
        .blob_layout(args.blob_crc)
        .strict_route_tokens(args.strict_route_tokens)
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
