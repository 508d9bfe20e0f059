//! Table schemas as the Storage API describes them.
//!
//! Two JSON shapes exist (protocol.md B§3.4, B§3.6): the *read schema* (`DataSchema`,
//! columns with a type **string**) and the *write schema* (`TableSchema`, columns with a
//! type **code tree**). Both are parsed into [`OdpsType`], the MaxCompute type model shared
//! by the clients, the codec and the emulator.
//!
//! * [`OdpsType::parse`] / [`Display`](std::fmt::Display) convert type strings such as
//!   `decimal(10,2)` or `struct<a:int,b:array<string>>`.
//! * [`OdpsType::type_code`] and [`OdpsType::from_type_node`] convert the integer `Type`
//!   codes of write schemas.
//! * [`WriteSchema`] / [`WriteColumn`] / [`TypeNode`] model `TableSchema` JSON,
//!   [`ReadSchema`] / [`ReadColumn`] model `DataSchema` JSON.
//! * [`TableColumns`] / [`Column`] is the flat view both convert to and from, so the
//!   emulator can describe a table once and emit both shapes.
//!
//! Parsing is tolerant the way the official SDKs are (missing, `null` or `{}` column lists
//! are empty; unknown keys are ignored; `Nullable` defaults to `true`; keys are matched
//! exactly first and then ASCII case-insensitively; integers and booleans may also arrive
//! as JSON strings). Serialization always emits the superset every SDK needs
//! (protocol.md B§11): explicit `Nullable` and `ColumnId`, non-null comments and every
//! column list present.
//!
//! Nothing here panics on wire input; nesting is bounded by [`MAX_TYPE_DEPTH`].

mod access;
mod columns;
mod error;
mod read;
mod types;
mod write;

pub use columns::*;
pub use error::*;
pub use read::*;
pub use types::*;
pub use write::*;

use access::*;

/// Deepest nesting of types accepted from a type string or a write-schema type tree
/// (`bigint` is depth 1, `array<bigint>` depth 2). Deeper input is rejected with an error
/// instead of risking stack exhaustion.
pub const MAX_TYPE_DEPTH: usize = 64;

/// Name of the system column that marks delta (primary-key) tables in write schemas
/// (protocol.md B§3.6: listed in `SystemColumns`, sometimes also in `DataColumns`).
pub const OPERATION_COLUMN: &str = "__operation";
