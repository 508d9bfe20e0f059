//! Write streams, in normal and exactly-once mode (protocol.md A6, B§5).
//!
//! [`WriteStream`] says which call to make next and what a failure means:
//!
//! * Normal mode: a `TableWrite` may be re-sent only when none of it reached the service
//!   (the connection failed before sending); any other failure is reported, never retried
//!   blindly, so rows are never written twice.
//! * Exactly-once mode: every write carries `RowOffset` and the access token. A retryable
//!   failure re-sends the **identical bytes at the same offset**; after a
//!   `RowOffsetConflict` or an unknown outcome the stream asks `TableGetWriteStream` for the
//!   service's offset and either re-sends (not applied) or moves on (applied), so no row is
//!   lost or duplicated.

use crate::Action;
use crate::config::TableId;
use crate::error::{Error, InvalidResponse, ServiceError, UsageError};
use crate::write::{
    CloseWriteStream, CreateWriteStream, GetWriteStream, StreamKind, StreamRef, WriteMode,
    WriteRows, WriteRowsResult, WriteStreamInfo,
};

/// The lifecycle of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// `TableCreateWriteStream` not yet answered.
    Creating,
    /// Ready for the next write.
    Open,
    /// A write is in flight (or failed and awaits recovery).
    Writing,
    /// Waiting for `TableGetWriteStream` to tell whether the in-flight write was applied.
    Resyncing,
    /// Closed: no more writes.
    Closed,
    /// Failed for good.
    Failed,
}

/// The write currently in flight; its body must be kept until it is acknowledged, because
/// an exactly-once retry re-sends it byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// `RowOffset` of the write (exactly-once mode).
    pub row_offset: Option<i64>,
    /// Rows in the body.
    pub record_count: i64,
    /// Body length, if known.
    pub content_length: Option<u64>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Failures recovered from so far (re-sends and resyncs after a failed attempt).
    pub recoveries: u32,
}

/// How many times a write is recovered (re-sent or resynced after a failure the
/// transport's own retries gave up on) before [`WriteStream::on_write_failed`] says
/// [`Recovery::GiveUp`], unless [`WriteStream::with_max_recoveries`] sets another cap.
pub const DEFAULT_MAX_RECOVERIES: u32 = 3;

/// How a write failed, as the transport saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteFailure {
    /// The request never left (connection refused or failed before any byte was sent).
    NotSent,
    /// The outcome is unknown: the connection broke or timed out after sending began.
    Unknown,
    /// The service answered with an error.
    Service(ServiceError),
}

/// What to do after a failed write.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "resync, re-send, or fail as it says: ignoring it loses or duplicates rows"]
pub enum Recovery {
    /// Send the same body again with this request (same offset in exactly-once mode).
    Resend(WriteRows),
    /// Ask the service where the stream is, then call [`WriteStream::on_resync`].
    Resync(GetWriteStream),
    /// Give up: the error says why and whether rows may have been written.
    Fail(Error),
    /// Give up: the write was recovered [`WriteStream::with_max_recoveries`] times
    /// already; report the failure that led here. The stream is failed.
    GiveUp,
}

/// What a resync found out.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "re-send the body or move on as it says"]
pub enum ResyncOutcome {
    /// The in-flight write was applied: it is acknowledged; continue with the next write.
    Applied,
    /// It was not applied: send these identical bytes again.
    Resend(Box<WriteRows>),
}

/// The state of one write stream.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteStream {
    table: TableId,
    session_id: String,
    mode: WriteMode,
    stream: StreamRef,
    exactly_once: bool,
    state: StreamState,
    access_token: Option<String>,
    table_id: Option<String>,
    schema_version: Option<i64>,
    next_offset: i64,
    in_flight: Option<InFlight>,
    rows_written: i64,
    route_token: Option<String>,
    max_recoveries: u32,
}

impl WriteStream {
    /// A stream to create in session `session_id`.
    pub fn new(
        table: TableId,
        session_id: impl Into<String>,
        mode: WriteMode,
        stream: StreamRef,
        kind: StreamKind,
    ) -> WriteStream {
        WriteStream {
            table,
            session_id: session_id.into(),
            mode,
            stream,
            exactly_once: kind.is_exactly_once(),
            state: StreamState::Creating,
            access_token: None,
            table_id: None,
            schema_version: None,
            next_offset: 0,
            in_flight: None,
            rows_written: 0,
            route_token: None,
            max_recoveries: DEFAULT_MAX_RECOVERIES,
        }
    }

    /// The same stream, recovering a failed write at most `max` times (default
    /// [`DEFAULT_MAX_RECOVERIES`]).
    #[must_use]
    pub fn with_max_recoveries(mut self, max: u32) -> WriteStream {
        self.max_recoveries = max;
        self
    }

    /// The current state.
    pub fn state(&self) -> StreamState {
        self.state
    }

    /// The table.
    pub fn table(&self) -> &TableId {
        &self.table
    }

    /// The write session's id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The stream id and version.
    pub fn stream(&self) -> &StreamRef {
        &self.stream
    }

    /// The next exactly-once row offset.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Rows acknowledged by the service.
    pub fn rows_written(&self) -> i64 {
        self.rows_written
    }

    /// The write in flight, if any.
    pub fn in_flight(&self) -> Option<&InFlight> {
        self.in_flight.as_ref()
    }

    /// The newest route token seen on this stream's responses.
    pub fn route_token(&self) -> Option<&str> {
        self.route_token.as_deref()
    }

    /// The `TableCreateWriteStream` call.
    pub fn create_call(&self) -> CreateWriteStream {
        CreateWriteStream {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            stream: self.stream.clone(),
            exactly_once: self.exactly_once,
        }
    }

    /// Takes the create-stream answer. In exactly-once mode the access token is required.
    pub fn on_created(&mut self, info: &WriteStreamInfo) -> Result<(), Error> {
        self.expect(StreamState::Creating, "on_created")?;
        if self.exactly_once && info.access_token.as_deref().is_none_or(str::is_empty) {
            self.state = StreamState::Failed;
            return Err(invalid(
                Action::TableCreateWriteStream,
                "AccessToken",
                "exactly-once mode was asked for but the service sent no access token",
            ));
        }
        self.access_token = info.access_token.clone();
        self.table_id = info.table_id.clone();
        self.schema_version = info.schema_version;
        self.next_offset = info.row_offset.unwrap_or(0).max(0);
        self.note_token(info.route_token.as_deref());
        self.state = StreamState::Open;
        Ok(())
    }

    /// Starts a write of `record_count` rows; the caller sends the body it prepared and must
    /// keep it until [`on_written`](Self::on_written) (an exactly-once retry re-sends it).
    pub fn begin_write(
        &mut self,
        record_count: i64,
        content_length: Option<u64>,
    ) -> Result<WriteRows, Error> {
        self.expect(StreamState::Open, "write")?;
        if record_count < 0 {
            return Err(Error::Usage(UsageError::InvalidArgument {
                name: "record_count",
                reason: format!("must not be negative, got {record_count}"),
            }));
        }
        let flight = InFlight {
            row_offset: self.exactly_once.then_some(self.next_offset),
            record_count,
            content_length,
            attempts: 1,
            recoveries: 0,
        };
        self.in_flight = Some(flight);
        self.state = StreamState::Writing;
        Ok(self.write_call(&flight))
    }

    fn write_call(&self, flight: &InFlight) -> WriteRows {
        WriteRows {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            stream: self.stream.clone(),
            record_count: flight.record_count,
            row_offset: flight.row_offset,
            access_token: if self.exactly_once {
                self.access_token.clone()
            } else {
                None
            },
            table_id: self.table_id.clone(),
            schema_version: self.schema_version,
            content_length: flight.content_length,
        }
    }

    /// Takes the answer of the in-flight write. In exactly-once mode the service's
    /// `ExactlyOnceRowOffset` must be the offset after this write.
    pub fn on_written(&mut self, result: &WriteRowsResult) -> Result<(), Error> {
        self.expect(StreamState::Writing, "on_written")?;
        let flight = self
            .in_flight
            .take()
            .ok_or_else(|| state_error("on_written", "no write in flight"))?;
        self.note_token(result.route_token.as_deref());
        if let Some(offset) = flight.row_offset {
            let expected = offset + flight.record_count;
            match result.exactly_once_row_offset {
                Some(got) if got == expected => {}
                Some(got) => {
                    self.state = StreamState::Failed;
                    return Err(invalid(
                        Action::TableWrite,
                        "ExactlyOnceRowOffset",
                        &format!(
                            "the service acknowledged offset {got}, expected {expected} (offset {offset} + {} rows)",
                            flight.record_count
                        ),
                    ));
                }
                // Some services only echo the offset on request; trust the arithmetic.
                None => {}
            }
            self.next_offset = expected;
        }
        self.rows_written += flight.record_count;
        self.state = StreamState::Open;
        Ok(())
    }

    /// Decides what to do after the in-flight write failed.
    pub fn on_write_failed(&mut self, failure: WriteFailure) -> Recovery {
        if self.state != StreamState::Writing {
            return Recovery::Fail(state_error("on_write_failed", "no write in flight"));
        }
        let Some(flight) = self.in_flight.as_mut() else {
            return Recovery::Fail(state_error("on_write_failed", "no write in flight"));
        };
        flight.recoveries += 1;
        if flight.recoveries > self.max_recoveries {
            self.state = StreamState::Failed;
            return Recovery::GiveUp;
        }
        let conflict = matches!(&failure, WriteFailure::Service(e) if e.status == 409 || e.code == "RowOffsetConflict");
        let retryable_status = matches!(&failure, WriteFailure::Service(e) if e.is_retryable());
        match failure {
            WriteFailure::NotSent => {
                flight.attempts += 1;
                let flight = *flight;
                Recovery::Resend(self.write_call(&flight))
            }
            _ if self.exactly_once && (conflict || matches!(failure, WriteFailure::Unknown)) => {
                self.state = StreamState::Resyncing;
                Recovery::Resync(self.get_call())
            }
            WriteFailure::Service(_) if self.exactly_once && retryable_status => {
                flight.attempts += 1;
                let flight = *flight;
                Recovery::Resend(self.write_call(&flight))
            }
            WriteFailure::Service(e) => {
                self.state = StreamState::Failed;
                Recovery::Fail(Error::Service(e))
            }
            WriteFailure::Unknown => {
                self.state = StreamState::Failed;
                Recovery::Fail(Error::OutcomeUnknown {
                    operation: "TableWrite",
                    reason: format!(
                        "the connection broke after sending {} rows to stream {} began; without exactly-once \
                         mode the write cannot be retried without risking duplicate rows — abort the session, \
                         or use exactly-once mode",
                        flight.record_count, self.stream.stream_id
                    ),
                })
            }
        }
    }

    /// The `TableGetWriteStream` call that reads the exactly-once state.
    pub fn get_call(&self) -> GetWriteStream {
        GetWriteStream {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            stream: self.stream.clone(),
            table_id: self.table_id.clone(),
            exactly_once: self.exactly_once,
        }
    }

    /// Takes the resync answer: the service's `RowOffset` says whether the in-flight write
    /// was applied. Any other offset means rows would be lost or duplicated: an error.
    pub fn on_resync(&mut self, info: &WriteStreamInfo) -> Result<ResyncOutcome, Error> {
        self.expect(StreamState::Resyncing, "on_resync")?;
        let flight = self
            .in_flight
            .ok_or_else(|| state_error("on_resync", "no write in flight"))?;
        let offset = flight
            .row_offset
            .ok_or_else(|| state_error("on_resync", "not an exactly-once write"))?;
        if let Some(token) = info.access_token.as_deref().filter(|t| !t.is_empty()) {
            self.access_token = Some(token.to_string());
        }
        let server = info.row_offset.ok_or_else(|| {
            self.state = StreamState::Failed;
            invalid(
                Action::TableGetWriteStream,
                "RowOffset",
                "the service sent no row offset for an exactly-once stream",
            )
        })?;
        if server == offset {
            let flight = InFlight {
                attempts: flight.attempts + 1,
                ..flight
            };
            self.in_flight = Some(flight);
            self.state = StreamState::Writing;
            Ok(ResyncOutcome::Resend(Box::new(self.write_call(&flight))))
        } else if server == offset + flight.record_count {
            self.in_flight = None;
            self.next_offset = server;
            self.rows_written += flight.record_count;
            self.state = StreamState::Open;
            Ok(ResyncOutcome::Applied)
        } else {
            self.state = StreamState::Failed;
            Err(invalid(
                Action::TableGetWriteStream,
                "RowOffset",
                &format!(
                    "the service is at row offset {server}, but this stream's in-flight write covers [{offset}, {}): \
                     continuing would lose or duplicate rows",
                    offset + flight.record_count
                ),
            ))
        }
    }

    /// The `TableCloseWriteStream` call, or `None` for streams of the implicit streaming
    /// session (which are never closed). No write may be in flight.
    pub fn close_call(&mut self) -> Result<Option<CloseWriteStream>, Error> {
        self.expect(StreamState::Open, "close")?;
        if self.session_id == crate::write::DEFAULT_SESSION_ID
            || self.stream.stream_id == crate::write::DEFAULT_SESSION_ID
        {
            self.state = StreamState::Closed;
            return Ok(None);
        }
        Ok(Some(CloseWriteStream {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            stream: self.stream.clone(),
        }))
    }

    /// Records that the service closed the stream.
    pub fn on_closed(&mut self) {
        self.state = StreamState::Closed;
    }

    fn note_token(&mut self, token: Option<&str>) {
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            self.route_token = Some(t.to_string());
        }
    }

    fn expect(&self, state: StreamState, operation: &'static str) -> Result<(), Error> {
        if self.state == state {
            Ok(())
        } else {
            Err(Error::Usage(UsageError::InvalidState {
                operation,
                reason: format!(
                    "stream {} (version {}) is {:?}",
                    self.stream.stream_id, self.stream.version, self.state
                ),
            }))
        }
    }
}

fn state_error(operation: &'static str, reason: &str) -> Error {
    Error::Usage(UsageError::InvalidState {
        operation,
        reason: reason.to_string(),
    })
}

fn invalid(action: Action, field: &str, detail: &str) -> Error {
    Error::InvalidResponse(InvalidResponse {
        action,
        field: Some(field.to_string()),
        detail: detail.to_string(),
        request_id: None,
    })
}
