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
    Config(#[from] ConfigError),
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
    /// Data read back or acknowledged does not match what was sent or announced.
    #[error("integrity check failed: {0}")]
    Integrity(#[from] IntegrityError),
    /// A bug or a misuse inside the client: a worker thread or task panicked, a lock was
    /// poisoned, an object was used after it was finished.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// How a client's configuration is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither a tunnel endpoint nor a service endpoint was given.
    #[error("no endpoint: set a tunnel endpoint or a service endpoint")]
    NoEndpoint,
    /// No credentials were given, found in the environment or in a config file.
    #[error("no credentials: set them explicitly, from the environment or from a config file")]
    NoCredentials,
    /// `credentials_from_env` found no access key in the environment.
    #[error("ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set")]
    NoCredentialsInEnvironment,
    /// Tunnel discovery from a service endpoint needs a project.
    #[error("tunnel discovery needs a project")]
    DiscoveryNeedsProject,
    /// An endpoint URL cannot be used.
    #[error("endpoint {url:?}: {reason}")]
    BadEndpoint {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file configuration names cannot be read.
    #[error("cannot read {path}: {message}")]
    UnreadableFile {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Root certificates or a proxy were set, and a transport of one's own too (which
    /// they cannot configure).
    #[error(
        "root certificates and proxies configure the default transport; a transport given \
         to `transport(..)` must be configured itself"
    )]
    NetworkWithOwnTransport,
    /// An async operation was polled outside a Tokio runtime.
    #[error("{operation} must be polled inside a Tokio runtime: {message}")]
    NoRuntime {
        /// What was polled.
        operation: &'static str,
        /// The runtime's error.
        message: String,
    },
    /// Anything else, e.g. what a credentials provider of one's own reports.
    #[error("{0}")]
    Other(String),
}

/// What does not match: data read back or acknowledged, against what was sent or
/// announced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// A JSON answer is larger than the client accepts.
    #[error("the {action} answer is larger than {limit} bytes")]
    AnswerTooLarge {
        /// The call answered.
        action: maxstorage_protocol::Action,
        /// The limit.
        limit: usize,
    },
    /// A `BlobRead` body ended inside a blob.
    #[error("a blob ended without its footer")]
    BlobWithoutFooter,
    /// A `BlobRead` body has bytes outside any blob frame.
    #[error("blob data outside a blob frame")]
    BlobDataOutsideFrame,
    /// A `BlobRead` answer holds another number of blobs than references were asked for.
    #[error("BlobRead returned {got} blobs for {asked} references")]
    BlobCount {
        /// References asked for.
        asked: usize,
        /// Blobs returned.
        got: usize,
    },
    /// The service stored a blob with another MD5 than the one sent.
    #[error("blob MD5 mismatch: sent {sent}, the service stored {stored:?}")]
    BlobMd5 {
        /// The MD5 of the bytes sent (hex).
        sent: String,
        /// The MD5 the service reports.
        stored: String,
    },
    /// The service stored a blob of another size than the one sent.
    #[error("blob size mismatch: sent {sent} bytes, the service stored {stored}")]
    BlobSize {
        /// Bytes sent.
        sent: u64,
        /// Bytes the service reports.
        stored: i64,
    },
    /// A read's batches do not have the read session's columns.
    #[error("the response's columns ({got}) are not the read session's ({expected}): {reason}")]
    Columns {
        /// The response's columns (`name type, …`).
        got: String,
        /// The session's columns.
        expected: String,
        /// What differs.
        reason: String,
    },
    /// A read's response ended before its Arrow schema message.
    #[error("the response ended before its schema message")]
    NoSchema,
    /// The thread or task sending a body was lost: what the stream holds is unknown.
    #[error(
        "the thread or task sending a body panicked or was cancelled: what the stream holds is unknown"
    )]
    SenderLost,
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
