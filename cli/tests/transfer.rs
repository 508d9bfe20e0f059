//! `maxstorage load` and `maxstorage read` against an embedded emulator: CSV, Parquet and
//! Arrow files into a partition and back out, compared value by value with the emulator's
//! admin dump; an overwrite; and failures that are one clear line, a non-zero exit, and no
//! partial commit.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use maxstorage_emulator::Emulator;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::store::{ColumnDef, TableDef};

const PROJECT: &str = "cli";
const ACCESS_ID: &str = "cli-id";
const ACCESS_KEY: &str = "cli-key";

struct Env {
    emulator: Emulator,
    admin: AdminClient,
    dir: tempfile::TempDir,
}

impl Env {
    fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let emulator = Emulator::builder()
            .data_dir(dir.path().join("data"))
            .credentials(ACCESS_ID, ACCESS_KEY)
            .start()
            .unwrap();
        let admin = AdminClient::new(emulator.addr()).with_credentials(ACCESS_ID, ACCESS_KEY);
        let mut def = TableDef::new(
            PROJECT,
            "sales",
            vec![
                ColumnDef::new("id", "bigint"),
                ColumnDef::new("name", "string"),
                ColumnDef::new("amount", "double"),
            ],
        );
        def.partition_columns = vec![ColumnDef::new("pt", "string")];
        admin.create_table(&def).unwrap();
        Env {
            emulator,
            admin,
            dir,
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `maxstorage` with the emulator's endpoint, project and credentials.
    fn run(&self, args: &[&str]) -> Output {
        self.run_with_key(args, ACCESS_KEY)
    }

    fn run_with_key(&self, args: &[&str], key: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_maxstorage"))
            .args(args)
            .env("MAXSTORAGE_ENDPOINT", self.emulator.endpoint())
            .env("MAXSTORAGE_PROJECT", PROJECT)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", ACCESS_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", key)
            .env_remove("MAXSTORAGE_CONFIG")
            .env("HOME", self.dir.path())
            .output()
            .unwrap()
    }

    fn dump(&self, partition: &str) -> Vec<(i64, String, u64)> {
        rows(&self.admin.dump(PROJECT, "sales", Some(partition)).unwrap())
    }
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "maxstorage failed: {stderr}");
    stderr
}

/// A failure: non-zero exit and one line on standard error naming `what`.
fn fails(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a failure, got success: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(lines[0].starts_with("maxstorage: "), "{stderr}");
    assert!(lines[0].contains(what), "{what:?} not in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(ids.clone())) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                ids.clone().map(|i| format!("name, \"quoted\" {i}")),
            )),
        ),
        (
            "amount",
            Arc::new(Float64Array::from_iter(
                ids.map(|i| (i % 5 != 0).then_some(i as f64 * 1.25)),
            )),
        ),
    ])
    .unwrap()
}

/// Rows as `(id, name, amount bits)` (NaN for null), sorted.
fn rows(batches: &[RecordBatch]) -> Vec<(i64, String, u64)> {
    let mut out = Vec::new();
    for b in batches {
        let b = b
            .project(&[
                b.schema().index_of("id").unwrap(),
                b.schema().index_of("name").unwrap(),
                b.schema().index_of("amount").unwrap(),
            ])
            .unwrap();
        let cast = |i: usize, t: &DataType| arrow_cast::cast(b.column(i), t).unwrap();
        let id = cast(0, &DataType::Int64);
        let name = cast(1, &DataType::Utf8);
        let amount = cast(2, &DataType::Float64);
        let id = id.as_any().downcast_ref::<Int64Array>().unwrap();
        let name = name.as_any().downcast_ref::<StringArray>().unwrap();
        let amount = amount.as_any().downcast_ref::<Float64Array>().unwrap();
        for r in 0..b.num_rows() {
            let a = if amount.is_valid(r) {
                amount.value(r)
            } else {
                f64::NAN
            };
            out.push((id.value(r), name.value(r).to_string(), a.to_bits()));
        }
    }
    out.sort();
    out
}

fn write_csv(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(file);
    for b in batches {
        w.write(b).unwrap();
    }
}

fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(700))
        .build();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn read_csv(path: &Path) -> Vec<RecordBatch> {
    // The columns named by the header line (the partition column comes along as text).
    let text = std::fs::read_to_string(path).unwrap();
    let header = text.lines().next().unwrap_or_default();
    let schema = Arc::new(Schema::new(
        header
            .split(',')
            .map(|name| {
                let t = match name {
                    "id" => DataType::Int64,
                    "amount" => DataType::Float64,
                    _ => DataType::Utf8,
                };
                Field::new(name, t, true)
            })
            .collect::<Vec<_>>(),
    ));
    let file = std::fs::File::open(path).unwrap();
    arrow_csv::ReaderBuilder::new(schema)
        .with_header(true)
        .build(file)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn csv_and_parquet_round_trip_through_a_partition() {
    let env = Env::start();
    let input = vec![batch(0..1000), batch(1000..2500)];
    let want = rows(&input);

    // CSV in, through 3 streams.
    let csv = env.path("in.csv");
    write_csv(&csv, &input);
    let stderr = ok(&env.run(&[
        "load",
        csv.to_str().unwrap(),
        "sales",
        "--partition",
        "pt=csv",
        "--streams",
        "3",
    ]));
    assert!(stderr.contains("loaded 2500 rows"), "{stderr}");
    assert_eq!(env.dump("pt=csv"), want, "the CSV rows, exactly once");

    // Parquet (snappy, several row groups) in, uncompressed bodies.
    let pq = env.path("in.parquet");
    write_parquet(&pq, &input);
    ok(&env.run(&[
        "load",
        pq.to_str().unwrap(),
        "sales",
        "--partition",
        "pt=pq",
        "--compression",
        "none",
    ]));
    assert_eq!(env.dump("pt=pq"), want);

    // Out again: Parquet, CSV, Arrow, JSON lines.
    let out_pq = env.path("out.parquet");
    let stderr = ok(&env.run(&[
        "read",
        "sales",
        "--partition",
        "pt=pq",
        "-o",
        out_pq.to_str().unwrap(),
    ]));
    assert!(stderr.contains("read 2500 rows"), "{stderr}");
    assert_eq!(rows(&read_parquet(&out_pq)), want);
    let out_csv = env.path("out.csv");
    ok(&env.run(&[
        "read",
        "sales",
        "--partition",
        "pt=csv",
        "--workers",
        "1",
        "-o",
        out_csv.to_str().unwrap(),
    ]));
    assert_eq!(rows(&read_csv(&out_csv)), want);
    let out_arrow = env.path("out.arrow");
    ok(&env.run(&[
        "read",
        "sales",
        "--partition",
        "pt=csv",
        "-o",
        out_arrow.to_str().unwrap(),
    ]));
    let arrow: Vec<RecordBatch> =
        arrow_ipc::reader::FileReader::try_new(std::fs::File::open(&out_arrow).unwrap(), None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(rows(&arrow), want);
    // Columns, a filter and a limit, as JSON lines on standard output.
    let out = env.run(&[
        "read",
        "sales",
        "--partition",
        "pt=csv",
        "--columns",
        "id,name",
        "--filter",
        "id < 100",
        "--limit",
        "10",
        "--format",
        "jsonl",
        "-o",
        "-",
    ]);
    ok(&out);
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    for l in &lines {
        let id = l["id"].as_i64().unwrap();
        assert!(id < 100, "{l}");
        assert_eq!(l["name"], format!("name, \"quoted\" {id}"));
        assert!(l.get("amount").is_none(), "only the columns asked for: {l}");
    }

    // Arrow in with --overwrite replaces the partition.
    let arrow_in = env.path("replace.arrows");
    {
        let replacement = batch(5000..5010);
        let file = std::fs::File::create(&arrow_in).unwrap();
        let mut w = arrow_ipc::writer::StreamWriter::try_new(file, &replacement.schema()).unwrap();
        w.write(&replacement).unwrap();
        w.finish().unwrap();
    }
    ok(&env.run(&[
        "load",
        arrow_in.to_str().unwrap(),
        "sales",
        "--partition",
        "pt=csv",
        "--overwrite",
    ]));
    assert_eq!(env.dump("pt=csv"), rows(&[batch(5000..5010)]));
    assert_eq!(env.dump("pt=pq"), want, "other partitions untouched");
}

#[test]
fn failures_are_one_line_and_commit_nothing() {
    let env = Env::start();
    let csv = env.path("in.csv");
    write_csv(&csv, &[batch(0..100)]);
    fails(
        &env.run(&[
            "load",
            csv.to_str().unwrap(),
            "nosuch",
            "--partition",
            "pt=a",
        ]),
        "nosuch",
    );
    fails(
        &env.run_with_key(
            &["read", "sales", "-o", env.path("x.csv").to_str().unwrap()],
            "wrong",
        ),
        "SignatureNotMatch",
    );
    // A CSV whose last rows do not parse: nothing of the file is committed.
    let bad = env.path("bad.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("not-a-number,x,1.0\n");
    std::fs::write(&bad, text).unwrap();
    fails(
        &env.run(&[
            "load",
            bad.to_str().unwrap(),
            "sales",
            "--partition",
            "pt=a",
        ]),
        "bad.csv",
    );
    assert!(env.dump("pt=a").is_empty(), "no partial commit");
    fails(
        &env.run(&[
            "read",
            "sales",
            "-o",
            env.path("x.unknown").to_str().unwrap(),
        ]),
        "--format",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_maxstorage"))
        .args(["read", "sales", "-o", "x.csv"])
        .env_remove("MAXSTORAGE_ENDPOINT")
        .env_remove("MAXSTORAGE_SERVICE_ENDPOINT")
        .env_remove("MAXSTORAGE_CONFIG")
        .env("HOME", env.dir.path())
        .output()
        .unwrap();
    fails(&out, "MAXSTORAGE_ENDPOINT");
}

#[test]
fn schema_preview_and_completions() {
    let env = Env::start();
    env.admin
        .insert(PROJECT, "sales", Some("pt=a"), &[batch(0..50)])
        .unwrap();
    let out = env.run(&["schema", "sales", "--json"]);
    ok(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = |key: &str| -> Vec<(String, String)> {
        doc[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["type"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        names("columns"),
        [("id", "bigint"), ("name", "string"), ("amount", "double")]
            .map(|(n, t)| (n.to_string(), t.to_string()))
    );
    assert_eq!(
        names("partition_columns"),
        [("pt".to_string(), "string".to_string())]
    );
    let text = String::from_utf8(ok_stdout(&env.run(&["schema", "sales"]))).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("amount") && l.contains("double")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("pt") && l.contains("partition")),
        "{text}"
    );

    let out = env.run(&[
        "preview",
        "sales",
        "--limit",
        "5",
        "--columns",
        "id",
        "--json",
    ]);
    let rows: Vec<serde_json::Value> = String::from_utf8(ok_stdout(&out))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|r| r.get("id").is_some() && r.get("name").is_none())
    );
    let table =
        String::from_utf8(ok_stdout(&env.run(&["preview", "sales", "--limit", "3"]))).unwrap();
    assert!(
        table.contains("| id") && table.contains("name, \"quoted\" 0"),
        "{table}"
    );
    fails(&env.run(&["preview", "nosuch"]), "nosuch");

    let script = String::from_utf8(ok_stdout(&env.run(&["completions", "bash"]))).unwrap();
    assert!(
        script.contains("maxstorage") && script.contains("load"),
        "a bash completion script"
    );
}

fn ok_stdout(out: &Output) -> Vec<u8> {
    ok(out);
    out.stdout.clone()
}

#[test]
fn emulator_admin_subcommands_create_insert_and_dump() {
    let env = Env::start();
    ok(&env.run(&[
        "emulator",
        "create-table",
        "t2",
        "--column",
        "id:bigint",
        "--column",
        "name:string",
        "--column",
        "amount:double",
        "--partition-column",
        "pt:string",
    ]));
    let csv = env.path("rows.csv");
    write_csv(&csv, &[batch(0..300)]);
    let stderr = ok(&env.run(&[
        "emulator",
        "insert",
        "t2",
        csv.to_str().unwrap(),
        "--partition",
        "pt=x",
    ]));
    assert!(stderr.contains("inserted 300 rows"), "{stderr}");
    let out = env.path("dump.parquet");
    ok(&env.run(&[
        "emulator",
        "dump",
        "t2",
        "--partition",
        "pt=x",
        "-o",
        out.to_str().unwrap(),
    ]));
    assert_eq!(rows(&read_parquet(&out)), rows(&[batch(0..300)]));
    fails(
        &env.run(&["emulator", "create-table", "t3", "--column", "nocolon"]),
        "NAME:TYPE",
    );
}

/// pyarrow writes a Parquet file (snappy, nulls, timestamps, several row groups); `load`
/// puts it into a table, `read` writes it back to Parquet, and pyarrow compares the two
/// tables. Skipped with a message where python3 has no pyarrow — never under `CI=true`.
#[test]
fn a_parquet_file_written_by_pyarrow_comes_back_equal() {
    let has_pyarrow = Command::new("python3")
        .args(["-c", "import pyarrow.parquet"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pyarrow {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with pyarrow is not available (pip install pyarrow), and CI must run this cross-implementation check"
        );
        println!("SKIPPED: python3 with pyarrow is not available; under CI=true this fails");
        return;
    }
    let env = Env::start();
    let mut def = TableDef::new(
        PROJECT,
        "events",
        vec![
            ColumnDef::new("id", "bigint"),
            ColumnDef::new("name", "string"),
            ColumnDef::new("amount", "double"),
            ColumnDef::new("at", "timestamp"),
            ColumnDef::new("flag", "boolean"),
        ],
    );
    def.partition_columns = vec![ColumnDef::new("pt", "string")];
    env.admin.create_table(&def).unwrap();
    let written = env.path("pyarrow.parquet");
    let read_back = env.path("back.parquet");
    let python = |script: &str, args: &[&Path]| {
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    python(
        r#"
import sys, datetime, pyarrow as pa, pyarrow.parquet as pq
n = 5000
base = datetime.datetime(2024, 1, 1)
t = pa.table({
    "id": pa.array(range(n), pa.int64()),
    "name": pa.array([None if i % 13 == 0 else f"name {i} \u00e9" for i in range(n)]),
    "amount": pa.array([None if i % 7 == 0 else i * 0.25 for i in range(n)], pa.float64()),
    "at": pa.array([base + datetime.timedelta(microseconds=i * 1234567) for i in range(n)], pa.timestamp("ns")),
    "flag": pa.array([i % 3 == 0 for i in range(n)]),
})
pq.write_table(t, sys.argv[1], compression="snappy", row_group_size=1500)
"#,
        &[&written],
    );
    ok(&env.run(&[
        "load",
        written.to_str().unwrap(),
        "events",
        "--partition",
        "pt=py",
    ]));
    ok(&env.run(&[
        "read",
        "events",
        "--partition",
        "pt=py",
        "--columns",
        "id,name,amount,at,flag",
        "--workers",
        "1",
        "-o",
        read_back.to_str().unwrap(),
    ]));
    let verdict = python(
        r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
a = pq.read_table(sys.argv[1])
b = pq.read_table(sys.argv[2]).select(a.column_names)
b = b.cast(a.schema) if b.schema != a.schema else b
a = a.sort_by("id"); b = b.sort_by("id")
print("equal" if a.equals(b) else f"differ: {a.schema} vs {b.schema}; rows {a.num_rows} vs {b.num_rows}")
"#,
        &[&written, &read_back],
    );
    assert_eq!(verdict.trim(), "equal", "{verdict}");
}
