//! Sans-IO core of the MaxCompute (ODPS) Storage API v2/v3.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod compression;
pub mod frame;
pub mod retry;
pub mod schema;

pub use compression::Compression;
