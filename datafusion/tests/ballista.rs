//! SQL over MaxCompute on Ballista: an in-process scheduler and two executors, the plans
//! shipped through our codecs, against the emulator.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use common::{PROJECT, run, start, stored_rows};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use maxstorage::{Credentials, SplitMode, SplitOptions, TableId};
use maxstorage_datafusion::ballista::{MaxStorageLogicalCodec, MaxStoragePhysicalCodec};
use maxstorage_datafusion::{Connector, MaxComputeCatalog, MaxComputeTable};

/// A Ballista cluster in this process — a scheduler and `executors` executors of 2 task
/// slots each — and a context submitting to it. The scheduler and the executors build
/// their own clients from the connector (credentials never travel in the plans).
async fn cluster(executors: usize) -> SessionContext {
    let connector = Connector::with_credentials(Credentials::new("id", "secret"));
    let config = SessionConfig::new_with_ballista()
        .with_target_partitions(4)
        .with_ballista_logical_extension_codec(Arc::new(MaxStorageLogicalCodec::new(
            connector.clone(),
        )))
        .with_ballista_physical_extension_codec(Arc::new(MaxStoragePhysicalCodec::new(connector)));
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    let addr = ballista_scheduler::standalone::new_standalone_scheduler_from_state(&state)
        .await
        .expect("the scheduler starts");
    let url = format!("http://localhost:{}", addr.port());
    let mut attempts = 0;
    let scheduler = loop {
        match SchedulerGrpcClient::connect(url.clone()).await {
            Ok(client) => break client,
            Err(e) if attempts < 100 => {
                attempts += 1;
                tracing::debug!(%e, "the scheduler is not up yet");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the scheduler does not answer: {e}"),
        }
    };
    for _ in 0..executors {
        ballista_executor::new_standalone_executor_from_state(scheduler.clone(), 2, &state)
            .await
            .expect("an executor starts");
    }
    SessionContext::remote_with_state(&format!("df://localhost:{}", addr.port()), state)
        .await
        .expect("the context connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_and_an_insert_run_on_two_executors() {
    let env = start("ballista", 2000).await;
    let ctx = cluster(2).await;
    let people = MaxComputeTable::try_new(&env.client, TableId::new(PROJECT, "people"))
        .await
        .expect("people opens")
        .with_split_options(
            SplitOptions::default()
                .with_mode(SplitMode::Parallelism)
                .with_number(6),
        );
    ctx.register_table("people", Arc::new(people)).unwrap();
    ctx.register_catalog("mc", Arc::new(MaxComputeCatalog::new(&env.client, PROJECT)));

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
