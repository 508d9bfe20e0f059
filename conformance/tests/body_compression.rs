//! Both clients against an emulator that compresses whole read bodies (`Content-Encoding`),
//! the behaviour `odps.maxstorage` expects (protocol.md A4); the main suites run against
//! Arrow IPC buffer compression.

use maxstorage_blocking::Client;
use maxstorage_conformance::async_client::Async;
use maxstorage_conformance::client::Blocking;
use maxstorage_conformance::env::PROJECT;
use maxstorage_conformance::{TestEnv, run, scenarios};
use maxstorage_emulator::ReadCompression;

#[test]
fn both_clients_read_whole_body_compressed_responses() {
    let env = TestEnv::start_with(ReadCompression::Body);
    let blocking = Blocking(
        Client::builder()
            .endpoint(env.endpoint())
            .credentials(env.credentials())
            .project(PROJECT)
            .build()
            .unwrap(),
    );
    run(&blocking, &env, scenarios::compressed_reads());
    let env = TestEnv::start_with(ReadCompression::Body);
    let asynchronous = Async::connect(&env.endpoint(), env.credentials(), PROJECT).unwrap();
    run(&asynchronous, &env, scenarios::compressed_reads());
}
