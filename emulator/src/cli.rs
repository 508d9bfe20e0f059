//! Serving the emulator from a command line: the flags of the `maxstorage-emulator` binary
//! and of `maxstorage emulator`, and the foreground loop both run.
//!
//! With no flags at all an emulator serves the default data directory
//! ([`default_data_dir`]) on the default address ([`DEFAULT_LISTEN`]), signed with the
//! access key in `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET` (the
//! variables the clients read), so one shell serves and another just uses it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::{BlobLayout, Emulator, ReadCompression};

/// The address a command-line emulator listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8780";

/// The variable naming the default data directory of a command-line emulator.
pub const ENV_DATA_DIR: &str = "MAXSTORAGE_EMULATOR_DIR";

/// Where a command-line emulator keeps its data unless told otherwise:
/// `$MAXSTORAGE_EMULATOR_DIR`, else `$XDG_DATA_HOME/maxstorage/emulator`, else
/// `$HOME/.local/share/maxstorage/emulator`; `None` when none of them is set.
pub fn default_data_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(ENV_DATA_DIR) {
        return Some(PathBuf::from(dir));
    }
    let base = var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".local/share")))?;
    Some(base.join("maxstorage").join("emulator"))
}

/// The flags of a foreground emulator.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Directory for tables, blobs and query results (created if missing)
    /// [default: $MAXSTORAGE_EMULATOR_DIR, else $XDG_DATA_HOME/maxstorage/emulator, else
    /// ~/.local/share/maxstorage/emulator].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Access key id requests must be signed with.
    #[arg(
        long,
        env = "ALIBABA_CLOUD_ACCESS_KEY_ID",
        hide_env_values = true,
        required_unless_present = "no_auth"
    )]
    pub access_id: Option<String>,
    /// Access key secret requests must be signed with.
    #[arg(
        long,
        env = "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        hide_env_values = true,
        required_unless_present = "no_auth"
    )]
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
    let Some(data_dir) = args.data_dir.or_else(default_data_dir) else {
        eprintln!(
            "maxstorage-emulator: no data directory: pass --data-dir or set {ENV_DATA_DIR} \
             (or HOME)"
        );
        return ExitCode::FAILURE;
    };
    let mut builder = Emulator::builder()
        .data_dir(&data_dir)
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
    eprintln!(
        "maxstorage-emulator: serving {} from {} (MAXSTORAGE_ENDPOINT={}); Ctrl-C stops",
        emulator.addr(),
        data_dir.display(),
        emulator.endpoint()
    );
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
