//! Writing: write sessions, Arrow stream writers (normal and exactly-once), raw-bytes
//! writers, blob uploads, commit and abort.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{Receiver, TryRecvError};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use maxstorage_codec::write::{ArrowStreamEncoder, EncodedBody, EncodedMessage};
use maxstorage_protocol::blob::WriteBlobBatchResult;
use maxstorage_protocol::state::write_session::WriteSession;
use maxstorage_protocol::state::write_stream::WriteStream;
use maxstorage_protocol::write::{
    CommitWriteSession, StreamKind, StreamRef, WriteMode, WriteRowsResult, WriteSessionInfo,
    WriteStreamInfo,
};
use maxstorage_protocol::{ApiVersion, Compression, TableId};

use crate::blob::BlobWriter;
use crate::client::Client;
use crate::exec::{Route, SendBody};
use crate::upload::Upload;
use maxstorage_client_core::Result;
use maxstorage_client_core::operation::CommitSettle;
use maxstorage_client_core::progress::ProgressHook;
use maxstorage_client_core::write::{
    BodySend, BudgetShare, OpenedStream, ParallelEncoding, SessionCore, broken_writer, open_stream,
};
use maxstorage_client_core::{
    BlobItem, BlobWriteOptions, StreamOptions, StreamSummary, WritePosition,
};

maxstorage_client_core::write_session_handle!(;);

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
        let route = self.route();
        let upload = Upload::start(
            self.client.clone(),
            self.core.target.clone(),
            self.core.calls.session_id.clone(),
            route.override_token.map(str::to_string),
            move |client, route, body| client.core.call_with_body(&call, route, body),
        )?;
        Ok(RawRowsWriter { upload })
    }
}

/// Writes Arrow record batches to one stream. Batches are checked against the stream's
/// schema, encoded (with IPC buffer compression) and sent in bodies of up to
/// `max_body_bytes`; in exactly-once mode every body is sent with its row offset and is
/// re-sent identically after a failure, so each row is written exactly once.
///
/// Bodies are pipelined: while one body is on the wire (on a thread of its own), the next
/// is encoded and compressed on the caller's thread. At most one body is in flight and
/// one being built, in order; a failed body fails the next call ([`write`](Self::write),
/// [`flush`](Self::flush) or [`finish`](Self::finish)), and nothing after it is sent.
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
    /// Why the writer can no longer be used: an earlier call failed.
    broken: Option<String>,
    schema: SchemaRef,
}

/// A slice handed to the pool: its rows, and where its message arrives.
type Encoding = (usize, Receiver<Result<EncodedMessage>>);

/// What sends a stream's bodies: its exactly-once state machine and the last answer. It
/// moves to the sending thread while a body is in flight.
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
    /// On the thread sending a body; it comes back with the outcome.
    Busy(std::thread::JoinHandle<(Box<Sender>, Result<()>)>),
    /// Lost: the sending thread panicked.
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

    /// Writes a batch; a body is handed to the sending thread whenever it is full.
    /// Compressed batches are encoded on the client's pool while this returns (see
    /// [`StreamOptions::encoding_threads`]).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.usable()?;
        let result = self.write_batch(batch);
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

    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.encoder.set_target_body_bytes(self.budget.body_bytes());
        if self.parallel.is_none() {
            self.encoder.write(batch)?;
            return self.dispatch_full();
        }
        for slice in self.encoder.slices(batch)? {
            while self
                .parallel
                .as_ref()
                .is_some_and(|(p, q)| q.len() >= p.max_in_flight)
            {
                self.place_encoded(true)?;
            }
            if let Some((p, queue)) = &mut self.parallel {
                let (done, arrives) = std::sync::mpsc::sync_channel(1);
                let encoders = p.encoders.clone();
                let rows = slice.num_rows();
                rayon::spawn_fifo(move || {
                    // The writer may be gone (dropped mid-stream): nobody to tell.
                    let _ = done.send(encoders.encode(&slice));
                });
                queue.push_back((rows, arrives));
            }
        }
        self.place_encoded(false)
    }

    /// Places the messages the pool has finished, in order, into bodies (waiting for the
    /// oldest one first if `wait`), and hands full bodies on.
    fn place_encoded(&mut self, wait: bool) -> Result<()> {
        if let Some((_, queue)) = &mut self.parallel {
            let mut wait = wait;
            while let Some((rows, arrives)) = queue.front() {
                let message = if wait {
                    arrives.recv().ok()
                } else {
                    match arrives.try_recv() {
                        Ok(m) => Some(m),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => None,
                    }
                };
                let message = message.ok_or(maxstorage_client_core::Error::Internal(
                    "a batch handed to the encoding pool never came back",
                ))??;
                self.encoder.push_message(message, *rows);
                queue.pop_front();
                wait = false;
            }
        }
        self.dispatch_full()
    }

    /// Hands every full body to the sending thread.
    fn dispatch_full(&mut self) -> Result<()> {
        while let Some(body) = self.encoder.next_body() {
            self.dispatch(body)?;
        }
        Ok(())
    }

    /// Sends what is buffered and waits until every body is acknowledged.
    pub fn flush(&mut self) -> Result<()> {
        self.usable()?;
        let result = self.flush_all();
        self.settled(result)
    }

    fn flush_all(&mut self) -> Result<()> {
        while self.parallel.as_ref().is_some_and(|(_, q)| !q.is_empty()) {
            self.place_encoded(true)?;
        }
        while let Some(body) = self.encoder.flush() {
            self.dispatch(body)?;
        }
        self.settle().map(|_| ())
    }

    /// Flushes and closes the stream (streams of the implicit `default` session are not
    /// closed). The session still has to be committed (Batch modes).
    pub fn finish(mut self) -> Result<StreamSummary> {
        self.flush()?;
        let session = self.session.clone();
        let sender = self.settle()?;
        if let Some(close) = sender.machine.close_call()? {
            session.client.core.call(&close, session.route())?;
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
    fn settle(&mut self) -> Result<&mut Sender> {
        let mut outcome = Ok(());
        self.sender = match std::mem::replace(&mut self.sender, SenderSlot::Lost) {
            SenderSlot::Busy(thread) => match thread.join() {
                Ok((sender, result)) => {
                    self.rows_acked = sender.machine.rows_written();
                    outcome = result;
                    SenderSlot::Idle(sender)
                }
                Err(_) => SenderSlot::Lost,
            },
            other => other,
        };
        outcome?;
        match &mut self.sender {
            SenderSlot::Idle(sender) => Ok(sender),
            _ => Err(maxstorage_client_core::IntegrityError::SenderLost.into()),
        }
    }

    /// Hands `body` to a sending thread once the previous body is acknowledged.
    fn dispatch(&mut self, body: EncodedBody) -> Result<()> {
        self.settle()?;
        self.session.state()?.check_writable("write")?;
        let SenderSlot::Idle(mut sender) = std::mem::replace(&mut self.sender, SenderSlot::Lost)
        else {
            return Err(maxstorage_client_core::Error::Internal(
                "the stream's sender is gone",
            ));
        };
        let session = self.session.clone();
        // If no thread can be started the sender is lost with the closure: the writer
        // then fails every call (its stream is never closed, so it cannot be committed).
        let spawned = crate::spawn::spawn("maxstorage-write", move || {
            let outcome = sender.send(&session, body);
            (sender, outcome)
        });
        match spawned {
            Ok(thread) => {
                self.sender = SenderSlot::Busy(thread);
                Ok(())
            }
            Err(e) => Err(maxstorage_client_core::Error::io(
                "starting the thread that sends a body",
                e,
            )),
        }
    }
}

impl Sender {
    /// Sends one body, retrying and resynchronising as the exactly-once machine says.
    fn send(&mut self, session: &WriteSessionHandle, body: EncodedBody) -> Result<()> {
        let span = self.span.clone();
        let _in_span = span.enter();
        let rows = body.rows() as i64;
        let write = BodySend::new(&mut self.machine, body.into_chunks(), rows, &self.progress)?;
        if let Some(result) = session.client.core.drive(write, session.route())? {
            self.last = Some(result);
        }
        Ok(())
    }
}

/// Writes the raw bytes of one `TableWrite` body (a complete Arrow IPC stream) while they
/// are being sent.
#[derive(Debug)]
pub struct RawRowsWriter {
    upload: Upload<WriteRowsResult>,
}

impl RawRowsWriter {
    /// Ends the body and returns the service's answer.
    pub fn finish(self) -> Result<WriteRowsResult> {
        self.upload.finish()
    }
}

impl Write for RawRowsWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.upload.send(Bytes::copy_from_slice(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
