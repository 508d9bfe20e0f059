//! Errors: what the service answers ([`ApiError`]) and what can stop the emulator itself
//! ([`Error`]).

use std::fmt;

/// An error answer of the service: HTTP status, error code and message, sent as
/// `{"Code", "Message", "RequestId"}` (protocol.md A10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Error code, e.g. `NoSuchSession`.
    pub code: String,
    /// Human-readable message naming what was wrong.
    pub message: String,
    /// `Retry-After` seconds, for transient errors.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `InvalidParameter`.
    pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidParameter", message)
    }

    /// 400 `InvalidData` (a body that cannot be decoded or does not match the schema).
    pub fn invalid_data(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidData", message)
    }

    /// 400 `InvalidPartition`.
    pub fn invalid_partition(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidPartition", message)
    }

    /// 400 `UnsupportedOperation`.
    pub fn unsupported(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "UnsupportedOperation", message)
    }

    /// 404 with the given code.
    pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(404, code, message)
    }

    /// 409 `InvalidState`.
    pub fn invalid_state(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "InvalidState", message)
    }

    /// 413 `RequestTooLarge`.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(413, "RequestTooLarge", message)
    }

    /// 500 `InternalServerError` (an I/O failure of the emulator's storage).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalServerError", message)
    }

    /// This error with a `Retry-After`.
    pub fn with_retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs);
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::internal(format!("storage I/O error: {e}"))
    }
}

impl From<maxstorage_protocol::server::RequestError> for ApiError {
    fn from(e: maxstorage_protocol::server::RequestError) -> ApiError {
        ApiError::invalid_parameter(e.to_string())
    }
}

impl From<maxstorage_protocol::server::PartitionSpecError> for ApiError {
    fn from(e: maxstorage_protocol::server::PartitionSpecError) -> ApiError {
        ApiError::invalid_partition(e.to_string())
    }
}

/// Why the emulator could not start or stop, or why an admin call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error (binding the socket, opening the data directory).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The data directory holds something that cannot be read.
    #[error("corrupt data directory: {0}")]
    Corrupt(String),
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The service answered an admin call with an error.
    #[error("admin call failed: {0}")]
    Api(ApiError),
    /// An admin response could not be understood.
    #[error("invalid admin response: {0}")]
    InvalidResponse(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
