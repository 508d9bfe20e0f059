//! Explicit state machines with time passed in: split reads that resume, write streams
//! (including exactly-once), write sessions.

pub mod split_reader;
pub mod write_session;
pub mod write_stream;
