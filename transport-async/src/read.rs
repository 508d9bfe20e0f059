//! Reading: split streams of record batches that resume after a broken connection, raw
//! byte streams, and bounded-concurrency reads of whole sessions.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_util::StreamExt;
use maxstorage_client_core::split::{BodyDecoder, SplitProgress, Step};
use maxstorage_client_core::{Defaults, Error, ReadOptions, Result, TableReadSession};
use maxstorage_codec::compress::Decompressor;
use maxstorage_codec::read::DecoderOptions;
use maxstorage_protocol::read::RowSelection;
use maxstorage_protocol::{Compression, StreamingResponse};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tracing::Instrument;
use tracing::instrument::WithSubscriber;

use crate::exec::{Core, Route};
use crate::transport::{BoxFuture, ResponseBody};

/// A response body being decoded into record batches.
pub(crate) struct DecodingBody {
    body: ResponseBody,
    decoder: BodyDecoder,
}

/// What reading the next piece of a body gave.
enum Piece {
    /// A batch.
    Batch(RecordBatch),
    /// The stream ended cleanly.
    End,
    /// The connection broke or the body was cut short: the read may resume.
    Broken(Error),
}

impl DecodingBody {
    pub(crate) fn new(
        head: &StreamingResponse,
        body: ResponseBody,
        options: DecoderOptions,
    ) -> Result<DecodingBody> {
        Ok(DecodingBody {
            body,
            decoder: BodyDecoder::new(head, options)?,
        })
    }

    /// Reads until a batch is complete, the stream ends, or it breaks. A corrupt stream is
    /// an error (`Err`), not a break.
    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Result<Piece>> {
        loop {
            match self.decoder.step()? {
                Step::Batch(batch) => return Poll::Ready(Ok(Piece::Batch(batch))),
                Step::End => return Poll::Ready(Ok(Piece::End)),
                Step::NeedInput => {}
            }
            match ready!(self.body.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => self.decoder.feed(chunk)?,
                None => {
                    if let Some(e) = self.decoder.end_of_body()? {
                        return Poll::Ready(Ok(Piece::Broken(e)));
                    }
                }
                Some(Err(e)) => {
                    return Poll::Ready(Ok(Piece::Broken(Error::io(
                        "reading the response body",
                        e,
                    ))));
                }
            }
        }
    }
}

type Opening = BoxFuture<'static, Result<(StreamingResponse, ResponseBody)>>;

/// Where a [`SplitBatches`] is.
enum SplitState {
    /// The next request is due.
    Idle,
    /// A request is on its way.
    Opening(Opening),
    /// A response body is being decoded.
    Reading(Box<DecodingBody>),
    /// Waiting before a resume.
    Pausing(Pin<Box<Sleep>>),
    /// Finished (successfully or not).
    Done,
}

/// The record batches of one split (or row range), as a [`Stream`]: memory holds one
/// batch and one chunk. A broken connection resumes at the next undelivered row; the
/// rows come out exactly once, or the stream ends with an error — never silently short.
///
/// Nothing runs in the background: dropping the stream cancels its request and closes
/// its connection, and nothing else.
pub struct SplitBatches {
    core: Arc<Core>,
    progress: SplitProgress,
    state: SplitState,
}

impl std::fmt::Debug for SplitBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitBatches")
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl SplitBatches {
    pub(crate) fn new(
        core: Arc<Core>,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
        defaults: &Defaults,
    ) -> SplitBatches {
        SplitBatches {
            core,
            progress: SplitProgress::new(session, selection, options, defaults),
            state: SplitState::Idle,
        }
    }

    /// The schema of the batches: the session's, known before anything is read (or,
    /// when [`ReadOptions::data_columns`] asks for other columns, the first response's
    /// once it started).
    pub fn schema(&self) -> Option<SchemaRef> {
        self.progress.schema()
    }

    /// Rows delivered so far.
    pub fn rows(&self) -> u64 {
        self.progress.rows()
    }

    /// How many times the read resumed after a break.
    pub fn resumes(&self) -> u32 {
        self.progress.resumes()
    }

    fn open(&mut self) -> Result<Opening> {
        let call = self.progress.request()?;
        let core = self.core.clone();
        let target = self.progress.target().to_string();
        Ok(Box::pin(
            async move {
                core.open(&call, Route::session(&target, &call.session_id))
                    .await
            }
            .instrument(self.progress.span().clone()),
        ))
    }

    fn pause(&mut self, delay: std::time::Duration) {
        self.state = SplitState::Pausing(Box::pin(tokio::time::sleep(delay)));
    }

    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<RecordBatch>>> {
        loop {
            match &mut self.state {
                SplitState::Done => return Poll::Ready(Ok(None)),
                SplitState::Idle => self.state = SplitState::Opening(self.open()?),
                SplitState::Pausing(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    self.state = SplitState::Idle;
                }
                SplitState::Opening(opening) => match ready!(opening.as_mut().poll(cx)) {
                    Ok((head, body)) => {
                        let decoder = self.progress.decoder(&head)?;
                        self.state = SplitState::Reading(Box::new(DecodingBody { body, decoder }));
                    }
                    Err(e) => {
                        self.state = SplitState::Idle;
                        let delay = self.progress.on_open_failed(e, &self.core.retry)?;
                        self.pause(delay);
                    }
                },
                SplitState::Reading(current) => match ready!(current.poll_piece(cx))? {
                    Piece::Batch(batch) => {
                        return Poll::Ready(Ok(Some(
                            self.progress.on_batch(batch, &current.decoder)?,
                        )));
                    }
                    Piece::End => {
                        self.progress.on_end(&current.decoder);
                        self.state = SplitState::Done;
                        return Poll::Ready(Ok(None));
                    }
                    Piece::Broken(e) => {
                        // Dropping the body closes the broken connection.
                        self.state = SplitState::Idle;
                        match self.progress.on_broken(e, &self.core.retry)? {
                            None => {
                                self.state = SplitState::Done;
                                return Poll::Ready(Ok(None));
                            }
                            Some(delay) => self.pause(delay),
                        }
                    }
                },
            }
        }
    }
}

impl Stream for SplitBatches {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match ready!(this.poll_batch(cx)) {
            Ok(Some(batch)) => Poll::Ready(Some(Ok(batch))),
            Ok(None) => {
                this.state = SplitState::Done;
                Poll::Ready(None)
            }
            Err(e) => {
                this.state = SplitState::Done;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl SplitBatches {
    /// This read as a stream whose schema is known before its first item (the async
    /// counterpart of a `RecordBatchReader`). The schema is the session's, known before
    /// anything is read; only a read of other columns than the session's
    /// ([`ReadOptions::data_columns`]) starts now, to learn them from the response. It
    /// still resumes after a break.
    pub async fn into_schema_stream(mut self) -> Result<SplitStream> {
        let first = match self.schema() {
            Some(_) => None,
            None => {
                let first = std::future::poll_fn(|cx| self.poll_batch(cx)).await?;
                if first.is_none() {
                    self.state = SplitState::Done;
                }
                first
            }
        };
        let schema = self
            .schema()
            .ok_or_else(|| Error::from(maxstorage_client_core::IntegrityError::NoSchema))?;
        Ok(SplitStream {
            batches: self,
            schema,
            first,
        })
    }
}

/// A split read whose schema is known up front (see [`SplitBatches::into_schema_stream`]).
pub struct SplitStream {
    batches: SplitBatches,
    schema: SchemaRef,
    first: Option<RecordBatch>,
}

impl std::fmt::Debug for SplitStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitStream")
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

impl SplitStream {
    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows delivered so far.
    pub fn rows(&self) -> u64 {
        self.batches.rows()
    }
}

impl Stream for SplitStream {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        Pin::new(&mut this.batches).poll_next(cx)
    }
}

/// Record batches of a response that cannot resume (preview, instance reads).
pub struct StreamBatches {
    body: DecodingBody,
    done: bool,
}

impl std::fmt::Debug for StreamBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamBatches")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl StreamBatches {
    pub(crate) fn new(body: DecodingBody) -> StreamBatches {
        StreamBatches { body, done: false }
    }

    /// The schema, once known.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.body.decoder.schema()
    }
}

impl Stream for StreamBatches {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match ready!(this.body.poll_piece(cx)) {
            Ok(Piece::Batch(b)) => Poll::Ready(Some(Ok(b))),
            Ok(Piece::End) => {
                this.done = true;
                Poll::Ready(None)
            }
            Ok(Piece::Broken(e)) | Err(e) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

/// The raw bytes of a `TableRead` response: an Arrow IPC stream, with any whole-body
/// compression removed (IPC buffer compression stays; any Arrow IPC reader handles it).
/// A raw stream cannot resume; a break surfaces as an error, and a cut-short stream is
/// detected by the reader as a missing end-of-stream marker.
pub struct RawRowsReader {
    body: ResponseBody,
    chunk: Bytes,
    decompressor: Option<Decompressor>,
    eof: bool,
    finished: bool,
}

impl std::fmt::Debug for RawRowsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRowsReader")
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl RawRowsReader {
    pub(crate) fn new(head: &StreamingResponse, body: ResponseBody) -> Result<RawRowsReader> {
        let decompressor = match head.compression {
            Some(c) if c != Compression::Uncompressed => Some(Decompressor::new(c)?),
            _ => None,
        };
        Ok(RawRowsReader {
            body,
            chunk: Bytes::new(),
            decompressor,
            eof: false,
            finished: false,
        })
    }
}

impl AsyncRead for RawRowsReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 || this.finished {
            return Poll::Ready(Ok(()));
        }
        loop {
            match this.decompressor.as_mut() {
                None => {
                    if !this.chunk.is_empty() {
                        let n = buf.remaining().min(this.chunk.len());
                        buf.put_slice(&this.chunk[..n]);
                        this.chunk.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                }
                Some(d) => {
                    let out = buf.initialize_unfilled();
                    let p = d.decompress_into(&this.chunk, out)?;
                    this.chunk.advance(p.consumed);
                    if p.produced > 0 {
                        buf.advance(p.produced);
                        return Poll::Ready(Ok(()));
                    }
                    if !this.chunk.is_empty() {
                        if p.consumed == 0 {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "the decompressor made no progress",
                            )));
                        }
                        continue;
                    }
                }
            }
            if this.eof {
                if let Some(d) = this.decompressor.as_mut() {
                    d.finish()?;
                }
                this.finished = true;
                return Poll::Ready(Ok(()));
            }
            match ready!(this.body.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => this.chunk = chunk,
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => this.eof = true,
            }
        }
    }
}

/// Batches of a whole session read by up to `workers` concurrent tasks, in completion
/// order, tagged with their split's position in [`TableReadSession::splits`]. The queue
/// between the tasks and the caller is bounded, so memory does not grow with the table.
///
/// The tasks start on the first poll (on the runtime polling it) and are aborted when the
/// stream is dropped; after an error the stream ends and the other tasks are stopped.
pub struct ParallelBatches {
    plan: Option<ParallelPlan>,
    rx: Option<mpsc::Receiver<Result<(usize, RecordBatch)>>>,
    tasks: JoinSet<()>,
    failed: bool,
    schema: Option<SchemaRef>,
}

struct ParallelPlan {
    core: Arc<Core>,
    session: Arc<TableReadSession>,
    options: ReadOptions,
    defaults: Defaults,
    workers: usize,
}

impl std::fmt::Debug for ParallelBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelBatches")
            .field("tasks", &self.tasks.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl ParallelBatches {
    pub(crate) fn start(
        core: Arc<Core>,
        session: Arc<TableReadSession>,
        options: ReadOptions,
        defaults: Defaults,
        workers: usize,
    ) -> ParallelBatches {
        ParallelBatches {
            schema: session.batch_schema(&options),
            plan: Some(ParallelPlan {
                core,
                session,
                options,
                defaults,
                workers: workers.max(1),
            }),
            rx: None,
            tasks: JoinSet::new(),
            failed: false,
        }
    }

    /// Spawns the workers on the current runtime.
    fn spawn_workers(&mut self, plan: ParallelPlan) -> Result<()> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            Error::from(maxstorage_client_core::ConfigError::NoRuntime {
                operation: "read_all",
                message: e.to_string(),
            })
        })?;
        let splits: Vec<RowSelection> = plan.session.splits();
        let queue = Arc::new(std::sync::Mutex::new(
            splits
                .into_iter()
                .enumerate()
                .collect::<std::collections::VecDeque<_>>(),
        ));
        let (tx, rx) = mpsc::channel(plan.workers * 2);
        for _ in 0..plan.workers {
            let (core, session, options, queue, tx) = (
                plan.core.clone(),
                plan.session.clone(),
                plan.options.clone(),
                queue.clone(),
                tx.clone(),
            );
            let defaults = plan.defaults.clone();
            self.tasks.spawn_on(
                async move {
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                        let Some((index, selection)) = next else {
                            return;
                        };
                        let mut split = SplitBatches::new(
                            core.clone(),
                            &session,
                            selection,
                            &options,
                            &defaults,
                        );
                        while let Some(item) = split.next().await {
                            let failed = item.is_err();
                            if tx.send(item.map(|b| (index, b))).await.is_err() || failed {
                                return;
                            }
                        }
                    }
                }
                .in_current_span()
                .with_current_subscriber(),
                &runtime,
            );
        }
        self.rx = Some(rx);
        Ok(())
    }
}

impl ParallelBatches {
    /// The schema of the batches: the session's, known before anything is read (`None`
    /// when [`ReadOptions::data_columns`] asks for other columns).
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    /// The whole read as a stream of batches (the split numbers dropped) whose schema is
    /// known before its first item. It is the session's; only a read of other columns than
    /// the session's takes its first batch now, to learn them (such a read that returns no
    /// rows has an empty schema).
    pub async fn into_schema_stream(mut self) -> Result<TableStream> {
        let (schema, first) = match self.schema.clone() {
            Some(schema) => (schema, None),
            None => match self.next().await.transpose()? {
                Some((_, batch)) => (batch.schema(), Some(batch)),
                None => (Arc::new(arrow_schema::Schema::empty()), None),
            },
        };
        Ok(TableStream {
            batches: self,
            schema,
            first,
        })
    }
}

/// A whole table read whose schema is known up front (see
/// [`ParallelBatches::into_schema_stream`]).
#[derive(Debug)]
pub struct TableStream {
    batches: ParallelBatches,
    schema: SchemaRef,
    first: Option<RecordBatch>,
}

impl TableStream {
    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Stream for TableStream {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        Pin::new(&mut this.batches)
            .poll_next(cx)
            .map(|item| item.map(|r| r.map(|(_, batch)| batch)))
    }
}

impl Stream for ParallelBatches {
    /// The split number (position in [`TableReadSession::splits`]) and a batch of it.
    type Item = Result<(usize, RecordBatch)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        if let Some(plan) = this.plan.take()
            && let Err(e) = this.spawn_workers(plan)
        {
            this.failed = true;
            return Poll::Ready(Some(Err(e)));
        }
        if let Some(rx) = this.rx.as_mut() {
            match ready!(rx.poll_recv(cx)) {
                Some(Err(e)) => {
                    this.failed = true;
                    this.tasks.abort_all();
                    return Poll::Ready(Some(Err(e)));
                }
                Some(ok) => return Poll::Ready(Some(ok)),
                None => this.rx = None,
            }
        }
        // Every worker has dropped its sender: wait for them all to end, so none outlives
        // the stream; a panicked one is an error, not a short read.
        while let Some(joined) = ready!(this.tasks.poll_join_next(cx)) {
            if let Err(e) = joined
                && e.is_panic()
            {
                this.failed = true;
                this.tasks.abort_all();
                return Poll::Ready(Some(Err(Error::Internal("a read task panicked"))));
            }
        }
        Poll::Ready(None)
    }
}
