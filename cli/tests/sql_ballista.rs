//! `maxstorage sql --ballista`: the command submits its query to a Ballista scheduler with
//! two executors (running in this test process, with the MaxCompute codecs and their own
//! credentials) and prints what the cluster computed; an INSERT lands exactly once.

use std::process::{Command, Output};

use arrow_array::{Int64Array, RecordBatch, StringArray};
use datafusion::prelude::SessionConfig;
use maxstorage_datafusion::Connector;
use maxstorage_datafusion::ballista::{SessionConfigExt, Standalone};
use maxstorage_emulator::Emulator;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::store::{ColumnDef, TableDef};
use maxstorage_protocol::Credentials;
use std::sync::Arc;

const PROJECT: &str = "cluster";
const ACCESS_ID: &str = "ballista-id";
const ACCESS_KEY: &str = "ballista-key";

/// Runs `maxstorage` with the emulator's endpoint, project and credentials.
fn run(emulator: &Emulator, home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_maxstorage"))
        .args(args)
        .env("MAXSTORAGE_ENDPOINT", emulator.endpoint())
        .env("MAXSTORAGE_PROJECT", PROJECT)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", ACCESS_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ACCESS_KEY)
        .env_remove("MAXSTORAGE_CONFIG")
        .env("HOME", home)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "maxstorage failed: {stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_runs_on_a_ballista_cluster() {
    let home = tempfile::tempdir().unwrap();
    let emulator = Emulator::builder()
        .data_dir(home.path().join("data"))
        .credentials(ACCESS_ID, ACCESS_KEY)
        .start()
        .unwrap();
    let admin = AdminClient::new(emulator.addr()).with_credentials(ACCESS_ID, ACCESS_KEY);
    admin
        .create_table(&TableDef::new(
            PROJECT,
            "people",
            vec![
                ColumnDef::new("id", "bigint"),
                ColumnDef::new("name", "string"),
            ],
        ))
        .unwrap();
    let ids: Vec<i64> = (1..=100).collect();
    let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids)) as _),
        ("name", Arc::new(StringArray::from(names)) as _),
    ])
    .unwrap();
    admin.insert(PROJECT, "people", None, &[batch]).unwrap();

    let connector = Connector::with_credentials(Credentials::new(ACCESS_ID, ACCESS_KEY));
    let config = SessionConfig::new_with_ballista().with_target_partitions(4);
    let cluster = Standalone::start(2, 2, config, connector).await.unwrap();
    let url = cluster.url();

    // The command blocks: run it off the runtime the cluster serves from.
    let (emulator, home_path) = (Arc::new(emulator), home.path().to_path_buf());
    let command = |args: Vec<String>| {
        let (emulator, home_path) = (emulator.clone(), home_path.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&emulator, &home_path, &args)
        })
    };
    let query = |sql: &str| {
        vec![
            "sql".to_string(),
            sql.to_string(),
            "--ballista".to_string(),
            url.clone(),
        ]
    };
    let printed = ok(&command(query(
        "SELECT id % 2 AS odd, count(*) AS n, sum(id) AS s FROM people GROUP BY id % 2 ORDER BY odd",
    ))
    .await
    .unwrap());
    assert!(printed.contains("| 0   | 50 | 2550 |"), "{printed}");
    assert!(printed.contains("| 1   | 50 | 2500 |"), "{printed}");

    ok(&command(query(
        "INSERT INTO people SELECT id + 1000, name FROM people WHERE id <= 10",
    ))
    .await
    .unwrap());
    let rows: usize = admin
        .dump(PROJECT, "people", None)
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 110);
}
