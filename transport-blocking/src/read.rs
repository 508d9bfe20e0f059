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
use maxstorage_protocol::read::RowSelection;
use maxstorage_protocol::{Compression, StreamingResponse};

use crate::exec::{Core, Route};
use crate::read_ahead::ReadAhead;
use crate::transport::ResponseBody;
use maxstorage_client_core::split::{BodyDecoder, SplitProgress, Step};
use maxstorage_client_core::{Defaults, Error, ReadOptions, Result, TableReadSession};

/// A response body being decoded into record batches, its bytes read ahead on another
/// thread.
pub(crate) struct DecodingBody {
    body: ReadAhead,
    decoder: BodyDecoder,
}

/// What reading the next piece of a body gave.
pub(crate) enum Piece {
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

/// The record batches of one split (or row range), streamed: memory holds one batch and
/// one read buffer. A broken connection resumes at the next undelivered row; the rows
/// come out exactly once, or the iterator ends with an error — never silently short.
pub struct SplitBatches {
    core: Arc<Core>,
    progress: SplitProgress,
    current: Option<DecodingBody>,
    done: bool,
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
            current: None,
            done: false,
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
                    return Ok(None);
                }
                Piece::Broken(e) => {
                    self.current = None;
                    match self.progress.on_broken(e, &self.core.retry)? {
                        None => return Ok(None),
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
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl SplitBatches {
    /// This read as an Arrow [`RecordBatchReader`], for anything that takes one (Parquet
    /// and IPC writers, DataFusion, the C stream interface). Its schema is the session's,
    /// known before anything is read; only a read of other columns than the session's
    /// ([`ReadOptions::data_columns`]) starts now, to learn them from the response. It
    /// still resumes after a break; errors are [`ArrowError::ExternalError`]s carrying
    /// the client's [`Error`].
    pub fn into_reader(mut self) -> Result<SplitReader> {
        let first = match self.schema() {
            Some(_) => None,
            None => {
                let first = self.next_batch()?;
                if first.is_none() {
                    self.done = true;
                }
                first
            }
        };
        let schema = self
            .schema()
            .ok_or_else(|| Error::from(maxstorage_client_core::IntegrityError::NoSchema))?;
        Ok(SplitReader {
            batches: self,
            schema,
            first,
        })
    }
}

/// A split read as a [`RecordBatchReader`] (see [`SplitBatches::into_reader`]).
pub struct SplitReader {
    batches: SplitBatches,
    schema: SchemaRef,
    first: Option<RecordBatch>,
}

impl std::fmt::Debug for SplitReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitReader")
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

impl SplitReader {
    /// Rows delivered so far.
    pub fn rows(&self) -> u64 {
        self.batches.rows()
    }

    /// How many times the read resumed after a break.
    pub fn resumes(&self) -> u32 {
        self.batches.resumes()
    }
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
        self.body.schema()
    }
}

impl Iterator for StreamBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.body.step();
        match step {
            Ok(Piece::Batch(b)) => Some(Ok(b)),
            Ok(Piece::End) => {
                self.done = true;
                None
            }
            Ok(Piece::Broken(e)) | Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
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
    pub(crate) fn start(
        core: Arc<Core>,
        session: Arc<TableReadSession>,
        options: ReadOptions,
        defaults: Defaults,
        workers: usize,
    ) -> ParallelBatches {
        let schema = session.batch_schema(&options);
        let splits: Vec<RowSelection> = session.splits();
        let queue = Arc::new(std::sync::Mutex::new(
            splits
                .into_iter()
                .enumerate()
                .collect::<std::collections::VecDeque<_>>(),
        ));
        let workers = workers.max(1);
        let (tx, rx) = mpsc::sync_channel(workers * 2);
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handles = (0..workers)
            .map(|_| {
                let (core, session, options, defaults, queue, tx, cancel) = (
                    core.clone(),
                    session.clone(),
                    options.clone(),
                    defaults.clone(),
                    queue.clone(),
                    tx.clone(),
                    cancel.clone(),
                );
                let failed = tx.clone();
                crate::spawn::spawn("maxstorage-read", move || {
                    while !cancel.load(std::sync::atomic::Ordering::Relaxed) {
                        let Some((index, selection)) =
                            queue.lock().ok().and_then(|mut q| q.pop_front())
                        else {
                            return;
                        };
                        for item in SplitBatches::new(
                            core.clone(),
                            &session,
                            selection,
                            &options,
                            &defaults,
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
    /// when [`ReadOptions::data_columns`] asks for other columns).
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
    /// The split number (position in [`TableReadSession::splits`]) and a batch of it.
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
