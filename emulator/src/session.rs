//! The live sessions of the service (in memory: sessions do not survive a restart,
//! staged data may be lost, committed data never is).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use maxstorage_protocol::header;
use maxstorage_protocol::write::WriteMode;

use crate::error::ApiError;
use crate::instance::InstanceSession;
use crate::read::ReadSession;
use crate::service::Request;
use crate::util::{lock, now_ms};
use crate::write::WriteSession;

/// The node name in route tokens.
pub(crate) const NODE: &str = "emulator-0";

/// The route token of a session: `<session>;<node>;<n>` (C++ needs at least two
/// `;`-separated fields, protocol.md B§3.3).
pub(crate) fn route_token(session_id: &str) -> String {
    format!("{session_id};{NODE};1")
}

/// Every live session.
#[derive(Default)]
pub(crate) struct Sessions {
    pub read: Mutex<HashMap<String, Arc<ReadSession>>>,
    pub write: Mutex<HashMap<String, Arc<Mutex<WriteSession>>>>,
    /// The implicit `default` streaming session of each (table id, mode).
    pub defaults: Mutex<HashMap<(u64, WriteMode), String>>,
    pub instance: Mutex<HashMap<String, Arc<InstanceSession>>>,
    /// Requests that carried a route token issued to another session, per session id.
    route_mismatches: Mutex<HashMap<String, u64>>,
}

impl Sessions {
    /// A read session by id (expired ones too, until purged).
    pub(crate) fn read_session(&self, id: &str) -> Result<Arc<ReadSession>, ApiError> {
        lock(&self.read).get(id).cloned().ok_or_else(|| {
            ApiError::not_found(
                "NoSuchSession",
                format!("read session {id:?} does not exist"),
            )
        })
    }

    /// Checks the route token a request addressed to `session_id` carries. An absent or
    /// empty token (C++ sends one before it has a token) and this session's own token
    /// pass. Another token is refused (409 `InvalidRouteToken`) when `strict`, otherwise
    /// served and counted (the user-guide SDK keeps one token for the whole client).
    pub(crate) fn check_route_token(
        &self,
        strict: bool,
        req: &Request,
        session_id: &str,
    ) -> Result<(), ApiError> {
        let Some(token) = req
            .header(header::ROUTE_TOKEN)
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(());
        };
        if token == route_token(session_id) {
            return Ok(());
        }
        let owner = match token.split(';').collect::<Vec<_>>().as_slice() {
            [owner, NODE, _] => format!("issued to session {owner:?}"),
            _ => "not one this service issued".to_string(),
        };
        if strict {
            return Err(ApiError::new(
                409,
                "InvalidRouteToken",
                format!(
                    "the route token {token:?} is {owner}, not to session {session_id:?}; send the token returned with this session"
                ),
            ));
        }
        tracing::debug!(
            session = session_id,
            token,
            "route token of another session"
        );
        *lock(&self.route_mismatches)
            .entry(session_id.to_string())
            .or_default() += 1;
        Ok(())
    }

    /// Requests to `session_id` that carried another session's route token.
    pub(crate) fn route_mismatches(&self, session_id: &str) -> u64 {
        lock(&self.route_mismatches)
            .get(session_id)
            .copied()
            .unwrap_or(0)
    }

    /// Removes sessions that expired more than `grace_ms` ago.
    pub(crate) fn purge(&self, grace_ms: i64) {
        let now = now_ms();
        lock(&self.read).retain(|_, s| s.expires_ms() + grace_ms > now);
        lock(&self.write).retain(|_, s| lock(s).expires_ms + grace_ms > now);
        lock(&self.instance).retain(|_, s| s.expires_ms + grace_ms > now);
        let writes: Vec<_> = lock(&self.write).values().cloned().collect();
        let live: Vec<String> = lock(&self.read)
            .keys()
            .cloned()
            .chain(writes.iter().map(|s| lock(s).id().to_string()))
            .collect();
        lock(&self.route_mismatches).retain(|id, _| live.contains(id));
    }
}
