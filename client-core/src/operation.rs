//! Operations made of several calls and waits, without the I/O: each says what to do next
//! ([`Step`]), and each client's one driver does it (blocking: send, `thread::sleep`;
//! async: send and the runtime's timer).
//!
//! The driving contract of an [`Operation`]:
//!
//! ```text
//! let started = now();
//! let mut answer = None;
//! loop {
//!     match op.next(now() - started, answer.take())? {
//!         Step::Call(call) => answer = Some(send(call)?),  // a failed call ends it
//!         Step::Sleep(delay) => sleep(delay),
//!         Step::Done(output) => return Ok(output),
//!     }
//! }
//! ```
//!
//! Time comes in as the time elapsed since the operation started, so an operation is
//! tested with virtual time: no clock, no sleeping.

use std::time::Duration;

use maxstorage_protocol::Call;
use maxstorage_protocol::InstanceId;
use maxstorage_protocol::instance::{GetInstanceReadSession, InstanceReadSession};
use maxstorage_protocol::read::GetReadSession;

use crate::error::{Error, Result};
use crate::session::TableReadSession;
use crate::settings::Defaults;
use crate::table::{TableCalls, Wait, instance_session_wait, read_session_wait};

/// What an operation asks its driver to do next.
#[derive(Debug)]
#[must_use = "do what it says: send the call, sleep, or take the output"]
pub enum Step<C, T> {
    /// Send this call and hand its answer to the next [`Operation::next`].
    Call(C),
    /// Wait this long, then call [`Operation::next`] again without an answer.
    Sleep(Duration),
    /// The operation is complete.
    Done(T),
}

/// An operation of several calls and waits (see the module docs for the driving contract).
pub trait Operation {
    /// The call it sends.
    type Call: Call;
    /// What it gives when done.
    type Output;

    /// The next step, given the time since the operation started and the answer to the
    /// call of the previous step (if it was one).
    fn next(
        &mut self,
        elapsed: Duration,
        answer: Option<<Self::Call as Call>::Output>,
    ) -> Result<Step<Self::Call, Self::Output>>;
}

/// Waiting for a table read session to leave `INIT`: polled with `TableGetReadSession`
/// every [`Defaults::session_poll_interval`], up to [`Defaults::session_ready_timeout`].
#[derive(Debug)]
pub struct ReadSessionReady {
    session: Option<TableReadSession>,
    calls: TableCalls,
    defaults: Defaults,
    poll_due: bool,
}

impl ReadSessionReady {
    /// The wait for `session`, just created.
    pub fn new(session: TableReadSession, calls: TableCalls, defaults: &Defaults) -> Self {
        ReadSessionReady {
            session: Some(session),
            calls,
            defaults: defaults.clone(),
            poll_due: false,
        }
    }
}

impl Operation for ReadSessionReady {
    type Call = GetReadSession;
    type Output = TableReadSession;

    fn next(
        &mut self,
        elapsed: Duration,
        answer: Option<maxstorage_protocol::read::ReadSession>,
    ) -> Result<Step<GetReadSession, TableReadSession>> {
        let session = self
            .session
            .as_mut()
            .ok_or(Error::Internal("a finished session wait was polled again"))?;
        if let Some(info) = answer {
            session.replace_info(info);
        }
        if std::mem::take(&mut self.poll_due) {
            return Ok(Step::Call(self.calls.get_read_session(session.id(), false)));
        }
        match read_session_wait(&self.defaults, session, elapsed) {
            Wait::PollAfter(delay) => {
                self.poll_due = true;
                Ok(Step::Sleep(delay))
            }
            Wait::Fail(e) => Err(e),
            Wait::Ready => self
                .session
                .take()
                .map(Step::Done)
                .ok_or(Error::Internal("a finished session wait was polled again")),
        }
    }
}

/// Waiting for an instance read session to leave `initiating`: polled with
/// `InstanceGetReadSession`, as [`ReadSessionReady`] polls a table's.
#[derive(Debug)]
pub struct InstanceSessionReady {
    session: Option<InstanceReadSession>,
    instance: InstanceId,
    defaults: Defaults,
    poll_due: bool,
}

impl InstanceSessionReady {
    /// The wait for `session` of `instance`, just created.
    pub fn new(session: InstanceReadSession, instance: InstanceId, defaults: &Defaults) -> Self {
        InstanceSessionReady {
            session: Some(session),
            instance,
            defaults: defaults.clone(),
            poll_due: false,
        }
    }
}

impl Operation for InstanceSessionReady {
    type Call = GetInstanceReadSession;
    type Output = InstanceReadSession;

    fn next(
        &mut self,
        elapsed: Duration,
        answer: Option<InstanceReadSession>,
    ) -> Result<Step<GetInstanceReadSession, InstanceReadSession>> {
        if let Some(info) = answer {
            self.session = Some(info);
        }
        let session = self
            .session
            .as_ref()
            .ok_or(Error::Internal("a finished session wait was polled again"))?;
        if std::mem::take(&mut self.poll_due) {
            return Ok(Step::Call(GetInstanceReadSession {
                instance: self.instance.clone(),
                session_id: session.session_id.clone(),
            }));
        }
        match instance_session_wait(&self.defaults, session, elapsed) {
            Wait::PollAfter(delay) => {
                self.poll_due = true;
                Ok(Step::Sleep(delay))
            }
            Wait::Fail(e) => Err(e),
            Wait::Ready => self
                .session
                .take()
                .map(Step::Done)
                .ok_or(Error::Internal("a finished session wait was polled again")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{ClientSettings, Host};
    use maxstorage_protocol::read::{ReadSession, ReadSessionOptions};
    use maxstorage_protocol::{Credentials, TableId};

    fn defaults() -> Defaults {
        let mut s = ClientSettings::default();
        s.endpoint("http://127.0.0.1:1".into());
        s.credentials(Credentials::new("id", "key"));
        s.session_ready_timeout(Duration::from_secs(5));
        s.prepare(Host {
            now: std::time::UNIX_EPOCH,
            cores: 1,
        })
        .unwrap()
        .defaults
    }

    fn info(status: &str) -> ReadSession {
        serde_json::from_value(serde_json::json!({
            "SessionId": "s1",
            "SessionStatus": status,
            "SplitsCount": 2,
        }))
        .unwrap()
    }

    fn waiting(status: &str) -> ReadSessionReady {
        let calls = TableCalls {
            table: TableId::new("p", "t"),
        };
        let (_, shape) = calls.create_read_session(ReadSessionOptions::default());
        let session = calls.read_session(info(status), shape);
        ReadSessionReady::new(session, calls, &defaults())
    }

    #[test]
    fn a_ready_session_needs_no_call() {
        let mut op = waiting("NORMAL");
        let Step::Done(session) = op.next(Duration::ZERO, None).unwrap() else {
            panic!("expected done")
        };
        assert_eq!(session.id(), "s1");
        assert!(op.next(Duration::ZERO, None).is_err(), "done means done");
    }

    #[test]
    fn an_initializing_session_is_polled_until_it_is_ready() {
        let mut op = waiting("INIT");
        // Virtual time: sleep, poll, sleep, poll — the second answer is ready.
        let Step::Sleep(delay) = op.next(Duration::ZERO, None).unwrap() else {
            panic!("expected a sleep")
        };
        assert_eq!(delay, Duration::from_secs(1));
        let Step::Call(get) = op.next(delay, None).unwrap() else {
            panic!("expected a poll")
        };
        assert_eq!(get.session_id, "s1");
        assert!(matches!(
            op.next(delay, Some(info("INIT"))).unwrap(),
            Step::Sleep(_)
        ));
        assert!(matches!(op.next(2 * delay, None).unwrap(), Step::Call(_)));
        assert!(matches!(
            op.next(2 * delay, Some(info("NORMAL"))).unwrap(),
            Step::Done(_)
        ));
    }

    #[test]
    fn a_session_that_stays_initializing_or_fails_is_an_error() {
        let mut op = waiting("INIT");
        assert!(matches!(
            op.next(Duration::from_secs(5), None),
            Err(Error::NotReady { .. })
        ));
        let mut op = waiting("EXPIRED");
        assert!(matches!(
            op.next(Duration::ZERO, None),
            Err(Error::NotReady { .. })
        ));
    }

    #[test]
    fn an_instance_session_is_polled_until_it_is_normal() {
        let session = |status: &str| -> InstanceReadSession {
            serde_json::from_value(serde_json::json!({
                "DownloadID": "d1",
                "Status": status,
                "RecordCount": 3,
            }))
            .unwrap()
        };
        let mut op = InstanceSessionReady::new(
            session("initiating"),
            InstanceId::new("p", "i1"),
            &defaults(),
        );
        assert!(matches!(
            op.next(Duration::ZERO, None).unwrap(),
            Step::Sleep(_)
        ));
        let Step::Call(get) = op.next(Duration::from_secs(1), None).unwrap() else {
            panic!("expected a poll")
        };
        assert_eq!(get.session_id, "d1");
        let Step::Done(ready) = op
            .next(Duration::from_secs(1), Some(session("normal")))
            .unwrap()
        else {
            panic!("expected done")
        };
        assert_eq!(ready.record_count, 3);
    }
}
