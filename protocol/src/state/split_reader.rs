//! Resumable split reads.
//!
//! A `TableRead` response is a long stream; when it breaks, the read resumes from the next
//! row not yet delivered (protocol.md A8) instead of starting over or silently ending.
//! [`SplitReader`] keeps the position and builds the request to send next.

use std::time::Duration;

use crate::compression::Compression;
use crate::config::TableId;
use crate::error::{Error, UsageError};
use crate::read::{ReadRows, ReadRowsOptions, RowRange, RowSelection};
use crate::retry::{
    FailureClass, GiveUpReason, Idempotency, JitterSource, RetryDecision, RetryPolicy,
};

/// What to do after a split read broke (see [`SplitReader::on_break`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "resume, finish or fail as it says"]
pub enum BreakOutcome {
    /// Every requested row had arrived; only the end marker was lost: the read is
    /// complete.
    Complete,
    /// Sleep this long, then send [`SplitReader::request`] again: it resumes at the next
    /// row not delivered.
    ResumeAfter(Duration),
    /// Report the break as the read's error: resumes are exhausted or the policy gives up.
    GiveUp(GiveUpReason),
}

/// Where a split read is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitState {
    /// No request sent yet, or a resume is due.
    Ready,
    /// A response is being read.
    Reading,
    /// The stream ended cleanly (end-of-stream marker seen).
    Done,
}

/// The state of one split (or row range) read.
///
/// Positions: the request selects `[offset, offset + count)` of the split (or of the
/// session for RowOffset ranges), then skips `skip_row_num` rows of it. A resume after
/// `delivered` rows asks for `offset + skip + delivered` with no skip, and shortens a
/// bounded count by the same amount, so every row is delivered exactly once.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitReader {
    table: TableId,
    session_id: String,
    selection: RowSelection,
    options: ReadRowsOptions,
    compression: Compression,
    delivered: u64,
    resumes: u32,
    state: SplitState,
}

impl SplitReader {
    /// A reader of `selection` in read session `session_id`.
    pub fn new(
        table: TableId,
        session_id: impl Into<String>,
        selection: RowSelection,
        options: ReadRowsOptions,
        compression: Compression,
    ) -> SplitReader {
        SplitReader {
            table,
            session_id: session_id.into(),
            selection,
            options,
            compression,
            delivered: 0,
            resumes: 0,
            state: SplitState::Ready,
        }
    }

    /// The current state.
    pub fn state(&self) -> SplitState {
        self.state
    }

    /// Rows delivered to the caller so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// How many times the read was resumed.
    pub fn resumes(&self) -> u32 {
        self.resumes
    }

    /// The request to send now: the first one, or the resume after a break.
    pub fn request(&mut self) -> Result<ReadRows, Error> {
        if self.state != SplitState::Ready {
            return Err(state_error(
                "request",
                format!("the read is {:?}", self.state),
            ));
        }
        self.state = SplitState::Reading;
        let mut options = self.options.clone();
        let mut selection = self.selection;
        if self.delivered > 0 {
            let advance = options.skip_row_num.max(0) + self.delivered as i64;
            let base = selection.row_range.unwrap_or(RowRange {
                offset: 0,
                count: 0,
            });
            let count = if base.count > 0 {
                let left = base.count - advance;
                if left <= 0 {
                    // Everything requested was delivered before the break.
                    self.state = SplitState::Done;
                    return Err(state_error(
                        "request",
                        "the read is already complete".into(),
                    ));
                }
                left
            } else {
                0
            };
            selection.row_range = Some(RowRange {
                offset: base.offset + advance,
                count,
            });
            options.skip_row_num = 0;
        }
        Ok(ReadRows {
            table: self.table.clone(),
            session_id: self.session_id.clone(),
            selection,
            options,
            compression: self.compression,
        })
    }

    /// Records rows handed to the caller (call it per decoded record batch).
    pub fn on_rows(&mut self, rows: usize) {
        self.delivered += rows as u64;
    }

    /// Records the end-of-stream marker: the read is complete.
    pub fn on_end_of_stream(&mut self) {
        self.state = SplitState::Done;
    }

    /// Records a broken response (connection reset, truncated body, retryable status); the
    /// next [`request`](Self::request) resumes. Whether to resume at all, and when, is the
    /// retry policy's decision.
    pub fn on_broken(&mut self) {
        if self.state == SplitState::Reading {
            self.state = SplitState::Ready;
            self.resumes += 1;
        }
    }

    /// The read broke (connection reset, truncated body, retryable status, or the resume
    /// request failed): records it and decides. A bounded range whose rows all arrived is
    /// complete; otherwise the read resumes after the policy's delay for an idempotent I/O
    /// failure (attempt = resumes so far), at most `max_resumes` times.
    pub fn on_break(
        &mut self,
        policy: &RetryPolicy,
        max_resumes: u32,
        jitter: &mut dyn JitterSource,
    ) -> BreakOutcome {
        self.on_broken();
        if self.is_exhausted() {
            self.on_end_of_stream();
            return BreakOutcome::Complete;
        }
        if self.resumes > max_resumes {
            return BreakOutcome::GiveUp(GiveUpReason::AttemptsExhausted {
                attempts: self.resumes,
            });
        }
        match policy.decide(
            self.resumes,
            FailureClass::Io,
            Idempotency::Idempotent,
            None,
            jitter,
        ) {
            RetryDecision::RetryAfter(delay) => BreakOutcome::ResumeAfter(delay),
            RetryDecision::GiveUp(reason) => BreakOutcome::GiveUp(reason),
        }
    }

    /// Whether a bounded range has been fully delivered although the stream did not end
    /// (the resume would ask for nothing).
    pub fn is_exhausted(&self) -> bool {
        match self.selection.row_range {
            Some(r) if r.count > 0 => {
                self.options.skip_row_num.max(0) + self.delivered as i64 >= r.count
            }
            _ => false,
        }
    }
}

fn state_error(operation: &'static str, reason: String) -> Error {
    Error::Usage(UsageError::InvalidState { operation, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(selection: RowSelection, skip: i64) -> SplitReader {
        let options = ReadRowsOptions::default().with_skip_row_num(skip);
        SplitReader::new(
            TableId::new("p", "t"),
            "s1",
            selection,
            options,
            Compression::Zstd,
        )
    }

    #[test]
    fn a_break_resumes_completes_or_gives_up() {
        let policy = RetryPolicy::default();
        let mut jitter = crate::retry::SplitMix64::new(7);
        // A whole split: resume after a delay, until the resumes are used up.
        let mut r = reader(RowSelection::split(0), 0);
        let _ = r.request().unwrap();
        r.on_rows(10);
        assert!(matches!(
            r.on_break(&policy, 1, &mut jitter),
            BreakOutcome::ResumeAfter(_)
        ));
        let _ = r.request().unwrap();
        assert_eq!(
            r.on_break(&policy, 1, &mut jitter),
            BreakOutcome::GiveUp(GiveUpReason::AttemptsExhausted { attempts: 2 })
        );
        // A bounded range whose rows all arrived: complete, no resume.
        let mut r = reader(RowSelection::range(100, 50), 0);
        let _ = r.request().unwrap();
        r.on_rows(50);
        assert_eq!(r.on_break(&policy, 3, &mut jitter), BreakOutcome::Complete);
        assert_eq!(r.state(), SplitState::Done);
    }

    #[test]
    fn whole_split_resumes_at_the_next_row() {
        let mut r = reader(RowSelection::split(3), 0);
        let first = r.request().unwrap();
        assert_eq!(first.selection, RowSelection::split(3));
        r.on_rows(4096);
        r.on_rows(100);
        r.on_broken();
        let resume = r.request().unwrap();
        assert_eq!(resume.selection, RowSelection::split_range(3, 4196, 0));
        assert_eq!(resume.compression, Compression::Zstd);
        r.on_rows(10);
        r.on_end_of_stream();
        assert_eq!(
            (r.state(), r.delivered(), r.resumes()),
            (SplitState::Done, 4206, 1)
        );
        assert!(r.request().is_err());
    }

    #[test]
    fn ranges_and_skips_fold_into_the_offset() {
        let mut r = reader(RowSelection::range(1000, 500), 100);
        assert_eq!(r.request().unwrap().options.skip_row_num, 100);
        r.on_rows(150);
        r.on_broken();
        let resume = r.request().unwrap();
        assert_eq!(resume.selection, RowSelection::range(1250, 250));
        assert_eq!(resume.options.skip_row_num, 0);
        r.on_rows(250);
        assert!(r.is_exhausted());
        r.on_broken();
        assert!(r.request().is_err(), "nothing left to ask for");
    }

    #[test]
    fn requests_only_when_ready() {
        let mut r = reader(RowSelection::split(0), 0);
        r.request().unwrap();
        assert!(r.request().is_err(), "a second request while reading");
        r.on_broken();
        assert_eq!(
            r.request().unwrap().selection,
            RowSelection::split(0),
            "nothing delivered: same request"
        );
    }
}
