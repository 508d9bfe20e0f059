//! The aggregate benchmark of the crate README: `GROUP BY` over the reference perf table
//! (`../shared/perf/gen_data.py`), through DataFusion and by hand over `read_all`, against
//! an embedded emulator.
//!
//! ```sh
//! cargo run --release -p maxstorage-datafusion --example aggregate -- DATA_DIR [REPS]
//! ```
//!
//! `DATA_DIR` holds `split{0..3}.none.arrows` (the perf harness's data); they are loaded
//! into a table first (not timed). Prints one line per way: the median of `REPS`
//! (default 5) runs, in seconds and million rows per second.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures_util::StreamExt;
use maxstorage::asynchronous::Client;
use maxstorage::{Credentials, ReadOptions, ReadSessionOptions, SplitOptions, TableId};
use maxstorage_datafusion::MaxComputeTable;
use maxstorage_emulator::Emulator;
use maxstorage_emulator::admin::AdminClient;
use maxstorage_emulator::store::{ColumnDef, TableDef};

const QUERY: &str = "SELECT flag, count(*) AS n, sum(id) AS ids, sum(f64) AS f FROM bench GROUP BY flag ORDER BY flag";

/// Per `flag` (`None` for NULL): rows, sum of `id`, sum of `f64`.
type Groups = BTreeMap<Option<bool>, (i64, i64, f64)>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(args.next().ok_or("usage: aggregate DATA_DIR [REPS]")?);
    let reps: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let dir = tempfile::tempdir()?;
    let emulator = Emulator::builder()
        .data_dir(dir.path())
        .credentials("id", "secret")
        .start()?;
    let admin = AdminClient::new(emulator.addr()).with_credentials("id", "secret");
    let columns = [
        ("id", "bigint"),
        ("i32", "int"),
        ("f64", "double"),
        ("flag", "boolean"),
        ("short_str", "string"),
        ("long_str", "string"),
        ("ts", "timestamp"),
        ("dt", "date"),
    ];
    admin.create_table(&TableDef::new(
        "perf",
        "bench",
        columns
            .iter()
            .map(|(n, t)| ColumnDef::new(*n, *t))
            .collect(),
    ))?;
    for split in 0..4 {
        let ipc = std::fs::read(data.join(format!("split{split}.none.arrows")))?;
        admin.insert_ipc("perf", "default", "bench", None, false, &ipc)?;
    }
    let client = Client::builder()
        .endpoint(emulator.endpoint())
        .credentials(Credentials::new("id", "secret"))
        .build()
        .await?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let table = TableId::new("perf", "bench");

    let provider = MaxComputeTable::try_new(&client, table.clone())
        .await?
        .with_split_options(SplitOptions::by_parallelism(workers as i64));
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(workers));
    ctx.register_table("bench", Arc::new(provider))?;

    let mut sql_times = Vec::new();
    let mut hand_times = Vec::new();
    let mut rows = 0;
    for _ in 0..reps {
        let started = Instant::now();
        let batches = ctx.sql(QUERY).await?.collect().await?;
        sql_times.push(started.elapsed().as_secs_f64());
        let by_sql = groups_of(&batches);

        let started = Instant::now();
        let by_hand = by_hand(&client, &table, workers).await?;
        hand_times.push(started.elapsed().as_secs_f64());

        rows = by_hand.values().map(|g| g.0).sum::<i64>();
        let same = by_sql.len() == by_hand.len()
            && by_sql.iter().zip(&by_hand).all(|((k1, a), (k2, b))| {
                k1 == k2 && a.0 == b.0 && a.1 == b.1 && (a.2 - b.2).abs() <= 1e-6 * b.2.abs()
            });
        if !same {
            return Err(format!("the two ways disagree: {by_sql:?} vs {by_hand:?}").into());
        }
    }
    for (way, times) in [
        ("DataFusion SQL", &mut sql_times),
        ("read_all + by hand", &mut hand_times),
    ] {
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{way}: {median:.3} s median of {reps}, {:.1} Mrows/s ({rows} rows, {workers} partitions)",
            rows as f64 / median / 1e6
        );
    }
    emulator.shutdown();
    Ok(())
}

/// The groups of the query's result.
fn groups_of(batches: &[RecordBatch]) -> Groups {
    let mut groups = Groups::new();
    for batch in batches {
        let flag = batch.column(0).as_boolean();
        let n = batch.column(1).as_primitive::<Int64Type>();
        let ids = batch.column(2).as_primitive::<Int64Type>();
        let f = batch.column(3).as_primitive::<Float64Type>();
        for i in 0..batch.num_rows() {
            let key = flag.is_valid(i).then(|| flag.value(i));
            groups.insert(key, (n.value(i), ids.value(i), f.value(i)));
        }
    }
    groups
}

/// The same aggregation over every split read at once.
async fn by_hand(
    client: &Client,
    table: &TableId,
    workers: usize,
) -> Result<Groups, Box<dyn std::error::Error>> {
    let table = client.table(table.clone());
    let session = table
        .create_read_session(
            ReadSessionOptions::default()
                .with_required_data_columns(vec!["flag".into(), "id".into(), "f64".into()])
                .with_split_options(SplitOptions::by_parallelism(workers as i64)),
        )
        .await?;
    let mut groups = Groups::new();
    let mut batches = table.read_all(&session, &ReadOptions::default(), workers);
    while let Some(item) = batches.next().await {
        let (_, batch) = item?;
        let flag = batch.column_by_name("flag").ok_or("no flag")?.as_boolean();
        let id = batch
            .column_by_name("id")
            .ok_or("no id")?
            .as_primitive::<Int64Type>();
        let f = batch
            .column_by_name("f64")
            .ok_or("no f64")?
            .as_primitive::<Float64Type>();
        for i in 0..batch.num_rows() {
            let key = flag.is_valid(i).then(|| flag.value(i));
            let group = groups.entry(key).or_insert((0, 0, 0.0));
            group.0 += 1;
            if id.is_valid(i) {
                group.1 += id.value(i);
            }
            if f.is_valid(i) {
                group.2 += f.value(i);
            }
        }
    }
    Ok(groups)
}
