//! Write sessions: their streams and versions, the commit body, and the guards that keep a
//! session consistent (no commit with an open stream, no write after commit or abort).

use std::collections::BTreeMap;

use crate::config::TableId;
use crate::error::{Error, UsageError};
use crate::read::SessionStatus;
use crate::write::{
    AbortWriteSession, CommitScope, CommitWriteSession, GetWriteSession, StreamRef, WriteMode,
    WriteSessionInfo,
};

/// The lifecycle of a write session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Streams may be created and written.
    Open,
    /// A commit was sent and not yet answered.
    Committing,
    /// Committed: read-only from now on.
    Committed,
    /// Aborted: everything written is discarded.
    Aborted,
}

/// Whether a stream of the session is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Created, possibly written, not closed.
    Open,
    /// Closed; committed with the session.
    Closed,
}

/// A stream registered with [`WriteSession::register_stream`], to undo with
/// [`WriteSession::stream_refused`] when the service refuses to create it.
#[must_use = "hand it back to `stream_refused` when the service refuses the stream"]
#[derive(Debug)]
pub struct StreamRegistration {
    stream_id: String,
    previous: Option<(i64, StreamStatus)>,
}

/// The client-side state of a write session.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteSession {
    table: TableId,
    session_id: String,
    mode: WriteMode,
    state: SessionState,
    streams: BTreeMap<String, (i64, StreamStatus)>,
}

impl WriteSession {
    /// A session the service created.
    pub fn new(table: TableId, session_id: impl Into<String>, mode: WriteMode) -> WriteSession {
        WriteSession {
            table,
            session_id: session_id.into(),
            mode,
            state: SessionState::Open,
            streams: BTreeMap::new(),
        }
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The table.
    pub fn table(&self) -> &TableId {
        &self.table
    }

    /// The write mode.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Fails unless streams may be created or written.
    pub fn check_writable(&self, operation: &'static str) -> Result<(), Error> {
        match self.state {
            SessionState::Open => Ok(()),
            other => Err(Error::Usage(UsageError::InvalidState {
                operation,
                reason: format!("write session {} is {other:?}", self.session_id),
            })),
        }
    }

    /// Registers a stream about to be created. A higher version replaces the stream (its
    /// earlier data is discarded by the service); a lower one is refused. Until the
    /// service answers, the stream counts as open (a create whose answer is lost may have
    /// happened); when the service refuses it, hand the registration back to
    /// [`stream_refused`](Self::stream_refused).
    pub fn register_stream(&mut self, stream: &StreamRef) -> Result<StreamRegistration, Error> {
        self.check_writable("create stream")?;
        if let Some((version, _)) = self.streams.get(&stream.stream_id)
            && stream.version < *version
        {
            return Err(Error::Usage(UsageError::InvalidArgument {
                name: "stream_version",
                reason: format!(
                    "stream {} already has version {version}; version {} is stale",
                    stream.stream_id, stream.version
                ),
            }));
        }
        let previous = self.streams.insert(
            stream.stream_id.clone(),
            (stream.version, StreamStatus::Open),
        );
        Ok(StreamRegistration {
            stream_id: stream.stream_id.clone(),
            previous,
        })
    }

    /// The service answered the create of a registered stream with an error, so the
    /// stream does not exist: the session forgets it (the version it replaced, if any,
    /// comes back), and a commit is not blocked by a stream that was never opened.
    pub fn stream_refused(&mut self, registration: StreamRegistration) {
        match registration.previous {
            Some(previous) => {
                self.streams.insert(registration.stream_id, previous);
            }
            None => {
                self.streams.remove(&registration.stream_id);
            }
        }
    }

    /// Records that a stream was closed.
    pub fn stream_closed(&mut self, stream: &StreamRef) -> Result<(), Error> {
        match self.streams.get_mut(&stream.stream_id) {
            Some((version, status)) if *version == stream.version => {
                *status = StreamStatus::Closed;
                Ok(())
            }
            _ => Err(Error::Usage(UsageError::InvalidArgument {
                name: "stream",
                reason: format!(
                    "stream {} version {} is not part of session {}",
                    stream.stream_id, stream.version, self.session_id
                ),
            })),
        }
    }

    /// The streams (id, version, status).
    pub fn streams(&self) -> impl Iterator<Item = (StreamRef, StreamStatus)> + '_ {
        self.streams
            .iter()
            .map(|(id, (v, s))| (StreamRef::new(id.clone(), *v), *s))
    }

    /// The commit call: the service commits every closed stream. Refused while a stream
    /// is open, and after commit or abort. Report a success to
    /// [`on_committed`](Self::on_committed), a failure to
    /// [`on_commit_failed`](Self::on_commit_failed).
    pub fn commit_call(&mut self) -> Result<CommitWriteSession, Error> {
        self.commit_call_with(false)
    }

    /// The commit call naming the closed streams' ids and versions explicitly (what
    /// transactional tables need); otherwise as [`commit_call`](Self::commit_call).
    pub fn commit_listing_streams_call(&mut self) -> Result<CommitWriteSession, Error> {
        self.commit_call_with(true)
    }

    fn commit_call_with(&mut self, list_streams: bool) -> Result<CommitWriteSession, Error> {
        self.check_committable()?;
        let open: Vec<&str> = self
            .streams
            .iter()
            .filter(|(_, (_, s))| *s == StreamStatus::Open)
            .map(|(id, _)| id.as_str())
            .collect();
        if !open.is_empty() {
            return Err(Error::Usage(UsageError::InvalidState {
                operation: "commit",
                reason: format!(
                    "streams {open:?} of session {} are still open: close them first, or their rows would be lost",
                    self.session_id
                ),
            }));
        }
        let scope = if list_streams {
            CommitScope::Streams(self.streams().map(|(s, _)| s).collect())
        } else {
            CommitScope::AllClosedStreams
        };
        Ok(self.committing(scope))
    }

    /// The commit call for exactly `streams` (ids and versions, e.g. streams written by
    /// other processes): the streams this handle opened are not checked. Refused after
    /// commit or abort, and in streaming modes. Report the answer to
    /// [`on_committed`](Self::on_committed) or [`on_commit_failed`](Self::on_commit_failed),
    /// as for [`commit_call`](Self::commit_call).
    pub fn commit_streams_call(
        &mut self,
        streams: Vec<StreamRef>,
    ) -> Result<CommitWriteSession, Error> {
        self.check_committable()?;
        Ok(self.committing(CommitScope::Streams(streams)))
    }

    /// Fails unless the session may be committed: open, and not a streaming mode.
    fn check_committable(&self) -> Result<(), Error> {
        // A commit whose outcome was never settled (its caller gave up or was cancelled)
        // may be sent again: commits are idempotent.
        if self.state != SessionState::Committing {
            self.check_writable("commit")?;
        }
        if self.mode.is_streaming() {
            return Err(Error::Usage(UsageError::InvalidState {
                operation: "commit",
                reason: format!(
                    "{} sessions make data visible on each write and have no commit",
                    self.mode.as_str()
                ),
            }));
        }
        Ok(())
    }

    /// Moves to `Committing` and returns the commit call for `scope`.
    fn committing(&mut self, scope: CommitScope) -> CommitWriteSession {
        self.state = SessionState::Committing;
        CommitWriteSession {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            scope,
        }
    }

    /// The commit call failed (after the transport's retries). An attempt whose answer was
    /// lost may have committed anyway — a later attempt's error does not say it did not —
    /// so the outcome is settled by asking the service: send the returned
    /// `TableGetWriteSession` and hand its answer to
    /// [`on_commit_status`](Self::on_commit_status), or, if that call fails too, report
    /// the outcome as unknown with [`commit_unresolved`](Self::commit_unresolved).
    #[must_use = "send it and report the answer to `on_commit_status`"]
    pub fn on_commit_failed(&self) -> GetWriteSession {
        GetWriteSession {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
        }
    }

    /// Settles a failed commit from the session's status:
    ///
    /// * `Committed`: the commit happened — `Ok(true)`; report success with this answer;
    /// * `Normal` (or `Init`): it did not — `Ok(false)`; the session is open again for a
    ///   retry or an abort, and the commit's own error is the one to report;
    /// * `Aborted`: it did not, and never will — `Ok(false)`, the session is aborted;
    /// * anything else (`Committing`, no status, an unknown one): the service has not
    ///   decided — the error to report says the outcome is unknown; the session is open
    ///   again, and retrying the (idempotent) commit settles it.
    pub fn on_commit_status(&mut self, info: &WriteSessionInfo) -> Result<bool, Error> {
        match &info.status {
            Some(SessionStatus::Committed) => {
                self.on_committed();
                Ok(true)
            }
            Some(SessionStatus::Normal | SessionStatus::Init) => {
                self.reopen();
                Ok(false)
            }
            Some(SessionStatus::Aborted) => {
                self.state = SessionState::Aborted;
                Ok(false)
            }
            other => {
                self.reopen();
                Err(Error::OutcomeUnknown {
                    operation: "commit",
                    reason: format!(
                        "the commit of write session {} failed, and the service reports it as {other:?}, \
                         not committed or open: retry the commit (it is idempotent) to settle it",
                        self.session_id
                    ),
                })
            }
        }
    }

    /// The commit failed and so did asking the service about it: the session is open
    /// again (a commit is idempotent, so retrying it is safe), and the error to report
    /// says the commit may have happened.
    #[must_use = "report this error: the plain commit error would claim nothing was committed"]
    pub fn commit_unresolved(
        &mut self,
        commit_error: &dyn std::fmt::Display,
        status_error: &dyn std::fmt::Display,
    ) -> Error {
        self.reopen();
        Error::OutcomeUnknown {
            operation: "commit",
            reason: format!(
                "the commit of write session {} failed ({commit_error}) and asking the service \
                 whether an earlier attempt committed failed too ({status_error}): the session may \
                 be committed; retry the commit (it is idempotent) or check its status",
                self.session_id
            ),
        }
    }

    /// The commit call succeeded: the session is committed. (A failed commit call is
    /// settled with [`on_commit_failed`](Self::on_commit_failed) instead.)
    pub fn on_committed(&mut self) {
        if self.state == SessionState::Committing {
            self.state = SessionState::Committed;
        }
    }

    /// The commit did not happen: the session is open again, so the (idempotent) commit
    /// can be retried or the session aborted.
    fn reopen(&mut self) {
        if self.state == SessionState::Committing {
            self.state = SessionState::Open;
        }
    }

    /// The abort call; refused after a commit.
    pub fn abort_call(&mut self) -> Result<AbortWriteSession, Error> {
        match self.state {
            SessionState::Committed | SessionState::Committing => {
                Err(Error::Usage(UsageError::InvalidState {
                    operation: "abort",
                    reason: format!("write session {} is {:?}", self.session_id, self.state),
                }))
            }
            _ => Ok(AbortWriteSession {
                table: self.table.clone(),
                session_id: self.session_id.clone(),
                mode: self.mode,
            }),
        }
    }

    /// Records that the service aborted the session.
    pub fn on_aborted(&mut self) {
        self.state = SessionState::Aborted;
    }
}
