//! Requests whose body is written while they are being sent: the raw `TableWrite` and
//! blob writers over an upload on a thread of its own.

use std::sync::mpsc;
use std::thread;

use bytes::Bytes;

use std::io::Write;

use crate::exec::SendBody;
use crate::write::WriteSessionHandle;
use maxstorage_client_core::{Error, Result};
use maxstorage_protocol::Call;

maxstorage_surface::uploads!(;);

impl Write for RawRowsWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.upload.send(Bytes::copy_from_slice(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let chunk = self.digest.chunk(buf).map_err(std::io::Error::other)?;
        self.upload.send(chunk)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A request whose body is written while it is being sent: the request runs on its own
/// thread, reading the chunks the writer sends through a bounded channel. The body ends
/// only when [`finish`](Upload::finish) says so: an upload dropped before that ends its
/// body with an error, so the request fails instead of sending a truncated body as if it
/// were complete.
pub(crate) struct Upload<T> {
    tx: Option<mpsc::SyncSender<Option<Bytes>>>,
    worker: Option<thread::JoinHandle<Result<T>>>,
}

impl<T> std::fmt::Debug for Upload<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("open", &self.tx.is_some())
            .finish()
    }
}

impl<T: Send + 'static> Upload<T> {
    /// Starts `call` on `session`'s route on a thread of its own, its body what the
    /// writer sends.
    pub(crate) fn start<C>(session: WriteSessionHandle, call: C) -> Result<Upload<T>>
    where
        C: Call<Output = T> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel::<Option<Bytes>>(4);
        let worker = crate::spawn::spawn("maxstorage-upload", move || {
            let reader = ChannelReader {
                rx,
                current: Bytes::new(),
            };
            session.call_streamed(&call, SendBody::Stream(Box::new(reader), None))
        })
        .map_err(|e| Error::io("starting the thread that uploads a body", e))?;
        Ok(Upload {
            tx: Some(tx),
            worker: Some(worker),
        })
    }

    pub(crate) fn send(&self, chunk: Bytes) -> std::io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the upload is finished"))?;
        tx.send(Some(chunk)).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the upload failed; finish() tells why",
            )
        })
    }

    pub(crate) fn finish(mut self) -> Result<T> {
        if let Some(tx) = self.tx.take() {
            // The request thread may already have failed (and dropped its end); its result
            // says why.
            let _ = tx.send(None);
        }
        let worker = self
            .worker
            .take()
            .ok_or(Error::Internal("the upload is already finished"))?;
        worker
            .join()
            .map_err(|_| Error::Internal("the upload thread panicked"))?
    }
}

/// Reads the chunks a writer sends; end of body when the sender is dropped.
struct ChannelReader {
    rx: mpsc::Receiver<Option<Bytes>>,
    current: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(Some(b)) => self.current = b,
                Ok(None) => return Ok(0),
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::BrokenPipe,
                        "the writer was dropped before finish(): the body is incomplete",
                    ));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
