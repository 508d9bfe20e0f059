//! Writing: write sessions, Arrow stream writers (normal and exactly-once), raw-bytes
//! writers, blob uploads, commit and abort.

use std::io::Write;
use std::sync::mpsc::{Receiver, TryRecvError};

use arrow_array::RecordBatch;
use std::sync::Arc;

use bytes::Bytes;
use maxstorage_codec::write::{EncodedBody, EncodedMessage};
use maxstorage_protocol::blob::WriteBlobBatchResult;
use maxstorage_protocol::state::write_session::WriteSession;
use maxstorage_protocol::write::{
    CommitWriteSession, StreamKind, StreamRef, WriteMode, WriteRowsResult, WriteSessionInfo,
    WriteStreamInfo,
};
use maxstorage_protocol::{ApiVersion, Compression, TableId};

use crate::blob::BlobWriter;
use crate::client::Client;
use crate::exec::{Route, SendBody};
use crate::upload::Upload;
use maxstorage_client_core::operation::CommitSettle;
use maxstorage_client_core::write::{BodySend, MessageEncoders, SessionCore, open_stream};
use maxstorage_client_core::{BlobItem, BlobWriteOptions, StreamOptions, WritePosition};
use maxstorage_client_core::{Error, Result};

maxstorage_surface::write_session_handle!(;);

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

maxstorage_surface::stream_writer!(;);

/// Where a slice handed to the pool sends its message.
type Arrival = Receiver<Result<EncodedMessage>>;

/// Encodes `slice` on the client's pool.
fn encode_on_pool(encoders: Arc<MessageEncoders>, slice: RecordBatch) -> Arrival {
    let (done, arrives) = std::sync::mpsc::sync_channel(1);
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
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => Some(None),
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
