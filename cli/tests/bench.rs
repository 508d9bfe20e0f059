//! `maxstorage bench read` and `bench write` against embedded emulators (one answering
//! compressed reads with Arrow IPC buffer compression, one with whole-body compression),
//! for each client and each compression: the JSON lines parse, carry the `--extra`
//! contract's fields, count the right rows and report the codec that actually travelled.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampNanosecondArray,
};
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_emulator::{Emulator, ReadCompression};
use serde_json::Value;

const PROJECT: &str = "bench";
const ACCESS_ID: &str = "bench-id";
const ACCESS_KEY: &str = "bench-key";
const FILES: usize = 2;
const ROWS_PER_FILE: usize = 1500;
const BATCH_ROWS: usize = 500;
const CLIENTS: [&str; 2] = ["blocking", "async"];
const CODECS: [&str; 3] = ["none", "zstd", "lz4"];

fn columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new("id", "bigint"),
        ColumnDef::new("i32", "int"),
        ColumnDef::new("f64", "double"),
        ColumnDef::new("flag", "boolean"),
        ColumnDef::new("s", "string"),
        ColumnDef::new("ts", "timestamp"),
        ColumnDef::new("dt", "date"),
    ]
}

fn batch(from: usize, to: usize) -> RecordBatch {
    let ids = from as i64..to as i64;
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from_iter_values(ids.clone()))),
        (
            "i32",
            Arc::new(Int32Array::from_iter_values(
                ids.clone().map(|i| i as i32 - 700),
            )),
        ),
        (
            "f64",
            Arc::new(Float64Array::from_iter(
                ids.clone().map(|i| (i % 7 != 0).then_some(i as f64 * 0.25)),
            )),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from_iter(
                ids.clone().map(|i| Some(i % 3 == 0)),
            )),
        ),
        (
            "s",
            Arc::new(StringArray::from_iter_values(ids.clone().map(|i| {
                format!("row-{i:06}-{}", "x".repeat((i % 40) as usize))
            }))),
        ),
        (
            "ts",
            Arc::new(TimestampNanosecondArray::from_iter_values(
                ids.clone()
                    .map(|i| 1_700_000_000_000_000_000 + i * 1_000_003),
            )),
        ),
        (
            "dt",
            Arc::new(Date32Array::from_iter_values(
                ids.map(|i| 19_000 + (i / 100) as i32),
            )),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

/// The input files: `FILES` Arrow IPC streams of `ROWS_PER_FILE` rows each.
fn write_inputs(dir: &Path) -> Vec<PathBuf> {
    (0..FILES)
        .map(|f| {
            let path = dir.join(format!("input{f}.arrows"));
            let mut out = std::fs::File::create(&path).unwrap();
            let first = batch(0, 1);
            let mut w =
                arrow_ipc::writer::StreamWriter::try_new(&mut out, &first.schema()).unwrap();
            let start = f * ROWS_PER_FILE;
            for at in (start..start + ROWS_PER_FILE).step_by(BATCH_ROWS) {
                w.write(&batch(at, at + BATCH_ROWS)).unwrap();
            }
            w.finish().unwrap();
            path
        })
        .collect()
}

/// Runs `maxstorage bench ARGS` with credentials in the environment; its JSON line.
fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_maxstorage"))
        .arg("bench")
        .args(args)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", ACCESS_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ACCESS_KEY)
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 1, "one JSON line per measurement: {stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

/// Checks the fields every line has; returns `rows`.
fn check_contract(line: &Value, direction: &str, client: &str, threads: u64) -> u64 {
    assert_eq!(line["direction"], direction, "{line}");
    assert_eq!(line["client"], client, "{line}");
    assert_eq!(line["threads"], threads, "{line}");
    assert!(line["wall_s"].as_f64().unwrap() > 0.0, "{line}");
    for field in ["wire_bytes", "logical_bytes", "batches", "requests"] {
        assert!(line[field].as_u64().unwrap() > 0, "{field}: {line}");
    }
    for field in ["cpu_user_s", "cpu_sys_s"] {
        assert!(line[field].as_f64().unwrap() >= 0.0, "{field}: {line}");
    }
    let (before, peak) = (
        line["rss_before_kb"].as_u64().unwrap(),
        line["peak_rss_kb"].as_u64().unwrap(),
    );
    assert!(peak >= before && before > 0, "{line}");
    line["rows"].as_u64().unwrap()
}

/// 1 or 2 threads, so that each client and direction runs both ways.
fn threads_for(client: usize, codec: usize) -> u64 {
    1 + ((client + codec) % 2) as u64
}

#[test]
fn bench_reads_and_writes_against_the_emulator_with_each_client_and_codec() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_inputs(dir.path());
    let input_args: Vec<&str> = inputs.iter().map(|p| p.to_str().unwrap()).collect();
    let total = (FILES * ROWS_PER_FILE) as u64;
    let start = |name: &str, mode: ReadCompression| {
        let emulator = Emulator::builder()
            .data_dir(dir.path().join(name))
            .credentials(ACCESS_ID, ACCESS_KEY)
            .read_compression(mode)
            .start()
            .unwrap();
        let admin = AdminClient::new(emulator.addr()).with_credentials(ACCESS_ID, ACCESS_KEY);
        admin
            .create_table(&TableDef::new(PROJECT, "src", columns()))
            .unwrap();
        for f in &inputs {
            let ipc = std::fs::read(f).unwrap();
            admin
                .insert_ipc(PROJECT, "default", "src", None, false, &ipc)
                .unwrap();
        }
        (emulator, admin)
    };
    let (ipc, ipc_admin) = start("ipc", ReadCompression::Ipc);
    let (body, _body_admin) = start("body", ReadCompression::Body);

    for (ci, client) in CLIENTS.iter().enumerate() {
        for (ki, codec) in CODECS.iter().enumerate() {
            let threads = threads_for(ci, ki);
            let t = threads.to_string();

            // Write into a table of its own; the emulator must hold every row afterwards.
            let table = format!("w_{client}_{codec}");
            ipc_admin
                .create_table(&TableDef::new(PROJECT, &table, columns()))
                .unwrap();
            let mut args = vec![
                "write",
                "--endpoint",
                &ipc.endpoint(),
                "--project",
                PROJECT,
                "--table",
                &table,
                "--client",
                client,
                "--threads",
                &t,
                "--compression",
                codec,
                "--input",
            ]
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
            args.extend(input_args.iter().map(|s| s.to_string()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let line = bench(&args);
            assert_eq!(check_contract(&line, "write", client, threads), total);
            assert_eq!(line["codec"], *codec, "{line}");
            let streams = if threads == 1 { 1 } else { FILES as u64 };
            assert_eq!(line["streams"], streams, "{line}");
            let info = ipc_admin.describe(PROJECT, "default", &table).unwrap();
            assert_eq!(info.record_count, total, "{line}");

            // Read back from both emulators: the codec is what arrived.
            for (emulator, expected) in [
                (&ipc, codec.to_string()),
                (
                    &body,
                    match *codec {
                        "none" => "none".to_string(),
                        c => format!("body-{c}"),
                    },
                ),
            ] {
                let line = bench(&[
                    "read",
                    "--endpoint",
                    &emulator.endpoint(),
                    "--project",
                    PROJECT,
                    "--table",
                    "src",
                    "--client",
                    client,
                    "--threads",
                    &t,
                    "--compression",
                    codec,
                ]);
                assert_eq!(check_contract(&line, "read", client, threads), total);
                assert_eq!(line["codec"], expected, "{line}");
                assert_eq!(line["requested_compression"], *codec, "{line}");
                assert!(line["splits"].as_u64().unwrap() >= 1, "{line}");
                assert!(
                    line["logical_bytes"].as_u64().unwrap() > 20 * total,
                    "{line}"
                );
            }
        }
    }
    ipc.shutdown();
    body.shutdown();
}

#[test]
fn bench_without_credentials_names_the_environment_variables() {
    let out = Command::new(env!("CARGO_BIN_EXE_maxstorage"))
        .args([
            "bench",
            "read",
            "--endpoint",
            "http://127.0.0.1:9",
            "--project",
            PROJECT,
            "--table",
            "t",
            "--client",
            "blocking",
            "--threads",
            "1",
        ])
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_ID")
            && stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bench_decode_counts_every_row_of_each_body_and_names_its_codec() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write_inputs(dir.path());
    // The same streams compressed as a whole (what `odps.maxstorage` receives).
    let mut zstd = Vec::new();
    for (i, path) in plain.iter().enumerate() {
        let body = std::fs::read(path).unwrap();
        let z = maxstorage_codec::compress::compress(maxstorage_protocol::Compression::Zstd, &body)
            .unwrap();
        let out = dir.path().join(format!("input{i}.body-zstd.bin"));
        std::fs::write(&out, z).unwrap();
        zstd.push(out);
    }
    let total = (FILES * ROWS_PER_FILE) as u64;
    for (inputs, codec) in [(&plain, "none"), (&zstd, "body-zstd")] {
        let mut args = vec!["decode", "--input"];
        args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
        let line = bench(&args);
        assert_eq!(line["rows"], total, "{line}");
        assert_eq!(line["codec"], codec, "{line}");
        assert_eq!(line["threads"], 1, "{line}");
        assert_eq!(
            line["batches"],
            (FILES * ROWS_PER_FILE / BATCH_ROWS) as u64,
            "{line}"
        );
        assert!(line["wall_s"].as_f64().unwrap() > 0.0, "{line}");
    }
    // A truncated body is an error naming the file, not a short count.
    let cut = dir.path().join("cut.arrows");
    let body = std::fs::read(&plain[0]).unwrap();
    std::fs::write(&cut, &body[..body.len() - 20]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_maxstorage"))
        .args(["bench", "decode", "--input", cut.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cut.arrows"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
