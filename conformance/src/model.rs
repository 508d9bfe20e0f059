//! Model-based property tests under random faults.
//!
//! A case is a random sequence of [`Step`]s — create a write session, write several
//! streams at once (plain or exactly-once, with every codec, bodies small enough that each
//! stream makes several `TableWrite`s), commit, abort, read everything back — each with up
//! to two random faults armed on the Actions the step uses: error statuses, delays, the
//! connection dropped before the request is applied or cut in the middle of its body, the
//! answer cut after a random number of bytes, the connection dropped after the request was
//! applied, and failing table commits or staged files. The [`Model`] says what the table
//! must hold; after every step the emulator's admin dump must equal it exactly (every
//! column, compared row by row), so no row is lost or duplicated, and every read that
//! succeeds returns exactly the model's rows. A failure the client reports must be true:
//! a failed commit left the table unchanged and the session open; a failed stream holds
//! no more rows on the service than were given to it; calls on a committed or aborted
//! session fail.
//!
//! Cases are drawn by proptest from a seed that is printed first
//! (`MAXSTORAGE_MODEL_SEED` replays it; `MAXSTORAGE_MODEL_CASES` sets the budget), and a
//! failing case is shrunk to a short sequence before it is reported.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use maxstorage_client_core::{Error, ReadOptions, StreamOptions};
use maxstorage_emulator::fault::FaultSpec;
use maxstorage_protocol::read::{ReadSessionOptions, SessionStatus, SplitOptions};
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};
use maxstorage_protocol::{Compression, TableId};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use crate::client::{StorageClient, WriteSession};
use crate::data;
use crate::env::TestEnv;

/// Environment variable holding the seed of a run (printed by every run).
pub const SEED_VAR: &str = "MAXSTORAGE_MODEL_SEED";
/// Environment variable holding the number of cases of a run.
pub const CASES_VAR: &str = "MAXSTORAGE_MODEL_CASES";
/// Cases per client when [`CASES_VAR`] is not set (what CI runs).
pub const DEFAULT_CASES: u32 = 96;

/// One step of a case and the faults armed while it runs.
#[derive(Debug, Clone)]
pub struct Step {
    /// What the client is asked to do.
    pub op: Op,
    /// Faults armed before the step and cleared after it.
    pub faults: Vec<Fault>,
}

/// A client operation.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create a batch write session.
    CreateSession,
    /// Write these streams of a session at the same time, one thread each; each stream
    /// is created, written and closed.
    Write {
        /// The session.
        session: Target,
        /// The streams.
        streams: Vec<StreamPlan>,
    },
    /// Commit the streams of `session` that were written and closed.
    Commit {
        /// The session.
        session: Target,
    },
    /// Abort a session.
    Abort {
        /// The session.
        session: Target,
    },
    /// Read the whole table in a new read session and compare it with the model.
    Read(ReadPlan),
}

/// Which session a step works on: mostly an open one, sometimes any (a committed or
/// aborted session must refuse the step).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Choose among all sessions, not only the open ones.
    pub any: bool,
    /// Index among the sessions chosen from, modulo their number.
    pub index: usize,
}

/// One stream of a [`Op::Write`].
#[derive(Debug, Clone)]
pub struct StreamPlan {
    /// Exactly-once mode.
    pub exactly_once: bool,
    /// Rows of each batch written.
    pub batches: Vec<i64>,
    /// Compression of the bodies.
    pub compression: Compression,
    /// Largest body, in bytes (small, so a stream makes several writes).
    pub max_body_bytes: usize,
    /// Threads compressing its batches (0: every core; 1: the caller).
    pub encoding_threads: usize,
}

/// How a [`Op::Read`] reads.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    /// Compression asked for.
    pub compression: Compression,
    /// Splits of the read session (by parallelism).
    pub splits: i64,
    /// Read every split with this many parallel readers; 0 reads them one by one.
    pub workers: usize,
    /// Largest batch the service returns.
    pub max_batch_rows: i64,
    /// Re-read (and refresh) the session before reading, as a long-running reader does.
    pub refresh: bool,
}

/// A fault armed for one step.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The Action it hits.
    pub action: &'static str,
    /// What it does.
    pub kind: FaultKind,
    /// How many requests it hits (then it is spent).
    pub count: u64,
}

/// What a [`Fault`] does to a request.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this error status without applying the request.
    Status(u16),
    /// Delay the request by this many milliseconds.
    Delay(u64),
    /// Close the connection without applying the request.
    DropBeforeApply,
    /// Read this many bytes of the request body, then close the connection unapplied.
    CutRequest(u64),
    /// Apply the request, then cut the answer after this many body bytes.
    CutResponse(u64),
    /// Apply the request, then close the connection without answering.
    DropAfterApply,
    /// Make the table commit fail after moving its files (`TableCommitWriteSession`).
    FailStoreCommit,
    /// Make staging the rows fail at the fsync (`TableWrite`).
    FailStoreStage,
}

impl Fault {
    /// The emulator's spelling of this fault.
    pub fn spec(&self) -> FaultSpec {
        let base = match &self.kind {
            FaultKind::Status(s) => FaultSpec::status(self.action, *s),
            FaultKind::Delay(ms) => FaultSpec {
                action: self.action.to_string(),
                ..FaultSpec::default()
            }
            .delay(*ms),
            FaultKind::DropBeforeApply => FaultSpec::drop_before_apply(self.action),
            FaultKind::CutRequest(n) => FaultSpec::cut_request_after(self.action, *n),
            FaultKind::CutResponse(n) => FaultSpec::cut_after(self.action, *n),
            FaultKind::DropAfterApply => FaultSpec::drop_after_apply(self.action),
            FaultKind::FailStoreCommit => FaultSpec::fail_store_commit(self.action),
            FaultKind::FailStoreStage => FaultSpec::fail_store_stage(self.action),
        };
        base.times(self.count)
    }
}

const WRITE_ACTIONS: [&str; 4] = [
    "TableCreateWriteStream",
    "TableWrite",
    "TableCloseWriteStream",
    "TableGetWriteStream",
];
const READ_ACTIONS: [&str; 3] = ["TableCreateReadSession", "TableGetReadSession", "TableRead"];

fn fault_kind(action: &'static str) -> BoxedStrategy<FaultKind> {
    let response_cut = if action == "TableRead" {
        0u64..60_000
    } else {
        0u64..200
    };
    let mut kinds = vec![
        (
            3,
            prop_oneof![Just(500u16), Just(502), Just(503), Just(504), Just(429)]
                .prop_map(FaultKind::Status)
                .boxed(),
        ),
        (1, Just(FaultKind::Status(400)).boxed()),
        (1, (1u64..40).prop_map(FaultKind::Delay).boxed()),
        (2, Just(FaultKind::DropBeforeApply).boxed()),
        (2, response_cut.prop_map(FaultKind::CutResponse).boxed()),
        (2, Just(FaultKind::DropAfterApply).boxed()),
    ];
    if action == "TableWrite" {
        kinds.push((2, (0u64..20_000).prop_map(FaultKind::CutRequest).boxed()));
        kinds.push((1, Just(FaultKind::FailStoreStage).boxed()));
    }
    if action == "TableCommitWriteSession" {
        kinds.push((2, Just(FaultKind::FailStoreCommit).boxed()));
    }
    proptest::strategy::Union::new_weighted(kinds).boxed()
}

fn faults(actions: &'static [&'static str]) -> BoxedStrategy<Vec<Fault>> {
    let fault = proptest::sample::select(actions)
        .prop_flat_map(|action| {
            (fault_kind(action), 1u64..=2).prop_map(move |(kind, count)| Fault {
                action,
                kind,
                count,
            })
        })
        .boxed();
    prop_oneof![
        2 => Just(Vec::new()),
        3 => proptest::collection::vec(fault, 1..=2),
    ]
    .boxed()
}

fn compression() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::Uncompressed),
        Just(Compression::Zstd),
        Just(Compression::Lz4Frame),
    ]
}

fn stream_plan() -> impl Strategy<Value = StreamPlan> {
    (
        any::<bool>(),
        proptest::collection::vec(1i64..400, 1..4),
        compression(),
        4096usize..32_768,
        0usize..4,
    )
        .prop_map(
            |(exactly_once, batches, compression, max_body_bytes, encoding_threads)| StreamPlan {
                exactly_once,
                batches,
                compression,
                max_body_bytes,
                encoding_threads,
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    static SESSION: [&str; 1] = ["TableCreateWriteSession"];
    static COMMIT: [&str; 2] = ["TableCommitWriteSession", "TableGetWriteSession"];
    static ABORT: [&str; 1] = ["TableAbortWriteSession"];
    let session = (proptest::bool::weighted(0.15), any::<usize>())
        .prop_map(|(any, index)| Target { any, index });
    prop_oneof![
        1 => faults(&SESSION).prop_map(|faults| Step { op: Op::CreateSession, faults }),
        6 => (session.clone(), proptest::collection::vec(stream_plan(), 1..4), faults(&WRITE_ACTIONS))
            .prop_map(|(session, streams, faults)| Step { op: Op::Write { session, streams }, faults }),
        3 => (session.clone(), faults(&COMMIT))
            .prop_map(|(session, faults)| Step { op: Op::Commit { session }, faults }),
        1 => (session, faults(&ABORT))
            .prop_map(|(session, faults)| Step { op: Op::Abort { session }, faults }),
        3 => (compression(), 1i64..4, 0usize..3, 64i64..2048, any::<bool>(), faults(&READ_ACTIONS))
            .prop_map(|(compression, splits, workers, max_batch_rows, refresh, faults)| Step {
                op: Op::Read(ReadPlan { compression, splits, workers, max_batch_rows, refresh }),
                faults,
            }),
    ]
}

/// A case: a write session, then a sequence of steps.
pub fn case() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), 1..16).prop_map(|mut steps| {
        steps.insert(
            0,
            Step {
                op: Op::CreateSession,
                faults: Vec::new(),
            },
        );
        steps
    })
}

/// Counters of a run, for the figures in `conformance/README.md`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Cases run (shrinking included).
    pub cases: AtomicU64,
    /// Steps run.
    pub steps: AtomicU64,
    /// Faults armed.
    pub faults_armed: AtomicU64,
    /// Faults that fired (hit a request).
    pub faults_fired: AtomicU64,
    /// Rows the client acknowledged as written (streams that finished).
    pub rows_acknowledged: AtomicU64,
    /// Rows committed and checked in the table.
    pub rows_committed: AtomicU64,
    /// Rows read back and compared.
    pub rows_read: AtomicU64,
    /// Failures the client reported (each checked to be true).
    pub client_errors: AtomicU64,
}

impl Stats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        write!(
            f,
            "{} cases, {} steps, {} faults armed / {} fired, {} rows acknowledged, {} committed, \
             {} read back, {} client errors (each checked), 0 rows lost, 0 duplicated",
            g(&self.cases),
            g(&self.steps),
            g(&self.faults_armed),
            g(&self.faults_fired),
            g(&self.rows_acknowledged),
            g(&self.rows_committed),
            g(&self.rows_read),
            g(&self.client_errors),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionState {
    Open,
    Committed,
    Aborted,
}

struct SessionModel<S> {
    handle: S,
    state: SessionState,
    /// Streams written and closed, with the ids of their rows.
    closed: Vec<(StreamRef, Range<i64>)>,
    next_stream: u32,
}

/// What the table must hold: the id ranges committed so far (row `i` is
/// [`data::wide_rows`]`(i, i + 1)`).
#[derive(Debug, Default)]
pub struct Model {
    committed: Vec<Range<i64>>,
    next_id: i64,
}

impl Model {
    /// The rows the table must hold, in id order.
    pub fn rows(&self) -> Vec<RecordBatch> {
        let mut ranges = self.committed.clone();
        ranges.sort_by_key(|r| r.start);
        ranges
            .into_iter()
            .filter(|r| !r.is_empty())
            .map(|r| data::wide_rows(r.start, r.end))
            .collect()
    }

    fn rows_committed(&self) -> u64 {
        self.committed
            .iter()
            .map(|r| (r.end - r.start) as u64)
            .sum()
    }
}

/// Runs `cases` model-based cases (see the module doc) with `client` against `env` (an
/// emulator compressing reads as Arrow IPC buffers) and `body_env` (one compressing whole
/// bodies); each case picks one. Prints the seed first and the figures last; panics with
/// the shrunk failing case if a case fails.
pub fn run<C: StorageClient>(
    client_ipc: &C,
    env_ipc: &TestEnv,
    client_body: &C,
    env_body: &TestEnv,
    seed: u64,
    cases: u32,
) -> Stats {
    println!(
        "[{}] model-based run: seed {seed} ({SEED_VAR}={seed} replays it), {cases} cases",
        client_ipc.name()
    );
    let stats = Stats::default();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng(seed));
    let counter = AtomicU64::new(0);
    let result = runner.run(&(any::<bool>(), case()), |(body, steps)| {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let (client, env) = if body {
            (client_body, env_body)
        } else {
            (client_ipc, env_ipc)
        };
        Stats::add(&stats.cases, 1);
        let table = env.create_table(
            &format!("model_{}_{n}", client.name()),
            &data::WIDE_COLUMNS,
            &[],
        );
        let outcome = run_case(client, env, &table, &steps, &stats);
        env.clear_faults();
        outcome.map_err(TestCaseError::fail)
    });
    println!("[{}] model-based run: {stats}", client_ipc.name());
    if let Err(e) = result {
        panic!(
            "[{}] model-based run failed (replay with {SEED_VAR}={seed}): {e}",
            client_ipc.name()
        );
    }
    // A run that committed nothing, or whose faults never hit a request, tested little.
    if cases >= 16 {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        assert!(
            g(&stats.rows_committed) > 0 && g(&stats.rows_read) > 0 && g(&stats.faults_fired) > 0,
            "[{}] the run exercised too little (replay with {SEED_VAR}={seed}): {stats}",
            client_ipc.name()
        );
    }
    stats
}

/// The seed of a run: [`SEED_VAR`] if set, else a fresh one.
pub fn seed_from_env() -> u64 {
    match std::env::var(SEED_VAR) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={s:?} is not an unsigned integer")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    }
}

/// The number of cases of a run: [`CASES_VAR`] if set, else [`DEFAULT_CASES`].
pub fn cases_from_env() -> u32 {
    match std::env::var(CASES_VAR) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{CASES_VAR}={s:?} is not a number")),
        Err(_) => DEFAULT_CASES,
    }
}

fn rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&seed.wrapping_add(i as u64).to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn run_case<C: StorageClient>(
    client: &C,
    env: &TestEnv,
    table: &TableId,
    steps: &[Step],
    stats: &Stats,
) -> Result<(), String> {
    let mut model = Model::default();
    let mut sessions: Vec<SessionModel<C::Session>> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        Stats::add(&stats.steps, 1);
        for f in &step.faults {
            env.inject(&f.spec());
        }
        Stats::add(&stats.faults_armed, step.faults.len() as u64);
        let outcome = run_step(client, table, step, &mut model, &mut sessions, stats);
        let left = env
            .admin()
            .faults()
            .map_err(|e| format!("listing faults: {e}"))?
            .len();
        Stats::add(
            &stats.faults_fired,
            step.faults.len().saturating_sub(left) as u64,
        );
        env.clear_faults();
        outcome.map_err(|e| format!("step {i} ({:?}): {e}", step.op))?;
        let dump = env.dump(table, None);
        check_rows(&dump, &model.rows()).map_err(|e| {
            format!(
                "after step {i} ({:?}), the table differs from the model: {e}",
                step.op
            )
        })?;
    }
    Stats::add(&stats.rows_committed, model.rows_committed());
    Ok(())
}

fn run_step<C: StorageClient>(
    client: &C,
    table: &TableId,
    step: &Step,
    model: &mut Model,
    sessions: &mut Vec<SessionModel<C::Session>>,
    stats: &Stats,
) -> Result<(), String> {
    let faulted = !step.faults.is_empty();
    match &step.op {
        Op::CreateSession => {
            match client.create_write_session(table, WriteSessionOptions::default()) {
                Ok(handle) => sessions.push(SessionModel {
                    handle,
                    state: SessionState::Open,
                    closed: Vec::new(),
                    next_stream: 0,
                }),
                Err(e) => {
                    reported(stats, &e, faulted)?;
                }
            }
        }
        Op::Write { session, streams } => {
            let Some(s) = pick(sessions, *session) else {
                return Ok(());
            };
            let plans: Vec<(StreamRef, Range<i64>, &StreamPlan)> = streams
                .iter()
                .map(|p| {
                    let rows: i64 = p.batches.iter().sum();
                    let ids = model.next_id..model.next_id + rows;
                    model.next_id += rows;
                    let stream = StreamRef::new(s.next_stream.to_string(), 1);
                    s.next_stream += 1;
                    (stream, ids, p)
                })
                .collect();
            let handle = &s.handle;
            let results: Vec<_> = std::thread::scope(|scope| {
                let running: Vec<_> = plans
                    .iter()
                    .map(|(stream, ids, plan)| {
                        scope.spawn(move || {
                            let mut from = ids.start;
                            let batches: Vec<RecordBatch> = plan
                                .batches
                                .iter()
                                .map(|n| {
                                    let b = data::wide_rows(from, from + n);
                                    from += n;
                                    b
                                })
                                .collect();
                            handle.write_stream(
                                stream.clone(),
                                StreamOptions::default()
                                    .with_exactly_once(plan.exactly_once)
                                    .with_compression(Some(plan.compression))
                                    .with_max_body_bytes(plan.max_body_bytes)
                                    .with_encoding_threads(plan.encoding_threads),
                                &batches,
                            )
                        })
                    })
                    .collect();
                running
                    .into_iter()
                    .map(|t| t.join().expect("writer thread"))
                    .collect()
            });
            for ((stream, ids, plan), result) in plans.into_iter().zip(results) {
                let given = ids.end - ids.start;
                match result {
                    Ok(summary) => {
                        if s.state != SessionState::Open {
                            return Err(format!("a stream of a {:?} session was written", s.state));
                        }
                        if summary.rows != given {
                            return Err(format!(
                                "stream {} acknowledged {} rows of {given}",
                                stream.stream_id, summary.rows
                            ));
                        }
                        Stats::add(&stats.rows_acknowledged, given as u64);
                        s.closed.push((stream, ids));
                    }
                    Err(e) => {
                        reported(stats, &e, faulted || s.state != SessionState::Open)?;
                        if s.state == SessionState::Open {
                            // The failure must not have written more rows than given: the
                            // service's count for the stream (if it exists) is at most that.
                            // Ask until the step's faults (at most four hits) are spent.
                            let mut status = s.handle.stream_status(&stream, plan.exactly_once);
                            for _ in 0..4 {
                                if status.is_ok() {
                                    break;
                                }
                                status = s.handle.stream_status(&stream, plan.exactly_once);
                            }
                            if let Ok(info) = status {
                                let held = info.record_count.or(info.row_offset).unwrap_or(0);
                                if held > given {
                                    return Err(format!(
                                        "stream {} failed ({e}) holding {held} rows of {given} given",
                                        stream.stream_id
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        Op::Commit { session } => {
            let Some(s) = pick(sessions, *session) else {
                return Ok(());
            };
            let streams: Vec<StreamRef> = s.closed.iter().map(|(r, _)| r.clone()).collect();
            match s.handle.commit_streams(streams) {
                Ok(_) => {
                    if s.state != SessionState::Open {
                        return Err(format!("a {:?} session was committed again", s.state));
                    }
                    s.state = SessionState::Committed;
                    model
                        .committed
                        .extend(s.closed.iter().map(|(_, ids)| ids.clone()));
                }
                Err(e) if e.is_outcome_unknown() => {
                    reported(stats, &e, faulted)?;
                    // The client says it cannot tell: ask the service until the faults
                    // of the step (at most four hits) are spent.
                    let mut status = s.handle.status();
                    for _ in 0..4 {
                        if status.is_ok() {
                            break;
                        }
                        status = s.handle.status();
                    }
                    let info =
                        status.map_err(|e| format!("status after an unsettled commit: {e}"))?;
                    if info.status == Some(SessionStatus::Committed) {
                        s.state = SessionState::Committed;
                        model
                            .committed
                            .extend(s.closed.iter().map(|(_, ids)| ids.clone()));
                    }
                }
                Err(e) => {
                    reported(stats, &e, faulted || s.state != SessionState::Open)?;
                    // Any other failed commit changed nothing (checked against the dump
                    // after the step); the session may be committed later or aborted.
                }
            }
        }
        Op::Abort { session } => {
            let Some(s) = pick(sessions, *session) else {
                return Ok(());
            };
            match s.handle.abort() {
                Ok(()) => {
                    if s.state == SessionState::Committed {
                        return Err("a committed session was aborted".into());
                    }
                    s.state = SessionState::Aborted;
                }
                Err(e) => {
                    reported(stats, &e, faulted || s.state != SessionState::Open)?;
                    if s.state == SessionState::Open {
                        // Whether the abort happened is unknown to the caller: ask.
                        let status = s
                            .handle
                            .status()
                            .map_err(|e| format!("status after a failed abort: {e}"))?;
                        if status.status == Some(SessionStatus::Aborted) {
                            s.state = SessionState::Aborted;
                        }
                    }
                }
            }
        }
        Op::Read(plan) => {
            let options = ReadSessionOptions::default()
                .with_split_options(SplitOptions::by_parallelism(plan.splits));
            let mut session = match client.create_read_session(table, options) {
                Ok(s) => s,
                Err(e) => return reported(stats, &e, faulted),
            };
            if plan.refresh
                && let Err(e) = client.get_read_session(&mut session, true)
            {
                return reported(stats, &e, faulted);
            }
            let read = ReadOptions::default()
                .with_compression(Some(plan.compression))
                .with_max_batch_rows(Some(plan.max_batch_rows));
            let got: Result<Vec<RecordBatch>, Error> = if plan.workers == 0 {
                session
                    .splits()
                    .into_iter()
                    .map(|split| client.read(&session, split, &read))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.into_iter().flatten().collect())
            } else {
                client
                    .read_all(&session, &read, plan.workers)
                    .map(|v| v.into_iter().map(|(_, b)| b).collect())
            };
            match got {
                Ok(batches) => {
                    Stats::add(&stats.rows_read, data::row_count(&batches) as u64);
                    check_rows(&batches, &model.rows())
                        .map_err(|e| format!("the read differs from the model: {e}"))?;
                }
                Err(e) => {
                    reported(stats, &e, faulted)?;
                }
            }
        }
    }
    Ok(())
}

/// Counts a failure the client reported; it must explain itself, and it must have a
/// cause: a fault armed for the step, or (`expected`) a refusal of a committed or aborted
/// session. A step with no fault and an open session must succeed.
fn reported(stats: &Stats, e: &Error, expected: bool) -> Result<(), String> {
    Stats::add(&stats.client_errors, 1);
    if e.to_string().trim().is_empty() {
        return Err(format!("an error without a message: {e:?}"));
    }
    if !expected {
        return Err(format!("failed with no fault armed: {e}"));
    }
    Ok(())
}

fn pick<S>(sessions: &mut [SessionModel<S>], target: Target) -> Option<&mut SessionModel<S>> {
    let mut chosen: Vec<&mut SessionModel<S>> = sessions
        .iter_mut()
        .filter(|s| target.any || s.state == SessionState::Open)
        .collect();
    let n = chosen.len();
    if n == 0 {
        None
    } else {
        Some(chosen.swap_remove(target.index % n))
    }
}

/// Compares rows in id order, every column.
fn check_rows(got: &[RecordBatch], want: &[RecordBatch]) -> Result<(), String> {
    data::compare_rows(&data::sorted_by_id(got), want, "rows")
}
