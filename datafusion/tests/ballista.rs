//! SQL over MaxCompute on Ballista: an in-process scheduler and two executors, the plans
//! shipped through our codecs, against the emulator.

mod common;

use common::{run, start, stored_rows};
use datafusion::prelude::SessionConfig;
use maxstorage::Credentials;
use maxstorage_datafusion::Connector;
use maxstorage_datafusion::ballista::{SessionConfigExt, Standalone};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_and_an_insert_run_on_two_executors() {
    let env = start("ballista", 2000).await;
    // Two executors of two task slots each; they build their own clients (credentials
    // never travel in the plans).
    let connector = Connector::with_credentials(Credentials::new("id", "secret"));
    let config = SessionConfig::new_with_ballista().with_target_partitions(4);
    let cluster = Standalone::start(2, 2, config, connector)
        .await
        .expect("the cluster starts");
    let ctx = cluster.context().await.expect("the context connects");
    common::register(&ctx, &env, 6).await;

    // The query is submitted to the cluster, not run here.
    let submitted = ctx
        .sql("SELECT count(*) FROM people")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    assert_eq!(submitted.name(), "DistributedQueryExec");
    // Six splits over two executors of two slots: the scan's partitions are spread over
    // several tasks, and each split is still read once.
    let text = run(
        &ctx,
        "SELECT id % 4 AS k, count(*) AS n, sum(id) AS s FROM people WHERE id > 1000 \
         GROUP BY id % 4 ORDER BY k",
    )
    .await;
    for row in [
        "| 0 | 250 | 375500 |",
        "| 1 | 250 | 374750 |",
        "| 2 | 250 | 375000 |",
        "| 3 | 250 | 375250 |",
    ] {
        assert!(text.contains(row), "{row} missing in\n{text}");
    }

    // An INSERT planned on the scheduler and written by an executor: exactly once.
    let text = run(
        &ctx,
        "INSERT INTO mc.default.people SELECT id + 10000, name, score FROM people WHERE id <= 500",
    )
    .await;
    assert!(text.contains("500"), "{text}");
    assert_eq!(stored_rows(&env.admin, "people"), 2500);
    let text = run(
        &ctx,
        "SELECT count(*) AS n, sum(id) AS s FROM people WHERE id > 10000",
    )
    .await;
    assert!(text.contains("| 500 | 5125250 |"), "{text}");
}
