//! Write streams.
