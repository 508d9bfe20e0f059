//! The scenario suite: every example of the Storage API user guide, the fault scenarios
//! and the exactly-once guarantees, written once against [`StorageClient`] and run against
//! each client (blocking, and async through [`async_client::Async`]) over a real emulator.
//!
//! A user who plugs in their own HTTP stack runs the same suite by implementing
//! [`StorageClient`] for their client (or by building the shipped clients with their
//! transport) and calling [`scenarios::all`].
#![warn(missing_docs)]

mod adapter;
pub mod async_client;
pub mod client;
pub mod data;
pub mod env;
pub mod model;
pub mod scenarios;
pub mod scripted;

pub use client::{StorageClient, WriteSession};
pub use env::TestEnv;

/// Runs every scenario with `client` against `env`, printing one line per scenario, and
/// panics listing the ones that failed. Faults are cleared between scenarios.
pub fn run_all<C: StorageClient>(client: &C, env: &TestEnv) {
    run(client, env, scenarios::all::<C>());
}

/// Runs the given scenarios (see [`run_all`]).
pub fn run<C: StorageClient>(client: &C, env: &TestEnv, all: Vec<scenarios::Scenario<C>>) {
    let mut failures = Vec::new();
    for (name, scenario) in &all {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(client, env)));
        env.clear_faults();
        match result {
            Ok(()) => println!("[{}] scenario {name}: ok", client.name()),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("[{}] scenario {name}: FAILED: {msg}", client.name());
                failures.push(*name);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "[{}] {} of {} scenarios failed: {failures:?}",
        client.name(),
        failures.len(),
        all.len()
    );
}
