//! The scripted scenarios (`maxstorage_conformance::scripted::scenarios`), each run against
//! both clients with a fresh script as their transport. No network.

use std::sync::Arc;
use std::time::Duration;

use maxstorage_conformance::async_client::Async;
use maxstorage_conformance::client::Blocking;
use maxstorage_conformance::scripted::{Script, scenarios};
use maxstorage_protocol::Credentials;
use maxstorage_protocol::retry::RetryPolicy;

/// Retries in milliseconds, not seconds.
fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// The blocking client with `script` as its transport.
fn blocking(script: &Arc<Script>) -> Blocking {
    let client = maxstorage_blocking::Client::builder()
        .endpoint("http://127.0.0.1:9")
        .credentials(Credentials::new("ak", "sk"))
        .project("p")
        .retry_policy(retry_policy())
        .transport(script.clone())
        .build()
        .unwrap();
    Blocking(client)
}

/// The async client with `script` as its transport.
fn asynchronous(script: &Arc<Script>) -> Async {
    let transport = script.clone();
    Async::connect_configured(
        "http://127.0.0.1:9",
        Credentials::new("ak", "sk"),
        "p",
        |b| b.retry_policy(retry_policy()).transport(transport),
    )
    .unwrap()
}

/// One test per scenario and client, and a check that the list is complete.
macro_rules! scripted {
    ($($name:ident),* $(,)?) => {
        #[test]
        fn every_scenario_is_run() {
            assert_eq!([$(stringify!($name)),*], scenarios::ALL);
        }

        mod blocking_client {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let script = Arc::new(Script::default());
                    scenarios::$name(&blocking(&script), &script);
                }
            )*
        }

        mod async_client {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let script = Arc::new(Script::default());
                    scenarios::$name(&asynchronous(&script), &script);
                }
            )*
        }
    };
}

scripted!(
    broken_read_resumes_at_the_next_row_with_identical_data,
    read_fails_loudly_when_resumes_are_exhausted,
    service_unavailable_and_refused_connections_are_retried,
    client_errors_are_not_retried,
    exactly_once_write_survives_a_lost_answer_without_duplicates,
    exactly_once_conflict_resyncs_and_moves_on,
    normal_write_with_unknown_outcome_is_an_error_not_a_retry,
);
