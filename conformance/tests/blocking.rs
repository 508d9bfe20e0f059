//! The scenario suite against the blocking client.

use maxstorage_blocking::Client;
use maxstorage_conformance::client::Blocking;
use maxstorage_conformance::{TestEnv, scenarios};

#[test]
fn blocking_client_passes_every_scenario() {
    let env = TestEnv::start();
    let client = Blocking(
        Client::builder()
            .endpoint(env.endpoint())
            .credentials(env.credentials())
            .project(maxstorage_conformance::env::PROJECT)
            .build()
            .unwrap(),
    );
    let mut failures = Vec::new();
    let all = scenarios::all::<Blocking>();
    for (name, scenario) in &all {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&client, &env)));
        env.clear_faults();
        match result {
            Ok(()) => println!("scenario {name}: ok"),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("scenario {name}: FAILED: {msg}");
                failures.push(*name);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed: {failures:?}",
        failures.len(),
        all.len()
    );
}
