//! Errors of the clients, and of their HTTP layer.

use std::time::Duration;

/// Any error of a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// A root certificate or proxy setting cannot be used (what is wrong, and where it
    /// came from).
    #[error("invalid network configuration: {0}")]
    NetworkConfig(#[from] crate::network::NetworkConfigError),
    /// The credentials provider failed before the request was sent (nothing was sent,
    /// so the call is retried as its policy allows).
    #[error("the credentials provider failed: {0}")]
    Credentials(Box<Error>),
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

    /// Whether the operation may or may not have been applied: its answer was lost and the
    /// client could neither retry it safely nor ask the service (see
    /// [`maxstorage_protocol::Error::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Protocol(maxstorage_protocol::Error::OutcomeUnknown { .. })
        )
    }

    /// An I/O error while doing `context`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
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

/// The result type of the clients.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure a transport error is: decides whether a retry is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Nothing was sent: DNS, connect or TLS handshake failed.
    Connect,
    /// A timeout after the request may have been sent.
    Timeout,
    /// An I/O error after the request may have been sent (connection reset, broken pipe).
    Io,
    /// The request could not be formed or a response was malformed.
    Protocol,
}

/// An error of the HTTP layer (not an error answer of the service).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?} error talking to {host}: {message}")]
pub struct TransportError {
    /// What failed.
    pub kind: TransportErrorKind,
    /// The host the request went to.
    pub host: String,
    /// Details.
    pub message: String,
}

impl TransportErrorKind {
    /// The retry policy's view of this failure.
    pub fn failure_class(self) -> maxstorage_protocol::retry::FailureClass {
        use maxstorage_protocol::retry::FailureClass;
        match self {
            TransportErrorKind::Connect => FailureClass::Connect,
            TransportErrorKind::Timeout => FailureClass::Timeout,
            TransportErrorKind::Io | TransportErrorKind::Protocol => FailureClass::Io,
        }
    }
}

impl Error {
    /// How a failed `TableWrite` failed, for the write-stream state machine; `None` when
    /// the error is not a failure of the exchange (e.g. a usage error).
    pub fn write_failure(&self) -> Option<maxstorage_protocol::state::write_stream::WriteFailure> {
        use maxstorage_protocol::state::write_stream::WriteFailure;
        match self {
            Error::Protocol(maxstorage_protocol::Error::Service(se)) => {
                Some(WriteFailure::Service(se.clone()))
            }
            Error::Transport(t) if t.kind == TransportErrorKind::Connect => {
                Some(WriteFailure::NotSent)
            }
            Error::Transport(_) | Error::Io { .. } => Some(WriteFailure::Unknown),
            _ => None,
        }
    }
}

impl From<Error> for arrow_schema::ArrowError {
    /// An Arrow error carrying the client error (for `RecordBatchReader`s and other Arrow
    /// interfaces); the original is its source.
    fn from(e: Error) -> arrow_schema::ArrowError {
        arrow_schema::ArrowError::ExternalError(Box::new(e))
    }
}
