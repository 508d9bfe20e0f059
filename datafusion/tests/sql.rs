//! SQL reads and writes through DataFusion against the emulator.

mod common;

use std::sync::Arc;

use common::{plan, run, start, stored_rows};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A context with `people` as `people` (split in 4 by parallelism) and the project as
/// catalog `mc`, over `partitions` partitions.
async fn context(env: &common::Env, partitions: usize) -> SessionContext {
    let ctx =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    common::register(&ctx, env, 4).await;
    ctx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_read_every_split_once() {
    let env = start("aggregate", 1000).await;
    let ctx = context(&env, 3).await;
    let text = run(
        &ctx,
        "SELECT count(*) AS n, sum(id) AS total, min(name) AS first, max(score) AS top FROM people",
    )
    .await;
    assert!(text.contains("| 1000 | 500500 | n1    | 500.0 |"), "{text}");
    let explain = plan(&ctx, "SELECT sum(id) FROM people").await;
    assert!(
        explain.contains("MaxComputeScanExec") && explain.contains("splits=4"),
        "{explain}"
    );
    // Grouped, over the catalog's name for the same table.
    let text = run(
        &ctx,
        "SELECT id % 3 AS k, count(*) AS n FROM mc.default.people GROUP BY id % 3 ORDER BY k",
    )
    .await;
    assert!(
        text.contains("| 0 | 333 |")
            && text.contains("| 1 | 334 |")
            && text.contains("| 2 | 333 |"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_projection_and_limit_go_into_the_session() {
    let env = start("pushdown", 100).await;
    let ctx = context(&env, 2).await;
    let sql = "SELECT name FROM people WHERE id > 90 AND name != 'n95' ORDER BY name";
    let text = run(&ctx, sql).await;
    let names: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| n") && !l.contains("name"))
        .collect();
    assert_eq!(names.len(), 9, "{text}");
    // Both comparisons are exact: no filter is left above the scan, so the right
    // answer above proves the service applied them.
    let explain = plan(&ctx, sql).await;
    assert!(!explain.contains("FilterExec"), "{explain}");
    assert!(explain.contains("columns=[name]"), "{explain}");
    // A float comparison is pushed and re-checked; IS NULL stays with DataFusion.
    let sql = "SELECT count(*) AS n FROM people WHERE score >= 25.0 AND name IS NOT NULL";
    assert!(run(&ctx, sql).await.contains("| 51 |"));
    assert!(plan(&ctx, sql).await.contains("FilterExec"));
    // A limit stops the read early and is still exact.
    let text = run(&ctx, "SELECT id FROM people LIMIT 7").await;
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("| ") && !l.contains("id"))
            .count(),
        7,
        "{text}"
    );
    // count(*) reads one column to count.
    assert!(
        run(&ctx, "SELECT count(*) AS n FROM people")
            .await
            .contains("| 100 |")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_into_and_overwrite_commit_exactly_the_rows() {
    let env = start("insert", 10).await;
    let ctx = context(&env, 2).await;
    let text = run(
        &ctx,
        "INSERT INTO mc.default.people SELECT id + 100, name, score FROM people",
    )
    .await;
    assert!(text.contains("| 10    |"), "{text}");
    assert_eq!(stored_rows(&env.admin, "people"), 20);
    assert!(
        run(&ctx, "SELECT count(*) AS n, sum(id) AS s FROM people")
            .await
            .contains("| 20 | 1110 |")
    );

    run(
        &ctx,
        "INSERT OVERWRITE mc.default.people VALUES (7, 'seven', 3.5)",
    )
    .await;
    assert_eq!(stored_rows(&env.admin, "people"), 1);
    assert!(
        run(&ctx, "SELECT name FROM people")
            .await
            .contains("| seven |")
    );

    // Dynamic partitions: the partition column comes from the rows.
    run(
        &ctx,
        "INSERT INTO mc.default.sales VALUES (1, 'east', '2024'), (2, 'west', '2024'), (3, 'east', '2025')",
    )
    .await;
    let text = run(
        &ctx,
        "SELECT sum(amount) AS s FROM mc.default.sales WHERE pt = '2024'",
    )
    .await;
    assert!(text.contains("| 3 |"), "{text}");
    let explain = plan(
        &ctx,
        "SELECT amount FROM mc.default.sales WHERE pt = '2024'",
    )
    .await;
    assert!(!explain.contains("FilterExec"), "{explain}");
    let text = run(
        &ctx,
        "SELECT count(*) AS n FROM mc.default.sales WHERE pt = '2024' AND pt = '2025'",
    )
    .await;
    assert!(text.contains("| 0 |"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_partition_commits_nothing() {
    let env = start("abort", 4).await;
    let ctx = context(&env, 2).await;
    // Two input partitions: the second fails while the first is written.
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
    ]));
    let batch = |ids: Vec<i64>, names: Vec<&str>| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(names)),
            ],
        )
        .unwrap()
    };
    let source = MemTable::try_new(
        schema.clone(),
        vec![
            vec![batch(vec![10, 11], vec!["a", "b"])],
            vec![batch(vec![12, 0], vec!["c", "d"])],
        ],
    )
    .unwrap();
    ctx.register_table("source", Arc::new(source)).unwrap();
    let err = ctx
        .sql("INSERT INTO mc.default.people SELECT 100 / id, name, 1.0 FROM source")
        .await
        .unwrap()
        .collect()
        .await
        .expect_err("a division by zero fails the insert");
    assert!(
        err.to_string().to_lowercase().contains("divide by zero"),
        "{err}"
    );
    assert_eq!(stored_rows(&env.admin, "people"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tables_are_unknown() {
    let env = start("unknown", 1).await;
    let ctx = context(&env, 1).await;
    let err = ctx
        .sql("SELECT * FROM mc.default.nothing_here")
        .await
        .expect_err("no such table");
    assert!(err.to_string().contains("nothing_here"), "{err}");
}
