//! Blocking client of the MaxCompute Storage API, on ureq.
//!
//! ```no_run
//! use maxstorage_blocking::{Client, ReadOptions};
//! use maxstorage_protocol::{Credentials, TableId};
//! use maxstorage_protocol::read::ReadSessionOptions;
//!
//! let client = Client::builder()
//!     .endpoint("http://127.0.0.1:8080")
//!     .credentials(Credentials::new("id", "secret"))
//!     .project("my_project")
//!     .build()?;
//! let table = client.table(TableId::new("my_project", "my_table"));
//! let session = table.create_read_session(ReadSessionOptions::default())?;
//! for split in session.splits() {
//!     for batch in table.read_rows(&session, split, &ReadOptions::default()) {
//!         println!("{} rows", batch?.num_rows());
//!     }
//! }
//! # Ok::<(), maxstorage_blocking::Error>(())
//! ```
//!
//! Every wire decision is made by `maxstorage-protocol`; Arrow and compression by
//! `maxstorage-codec`; this crate moves bytes, sleeps for retries and runs threads.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blob;
pub mod client;
mod exec;
pub mod instance;
pub mod read;
mod read_ahead;
mod spawn;
pub mod table;
pub mod transport;
mod upload;
pub mod write;

pub use blob::{BlobReader, BlobStreamReader};
pub use client::{Client, ClientBuilder};
pub use instance::InstanceClient;
pub use maxstorage_client_core::client_exports::*;
pub use read::{
    ParallelBatches, RawRowsReader, SplitBatches, SplitReader, StreamBatches, TableReader,
};
pub use table::TableClient;
pub use transport::{
    HttpTransport, RequestBody, ResponseBody, TransportConfig, TransportError, TransportErrorKind,
    UreqTransport,
};
pub use upload::{BlobWriter, RawRowsWriter};
pub use write::{StreamWriter, WriteSessionHandle};
