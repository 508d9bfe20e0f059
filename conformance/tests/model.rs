//! The model-based suite (`maxstorage_conformance::model`) against both clients: random
//! sessions, concurrent streams, commits, aborts and reads under random faults on every
//! Action they use, the table compared with the model after every step.
//!
//! `MAXSTORAGE_MODEL_SEED` replays a run (every run prints its seed);
//! `MAXSTORAGE_MODEL_CASES` sets the number of cases per client (CI runs
//! [`DEFAULT_CASES`](maxstorage_conformance::model::DEFAULT_CASES)).

use std::time::Duration;

use maxstorage_blocking::Client;
use maxstorage_conformance::TestEnv;
use maxstorage_conformance::async_client::Async;
use maxstorage_conformance::client::Blocking;
use maxstorage_conformance::env::PROJECT;
use maxstorage_conformance::model;
use maxstorage_emulator::ReadCompression;
use maxstorage_protocol::retry::RetryPolicy;

/// Short backoffs: the retries are the point, not the waiting.
fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(2))
        .with_max_backoff(Duration::from_millis(20))
}

fn envs() -> (TestEnv, TestEnv) {
    (
        TestEnv::start_with(ReadCompression::Ipc),
        TestEnv::start_with(ReadCompression::Body),
    )
}

#[test]
fn blocking_client_keeps_the_model_under_random_faults() {
    let (ipc, body) = envs();
    let client = |env: &TestEnv| {
        Blocking(
            Client::builder()
                .endpoint(env.endpoint())
                .credentials(env.credentials())
                .project(PROJECT)
                .retry_policy(fast_retries())
                .build()
                .unwrap(),
        )
    };
    model::run(
        &client(&ipc),
        &ipc,
        &client(&body),
        &body,
        model::seed_from_env(),
        model::cases_from_env(),
    );
}

#[test]
fn async_client_keeps_the_model_under_random_faults() {
    let (ipc, body) = envs();
    let client = |env: &TestEnv| {
        Async::connect_configured(&env.endpoint(), env.credentials(), PROJECT, |b| {
            b.retry_policy(fast_retries())
        })
        .unwrap()
    };
    model::run(
        &client(&ipc),
        &ipc,
        &client(&body),
        &body,
        model::seed_from_env(),
        model::cases_from_env(),
    );
}
