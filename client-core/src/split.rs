//! Reading record batches, without the I/O: decoding a response body pushed in chunks,
//! and the resumable read of one split (when to resume, after how long, when to give up).
//!
//! A client reads a split like this (blocking or async, the loop is the same):
//!
//! ```text
//! let mut split = SplitProgress::new(&session, selection, &options, &defaults);
//! // run the loop inside split.span()
//! loop {
//!     let call = split.request()?;                     // first request, or the resume
//!     let (head, body) = match send(call) {
//!         Ok(answer) => answer,
//!         Err(e) => { sleep(split.on_open_failed(e, &retry)?); continue }
//!     };
//!     let mut decoder = split.decoder(&head)?;
//!     loop {
//!         match decoder.step()? {
//!             Step::Batch(b) => yield split.on_batch(b, &decoder)?,
//!             Step::End => { split.on_end(); return }
//!             Step::NeedInput => match body.read() {
//!                 chunk => decoder.feed(chunk)?,
//!                 end => if let Some(e) = decoder.end_of_body()? { broke(e) },
//!                 error => broke(error),
//!             },
//!         }
//!     }
//!     // broke(e): match split.on_broken(e, &retry)? { None => return, Some(d) => sleep(d) }
//! }
//! ```

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use maxstorage_codec::read::{ArrowStreamDecoder, BodyEncoding, DecoderOptions};
use maxstorage_protocol::StreamingResponse;
use maxstorage_protocol::read::{ReadRows, RowSelection};
use maxstorage_protocol::retry::{RetryPolicy, SplitMix64};
use maxstorage_protocol::state::split_reader::{BreakOutcome, SplitReader, SplitState};
use std::time::Duration;
use tracing::{Span, warn};

use crate::error::{Error, IntegrityError, Result};
use crate::options::ReadOptions;
use crate::progress::{Progress, ProgressHook};
use crate::session::TableReadSession;
use crate::settings::Defaults;

/// What a [`BodyDecoder`] has next.
#[derive(Debug)]
#[must_use = "deliver the batch, end the read, or feed more of the body"]
pub enum Step {
    /// A complete batch.
    Batch(RecordBatch),
    /// The stream ended cleanly (end-of-stream marker and end of body).
    End,
    /// More of the body is needed.
    NeedInput,
}

/// What a whole-session read (`read_all`) starts from: the client's call driver `core`,
/// the session, the read options and client defaults every split read takes, and how many
/// workers read at once (at least one).
pub struct ParallelRead<C> {
    /// The client's call driver, shared by the workers.
    pub core: std::sync::Arc<C>,
    /// The session whose splits are read.
    pub session: std::sync::Arc<TableReadSession>,
    /// The options of every split read.
    pub options: ReadOptions,
    /// The client's defaults.
    pub defaults: Defaults,
    /// How many splits are read at once.
    pub workers: usize,
}

impl<C> std::fmt::Debug for ParallelRead<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelRead")
            .field("session", &self.session.id())
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// The splits of a whole-session read, handed out one at a time, in order, to the
/// workers (threads or tasks) that read them. Shared behind an `Arc`.
#[derive(Debug)]
pub struct SplitQueue {
    splits: std::sync::Mutex<std::collections::VecDeque<(usize, RowSelection)>>,
}

impl SplitQueue {
    /// Every split of `session`, each with its position in
    /// [`TableReadSession::splits`].
    pub fn new(session: &TableReadSession) -> SplitQueue {
        SplitQueue {
            splits: std::sync::Mutex::new(session.splits().into_iter().enumerate().collect()),
        }
    }

    /// The next split to read and its position, or `None` when none is left.
    pub fn next(&self) -> Option<(usize, RowSelection)> {
        self.splits.lock().ok()?.pop_front()
    }
}

/// What a client's reading of the next piece of a response body gave.
#[derive(Debug)]
#[must_use = "deliver the batch, end the read, or resume after the break"]
pub enum Piece {
    /// A batch.
    Batch(RecordBatch),
    /// The stream ended cleanly.
    End,
    /// The connection broke or the body was cut short: a split read may resume.
    Broken(Error),
}

impl Piece {
    /// The next item of a read that cannot resume, from the piece read (or the error
    /// reading it): a batch, the end (`None`), or the break or error as the last item.
    /// Sets `done` once the read is over.
    pub fn into_final_item(piece: Result<Piece>, done: &mut bool) -> Option<Result<RecordBatch>> {
        let next = match piece {
            Ok(Piece::Batch(batch)) => Ok(Some(batch)),
            Ok(Piece::End) => Ok(None),
            Ok(Piece::Broken(e)) | Err(e) => Err(e),
        };
        crate::items::fuse(next, done)
    }
}

/// A response body being decoded into record batches, fed chunk by chunk.
#[derive(Debug)]
pub struct BodyDecoder {
    decoder: ArrowStreamDecoder,
    ended: bool,
}

impl BodyDecoder {
    /// A decoder for the body of the response with head `head` (its `Content-Encoding`
    /// decides the whole-body decompression).
    pub fn new(head: &StreamingResponse, options: DecoderOptions) -> Result<BodyDecoder> {
        let options = options.with_body_encoding(BodyEncoding::from_content_encoding(
            head.content_encoding.as_deref(),
        )?);
        Ok(BodyDecoder {
            decoder: ArrowStreamDecoder::new(options),
            ended: false,
        })
    }

    /// The schema, once the stream's schema message has arrived.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.decoder.schema()
    }

    /// The next batch, the end, or a request for more input. A corrupt stream is an
    /// error.
    pub fn step(&mut self) -> Result<Step> {
        if let Some(batch) = self.decoder.next_batch()? {
            return Ok(Step::Batch(batch));
        }
        Ok(if self.ended {
            Step::End
        } else {
            Step::NeedInput
        })
    }

    /// Body bytes fed so far (as received, possibly compressed).
    pub fn bytes_fed(&self) -> u64 {
        self.decoder.bytes_fed()
    }

    /// Feeds the next chunk of the body.
    pub fn feed(&mut self, chunk: Bytes) -> Result<()> {
        Ok(self.decoder.feed_bytes(chunk)?)
    }

    /// Declares the end of the body. `Ok(Some(e))`: the body was cut short (the read
    /// may resume); `Err`: it is corrupt; `Ok(None)`: it was complete.
    pub fn end_of_body(&mut self) -> Result<Option<Error>> {
        match self.decoder.finish() {
            Ok(()) => {
                self.ended = true;
                Ok(None)
            }
            Err(e) if e.is_truncated() => Ok(Some(e.into())),
            Err(e) => Err(e.into()),
        }
    }
}

/// The resumable read of one split (or row range): where it is, which request to send
/// next, and what a failure means. Rows come out exactly once, or the read ends with an
/// error — never silently short.
#[derive(Debug)]
pub struct SplitProgress {
    target: String,
    reader: SplitReader,
    decoder_options: DecoderOptions,
    max_resumes: u32,
    jitter: SplitMix64,
    /// The batches' schema: the session's, known before the first byte, unless the read
    /// asks for other columns than the session's; then the first response's.
    schema: Option<SchemaRef>,
    /// Whether `schema` came from the session (batches are checked against it).
    from_session: bool,
    session_id: String,
    hook: ProgressHook,
    /// Body bytes of the current response already reported.
    fed_mark: u64,
    span: Span,
}

impl SplitProgress {
    /// The read of `selection` in `session`, with a client's `defaults` (compression,
    /// progress listener).
    pub fn new(
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
        defaults: &Defaults,
    ) -> SplitProgress {
        let default_compression = defaults.compression;
        let target = session.table().target();
        let span = tracing::debug_span!(
            "maxstorage.split_read",
            target = %target,
            session = %session.id(),
            split = selection.split_index,
            offset = selection.row_range.map(|r| r.offset),
            rows = tracing::field::Empty,
            resumes = tracing::field::Empty,
        );
        let reader = SplitReader::new(
            session.table().clone(),
            session.id(),
            selection,
            options.to_wire(),
            options.compression.unwrap_or(default_compression),
        );
        let schema = session.batch_schema(options);
        SplitProgress {
            target,
            reader,
            decoder_options: session.decoder_options(),
            max_resumes: options.max_resumes,
            jitter: SplitMix64::new(selection_seed(&selection)),
            from_session: schema.is_some(),
            schema,
            session_id: session.id().to_string(),
            hook: defaults.progress.clone(),
            fed_mark: 0,
            span,
        }
    }

    /// The span of the read (`maxstorage.split_read`: target, session, split, offset,
    /// and at the end rows and resumes): run the read's requests inside it.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// The target (for the route of the requests).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The state machine.
    pub fn reader(&self) -> &SplitReader {
        &self.reader
    }

    /// The schema of the batches: the session's (data columns, then partition columns),
    /// known before anything is read — or, for a read of other columns than the
    /// session's ([`ReadOptions::data_columns`]), the first response's once it started.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    /// Rows delivered so far.
    pub fn rows(&self) -> u64 {
        self.reader.delivered()
    }

    /// How many times the read resumed after a break.
    pub fn resumes(&self) -> u32 {
        self.reader.resumes()
    }

    /// Whether the read is complete.
    pub fn is_done(&self) -> bool {
        self.reader.state() == SplitState::Done
    }

    /// The request to send now: the first one or the resume.
    pub fn request(&mut self) -> Result<ReadRows> {
        Ok(self.reader.request()?)
    }

    /// A decoder for the body of an answer.
    pub fn decoder(&mut self, head: &StreamingResponse) -> Result<BodyDecoder> {
        self.fed_mark = 0;
        BodyDecoder::new(head, self.decoder_options.clone())
    }

    /// The request failed (after the executor's own retries): `Ok(delay)` to resume after
    /// `delay`, or the error.
    pub fn on_open_failed(&mut self, error: Error, retry: &RetryPolicy) -> Result<Duration> {
        if error.is_retryable()
            && self.reader.state() == SplitState::Reading
            && let BreakOutcome::ResumeAfter(delay) = self.on_break(&error, retry)
        {
            return Ok(delay);
        }
        // (`Complete` cannot follow a failed request: nothing of it arrived.)
        Err(error)
    }

    /// A batch arrived: counts it and returns it to hand to the caller, in the schema
    /// [`schema`](Self::schema) announced. A batch whose columns are not the session's
    /// (other names, a count, or types that do not cast) is an [`Error::Integrity`].
    pub fn on_batch(&mut self, batch: RecordBatch, decoder: &BodyDecoder) -> Result<RecordBatch> {
        let batch = match &self.schema {
            None => {
                self.schema = decoder.schema();
                batch
            }
            Some(schema) if self.from_session => conform(batch, schema)?,
            Some(_) => batch,
        };
        self.reader.on_rows(batch.num_rows());
        let fed = decoder.bytes_fed();
        self.hook.emit(&Progress::BatchRead {
            target: &self.target,
            session: &self.session_id,
            rows: batch.num_rows() as u64,
            bytes: fed.saturating_sub(self.fed_mark),
        });
        self.fed_mark = fed;
        Ok(batch)
    }

    /// The stream ended cleanly (its schema is known now even if it held no batch).
    pub fn on_end(&mut self, decoder: &BodyDecoder) {
        if self.schema.is_none() {
            self.schema = decoder.schema();
        }
        self.reader.on_end_of_stream();
        self.span.record("rows", self.reader.delivered());
        self.span.record("resumes", self.reader.resumes());
    }

    /// The body broke (connection lost, cut short): `Ok(None)` when every requested row
    /// had arrived anyway (the read is complete), `Ok(Some(delay))` to resume after
    /// `delay`, or the error when resumes are exhausted (the protocol's
    /// [`SplitReader::on_break`] decides).
    pub fn on_broken(&mut self, cause: Error, retry: &RetryPolicy) -> Result<Option<Duration>> {
        match self.on_break(&cause, retry) {
            BreakOutcome::Complete => Ok(None),
            BreakOutcome::ResumeAfter(delay) => Ok(Some(delay)),
            BreakOutcome::GiveUp(_) => Err(cause),
        }
    }

    /// The protocol's decision about a break, logged when the read resumes.
    fn on_break(&mut self, cause: &Error, retry: &RetryPolicy) -> BreakOutcome {
        let outcome = self
            .reader
            .on_break(retry, self.max_resumes, &mut self.jitter);
        if let BreakOutcome::ResumeAfter(delay) = &outcome {
            warn!(target = %self.target, delivered = self.reader.delivered(), resumes = self.reader.resumes(), ?delay, error = %cause, "split read broke; resuming");
        }
        outcome
    }
}

/// `batch` in the session's `schema`: the same columns by name and count, each of the
/// schema's type (cast when the service chose an equivalent one, e.g. a large string).
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema_ref() == schema {
        return Ok(batch);
    }
    let got = batch.schema();
    let mismatch = |why: String| {
        let names = |s: &arrow_schema::Schema| {
            s.fields()
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Error::from(IntegrityError::Columns {
            got: names(&got),
            expected: names(schema),
            reason: why,
        })
    };
    if got.fields().len() != schema.fields().len() {
        return Err(mismatch("another number of columns".into()));
    }
    let columns = batch
        .columns()
        .iter()
        .zip(got.fields().iter().zip(schema.fields()))
        .map(|(column, (have, want))| {
            if !have.name().eq_ignore_ascii_case(want.name()) {
                return Err(mismatch(format!(
                    "{} where {} was expected",
                    have.name(),
                    want.name()
                )));
            }
            if have.data_type() == want.data_type() {
                return Ok(column.clone());
            }
            arrow_cast::cast(column, want.data_type())
                .map_err(|e| mismatch(format!("column {}: {e}", want.name())))
        })
        .collect::<Result<Vec<_>>>()?;
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options)
        .map_err(|e| mismatch(e.to_string()))
}

fn selection_seed(selection: &RowSelection) -> u64 {
    let index = selection.split_index.unwrap_or(-1) as u64;
    let offset = selection.row_range.map_or(0, |r| r.offset as u64);
    index.rotate_left(32) ^ offset ^ 0x9E37_79B9_7F4A_7C15
}
