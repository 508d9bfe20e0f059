//! An emulator with the tables the SQL tests use, and helpers to read its rows.

#![allow(dead_code, unreachable_pub)] // Each test file uses its own part of the helpers.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use maxstorage::asynchronous::Client;
use maxstorage::{Credentials, SplitOptions, TableId};
use maxstorage_datafusion::{MaxComputeCatalog, MaxComputeTable};
use maxstorage_emulator::Emulator;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::store::{ColumnDef, TableDef};

/// The project of the test tables.
pub const PROJECT: &str = "sql";

/// A running emulator, its admin client and a client of its tunnel endpoint.
pub struct Env {
    pub emulator: Emulator,
    pub admin: AdminClient,
    pub client: Client,
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An emulator with `people (id bigint, name string, score double)` holding ids 1..=`rows`
/// (written in 4 commits, so 4 files) and an empty `sales (amount bigint, region string)
/// partitioned by pt string`.
pub async fn start(tag: &str, rows: i64) -> Env {
    let dir = std::env::temp_dir().join(format!("maxstorage-df-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let emulator = Emulator::builder()
        .data_dir(&dir)
        .credentials("id", "secret")
        .start()
        .expect("the emulator starts");
    let admin = AdminClient::new(emulator.addr()).with_credentials("id", "secret");
    admin
        .create_table(&TableDef::new(
            PROJECT,
            "people",
            vec![
                ColumnDef::new("id", "bigint"),
                ColumnDef::new("name", "string"),
                ColumnDef::new("score", "double"),
            ],
        ))
        .expect("people is created");
    admin
        .create_table(
            &TableDef::new(
                PROJECT,
                "sales",
                vec![
                    ColumnDef::new("amount", "bigint"),
                    ColumnDef::new("region", "string"),
                ],
            )
            .with_partitions(vec![ColumnDef::new("pt", "string")]),
        )
        .expect("sales is created");
    let per_commit = ((rows + 3) / 4).max(1);
    let mut start = 1;
    while start <= rows {
        let end = (start + per_commit - 1).min(rows);
        admin
            .insert(PROJECT, "people", None, &[people(start..=end)])
            .expect("people rows are inserted");
        start = end + 1;
    }
    let client = Client::builder()
        .endpoint(emulator.endpoint())
        .credentials(Credentials::new("id", "secret"))
        .build()
        .await
        .expect("the client is built");
    Env {
        emulator,
        admin,
        client,
        dir,
    }
}

/// Registers `people` (split in `splits` by parallelism) as `people`, and the project as
/// catalog `mc`.
pub async fn register(ctx: &SessionContext, env: &Env, splits: i64) {
    let people = MaxComputeTable::try_new(&env.client, TableId::new(PROJECT, "people"))
        .await
        .expect("people opens")
        .with_split_options(SplitOptions::by_parallelism(splits));
    ctx.register_table("people", Arc::new(people)).unwrap();
    ctx.register_catalog("mc", Arc::new(MaxComputeCatalog::new(&env.client, PROJECT)));
}

/// Rows of `people`: `name` is `n<id>` and `score` is `id / 2`.
pub fn people(ids: std::ops::RangeInclusive<i64>) -> RecordBatch {
    let ids: Vec<i64> = ids.collect();
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids.clone())) as _),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("n{i}")),
            )) as _,
        ),
        (
            "score",
            Arc::new(datafusion::arrow::array::Float64Array::from_iter_values(
                ids.iter().map(|i| *i as f64 / 2.0),
            )) as _,
        ),
    ])
    .expect("a people batch")
}

/// Runs `sql` and returns its rows as a pretty table.
pub async fn run(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pretty_format_batches(&batches)
        .expect("printable")
        .to_string()
}

/// The physical plan of `sql`, as `EXPLAIN` prints it.
pub async fn plan(ctx: &SessionContext, sql: &str) -> String {
    run(ctx, &format!("EXPLAIN {sql}")).await
}

/// The rows of a table as the emulator holds them (sum of the `count` of each batch).
pub fn stored_rows(admin: &AdminClient, table: &str) -> usize {
    admin
        .dump(PROJECT, table, None)
        .expect("the table is dumped")
        .iter()
        .map(|b| b.num_rows())
        .sum()
}
