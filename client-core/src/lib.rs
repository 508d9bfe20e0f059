//! What the blocking and async MaxCompute Storage API clients share: their error type,
//! options of reads and writes, read-session and blob types, the schema of write bodies,
//! builder settings, and every decision their I/O loops make (which request to send,
//! whether to retry, when to resume a read, how to recover a write). No I/O: each client
//! crate adds its transport, its sleeping and its threads or tasks.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blob;
pub mod credentials;
pub mod error;
pub mod exchange;
pub mod items;
pub mod network;
pub mod operation;
pub mod options;
pub mod progress;
pub mod session;
pub mod settings;
pub mod split;
pub mod table;
pub mod write;

pub use blob::{Blob, BlobCursor, BlobInfo, BlobItem, BlobUploadDigest, Need};
pub use credentials::{CredentialsProvider, RefreshingCredentials};
pub use error::{ConfigError, Error, IntegrityError, Result, TransportError, TransportErrorKind};
pub use exchange::{
    Attempt, Attempts, CallCore, Failure, OutgoingBody, Route, SendBody, chunks_len,
};
pub use network::{
    NetworkConfig, NetworkConfigError, NetworkSettings, NoProxy, ProxyConfig, ProxyUrl,
    RootCertificates,
};
pub use options::{BlobWriteOptions, ReadOptions, StreamOptions, StreamSummary, WritePosition};
pub use progress::{Progress, ProgressCounters, ProgressListener};
pub use session::TableReadSession;
pub use settings::{ClientSettings, Defaults, EndpointPlan, Host, Prepared};
pub use split::{BodyDecoder, SplitProgress, Step};

/// Types the macros of `maxstorage-surface` and [`client_settings_methods!`] name.
#[doc(hidden)]
pub mod reexport {
    pub use arrow_array::RecordBatch;
    pub use arrow_schema::SchemaRef;
    pub use http;
    pub use maxstorage_codec::write::{ArrowStreamEncoder, EncodedBody};
    pub use maxstorage_protocol::blob::{WriteBlob, WriteBlobResult};
    pub use maxstorage_protocol::read::RowSelection;
    pub use maxstorage_protocol::retry::RetryPolicy;
    pub use maxstorage_protocol::state::write_stream::WriteStream;
    pub use maxstorage_protocol::write::{StreamRef, WriteRows, WriteRowsResult};
    pub use maxstorage_protocol::{
        ApiVersion, Call, ClientConfig, Compression, Credentials, InstanceId, StreamingResponse,
        TableId,
    };
}

/// The types both clients re-export at their roots, beside their own: options, results,
/// errors, progress and network configuration.
pub mod client_exports {
    pub use crate::network::{
        NetworkConfig, NetworkConfigError, NoProxy, ProxyConfig, ProxyUrl, RootCertificates,
    };
    pub use crate::progress::{Progress, ProgressCounters, ProgressListener};
    pub use crate::{
        Blob, BlobInfo, BlobItem, BlobWriteOptions, ConfigError, Error, IntegrityError,
        ReadOptions, Result, StreamOptions, StreamSummary, TableReadSession, WritePosition,
    };
}
