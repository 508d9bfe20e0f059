//! The scenario suite: every example of the Storage API user guide, the fault scenarios
//! and the exactly-once guarantees, written once against [`StorageClient`] and run against
//! each client (blocking and async) over a real emulator.
//!
//! A user who plugs in their own HTTP stack runs the same suite by implementing
//! [`StorageClient`] for their client (or by building the shipped clients with their
//! transport) and calling [`scenarios::all`].
#![warn(missing_docs)]

pub mod client;
pub mod data;
pub mod env;
pub mod scenarios;

pub use client::{StorageClient, WriteSession};
pub use env::TestEnv;
