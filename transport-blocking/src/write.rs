//! Writing: write sessions, Arrow stream writers (normal and exactly-once) and how their
//! encoded bodies are sent, commit and abort. (Raw-bytes and blob writers are in `upload`.)

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};

use maxstorage_codec::write::{EncodedBody, EncodedMessage};
use maxstorage_protocol::blob::WriteBlobBatchResult;
use maxstorage_protocol::state::write_session::WriteSession;
use maxstorage_protocol::write::{
    CommitWriteSession, StreamKind, StreamRef, WriteMode, WriteSessionInfo, WriteStreamInfo,
};
use maxstorage_protocol::{ApiVersion, Compression, TableId};

use crate::client::Client;
use crate::exec::{Route, SendBody};
use crate::upload::{BlobWriter, RawRowsWriter};
use maxstorage_client_core::operation::CommitSettle;
use maxstorage_client_core::write::{SessionCore, open_stream};
use maxstorage_client_core::{BlobItem, BlobWriteOptions, StreamOptions, WritePosition};
use maxstorage_client_core::{Error, Result};

maxstorage_surface::write_session_handle!(;);

maxstorage_surface::stream_writer!(;);

/// Where a slice handed to the pool sends its message.
type Arrival = Receiver<Result<EncodedMessage>>;

/// The channel a slice's message arrives on.
fn arrival() -> (SyncSender<Result<EncodedMessage>>, Arrival) {
    std::sync::mpsc::sync_channel(1)
}

/// The message if it has arrived (`Some(None)`: it never will), `None` while it is on its
/// way.
fn try_arrived(arrival: &mut Arrival) -> Option<Option<Result<EncodedMessage>>> {
    match arrival.try_recv() {
        Err(TryRecvError::Empty) => None,
        outcome => Some(outcome.ok()),
    }
}

/// Waits for the message (`None`: it never comes).
fn arrived(arrival: &mut Arrival) -> Option<Result<EncodedMessage>> {
    arrival.recv().ok()
}

/// A body being sent on a thread of its own (taken when it is joined).
type Sending = Option<std::thread::JoinHandle<(Box<Sender>, Result<()>)>>;

/// Sends `body` on a new thread.
fn send_in_background(
    mut sender: Box<Sender>,
    session: WriteSessionHandle,
    body: EncodedBody,
) -> Result<Sending> {
    let thread = crate::spawn::spawn("maxstorage-write", move || {
        let outcome = sender.send(&session, body);
        (sender, outcome)
    })
    .map_err(|e| Error::io("starting the thread that sends a body", e))?;
    Ok(Some(thread))
}

/// Waits for the sending thread: the sender and the outcome, or `None` if it panicked.
fn sent(sending: &mut Sending) -> Option<(Box<Sender>, Result<()>)> {
    sending.take()?.join().ok()
}

impl Sender {
    /// Sends one body in the sender's span.
    fn send(&mut self, session: &WriteSessionHandle, body: EncodedBody) -> Result<()> {
        self.span.clone().in_scope(|| self.send_body(session, body))
    }
}
