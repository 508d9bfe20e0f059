//! Both clients against an emulator that compresses whole read bodies (`Content-Encoding`),
//! the behaviour `odps.maxstorage` expects (protocol.md A4); the main suites run against
//! Arrow IPC buffer compression.

use maxstorage_blocking::Client;
use maxstorage_conformance::async_client::Async;
use maxstorage_conformance::client::Blocking;
use maxstorage_conformance::env::PROJECT;
use maxstorage_conformance::{TestEnv, run, scenarios};
use maxstorage_emulator::{BlobLayout, ReadCompression};

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

#[test]
fn both_clients_read_blobs_with_the_crc_blocks_inside_the_compressed_stream() {
    // The layout the user-guide SDK reads (protocol.md A12): the clients detect it from
    // the first CRC block and still verify every block.
    let start = || TestEnv::start_configured(|b| b.blob_layout(BlobLayout::CrcInside));
    let env = start();
    let blocking = Blocking(
        Client::builder()
            .endpoint(env.endpoint())
            .credentials(env.credentials())
            .project(PROJECT)
            .build()
            .unwrap(),
    );
    run(&blocking, &env, vec![("blobs", scenarios::blobs)]);
    let env = start();
    let asynchronous = Async::connect(&env.endpoint(), env.credentials(), PROJECT).unwrap();
    run(&asynchronous, &env, vec![("blobs", scenarios::blobs)]);
}
