//! Writing: write sessions, Arrow stream writers (normal and exactly-once) and how their
//! encoded bodies are sent, commit and abort. (Raw-bytes and blob writers are in `upload`.)
//!
//! Cancellation: nothing here commits on its own, and the session's data becomes visible
//! only through an explicit [`WriteSessionHandle::commit`], which no drop issues.
//! [`StreamWriter::write`] and [`StreamWriter::flush`] are cancel-safe: a write takes its
//! whole batch when first polled and a dropped call loses nothing — the next call carries
//! on, and the batch is written exactly once (so it must not be written again); bodies
//! being sent stay with the writer. Dropping the writer itself cancels the body in flight
//! (its stream then holds an unknown prefix: abort, or write a new stream version).

use maxstorage_client_core::operation::CommitSettle;
use maxstorage_client_core::write::{SessionCore, open_stream};
use maxstorage_client_core::{BlobItem, BlobWriteOptions, Result, StreamOptions, WritePosition};
use maxstorage_codec::write::{EncodedBody, EncodedMessage};
use maxstorage_protocol::blob::WriteBlobBatchResult;
use maxstorage_protocol::state::write_session::WriteSession;
use maxstorage_protocol::write::{
    CommitWriteSession, StreamKind, StreamRef, WriteMode, WriteSessionInfo, WriteStreamInfo,
};
use maxstorage_protocol::{ApiVersion, Compression, TableId};
use tokio::sync::oneshot;
use tracing::Instrument;
use tracing::instrument::WithSubscriber;

use crate::client::Client;
use crate::exec::{Route, SendBody};
use crate::upload::{BlobWriter, RawRowsWriter};

maxstorage_surface::write_session_handle!(async; .await);

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

/// The channel a slice's message arrives on.
fn arrival() -> (oneshot::Sender<Result<EncodedMessage>>, Arrival) {
    oneshot::channel()
}

/// The message if it has arrived (`Some(None)`: it never will), `None` while it is on its
/// way.
fn try_arrived(arrival: &mut Arrival) -> Option<Option<Result<EncodedMessage>>> {
    match arrival.try_recv() {
        Err(oneshot::error::TryRecvError::Empty) => None,
        outcome => Some(outcome.ok()),
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
    /// Sends one body in the sender's span.
    async fn send(&mut self, session: &WriteSessionHandle, body: EncodedBody) -> Result<()> {
        let span = self.span.clone();
        self.send_body(session, body).instrument(span).await
    }
}
