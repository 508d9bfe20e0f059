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
use maxstorage_client_core::items::fuse;
use maxstorage_client_core::split::{BodyDecoder, ParallelRead, Piece, SplitQueue, Step};
use maxstorage_client_core::{Error, Result};
use maxstorage_codec::compress::Decompressor;
use maxstorage_codec::read::DecoderOptions;
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

impl DecodingBody {
    /// The schema, once the stream's schema message has arrived.
    fn schema(&self) -> Option<SchemaRef> {
        self.decoder.schema()
    }

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

maxstorage_surface::split_batches! {
    /// The record batches of one split (or row range), as a [`Stream`]: memory holds one
    /// batch and one chunk. A broken connection resumes at the next undelivered row; the
    /// rows come out exactly once, or the stream ends with an error — never silently short.
    ///
    /// Nothing runs in the background: dropping the stream cancels its request and closes
    /// its connection, and nothing else.
    SplitBatches {
        /// Where the read is.
        state: SplitState = SplitState::Idle,
    }
}

impl SplitBatches {
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
        let mut done = false;
        let item = fuse(ready!(this.poll_batch(cx)), &mut done);
        if done {
            this.state = SplitState::Done;
        }
        Poll::Ready(item)
    }
}

impl SplitBatches {
    /// The next batch, or `None` (and the read done) at its end.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        std::future::poll_fn(|cx| self.poll_batch(cx)).await
    }
}

maxstorage_surface::split_with_schema! {
    /// A split read whose schema is known up front (see [`SplitBatches::into_schema_stream`]).
    SplitStream,
    /// This read as a stream whose schema is known before its first item (the async
    /// counterpart of a `RecordBatchReader`). The schema is the session's, known before
    /// anything is read; only a read of other columns than the session's
    /// ([`ReadOptions::data_columns`](crate::ReadOptions::data_columns)) starts now, to learn them from the response. It
    /// still resumes after a break.
    fn into_schema_stream,
    async; .await
}

impl SplitStream {
    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
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

maxstorage_surface::stream_batches!();

impl Stream for StreamBatches {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let piece = ready!(this.body.poll_piece(cx));
        Poll::Ready(Piece::into_final_item(piece, &mut this.done))
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
/// order, tagged with their split's position in [`TableReadSession::splits`](crate::TableReadSession::splits). The queue
/// between the tasks and the caller is bounded, so memory does not grow with the table.
///
/// The tasks start on the first poll (on the runtime polling it) and are aborted when the
/// stream is dropped; after an error the stream ends and the other tasks are stopped.
pub struct ParallelBatches {
    plan: Option<ParallelRead<Core>>,
    rx: Option<mpsc::Receiver<Result<(usize, RecordBatch)>>>,
    tasks: JoinSet<()>,
    failed: bool,
    schema: Option<SchemaRef>,
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
    pub(crate) fn start(read: ParallelRead<Core>) -> ParallelBatches {
        ParallelBatches {
            schema: read.session.batch_schema(&read.options),
            plan: Some(read),
            rx: None,
            tasks: JoinSet::new(),
            failed: false,
        }
    }

    /// Spawns the workers on the current runtime.
    fn spawn_workers(&mut self, plan: ParallelRead<Core>) -> Result<()> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            Error::from(maxstorage_client_core::ConfigError::NoRuntime {
                operation: "read_all",
                message: e.to_string(),
            })
        })?;
        let queue = Arc::new(SplitQueue::new(&plan.session));
        let (tx, rx) = mpsc::channel(plan.workers * 2);
        let plan = Arc::new(plan);
        for _ in 0..plan.workers {
            let (plan, queue, tx) = (plan.clone(), queue.clone(), tx.clone());
            self.tasks.spawn_on(
                async move {
                    loop {
                        let Some((index, selection)) = queue.next() else {
                            return;
                        };
                        let mut split = SplitBatches::new(
                            plan.core.clone(),
                            &plan.session,
                            selection,
                            &plan.options,
                            &plan.defaults,
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
    /// when [`ReadOptions::data_columns`](crate::ReadOptions::data_columns) asks for other columns).
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
    /// The split number (position in [`TableReadSession::splits`](crate::TableReadSession::splits)) and a batch of it.
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
