//! The scenario suite against the async client.

use maxstorage_conformance::async_client::Async;
use maxstorage_conformance::env::PROJECT;
use maxstorage_conformance::{TestEnv, run_all};

#[test]
fn async_client_passes_every_scenario() {
    let env = TestEnv::start();
    let client = Async::connect(&env.endpoint(), env.credentials(), PROJECT).unwrap();
    run_all(&client, &env);
}
