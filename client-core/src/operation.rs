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
//!         Step::Call(call) => answer = Some(send(call)), // its result, failed or not
//!         Step::CallWithBody(call, body) => answer = Some(send_with(call, body)),
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
use crate::write::SessionCore;
use maxstorage_protocol::write::{CommitWriteSession, GetWriteSession, WriteSessionInfo};

/// What an operation asks its driver to do next.
#[derive(Debug)]
#[must_use = "do what it says: send the call, sleep, or take the output"]
pub enum Step<C, T> {
    /// Send this call and hand its answer to the next [`Operation::next`].
    Call(C),
    /// Send this call with this request body (replayable pieces, sent one after another
    /// without being joined; the driver may retry it as the call's idempotency allows)
    /// and hand its answer to the next [`Operation::next`].
    CallWithBody(C, Vec<bytes::Bytes>),
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

    /// The next step, given the time since the operation started and the outcome of the
    /// call of the previous step (if it was one: its answer, or the error it failed with
    /// after the driver's retries).
    fn next(
        &mut self,
        elapsed: Duration,
        answer: Option<Result<<Self::Call as Call>::Output>>,
    ) -> Result<Step<Self::Call, Self::Output>>;
}

/// A session a client waits for: whether it is ready, and how to look at it again.
pub trait Awaited: Sized {
    /// The call that reads the session again.
    type Poll: Call;
    /// The wait decision after waiting `elapsed` so far.
    fn decide(&self, defaults: &Defaults, elapsed: Duration) -> Wait;
    /// The call that reads the session again.
    fn poll(&self) -> Self::Poll;
    /// Takes the answer to [`poll`](Self::poll).
    fn update(&mut self, answer: <Self::Poll as Call>::Output);
}

/// A table read session: ready when `NORMAL`, read again with `TableGetReadSession`.
impl Awaited for TableReadSession {
    type Poll = GetReadSession;

    fn decide(&self, defaults: &Defaults, elapsed: Duration) -> Wait {
        read_session_wait(defaults, self, elapsed)
    }

    fn poll(&self) -> GetReadSession {
        TableCalls {
            table: self.table().clone(),
        }
        .get_read_session(self.id(), false)
    }

    fn update(&mut self, answer: maxstorage_protocol::read::ReadSession) {
        self.replace_info(answer);
    }
}

/// An instance read session (which does not name its instance) with its instance: ready
/// when no longer `initiating`, read again with `InstanceGetReadSession`.
#[derive(Debug)]
pub struct InstanceSession {
    /// The instance.
    pub instance: InstanceId,
    /// Its read session.
    pub session: InstanceReadSession,
}

impl Awaited for InstanceSession {
    type Poll = GetInstanceReadSession;

    fn decide(&self, defaults: &Defaults, elapsed: Duration) -> Wait {
        instance_session_wait(defaults, &self.session, elapsed)
    }

    fn poll(&self) -> GetInstanceReadSession {
        GetInstanceReadSession {
            instance: self.instance.clone(),
            session_id: self.session.session_id.clone(),
        }
    }

    fn update(&mut self, answer: InstanceReadSession) {
        self.session = answer;
    }
}

/// Waiting for a session to become ready: polled every
/// [`Defaults::session_poll_interval`], up to [`Defaults::session_ready_timeout`].
#[derive(Debug)]
pub struct SessionReady<S> {
    session: Option<S>,
    defaults: Defaults,
    poll_due: bool,
}

impl<S: Awaited> SessionReady<S> {
    /// The wait for `session`, just created.
    pub fn new(session: S, defaults: &Defaults) -> Self {
        SessionReady {
            session: Some(session),
            defaults: defaults.clone(),
            poll_due: false,
        }
    }
}

impl<S: Awaited> Operation for SessionReady<S> {
    type Call = S::Poll;
    type Output = S;

    fn next(
        &mut self,
        elapsed: Duration,
        answer: Option<Result<<S::Poll as Call>::Output>>,
    ) -> Result<Step<S::Poll, S>> {
        const FINISHED: Error = Error::Internal("a finished session wait was polled again");
        let session = self.session.as_mut().ok_or(FINISHED)?;
        if let Some(answer) = answer {
            session.update(answer?);
        }
        if std::mem::take(&mut self.poll_due) {
            return Ok(Step::Call(session.poll()));
        }
        match session.decide(&self.defaults, elapsed) {
            Wait::PollAfter(delay) => {
                self.poll_due = true;
                Ok(Step::Sleep(delay))
            }
            Wait::Fail(e) => Err(e),
            Wait::Ready => self.session.take().map(Step::Done).ok_or(FINISHED),
        }
    }
}

/// Implements [`Call`] for an enum whose variants each hold one call: every method goes to
/// the variant's call, and its answer becomes the enum's output through the variant's
/// `wrap` function.
macro_rules! calls_of_an_operation {
    ($name:ident -> $output:ty { $($variant:ident => $wrap:expr),+ $(,)? }) => {
        impl maxstorage_protocol::Call for $name {
            type Output = $output;

            fn action(&self) -> maxstorage_protocol::Action {
                match self {
                    $($name::$variant(c) => c.action(),)+
                }
            }

            fn is_idempotent(&self) -> bool {
                match self {
                    $($name::$variant(c) => c.is_idempotent(),)+
                }
            }

            fn build(
                &self,
                ctx: &maxstorage_protocol::RequestContext<'_>,
            ) -> std::result::Result<
                http::Request<maxstorage_protocol::Body>,
                maxstorage_protocol::Error,
            > {
                match self {
                    $($name::$variant(c) => c.build(ctx),)+
                }
            }

            fn parse(
                &self,
                parts: &http::response::Parts,
                body: &[u8],
            ) -> std::result::Result<$output, maxstorage_protocol::Error> {
                match self {
                    $($name::$variant(c) => c.parse(parts, body).map($wrap),)+
                }
            }
        }
    };
}
pub(crate) use calls_of_an_operation;

/// The calls of a commit: the commit, and the status question that settles a failed one.
#[derive(Debug, Clone)]
pub enum CommitCall {
    /// `TableCommitWriteSession`.
    Commit(CommitWriteSession),
    /// `TableGetWriteSession`, after the commit failed.
    Status(GetWriteSession),
}

calls_of_an_operation!(CommitCall -> WriteSessionInfo {
    Commit => std::convert::identity,
    Status => std::convert::identity,
});

/// A commit that settles its own failure: a commit whose answer was lost may have
/// happened, so a failed commit asks the service for the session's status, and the write
/// session's state machine decides (committed after all, not committed, or unknown).
#[derive(Debug)]
pub struct CommitSettle<'a> {
    session: &'a SessionCore,
    commit: Option<CommitWriteSession>,
    commit_error: Option<Error>,
}

impl<'a> CommitSettle<'a> {
    /// The commit `call` (from the session's `commit_call`) of `session`.
    pub fn new(session: &'a SessionCore, call: CommitWriteSession) -> CommitSettle<'a> {
        CommitSettle {
            session,
            commit: Some(call),
            commit_error: None,
        }
    }
}

impl Operation for CommitSettle<'_> {
    type Call = CommitCall;
    type Output = WriteSessionInfo;

    fn next(
        &mut self,
        _elapsed: Duration,
        answer: Option<Result<WriteSessionInfo>>,
    ) -> Result<Step<CommitCall, WriteSessionInfo>> {
        if let Some(call) = self.commit.take() {
            return Ok(Step::Call(CommitCall::Commit(call)));
        }
        let answer = answer.ok_or(Error::Internal(
            "a commit step came back without its answer",
        ))?;
        let mut state = self.session.state()?;
        match (self.commit_error.take(), answer) {
            // The commit's own answer.
            (None, Ok(info)) => {
                state.on_committed();
                Ok(Step::Done(info))
            }
            (None, Err(error)) => {
                self.commit_error = Some(error);
                Ok(Step::Call(CommitCall::Status(state.on_commit_failed())))
            }
            // The answer to the status question after a failed commit.
            (Some(error), Ok(info)) => match state.on_commit_status(&info) {
                Ok(true) => {
                    tracing::warn!(session = %info.session_id, error = %error, "the commit's answer was lost; the service reports the session committed");
                    Ok(Step::Done(info))
                }
                Ok(false) => Err(error),
                Err(unknown) => Err(unknown.into()),
            },
            (Some(error), Err(status_error)) => {
                Err(state.commit_unresolved(&error, &status_error).into())
            }
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

    fn waiting(status: &str) -> SessionReady<TableReadSession> {
        let calls = TableCalls {
            table: TableId::new("p", "t"),
        };
        let (_, shape) = calls.create_read_session(ReadSessionOptions::default());
        let session = calls.read_session(info(status), shape);
        SessionReady::new(session, &defaults())
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
            op.next(delay, Some(Ok(info("INIT")))).unwrap(),
            Step::Sleep(_)
        ));
        assert!(matches!(op.next(2 * delay, None).unwrap(), Step::Call(_)));
        assert!(matches!(
            op.next(2 * delay, Some(Ok(info("NORMAL")))).unwrap(),
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
        let mut op = SessionReady::new(
            InstanceSession {
                instance: InstanceId::new("p", "i1"),
                session: session("initiating"),
            },
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
            .next(Duration::from_secs(1), Some(Ok(session("normal"))))
            .unwrap()
        else {
            panic!("expected done")
        };
        assert_eq!(ready.session.record_count, 3);
    }

    fn committed(status: &str) -> WriteSessionInfo {
        serde_json::from_value(serde_json::json!({
            "SessionId": "w1",
            "SessionStatus": status,
        }))
        .unwrap()
    }

    fn commit_of(core: &SessionCore) -> CommitSettle<'_> {
        let call = core.state().unwrap().commit_call().unwrap();
        CommitSettle::new(core, call)
    }

    fn core() -> SessionCore {
        SessionCore::new(
            TableId::new("p", "t"),
            "w1".into(),
            maxstorage_protocol::write::WriteMode::Batch,
            String::new(),
        )
    }

    fn lost() -> Error {
        Error::Internal("the commit's connection broke")
    }

    #[test]
    fn a_commit_that_is_answered_commits() {
        let core = core();
        let mut op = commit_of(&core);
        assert!(matches!(
            op.next(Duration::ZERO, None).unwrap(),
            Step::Call(CommitCall::Commit(_))
        ));
        let Step::Done(info) = op
            .next(Duration::ZERO, Some(Ok(committed("COMMITTED"))))
            .unwrap()
        else {
            panic!("expected done")
        };
        assert_eq!(info.session_id, "w1");
        assert!(core.state().unwrap().commit_call().is_err(), "committed");
    }

    #[test]
    fn a_failed_commit_is_settled_by_the_sessions_status() {
        // The service committed although the answer was lost: success.
        let core = core();
        let mut op = commit_of(&core);
        let _ = op.next(Duration::ZERO, None).unwrap();
        let Step::Call(CommitCall::Status(_)) = op.next(Duration::ZERO, Some(Err(lost()))).unwrap()
        else {
            panic!("expected the status question")
        };
        assert!(matches!(
            op.next(Duration::ZERO, Some(Ok(committed("COMMITTED"))))
                .unwrap(),
            Step::Done(_)
        ));

        // It did not commit: the commit's own error, and the session is open again.
        let core = self::core();
        let mut op = commit_of(&core);
        let _ = op.next(Duration::ZERO, None).unwrap();
        let _ = op.next(Duration::ZERO, Some(Err(lost()))).unwrap();
        let err = op
            .next(Duration::ZERO, Some(Ok(committed("NORMAL"))))
            .unwrap_err();
        assert!(err.to_string().contains("connection broke"), "{err}");
        assert!(core.state().unwrap().commit_call().is_ok(), "open again");

        // Nobody knows: an outcome-unknown error, never a plain failure.
        let core = self::core();
        let mut op = commit_of(&core);
        let _ = op.next(Duration::ZERO, None).unwrap();
        let _ = op.next(Duration::ZERO, Some(Err(lost()))).unwrap();
        let err = op.next(Duration::ZERO, Some(Err(lost()))).unwrap_err();
        assert!(err.is_outcome_unknown(), "{err}");
    }
}
