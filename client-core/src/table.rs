//! The calls of table operations, and the decision of waiting for a session to become
//! ready — what both clients' table and instance handles do besides I/O and sleeping.

use std::time::Duration;

use maxstorage_protocol::blob::ReadBlobs;
use maxstorage_protocol::instance::InstanceReadSession;
use maxstorage_protocol::read::{
    CreateReadSession, GetReadSession, PreviewOptions, PreviewTable, ReadRows, ReadSession,
    ReadSessionOptions, RowSelection, SessionStatus, SplitMode, TimestampUnit,
};
use maxstorage_protocol::write::{
    CreateWriteSession, GetWriteSession, WriteMode, WriteSessionOptions,
};
use maxstorage_protocol::{Compression, TableId};

use crate::error::Error;
use crate::options::ReadOptions;
use crate::session::TableReadSession;
use crate::settings::Defaults;

/// What the service does not echo about a read session: the options it was created with
/// that the client needs to enumerate and decode its splits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionShape {
    rows_per_split: Option<i64>,
    timestamp_unit: TimestampUnit,
}

/// The calls of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableCalls {
    /// The table.
    pub table: TableId,
}

impl TableCalls {
    /// `TableCreateReadSession`, and what to remember of its options.
    pub fn create_read_session(
        &self,
        options: ReadSessionOptions,
    ) -> (CreateReadSession, SessionShape) {
        let shape = SessionShape {
            rows_per_split: (options.split_options.mode == SplitMode::RowOffset)
                .then_some(options.split_options.number),
            timestamp_unit: options.arrow_options.timestamp_unit,
        };
        (
            CreateReadSession {
                table: self.table.clone(),
                options,
            },
            shape,
        )
    }

    /// The client's view of a session the service described.
    pub fn read_session(&self, info: ReadSession, shape: SessionShape) -> TableReadSession {
        TableReadSession::new(
            self.table.clone(),
            info,
            shape.rows_per_split,
            shape.timestamp_unit,
        )
    }

    /// `TableGetReadSession`.
    pub fn get_read_session(&self, session_id: &str, refresh: bool) -> GetReadSession {
        GetReadSession {
            table: self.table.clone(),
            session_id: session_id.to_string(),
            refresh,
        }
    }

    /// A single (not resumable) `TableRead` of `selection`.
    pub fn read_rows(
        &self,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
        default_compression: Compression,
    ) -> ReadRows {
        ReadRows {
            table: self.table.clone(),
            session_id: session.id().to_string(),
            selection,
            options: options.to_wire(),
            compression: options.compression.unwrap_or(default_compression),
        }
    }

    /// `TablePreview`.
    pub fn preview(&self, options: PreviewOptions, compression: Compression) -> PreviewTable {
        PreviewTable {
            table: self.table.clone(),
            options,
            compression,
        }
    }

    /// `TableCreateWriteSession`.
    pub fn create_write_session(&self, options: WriteSessionOptions) -> CreateWriteSession {
        CreateWriteSession {
            table: self.table.clone(),
            options,
        }
    }

    /// `TableGetWriteSession` (to attach to an existing session); `None` for the implicit
    /// `default` session of streaming modes, which cannot be looked up.
    pub fn attach_write_session(
        &self,
        session_id: &str,
        mode: WriteMode,
    ) -> Option<GetWriteSession> {
        (session_id != maxstorage_protocol::write::DEFAULT_SESSION_ID).then(|| GetWriteSession {
            table: self.table.clone(),
            session_id: session_id.to_string(),
            mode,
        })
    }

    /// `BlobRead` of `references`, in the client's project (else the table's).
    pub fn read_blobs(
        &self,
        client_project: Option<&str>,
        references: Vec<String>,
        compression: Compression,
    ) -> ReadBlobs {
        ReadBlobs {
            project: client_project.unwrap_or(self.table.project()).to_string(),
            references,
            compression,
        }
    }
}

/// What to do about a session that may not be ready yet.
#[derive(Debug)]
pub enum Wait {
    /// It is ready.
    Ready,
    /// Look again after this long.
    PollAfter(Duration),
    /// It will not become ready (or not in time).
    Fail(Error),
}

/// The wait decision for a read session that was waited for `elapsed` so far.
pub fn read_session_wait(
    defaults: &Defaults,
    session: &TableReadSession,
    elapsed: Duration,
) -> Wait {
    match session.status() {
        SessionStatus::Normal => Wait::Ready,
        SessionStatus::Init => wait_or_fail(defaults, session.id(), "INIT", elapsed),
        other => Wait::Fail(not_ready(session.id(), other.as_str(), elapsed)),
    }
}

/// The wait decision for an instance read session that was waited for `elapsed` so far.
pub fn instance_session_wait(
    defaults: &Defaults,
    session: &InstanceReadSession,
    elapsed: Duration,
) -> Wait {
    if session.is_initiating() {
        wait_or_fail(defaults, &session.session_id, &session.status, elapsed)
    } else {
        Wait::Ready
    }
}

fn wait_or_fail(defaults: &Defaults, session_id: &str, status: &str, elapsed: Duration) -> Wait {
    if elapsed >= defaults.session_ready_timeout {
        Wait::Fail(not_ready(session_id, status, elapsed))
    } else {
        Wait::PollAfter(defaults.session_poll_interval)
    }
}

fn not_ready(session_id: &str, status: &str, waited: Duration) -> Error {
    Error::NotReady {
        session_id: session_id.to_string(),
        status: status.to_string(),
        waited,
    }
}

/// The table `name` names: `table`, `schema.table` or `project.schema.table`, completed
/// with the client's project and its default schema (`schema_name` of a config file;
/// MaxCompute's `default` when none is set).
pub fn resolve_table(
    name: &str,
    project: Option<&str>,
    default_schema: Option<&str>,
) -> crate::Result<TableId> {
    let bad = |reason: &str| {
        Error::Protocol(maxstorage_protocol::Error::Usage(
            maxstorage_protocol::UsageError::InvalidArgument {
                name: "table",
                reason: format!("{name:?}: {reason}"),
            },
        ))
    };
    let parts: Vec<&str> = name.split('.').collect();
    if parts.iter().any(|p| p.trim().is_empty()) {
        return Err(bad("expected table, schema.table or project.schema.table"));
    }
    let project = |given: Option<&str>| {
        given
            .or(project)
            .map(str::to_string)
            .ok_or_else(|| bad("no project: configure one, or name it as project.schema.table"))
    };
    match parts.as_slice() {
        [table] => Ok(match default_schema {
            Some(schema) => TableId::with_schema(project(None)?, schema, *table),
            None => TableId::new(project(None)?, *table),
        }),
        [schema, table] => Ok(TableId::with_schema(project(None)?, *schema, *table)),
        [p, schema, table] => Ok(TableId::with_schema(project(Some(p))?, *schema, *table)),
        _ => Err(bad("expected table, schema.table or project.schema.table")),
    }
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    #[test]
    fn table_names_are_completed_with_the_project_and_default_schema() {
        let t = resolve_table("t", Some("p"), None).unwrap();
        assert_eq!((t.project(), t.table()), ("p", "t"));
        let t = resolve_table("t", Some("p"), Some("s")).unwrap();
        assert_eq!(t, TableId::with_schema("p", "s", "t"));
        assert_eq!(
            resolve_table("x.t", Some("p"), Some("s")).unwrap(),
            TableId::with_schema("p", "x", "t")
        );
        assert_eq!(
            resolve_table("q.x.t", None, None).unwrap(),
            TableId::with_schema("q", "x", "t")
        );
        assert!(resolve_table("t", None, None).is_err(), "no project");
        assert!(resolve_table("a..t", Some("p"), None).is_err());
        assert!(resolve_table("a.b.c.d", Some("p"), None).is_err());
    }
}
