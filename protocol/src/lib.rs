//! Sans-IO core of the MaxCompute (ODPS) Storage API v2/v3.
//!
//! This crate decides everything about the wire and does no I/O: it builds every request
//! (URL, query, headers, JSON body, signature) and parses every response, frames blob
//! payloads and CRC32C blocks, and keeps the state of sessions, streams, exactly-once
//! offsets, route tokens and retries. Transports (`maxstorage-blocking`,
//! `maxstorage-async`, or your own) move the bytes; time is always passed in.
//!
//! The shape follows quinn-proto and the sans-IO HTTP protocol crates: a call is plain data implementing
//! [`Call`]; [`Call::build`] gives an `http::Request<Body>`, [`Call::parse`] reads the
//! answer; the state machines in [`state`] say which call to make next.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod action;
pub mod call;
pub mod compression;
pub mod config;
pub mod error;
pub mod frame;
pub mod header;
pub mod json;
pub mod profile;
pub mod request;
pub mod retry;
pub mod route;
pub mod schema;
pub mod server;
mod setters;
pub mod sign;
pub mod state;
pub mod time;
pub mod url;

pub use action::Action;
pub use call::{Call, StreamingResponse, blob, discovery, instance, read, write};
pub use compression::Compression;
pub use config::{
    ApiVersion, ClientConfig, Credentials, Endpoint, InstanceId, SignatureVersion, TableId, Target,
};
pub use error::{ConfigError, Error, InvalidResponse, ServiceError, UsageError};
pub use request::{Body, RequestContext};
