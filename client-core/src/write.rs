//! Writing: the schema of write bodies, setting up stream writers, and the recovery of
//! failed writes.

use maxstorage_codec::types::{ArrowOptions, odps_schema};
use maxstorage_codec::write::{
    ArrowStreamEncoder, EncodedMessage, EncoderOptions, IpcMessageEncoder,
};
use maxstorage_protocol::blob::{WriteBlob, WriteBlobBatch};
use maxstorage_protocol::schema::ColumnKind;
use maxstorage_protocol::state::write_stream::{Recovery, ResyncOutcome, WriteStream};
use maxstorage_protocol::write::{
    CloseWriteStream, CreateWriteStream, GetWriteSession, GetWriteStream, StreamKind, StreamRef,
    WriteMode, WriteRows, WriteRowsResult, WriteStreamInfo,
};
use std::time::Duration;

use bytes::Bytes;
use maxstorage_protocol::{Compression, TableId};

use crate::blob::{BlobItem, blob_batch_body};
use crate::error::{Error, Result};
use crate::operation::{Operation, Step, calls_of_an_operation};
use crate::options::{StreamOptions, WritePosition};
use crate::progress::{Progress, ProgressHook};
use crate::settings::Defaults;

/// The Arrow schema of `TableWrite` bodies: the data columns, plus the partition
/// columns when the session writes dynamic partitions, plus the system columns the
/// service asks for (e.g. `__operation` of delta tables).
pub fn body_schema(info: &WriteStreamInfo, partition_spec: &str) -> Result<arrow_schema::Schema> {
    let dynamic = partition_spec.trim().is_empty();
    let columns = info
        .table_schema
        .iter()
        .filter(|(kind, _)| match kind {
            ColumnKind::Data | ColumnKind::System => true,
            ColumnKind::Partition => dynamic,
        })
        .map(|(_, c)| Ok((c.name().to_string(), c.odps_type()?, c.column_type.nullable)))
        .collect::<std::result::Result<Vec<_>, maxstorage_protocol::schema::SchemaError>>()
        .map_err(|e| {
            Error::Protocol(maxstorage_protocol::Error::InvalidResponse(
                maxstorage_protocol::InvalidResponse {
                    action: maxstorage_protocol::Action::TableCreateWriteStream,
                    field: Some("TableSchema".into()),
                    detail: e.to_string(),
                    request_id: None,
                },
            ))
        })?;
    Ok(odps_schema(
        columns.iter().map(|(n, t, null)| (n.as_str(), t, *null)),
        &ArrowOptions::default(),
    )?)
}

/// The calls of one body's write: the write itself, or asking the service where the
/// stream is after a failure whose outcome is unknown.
#[derive(Debug, Clone)]
pub enum StreamCall {
    /// `TableWrite` with the body.
    Write(WriteRows),
    /// `TableGetWriteStream`.
    Resync(GetWriteStream),
}

/// The answer to a [`StreamCall`].
#[derive(Debug, Clone)]
pub enum StreamAnswer {
    /// The write was acknowledged.
    Written(WriteRowsResult),
    /// Where the stream is.
    Position(Box<WriteStreamInfo>),
}

calls_of_an_operation!(StreamCall -> StreamAnswer {
    Write => StreamAnswer::Written,
    Resync => |info| StreamAnswer::Position(Box::new(info)),
});

/// The write of one request body of a stream, as an [`Operation`]: send the body, and
/// after a failure recover as the exactly-once state machine ([`WriteStream`]) says —
/// re-send the identical bytes, ask where the stream is, or fail — so that no row is
/// written twice nor lost. The acknowledgement is reported to the client's progress
/// listener. Done with the service's answer, or `None` when a resync showed that an
/// attempt whose answer was lost had been applied.
#[derive(Debug)]
pub struct BodySend<'m> {
    machine: &'m mut WriteStream,
    body: Vec<Bytes>,
    rows: u64,
    bytes: u64,
    hook: ProgressHook,
    /// The first write, until it is sent.
    first: Option<WriteRows>,
    /// Whether the call in flight is a resync (whose failure fails the write).
    resyncing: bool,
}

impl<'m> BodySend<'m> {
    /// The write of `body` (`rows` rows, sent in these pieces) at the stream's next row.
    pub fn new(
        machine: &'m mut WriteStream,
        body: Vec<Bytes>,
        rows: i64,
        hook: &ProgressHook,
    ) -> Result<BodySend<'m>> {
        let bytes = body.iter().map(|b| b.len() as u64).sum();
        let first = machine.begin_write(rows, Some(bytes))?;
        Ok(BodySend {
            machine,
            body,
            rows: rows.max(0) as u64,
            bytes,
            hook: hook.clone(),
            first: Some(first),
            resyncing: false,
        })
    }

    fn acknowledged(&self) {
        self.hook.emit(&Progress::BodyWritten {
            target: &self.machine.table().target(),
            session: self.machine.session_id(),
            stream: self.machine.stream(),
            rows: self.rows,
            bytes: self.bytes,
        });
    }

    fn write(&mut self, call: WriteRows) -> Step<StreamCall, Option<WriteRowsResult>> {
        self.resyncing = false;
        Step::CallWithBody(StreamCall::Write(call), self.body.clone())
    }
}

impl Operation for BodySend<'_> {
    type Call = StreamCall;
    type Output = Option<WriteRowsResult>;

    fn next(
        &mut self,
        _elapsed: Duration,
        answer: Option<Result<StreamAnswer>>,
    ) -> Result<Step<StreamCall, Option<WriteRowsResult>>> {
        let Some(answer) = answer else {
            let first = self.first.take().ok_or(Error::Internal(
                "a body write went on without the answer to its call",
            ))?;
            return Ok(self.write(first));
        };
        match answer {
            Ok(StreamAnswer::Written(result)) => {
                self.machine.on_written(&result)?;
                self.acknowledged();
                Ok(Step::Done(Some(result)))
            }
            Ok(StreamAnswer::Position(info)) => match self.machine.on_resync(&info)? {
                ResyncOutcome::Applied => {
                    self.acknowledged();
                    Ok(Step::Done(None))
                }
                ResyncOutcome::Resend(call) => Ok(self.write(*call)),
            },
            Err(error) if self.resyncing => Err(error),
            Err(error) => {
                let Some(failure) = error.write_failure() else {
                    return Err(error);
                };
                match self.machine.on_write_failed(failure) {
                    Recovery::Resend(call) => Ok(self.write(call)),
                    Recovery::Resync(get) => {
                        self.resyncing = true;
                        Ok(Step::Call(StreamCall::Resync(get)))
                    }
                    Recovery::Fail(e) => Err(e.into()),
                    Recovery::GiveUp => Err(error),
                }
            }
        }
    }
}

/// What a new stream writer starts with: its state machine, the Arrow schema batches must
/// have, and the encoder of its request bodies.
#[derive(Debug)]
pub struct OpenedStream {
    /// The stream's state machine, created.
    pub machine: WriteStream,
    /// The schema of the batches.
    pub schema: arrow_schema::SchemaRef,
    /// The body encoder.
    pub encoder: ArrowStreamEncoder,
    /// Encoders for other threads, when batches are compressed on several
    /// ([`StreamOptions::encoding_threads`]); `None`: the caller encodes.
    pub parallel: Option<ParallelEncoding>,
    /// The writer's share of the client's body memory: apply
    /// [`BudgetShare::body_bytes`] with [`ArrowStreamEncoder::set_target_body_bytes`]
    /// before each write.
    pub budget: BudgetShare,
    /// The client's progress listener (for [`BodySend::new`]).
    pub progress: ProgressHook,
    /// The span of the stream's write (`maxstorage.stream_write`: target, session,
    /// stream, version, mode, compression; `rows` when finished): send its bodies in it.
    pub span: tracing::Span,
}

/// Default of the request-body memory a client's stream writers share: 40 MiB, so four
/// parallel writers keep 5 MiB bodies and their buffers stay well within 64 MiB
/// (BENCHMARKS.md); one to two writers keep the full 8 MiB default body.
pub const DEFAULT_WRITE_BUFFER_BYTES: usize = 40 * 1024 * 1024;

/// The error of a call on a stream writer that an earlier failed call broke.
pub fn broken_writer(reason: &str) -> Error {
    Error::Protocol(maxstorage_protocol::Error::Usage(
        maxstorage_protocol::UsageError::InvalidState {
            operation: "write",
            reason: reason.to_string(),
        },
    ))
}

/// The most slices one writer has in the works at once, whatever the number of cores.
pub const MAX_SLICES_IN_FLIGHT: usize = 8;

/// The smallest body a budget shrinks a writer's bodies to.
pub const MIN_BUDGET_BODY_BYTES: usize = 1024 * 1024;

/// The request-body memory a client's stream writers share: each open writer takes a
/// [`BudgetShare`], and its bodies shrink as more writers are open. Cheap to clone (the
/// clones share the count).
#[derive(Debug, Clone)]
pub struct BodyBudget {
    total: usize,
    writers: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl BodyBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> BodyBudget {
        BodyBudget {
            total,
            writers: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    /// A share for one more writer, whose bodies are at most `max_body_bytes`.
    pub fn join(&self, max_body_bytes: usize) -> BudgetShare {
        self.writers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        BudgetShare {
            budget: self.clone(),
            max_body_bytes,
        }
    }

    /// Writers holding a share now.
    pub fn writers(&self) -> usize {
        self.writers.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One writer's part of a [`BodyBudget`]; gives it back when dropped.
#[derive(Debug)]
pub struct BudgetShare {
    budget: BodyBudget,
    max_body_bytes: usize,
}

impl BudgetShare {
    /// The body size to build next: the budget split over two bodies per open writer,
    /// within `[MIN_BUDGET_BODY_BYTES, max_body_bytes]` (the writer's own limit wins when
    /// it is smaller than the minimum).
    pub fn body_bytes(&self) -> usize {
        let writers = self.budget.writers().max(1);
        let share = self.budget.total / (2 * writers);
        share.max(MIN_BUDGET_BODY_BYTES).min(self.max_body_bytes)
    }
}

impl Drop for BudgetShare {
    fn drop(&mut self) {
        self.budget
            .writers
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How a stream writer compresses batches on several threads: the encoders the threads
/// share, and how many slices may be in the works at once. The transport runs the
/// threads; this holds what they use and decides how many.
#[derive(Debug, Clone)]
pub struct ParallelEncoding {
    /// The encoders.
    pub encoders: std::sync::Arc<MessageEncoders>,
    /// Slices handed out and not yet placed in a body, at most: twice the threads, so
    /// every thread has the next slice waiting while the oldest is placed, and never more
    /// than [`MAX_SLICES_IN_FLIGHT`] (each holds its batch and, once encoded, its message).
    pub max_in_flight: usize,
}

/// Encoders of one stream's record batch messages, shared by the threads that encode its
/// slices: each call takes a spare encoder (or makes one) and puts it back.
#[derive(Debug)]
pub struct MessageEncoders {
    template: IpcMessageEncoder,
    spare: std::sync::Mutex<Vec<IpcMessageEncoder>>,
}

impl MessageEncoders {
    /// Encoders like `template`.
    pub fn new(template: IpcMessageEncoder) -> MessageEncoders {
        MessageEncoders {
            template,
            spare: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Encodes one slice (from [`ArrowStreamEncoder::slices`]); any thread may call it. A
    /// panic while encoding is returned as an error, so a pool thread never unwinds.
    pub fn encode(&self, slice: &arrow_array::RecordBatch) -> Result<EncodedMessage> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.encode_with_spare(slice)
        }))
        .unwrap_or_else(|_| Err(Error::Internal("encoding a batch panicked")))
    }

    fn encode_with_spare(&self, slice: &arrow_array::RecordBatch) -> Result<EncodedMessage> {
        let taken = self.spare.lock().ok().and_then(|mut s| s.pop());
        let mut encoder = match taken {
            Some(e) => e,
            None => self.template.fresh()?,
        };
        let message = encoder.encode_batch(slice)?;
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(encoder);
        }
        Ok(message)
    }
}

/// The threads compressed batches are encoded on: [`StreamOptions::encoding_threads`], or
/// every core for `0`.
fn encoding_threads(options: &StreamOptions, cores: usize) -> usize {
    match options.encoding_threads {
        0 => cores,
        n => n,
    }
}

/// Sets up a stream writer from the service's answer to `TableCreateWriteStream`.
pub fn open_stream(
    mut machine: WriteStream,
    info: &WriteStreamInfo,
    partition_spec: &str,
    options: &StreamOptions,
    defaults: &Defaults,
) -> Result<OpenedStream> {
    machine.on_created(info)?;
    let schema = std::sync::Arc::new(body_schema(info, partition_spec)?);
    let compression = options.compression.unwrap_or(defaults.compression);
    let span = tracing::debug_span!(
        "maxstorage.stream_write",
        target = %machine.table().target(),
        session = %machine.session_id(),
        stream = %machine.stream().stream_id,
        version = machine.stream().version,
        exactly_once = options.exactly_once,
        %compression,
        rows = tracing::field::Empty,
    );
    let encoder = ArrowStreamEncoder::new(
        schema.clone(),
        EncoderOptions::with_compression(compression)
            .with_target_body_bytes(options.max_body_bytes),
    )?;
    let threads = encoding_threads(options, defaults.cores);
    let parallel = if threads > 1 && compression != Compression::Uncompressed {
        Some(ParallelEncoding {
            encoders: std::sync::Arc::new(MessageEncoders::new(encoder.message_encoder()?)),
            max_in_flight: (2 * threads).min(MAX_SLICES_IN_FLIGHT),
        })
    } else {
        None
    };
    Ok(OpenedStream {
        machine,
        schema,
        encoder,
        parallel,
        budget: defaults.write_buffer.join(options.max_body_bytes),
        progress: defaults.progress.clone(),
        span,
    })
}

/// The calls of one write session, built from its table, id and mode — what both clients'
/// session handles send.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCalls {
    /// The table.
    pub table: TableId,
    /// The session id.
    pub session_id: String,
    /// The write mode.
    pub mode: WriteMode,
}

impl SessionCalls {
    /// `TableCreateWriteStream`.
    pub fn create_stream(&self, stream: &StreamRef, kind: StreamKind) -> CreateWriteStream {
        CreateWriteStream {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            stream: stream.clone(),
            exactly_once: kind.is_exactly_once(),
        }
    }

    /// The state machine of a new stream writer.
    pub fn stream_machine(&self, stream: StreamRef, kind: StreamKind) -> WriteStream {
        WriteStream::new(
            self.table.clone(),
            self.session_id.clone(),
            self.mode,
            stream,
            kind,
        )
    }

    /// `TableCloseWriteStream`.
    pub fn close_stream(&self, stream: &StreamRef) -> CloseWriteStream {
        CloseWriteStream {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            stream: stream.clone(),
        }
    }

    /// A raw `TableWrite` of `record_count` rows; an exactly-once write carries its
    /// [`WritePosition`].
    pub fn raw_write(
        &self,
        stream: &StreamRef,
        record_count: i64,
        position: Option<WritePosition>,
    ) -> WriteRows {
        let (row_offset, access_token) = match position {
            Some(p) => (Some(p.row_offset), Some(p.access_token)),
            None => (None, None),
        };
        WriteRows {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            stream: stream.clone(),
            record_count,
            row_offset,
            access_token,
            table_id: None,
            schema_version: None,
            content_length: None,
        }
    }

    /// `TableGetWriteSession`.
    pub fn get_session(&self) -> GetWriteSession {
        GetWriteSession {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
        }
    }

    /// `TableGetWriteStream`.
    pub fn get_stream(&self, stream: &StreamRef, kind: StreamKind) -> GetWriteStream {
        GetWriteStream {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            mode: self.mode,
            stream: stream.clone(),
            table_id: None,
            exactly_once: kind.is_exactly_once(),
        }
    }

    /// A streamed single-blob upload.
    pub fn write_blob(
        &self,
        stream: &StreamRef,
        partition_values: Vec<String>,
        column_index: i64,
        compression: Compression,
    ) -> WriteBlob {
        WriteBlob {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            stream: stream.clone(),
            partition_values,
            column_index,
            compression,
            content_length: None,
        }
    }

    /// A batch blob upload of `items` (v3 sends file names), returning the call and its
    /// body.
    pub fn write_blob_batch(
        &self,
        stream: &StreamRef,
        items: &[BlobItem],
        v3: bool,
        compression: Compression,
    ) -> Result<(WriteBlobBatch, Bytes)> {
        let body = blob_batch_body(items, v3, compression)?;
        Ok((
            WriteBlobBatch {
                table: self.table.clone(),
                session_id: self.session_id.clone(),
                stream: stream.clone(),
                item_count: items.len(),
                compression,
                content_length: Some(body.len() as u64),
            },
            body,
        ))
    }
}

/// The client-side state of a write-session handle, shared by both clients' handles:
/// which session, its calls, its guard state machine, and an optional route-token override.
#[derive(Debug, Clone)]
pub struct SessionCore {
    /// The session's calls (table, id, mode).
    pub calls: SessionCalls,
    /// The table's `Target` (the key of route tokens).
    pub target: String,
    /// The static partition of the session (empty for none or dynamic partitions).
    pub partition_spec: String,
    /// An explicit route token sent instead of the learned one.
    pub route_override: Option<String>,
    state:
        std::sync::Arc<std::sync::Mutex<maxstorage_protocol::state::write_session::WriteSession>>,
}

impl SessionCore {
    /// The state of session `session_id` of `table`.
    pub fn new(
        table: TableId,
        session_id: String,
        mode: WriteMode,
        partition_spec: String,
    ) -> SessionCore {
        let state = maxstorage_protocol::state::write_session::WriteSession::new(
            table.clone(),
            session_id.clone(),
            mode,
        );
        SessionCore {
            target: table.target(),
            calls: SessionCalls {
                table,
                session_id,
                mode,
            },
            partition_spec,
            route_override: None,
            state: std::sync::Arc::new(std::sync::Mutex::new(state)),
        }
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.calls.session_id
    }

    /// Settles a stream registration with the answer to its create call: a refusal by the
    /// service (an error answer) undoes it; success or an unknown outcome keeps the stream
    /// open.
    pub fn settle_stream<T>(
        &self,
        registration: maxstorage_protocol::state::write_session::StreamRegistration,
        created: &Result<T>,
    ) -> Result<()> {
        if let Err(e) = created
            && e.service_code().is_some()
        {
            self.state()?.stream_refused(registration);
        }
        Ok(())
    }

    /// The write mode.
    pub fn mode(&self) -> WriteMode {
        self.calls.mode
    }

    /// The route of the session's calls.
    pub fn route(&self) -> crate::exchange::Route<'_> {
        crate::exchange::Route::session(&self.target, &self.calls.session_id)
            .with_override(self.route_override.as_deref())
    }

    /// The session's guard state machine.
    pub fn state(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, maxstorage_protocol::state::write_session::WriteSession>>
    {
        self.state
            .lock()
            .map_err(|_| Error::Internal("the write session's state lock is poisoned"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_budget_shrinks_bodies_as_writers_open_and_gives_them_back() {
        let mib = 1024 * 1024;
        let budget = BodyBudget::new(40 * mib);
        let first = budget.join(8 * mib);
        assert_eq!(first.body_bytes(), 8 * mib, "one writer: its own limit");
        let more: Vec<BudgetShare> = (0..3).map(|_| budget.join(8 * mib)).collect();
        assert_eq!(budget.writers(), 4);
        assert_eq!(first.body_bytes(), 5 * mib, "four writers: 40 MiB / 8");
        let many: Vec<BudgetShare> = (0..60).map(|_| budget.join(8 * mib)).collect();
        assert_eq!(
            first.body_bytes(),
            MIN_BUDGET_BODY_BYTES,
            "never below the floor"
        );
        let small = budget.join(64 * 1024);
        assert_eq!(small.body_bytes(), 64 * 1024, "a smaller own limit wins");
        drop((many, more, small));
        assert_eq!(budget.writers(), 1);
        assert_eq!(first.body_bytes(), 8 * mib);
    }

    mod body_send {
        use super::super::*;
        use crate::progress::ProgressCounters;
        use maxstorage_protocol::error::ServiceError;
        use std::sync::Arc;

        fn stream(kind: StreamKind) -> WriteStream {
            let mut s = WriteStream::new(
                TableId::new("p", "t"),
                "sess",
                WriteMode::Batch,
                StreamRef::new("0", 1),
                kind,
            );
            s.on_created(&WriteStreamInfo {
                access_token: Some("tok".into()),
                ..Default::default()
            })
            .unwrap();
            s
        }

        fn body() -> Vec<Bytes> {
            vec![Bytes::from_static(b"abc"), Bytes::from_static(b"de")]
        }

        fn ack(offset: i64) -> Result<StreamAnswer> {
            Ok(StreamAnswer::Written(WriteRowsResult {
                exactly_once_row_offset: Some(offset),
                ..Default::default()
            }))
        }

        fn at(offset: i64) -> Result<StreamAnswer> {
            Ok(StreamAnswer::Position(Box::new(WriteStreamInfo {
                row_offset: Some(offset),
                ..Default::default()
            })))
        }

        fn broken() -> Result<StreamAnswer> {
            Err(Error::io(
                "sending",
                std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
            ))
        }

        fn service(status: u16) -> Result<StreamAnswer> {
            Err(Error::Protocol(maxstorage_protocol::Error::Service(
                ServiceError {
                    action: maxstorage_protocol::Action::TableWrite,
                    status,
                    code: "Code".into(),
                    message: "m".into(),
                    request_id: None,
                    retry_after: None,
                },
            )))
        }

        /// The row offset of a write step carrying the whole body, or a panic.
        fn write_at(step: Step<StreamCall, Option<WriteRowsResult>>) -> Option<i64> {
            match step {
                Step::CallWithBody(StreamCall::Write(w), sent) => {
                    assert_eq!(sent, body(), "the identical body every time");
                    w.row_offset
                }
                other => panic!("expected a write with the body, got {other:?}"),
            }
        }

        fn counters() -> (Arc<ProgressCounters>, ProgressHook) {
            let counters = Arc::new(ProgressCounters::default());
            let hook = ProgressHook::new(counters.clone());
            (counters, hook)
        }

        #[test]
        fn an_acknowledged_body_is_done_with_the_answer_and_reported() {
            let mut machine = stream(StreamKind::ExactlyOnce);
            let (counters, hook) = counters();
            let mut op = BodySend::new(&mut machine, body(), 3, &hook).unwrap();
            assert_eq!(write_at(op.next(Duration::ZERO, None).unwrap()), Some(0));
            let Step::Done(Some(result)) = op.next(Duration::ZERO, Some(ack(3))).unwrap() else {
                panic!("expected done with the answer")
            };
            assert_eq!(result.exactly_once_row_offset, Some(3));
            assert_eq!((counters.rows_written(), counters.bytes_written()), (3, 5));
            assert_eq!(machine.rows_written(), 3);
        }

        #[test]
        fn a_lost_answer_is_resynced_and_a_write_applied_is_not_sent_again() {
            let mut machine = stream(StreamKind::ExactlyOnce);
            let (counters, hook) = counters();
            let mut op = BodySend::new(&mut machine, body(), 3, &hook).unwrap();
            let _ = write_at(op.next(Duration::ZERO, None).unwrap());
            let Step::Call(StreamCall::Resync(_)) =
                op.next(Duration::ZERO, Some(broken())).unwrap()
            else {
                panic!("expected a resync")
            };
            assert!(matches!(
                op.next(Duration::ZERO, Some(at(3))).unwrap(),
                Step::Done(None)
            ));
            assert_eq!(counters.rows_written(), 3, "applied once, reported once");
            assert_eq!(machine.rows_written(), 3);
        }

        #[test]
        fn a_write_not_applied_is_sent_again_at_the_same_offset() {
            let mut machine = stream(StreamKind::ExactlyOnce);
            let hook = ProgressHook::default();
            let mut op = BodySend::new(&mut machine, body(), 3, &hook).unwrap();
            let _ = write_at(op.next(Duration::ZERO, None).unwrap());
            let _ = op.next(Duration::ZERO, Some(broken())).unwrap();
            assert_eq!(
                write_at(op.next(Duration::ZERO, Some(at(0))).unwrap()),
                Some(0)
            );
            // A retryable service error re-sends the same bytes at the same offset too.
            assert_eq!(
                write_at(op.next(Duration::ZERO, Some(service(503))).unwrap()),
                Some(0)
            );
            assert!(matches!(
                op.next(Duration::ZERO, Some(ack(3))).unwrap(),
                Step::Done(Some(_))
            ));
        }

        #[test]
        fn a_failed_resync_or_a_plain_stream_broken_mid_write_fails_loudly() {
            let mut machine = stream(StreamKind::ExactlyOnce);
            let hook = ProgressHook::default();
            let mut op = BodySend::new(&mut machine, body(), 3, &hook).unwrap();
            let _ = write_at(op.next(Duration::ZERO, None).unwrap());
            let _ = op.next(Duration::ZERO, Some(broken())).unwrap();
            assert!(matches!(
                op.next(Duration::ZERO, Some(broken())),
                Err(Error::Io { .. })
            ));

            let mut machine = stream(StreamKind::Plain);
            let mut op = BodySend::new(&mut machine, body(), 3, &hook).unwrap();
            let _ = write_at(op.next(Duration::ZERO, None).unwrap());
            let err = op.next(Duration::ZERO, Some(broken())).unwrap_err();
            assert!(
                err.to_string().contains("duplicate rows"),
                "a plain stream cannot retry an unknown outcome: {err}"
            );
            // A write the service refused is not sent again.
            let mut machine = stream(StreamKind::ExactlyOnce);
            let mut op = BodySend::new(&mut machine, body(), 3, &hook).unwrap();
            let _ = write_at(op.next(Duration::ZERO, None).unwrap());
            assert!(op.next(Duration::ZERO, Some(service(400))).is_err());
        }

        #[test]
        fn recoveries_are_capped() {
            let mut machine = stream(StreamKind::ExactlyOnce).with_max_recoveries(2);
            let hook = ProgressHook::default();
            let mut op = BodySend::new(&mut machine, body(), 3, &hook).unwrap();
            let _ = write_at(op.next(Duration::ZERO, None).unwrap());
            let _ = write_at(op.next(Duration::ZERO, Some(service(503))).unwrap());
            let _ = write_at(op.next(Duration::ZERO, Some(service(503))).unwrap());
            let err = op.next(Duration::ZERO, Some(service(503))).unwrap_err();
            assert!(matches!(err, Error::Protocol(_)), "the last error: {err}");
        }
    }
}
