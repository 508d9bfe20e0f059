//! Small helpers: poison-tolerant locks, time, random ids.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Locks a mutex, recovering the data of a poisoned one (a panicking request handler
/// must not take the whole service down).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 random bits (from the std hasher's per-process random keys, a counter and the clock).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_i64(now_ms());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// `n` random hex digits (n ≤ 32).
pub(crate) fn random_hex(n: usize) -> String {
    let s = format!("{:016x}{:016x}", random_u64(), random_u64());
    s[..n.min(32)].to_string()
}

/// A new id: `<prefix><yyyymmddHHMMSS-like time in hex><random>`, unique and sortable by
/// creation time.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{:011x}{}", now_ms(), random_hex(16))
}
