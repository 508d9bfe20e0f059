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

#[test]
fn tunnel_discovery_and_config_file_settings() {
    let env = TestEnv::start();
    let t = env.create_table("discovery", &maxstorage_conformance::data::COLUMNS, &[]);
    env.insert(&t, None, &[maxstorage_conformance::data::rows(0, 5)]);
    // An odpscmd config file with credentials, project and a *service* endpoint: the tunnel
    // endpoint is discovered from it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odps_config.ini");
    let creds = env.credentials();
    std::fs::write(
        &path,
        format!(
            "project_name={PROJECT}\naccess_id={}\naccess_key={}\nend_point={}/api\n",
            creds.access_id(),
            creds.secret(),
            env.endpoint()
        ),
    )
    .unwrap();
    let client = Client::builder().config_file(&path).build().unwrap();
    assert_eq!(
        client.config().endpoint.to_string(),
        env.endpoint(),
        "discovered the tunnel endpoint"
    );
    let table = client.table(t);
    let session = table.create_read_session(Default::default()).unwrap();
    let rows: usize = table
        .read_split(&session, 0, &Default::default())
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, 5);
    // Wrong credentials are a typed service error, not a retry loop.
    let bad = Client::builder()
        .endpoint(env.endpoint())
        .credentials(maxstorage_protocol::Credentials::new(
            creds.access_id(),
            "wrong-secret",
        ))
        .build()
        .unwrap();
    let err = bad
        .table(maxstorage_protocol::TableId::new(PROJECT, "discovery"))
        .create_read_session(Default::default())
        .unwrap_err();
    assert_eq!(err.service_code(), Some("SignatureNotMatch"), "{err}");
}
