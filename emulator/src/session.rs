//! The live sessions of the service (in memory: sessions do not survive a restart,
//! staged data may be lost, committed data never is).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use maxstorage_protocol::write::WriteMode;

use crate::error::ApiError;
use crate::instance::InstanceSession;
use crate::read::ReadSession;
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

    /// Removes sessions that expired more than `grace_ms` ago.
    pub(crate) fn purge(&self, grace_ms: i64) {
        let now = now_ms();
        lock(&self.read).retain(|_, s| s.expires_ms() + grace_ms > now);
        lock(&self.write).retain(|_, s| lock(s).expires_ms + grace_ms > now);
        lock(&self.instance).retain(|_, s| s.expires_ms + grace_ms > now);
    }
}
