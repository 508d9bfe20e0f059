//! Serving speed (ignored; run with `cargo test --release -p maxstorage-emulator --test
//! throughput -- --ignored --nocapture`): a ≥ 1 GiB table is read in full over loopback
//! from the emulator binary; prints MB/s and the emulator's peak RSS. Not a pass/fail
//! timing assertion.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::http_client::send_request;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::read::{
    CreateReadSession, ReadRows, ReadRowsOptions, ReadSessionOptions, RowSelection, SplitOptions,
};
use maxstorage_protocol::{
    Call, ClientConfig, Compression, Credentials, Endpoint, RequestContext, TableId,
};

/// Starts the emulator binary on `dir` (no auth) and returns it with its address.
fn spawn_emulator(dir: &std::path::Path) -> (std::process::Child, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxstorage-emulator"))
        .args(["--data-dir", dir.to_str().unwrap(), "--no-auth"])
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().parse().unwrap())
}

/// Creates `p.big` with ≈ 1.15 GB of rows (16M rows of a bigint and a ~64-byte string).
fn load_big_table(addr: std::net::SocketAddr) {
    let admin = AdminClient::new(addr);
    admin
        .create_table(&TableDef::new(
            "p",
            "big",
            vec![ColumnDef::new("a", "bigint"), ColumnDef::new("s", "string")],
        ))
        .unwrap();
    // 8 inserts of 2M rows × (8 + ~64) bytes ≈ 1.15 GB.
    let text = "x".repeat(60);
    for part in 0..8i64 {
        let n = 2_000_000i64;
        let a: Vec<i64> = (part * n..(part + 1) * n).collect();
        let s: Vec<String> = a.iter().map(|i| format!("{i:04}{text}")).collect();
        let batches: Vec<RecordBatch> = a
            .chunks(65_536)
            .zip(s.chunks(65_536))
            .map(|(a, s)| {
                RecordBatch::try_from_iter(vec![
                    ("a", Arc::new(Int64Array::from(a.to_vec())) as ArrayRef),
                    ("s", Arc::new(StringArray::from(s.to_vec())) as ArrayRef),
                ])
                .unwrap()
            })
            .collect();
        admin.insert("p", "big", None, &batches).unwrap();
    }
}

/// Peak resident memory of a process, from `/proc/<pid>/status`.
fn peak_rss(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string()
}

#[test]
#[ignore]
fn full_read_of_a_gibibyte_table() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_emulator(dir.path());
    load_big_table(addr);
    // Restart so the peak RSS below is that of serving the read only.
    child.kill().unwrap();
    let _ = child.wait();
    let (mut child, addr) = spawn_emulator(dir.path());
    let config = ClientConfig::new(
        Endpoint::parse(&format!("http://{addr}")).unwrap(),
        Credentials::new("x", "y"),
    );
    let ctx = RequestContext::new(&config, SystemTime::now());
    let table = TableId::new("p", "big");
    let create = CreateReadSession {
        table: table.clone(),
        options: ReadSessionOptions::default().with_split_options(SplitOptions::by_size(256 << 20)),
    };
    let req = create.build(&ctx).unwrap();
    let r = send_request(addr, &req, req.body().bytes().unwrap()).unwrap();
    let (parts, body) = r.into_parts();
    let session = create.parse(&parts, &body).unwrap();
    let started = Instant::now();
    let mut bytes = 0u64;
    for i in 0..session.splits_count {
        let read = ReadRows {
            table: table.clone(),
            session_id: session.session_id.clone(),
            selection: RowSelection::split(i),
            options: ReadRowsOptions::default().with_max_batch_rows(65_536),
            compression: Compression::Uncompressed,
        };
        let req = read.build(&ctx).unwrap();
        let r = send_request(addr, &req, req.body().bytes().unwrap()).unwrap();
        assert_eq!(r.status, 200);
        bytes += r.body.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    let hwm = peak_rss(&child.id().to_string());
    eprintln!(
        "read {} rows, {:.1} MB in {} splits in {secs:.2} s: {:.0} MB/s; emulator peak RSS {hwm}",
        session.record_count,
        bytes as f64 / 1e6,
        session.splits_count,
        bytes as f64 / 1e6 / secs
    );
    assert!(bytes >= 1 << 30);
    child.kill().unwrap();
    let _ = child.wait();
}

/// The blocking client reads a ≥ 1 GiB split in bounded memory (ignored; run with
/// `cargo test --release -p maxstorage-emulator --test throughput -- --ignored --nocapture`).
/// The read runs in a child process of this test binary so its peak RSS is that of the
/// client alone.
#[test]
#[ignore]
fn blocking_client_reads_a_gibibyte_split_in_bounded_memory() {
    if let Ok(endpoint) = std::env::var("MAXSTORAGE_MEMORY_ENDPOINT") {
        return read_one_big_split(&endpoint);
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut emulator, addr) = spawn_emulator(dir.path());
    load_big_table(addr);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "blocking_client_reads_a_gibibyte_split_in_bounded_memory",
            "--nocapture",
        ])
        .env("MAXSTORAGE_MEMORY_ENDPOINT", format!("http://{addr}"))
        .output()
        .unwrap();
    emulator.kill().unwrap();
    let _ = emulator.wait();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the reader failed");
}

fn read_one_big_split(endpoint: &str) {
    let client = maxstorage_blocking::Client::builder()
        .endpoint(endpoint)
        .credentials(Credentials::new("x", "y"))
        .build()
        .unwrap();
    let table = client.table(TableId::new("p", "big"));
    let session = table
        .create_read_session(
            ReadSessionOptions::default().with_split_options(SplitOptions::by_size(1 << 40)),
        )
        .unwrap();
    assert_eq!(session.splits().len(), 1, "one split holds the whole table");
    let started = Instant::now();
    let (mut rows, mut bytes) = (0usize, 0usize);
    for batch in table.read_split(&session, 0, &maxstorage_blocking::ReadOptions::default()) {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        // Logical data: 8-byte ids, 4-byte string offsets and the string bytes.
        let strings = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let text = strings.value_offsets()[strings.len()] - strings.value_offsets()[0];
        bytes += batch.num_rows() * 12 + text as usize;
    }
    let secs = started.elapsed().as_secs_f64();
    let hwm = peak_rss("self");
    let kib: u64 = hwm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    eprintln!(
        "blocking client read one split of {rows} rows ({:.2} GB of column data) in {secs:.2} s ({:.0} MB/s); client peak RSS {hwm}",
        bytes as f64 / 1e9,
        bytes as f64 / 1e6 / secs
    );
    assert!(bytes >= 1 << 30, "the split holds at least 1 GiB");
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB is over 100 MiB");
}
