//! Route affinity (protocol.md A1, B§3.3): the route token of each session.
//!
//! The service returns an opaque `x-odps-max-storage-route-token` on session and stream
//! responses; requests of the same session send it back so they reach the same node.
//! Tokens are kept **per session** (keyed by target and session id), never shared across
//! sessions, and a caller may override the token of any call.

use std::collections::HashMap;

/// The route tokens of the sessions a client knows.
#[derive(Debug, Clone, Default)]
pub struct RouteAffinity {
    tokens: HashMap<(String, String), String>,
}

impl RouteAffinity {
    /// No tokens yet.
    pub fn new() -> RouteAffinity {
        RouteAffinity::default()
    }

    /// Records the token a response of session `session_id` on `target` carried; `None`
    /// (no header) keeps the previous token, as the official clients do.
    pub fn observe(&mut self, target: &str, session_id: &str, token: Option<&str>) {
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            self.tokens
                .insert((target.to_string(), session_id.to_string()), t.to_string());
        }
    }

    /// The token to send on a call of this session: the explicit `override_token` if given,
    /// else the session's recorded token.
    pub fn token<'a>(
        &'a self,
        target: &str,
        session_id: &str,
        override_token: Option<&'a str>,
    ) -> Option<&'a str> {
        override_token.or_else(|| {
            self.tokens
                .get(&(target.to_string(), session_id.to_string()))
                .map(String::as_str)
        })
    }

    /// Forgets a session's token (after commit or abort).
    pub fn forget(&mut self, target: &str, session_id: &str) {
        self.tokens
            .remove(&(target.to_string(), session_id.to_string()));
    }

    /// Number of sessions with a token.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no session has a token.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_stay_with_their_session() {
        let mut r = RouteAffinity::new();
        r.observe("t", "s1", Some("rt;s1;1"));
        r.observe("t", "s2", Some("rt;s2;1"));
        assert_eq!(r.token("t", "s1", None), Some("rt;s1;1"));
        assert_eq!(r.token("t", "s2", None), Some("rt;s2;1"));
        assert_eq!(r.token("t", "s3", None), None);
        assert_eq!(r.token("other", "s1", None), None);
        r.observe("t", "s1", None);
        assert_eq!(r.token("t", "s1", None), Some("rt;s1;1"));
        r.observe("t", "s1", Some("rt;s1;2"));
        assert_eq!(r.token("t", "s1", Some("explicit")), Some("explicit"));
        assert_eq!(r.token("t", "s1", None), Some("rt;s1;2"));
        r.forget("t", "s1");
        assert_eq!(r.token("t", "s1", None), None);
        assert_eq!(r.len(), 1);
    }
}
