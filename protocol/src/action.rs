//! The `Action` query parameter: one value per operation of the Storage API.

use std::fmt;
use std::str::FromStr;

/// An operation of the Storage API (protocol.md B§3.1), sent as the `Action` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Create a table read session.
    TableCreateReadSession,
    /// Get (and optionally refresh) a table read session.
    TableGetReadSession,
    /// Read rows of a split as an Arrow IPC stream.
    TableRead,
    /// Preview a table without a session.
    TablePreview,
    /// Create a write session.
    TableCreateWriteSession,
    /// Get a write session's streams.
    TableGetWriteSession,
    /// Commit a write session.
    TableCommitWriteSession,
    /// Abort a write session.
    TableAbortWriteSession,
    /// Create (or replace with a higher version) a write stream.
    TableCreateWriteStream,
    /// Get a write stream's state (exactly-once offset and token).
    TableGetWriteStream,
    /// Write rows (an Arrow IPC stream) to a stream.
    TableWrite,
    /// Close a write stream.
    TableCloseWriteStream,
    /// Get the write schema of a session (`odps.maxstorage` only).
    TableGetWriteSchema,
    /// Upload one blob, or a batch of framed blobs (`Mode=Batch`).
    TableWriteBlob,
    /// Download blobs by reference.
    BlobRead,
    /// Create a read session over a query result.
    InstanceCreateReadSession,
    /// Get an instance read session.
    InstanceGetReadSession,
    /// Read rows of a query result.
    InstanceRead,
    /// Not a storage Action: tunnel endpoint discovery (`GET /projects/<p>/tunnel`), named
    /// so its errors say what failed. Never parsed from a request.
    TunnelDiscovery,
}

impl Action {
    /// Every storage action (those sent as the `Action` parameter), in declaration order.
    pub const ALL: [Action; 18] = [
        Action::TableCreateReadSession,
        Action::TableGetReadSession,
        Action::TableRead,
        Action::TablePreview,
        Action::TableCreateWriteSession,
        Action::TableGetWriteSession,
        Action::TableCommitWriteSession,
        Action::TableAbortWriteSession,
        Action::TableCreateWriteStream,
        Action::TableGetWriteStream,
        Action::TableWrite,
        Action::TableCloseWriteStream,
        Action::TableGetWriteSchema,
        Action::TableWriteBlob,
        Action::BlobRead,
        Action::InstanceCreateReadSession,
        Action::InstanceGetReadSession,
        Action::InstanceRead,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::TableCreateReadSession => "TableCreateReadSession",
            Action::TableGetReadSession => "TableGetReadSession",
            Action::TableRead => "TableRead",
            Action::TablePreview => "TablePreview",
            Action::TableCreateWriteSession => "TableCreateWriteSession",
            Action::TableGetWriteSession => "TableGetWriteSession",
            Action::TableCommitWriteSession => "TableCommitWriteSession",
            Action::TableAbortWriteSession => "TableAbortWriteSession",
            Action::TableCreateWriteStream => "TableCreateWriteStream",
            Action::TableGetWriteStream => "TableGetWriteStream",
            Action::TableWrite => "TableWrite",
            Action::TableCloseWriteStream => "TableCloseWriteStream",
            Action::TableGetWriteSchema => "TableGetWriteSchema",
            Action::TableWriteBlob => "TableWriteBlob",
            Action::BlobRead => "BlobRead",
            Action::InstanceCreateReadSession => "InstanceCreateReadSession",
            Action::InstanceGetReadSession => "InstanceGetReadSession",
            Action::InstanceRead => "InstanceRead",
            Action::TunnelDiscovery => "TunnelDiscovery",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown `Action` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Action {0:?}")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
        }
        assert!("TableDrop".parse::<Action>().is_err());
        assert!("TunnelDiscovery".parse::<Action>().is_err());
    }
}
