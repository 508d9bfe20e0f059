//! Async client of the MaxCompute Storage API, on hyper and tokio.
//!
//! The same surface as `maxstorage-blocking`, method for method, as futures, `Stream`s
//! of record batches and `AsyncRead`/`AsyncWrite` bodies:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use maxstorage_async::{Client, ReadOptions};
//! use maxstorage_protocol::{Credentials, TableId};
//! use maxstorage_protocol::read::ReadSessionOptions;
//!
//! # async fn run() -> Result<(), maxstorage_async::Error> {
//! let client = Client::builder()
//!     .endpoint("http://127.0.0.1:8080")
//!     .credentials(Credentials::new("id", "secret"))
//!     .project("my_project")
//!     .build()
//!     .await?;
//! let table = client.table(TableId::new("my_project", "my_table"));
//! let session = table.create_read_session(ReadSessionOptions::default()).await?;
//! for split in session.splits() {
//!     let mut batches = table.read_rows(&session, split, &ReadOptions::default());
//!     while let Some(batch) = batches.next().await {
//!         println!("{} rows", batch?.num_rows());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Every wire decision is made by `maxstorage-protocol`, and every decision of the I/O
//! loops (retries, resumes, exactly-once recovery) by `maxstorage-client-core`, shared
//! with the blocking client; Arrow and compression by `maxstorage-codec`. This crate
//! moves bytes, sleeps on the runtime's timer and runs tasks.
//!
//! Cancellation: dropping a split stream closes only its connection; dropping a writer
//! cancels its request and commits nothing; the only background tasks are those of
//! [`TableClient::read_all`], which end when its stream is dropped.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blob;
pub mod client;
mod exec;
pub mod instance;
pub mod read;
pub mod table;
pub mod transport;
mod upload;
pub mod write;

pub use blob::{BlobReader, BlobStreamReader};
pub use client::{Client, ClientBuilder};
pub use instance::InstanceClient;
pub use maxstorage_client_core::client_exports::*;
pub use read::{
    ParallelBatches, RawRowsReader, SplitBatches, SplitStream, StreamBatches, TableStream,
};
pub use table::TableClient;
pub use transport::{
    BoxFuture, ByteStream, HttpTransport, HyperTransport, RequestBody, ResponseBody,
    TransportConfig, TransportError, TransportErrorKind,
};
pub use upload::{BlobWriter, RawRowsWriter};
pub use write::{StreamWriter, WriteSessionHandle};
