//! A custom transport, worked: a whole table read and an exactly-once write driven by
//! nothing but `maxstorage-protocol` (every request, response, retry decision, route token
//! and state machine) and `maxstorage-codec` (Arrow bodies), over a hand-written HTTP/1.1
//! client on `std::net::TcpStream`. It is the proof that a third transport needs only
//! these two crates; `README.md` of this crate describes the contract it follows.
//!
//! The program starts an embedded emulator (strict about route tokens), creates a table,
//! and injects four faults so that the recovery paths run, not only the happy path:
//!
//! | fault | who recovers, and how |
//! |---|---|
//! | `TableCreateWriteSession` answers 503 with `Retry-After: 1` | `RetryPolicy::decide` waits the second the service asked for |
//! | the first `TableWrite` is applied, then its connection dropped, on every attempt | the retries re-send identical bytes at the same `RowOffset`; when the policy gives up, `WriteStream::on_write_failed` asks for a resync and `WriteStream::on_resync` finds the write applied |
//! | the first `TableRead` answer is cut after 8 KiB | `SplitReader::on_broken` + `SplitReader::request` resume after the last row delivered |
//! | the commit is applied, then its connection dropped, on every attempt | `WriteSession::on_commit_failed` asks `TableGetWriteSession`; `WriteSession::on_commit_status` finds the session committed |
//!
//! It writes 10,000 rows over two exactly-once streams, commits, reads every split of a
//! read session, and checks that every id came back exactly once and that the checksum of
//! all values matches; any mismatch is an error (non-zero exit).
//!
//! `cargo run -p maxstorage-protocol --example custom_transport`

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray};
use maxstorage_codec::read::{ArrowStreamDecoder, BodyEncoding, DecoderOptions};
use maxstorage_codec::types::odps_schema;
use maxstorage_codec::write::{ArrowStreamEncoder, EncodedBody, EncoderOptions};
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::fault::FaultSpec;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::call::{MAX_ERROR_BODY, MAX_JSON_BODY};
use maxstorage_protocol::error::parse_service_error;
use maxstorage_protocol::read::{
    CreateReadSession, GetReadSession, ReadRowsOptions, ReadSessionOptions, RowSelection,
    SessionStatus, SplitMode, SplitOptions,
};
use maxstorage_protocol::retry::{
    FailureClass, Idempotency, RetryDecision, RetryPolicy, SplitMix64, parse_retry_after,
};
use maxstorage_protocol::route::RouteAffinity;
use maxstorage_protocol::state::split_reader::{BreakOutcome, SplitReader};
use maxstorage_protocol::state::write_session::{SessionState, WriteSession};
use maxstorage_protocol::state::write_stream::{
    Recovery, ResyncOutcome, WriteFailure, WriteStream,
};
use maxstorage_protocol::write::{
    CreateWriteSession, StreamKind, StreamRef, WriteSessionInfo, WriteSessionOptions,
    WriteStreamInfo,
};
use maxstorage_protocol::{
    Body, Call, ClientConfig, Compression, Credentials, Endpoint, RequestContext, ServiceError,
    StreamingResponse, TableId,
};

/// Any error of the program (a non-zero exit).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Project of the table.
const PROJECT: &str = "p";
/// Name of the table.
const TABLE: &str = "custom_transport";
/// Access key the emulator requires.
const ACCESS_ID: &str = "custom-transport-id";
/// Secret of that key.
const ACCESS_SECRET: &str = "custom-transport-secret";
/// Rows written, and expected back.
const ROWS: usize = 10_000;
/// Exactly-once streams the rows are spread over.
const STREAMS: usize = 2;
/// Rows per record batch handed to the encoder.
const BATCH_ROWS: usize = 1_000;
/// Size of the `TableWrite` bodies the encoder builds (small, so each stream sends several).
const BODY_BYTES: usize = 16 * 1024;
/// Splits the read session is asked for.
const READ_SPLITS: i64 = 4;
/// Rows per batch of a `TableRead` answer.
const READ_BATCH_ROWS: i64 = 500;
/// Attempts per call (the retry policy's `max_attempts`).
const ATTEMPTS: u32 = 4;
/// Times a split read resumes after a break before the program gives up.
const MAX_READ_RESUMES: u32 = 5;
/// Connect, read and write timeout of one exchange.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long a read session may stay `INIT` before the program gives up.
const SESSION_READY_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let emulator = maxstorage_emulator::Emulator::builder()
        .data_dir(dir.path())
        .credentials(ACCESS_ID, ACCESS_SECRET)
        .strict_route_tokens(true)
        .start()?;
    let admin = AdminClient::new(emulator.addr()).with_credentials(ACCESS_ID, ACCESS_SECRET);
    admin.create_table(&TableDef::new(
        PROJECT,
        TABLE,
        vec![
            ColumnDef::new("id", "bigint"),
            ColumnDef::new("name", "string"),
        ],
    ))?;
    for fault in [
        FaultSpec::status("TableCreateWriteSession", 503).retry_after(1),
        FaultSpec::drop_after_apply("TableWrite").times(u64::from(ATTEMPTS)),
        FaultSpec::cut_after("TableRead", 8 * 1024),
        FaultSpec::drop_after_apply("TableCommitWriteSession").times(u64::from(ATTEMPTS)),
    ] {
        admin.inject_fault(&fault)?;
    }

    let table = TableId::new(PROJECT, TABLE);
    let config = ClientConfig::new(
        Endpoint::parse(&emulator.endpoint())?,
        Credentials::new(ACCESS_ID, ACCESS_SECRET),
    );
    println!("custom transport: {} at {}", table, config.endpoint);
    let mut transport = Transport::new(config);

    let written = write_table(&mut transport, &table)?;
    let read = read_table(&mut transport, &table)?;

    if read.rows != written.rows as u64 {
        return Err(format!("wrote {} rows, read {}", written.rows, read.rows).into());
    }
    if let Some(missing) = read.seen.iter().position(|seen| !seen) {
        return Err(format!("id {missing} was written but not read").into());
    }
    if read.checksum != written.checksum {
        return Err(format!(
            "checksum mismatch: wrote {:#018x}, read {:#018x}",
            written.checksum, read.checksum
        )
        .into());
    }
    let mismatches: u64 = admin
        .sessions()?
        .iter()
        .map(|s| s.route_token_mismatches)
        .sum();
    if mismatches > 0 {
        return Err(format!("{mismatches} requests carried another session's route token").into());
    }
    let stats = &transport.stats;
    println!(
        "ok: {} rows written and read back exactly once, checksum {:#018x}",
        read.rows, read.checksum
    );
    println!(
        "    {} requests ({} with a route token), {} retries, {} write resyncs, {} read resumes, {} commit status checks",
        stats.requests,
        stats.with_route_token,
        stats.retries,
        stats.resyncs,
        stats.resumes,
        stats.commit_checks
    );
    emulator.shutdown();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The write: a write session, exactly-once streams, commit.
// ---------------------------------------------------------------------------------------

/// What was written: the rows and their checksum.
#[derive(Debug)]
struct Written {
    /// Rows acknowledged by the service.
    rows: usize,
    /// Sum of [`row_hash`] over the rows.
    checksum: u64,
}

/// Writes [`ROWS`] rows over [`STREAMS`] exactly-once streams of one write session and
/// commits it; aborts the session when anything fails before the commit.
fn write_table(t: &mut Transport, table: &TableId) -> Result<Written, BoxError> {
    let target = table.target();
    let create = CreateWriteSession {
        table: table.clone(),
        options: WriteSessionOptions::default(),
    };
    let info = t.call(&create, Route::new(&target))?;
    // The session id is only known now: record the route token under it.
    t.routes
        .observe(&target, &info.session_id, info.route_token.as_deref());
    let mut session =
        WriteSession::new(table.clone(), info.session_id.clone(), create.options.mode);
    let session_id = info.session_id;
    let route = Route::session(&target, &session_id);
    println!("write session {session_id}");

    let written = match write_streams(t, table, &mut session, route) {
        Ok(written) => written,
        Err(e) => {
            // Nothing of a failed write becomes visible: abort (best effort).
            if let Ok(abort) = session.abort_call()
                && t.call(&abort, route).is_ok()
            {
                session.on_aborted();
            }
            t.routes.forget(&target, &session_id);
            return Err(e);
        }
    };
    // A commit that fails is reported, never followed by an abort: it may have happened.
    let info = commit(t, &mut session, route)?;
    if session.state() != SessionState::Committed {
        return Err(format!("the session is {:?} after its commit", session.state()).into());
    }
    t.routes.forget(&target, &session_id);
    println!(
        "  committed ({})",
        info.status
            .as_ref()
            .map_or("no status", SessionStatus::as_str)
    );
    Ok(written)
}

/// Writes [`ROWS`] rows over [`STREAMS`] exactly-once streams of `session` and closes the
/// streams.
fn write_streams(
    t: &mut Transport,
    table: &TableId,
    session: &mut WriteSession,
    route: Route<'_>,
) -> Result<Written, BoxError> {
    let session_id = session.session_id().to_string();
    let mut written = Written {
        rows: 0,
        checksum: 0,
    };
    let per_stream = ROWS / STREAMS;
    for index in 0..STREAMS {
        let stream_ref = StreamRef::new(index.to_string(), 1);
        // The session counts the stream as open from now on: a create whose answer is lost
        // may have happened.
        let registration = session.register_stream(&stream_ref)?;
        let mut stream = WriteStream::new(
            table.clone(),
            session_id.clone(),
            session.mode(),
            stream_ref,
            StreamKind::ExactlyOnce,
        );
        let info = match t.call(&stream.create_call(), route) {
            Ok(info) => info,
            Err(e) => {
                // Only a refusal by the service says the stream does not exist.
                if matches!(e, CallError::Service(_)) {
                    session.stream_refused(registration);
                }
                return Err(e.into());
            }
        };
        drop(registration); // created: nothing to undo
        stream.on_created(&info)?;

        // The codec the service prefers (its `Accept-Encoding` answer header), if any.
        let compression = info
            .accepted_compressions
            .first()
            .copied()
            .unwrap_or(Compression::Uncompressed);
        let mut encoder = body_encoder(&info, compression)?;
        let mut bodies = 0;
        let first = index * per_stream;
        for start in (first..first + per_stream).step_by(BATCH_ROWS) {
            let end = (start + BATCH_ROWS).min(first + per_stream);
            let batch = make_batch(&encoder, start..end, &mut written.checksum)?;
            encoder.write(&batch)?;
            while let Some(body) = encoder.next_body() {
                send_body(t, &mut stream, route, body)?;
                bodies += 1;
            }
        }
        while let Some(body) = encoder.flush() {
            send_body(t, &mut stream, route, body)?;
            bodies += 1;
        }
        if let Some(close) = stream.close_call()? {
            t.call(&close, route)?;
            stream.on_closed();
            session.stream_closed(stream.stream())?;
        }
        println!(
            "  stream {}: {} rows in {bodies} bodies ({compression}), closed",
            stream.stream().stream_id,
            stream.rows_written()
        );
        written.rows += usize::try_from(stream.rows_written())?;
    }
    Ok(written)
}

/// The encoder of a stream's `TableWrite` bodies. Their Arrow schema comes from the
/// create-stream answer: every column of its write schema (this table has no partition
/// columns; a session with a static partition would leave them out).
fn body_encoder(
    info: &WriteStreamInfo,
    compression: Compression,
) -> Result<ArrowStreamEncoder, BoxError> {
    let columns = info
        .table_schema
        .iter()
        .map(|(_, c)| Ok((c.name().to_string(), c.odps_type()?, c.column_type.nullable)))
        .collect::<Result<Vec<_>, BoxError>>()?;
    let schema = odps_schema(
        columns
            .iter()
            .map(|(name, ty, nullable)| (name, ty, *nullable)),
        &maxstorage_codec::ArrowOptions::default(),
    )?;
    let options = EncoderOptions::with_compression(compression).with_target_body_bytes(BODY_BYTES);
    Ok(ArrowStreamEncoder::new(Arc::new(schema), options)?)
}

/// Sends one body and sees it acknowledged, driving the stream's exactly-once recovery:
/// re-send the identical bytes, or resync with `TableGetWriteStream`.
fn send_body(
    t: &mut Transport,
    stream: &mut WriteStream,
    route: Route<'_>,
    body: EncodedBody,
) -> Result<(), BoxError> {
    // Kept until acknowledged: an exactly-once retry re-sends it byte for byte.
    let bytes = body.to_bytes();
    let rows = i64::try_from(body.rows())?;
    let mut call = stream.begin_write(rows, Some(bytes.len() as u64))?;
    loop {
        let error = match t.call_with_body(&call, route, &bytes) {
            Ok(result) => {
                stream.on_written(&result)?;
                return Ok(());
            }
            Err(error) => error,
        };
        let Some(failure) = error.write_failure() else {
            return Err(error.into());
        };
        match stream.on_write_failed(failure) {
            Recovery::Resend(next) => call = next,
            Recovery::Resync(get) => {
                t.stats.resyncs += 1;
                let info = t.call(&get, route)?;
                match stream.on_resync(&info)? {
                    ResyncOutcome::Applied => {
                        println!(
                            "  the answer to the write at row offset {} was lost ({error}); the service has it: acknowledged",
                            call.row_offset.unwrap_or_default()
                        );
                        return Ok(());
                    }
                    ResyncOutcome::Resend(next) => call = *next,
                }
            }
            Recovery::Fail(e) => return Err(e.into()),
            Recovery::GiveUp => return Err(error.into()),
        }
    }
}

/// Commits the session; when the commit fails, asks the service whether an attempt whose
/// answer was lost committed anyway, and lets the session's state machine decide.
fn commit(
    t: &mut Transport,
    session: &mut WriteSession,
    route: Route<'_>,
) -> Result<WriteSessionInfo, BoxError> {
    let call = session.commit_call()?;
    let error = match t.call(&call, route) {
        Ok(info) => {
            session.on_committed();
            return Ok(info);
        }
        Err(error) => error,
    };
    t.stats.commit_checks += 1;
    let ask = session.on_commit_failed();
    match t.call(&ask, route) {
        Ok(info) => {
            if session.on_commit_status(&info)? {
                println!(
                    "  the commit's answer was lost ({error}); the service reports the session committed"
                );
                Ok(info)
            } else {
                Err(error.into())
            }
        }
        Err(status_error) => Err(session.commit_unresolved(&error, &status_error).into()),
    }
}

// ---------------------------------------------------------------------------------------
// The read: a read session, every split, resumed after breaks.
// ---------------------------------------------------------------------------------------

/// What was read: the rows, which ids were seen, and the checksum.
#[derive(Debug)]
struct Tally {
    /// Rows read.
    rows: u64,
    /// Whether each id `0..ROWS` was seen.
    seen: Vec<bool>,
    /// Sum of [`row_hash`] over the rows.
    checksum: u64,
}

impl Tally {
    /// Checks and counts the rows of a batch: every id in range and seen once.
    fn add(&mut self, batch: &RecordBatch) -> Result<(), BoxError> {
        let ids = batch
            .column_by_name("id")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or("the batch has no bigint column `id`")?;
        let names = batch
            .column_by_name("name")
            .ok_or("the batch has no column `name`")?;
        let name_at = Strings::of(names)?;
        for row in 0..batch.num_rows() {
            if ids.is_null(row) || names.is_null(row) {
                return Err(format!("row {row} of a batch has a NULL").into());
            }
            let id = ids.value(row);
            let slot = usize::try_from(id)
                .ok()
                .filter(|i| *i < self.seen.len())
                .ok_or_else(|| format!("id {id} was never written"))?;
            if std::mem::replace(&mut self.seen[slot], true) {
                return Err(format!("id {id} was read twice").into());
            }
            self.checksum = self
                .checksum
                .wrapping_add(row_hash(id, name_at.value(row).as_bytes()));
            self.rows += 1;
        }
        Ok(())
    }
}

/// Reads every split of a new read session of `table`.
fn read_table(t: &mut Transport, table: &TableId) -> Result<Tally, BoxError> {
    let target = table.target();
    let create = CreateReadSession {
        table: table.clone(),
        options: ReadSessionOptions::default()
            .with_split_options(SplitOptions::by_parallelism(READ_SPLITS)),
    };
    let mut session = t.call(&create, Route::new(&target))?;
    t.routes
        .observe(&target, &session.session_id, session.route_token.as_deref());
    let session_id = session.session_id.clone();
    let route = Route::session(&target, &session_id);
    // A new session may be `INIT` for a while; poll until it is `NORMAL`.
    let started = t.now();
    while session.status == SessionStatus::Init {
        let waited = t.now().duration_since(started).unwrap_or_default();
        if waited > SESSION_READY_TIMEOUT {
            return Err(format!("read session {session_id} is not ready after {waited:?}").into());
        }
        t.sleep(Duration::from_secs(1));
        let get = GetReadSession {
            table: table.clone(),
            session_id: session_id.clone(),
            refresh: false,
        };
        session = t.call(&get, route)?;
    }
    if session.status != SessionStatus::Normal {
        return Err(format!("read session {session_id} is {}", session.status.as_str()).into());
    }
    let splits: Vec<RowSelection> = match session.split_mode {
        // Row ranges need the rows per split the session was created with (not echoed).
        SplitMode::RowOffset => return Err("this example asks for Parallelism splits".into()),
        _ => (0..session.splits_count.max(0))
            .map(RowSelection::split)
            .collect(),
    };
    println!(
        "read session {session_id}: {} splits, {} rows",
        splits.len(),
        session.record_count
    );

    // The session's column types let the decoder type `struct<sec, nano>` columns.
    let options = DecoderOptions::default().with_column_types(
        session
            .data_schema
            .iter()
            .map(|(_, c)| (c.name.clone(), c.odps_type.clone()))
            .collect(),
    );
    let mut tally = Tally {
        rows: 0,
        seen: vec![false; ROWS],
        checksum: 0,
    };
    for selection in splits {
        let rows = read_split(t, table, route, selection, &options, &mut tally)?;
        println!(
            "  split {}: {rows} rows",
            selection.split_index.unwrap_or_default()
        );
    }
    Ok(tally)
}

/// Reads one split to its end-of-stream marker, resuming after the last delivered row
/// whenever the answer breaks.
fn read_split(
    t: &mut Transport,
    table: &TableId,
    route: Route<'_>,
    selection: RowSelection,
    options: &DecoderOptions,
    tally: &mut Tally,
) -> Result<u64, BoxError> {
    let session_id = route.session.ok_or("a split read needs its session")?;
    let mut reader = SplitReader::new(
        table.clone(),
        session_id,
        selection,
        ReadRowsOptions::default().with_max_batch_rows(READ_BATCH_ROWS),
        Compression::Zstd,
    );
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let call = reader.request()?;
        let (head, mut body) = t.open(&call, route)?;
        let mut decoder = ArrowStreamDecoder::new(options.clone().with_body_encoding(
            BodyEncoding::from_content_encoding(head.content_encoding.as_deref())?,
        ));
        let broken = loop {
            let n = match body.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(e.to_string()),
            };
            if n == 0 {
                match decoder.finish() {
                    Ok(()) => break None,
                    Err(e) if e.is_truncated() => break Some(e.to_string()),
                    Err(e) => return Err(e.into()),
                }
            }
            decoder.feed(&buf[..n])?;
            deliver(&mut decoder, &mut reader, tally)?;
        };
        // Batches complete before the end (or the break) are delivered too.
        deliver(&mut decoder, &mut reader, tally)?;
        let Some(cause) = broken else {
            reader.on_end_of_stream();
            return Ok(reader.delivered());
        };
        match reader.on_break(&t.retry, MAX_READ_RESUMES, &mut t.jitter) {
            // Every requested row arrived; only the end marker was lost.
            BreakOutcome::Complete => return Ok(reader.delivered()),
            BreakOutcome::ResumeAfter(delay) => {
                println!(
                    "  split {} broke after {} rows ({cause}); resuming in {delay:?}",
                    selection.split_index.unwrap_or_default(),
                    reader.delivered()
                );
                t.stats.resumes += 1;
                t.sleep(delay);
            }
            BreakOutcome::GiveUp(reason) => {
                return Err(format!("the split read broke ({cause}) and {reason}").into());
            }
        }
    }
}

/// Hands every decoded batch to the tally and counts its rows in the split reader.
fn deliver(
    decoder: &mut ArrowStreamDecoder,
    reader: &mut SplitReader,
    tally: &mut Tally,
) -> Result<(), BoxError> {
    while let Some(batch) = decoder.next_batch()? {
        tally.add(&batch)?;
        reader.on_rows(batch.num_rows());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Data and checksums.
// ---------------------------------------------------------------------------------------

/// A batch of rows `ids` (`id`, `name = "row-<id>"`) in the encoder's schema; adds their
/// hashes to `checksum`.
fn make_batch(
    encoder: &ArrowStreamEncoder,
    ids: std::ops::Range<usize>,
    checksum: &mut u64,
) -> Result<RecordBatch, BoxError> {
    let ids = ids.map(i64::try_from).collect::<Result<Vec<i64>, _>>()?;
    let names: Vec<String> = ids.iter().map(|id| format!("row-{id}")).collect();
    for (id, name) in ids.iter().zip(&names) {
        *checksum = checksum.wrapping_add(row_hash(*id, name.as_bytes()));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(StringArray::from(names)),
    ];
    Ok(RecordBatch::try_new(encoder.schema().clone(), columns)?)
}

/// A `string` column, whichever offset width the service chose.
enum Strings<'a> {
    /// 32-bit offsets.
    Small(&'a StringArray),
    /// 64-bit offsets.
    Large(&'a LargeStringArray),
}

impl<'a> Strings<'a> {
    /// The column as strings, or an error for another type.
    fn of(column: &'a ArrayRef) -> Result<Strings<'a>, BoxError> {
        if let Some(a) = column.as_string_opt::<i32>() {
            Ok(Strings::Small(a))
        } else if let Some(a) = column.as_string_opt::<i64>() {
            Ok(Strings::Large(a))
        } else {
            Err(format!("column `name` is {}, not a string", column.data_type()).into())
        }
    }

    /// The value of row `row`.
    fn value(&self, row: usize) -> &'a str {
        match self {
            Strings::Small(a) => a.value(row),
            Strings::Large(a) => a.value(row),
        }
    }
}

/// FNV-1a of a row's values; summed (wrapping) over rows, so the order of splits and
/// batches does not matter.
fn row_hash(id: i64, name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.to_le_bytes().iter().chain(name) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

// ---------------------------------------------------------------------------------------
// The transport: build, send, classify, retry, parse. Everything it decides comes from
// the protocol crate; it only moves bytes and owns the clock.
// ---------------------------------------------------------------------------------------

/// Which session's route token a call carries (and whose token its answer updates).
#[derive(Debug, Clone, Copy)]
struct Route<'a> {
    /// The table's `Target` value.
    target: &'a str,
    /// The session, when the call belongs to one.
    session: Option<&'a str>,
}

impl<'a> Route<'a> {
    /// A call outside any session (creating one).
    fn new(target: &'a str) -> Route<'a> {
        Route {
            target,
            session: None,
        }
    }

    /// A call of session `session`.
    fn session(target: &'a str, session: &'a str) -> Route<'a> {
        Route {
            target,
            session: Some(session),
        }
    }
}

/// Why a call failed, after the retries the policy allowed.
#[derive(Debug)]
enum CallError {
    /// The service answered with an error status.
    Service(ServiceError),
    /// The exchange failed; `class` says whether any of the request was sent.
    Transport {
        /// How it failed, for the retry policy and the write state machine.
        class: FailureClass,
        /// What happened.
        detail: String,
    },
    /// The request could not be built, or the success answer not understood.
    Protocol(maxstorage_protocol::Error),
    /// Anything else that retrying cannot fix.
    Invalid(String),
}

impl CallError {
    /// The failure as the write-stream state machine takes it, or `None` when no recovery
    /// applies.
    fn write_failure(&self) -> Option<WriteFailure> {
        match self {
            CallError::Service(e) => Some(WriteFailure::Service(e.clone())),
            CallError::Transport {
                class: FailureClass::Connect,
                ..
            } => Some(WriteFailure::NotSent),
            CallError::Transport { .. } => Some(WriteFailure::Unknown),
            CallError::Protocol(_) | CallError::Invalid(_) => None,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Service(e) => e.fmt(f),
            CallError::Transport { class, detail } => write!(f, "{class}: {detail}"),
            CallError::Protocol(e) => e.fmt(f),
            CallError::Invalid(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for CallError {}

/// How one attempt failed.
#[derive(Debug)]
enum AttemptError {
    /// The retry policy decides whether to try again.
    Failed {
        /// How it failed.
        class: FailureClass,
        /// The delay the service asked for.
        retry_after: Option<Duration>,
        /// The error to report if the policy gives up.
        error: Box<CallError>,
    },
    /// No retry can help.
    Fatal(Box<CallError>),
}

impl AttemptError {
    /// A failure no retry can help.
    fn fatal(error: CallError) -> AttemptError {
        AttemptError::Fatal(Box::new(error))
    }

    /// A failed exchange: transport errors classified for the retry policy.
    fn transport(class: FailureClass, detail: impl Into<String>) -> AttemptError {
        AttemptError::Failed {
            class,
            retry_after: None,
            error: Box::new(CallError::Transport {
                class,
                detail: detail.into(),
            }),
        }
    }
}

/// Counters for the summary.
#[derive(Debug, Default)]
struct Stats {
    /// Requests sent (attempts).
    requests: u64,
    /// Requests that carried a route token.
    with_route_token: u64,
    /// Attempts repeated after the retry policy said so.
    retries: u64,
    /// Exactly-once writes settled with `TableGetWriteStream`.
    resyncs: u32,
    /// Split reads resumed after a break.
    resumes: u32,
    /// Failed commits settled with `TableGetWriteSession`.
    commit_checks: u32,
}

/// Everything a call needs besides its arguments: configuration, retry policy and jitter,
/// the route token of each session, and the clock.
struct Transport {
    /// Endpoint, credentials, signing.
    config: ClientConfig,
    /// When to retry, and after how long.
    retry: RetryPolicy,
    /// The jitter of the retry delays.
    jitter: SplitMix64,
    /// The route token of each session.
    routes: RouteAffinity,
    /// Counters.
    stats: Stats,
}

impl Transport {
    /// A transport with a retry policy of [`ATTEMPTS`] attempts and short backoffs.
    fn new(config: ClientConfig) -> Transport {
        Transport {
            config,
            retry: RetryPolicy::default()
                .with_max_attempts(ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(2)),
            jitter: SplitMix64::new(u64::from(std::process::id())),
            routes: RouteAffinity::new(),
            stats: Stats::default(),
        }
    }

    /// The time: the protocol never reads the clock, the transport passes it in (the
    /// `Date` header and the signature, `Retry-After` dates).
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// Waits: the protocol never sleeps, it returns delays.
    fn sleep(&self, delay: Duration) {
        std::thread::sleep(delay);
    }

    /// Sends a call with a complete (JSON) answer and parses it.
    fn call<C: Call>(&mut self, call: &C, route: Route<'_>) -> Result<C::Output, CallError> {
        self.call_with_body(call, route, &[])
    }

    /// Sends a call whose request body is streamed by the caller (`Body::Streaming`), here
    /// `body` in memory, and parses its complete answer.
    fn call_with_body<C: Call>(
        &mut self,
        call: &C,
        route: Route<'_>,
        body: &[u8],
    ) -> Result<C::Output, CallError> {
        self.exchange(call, route, body, |call, head, mut answer| {
            let mut buf = Vec::new();
            match (&mut answer)
                .take(MAX_JSON_BODY as u64 + 1)
                .read_to_end(&mut buf)
            {
                Ok(_) if buf.len() > MAX_JSON_BODY => {
                    Err(AttemptError::fatal(CallError::Invalid(format!(
                        "the {} answer is larger than {MAX_JSON_BODY} bytes",
                        call.action()
                    ))))
                }
                Ok(_) => call
                    .parse(&head, &buf)
                    .map_err(|e| AttemptError::fatal(CallError::Protocol(e))),
                Err(e) => Err(AttemptError::transport(
                    http1::io_class(&e),
                    format!("reading the {} answer: {e}", call.action()),
                )),
            }
        })
    }

    /// Sends a call whose answer body is a stream; returns the parsed head and the unread
    /// body.
    fn open<C: Call<Output = StreamingResponse>>(
        &mut self,
        call: &C,
        route: Route<'_>,
    ) -> Result<(StreamingResponse, http1::BodyReader), CallError> {
        self.exchange(call, route, &[], |call, head, answer| {
            // On success only the head is parsed.
            let head = call
                .parse(&head, &[])
                .map_err(|e| AttemptError::fatal(CallError::Protocol(e)))?;
            Ok((head, answer))
        })
    }

    /// Attempts a call until it succeeds or the retry policy gives up. `finish` takes a
    /// success answer; its `AttemptError::Failed` (a body that broke) is retried too.
    fn exchange<C: Call, T, F>(
        &mut self,
        call: &C,
        route: Route<'_>,
        body: &[u8],
        mut finish: F,
    ) -> Result<T, CallError>
    where
        F: FnMut(&C, http::response::Parts, http1::BodyReader) -> Result<T, AttemptError>,
    {
        let idempotency = if call.is_idempotent() {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        let mut attempt = 1;
        loop {
            let outcome = self
                .attempt(call, route, body)
                .and_then(|(head, answer)| finish(call, head, answer));
            let (class, retry_after, error) = match outcome {
                Ok(output) => return Ok(output),
                Err(AttemptError::Fatal(error)) => return Err(*error),
                Err(AttemptError::Failed {
                    class,
                    retry_after,
                    error,
                }) => (class, retry_after, error),
            };
            match self
                .retry
                .decide(attempt, class, idempotency, retry_after, &mut self.jitter)
            {
                RetryDecision::RetryAfter(delay) => {
                    println!(
                        "  {} attempt {attempt} failed ({class}); retrying in {delay:?}",
                        call.action()
                    );
                    self.stats.retries += 1;
                    self.sleep(delay);
                    attempt += 1;
                }
                RetryDecision::GiveUp(reason) => {
                    println!("  {} failed: {reason}", call.action());
                    return Err(*error);
                }
            }
        }
    }

    /// One attempt: build and sign the request now, with the session's route token; send
    /// it; on a success status record the answer's route token and return the head and the
    /// unread body; on an error status build the service error from at most
    /// [`MAX_ERROR_BODY`] bytes of the body.
    fn attempt<C: Call>(
        &mut self,
        call: &C,
        route: Route<'_>,
        body: &[u8],
    ) -> Result<(http::response::Parts, http1::BodyReader), AttemptError> {
        let token = route
            .session
            .and_then(|session| self.routes.token(route.target, session, None))
            .map(str::to_string);
        let ctx = RequestContext::new(&self.config, self.now()).with_route_token(token.as_deref());
        let (parts, built) = call
            .build(&ctx)
            .map_err(|e| AttemptError::fatal(CallError::Protocol(e)))?
            .into_parts();
        let bytes: &[u8] = match &built {
            Body::Empty | Body::Json(_) if !body.is_empty() => {
                return Err(AttemptError::fatal(CallError::Invalid(format!(
                    "{} sends its own body; {} bytes given",
                    call.action(),
                    body.len()
                ))));
            }
            Body::Empty => &[],
            Body::Json(json) => json,
            Body::Streaming { content_length } => {
                if content_length.is_some_and(|n| n != body.len() as u64) {
                    return Err(AttemptError::fatal(CallError::Invalid(format!(
                        "{} announces {content_length:?} body bytes, {} given",
                        call.action(),
                        body.len()
                    ))));
                }
                body
            }
        };
        self.stats.requests += 1;
        if parts
            .headers
            .contains_key(maxstorage_protocol::header::ROUTE_TOKEN)
        {
            self.stats.with_route_token += 1;
        }
        let response = http1::send(&parts, bytes, TIMEOUT).map_err(|e| match e {
            http1::HttpError::Unsupported(detail) => {
                AttemptError::fatal(CallError::Invalid(detail))
            }
            other => AttemptError::transport(other.failure_class(), other.to_string()),
        })?;
        let http1::Response { head, mut body } = response;
        if !head.status.is_success() {
            let mut text = Vec::new();
            // Best effort: a broken error body still leaves the status.
            let _ = (&mut body)
                .take(MAX_ERROR_BODY as u64)
                .read_to_end(&mut text);
            let error = parse_service_error(call.action(), &head, &text);
            let retry_after = error
                .retry_after
                .as_deref()
                .and_then(|value| parse_retry_after(value, self.now()).ok());
            return Err(AttemptError::Failed {
                class: FailureClass::Status(error.status),
                retry_after,
                error: Box::new(CallError::Service(error)),
            });
        }
        if let Some(session) = route.session {
            let token = maxstorage_protocol::call::route_token(&head);
            self.routes.observe(route.target, session, token.as_deref());
        }
        Ok((head, body))
    }
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 over a TcpStream.
// ---------------------------------------------------------------------------------------

/// A tiny HTTP/1.1 client: one request per connection (`Connection: close`), request
/// bodies with `Content-Length`, answers framed by `Content-Length`, chunked
/// transfer-encoding or the end of the connection. Every read is bounded, and malformed
/// input is an error, never a panic.
mod http1 {
    use std::io::{self, BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
    use std::time::Duration;

    use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
    use http::{HeaderName, HeaderValue, StatusCode, Version};
    use maxstorage_protocol::retry::FailureClass;

    /// The largest answer head (status line and header lines, interim answers included).
    const MAX_HEAD_BYTES: usize = 64 * 1024;
    /// The most header lines of an answer.
    const MAX_HEADERS: usize = 128;
    /// The largest chunk-size line, or chunked trailer section.
    const MAX_CHUNK_LINE: usize = 4 * 1024;
    /// The read buffer of a connection.
    const READ_BUFFER: usize = 64 * 1024;

    /// How an exchange failed; the variant says whether any of the request was sent.
    #[derive(Debug)]
    pub(crate) enum HttpError {
        /// This client cannot send the request (not `http://`): nothing was sent.
        Unsupported(String),
        /// No connection: nothing was sent.
        Connect(io::Error),
        /// Sending the request or reading the answer's head failed: the request may have
        /// reached the server.
        Io(io::Error),
        /// The answer's head is not valid HTTP/1.1: the request may have reached the
        /// server.
        Malformed(String),
    }

    impl HttpError {
        /// The failure as the retry policy classifies it.
        pub(crate) fn failure_class(&self) -> FailureClass {
            match self {
                HttpError::Unsupported(_) | HttpError::Connect(_) => FailureClass::Connect,
                HttpError::Io(e) => io_class(e),
                HttpError::Malformed(_) => FailureClass::Io,
            }
        }
    }

    impl std::fmt::Display for HttpError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                HttpError::Unsupported(detail) => f.write_str(detail),
                HttpError::Connect(e) => write!(f, "cannot connect: {e}"),
                HttpError::Io(e) => write!(f, "connection failed: {e}"),
                HttpError::Malformed(detail) => write!(f, "malformed answer: {detail}"),
            }
        }
    }

    /// The class of an I/O error after the request was (partly) sent: a timeout or
    /// another failure, both with an unknown outcome.
    pub(crate) fn io_class(e: &io::Error) -> FailureClass {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FailureClass::Timeout,
            _ => FailureClass::Io,
        }
    }

    /// An answer: its head, and its body to read.
    #[derive(Debug)]
    pub(crate) struct Response {
        /// Status, version and headers.
        pub head: http::response::Parts,
        /// The body, framed as the head says.
        pub body: BodyReader,
    }

    /// Sends `request` with `body` and reads the answer's head. `Host`, `Content-Length`
    /// and `Connection: close` are set here (the same headers of `request` are ignored).
    pub(crate) fn send(
        request: &http::request::Parts,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        if request.uri.scheme_str() != Some("http") {
            return Err(HttpError::Unsupported(format!(
                "{}: this example speaks plain http only",
                request.uri
            )));
        }
        let authority = request
            .uri
            .authority()
            .ok_or_else(|| HttpError::Unsupported(format!("{}: no host", request.uri)))?;
        let target = request.uri.path_and_query().map_or("/", |p| p.as_str());

        let mut head = Vec::with_capacity(1024);
        head.extend_from_slice(
            format!(
                "{} {target} HTTP/1.1\r\nhost: {authority}\r\n",
                request.method
            )
            .as_bytes(),
        );
        for (name, value) in &request.headers {
            if [&HOST, &CONTENT_LENGTH, &TRANSFER_ENCODING, &CONNECTION].contains(&name) {
                continue;
            }
            // `http` has validated both: no CR, LF or other control bytes can get in.
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(
            format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );

        let stream = connect(authority, timeout)?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(HttpError::Connect)?;
        let mut writer = &stream;
        writer
            .write_all(&head)
            .and_then(|()| writer.write_all(body))
            .and_then(|()| writer.flush())
            .map_err(HttpError::Io)?;

        let mut conn = BufReader::with_capacity(READ_BUFFER, stream);
        let head = read_head(&mut conn)?;
        let framing = framing(&head)?;
        Ok(Response {
            head,
            body: BodyReader { conn, framing },
        })
    }

    /// Connects to the first address of `authority` that answers.
    fn connect(
        authority: &http::uri::Authority,
        timeout: Duration,
    ) -> Result<TcpStream, HttpError> {
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(HttpError::Connect)?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(HttpError::Connect(last))
    }

    /// Reads one line (LF or CRLF ended, without the ending), taking its length from
    /// `budget`; a line longer than what is left is an `InvalidData` error, the end of
    /// the connection an `UnexpectedEof` one.
    fn read_line(conn: &mut impl BufRead, budget: &mut usize) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let available = match conn.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed",
                ));
            }
            let (take, done) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            if take > *budget {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a line of the answer is too long",
                ));
            }
            *budget -= take;
            line.extend_from_slice(&available[..take]);
            conn.consume(take);
            if done {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
        }
    }

    /// `read_line` for the head: errors are [`HttpError`]s.
    fn head_line(conn: &mut impl BufRead, budget: &mut usize) -> Result<Vec<u8>, HttpError> {
        read_line(conn, budget).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => {
                HttpError::Malformed(format!("head longer than {MAX_HEAD_BYTES} bytes"))
            }
            io::ErrorKind::UnexpectedEof => HttpError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed before the answer's head was complete",
            )),
            _ => HttpError::Io(e),
        })
    }

    /// Reads the head of the final answer (interim `1xx` answers are skipped).
    fn read_head(conn: &mut impl BufRead) -> Result<http::response::Parts, HttpError> {
        let mut budget = MAX_HEAD_BYTES;
        loop {
            let line = head_line(conn, &mut budget)?;
            let (version, status) = status_line(&line)?;
            let (mut head, ()) = http::Response::new(()).into_parts();
            head.version = version;
            head.status = status;
            let mut count = 0;
            loop {
                let line = head_line(conn, &mut budget)?;
                if line.is_empty() {
                    break;
                }
                count += 1;
                if count > MAX_HEADERS {
                    return Err(HttpError::Malformed(format!(
                        "more than {MAX_HEADERS} header lines"
                    )));
                }
                let (name, value) = header_line(&line)?;
                head.headers.append(name, value);
            }
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(HttpError::Malformed("unexpected 101 answer".into()));
            }
            if !status.is_informational() {
                return Ok(head);
            }
        }
    }

    /// Parses `HTTP/1.x NNN [reason]`.
    fn status_line(line: &[u8]) -> Result<(Version, StatusCode), HttpError> {
        let bad = || {
            HttpError::Malformed(format!(
                "bad status line {:?}",
                String::from_utf8_lossy(&line[..line.len().min(100)])
            ))
        };
        let mut parts = line.splitn(3, |b| *b == b' ');
        let version = match parts.next() {
            Some(b"HTTP/1.1") => Version::HTTP_11,
            Some(b"HTTP/1.0") => Version::HTTP_10,
            _ => return Err(bad()),
        };
        let code = parts.next().filter(|c| c.len() == 3).ok_or_else(bad)?;
        let status = StatusCode::from_bytes(code).map_err(|_| bad())?;
        Ok((version, status))
    }

    /// Parses `name: value` (no obsolete line folding, no space before the colon).
    fn header_line(line: &[u8]) -> Result<(HeaderName, HeaderValue), HttpError> {
        let bad = |why: &str| {
            HttpError::Malformed(format!(
                "{why} in header line {:?}",
                String::from_utf8_lossy(&line[..line.len().min(100)])
            ))
        };
        let colon = line
            .iter()
            .position(|b| *b == b':')
            .ok_or_else(|| bad("no colon"))?;
        let name = HeaderName::from_bytes(&line[..colon]).map_err(|_| bad("bad name"))?;
        let value = line[colon + 1..].trim_ascii();
        let value = HeaderValue::from_bytes(value).map_err(|_| bad("bad value"))?;
        Ok((name, value))
    }

    /// How the body of an answer ends (RFC 9112 §6.3).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Framing {
        /// No body (`204`, `304`).
        Empty,
        /// `Content-Length`: this many bytes are left.
        Length(u64),
        /// Chunked transfer-encoding, at this point of a chunk.
        Chunked(Chunk),
        /// Neither: the body ends with the connection.
        UntilClose,
    }

    /// Where a chunked body is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Chunk {
        /// Before a chunk-size line.
        Size,
        /// Inside a chunk: this many data bytes are left.
        Data(u64),
        /// After a chunk's data, before its CRLF.
        DataEnd,
        /// The last chunk and the trailers were read.
        Done,
    }

    /// The framing of the body of an answer with `head`.
    fn framing(head: &http::response::Parts) -> Result<Framing, HttpError> {
        if head.status == StatusCode::NO_CONTENT || head.status == StatusCode::NOT_MODIFIED {
            return Ok(Framing::Empty);
        }
        let mut codings = Vec::new();
        for value in head.headers.get_all(TRANSFER_ENCODING) {
            let value = value
                .to_str()
                .map_err(|_| HttpError::Malformed("bad Transfer-Encoding".into()))?;
            codings.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_ascii_lowercase),
            );
        }
        if !codings.is_empty() {
            // Transfer-Encoding wins over Content-Length. This client asked for no
            // coding, so only `chunked` alone is understood.
            return if codings == ["chunked"] {
                Ok(Framing::Chunked(Chunk::Size))
            } else {
                Err(HttpError::Malformed(format!(
                    "unsupported Transfer-Encoding {codings:?}"
                )))
            };
        }
        let mut length: Option<u64> = None;
        for value in head.headers.get_all(CONTENT_LENGTH) {
            let value = value
                .to_str()
                .map_err(|_| HttpError::Malformed("bad Content-Length".into()))?;
            for item in value.split(',') {
                let item = item.trim();
                let n = if !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()) {
                    item.parse::<u64>().ok()
                } else {
                    None
                }
                .ok_or_else(|| HttpError::Malformed(format!("bad Content-Length {item:?}")))?;
                if length.is_some_and(|l| l != n) {
                    return Err(HttpError::Malformed("conflicting Content-Length".into()));
                }
                length = Some(n);
            }
        }
        Ok(length.map_or(Framing::UntilClose, Framing::Length))
    }

    /// The body of an answer, read as its framing says. A body that ends early (the
    /// connection closes mid-body, or before a chunked body's last chunk) is an
    /// `UnexpectedEof` error, never a clean end.
    #[derive(Debug)]
    pub(crate) struct BodyReader {
        /// The connection.
        conn: BufReader<TcpStream>,
        /// Where the body is.
        framing: Framing,
    }

    impl BodyReader {
        /// Reads the next chunk-size line and moves to its data (or to the trailers).
        fn next_chunk(&mut self) -> io::Result<()> {
            let mut budget = MAX_CHUNK_LINE;
            let line = read_line(&mut self.conn, &mut budget).map_err(mid_body)?;
            let size = line.split(|b| *b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size.trim_ascii())
                .ok()
                .filter(|s| !s.is_empty() && s.len() <= 16)
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .ok_or_else(|| invalid_data("bad chunk size"))?;
            if size > 0 {
                self.framing = Framing::Chunked(Chunk::Data(size));
                return Ok(());
            }
            // The last chunk: skip the trailer section (bounded) up to its empty line.
            let mut budget = MAX_CHUNK_LINE;
            while !read_line(&mut self.conn, &mut budget)
                .map_err(mid_body)?
                .is_empty()
            {}
            self.framing = Framing::Chunked(Chunk::Done);
            Ok(())
        }
    }

    impl Read for BodyReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            loop {
                match self.framing {
                    Framing::Empty | Framing::Length(0) | Framing::Chunked(Chunk::Done) => {
                        return Ok(0);
                    }
                    Framing::UntilClose => return self.conn.read(buf),
                    Framing::Length(left) => {
                        let n = read_some(&mut self.conn, buf, left)?;
                        self.framing = Framing::Length(left - n as u64);
                        return Ok(n);
                    }
                    Framing::Chunked(Chunk::Size) => self.next_chunk()?,
                    Framing::Chunked(Chunk::Data(left)) => {
                        let n = read_some(&mut self.conn, buf, left)?;
                        let left = left - n as u64;
                        self.framing = Framing::Chunked(if left == 0 {
                            Chunk::DataEnd
                        } else {
                            Chunk::Data(left)
                        });
                        return Ok(n);
                    }
                    Framing::Chunked(Chunk::DataEnd) => {
                        let mut budget = 2;
                        if !read_line(&mut self.conn, &mut budget)
                            .map_err(mid_body)?
                            .is_empty()
                        {
                            return Err(invalid_data("chunk data longer than its size"));
                        }
                        self.framing = Framing::Chunked(Chunk::Size);
                    }
                }
            }
        }
    }

    /// Reads at most `left` bytes (at least one); the end of the connection is an error.
    fn read_some(conn: &mut impl Read, buf: &mut [u8], left: u64) -> io::Result<usize> {
        let max = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = conn.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the connection closed with {left} body bytes missing"),
            ));
        }
        Ok(n)
    }

    /// A chunk-framing line that ended early or ran too long, said as such.
    fn mid_body(e: io::Error) -> io::Error {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed before the chunked body's last chunk",
            ),
            io::ErrorKind::InvalidData => invalid_data("chunk framing line too long"),
            _ => e,
        }
    }

    /// An `InvalidData` error.
    fn invalid_data(detail: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, detail.to_string())
    }
}
