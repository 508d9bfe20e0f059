//! Crash test: the emulator binary is SIGKILLed at random moments while many sessions
//! commit; after a restart every table holds exactly the acknowledged commits (plus
//! possibly ones in flight, whole) — never a part of a commit, never an unreadable file.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::{batch, col_a, ipc};
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::http_client::send_request;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::write::{
    CloseWriteStream, CommitScope, CommitWriteSession, CreateWriteSession, CreateWriteStream,
    StreamRef, WriteMode, WriteRows,
};
use maxstorage_protocol::{
    Body, Call, ClientConfig, Compression, Credentials, Endpoint, RequestContext, TableId,
};

fn spawn(dir: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxstorage-emulator"))
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--no-auth",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().parse().unwrap())
}

fn call<C: Call>(
    config: &ClientConfig,
    addr: SocketAddr,
    c: &C,
    body: &[u8],
) -> Result<C::Output, String> {
    let ctx = RequestContext::new(config, SystemTime::now());
    let req = c.build(&ctx).map_err(|e| e.to_string())?;
    let bytes = match req.body() {
        Body::Json(b) => b.to_vec(),
        _ => body.to_vec(),
    };
    let r = send_request(addr, &req, &bytes).map_err(|e| e.to_string())?;
    let (parts, body) = r.into_parts();
    c.parse(&parts, &body).map_err(|e| e.to_string())
}

/// One commit of 10 rows `[k*10, k*10+10)` in two writes; `Ok` only when acknowledged.
fn commit_one(
    config: &ClientConfig,
    addr: SocketAddr,
    k: i64,
    in_flight: &Mutex<BTreeSet<i64>>,
) -> Result<(), String> {
    let table = TableId::new("p", "t");
    let sid = call(
        config,
        addr,
        &CreateWriteSession {
            table: table.clone(),
            options: Default::default(),
        },
        &[],
    )?
    .session_id;
    let stream = StreamRef::new("0", 1);
    call(
        config,
        addr,
        &CreateWriteStream {
            table: table.clone(),
            session_id: sid.clone(),
            mode: WriteMode::Batch,
            stream: stream.clone(),
            exactly_once: false,
        },
        &[],
    )?;
    for half in 0..2 {
        let a: Vec<i64> = (0..5).map(|i| k * 10 + half * 5 + i).collect();
        let body = ipc(&[batch(&a, &["x"; 5])], Compression::Uncompressed);
        call(
            config,
            addr,
            &WriteRows {
                table: table.clone(),
                session_id: sid.clone(),
                mode: WriteMode::Batch,
                stream: stream.clone(),
                record_count: 5,
                row_offset: None,
                access_token: None,
                table_id: None,
                schema_version: None,
                content_length: Some(body.len() as u64),
            },
            &body,
        )?;
    }
    call(
        config,
        addr,
        &CloseWriteStream {
            table: table.clone(),
            session_id: sid.clone(),
            mode: WriteMode::Batch,
            stream,
        },
        &[],
    )?;
    in_flight.lock().unwrap().insert(k);
    call(
        config,
        addr,
        &CommitWriteSession {
            table,
            session_id: sid,
            mode: WriteMode::Batch,
            scope: CommitScope::AllClosedStreams,
        },
        &[],
    )?;
    Ok(())
}

#[test]
fn sigkill_during_commits_keeps_commits_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut addr) = spawn(dir.path());
    AdminClient::new(addr)
        .create_table(&TableDef::new(
            "p",
            "t",
            vec![ColumnDef::new("a", "bigint"), ColumnDef::new("b", "string")],
        ))
        .unwrap();
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let in_flight: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let started = Instant::now();
    // The kill times come from this seed: fixed, printed, and set by
    // MAXSTORAGE_CRASH_SEED to replay or vary a run.
    let mut seed: u64 = std::env::var("MAXSTORAGE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_C0DE);
    eprintln!("crash test seed {seed} (MAXSTORAGE_CRASH_SEED={seed} replays it)");
    let mut interrupted_commits = 0usize;
    let mut interrupted_before = 0usize;
    let mut acked_before = 0usize;
    let mut rand = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };
    for round in 0..6 {
        let config = ClientConfig::new(
            Endpoint::parse(&format!("http://{addr}")).unwrap(),
            Credentials::new("x", "y"),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..6)
            .map(|_| {
                let (config, acked, in_flight, next, stop) = (
                    config.clone(),
                    acked.clone(),
                    in_flight.clone(),
                    next.clone(),
                    stop.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        match commit_one(&config, addr, k, &in_flight) {
                            Ok(()) => {
                                acked.lock().unwrap().insert(k);
                            }
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + rand() % 600));
        child.kill().unwrap();
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        let (c, a) = spawn(dir.path());
        child = c;
        let batches = AdminClient::new(a).dump("p", "t", None).unwrap();
        let mut per_commit: BTreeMap<i64, usize> = BTreeMap::new();
        for v in col_a(&batches) {
            *per_commit.entry(v / 10).or_default() += 1;
        }
        let acked = acked.lock().unwrap().clone();
        let in_flight = in_flight.lock().unwrap().clone();
        assert!(
            acked.len() > acked_before,
            "round {round}: no commit was acknowledged before the kill: the round tested nothing"
        );
        acked_before = acked.len();
        // Commits sent and never acknowledged: the kill landed during them.
        interrupted_commits += in_flight.difference(&acked).count() - interrupted_before;
        interrupted_before = in_flight.difference(&acked).count();
        for (k, n) in &per_commit {
            assert_eq!(*n, 10, "round {round}: commit {k} is partial ({n} rows)");
            assert!(
                in_flight.contains(k),
                "round {round}: commit {k} was never sent"
            );
        }
        for k in &acked {
            assert!(
                per_commit.contains_key(k),
                "round {round}: acknowledged commit {k} is lost"
            );
        }
        eprintln!(
            "round {round}: {} acknowledged, {} present",
            acked.len(),
            per_commit.len()
        );
        if started.elapsed() > Duration::from_secs(40) {
            break;
        }
        // The next round talks to the restarted process.
        addr = a;
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        interrupted_commits > 0,
        "no kill landed while a commit was in flight: the test exercised no crash during a commit"
    );
}
