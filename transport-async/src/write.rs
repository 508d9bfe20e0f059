//! Writing: write sessions, Arrow stream writers (normal and exactly-once), raw-bytes
//! writers, blob uploads, commit and abort.
//!
//! Cancellation: nothing here commits on its own, and the session's data becomes visible
//! only through an explicit [`WriteSessionHandle::commit`], which no drop issues.
//! [`StreamWriter::write`] and [`StreamWriter::flush`] are cancel-safe: a write takes its
//! whole batch when first polled and a dropped call loses nothing — the next call carries
//! on, and the batch is written exactly once (so it must not be written again); bodies
//! being sent stay with the writer. Dropping the writer itself cancels the body in flight
//! (its stream then holds an unknown prefix: abort, or write a new stream version).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use maxstorage_client_core::operation::CommitSettle;
use maxstorage_client_core::progress::ProgressHook;
use maxstorage_client_core::write::{
    BodySend, BudgetShare, OpenedStream, ParallelEncoding, SessionCore, broken_writer, open_stream,
};
use maxstorage_client_core::{
    BlobItem, BlobWriteOptions, Error, Result, StreamOptions, StreamSummary, WritePosition,
};
use maxstorage_codec::write::{ArrowStreamEncoder, EncodedBody, EncodedMessage};
use maxstorage_protocol::blob::WriteBlobBatchResult;
use maxstorage_protocol::state::write_session::WriteSession;
use maxstorage_protocol::state::write_stream::WriteStream;
use maxstorage_protocol::write::{
    CommitWriteSession, StreamKind, StreamRef, WriteMode, WriteRowsResult, WriteSessionInfo,
    WriteStreamInfo,
};
use maxstorage_protocol::{ApiVersion, Compression, TableId};
use tokio::io::AsyncWrite;
use tokio::sync::oneshot;
use tracing::Instrument;
use tracing::instrument::WithSubscriber;

use crate::blob::BlobWriter;
use crate::client::Client;
use crate::exec::{Route, SendBody};
use crate::upload::{Upload, upload_route};

maxstorage_client_core::write_session_handle!(async; .await);

impl WriteSessionHandle {
    /// One `TableWrite` whose body is streamed from what the caller writes.
    fn start_raw_writer(
        &self,
        stream: &StreamRef,
        record_count: i64,
        position: Option<WritePosition>,
    ) -> Result<RawRowsWriter> {
        self.state()?.check_writable("write")?;
        let call = self.core.calls.raw_write(stream, record_count, position);
        let upload = Upload::start(
            self.client.clone(),
            self.core.target.clone(),
            self.core.calls.session_id.clone(),
            self.core.route_override.clone(),
            move |client, target, session_id, route_override, body| async move {
                let route = upload_route(&target, &session_id, route_override.as_deref());
                client.core.call_with_body(&call, route, body).await
            },
        );
        Ok(RawRowsWriter { upload })
    }
}

/// Writes Arrow record batches to one stream. Batches are checked against the stream's
/// schema, encoded (with IPC buffer compression) and sent in bodies of up to
/// `max_body_bytes`; in exactly-once mode every body is sent with its row offset and is
/// re-sent identically after a failure, so each row is written exactly once.
///
/// Bodies are pipelined: while one body is on the wire (in a task of its own), the next is
/// encoded and compressed by the caller. At most one body is in flight and one being
/// built, in order; a failed body fails the next call ([`write`](Self::write),
/// [`flush`](Self::flush) or [`finish`](Self::finish)), and nothing after it is sent.
/// Dropping the writer cancels the body in flight.
pub struct StreamWriter {
    session: WriteSessionHandle,
    stream: StreamRef,
    sender: SenderSlot,
    /// Rows acknowledged as of the last body that came back.
    rows_acked: i64,
    encoder: ArrowStreamEncoder,
    /// Slices being compressed on the client's pool, oldest first, when the stream
    /// encodes on several threads.
    parallel: Option<(ParallelEncoding, VecDeque<Encoding>)>,
    /// This writer's share of the client's body memory.
    budget: BudgetShare,
    /// Slices of written batches not yet handed to the pool (kept here, not on a call's
    /// future, so a cancelled write loses none).
    backlog: VecDeque<RecordBatch>,
    /// Why the writer can no longer be used: an earlier call failed.
    broken: Option<String>,
    schema: SchemaRef,
}

/// A slice handed to the pool: its rows, and where its message arrives.
type Encoding = (usize, oneshot::Receiver<Result<EncodedMessage>>);

/// What sends a stream's bodies: its exactly-once state machine and the last answer. It
/// moves to the sending task while a body is in flight.
struct Sender {
    machine: WriteStream,
    last: Option<WriteRowsResult>,
    progress: ProgressHook,
    /// `maxstorage.stream_write`.
    span: tracing::Span,
}

/// Where the [`Sender`] is.
enum SenderSlot {
    /// Here, no body in flight.
    Idle(Box<Sender>),
    /// In the task sending a body; it comes back with the outcome.
    Busy(tokio::task::JoinHandle<(Box<Sender>, Result<()>)>),
    /// Lost: the sending task panicked or was cancelled.
    Lost,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("stream", &self.stream)
            .field("rows_written", &self.rows_acked)
            .finish_non_exhaustive()
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if let SenderSlot::Busy(task) = &self.sender {
            task.abort();
        }
    }
}

impl StreamWriter {
    /// A writer for the stream `opened` describes, in the session `session`.
    fn start(session: WriteSessionHandle, opened: OpenedStream) -> StreamWriter {
        StreamWriter {
            session,
            stream: opened.machine.stream().clone(),
            rows_acked: opened.machine.rows_written(),
            sender: SenderSlot::Idle(Box::new(Sender {
                machine: opened.machine,
                last: None,
                progress: opened.progress,
                span: opened.span,
            })),
            encoder: opened.encoder,
            // A writer made on a pool thread encodes on it: waiting there for the pool
            // could wait forever.
            parallel: opened
                .parallel
                .filter(|_| rayon::current_thread_index().is_none())
                .map(|p| (p, VecDeque::new())),
            budget: opened.budget,
            backlog: VecDeque::new(),
            broken: None,
            schema: opened.schema,
        }
    }

    /// The Arrow schema batches must have.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The stream.
    pub fn stream(&self) -> &StreamRef {
        &self.stream
    }

    /// Rows acknowledged by the service so far (as of the last body that came back; a
    /// body still in flight is not counted).
    pub fn rows_written(&self) -> i64 {
        self.rows_acked
    }

    /// Writes a batch; a body is handed to the sending task whenever it is full.
    ///
    /// Cancel-safe: the batch is taken as soon as the future is first polled. If it is
    /// dropped after that, the batch is still written — by the next `write`, `flush` or
    /// `finish` — exactly once; do not write it again.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.usable()?;
        let result = self.write_batch(batch).await;
        self.settled(result)
    }

    /// Fails if an earlier call broke the writer.
    fn usable(&self) -> Result<()> {
        match &self.broken {
            Some(reason) => Err(broken_writer(reason)),
            None => Ok(()),
        }
    }

    /// Records how a call ended: usable again, or broken by its error.
    fn settled(&mut self, result: Result<()>) -> Result<()> {
        if let Err(e) = &result {
            self.broken = Some(format!("an earlier call failed: {e}"));
        }
        result
    }

    async fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.encoder.set_target_body_bytes(self.budget.body_bytes());
        if self.parallel.is_none() {
            self.encoder.write(batch)?;
            return self.dispatch_full().await;
        }
        // Taken whole before the first await: a cancelled write loses none of it.
        let slices = self.encoder.slices(batch)?;
        self.backlog.extend(slices);
        self.encode_backlog().await?;
        self.place_encoded(false).await
    }

    /// Hands the slices waiting in the backlog to the pool, in order, as room frees up.
    async fn encode_backlog(&mut self) -> Result<()> {
        while !self.backlog.is_empty() {
            while self
                .parallel
                .as_ref()
                .is_some_and(|(p, q)| q.len() >= p.max_in_flight)
            {
                self.place_encoded(true).await?;
            }
            let Some((p, queue)) = &mut self.parallel else {
                return Err(Error::Internal(
                    "slices wait for a pool this writer does not use",
                ));
            };
            let Some(slice) = self.backlog.pop_front() else {
                break;
            };
            let (done, arrives) = oneshot::channel();
            let encoders = p.encoders.clone();
            let rows = slice.num_rows();
            // CPU-bound work goes to the client's compute pool, not the runtime's workers
            // or its blocking pool.
            rayon::spawn_fifo(move || {
                // The writer may be gone (dropped mid-stream): nobody to tell.
                let _ = done.send(encoders.encode(&slice));
            });
            queue.push_back((rows, arrives));
        }
        Ok(())
    }

    /// Places the messages the pool has finished, in order, into bodies (waiting for the
    /// oldest one first if `wait`), and hands full bodies on.
    async fn place_encoded(&mut self, wait: bool) -> Result<()> {
        if let Some((_, queue)) = &mut self.parallel {
            let mut wait = wait;
            while let Some((rows, arrives)) = queue.front_mut() {
                let message = if wait {
                    arrives.await.ok()
                } else {
                    match arrives.try_recv() {
                        Ok(m) => Some(m),
                        Err(oneshot::error::TryRecvError::Empty) => break,
                        Err(oneshot::error::TryRecvError::Closed) => None,
                    }
                };
                let message = message.ok_or(Error::Internal(
                    "a batch handed to the encoding pool never came back",
                ))??;
                self.encoder.push_message(message, *rows);
                queue.pop_front();
                wait = false;
            }
        }
        self.dispatch_full().await
    }

    /// Hands every full body to the sending task. Cancel-safe: a body leaves the encoder
    /// only once the previous one is acknowledged, and is handed over without an await.
    async fn dispatch_full(&mut self) -> Result<()> {
        while self.encoder.has_full_body() {
            self.settle().await?;
            if let Some(body) = self.encoder.next_body() {
                self.hand_over(body)?;
            }
        }
        Ok(())
    }

    /// Sends what is buffered and waits until every body is acknowledged. Cancel-safe:
    /// a dropped flush loses nothing; the next call carries on.
    pub async fn flush(&mut self) -> Result<()> {
        self.usable()?;
        let result = self.flush_all().await;
        self.settled(result)
    }

    async fn flush_all(&mut self) -> Result<()> {
        self.encode_backlog().await?;
        while self.parallel.as_ref().is_some_and(|(_, q)| !q.is_empty()) {
            self.place_encoded(true).await?;
        }
        loop {
            self.settle().await?;
            match self.encoder.flush() {
                Some(body) => self.hand_over(body)?,
                None => return Ok(()),
            }
        }
    }

    /// Flushes and closes the stream (streams of the implicit `default` session are not
    /// closed). The session still has to be committed (Batch modes).
    pub async fn finish(mut self) -> Result<StreamSummary> {
        self.flush().await?;
        let session = self.session.clone();
        let sender = self.settle().await?;
        if let Some(close) = sender.machine.close_call()? {
            session.client.core.call(&close, session.route()).await?;
            sender.machine.on_closed();
            session.state()?.stream_closed(sender.machine.stream())?;
        }
        sender.span.record("rows", sender.machine.rows_written());
        Ok(StreamSummary {
            stream: sender.machine.stream().clone(),
            rows: sender.machine.rows_written(),
            last_result: sender.last.take(),
        })
    }

    /// Waits for the body in flight, if any; the sender, or the error that body ended
    /// with.
    async fn settle(&mut self) -> Result<&mut Sender> {
        let mut outcome = Ok(());
        // Awaited in place: if this future is dropped, the task stays in the slot and is
        // cancelled with the writer.
        if let SenderSlot::Busy(task) = &mut self.sender {
            self.sender = match task.await {
                Ok((sender, result)) => {
                    self.rows_acked = sender.machine.rows_written();
                    outcome = result;
                    SenderSlot::Idle(sender)
                }
                Err(_) => SenderSlot::Lost,
            };
        }
        outcome?;
        match &mut self.sender {
            SenderSlot::Idle(sender) => Ok(sender),
            _ => Err(Error::from(
                maxstorage_client_core::IntegrityError::SenderLost,
            )),
        }
    }

    /// Hands `body` to a sending task; the previous body must be acknowledged (`settle`).
    fn hand_over(&mut self, body: EncodedBody) -> Result<()> {
        self.session.state()?.check_writable("write")?;
        let SenderSlot::Idle(mut sender) = std::mem::replace(&mut self.sender, SenderSlot::Lost)
        else {
            return Err(Error::Internal("the stream's sender is still busy or gone"));
        };
        let session = self.session.clone();
        self.sender = SenderSlot::Busy(tokio::spawn(
            async move {
                let outcome = sender.send(&session, body).await;
                (sender, outcome)
            }
            .with_current_subscriber(),
        ));
        Ok(())
    }
}

impl Sender {
    /// Sends one body, retrying and resynchronising as the exactly-once machine says.
    async fn send(&mut self, session: &WriteSessionHandle, body: EncodedBody) -> Result<()> {
        let span = self.span.clone();
        self.send_body(session, body).instrument(span).await
    }

    async fn send_body(&mut self, session: &WriteSessionHandle, body: EncodedBody) -> Result<()> {
        let rows = body.rows() as i64;
        let write = BodySend::new(&mut self.machine, body.into_chunks(), rows, &self.progress)?;
        if let Some(result) = session.client.core.drive(write, session.route()).await? {
            self.last = Some(result);
        }
        Ok(())
    }
}

/// Writes the raw bytes of one `TableWrite` body (a complete Arrow IPC stream) while they
/// are being sent ([`AsyncWrite`]). Dropping it before [`finish`](Self::finish) cancels
/// the request: the service gets a body cut short.
#[derive(Debug)]
pub struct RawRowsWriter {
    upload: Upload<WriteRowsResult>,
}

impl RawRowsWriter {
    /// Writes bytes of the body, waiting while the upload catches up.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.upload
            .send(Bytes::copy_from_slice(data))
            .await
            .map_err(|e| Error::io("sending the TableWrite body", e))
    }

    /// Ends the body and returns the service's answer.
    pub async fn finish(self) -> Result<WriteRowsResult> {
        self.upload.finish().await
    }
}

impl AsyncWrite for RawRowsWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.upload.poll_ready(cx))?;
        this.upload.start_send(Bytes::copy_from_slice(buf))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Does nothing: the body ends with [`RawRowsWriter::finish`], which returns the
    /// service's answer.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
