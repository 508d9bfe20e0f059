//! Arrow IPC streaming decode/encode and body (de)compression for the MaxCompute Storage API.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod compress;
pub mod error;
pub mod read;
pub mod types;
pub mod write;

pub use error::CodecError;
