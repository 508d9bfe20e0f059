//! Errors of the blocking client.

use std::time::Duration;

use crate::transport::{TransportError, TransportErrorKind};

/// Any error of the blocking client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service said no, answered something we could not understand, or the request
    /// was not allowed (see [`maxstorage_protocol::Error`]).
    #[error(transparent)]
    Protocol(#[from] maxstorage_protocol::Error),
    /// A body could not be encoded or decoded (Arrow IPC, compression).
    #[error(transparent)]
    Codec(#[from] maxstorage_codec::CodecError),
    /// A `BlobRead` body was corrupt or truncated.
    #[error(transparent)]
    BlobRead(#[from] maxstorage_codec::blob::BlobReadError),
    /// The HTTP exchange failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Reading or writing a body failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The client was configured wrongly.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A session did not become ready in time.
    #[error("session {session_id} is still {status} after {waited:?}")]
    NotReady {
        /// The session.
        session_id: String,
        /// Its last status.
        status: String,
        /// How long the client waited.
        waited: Duration,
    },
    /// Data read back or acknowledged does not match what was sent.
    #[error("integrity check failed: {0}")]
    Integrity(String),
}

impl Error {
    /// Whether the failure is transient (a retry of an idempotent operation may succeed).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Protocol(e) => e.is_retryable(),
            Error::Transport(e) => e.kind != TransportErrorKind::Protocol,
            Error::Io { .. } => true,
            _ => false,
        }
    }

    /// The service's error code (e.g. `NoSuchSession`), if the service answered with one.
    pub fn service_code(&self) -> Option<&str> {
        match self {
            Error::Protocol(maxstorage_protocol::Error::Service(e)) => Some(&e.code),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<maxstorage_protocol::frame::FrameError> for Error {
    fn from(e: maxstorage_protocol::frame::FrameError) -> Self {
        Error::Protocol(e.into())
    }
}

impl From<maxstorage_protocol::ServiceError> for Error {
    fn from(e: maxstorage_protocol::ServiceError) -> Self {
        Error::Protocol(e.into())
    }
}

/// The result type of the blocking client.
pub type Result<T, E = Error> = std::result::Result<T, E>;
