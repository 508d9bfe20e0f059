//! Retry decisions as a pure function (protocol.md A8, B§8.2).
//!
//! The transport reports how an attempt failed; [`RetryPolicy::decide`] answers "retry
//! after this delay" or "give up, because …". Nothing here sleeps, reads a clock or draws
//! system randomness: the current time and the jitter source are inputs, so every decision
//! is reproducible in tests.
//!
//! Rules:
//!
//! * Retryable failures: connection failures ([`FailureClass::Connect`]), I/O errors and
//!   timeouts after the request may have been sent ([`FailureClass::Io`],
//!   [`FailureClass::Timeout`]) and the statuses of [`is_retryable_status`] (408, 429,
//!   5xx). Every other status is final.
//! * A call that is not idempotent is retried only after [`FailureClass::Connect`] — when
//!   nothing was sent — because after any other failure the server may have acted on it.
//! * Attempts are bounded by [`RetryPolicy::max_attempts`], for 429 too (the Java SDK
//!   retries 429 forever; this project never does).
//! * The delay is the server's `Retry-After` when given (capped at
//!   [`RetryPolicy::max_retry_after`]), otherwise exponential backoff with jitter:
//!   `min(initial_backoff · multiplier^(attempt−1), max_backoff)`, reduced by a random
//!   fraction of at most [`RetryPolicy::jitter`].

use std::fmt;
use std::time::{Duration, SystemTime};

/// Whether an HTTP status is worth retrying: 408 Request Timeout, 429 Too Many Requests and
/// every 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// How an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// The connection could not be established (DNS, refused, TLS handshake, connect
    /// timeout): nothing of the request was sent.
    Connect,
    /// An I/O error after the request may have been (partly) sent — a reset connection, a
    /// broken response body: the outcome is unknown.
    Io,
    /// The server answered with this HTTP status.
    Status(u16),
    /// No (complete) response within the deadline after the request was sent: the outcome
    /// is unknown.
    Timeout,
}

impl FailureClass {
    /// Whether the server may have received and acted on the request (everything except
    /// [`FailureClass::Connect`]).
    pub fn request_may_have_been_processed(self) -> bool {
        !matches!(self, FailureClass::Connect)
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureClass::Connect => f.write_str("connection failure (nothing sent)"),
            FailureClass::Io => f.write_str("I/O failure after sending (outcome unknown)"),
            FailureClass::Status(status) => write!(f, "HTTP status {status}"),
            FailureClass::Timeout => f.write_str("timeout after sending (outcome unknown)"),
        }
    }
}

/// Whether repeating a call is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Repeating the call has the same effect as doing it once (reads, session lookups,
    /// exactly-once writes that carry their `RowOffset`).
    Idempotent,
    /// Repeating the call could apply it twice (a plain `TableWrite` without a row offset);
    /// retried only when nothing was sent. (A commit is idempotent: the service answers a
    /// repeated commit of a committed session with its state.)
    NonIdempotent,
}

/// Why [`RetryPolicy::decide`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GiveUpReason {
    /// The attempt that just failed was the last one allowed.
    AttemptsExhausted {
        /// Attempts made, including the first.
        attempts: u32,
    },
    /// The status is final (not 408, 429 or 5xx).
    NotRetryableStatus(u16),
    /// The call is not idempotent and the failed attempt may have reached the server.
    NotIdempotent(FailureClass),
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUpReason::AttemptsExhausted { attempts } => {
                write!(f, "gave up after {attempts} attempt(s)")
            }
            GiveUpReason::NotRetryableStatus(status) => {
                write!(f, "HTTP status {status} is not retryable")
            }
            GiveUpReason::NotIdempotent(failure) => write!(
                f,
                "not retrying a non-idempotent call after a {failure}: the server may have applied it"
            ),
        }
    }
}

/// The outcome of [`RetryPolicy::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryDecision {
    /// Wait this long, then make the next attempt.
    RetryAfter(Duration),
    /// Report the failure.
    GiveUp(GiveUpReason),
}

/// A source of jitter: uniformly distributed fractions in `[0, 1)`.
///
/// Values outside that range (or NaN) returned by an implementation are clamped, so a
/// faulty source cannot push a delay outside the policy's bounds.
pub trait JitterSource {
    /// The next fraction in `[0, 1)`.
    fn next_fraction(&mut self) -> f64;
}

/// A small deterministic pseudo-random generator (SplitMix64) for jitter. Not suitable for
/// anything security-related; seed it per client (e.g. from the request id or a counter)
/// so that clients do not retry in lock-step, and with a constant in tests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`; equal seeds give equal sequences.
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next fraction in `[0, 1)` (53 random bits).
    pub fn next_f64(&mut self) -> f64 {
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }
}

impl JitterSource for SplitMix64 {
    fn next_fraction(&mut self) -> f64 {
        self.next_f64()
    }
}

/// Retry configuration and the decision function (see the module docs for the rules).
///
/// Out-of-range settings are sanitised rather than rejected: `max_attempts` 0 acts as 1, a
/// `multiplier` below 1 or NaN as 1, `jitter` is clamped to `[0, 1]` (NaN as 0).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Total attempts including the first (default 5). Never unbounded.
    pub max_attempts: u32,
    /// Backoff before the second attempt (default 100 ms).
    pub initial_backoff: Duration,
    /// Upper bound of the computed backoff (default 20 s).
    pub max_backoff: Duration,
    /// Growth factor of the backoff per attempt (default 2.0).
    pub multiplier: f64,
    /// Largest fraction by which jitter shortens a backoff (default 0.5: the delay is
    /// uniform in `[backoff / 2, backoff]`). 0 disables jitter, 1 is "full jitter".
    pub jitter: f64,
    /// Upper bound of a server-requested `Retry-After` delay (default 60 s).
    pub max_retry_after: Duration,
}

crate::option_setters!(RetryPolicy {
    with_max_attempts => max_attempts: u32,
    with_initial_backoff => initial_backoff: Duration,
    with_max_backoff => max_backoff: Duration,
    with_multiplier => multiplier: f64,
    with_jitter => jitter: f64,
    with_max_retry_after => max_retry_after: Duration,
});

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(20),
            multiplier: 2.0,
            jitter: 0.5,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (`max_attempts` 1).
    pub fn no_retries() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The backoff before the attempt following failed attempt `attempt` (1-based), without
    /// jitter: `min(initial_backoff · multiplier^(attempt−1), max_backoff)`. Attempt 0 is
    /// treated as 1.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.max(1) - 1).unwrap_or(i32::MAX);
        let multiplier = if self.multiplier.is_nan() || self.multiplier < 1.0 {
            1.0
        } else {
            self.multiplier
        };
        let nanos = self.initial_backoff.as_nanos() as f64 * multiplier.powi(exponent);
        let cap = self.max_backoff.as_nanos() as f64;
        if nanos.is_nan() || nanos >= cap {
            self.max_backoff
        } else {
            // `as` saturates; `nanos < cap` keeps the result within `max_backoff`.
            Duration::from_nanos(nanos.round() as u64).min(self.max_backoff)
        }
    }

    /// [`RetryPolicy::backoff`] shortened by a random fraction of at most
    /// [`RetryPolicy::jitter`]: uniform in `[backoff · (1 − jitter), backoff]`.
    pub fn jittered_backoff(&self, attempt: u32, jitter: &mut dyn JitterSource) -> Duration {
        let base = self.backoff(attempt);
        let spread = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        if spread == 0.0 {
            return base;
        }
        let draw = jitter.next_fraction();
        let draw = if draw.is_nan() {
            0.0
        } else {
            draw.clamp(0.0, 1.0)
        };
        let factor = (1.0 - spread * draw).clamp(0.0, 1.0);
        let nanos = (base.as_nanos() as f64 * factor).round();
        // `as` saturates; the `min` keeps rounding from exceeding the un-jittered value.
        Duration::from_nanos(nanos as u64).min(base)
    }

    /// Decides what to do after attempt number `attempt` (1-based; 0 is treated as 1)
    /// failed with `failure`.
    ///
    /// `retry_after` is the server's `Retry-After` (see [`parse_retry_after`]); when present
    /// it replaces the computed backoff, capped at [`RetryPolicy::max_retry_after`].
    /// `jitter` is drawn from only when a computed backoff is used.
    ///
    /// Checks, in order: a non-retryable status gives
    /// [`GiveUpReason::NotRetryableStatus`]; a non-idempotent call after anything but
    /// [`FailureClass::Connect`] gives [`GiveUpReason::NotIdempotent`]; the last allowed
    /// attempt gives [`GiveUpReason::AttemptsExhausted`]; otherwise
    /// [`RetryDecision::RetryAfter`].
    pub fn decide(
        &self,
        attempt: u32,
        failure: FailureClass,
        idempotency: Idempotency,
        retry_after: Option<Duration>,
        jitter: &mut dyn JitterSource,
    ) -> RetryDecision {
        let attempt = attempt.max(1);
        match failure {
            FailureClass::Status(status) if !is_retryable_status(status) => {
                return RetryDecision::GiveUp(GiveUpReason::NotRetryableStatus(status));
            }
            _ => {}
        }
        if idempotency == Idempotency::NonIdempotent && failure.request_may_have_been_processed() {
            return RetryDecision::GiveUp(GiveUpReason::NotIdempotent(failure));
        }
        if attempt >= self.max_attempts.max(1) {
            return RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts: attempt });
        }
        let delay = match retry_after {
            Some(requested) => requested.min(self.max_retry_after),
            None => self.jittered_backoff(attempt, jitter),
        };
        RetryDecision::RetryAfter(delay)
    }
}

use crate::time::invalid;
pub use crate::time::{RetryAfterError, parse_http_date};

/// Parses a `Retry-After` header value (RFC 9110 §10.2.3) into the delay it asks for.
///
/// Accepts delay-seconds (`120`; values beyond `u64` saturate) and an HTTP-date (see
/// [`parse_http_date`]), which is turned into a delay relative to `now`; a date in the past
/// gives [`Duration::ZERO`]. Surrounding whitespace is ignored.
///
/// # Errors
///
/// [`RetryAfterError`] for an empty value, a negative or fractional number, or a malformed
/// date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Result<Duration, RetryAfterError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(RetryAfterError::Empty);
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = trimmed.parse::<u64>().unwrap_or(u64::MAX);
        return Ok(Duration::from_secs(seconds));
    }
    if trimmed.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
        return Err(invalid(
            value,
            "delay-seconds must be a non-negative whole number",
        ));
    }
    let at = parse_http_date(trimmed, now)?;
    Ok(at.duration_since(now).unwrap_or(Duration::ZERO))
}
