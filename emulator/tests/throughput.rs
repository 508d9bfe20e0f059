//! Serving speed (ignored; run with `cargo test --release -p maxstorage-emulator --test
//! throughput -- --ignored --nocapture`): a ≥ 1 GiB table is read in full over loopback
//! from the emulator binary; prints MB/s and the emulator's peak RSS. Not a pass/fail
//! timing assertion.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::http_client::send_request;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::read::{
    CreateReadSession, ReadRows, ReadRowsOptions, ReadSessionOptions, RowSelection, SplitOptions,
};
use maxstorage_protocol::{
    Call, ClientConfig, Compression, Credentials, Endpoint, RequestContext, TableId,
};

#[test]
#[ignore]
fn full_read_of_a_gibibyte_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxstorage-emulator"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "--no-auth"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line.trim().parse().unwrap();
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
    // Restart so the peak RSS below is that of serving the read only.
    child.kill().unwrap();
    let _ = child.wait();
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxstorage-emulator"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "--no-auth"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line.trim().parse().unwrap();
    let config = ClientConfig::new(
        Endpoint::parse(&format!("http://{addr}")).unwrap(),
        Credentials::new("x", "y"),
    );
    let ctx = RequestContext::new(&config, SystemTime::now());
    let table = TableId::new("p", "big");
    let create = CreateReadSession {
        table: table.clone(),
        options: ReadSessionOptions {
            split_options: SplitOptions::by_size(256 << 20),
            ..Default::default()
        },
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
            options: ReadRowsOptions {
                max_batch_rows: 65_536,
                ..Default::default()
            },
            compression: Compression::Uncompressed,
        };
        let req = read.build(&ctx).unwrap();
        let r = send_request(addr, &req, req.body().bytes().unwrap()).unwrap();
        assert_eq!(r.status, 200);
        bytes += r.body.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
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
