//! Where a client's credentials come from: fixed ones, or a [`CredentialsProvider`] asked
//! before every request — so a long read or write picks up a refreshed STS token.
//!
//! [`RefreshingCredentials`] wraps any fetch (an STS `AssumeRole` call, a metadata
//! service, a file a sidecar rewrites) and caches its answer until shortly before it
//! expires.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use maxstorage_protocol::Credentials;

use crate::error::Result;

/// A source of credentials, asked for the credentials to sign each request with. It is
/// called from the clients' threads and tasks: keep it fast (cache what you fetch, as
/// [`RefreshingCredentials`] does). An error fails the request being built.
pub trait CredentialsProvider: Send + Sync + std::fmt::Debug {
    /// The credentials to sign a request made at `now` with.
    fn credentials(&self, now: SystemTime) -> Result<Credentials>;
}

/// Fixed credentials.
impl CredentialsProvider for Credentials {
    fn credentials(&self, _now: SystemTime) -> Result<Credentials> {
        Ok(self.clone())
    }
}

/// Credentials fetched when needed and kept until `refresh_before` ahead of their expiry.
pub struct RefreshingCredentials<F> {
    fetch: F,
    refresh_before: Duration,
    cached: Mutex<Option<(Credentials, SystemTime)>>,
}

impl<F> std::fmt::Debug for RefreshingCredentials<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshingCredentials")
            .field("refresh_before", &self.refresh_before)
            .finish_non_exhaustive()
    }
}

impl<F> RefreshingCredentials<F>
where
    F: Fn() -> Result<(Credentials, SystemTime)> + Send + Sync,
{
    /// Credentials from `fetch`, which returns them with their expiry time; they are
    /// fetched again once less than `refresh_before` of their life is left (5 minutes is
    /// a sensible margin for one-hour STS tokens).
    pub fn new(fetch: F, refresh_before: Duration) -> RefreshingCredentials<F> {
        RefreshingCredentials {
            fetch,
            refresh_before,
            cached: Mutex::new(None),
        }
    }

    /// The credentials to use at `now`: the cached ones, or freshly fetched. One caller
    /// fetches while the others wait (no stampede on the token service). If a fetch fails
    /// while the cached credentials have not expired yet, those are used (and the next
    /// call tries again).
    pub fn credentials_at(&self, now: SystemTime) -> Result<Credentials> {
        // A panic in another caller's fetch leaves the cache as it was: still usable.
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((credentials, expires)) = cached.as_ref()
            && now + self.refresh_before < *expires
        {
            return Ok(credentials.clone());
        }
        match (self.fetch)() {
            Ok((credentials, expires)) => {
                *cached = Some((credentials.clone(), expires));
                Ok(credentials)
            }
            Err(e) => match cached.as_ref() {
                Some((credentials, expires)) if now < *expires => {
                    tracing::warn!(error = %e, "refreshing credentials failed; using the cached ones until they expire");
                    Ok(credentials.clone())
                }
                _ => Err(e),
            },
        }
    }
}

impl<F> CredentialsProvider for RefreshingCredentials<F>
where
    F: Fn() -> Result<(Credentials, SystemTime)> + Send + Sync,
{
    fn credentials(&self, now: SystemTime) -> Result<Credentials> {
        self.credentials_at(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ConfigError;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn refreshing_credentials_are_cached_until_close_to_expiry() {
        let fetches = AtomicU32::new(0);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let provider = RefreshingCredentials::new(
            || {
                let n = fetches.fetch_add(1, Ordering::SeqCst);
                Ok((
                    Credentials::new("ak", "sk").with_security_token(format!("token-{n}")),
                    start + Duration::from_secs(3600),
                ))
            },
            Duration::from_secs(300),
        );
        let token = |at: u64| {
            provider
                .credentials_at(start + Duration::from_secs(at))
                .unwrap()
                .security_token()
                .map(str::to_string)
        };
        assert_eq!(token(0).as_deref(), Some("token-0"));
        assert_eq!(token(3000).as_deref(), Some("token-0"), "still fresh");
        assert_eq!(
            token(3301).as_deref(),
            Some("token-1"),
            "within the margin: refetched"
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        let failing = RefreshingCredentials::new(
            || Err(ConfigError::Other("sts down".into()).into()),
            Duration::from_secs(1),
        );
        assert!(failing.credentials(SystemTime::UNIX_EPOCH).is_err());
        // A failed refresh inside the margin keeps the still-valid cached credentials.
        let ok = AtomicU32::new(1);
        let flaky = RefreshingCredentials::new(
            || {
                if ok.swap(0, Ordering::SeqCst) == 1 {
                    Ok((
                        Credentials::new("ak", "sk"),
                        start + Duration::from_secs(3600),
                    ))
                } else {
                    Err(ConfigError::Other("sts down".into()).into())
                }
            },
            Duration::from_secs(300),
        );
        assert!(flaky.credentials_at(start).is_ok());
        assert!(
            flaky
                .credentials_at(start + Duration::from_secs(3400))
                .is_ok(),
            "cached, not expired"
        );
        assert!(
            flaky
                .credentials_at(start + Duration::from_secs(3700))
                .is_err(),
            "expired"
        );
        assert!(
            !format!("{provider:?}").contains("sk"),
            "no secret in Debug"
        );
    }
}
