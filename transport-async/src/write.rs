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

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use arrow_array::RecordBatch;
use bytes::Bytes;
use maxstorage_client_core::operation::CommitSettle;
use maxstorage_client_core::write::{BodySend, MessageEncoders, SessionCore, open_stream};
use maxstorage_client_core::{
    BlobItem, BlobWriteOptions, Error, Result, StreamOptions, WritePosition,
};
use maxstorage_codec::write::{EncodedBody, EncodedMessage};
use maxstorage_protocol::blob::WriteBlobBatchResult;
use maxstorage_protocol::state::write_session::WriteSession;
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

maxstorage_surface::write_session_handle!(async; .await);

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

maxstorage_surface::stream_writer!(async; .await);

/// Dropping the writer cancels the body in flight.
impl Drop for StreamWriter {
    fn drop(&mut self) {
        if let SenderSlot::Busy(task) = &self.sender {
            task.abort();
        }
    }
}

/// Where a slice handed to the pool sends its message.
type Arrival = oneshot::Receiver<Result<EncodedMessage>>;

/// Encodes `slice` on the client's pool: CPU-bound work goes to the client's compute pool,
/// not the runtime's workers or its blocking pool.
fn encode_on_pool(encoders: Arc<MessageEncoders>, slice: RecordBatch) -> Arrival {
    let (done, arrives) = oneshot::channel();
    rayon::spawn_fifo(move || {
        // The writer may be gone (dropped mid-stream): nobody to tell.
        let _ = done.send(encoders.encode(&slice));
    });
    arrives
}

/// The message if it has arrived (`Some(None)`: it never will), `None` while it is on its
/// way.
fn try_arrived(arrival: &mut Arrival) -> Option<Option<Result<EncodedMessage>>> {
    match arrival.try_recv() {
        Ok(message) => Some(Some(message)),
        Err(oneshot::error::TryRecvError::Empty) => None,
        Err(oneshot::error::TryRecvError::Closed) => Some(None),
    }
}

/// Waits for the message (`None`: it never comes).
async fn arrived(arrival: &mut Arrival) -> Option<Result<EncodedMessage>> {
    arrival.await.ok()
}

/// A body being sent in a task of its own.
type Sending = tokio::task::JoinHandle<(Box<Sender>, Result<()>)>;

/// Sends `body` in a new task (carrying the caller's subscriber).
fn send_in_background(
    mut sender: Box<Sender>,
    session: WriteSessionHandle,
    body: EncodedBody,
) -> Result<Sending> {
    Ok(tokio::spawn(
        async move {
            let outcome = sender.send(&session, body).await;
            (sender, outcome)
        }
        .with_current_subscriber(),
    ))
}

/// Waits for the sending task in place (a dropped wait leaves it running): the sender and
/// the outcome, or `None` if it panicked or was cancelled.
async fn sent(sending: &mut Sending) -> Option<(Box<Sender>, Result<()>)> {
    sending.await.ok()
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
