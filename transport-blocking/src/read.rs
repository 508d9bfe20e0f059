//! Reading: split readers that stream record batches and resume after a broken
//! connection, raw byte streams, and parallel reads of whole sessions.

use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use maxstorage_codec::compress::io::DecompressReader;
use maxstorage_codec::read::DecoderOptions;
use maxstorage_protocol::{Compression, StreamingResponse};

use crate::exec::{Core, Route};
use crate::read_ahead::ReadAhead;
use crate::transport::ResponseBody;
use maxstorage_client_core::items::fuse;
use maxstorage_client_core::split::{BodyDecoder, ParallelRead, Piece, SplitQueue, Step};
use maxstorage_client_core::{Error, Result};

/// A response body being decoded into record batches, its bytes read ahead on another
/// thread.
pub(crate) struct DecodingBody {
    body: ReadAhead,
    decoder: BodyDecoder,
}

impl DecodingBody {
    pub(crate) fn new(
        head: &StreamingResponse,
        body: ResponseBody,
        options: DecoderOptions,
    ) -> Result<DecodingBody> {
        Ok(DecodingBody::with_decoder(
            body,
            BodyDecoder::new(head, options)?,
        ))
    }

    fn with_decoder(body: ResponseBody, decoder: BodyDecoder) -> DecodingBody {
        DecodingBody {
            body: ReadAhead::start(body),
            decoder,
        }
    }

    /// The schema, once the stream's schema message has arrived.
    pub(crate) fn schema(&self) -> Option<SchemaRef> {
        self.decoder.schema()
    }

    /// Reads until a batch is complete, the stream ends, or it breaks. A corrupt stream is
    /// an error (`Err`), not a break.
    pub(crate) fn step(&mut self) -> Result<Piece> {
        loop {
            match self.decoder.step()? {
                Step::Batch(batch) => return Ok(Piece::Batch(batch)),
                Step::End => return Ok(Piece::End),
                Step::NeedInput => {}
            }
            match self.body.next() {
                Ok(None) => {
                    if let Some(e) = self.decoder.end_of_body()? {
                        return Ok(Piece::Broken(e));
                    }
                }
                Ok(Some(bytes)) => self.decoder.feed(bytes)?,
                Err(e) => return Ok(Piece::Broken(Error::io("reading the response body", e))),
            }
        }
    }
}

maxstorage_surface::split_batches! {
    /// The record batches of one split (or row range), streamed: memory holds one batch and
    /// one read buffer. A broken connection resumes at the next undelivered row; the rows
    /// come out exactly once, or the iterator ends with an error — never silently short.
    SplitBatches {
        /// The response being decoded, if one is open.
        current: Option<DecodingBody> = None,
        /// Whether the read ended (with its last batch or an error).
        done: bool = false,
    }
}

impl SplitBatches {
    fn open(&mut self) -> Result<DecodingBody> {
        let span = self.progress.span().clone();
        let _in_span = span.enter();
        let call = self.progress.request()?;
        let route = Route::session(self.progress.target(), &call.session_id);
        let (head, body) = self.core.open(&call, route)?;
        Ok(DecodingBody::with_decoder(
            body,
            self.progress.decoder(&head)?,
        ))
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            let current = match self.current.as_mut() {
                Some(current) => current,
                None => match self.open() {
                    Ok(body) => self.current.insert(body),
                    Err(e) => {
                        let delay = self.progress.on_open_failed(e, &self.core.retry)?;
                        thread::sleep(delay);
                        continue;
                    }
                },
            };
            match current.step()? {
                Piece::Batch(batch) => {
                    return Ok(Some(self.progress.on_batch(batch, &current.decoder)?));
                }
                Piece::End => {
                    self.progress.on_end(&current.decoder);
                    self.current = None;
                    self.done = true;
                    return Ok(None);
                }
                Piece::Broken(e) => {
                    self.current = None;
                    match self.progress.on_broken(e, &self.core.retry)? {
                        None => {
                            self.done = true;
                            return Ok(None);
                        }
                        Some(delay) => thread::sleep(delay),
                    }
                }
            }
        }
    }
}

impl Iterator for SplitBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        fuse(self.next_batch(), &mut self.done)
    }
}

maxstorage_surface::split_with_schema! {
    /// A split read as a [`RecordBatchReader`] (see [`SplitBatches::into_reader`]).
    SplitReader,
    /// This read as an Arrow [`RecordBatchReader`], for anything that takes one (Parquet
    /// and IPC writers, DataFusion, the C stream interface). Its schema is the session's,
    /// known before anything is read; only a read of other columns than the session's
    /// ([`ReadOptions::data_columns`](crate::ReadOptions::data_columns)) starts now, to learn them from the response. It
    /// still resumes after a break; errors are [`ArrowError::ExternalError`]s carrying
    /// the client's [`Error`].
    fn into_reader,
    ;
}

impl Iterator for SplitReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        self.batches.next().map(|r| r.map_err(ArrowError::from))
    }
}

impl RecordBatchReader for SplitReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

maxstorage_surface::stream_batches!();

impl Iterator for StreamBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        Piece::into_final_item(self.body.step(), &mut self.done)
    }
}

/// The raw bytes of a `TableRead` response: an Arrow IPC stream, with any whole-body
/// compression removed (IPC buffer compression stays; any Arrow IPC reader handles it).
/// A raw stream cannot resume; a break surfaces as an error, and a cut-short stream is
/// detected by the reader as a missing end-of-stream marker.
pub struct RawRowsReader {
    inner: Box<dyn Read + Send>,
}

impl std::fmt::Debug for RawRowsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRowsReader").finish_non_exhaustive()
    }
}

impl RawRowsReader {
    pub(crate) fn new(head: &StreamingResponse, body: ResponseBody) -> Result<RawRowsReader> {
        let inner: Box<dyn Read + Send> = match head.compression {
            Some(c) if c != Compression::Uncompressed => Box::new(DecompressReader::new(body, c)?),
            _ => body,
        };
        Ok(RawRowsReader { inner })
    }
}

impl Read for RawRowsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

/// Batches of a whole session read by several threads, in completion order. The queue
/// between the threads and the caller is bounded, so memory does not grow with the table.
pub struct ParallelBatches {
    rx: mpsc::Receiver<Result<(usize, RecordBatch)>>,
    workers: Vec<thread::JoinHandle<()>>,
    failed: bool,
    schema: Option<SchemaRef>,
}

impl std::fmt::Debug for ParallelBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelBatches")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl ParallelBatches {
    pub(crate) fn start(read: ParallelRead<Core>) -> ParallelBatches {
        let schema = read.session.batch_schema(&read.options);
        let queue = Arc::new(SplitQueue::new(&read.session));
        let (tx, rx) = mpsc::sync_channel(read.workers * 2);
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let read = Arc::new(read);
        let handles = (0..read.workers)
            .map(|_| {
                let (read, queue, tx, cancel) =
                    (read.clone(), queue.clone(), tx.clone(), cancel.clone());
                let failed = tx.clone();
                crate::spawn::spawn("maxstorage-read", move || {
                    while !cancel.load(std::sync::atomic::Ordering::Relaxed) {
                        let Some((index, selection)) = queue.next() else {
                            return;
                        };
                        for item in SplitBatches::new(
                            read.core.clone(),
                            &read.session,
                            selection,
                            &read.options,
                            &read.defaults,
                        ) {
                            let failed = item.is_err();
                            if tx.send(item.map(|b| (index, b))).is_err() || failed {
                                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                })
                .map_err(|e| {
                    // The channel holds two items per worker: this send never blocks.
                    let _ = failed.send(Err(Error::io("starting a read worker", e)));
                })
                .ok()
            })
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        ParallelBatches {
            rx,
            workers: handles,
            failed: false,
            schema,
        }
    }

    /// The schema of the batches: the session's, known before anything is read (`None`
    /// when [`ReadOptions::data_columns`](crate::ReadOptions::data_columns) asks for other columns).
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    /// The whole read as an Arrow [`RecordBatchReader`] (the split numbers dropped), for
    /// anything that takes one. Its schema is the session's; only a read of other columns
    /// than the session's takes its first batch now, to learn them (such a read that
    /// returns no rows has an empty schema).
    pub fn into_reader(mut self) -> Result<TableReader> {
        let (schema, first) = match self.schema.clone() {
            Some(schema) => (schema, None),
            None => match self.next().transpose()? {
                Some((_, batch)) => (batch.schema(), Some(batch)),
                None => (Arc::new(arrow_schema::Schema::empty()), None),
            },
        };
        Ok(TableReader {
            batches: self,
            schema,
            first,
        })
    }
}

/// A whole table read as a [`RecordBatchReader`] (see [`ParallelBatches::into_reader`]).
#[derive(Debug)]
pub struct TableReader {
    batches: ParallelBatches,
    schema: SchemaRef,
    first: Option<RecordBatch>,
}

impl Iterator for TableReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        self.batches
            .next()
            .map(|r| r.map(|(_, batch)| batch).map_err(ArrowError::from))
    }
}

impl RecordBatchReader for TableReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Iterator for ParallelBatches {
    /// The split number (position in [`TableReadSession::splits`](crate::TableReadSession::splits)) and a batch of it.
    type Item = Result<(usize, RecordBatch)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.rx.recv() {
            Ok(Err(e)) => {
                self.failed = true;
                Some(Err(e))
            }
            Ok(ok) => Some(ok),
            Err(_) => {
                for h in self.workers.drain(..) {
                    if h.join().is_err() {
                        self.failed = true;
                        return Some(Err(Error::Internal("a read worker panicked")));
                    }
                }
                None
            }
        }
    }
}
