//! Write sessions.
