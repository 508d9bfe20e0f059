//! Fault injection (admin API `POST /admin/v1/faults`): make chosen storage requests fail,
//! stall, lose their connection before they are applied (mid-request-body or before it is
//! read), mid-answer, or after the server applied them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A fault to inject, as sent to `POST /admin/v1/faults`.
///
/// It applies to requests of `action` (an Action name, or `*` for all): to the next
/// `count` of them (default 1), or — with `every_nth` — to every N-th one (at most
/// `count` times when `count` is also given). Its effects combine: a `delay_ms` before
/// anything else; then either an error answer (`status`, with `code`, `message` and
/// `retry_after`) without applying the request, or the connection is closed without
/// applying the request (`drop_before_apply`, or `cut_request_after_bytes` of its body
/// read first), or the request is applied and its connection is cut after
/// `cut_after_bytes` response body bytes, or closed without an answer
/// (`drop_after_apply`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FaultSpec {
    /// Action name (e.g. `TableWrite`) or `*`.
    pub action: String,
    /// How many requests to affect (default 1; with `every_nth`, unlimited by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Affect every N-th matching request instead of the next ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_nth: Option<u64>,
    /// Answer with this HTTP status instead of handling the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Error code of the answer (default derived from the status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Error message of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `Retry-After` seconds of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Delay before handling, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Apply the request, then cut the connection after this many response body bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_after_bytes: Option<u64>,
    /// Apply the request, then close the connection without answering.
    #[serde(default)]
    pub drop_after_apply: bool,
    /// Close the connection without reading the request body, answering, or applying the
    /// request.
    #[serde(default)]
    pub drop_before_apply: bool,
    /// Read at most this many bytes of the request body, then close the connection
    /// without answering or applying the request (the upload is cut mid-body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_request_after_bytes: Option<u64>,
    /// Handle the request, but make the table commit it runs (`TableCommitWriteSession`,
    /// a streaming `TableWrite`) fail with an I/O error after its files were moved into
    /// the table: the answer is 500, and the rows must still be there for the retry.
    #[serde(default)]
    pub fail_store_commit: bool,
    /// Handle the request, but make staging its rows (a `TableWrite`) fail at the fsync of
    /// a staged file: the answer is 500, nothing is acknowledged and no staged file is
    /// left.
    #[serde(default)]
    pub fail_store_stage: bool,
}

impl FaultSpec {
    /// Fail the next request of `action` with `status`.
    pub fn status(action: &str, status: u16) -> FaultSpec {
        FaultSpec {
            action: action.to_string(),
            status: Some(status),
            ..FaultSpec::default()
        }
    }

    /// Apply the next request of `action` and then close the connection unanswered.
    pub fn drop_after_apply(action: &str) -> FaultSpec {
        FaultSpec {
            action: action.to_string(),
            drop_after_apply: true,
            ..FaultSpec::default()
        }
    }

    /// Close the connection of the next request of `action` without applying it.
    pub fn drop_before_apply(action: &str) -> FaultSpec {
        FaultSpec {
            action: action.to_string(),
            drop_before_apply: true,
            ..FaultSpec::default()
        }
    }

    /// Read at most `bytes` of the next request of `action`'s body, then close the
    /// connection without applying it.
    pub fn cut_request_after(action: &str, bytes: u64) -> FaultSpec {
        FaultSpec {
            action: action.to_string(),
            cut_request_after_bytes: Some(bytes),
            ..FaultSpec::default()
        }
    }

    /// Apply the next request of `action` and cut its answer after `bytes` body bytes.
    pub fn cut_after(action: &str, bytes: u64) -> FaultSpec {
        FaultSpec {
            action: action.to_string(),
            cut_after_bytes: Some(bytes),
            ..FaultSpec::default()
        }
    }

    /// Make the table commit of the next request of `action` fail after moving its files.
    pub fn fail_store_commit(action: &str) -> FaultSpec {
        FaultSpec {
            action: action.to_string(),
            fail_store_commit: true,
            ..FaultSpec::default()
        }
    }

    /// Make staging the rows of the next request of `action` fail at the fsync.
    pub fn fail_store_stage(action: &str) -> FaultSpec {
        FaultSpec {
            action: action.to_string(),
            fail_store_stage: true,
            ..FaultSpec::default()
        }
    }

    /// Affect this many requests.
    #[must_use]
    pub fn times(mut self, count: u64) -> FaultSpec {
        self.count = Some(count);
        self
    }

    /// Affect every N-th request.
    #[must_use]
    pub fn every(mut self, n: u64) -> FaultSpec {
        self.every_nth = Some(n);
        self
    }

    /// Answer with this `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> FaultSpec {
        self.retry_after = Some(secs);
        self
    }

    /// Delay the request.
    #[must_use]
    pub fn delay(mut self, ms: u64) -> FaultSpec {
        self.delay_ms = Some(ms);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ApiError> {
        if self.action != "*" && self.action.parse::<maxstorage_protocol::Action>().is_err() {
            return Err(ApiError::invalid_parameter(format!(
                "fault action {:?} is not an Action name or *",
                self.action
            )));
        }
        if let Some(s) = self.status
            && !(400..=599).contains(&s)
        {
            return Err(ApiError::invalid_parameter(format!(
                "fault status {s} is not an error status (400..=599)"
            )));
        }
        if self.every_nth == Some(0) || self.count == Some(0) {
            return Err(ApiError::invalid_parameter(
                "count and every_nth must be positive",
            ));
        }
        if self.status.is_none()
            && self.delay_ms.is_none()
            && self.cut_after_bytes.is_none()
            && !self.drop_after_apply
            && !self.drop_before_apply
            && self.cut_request_after_bytes.is_none()
            && !self.fail_store_commit
            && !self.fail_store_stage
        {
            return Err(ApiError::invalid_parameter(
                "a fault needs status, delay_ms, cut_after_bytes, drop_after_apply, drop_before_apply, \
                 cut_request_after_bytes, fail_store_commit or fail_store_stage",
            ));
        }
        Ok(())
    }
}

/// What a fault does to one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultEffect {
    pub delay: Option<Duration>,
    pub error: Option<ApiError>,
    pub cut_after_bytes: Option<u64>,
    pub drop_after_apply: bool,
    pub drop_before_apply: bool,
    pub cut_request_after_bytes: Option<u64>,
    pub fail_store_commit: bool,
    pub fail_store_stage: bool,
}

impl FaultEffect {
    /// Whether the connection is closed without an answer (before or after applying).
    pub(crate) fn drops_connection(&self) -> bool {
        self.drop_after_apply || self.drop_before_apply || self.cut_request_after_bytes.is_some()
    }

    /// Whether the connection is closed before the request is applied.
    pub(crate) fn drops_before_apply(&self) -> bool {
        self.drop_before_apply || self.cut_request_after_bytes.is_some()
    }
}

#[derive(Debug)]
struct Armed {
    spec: FaultSpec,
    seen: u64,
    fired: u64,
}

/// The armed faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Vec<Armed>,
}

impl Faults {
    pub(crate) fn add(&mut self, spec: FaultSpec) -> Result<(), ApiError> {
        spec.validate()?;
        self.armed.push(Armed {
            spec,
            seen: 0,
            fired: 0,
        });
        Ok(())
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    pub(crate) fn list(&self) -> Vec<FaultSpec> {
        self.armed.iter().map(|a| a.spec.clone()).collect()
    }

    /// The effect of the faults on the next request of `action` (the first matching
    /// fault fires); spent faults are removed.
    pub(crate) fn take(&mut self, action: &str) -> Option<FaultEffect> {
        let mut effect = None;
        for a in self.armed.iter_mut() {
            if a.spec.action != "*" && a.spec.action != action {
                continue;
            }
            a.seen += 1;
            let fires = match a.spec.every_nth {
                Some(n) => a.seen % n == 0,
                None => true,
            };
            if !fires {
                continue;
            }
            a.fired += 1;
            let s = &a.spec;
            effect = Some(FaultEffect {
                delay: s.delay_ms.map(Duration::from_millis),
                error: s.status.map(|status| {
                    let code = s.code.clone().unwrap_or_else(|| {
                        match status {
                            429 => "FlowExceeded",
                            500 => "InternalServerError",
                            502 => "BadGateway",
                            503 => "ServiceUnavailable",
                            504 => "GatewayTimeout",
                            _ => "InjectedFault",
                        }
                        .to_string()
                    });
                    ApiError {
                        status,
                        code,
                        message: s
                            .message
                            .clone()
                            .unwrap_or_else(|| format!("injected fault for {action}")),
                        retry_after: s.retry_after,
                    }
                }),
                cut_after_bytes: s.cut_after_bytes,
                drop_after_apply: s.drop_after_apply,
                drop_before_apply: s.drop_before_apply,
                cut_request_after_bytes: s.cut_request_after_bytes,
                fail_store_commit: s.fail_store_commit,
                fail_store_stage: s.fail_store_stage,
            });
            break;
        }
        self.armed.retain(|a| {
            let limit = a.spec.count.unwrap_or(if a.spec.every_nth.is_some() {
                u64::MAX
            } else {
                1
            });
            a.fired < limit
        });
        effect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_k_and_every_nth() {
        let mut f = Faults::default();
        f.add(FaultSpec::status("TableWrite", 503).times(2))
            .unwrap();
        assert!(f.take("TableRead").is_none());
        assert!(f.take("TableWrite").is_some());
        assert!(f.take("TableWrite").is_some());
        assert!(f.take("TableWrite").is_none());
        f.add(FaultSpec::status("*", 500).every(3)).unwrap();
        let fired: Vec<bool> = (0..6).map(|_| f.take("TableRead").is_some()).collect();
        assert_eq!(fired, vec![false, false, true, false, false, true]);
        assert!(FaultSpec::status("Nope", 500).validate().is_err());
        assert!(FaultSpec::status("TableRead", 200).validate().is_err());
    }
}
