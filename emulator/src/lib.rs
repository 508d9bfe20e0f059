//! A local MaxCompute (ODPS) Storage API v2/v3 service for development and tests.
//!
//! The emulator serves `/api/storage/v2` and `/api/storage/v3` (also below an extra `/api`
//! prefix), tunnel endpoint discovery, and an admin API (`/admin/v1/…`) to create tables,
//! load and dump data, create query results and inject faults. Committed data lives as
//! Arrow IPC files under a data directory and survives restarts and crashes (see
//! [`store`]). See `README.md` for the flags, the admin API and what is faithful.
//!
//! ```no_run
//! use maxstorage_emulator::{Emulator, admin::AdminClient, store::{ColumnDef, TableDef}};
//!
//! let emulator = Emulator::builder()
//!     .data_dir("/tmp/maxstorage-data")
//!     .credentials("my-id", "my-key")
//!     .start()?;
//! println!("endpoint: {}", emulator.endpoint());
//! let admin = AdminClient::new(emulator.addr()).with_credentials("my-id", "my-key");
//! admin.create_table(&TableDef::new("p", "t", vec![ColumnDef::new("a", "bigint")]))?;
//! emulator.shutdown();
//! # Ok::<(), maxstorage_emulator::Error>(())
//! ```
#![warn(missing_docs)]

pub mod admin;
mod blob;
mod body;
pub mod cli;
mod error;
pub mod fault;
mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod http_client;
mod instance;
mod read;
mod service;
mod session;
pub mod store;
mod util;
mod write;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::{ApiError, Error};
pub use maxstorage_codec::blob::BlobLayout;
pub use maxstorage_protocol::Credentials;

/// How `TableRead`, `TablePreview` and `InstanceRead` answer an `ACCEPT-ENCODING` that
/// asks for compression (protocol.md A4, A11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadCompression {
    /// Arrow IPC buffer compression inside an uncompressed body (what the Java and C++
    /// SDKs expect); the default.
    #[default]
    Ipc,
    /// The whole body compressed as one zstd / LZ4 frame stream with `Content-Encoding`
    /// (what `odps.maxstorage` expects).
    Body,
}

impl std::str::FromStr for ReadCompression {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ipc" => Ok(ReadCompression::Ipc),
            "body" => Ok(ReadCompression::Body),
            other => Err(Error::Config(format!(
                "unknown read compression {other:?}: expected ipc or body"
            ))),
        }
    }
}

/// Resource limits of the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body of `TableWrite` and `TableWriteBlob` (default 256 MiB).
    pub max_data_body: usize,
    /// Largest JSON request body (default 16 MiB).
    pub max_json_body: usize,
    /// Most streams of one write session (default 1024).
    pub max_streams_per_session: usize,
    /// BatchCompatible `MaxBlockNumber` (default 1024).
    pub max_block_number: i64,
    /// Largest decompressed blob (default 1 GiB).
    pub max_blob_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_data_body: 256 * 1024 * 1024,
            max_json_body: 16 * 1024 * 1024,
            max_streams_per_session: 1024,
            max_block_number: 1024,
            max_blob_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// The configuration of an emulator.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Where data is kept.
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The accepted credentials; `None` accepts every request unsigned.
    pub credentials: Option<Credentials>,
    /// How long a read or write session lives without a refresh.
    pub session_ttl: Duration,
    /// Read compression mode.
    pub read_compression: ReadCompression,
    /// The order of CRC32C blocks and compression in compressed `BlobRead` bodies.
    pub blob_layout: BlobLayout,
    /// Refuse a route token issued to another session instead of counting it.
    pub strict_route_tokens: bool,
    /// Limits.
    pub limits: Limits,
}

/// The default session lifetime (24 hours).
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 3600);

/// Builds and starts an [`Emulator`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    data_dir: Option<PathBuf>,
    listen: SocketAddr,
    credentials: Option<Credentials>,
    session_ttl: Duration,
    read_compression: ReadCompression,
    blob_layout: BlobLayout,
    strict_route_tokens: bool,
    limits: Limits,
}

/// A running emulator. Dropping it shuts it down.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    server: Option<service::ServerHandle>,
    data_dir: PathBuf,
}

impl Emulator {
    /// A builder: loopback on a free port, no credentials (every request accepted), 24 h
    /// sessions, IPC read compression, CRC-outside blob bodies, lenient route tokens. A
    /// data directory must be set.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            data_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            credentials: None,
            session_ttl: DEFAULT_SESSION_TTL,
            read_compression: ReadCompression::Ipc,
            blob_layout: BlobLayout::CrcOutside,
            strict_route_tokens: false,
            limits: Limits::default(),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The tunnel endpoint URL, e.g. `http://127.0.0.1:8080`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Stops accepting connections and closes open ones; waits for the server thread when
    /// the emulator runs its own runtime.
    pub fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
    }
}

impl EmulatorBuilder {
    /// The data directory (created if missing).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The address to listen on.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Require requests signed with this access key.
    pub fn credentials(mut self, access_id: &str, access_key: &str) -> Self {
        self.credentials = Some(Credentials::new(access_id, access_key));
        self
    }

    /// Require requests signed with these credentials (with an STS token, requests must
    /// carry the same token).
    pub fn credentials_with(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Accept every request without checking signatures.
    pub fn no_auth(mut self) -> Self {
        self.credentials = None;
        self
    }

    /// Session lifetime.
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Read compression mode.
    pub fn read_compression(mut self, mode: ReadCompression) -> Self {
        self.read_compression = mode;
        self
    }

    /// The order of CRC32C blocks and compression in compressed `BlobRead` bodies:
    /// [`BlobLayout::CrcOutside`] (the service; the default) or [`BlobLayout::CrcInside`]
    /// (what the user-guide SDK `odps.apis.storage_api_v2` reads).
    pub fn blob_layout(mut self, layout: BlobLayout) -> Self {
        self.blob_layout = layout;
        self
    }

    /// Refuse (409 `InvalidRouteToken`) a request whose route token was issued to another
    /// session. By default such a request is served and counted in the session's
    /// `RouteTokenMismatches` (admin `GET /admin/v1/sessions`).
    pub fn strict_route_tokens(mut self, strict: bool) -> Self {
        self.strict_route_tokens = strict;
        self
    }

    /// Limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The configuration this builder describes.
    pub fn config(&self) -> Result<Config, Error> {
        let data_dir = self
            .data_dir
            .clone()
            .ok_or_else(|| Error::Config("a data directory is required".into()))?;
        if self.session_ttl.is_zero() {
            return Err(Error::Config("the session TTL must be positive".into()));
        }
        Ok(Config {
            data_dir,
            listen: self.listen,
            credentials: self.credentials.clone(),
            session_ttl: self.session_ttl,
            read_compression: self.read_compression,
            blob_layout: self.blob_layout,
            strict_route_tokens: self.strict_route_tokens,
            limits: self.limits,
        })
    }

    /// Opens the data directory, binds the address and starts serving. Inside a
    /// multi-threaded Tokio runtime the server runs as tasks of that runtime; otherwise
    /// (blocking code, current-thread runtimes) it runs on its own runtime thread.
    pub fn start(self) -> Result<Emulator, Error> {
        let config = self.config()?;
        let listener = TcpListener::bind(config.listen)
            .map_err(|e| Error::io(format!("cannot listen on {}", config.listen), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the bound address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("cannot configure the listener", e))?;
        let data_dir = config.data_dir.clone();
        let state = Arc::new(service::State::open(config, addr)?);
        let server = service::ServerHandle::start(listener, state)?;
        tracing::info!(%addr, data_dir = %data_dir.display(), "emulator listening");
        Ok(Emulator {
            addr,
            server: Some(server),
            data_dir,
        })
    }
}
