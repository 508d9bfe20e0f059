//! Reading: split readers that stream record batches and resume after a broken
//! connection, raw byte streams, and parallel reads of whole sessions.

use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use maxstorage_codec::compress::io::DecompressReader;
use maxstorage_codec::read::{ArrowStreamDecoder, DecoderOptions};
use maxstorage_protocol::read::{ReadRows, RowSelection};
use maxstorage_protocol::retry::{FailureClass, Idempotency, RetryDecision, SplitMix64};
use maxstorage_protocol::state::split_reader::{SplitReader, SplitState};
use maxstorage_protocol::{Compression, StreamingResponse};
use tracing::warn;

use crate::exec::{Core, Route};
use crate::transport::ResponseBody;
use maxstorage_client_core::{Error, ReadOptions, Result, TableReadSession};

/// Size of the buffer body bytes are read with.
const READ_CHUNK: usize = 64 * 1024;

/// A response body being decoded into record batches.
pub(crate) struct DecodingBody {
    body: ResponseBody,
    decoder: ArrowStreamDecoder,
    buf: Vec<u8>,
    ended: bool,
}

/// What reading the next piece of a body gave.
pub(crate) enum Step {
    /// A batch.
    Batch(RecordBatch),
    /// The stream ended cleanly.
    End,
    /// The connection broke or the body was cut short: the read may resume.
    Broken(Error),
}

impl DecodingBody {
    pub fn new(
        head: &StreamingResponse,
        body: ResponseBody,
        options: DecoderOptions,
    ) -> Result<DecodingBody> {
        let options = DecoderOptions {
            body_encoding: maxstorage_codec::read::BodyEncoding::from_content_encoding(
                head.content_encoding.as_deref(),
            )?,
            ..options
        };
        Ok(DecodingBody {
            body,
            decoder: ArrowStreamDecoder::new(options),
            buf: vec![0; READ_CHUNK],
            ended: false,
        })
    }

    /// The schema, once the stream's schema message has arrived.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.decoder.schema()
    }

    /// Reads until a batch is complete, the stream ends, or it breaks. A corrupt stream is
    /// an error (`Err`), not a break.
    pub fn step(&mut self) -> Result<Step> {
        loop {
            if let Some(batch) = self.decoder.next_batch()? {
                return Ok(Step::Batch(batch));
            }
            if self.ended {
                return Ok(Step::End);
            }
            match self.body.read(&mut self.buf) {
                Ok(0) => match self.decoder.finish() {
                    Ok(()) => self.ended = true,
                    Err(e) if e.is_truncated() => return Ok(Step::Broken(e.into())),
                    Err(e) => return Err(e.into()),
                },
                Ok(n) => self.decoder.feed(&self.buf[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Ok(Step::Broken(Error::io("reading the response body", e))),
            }
        }
    }
}

/// The record batches of one split (or row range), streamed: memory holds one batch and
/// one read buffer. A broken connection resumes at the next undelivered row; the rows
/// come out exactly once, or the iterator ends with an error — never silently short.
pub struct SplitBatches {
    core: Arc<Core>,
    target: String,
    reader: SplitReader,
    decoder_options: DecoderOptions,
    current: Option<DecodingBody>,
    max_resumes: u32,
    jitter: SplitMix64,
    schema: Option<SchemaRef>,
    done: bool,
}

impl std::fmt::Debug for SplitBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitBatches")
            .field("target", &self.target)
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

impl SplitBatches {
    pub(crate) fn new(
        core: Arc<Core>,
        session: &TableReadSession,
        selection: RowSelection,
        options: &ReadOptions,
        default_compression: Compression,
    ) -> SplitBatches {
        let reader = SplitReader::new(
            session.table().clone(),
            session.id(),
            selection,
            options.to_wire(),
            options.compression.unwrap_or(default_compression),
        );
        SplitBatches {
            target: session.table().target(),
            core,
            reader,
            decoder_options: session.decoder_options(),
            current: None,
            max_resumes: options.max_resumes,
            jitter: SplitMix64::new(selection_seed(&selection)),
            schema: None,
            done: false,
        }
    }

    /// The schema of the batches, once the first response has started.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    /// Rows delivered so far.
    pub fn rows(&self) -> u64 {
        self.reader.delivered()
    }

    /// How many times the read resumed after a break.
    pub fn resumes(&self) -> u32 {
        self.reader.resumes()
    }

    fn open(&mut self) -> Result<()> {
        let call: ReadRows = self.reader.request()?;
        let route = Route::session(&self.target, &call.session_id);
        let (head, body) = self.core.open(&call, route)?;
        let decoding = DecodingBody::new(&head, body, self.decoder_options.clone())?;
        self.current = Some(decoding);
        Ok(())
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if self.current.is_none() {
                match self.open() {
                    Ok(()) => {}
                    Err(e) if e.is_retryable() && self.reader.state() == SplitState::Reading => {
                        self.reader.on_broken();
                        self.pause_before_resume(e)?;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(current) = self.current.as_mut() else {
                continue;
            };
            match current.step()? {
                Step::Batch(batch) => {
                    if self.schema.is_none() {
                        self.schema = current.schema();
                    }
                    self.reader.on_rows(batch.num_rows());
                    return Ok(Some(batch));
                }
                Step::End => {
                    self.reader.on_end_of_stream();
                    self.current = None;
                    return Ok(None);
                }
                Step::Broken(e) => {
                    self.current = None;
                    self.reader.on_broken();
                    if self.reader.is_exhausted() {
                        // Every requested row arrived; only the end marker was lost.
                        self.reader.on_end_of_stream();
                        return Ok(None);
                    }
                    self.pause_before_resume(e)?;
                }
            }
        }
    }

    fn pause_before_resume(&mut self, cause: Error) -> Result<()> {
        let resumes = self.reader.resumes();
        if resumes > self.max_resumes {
            return Err(cause);
        }
        match self.core.retry.decide(
            resumes,
            FailureClass::Io,
            Idempotency::Idempotent,
            None,
            &mut self.jitter,
        ) {
            RetryDecision::RetryAfter(delay) => {
                warn!(target = %self.target, delivered = self.reader.delivered(), resumes, error = %cause, "split read broke; resuming");
                thread::sleep(delay);
                Ok(())
            }
            RetryDecision::GiveUp(_) => Err(cause),
        }
    }
}

fn selection_seed(selection: &RowSelection) -> u64 {
    let index = selection.split_index.unwrap_or(-1) as u64;
    let offset = selection.row_range.map_or(0, |r| r.offset as u64);
    index.rotate_left(32) ^ offset ^ 0x9E37_79B9_7F4A_7C15
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
            Ok(Step::Batch(b)) => Some(Ok(b)),
            Ok(Step::End) => {
                self.done = true;
                None
            }
            Ok(Step::Broken(e)) | Err(e) => {
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
        default_compression: Compression,
        workers: usize,
    ) -> ParallelBatches {
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
                let (core, session, options, queue, tx, cancel) = (
                    core.clone(),
                    session.clone(),
                    options.clone(),
                    queue.clone(),
                    tx.clone(),
                    cancel.clone(),
                );
                thread::spawn(move || {
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
                            default_compression,
                        ) {
                            let failed = item.is_err();
                            if tx.send(item.map(|b| (index, b))).is_err() || failed {
                                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        ParallelBatches {
            rx,
            workers: handles,
            failed: false,
        }
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
                        return Some(Err(Error::Integrity("a read worker panicked".into())));
                    }
                }
                None
            }
        }
    }
}
