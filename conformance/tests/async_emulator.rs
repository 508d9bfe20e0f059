//! The async client against the emulator: 64 concurrent split reads on a 2-worker runtime,
//! and cancellation at random points verified through the emulator's admin dump.

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use maxstorage_async::{Client, ReadOptions, StreamOptions};
use maxstorage_conformance::env::PROJECT;
use maxstorage_conformance::{TestEnv, data};
use maxstorage_protocol::read::{ReadSessionOptions, SplitOptions};
use maxstorage_protocol::write::{StreamRef, WriteSessionOptions};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn client(env: &TestEnv) -> Client {
    Client::builder()
        .endpoint(env.endpoint())
        .credentials(env.credentials())
        .project(PROJECT)
        .build()
        .await
        .unwrap()
}

#[test]
fn sixty_four_concurrent_split_reads_return_the_table() {
    let env = TestEnv::start();
    let t = env.create_table("concurrent", &data::COLUMNS, &[]);
    env.insert(&t, None, &data::batches(0, 64_000, 4000));
    let rt = runtime();
    rt.block_on(async {
        let client = client(&env).await;
        let table = client.table(t.clone());
        let session = table
            .create_read_session(
                ReadSessionOptions::default().with_split_options(SplitOptions::by_parallelism(64)),
            )
            .await
            .unwrap();
        let splits = session.splits();
        assert_eq!(splits.len(), 64);
        let session = Arc::new(session);
        let reads = splits.into_iter().map(|sel| {
            let (table, session) = (table.clone(), session.clone());
            tokio::spawn(async move {
                table
                    .read_rows(
                        &session,
                        sel,
                        &ReadOptions::default().with_max_batch_rows(Some(256)),
                    )
                    .try_collect::<Vec<_>>()
                    .await
            })
        });
        let results = futures_util::future::join_all(reads).await;
        let mut batches = Vec::new();
        for r in results {
            batches.extend(r.unwrap().unwrap());
        }
        assert_eq!(
            data::content(&batches),
            data::content(&[data::rows(0, 64_000)])
        );
    });
}

/// A deterministic pseudo-random sequence (SplitMix64) for the cancellation points.
struct Points(u64);

impl Points {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below.max(1)
    }
}

#[test]
fn dropping_streams_and_writers_at_random_points_commits_nothing_partial() {
    let env = TestEnv::start();
    let t = env.create_table("cancel", &data::COLUMNS, &[]);
    env.insert(&t, None, &data::batches(0, 20_000, 2000));
    let rt = runtime();
    // A new seed each run (more cancellation points over time), printed to replay a
    // failure with MAXSTORAGE_TEST_SEED.
    let seed = std::env::var("MAXSTORAGE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x5EED, |d| d.as_nanos() as u64)
        });
    println!("cancellation points seed {seed} (MAXSTORAGE_TEST_SEED={seed} replays it)");
    let mut points = Points(seed);
    rt.block_on(async {
        let client = client(&env).await;
        let table = client.table(t.clone());
        let baseline = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        for round in 0..12 {
            // A split read dropped after a random number of batches.
            let session = table
                .create_read_session(ReadSessionOptions::default())
                .await
                .unwrap();
            let mut batches = table.read_split(
                &session,
                0,
                &ReadOptions::default().with_max_batch_rows(Some(500)),
            );
            for _ in 0..points.next(30) {
                if batches.next().await.is_none() {
                    break;
                }
            }
            drop(batches);
            // A parallel read dropped early.
            let mut all = table.read_all(&session, &ReadOptions::default(), 3);
            for _ in 0..points.next(5) {
                let _ = all.next().await;
            }
            drop(all);
            // A write session whose writer is dropped mid-stream (exactly-once or not), never
            // committed; or a write session dropped before its stream is finished.
            let write = table
                .create_write_session(WriteSessionOptions::default())
                .await
                .unwrap();
            let options = StreamOptions::default()
                .with_exactly_once(round % 2 == 0)
                .with_max_body_bytes(32 * 1024);
            let mut writer = write
                .stream_writer(StreamRef::new("0", 1), options)
                .await
                .unwrap();
            for b in 0..points.next(6) {
                writer
                    .write(&data::rows(
                        100_000 + b as i64 * 1000,
                        100_000 + (b as i64 + 1) * 1000,
                    ))
                    .await
                    .unwrap();
            }
            if points.next(2) == 0 {
                drop(writer);
            } else {
                drop(write);
                drop(writer);
            }
        }
        // Nothing of the dropped writers is visible; the table is exactly what was inserted.
        assert_eq!(
            data::content(&env.dump(&t, None)),
            data::content(&[data::rows(0, 20_000)])
        );
        // A session written and committed after all that holds exactly its rows.
        let write = table
            .create_write_session(WriteSessionOptions::default())
            .await
            .unwrap();
        let mut writer = write
            .stream_writer(
                StreamRef::new("0", 1),
                StreamOptions::default().with_exactly_once(true),
            )
            .await
            .unwrap();
        writer.write(&data::rows(50_000, 50_100)).await.unwrap();
        writer.finish().await.unwrap();
        write.commit().await.unwrap();
        // No task outlives the streams and writers it served: once the client (and its
        // connection pool, whose connections are driven by tasks) is gone, nothing is left.
        drop((write, table, client));
        let metrics = tokio::runtime::Handle::current().metrics();
        // Tasks finish asynchronously (a blocking decode may still be running on a loaded
        // machine): give them up to 10 s before calling one leaked.
        for _ in 0..1_000 {
            if metrics.num_alive_tasks() <= baseline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(
            metrics.num_alive_tasks() <= baseline,
            "{} tasks alive, {baseline} before",
            metrics.num_alive_tasks()
        );
    });
    let mut expected = data::content(&[data::rows(0, 20_000)]);
    expected.extend(data::content(&[data::rows(50_000, 50_100)]));
    expected.sort();
    assert_eq!(data::content(&env.dump(&t, None)), expected);
}
