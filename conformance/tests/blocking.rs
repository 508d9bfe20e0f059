//! The scenario suite against the blocking client.

use maxstorage_blocking::Client;
use maxstorage_conformance::client::Blocking;
use maxstorage_conformance::env::PROJECT;
use maxstorage_conformance::{TestEnv, run_all};

#[test]
fn blocking_client_passes_every_scenario() {
    let env = TestEnv::start();
    let client = Blocking(
        Client::builder()
            .endpoint(env.endpoint())
            .credentials(env.credentials())
            .project(PROJECT)
            .build()
            .unwrap(),
    );
    run_all(&client, &env);
}
