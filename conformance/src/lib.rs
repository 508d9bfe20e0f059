//! Not built yet: see this crate's README.md for what it will hold.
