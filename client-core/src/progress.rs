//! Progress of long reads and writes: a listener the client tells about every batch it
//! hands to the caller and every request body the service acknowledges, and ready-made
//! counters to watch from another thread (a progress bar, a metrics exporter).
//!
//! ```
//! use std::sync::Arc;
//! use maxstorage_client_core::progress::{Progress, ProgressCounters, ProgressListener};
//!
//! let counters = Arc::new(ProgressCounters::default());
//! // `ClientBuilder::progress(counters.clone())`, or `client.with_progress(..)`; the client
//! // then reports like this:
//! counters.on_progress(&Progress::BatchRead { target: "p.default.t", session: "s", rows: 4096, bytes: 65_536 });
//! assert_eq!(counters.rows_read(), 4096);
//! assert_eq!(counters.bytes_read(), 65_536);
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use maxstorage_protocol::write::StreamRef;

/// One step of progress.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A split read handed a record batch to the caller.
    BatchRead {
        /// The table (`project.schema.table`).
        target: &'a str,
        /// The read session.
        session: &'a str,
        /// Rows of the batch.
        rows: u64,
        /// Response-body bytes (as received, possibly compressed) consumed since the
        /// previous batch of the same response.
        bytes: u64,
    },
    /// The service acknowledged a request body of a stream writer.
    BodyWritten {
        /// The table.
        target: &'a str,
        /// The write session.
        session: &'a str,
        /// The stream.
        stream: &'a StreamRef,
        /// Rows of the body.
        rows: u64,
        /// Bytes of the body (as sent, possibly compressed).
        bytes: u64,
    },
}

/// Told about every step of progress of the reads and writes of a client. Called on the
/// thread (or task) doing the I/O: keep it quick and never block.
pub trait ProgressListener: Send + Sync {
    /// One step of progress.
    fn on_progress(&self, progress: &Progress<'_>);
}

/// Totals of rows and bytes read and written, updated as the client reports progress and
/// readable from any thread.
#[derive(Debug, Default)]
pub struct ProgressCounters {
    rows_read: AtomicU64,
    bytes_read: AtomicU64,
    rows_written: AtomicU64,
    bytes_written: AtomicU64,
}

impl ProgressCounters {
    /// Rows handed to the caller by split reads.
    pub fn rows_read(&self) -> u64 {
        self.rows_read.load(Ordering::Relaxed)
    }

    /// Response-body bytes consumed by split reads.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Rows acknowledged by the service to stream writers.
    pub fn rows_written(&self) -> u64 {
        self.rows_written.load(Ordering::Relaxed)
    }

    /// Request-body bytes acknowledged by the service to stream writers.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }
}

impl ProgressListener for ProgressCounters {
    fn on_progress(&self, progress: &Progress<'_>) {
        match *progress {
            Progress::BatchRead { rows, bytes, .. } => {
                self.rows_read.fetch_add(rows, Ordering::Relaxed);
                self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
            }
            Progress::BodyWritten { rows, bytes, .. } => {
                self.rows_written.fetch_add(rows, Ordering::Relaxed);
                self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
            }
        }
    }
}

/// A client's progress listener, if it has one.
#[derive(Clone, Default)]
pub struct ProgressHook(Option<Arc<dyn ProgressListener>>);

impl ProgressHook {
    /// A hook telling `listener`.
    pub fn new(listener: Arc<dyn ProgressListener>) -> ProgressHook {
        ProgressHook(Some(listener))
    }

    /// Tells the listener, if there is one.
    pub fn emit(&self, progress: &Progress<'_>) {
        if let Some(listener) = &self.0 {
            listener.on_progress(progress);
        }
    }
}

impl fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressHook(listener)"
        } else {
            "ProgressHook(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_reads_and_writes_separately() {
        let counters = Arc::new(ProgressCounters::default());
        let hook = ProgressHook::new(counters.clone());
        let stream = StreamRef::new("0", 1);
        for _ in 0..3 {
            hook.emit(&Progress::BatchRead {
                target: "p.default.t",
                session: "s",
                rows: 10,
                bytes: 100,
            });
        }
        hook.emit(&Progress::BodyWritten {
            target: "p.default.t",
            session: "w",
            stream: &stream,
            rows: 7,
            bytes: 70,
        });
        assert_eq!(
            (
                counters.rows_read(),
                counters.bytes_read(),
                counters.rows_written(),
                counters.bytes_written()
            ),
            (30, 300, 7, 70)
        );
        ProgressHook::default().emit(&Progress::BatchRead {
            target: "t",
            session: "s",
            rows: 1,
            bytes: 1,
        });
    }
}
