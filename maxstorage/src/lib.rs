//! Read and write MaxCompute (ODPS) tables through the Storage API, as Arrow record
//! batches — one dependency for everything a user needs.
//!
//! | item | for |
//! |---|---|
//! | [`blocking`] (feature `blocking`) | the blocking client: [`blocking::Client`], table handles, split readers, stream writers |
//! | [`asynchronous`] (feature `async`) | the same surface on Tokio: streams of batches, `AsyncRead` / `AsyncWrite` |
//! | root re-exports | ids, options and errors both clients take: [`TableId`], [`ReadSessionOptions`], [`WriteSessionOptions`], [`StreamOptions`], [`Error`] … |
//! | [`prelude`] | `use maxstorage::prelude::*;` for the common names |
//! | [`arrow_array`], [`arrow_schema`] | the Arrow crates of the batches, at the version the clients use |
//! | [`protocol`], [`codec`] | the sans-IO core and the Arrow codec underneath, for custom transports |
//!
//! Writing a table and reading it back (here against the local emulator of
//! `maxstorage-emulator`; a real service only changes the endpoint and credentials —
//! [`blocking::ClientBuilder::from_env`] reads both from the environment):
//!
//! ```
//! use std::sync::Arc;
//! use maxstorage::prelude::*;
//! use maxstorage::arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
//! # let dir = std::env::temp_dir().join(format!("maxstorage-doc-{}", std::process::id()));
//! # let emulator = maxstorage_emulator::Emulator::builder()
//! #     .data_dir(&dir).credentials("id", "secret").start().unwrap();
//! # let admin = maxstorage_emulator::admin::AdminClient::new(emulator.addr())
//! #     .with_credentials("id", "secret");
//! # admin.create_table(&maxstorage_emulator::store::TableDef::new("demo", "people", vec![
//! #     maxstorage_emulator::store::ColumnDef::new("id", "bigint"),
//! #     maxstorage_emulator::store::ColumnDef::new("name", "string"),
//! # ])).unwrap();
//! # let endpoint = emulator.endpoint();
//! let client = Client::builder()
//!     .endpoint(endpoint)
//!     .credentials(Credentials::new("id", "secret"))
//!     .project("demo")
//!     .build()?;
//! let table = client.table(TableId::new("demo", "people"));
//!
//! // Write: a session, an exactly-once stream, one commit.
//! let batch = RecordBatch::try_from_iter(vec![
//!     ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
//!     ("name", Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef),
//! ])?;
//! let session = table.create_write_session(WriteSessionOptions::default())?;
//! let options = StreamOptions::default().with_exactly_once(true);
//! let mut writer = session.stream_writer(StreamRef::new("0", 1), options)?;
//! writer.write(&batch)?;
//! writer.finish()?;
//! session.commit()?;
//!
//! // Read: a session, every split.
//! let read = table.create_read_session(ReadSessionOptions::default())?;
//! let mut rows = 0;
//! for split in read.splits() {
//!     for batch in table.read_rows(&read, split, &ReadOptions::default()) {
//!         rows += batch?.num_rows();
//!     }
//! }
//! assert_eq!(rows, 3);
//! # emulator.shutdown();
//! # let _ = std::fs::remove_dir_all(&dir);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A split read, or a whole table read by several workers, plugs into anything that takes
//! an Arrow `RecordBatchReader` (Parquet and IPC writers, DataFusion, the C stream
//! interface) through [`blocking::SplitBatches::into_reader`] and
//! [`blocking::ParallelBatches::into_reader`]; the async client's
//! [`asynchronous::SplitBatches::into_schema_stream`] and
//! [`asynchronous::ParallelBatches::into_schema_stream`] give streams whose schema is
//! known before their first batch. The schema is the read session's (data columns, then
//! partition columns), known before the first byte; the reads still resume after a broken
//! connection, and [`Error`] converts into `ArrowError`.
//!
//! Both builders also take extra trusted root certificates
//! ([`blocking::ClientBuilder::root_certificates_pem`],
//! [`trust_only_given_roots`](blocking::ClientBuilder::trust_only_given_roots)) and an HTTP
//! proxy ([`blocking::ClientBuilder::proxy`], [`no_proxy`](blocking::ClientBuilder::no_proxy),
//! [`disable_proxy`](blocking::ClientBuilder::disable_proxy)); `from_env` reads them from
//! `MAXSTORAGE_CA_BUNDLE` (a PEM file) and `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` /
//! `NO_PROXY`, next to the `MAXSTORAGE_*` and `ALIBABA_CLOUD_*` variables (see
//! [`ClientSettings::from_env`](maxstorage_client_core::settings::ClientSettings::from_env)).
//!
//! `examples/` holds one program per section of the Storage API user guide; each runs
//! against `MAXSTORAGE_ENDPOINT` (see `from_env`) or, with nothing configured, an
//! embedded emulator.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use arrow_array;
pub use arrow_schema;
/// The Arrow codec: IPC decode/encode, compression, MaxCompute ⇄ Arrow types.
pub use maxstorage_codec as codec;
/// The sans-IO core: every request, response and decision, for custom transports.
pub use maxstorage_protocol as protocol;

pub use maxstorage_client_core::network::NetworkConfigError;
pub use maxstorage_client_core::progress::{Progress, ProgressCounters, ProgressListener};
pub use maxstorage_client_core::{
    Blob, BlobInfo, BlobItem, BlobWriteOptions, ConfigError, CredentialsProvider, Error,
    IntegrityError, ReadOptions, RefreshingCredentials, Result, StreamOptions, StreamSummary,
    TableReadSession, WritePosition,
};
pub use maxstorage_protocol::instance::{InstanceReadOptions, InstanceReadSession};
pub use maxstorage_protocol::read::{
    PreviewOptions, ReadSessionOptions, RowRange, RowSelection, SplitMode, SplitOptions,
};
pub use maxstorage_protocol::retry::RetryPolicy;
pub use maxstorage_protocol::write::{StreamKind, StreamRef, WriteMode, WriteSessionOptions};
pub use maxstorage_protocol::{
    ApiVersion, Compression, Credentials, Endpoint, InstanceId, TableId,
};

/// The blocking client (ureq; threads for parallel reads and pipelined writes).
#[cfg(feature = "blocking")]
pub mod blocking {
    pub use maxstorage_blocking::*;
}

/// The async client (hyper on Tokio).
#[cfg(feature = "async")]
pub mod asynchronous {
    pub use maxstorage_async::*;
}

/// The common names: `use maxstorage::prelude::*;`. With the `blocking` feature,
/// `Client` is the blocking client; the async one is `maxstorage::asynchronous::Client`.
pub mod prelude {
    #[cfg(feature = "blocking")]
    pub use crate::blocking::Client;
    pub use crate::{
        Compression, Credentials, InstanceId, ReadOptions, ReadSessionOptions, RowSelection,
        SplitOptions, StreamKind, StreamOptions, StreamRef, TableId, WriteSessionOptions,
    };
}
