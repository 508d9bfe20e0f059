//! What the blocking and async MaxCompute Storage API clients share: their error type,
//! options of reads and writes, read-session and blob types, and the schema of write
//! bodies. No I/O: each client crate adds its transport.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blob;
pub mod error;
pub mod options;
pub mod session;
pub mod write;

pub use blob::{Blob, BlobInfo, BlobItem};
pub use error::{Error, Result, TransportError, TransportErrorKind};
pub use options::{ReadOptions, StreamOptions, StreamSummary};
pub use session::TableReadSession;
