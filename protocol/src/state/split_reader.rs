//! Resumable split reads.
